//! What the container runs: its environment (HOME from the image's
//! passwd, as runc does), the files of its image berth reads (bounded,
//! never blocking), its program looked up on PATH with runc's words for
//! what is wrong, and the exec.

use crate::error::{Error, Result, SysContext};
use oci_spec::runtime::Process;
use std::ffi::CString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The container's environment: process.env, plus HOME from the
/// container's /etc/passwd when missing, as runc does.
pub fn environment(p: &Process, extra: &[String]) -> Result<Vec<String>> {
    let mut env: Vec<String> = p.env().clone().unwrap_or_default();
    env.extend(extra.iter().cloned());
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        let passwd = read_image_file("/etc/passwd")
            .map_err(|e| e.context("process.env: HOME from the container's passwd file"))?;
        let uid = p.user().uid().to_string();
        let home = passwd
            .as_deref()
            .and_then(|t| {
                t.lines().find_map(|l| {
                    let f: Vec<&str> = l.split(':').collect();
                    (f.len() > 5 && f[2] == uid).then(|| f[5].to_string())
                })
            })
            .unwrap_or_else(|| "/".into());
        env.push(format!("HOME={home}"));
    }
    Ok(env)
}

/// The most berth reads of a file of the container's image: the image is
/// the container's to write, and a link to /dev/zero or a file of 10 GB
/// must not grow berth until the OOM killer takes it.
pub const IMAGE_FILE_LIMIT: u64 = 4 << 20;

/// A file of the container's image, read from inside it (after
/// pivot_root, or in its mount namespace: links resolve within its root).
/// Only a regular file, opened with O_NONBLOCK so a fifo cannot hold us,
/// and at most IMAGE_FILE_LIMIT bytes; Ok(None) when there is none.
pub fn read_image_file(path: &str) -> Result<Option<String>> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let f = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).sys("open", path),
    };
    let meta = f.metadata().sys("stat", path)?;
    if !meta.is_file() {
        return Err(Error::msg(format!(
            "{path}: not a regular file ({})",
            file_kind(&meta)
        )));
    }
    let mut buf = Vec::new();
    f.take(IMAGE_FILE_LIMIT + 1)
        .read_to_end(&mut buf)
        .sys("read", path)?;
    if buf.len() as u64 > IMAGE_FILE_LIMIT {
        return Err(Error::msg(format!(
            "{path}: larger than berth reads ({} MiB)",
            IMAGE_FILE_LIMIT >> 20
        )));
    }
    Ok(Some(String::from_utf8_lossy(&buf).into_owned()))
}

fn file_kind(m: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = m.file_type();
    if t.is_dir() {
        "a directory"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_fifo() {
        "a fifo"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a file"
    }
}

/// Find the program as exec would, with the container's PATH, and word a
/// failure the way engines map to exit codes 127 and 126.
pub fn find_program(arg0: &str, env: &[String]) -> Result<PathBuf> {
    let check = |p: &Path| -> std::result::Result<(), nix::errno::Errno> {
        let meta = std::fs::metadata(p)
            .map_err(|e| nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(libc::ENOENT)))?;
        if meta.is_dir() {
            return Err(nix::errno::Errno::EACCES);
        }
        if meta.permissions().mode() & 0o111 == 0 {
            return Err(nix::errno::Errno::EACCES);
        }
        nix::unistd::access(p, nix::unistd::AccessFlags::X_OK)
    };
    if arg0.contains('/') {
        let p = PathBuf::from(arg0);
        return match check(&p) {
            Ok(()) => Ok(p),
            Err(e) => Err(Error::msg(format!(
                "exec: {arg0:?}: stat {arg0}: {}",
                crate::error::errno_text(e)
            ))),
        };
    }
    let path = env
        .iter()
        .rev()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or(DEFAULT_PATH);
    let mut denied = false;
    for dir in path.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let candidate = Path::new(dir).join(arg0);
        match check(&candidate) {
            Ok(()) => return Ok(candidate),
            Err(nix::errno::Errno::EACCES) => denied = true,
            Err(_) => {}
        }
    }
    if denied {
        Err(Error::msg(format!("exec: {arg0:?}: permission denied")))
    } else {
        Err(Error::msg(format!(
            "exec: {arg0:?}: executable file not found in $PATH"
        )))
    }
}

/// Replace this process with the container's program.
pub fn exec(program: &Path, args: &[String], env: &[String]) -> Error {
    let c = |s: &str| CString::new(s).unwrap_or_default();
    let prog = CString::new(program.as_os_str().as_encoded_bytes()).unwrap_or_default();
    let argv: Vec<CString> = args.iter().map(|a| c(a)).collect();
    let envp: Vec<CString> = env.iter().map(|e| c(e)).collect();
    match nix::unistd::execve(&prog, &argv, &envp) {
        Err(e) => Error::sys("exec", program.display(), e),
        Ok(never) => match never {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_files_are_regular_bounded_and_never_block() {
        let dir = crate::tempdir::TempDir::new();
        let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
        std::fs::write(p("passwd"), "root:x:0:0::/root:/bin/sh\n").unwrap();
        assert!(
            read_image_file(&p("passwd"))
                .unwrap()
                .unwrap()
                .contains("/root")
        );
        assert!(read_image_file(&p("none")).unwrap().is_none());
        let e = read_image_file("/dev/zero").unwrap_err().to_string();
        assert!(
            e.contains("/dev/zero") && e.contains("character device"),
            "{e}"
        );
        // A fifo nobody writes would block a plain open forever.
        nix::unistd::mkfifo(
            p("fifo").as_str(),
            nix::sys::stat::Mode::from_bits_truncate(0o600),
        )
        .unwrap();
        let e = read_image_file(&p("fifo")).unwrap_err().to_string();
        assert!(e.contains("fifo") && e.contains(&p("fifo")), "{e}");
        let f = std::fs::File::create(p("big")).unwrap();
        f.set_len(IMAGE_FILE_LIMIT + 1).unwrap();
        let e = read_image_file(&p("big")).unwrap_err().to_string();
        assert!(e.contains("larger than") && e.contains(&p("big")), "{e}");
    }

    #[test]
    fn program_lookup_words_errors_like_runc() {
        let env = vec!["PATH=/nonexistent:/bin".to_string()];
        assert_eq!(find_program("sh", &env).unwrap(), PathBuf::from("/bin/sh"));
        let e = find_program("no-such-program-x", &env)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "exec: \"no-such-program-x\": executable file not found in $PATH"
        );
        let e = find_program("/no/such", &env).unwrap_err().to_string();
        assert!(e.ends_with("no such file or directory"), "{e}");
        let e = find_program("/etc/passwd", &env).unwrap_err().to_string();
        assert!(e.ends_with("permission denied"), "{e}");
    }
}
