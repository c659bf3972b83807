//! CRIU's RPC as `criu swrk FD` speaks it: one protobuf message per
//! SOCK_SEQPACKET packet, a request from us, then CRIU's notifications
//! (each answered) and its final response. runc and crun drive CRIU this
//! way, and it is the only way CRIU hands back what it makes during a
//! restore: the pty master of a terminal (`orphan-pts-master`, an fd on
//! the notification).
//!
//! Only the fields berth sends and reads are here, encoded by hand from
//! CRIU's images/rpc.proto (proto2): a protobuf crate and generated code
//! would outweigh the five messages berth needs.

use crate::error::{Error, Result};

/// criu_req_type values.
pub const DUMP: u64 = 1;
pub const RESTORE: u64 = 2;
pub const PRE_DUMP: u64 = 4;
pub const NOTIFY: u64 = 6;
pub const VERSION: u64 = 10;

/// criu_opts.empty_ns takes clone flags; CRIU accepts only this one.
pub const EMPTY_NET: u32 = libc::CLONE_NEWNET as u32;

/// criu_opts, the fields berth sets. Booleans are sent only when true:
/// false is CRIU's default for every one of them.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Opts {
    /// An fd of ours; CRIU opens it through /proc/OUR_PID/fd.
    pub images_dir_fd: i32,
    pub pid: Option<i32>,
    pub leave_running: bool,
    pub ext_unix_sk: bool,
    pub tcp_established: bool,
    pub shell_job: bool,
    pub file_locks: bool,
    pub log_level: u32,
    /// A name in the work directory (CRIU allows no slash).
    pub log_file: String,
    pub notify_scripts: bool,
    pub root: Option<String>,
    /// Relative to the images directory, as --prev-images-dir.
    pub parent_img: Option<String>,
    pub track_mem: bool,
    pub auto_dedup: bool,
    pub work_dir_fd: Option<i32>,
    /// (controllers or "" for the default, path).
    pub cg_root: Vec<(String, String)>,
    pub rst_sibling: bool,
    /// (key, fd in criu): what the restored tasks get instead of `key`.
    pub inherit_fd: Vec<(String, i32)>,
    pub manage_cgroups_mode: Option<CgMode>,
    /// As `--external` takes them: mnt[..]:.., net[..]:.., file[..].
    pub external: Vec<String>,
    pub empty_ns: u32,
    pub freeze_cgroup: Option<String>,
    pub orphan_pts_master: bool,
}

/// criu_cg_mode, the modes runc's --manage-cgroups-mode names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgMode {
    Ignore = 0,
    Soft = 3,
    Full = 4,
    Strict = 5,
}

impl CgMode {
    pub fn parse(m: &str) -> Option<CgMode> {
        Some(match m {
            "ignore" => CgMode::Ignore,
            "soft" => CgMode::Soft,
            "full" => CgMode::Full,
            "strict" => CgMode::Strict,
            _ => return None,
        })
    }
}

/// Protobuf's wire format, the part proto2 scalars and messages need.
#[derive(Default)]
struct Enc(Vec<u8>);

impl Enc {
    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }
    fn key(&mut self, field: u32, wire: u8) {
        self.varint(((field as u64) << 3) | wire as u64);
    }
    fn uint(&mut self, field: u32, v: u64) {
        self.key(field, 0);
        self.varint(v);
    }
    /// int32 is sign-extended to 64 bits on the wire.
    fn int32(&mut self, field: u32, v: i32) {
        self.uint(field, v as i64 as u64);
    }
    fn flag(&mut self, field: u32, on: bool) {
        if on {
            self.uint(field, 1);
        }
    }
    fn bytes(&mut self, field: u32, b: &[u8]) {
        self.key(field, 2);
        self.varint(b.len() as u64);
        self.0.extend_from_slice(b);
    }
    fn string(&mut self, field: u32, s: &str) {
        self.bytes(field, s.as_bytes());
    }
}

