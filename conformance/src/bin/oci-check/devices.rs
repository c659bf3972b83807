//! The default /dev (nodes and links) and linux.devices.

use super::tap::Tap;
use serde_json::Value;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};

fn dev_numbers(rdev: u64) -> (u64, u64) {
    (
        (rdev >> 8) & 0xfff,
        (rdev & 0xff) | ((rdev >> 12) & 0xfff00),
    )
}

pub fn check(t: &mut Tap, config: &Value) {
    let l = &config["linux"];
    let dev_is_bind = config["mounts"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|m| m["destination"] == "/dev" && m["type"] == "bind");
    if !dev_is_bind {
        for (name, major, minor) in [
            ("null", 1, 3),
            ("zero", 1, 5),
            ("full", 1, 7),
            ("random", 1, 8),
            ("urandom", 1, 9),
            ("tty", 5, 0),
        ] {
            let path = format!("/dev/{name}");
            let got = std::fs::symlink_metadata(&path).map(|m| {
                let (ma, mi) = dev_numbers(m.rdev());
                format!(
                    "{} {ma}:{mi} {:o}",
                    if m.file_type().is_char_device() {
                        "c"
                    } else {
                        "?"
                    },
                    m.permissions().mode() & 0o777
                )
            });
            t.check(
                "devices",
                &format!("default {path}"),
                format!("c {major}:{minor} 666"),
                got.unwrap_or_else(|e| e.to_string()),
            );
        }
        for (link, target) in [
            ("/dev/ptmx", "pts/ptmx"),
            ("/dev/fd", "/proc/self/fd"),
            ("/dev/stdin", "/proc/self/fd/0"),
            ("/dev/stdout", "/proc/self/fd/1"),
            ("/dev/stderr", "/proc/self/fd/2"),
        ] {
            let got = std::fs::read_link(link)
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            t.check("devices", &format!("{link} link"), target, got);
        }
    }
    for d in l["devices"].as_array().into_iter().flatten() {
        let path = d["path"].as_str().unwrap_or("");
        let want = format!(
            "{} {}:{} {:o} {}:{}",
            d["type"].as_str().unwrap_or(""),
            d["major"],
            d["minor"],
            d["fileMode"].as_u64().unwrap_or(0o666) & 0o777,
            d["uid"].as_u64().unwrap_or(0),
            d["gid"].as_u64().unwrap_or(0)
        );
        let got = std::fs::symlink_metadata(path).map(|m| {
            let ft = m.file_type();
            let kind = if ft.is_char_device() {
                "c"
            } else if ft.is_block_device() {
                "b"
            } else if ft.is_fifo() {
                "p"
            } else {
                "?"
            };
            let (ma, mi) = dev_numbers(m.rdev());
            format!(
                "{kind} {ma}:{mi} {:o} {}:{}",
                m.permissions().mode() & 0o777,
                m.uid(),
                m.gid()
            )
        });
        t.check("devices", path, want, got.unwrap_or_else(|e| e.to_string()));
    }
}
