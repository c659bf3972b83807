//! User namespace id maps, written by the parent into the child's
//! /proc/PID/{uid,gid}_map: the child cannot map itself beyond its own id.

use crate::error::Result;
use crate::linux::procfs::Proc;
use oci_spec::runtime::LinuxIdMapping;

pub fn map_text(maps: &[LinuxIdMapping]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}

pub fn write_maps(
    proc: &Proc,
    pid: i32,
    uid: &[LinuxIdMapping],
    gid: &[LinuxIdMapping],
) -> Result<()> {
    proc.write(&format!("{pid}/uid_map"), &map_text(uid))
        .map_err(|e| e.context("linux.uidMappings"))?;
    proc.write(&format!("{pid}/gid_map"), &map_text(gid))
        .map_err(|e| e.context("linux.gidMappings"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_are_one_line_per_range() {
        let m: Vec<LinuxIdMapping> = serde_json::from_str(
            r#"[{"containerID":0,"hostID":100000,"size":65536},{"containerID":65536,"hostID":1000,"size":1}]"#,
        )
        .unwrap();
        assert_eq!(map_text(&m), "0 100000 65536\n65536 1000 1\n");
    }
}