impl Opts {
    fn encode(&self) -> Vec<u8> {
        let mut e = Enc::default();
        e.int32(1, self.images_dir_fd);
        if let Some(p) = self.pid {
            e.int32(2, p);
        }
        e.flag(3, self.leave_running);
        e.flag(4, self.ext_unix_sk);
        e.flag(5, self.tcp_established);
        e.flag(7, self.shell_job);
        e.flag(8, self.file_locks);
        e.uint(9, self.log_level as u64);
        e.string(10, &self.log_file);
        e.flag(12, self.notify_scripts);
        if let Some(r) = &self.root {
            e.string(13, r);
        }
        if let Some(p) = &self.parent_img {
            e.string(14, p);
        }
        e.flag(15, self.track_mem);
        e.flag(16, self.auto_dedup);
        if let Some(fd) = self.work_dir_fd {
            e.int32(17, fd);
        }
        for (ctrl, path) in &self.cg_root {
            let mut m = Enc::default();
            if !ctrl.is_empty() {
                m.string(1, ctrl);
            }
            m.string(2, path);
            e.bytes(25, &m.0);
        }
        e.flag(26, self.rst_sibling);
        for (key, fd) in &self.inherit_fd {
            let mut m = Enc::default();
            m.string(1, key);
            m.int32(2, *fd);
            e.bytes(27, &m.0);
        }
        if let Some(m) = self.manage_cgroups_mode {
            e.uint(34, m as u64);
        }
        for x in &self.external {
            e.string(37, x);
        }
        if self.empty_ns != 0 {
            e.uint(38, self.empty_ns as u64);
        }
        if let Some(f) = &self.freeze_cgroup {
            e.string(44, f);
        }
        e.flag(50, self.orphan_pts_master);
        e.0
    }
}

/// criu_req: a request, or the answer to a notification.
pub fn request(kind: u64, opts: Option<&Opts>, notify_success: Option<bool>) -> Vec<u8> {
    let mut e = Enc::default();
    e.uint(1, kind);
    if let Some(o) = opts {
        e.bytes(2, &o.encode());
    }
    if let Some(ok) = notify_success {
        e.uint(3, ok as u64);
    }
    e.0
}

/// criu_resp, the fields berth reads.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Resp {
    pub kind: u64,
    pub success: bool,
    /// criu_restore_resp.pid: the restored root task.
    pub restored_pid: Option<i32>,
    /// criu_notify.script: what CRIU is at.
    pub notify: Option<String>,
    /// criu_notify.pid: the restored root task, where CRIU names it
    /// (setup-namespaces, post-restore).
    pub notify_pid: Option<i32>,
    pub cr_errno: Option<i32>,
    pub cr_errmsg: Option<String>,
    /// criu_version: (major, minor).
    pub version: Option<(i32, i32)>,
}

/// One field of a message: its number and value.
enum Val<'a> {
    Int(u64),
    Bytes(&'a [u8]),
}

struct Dec<'a>(&'a [u8]);

