//! runc's logging contract: `--log FILE` with `--log-format text|json`.
//! Errors go to stderr and, when a log file is set, as one line to it:
//! containerd and Docker show the last `"level":"error"` line, Podman
//! parses the whole file as one JSON object, so a failing command writes
//! exactly one error line.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Format {
    Text,
    Json,
}

struct Logger {
    file: Option<std::fs::File>,
    format: Format,
    debug: bool,
}

static LOGGER: OnceLock<Logger> = OnceLock::new();

pub fn init(path: Option<&str>, format: Format, debug: bool) -> crate::error::Result<()> {
    if debug {
        START.get_or_init(std::time::Instant::now);
    }
    let file = match path {
        Some(p) if !p.is_empty() => Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o644)
                .custom_flags(libc::O_CLOEXEC)
                .open(p)
                .map_err(|e| {
                    crate::error::Error::msg(format!(
                        "open log file {p}: {}",
                        crate::error::errno_text(nix::errno::Errno::from_raw(
                            e.raw_os_error().unwrap_or(libc::EIO)
                        ))
                    ))
                })?,
        ),
        _ => None,
    };
    let _ = LOGGER.set(Logger {
        file,
        format,
        debug,
    });
    Ok(())
}

fn line(level: &str, msg: &str, format: Format) -> String {
    let time = rfc3339(SystemTime::now(), false);
    match format {
        Format::Json => {
            let mut obj = serde_json::Map::new();
            obj.insert("level".into(), level.into());
            obj.insert("msg".into(), msg.into());
            obj.insert("time".into(), time.into());
            let mut s = serde_json::Value::Object(obj).to_string();
            s.push('\n');
            s
        }
        Format::Text => format!("time=\"{time}\" level={level} msg={msg:?}\n"),
    }
}

/// The longest message berth prints: errors quote their input (a config
/// value, a hook's output), and a 100 MB value must not become a 100 MB
/// line. The start says what failed and the end keeps the errno wording
/// engines search for; the middle goes.
pub const MAX_MESSAGE: usize = 1024;

/// `msg` cut to MAX_MESSAGE bytes or so, the middle replaced by a note.
pub fn shorten(msg: &str) -> std::borrow::Cow<'_, str> {
    if msg.len() <= MAX_MESSAGE {
        return msg.into();
    }
    let floor = |mut i: usize| {
        while !msg.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let head = floor(MAX_MESSAGE * 3 / 4);
    let tail = floor(msg.len() - MAX_MESSAGE / 4);
    format!(
        "{} [... {} bytes cut ...] {}",
        &msg[..head],
        tail - head,
        &msg[tail..]
    )
    .into()
}

fn emit(level: &str, msg: &str, to_stderr: bool) {
    let msg = &*shorten(msg);
    let logger = LOGGER.get();
    if let Some(Logger {
        file: Some(f),
        format,
        ..
    }) = logger
    {
        let _ = (&*f).write_all(line(level, msg, *format).as_bytes());
    }
    if to_stderr {
        let _ = writeln!(std::io::stderr(), "{}", stderr_line(level, msg));
    }
}

fn stderr_line(level: &str, msg: &str) -> String {
    if level == "error" {
        format!("berth: {msg}")
    } else {
        format!("berth: {level}: {msg}")
    }
}

/// An error already worded for stderr and for the log file (fd and line),
/// for a signal handler to write without allocating.
pub struct Prepared {
    pub stderr: Vec<u8>,
    pub log: Option<(std::os::fd::RawFd, Vec<u8>)>,
}

pub fn prepare_error(msg: &str) -> Prepared {
    use std::os::fd::AsRawFd;
    let msg = &*shorten(msg);
    let mut stderr = stderr_line("error", msg).into_bytes();
    stderr.push(b'\n');
    let log = LOGGER.get().and_then(|l| {
        l.file
            .as_ref()
            .map(|f| (f.as_raw_fd(), line("error", msg, l.format).into_bytes()))
    });
    Prepared { stderr, log }
}

pub fn error(msg: &str) {
    emit("error", msg, true);
}

pub fn warn(msg: &str) {
    emit("warning", msg, true);
}

/// With --debug, log how far into the command a step was reached (in
/// microseconds): where the time of a create goes, without a profiler.
pub fn step(what: &str) {
    if LOGGER.get().is_some_and(|l| l.debug) {
        let us = START.get().map_or(0, |t| t.elapsed().as_micros());
        debug(&format!("{what} at {us}us"));
    }
}

static START: OnceLock<std::time::Instant> = OnceLock::new();

pub fn debug(msg: &str) {
    if LOGGER.get().is_some_and(|l| l.debug) {
        emit("debug", msg, LOGGER.get().is_some_and(|l| l.file.is_none()));
    }
}

/// `debug`, with a message that costs work (a syscall, a walk) to make:
/// it is made only under --debug, never on every container's path.
pub fn debug_with(msg: impl FnOnce() -> String) {
    if LOGGER.get().is_some_and(|l| l.debug) {
        debug(&msg());
    }
}

/// RFC 3339 in UTC, with nanoseconds when asked (runc's `created`).
pub fn rfc3339(t: SystemTime, nanos: bool) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    let (y, m, day) = civil_from_days(days);
    let (hh, mm, ss) = (rem / 3600, rem % 3600 / 60, rem % 60);
    if nanos {
        format!(
            "{y:04}-{m:02}-{day:02}T{hh:02}:{mm:02}:{ss:02}.{:09}Z",
            d.subsec_nanos()
        )
    } else {
        format!("{y:04}-{m:02}-{day:02}T{hh:02}:{mm:02}:{ss:02}Z")
    }
}

/// Days since 1970-01-01 to (year, month, day): Howard Hinnant's algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_messages_keep_their_start_and_their_errno() {
        let m = format!(
            "config: process.env: invalid value \"{}\": no such file or directory",
            "é".repeat(1_000_000)
        );
        let s = shorten(&m);
        assert!(s.len() < MAX_MESSAGE + 64, "{}", s.len());
        assert!(s.starts_with("config: process.env: invalid value"));
        assert!(s.ends_with(": no such file or directory"));
        assert!(s.contains("bytes cut"));
        assert_eq!(shorten("short"), "short");
    }
    use std::time::Duration;

    #[test]
    fn rfc3339_known_instants() {
        let t = UNIX_EPOCH + Duration::from_secs(0);
        assert_eq!(rfc3339(t, false), "1970-01-01T00:00:00Z");
        // 2024-02-29T12:34:56.000000123Z, a leap day.
        let t = UNIX_EPOCH + Duration::new(1_709_210_096, 123);
        assert_eq!(rfc3339(t, true), "2024-02-29T12:34:56.000000123Z");
    }

    #[test]
    fn json_line_is_one_object_per_line() {
        let l = line("error", "open \"x\": no such file", Format::Json);
        assert!(l.ends_with('\n') && l.matches('\n').count() == 1);
        let v: serde_json::Value = serde_json::from_str(l.trim()).unwrap();
        assert_eq!(v["level"], "error");
        assert_eq!(v["msg"], "open \"x\": no such file");
        assert!(v["time"].as_str().unwrap().ends_with('Z'));
    }
}
