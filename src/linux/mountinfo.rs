//! /proc/PID/mountinfo, parsed in one place for all who read it: the
//! cgroup hierarchies, CRIU's external mounts, resctrl's mount point.

/// The fields of a mountinfo line that berth uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub id: u64,
    /// The mount's root within its filesystem (a bind's source path).
    pub root: String,
    pub mountpoint: String,
    pub fstype: String,
    pub super_options: String,
}

/// Every well-formed line; others are skipped. The optional fields end
/// at " - ", which cannot occur inside a path: mountinfo escapes spaces.
pub fn parse(text: &str) -> Vec<Mount> {
    text.lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let l: Vec<&str> = left.split(' ').collect();
            let r: Vec<&str> = right.split(' ').collect();
            if l.len() < 6 || r.len() < 3 {
                return None;
            }
            Some(Mount {
                id: l[0].parse().ok()?,
                root: unescape(l[3]),
                mountpoint: unescape(l[4]),
                fstype: r[0].to_string(),
                super_options: r[2].to_string(),
            })
        })
        .collect()
}

/// The kernel's octal escapes (\040 for a space, \011, \012, \134) undone.
pub fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_optional_fields_and_escapes() {
        let m = parse(
            "36 35 98:0 /mnt\\0401 /my\\040dir rw,noatime master:1 shared:2 - ext3 /dev/root rw,errors=continue\n\
             bad line\n\
             37 36 0:5 / /dev rw - devtmpfs udev rw,size=10k\n",
        );
        assert_eq!(
            m[0],
            Mount {
                id: 36,
                root: "/mnt 1".into(),
                mountpoint: "/my dir".into(),
                fstype: "ext3".into(),
                super_options: "rw,errors=continue".into(),
            }
        );
        assert_eq!(m.len(), 2);
        assert_eq!((m[1].id, m[1].fstype.as_str()), (37, "devtmpfs"));
        assert_eq!(unescape("a\\134b\\011"), "a\\b\t");
        assert_eq!(unescape("trailing\\04"), "trailing\\04");
    }
}