impl<'a> Dec<'a> {
    fn varint(&mut self) -> Result<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let (&b, rest) = self.0.split_first().ok_or_else(short)?;
            self.0 = rest;
            v |= ((b & 0x7f) as u64) << shift;
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(Error::msg("criu rpc: a varint longer than 64 bits"))
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.0.len() < n {
            return Err(short());
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    /// The next field, or None at the end; fixed-width values (no field
    /// berth reads has one) come back as their bytes.
    fn field(&mut self) -> Result<Option<(u64, Val<'a>)>> {
        if self.0.is_empty() {
            return Ok(None);
        }
        let key = self.varint()?;
        let val = match key & 7 {
            0 => Val::Int(self.varint()?),
            1 => Val::Bytes(self.take(8)?),
            2 => {
                let n = self.varint()? as usize;
                Val::Bytes(self.take(n)?)
            }
            5 => Val::Bytes(self.take(4)?),
            w => return Err(Error::msg(format!("criu rpc: unknown wire type {w}"))),
        };
        Ok(Some((key >> 3, val)))
    }
}

fn short() -> Error {
    Error::msg("criu rpc: a message cut short")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Each (number, integer) of a message at `b`.
fn ints(b: &[u8]) -> Result<Vec<(u64, u64)>> {
    let mut d = Dec(b);
    let mut out = Vec::new();
    while let Some((n, v)) = d.field()? {
        if let Val::Int(i) = v {
            out.push((n, i));
        }
    }
    Ok(out)
}

impl Resp {
    pub fn decode(b: &[u8]) -> Result<Resp> {
        let mut r = Resp::default();
        let mut d = Dec(b);
        while let Some((n, v)) = d.field()? {
            match (n, v) {
                (1, Val::Int(i)) => r.kind = i,
                (2, Val::Int(i)) => r.success = i != 0,
                (4, Val::Bytes(m)) => {
                    r.restored_pid = ints(m)?
                        .into_iter()
                        .find(|(n, _)| *n == 1)
                        .map(|(_, p)| p as i32);
                }
                (5, Val::Bytes(m)) => {
                    let mut d = Dec(m);
                    while let Some((n, v)) = d.field()? {
                        match (n, v) {
                            (1, Val::Bytes(s)) => r.notify = Some(text(s)),
                            (2, Val::Int(p)) => r.notify_pid = Some(p as i32),
                            _ => {}
                        }
                    }
                }
                (7, Val::Int(i)) => r.cr_errno = Some(i as i32),
                (9, Val::Bytes(s)) => r.cr_errmsg = Some(text(s)),
                (10, Val::Bytes(m)) => {
                    let f = ints(m)?;
                    let get = |k| f.iter().find(|(n, _)| *n == k).map(|(_, v)| *v as i32);
                    r.version = get(1).zip(get(2));
                }
                _ => {}
            }
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_and_negative_int32s_encode_as_protobuf_does() {
        let mut e = Enc::default();
        e.uint(1, 300);
        assert_eq!(e.0, [0x08, 0xac, 0x02]);
        let mut e = Enc::default();
        e.int32(1, -1);
        assert_eq!(e.0.len(), 11, "a negative int32 takes ten bytes");
        assert_eq!(Dec(&e.0[1..]).varint().unwrap() as i64, -1);
    }

    #[test]
    fn a_restore_request_encodes_every_field_it_sets() {
        let o = Opts {
            images_dir_fd: 5,
            log_level: 4,
            log_file: "restore.log".into(),
            notify_scripts: true,
            rst_sibling: true,
            cg_root: vec![(String::new(), "/c1".into()), ("cpu".into(), "/c1".into())],
            inherit_fd: vec![("pipe:[7]".into(), 9)],
            manage_cgroups_mode: Some(CgMode::Soft),
            external: vec!["mnt[/data]:/srv".into()],
            orphan_pts_master: true,
            ..Default::default()
        };
        let req = request(RESTORE, Some(&o), None);
        // criu_req: type, then opts as a nested message.
        let mut d = Dec(&req);
        let Some((1, Val::Int(RESTORE))) = d.field().unwrap() else {
            panic!("type first")
        };
        let Some((2, Val::Bytes(opts))) = d.field().unwrap() else {
            panic!("opts second")
        };
        assert!(d.field().unwrap().is_none());
        let mut fields = Vec::new();
        let mut d = Dec(opts);
        while let Some((n, v)) = d.field().unwrap() {
            fields.push(match v {
                Val::Int(i) => format!("{n}={i}"),
                Val::Bytes(b) => format!("{n}:{}", text(b)),
            });
        }
        assert_eq!(
            fields,
            [
                "1=5",
                "9=4",
                "10:restore.log",
                "12=1",
                "25:\u{12}\u{3}/c1",
                "25:\n\u{3}cpu\u{12}\u{3}/c1",
                "26=1",
                "27:\n\u{8}pipe:[7]\u{10}\t",
                "34=3",
                "37:mnt[/data]:/srv",
                "50=1",
            ]
        );
    }

    #[test]
    fn responses_decode_and_unknown_fields_are_skipped() {
        let mut e = Enc::default();
        e.uint(1, NOTIFY);
        e.uint(2, 1);
        let mut n = Enc::default();
        n.string(1, "orphan-pts-master");
        n.int32(2, 42);
        e.bytes(5, &n.0);
        e.key(99, 5);
        e.0.extend_from_slice(&[1, 2, 3, 4]);
        e.key(98, 1);
        e.0.extend_from_slice(&[0; 8]);
        let r = Resp::decode(&e.0).unwrap();
        assert_eq!(r.kind, NOTIFY);
        assert!(r.success);
        assert_eq!(r.notify.as_deref(), Some("orphan-pts-master"));
        assert_eq!(r.notify_pid, Some(42));

        let mut e = Enc::default();
        e.uint(1, RESTORE);
        e.uint(2, 0);
        let mut p = Enc::default();
        p.int32(1, 4321);
        e.bytes(4, &p.0);
        e.int32(7, 3);
        e.string(9, "Can't restore");
        let r = Resp::decode(&e.0).unwrap();
        assert_eq!(
            (
                r.success,
                r.restored_pid,
                r.cr_errno,
                r.cr_errmsg.as_deref()
            ),
            (false, Some(4321), Some(3), Some("Can't restore"))
        );
        assert!(Resp::decode(&[0x0a, 0x05, b'a']).is_err(), "cut short");
    }
}
