//! One error type for the whole runtime. Every message names what failed
//! (the syscall or step), where (a path or a config field) and why (the
//! errno in the words engines match on: "no such file or directory",
//! "permission denied").

use nix::errno::Errno;
use std::fmt;

#[derive(Debug)]
pub enum Error {
    /// A system call failed on a path or object.
    Sys {
        op: String,
        target: String,
        errno: Errno,
    },
    /// config.json (or another input) says something berth cannot accept.
    Config { field: String, msg: String },
    /// Anything else, already worded for the user.
    Msg(String),
}

pub type Result<T> = std::result::Result<T, Error>;

/// strerror() wording, lower-cased the way Go (and so runc) prints it:
/// engines search error text for "no such file or directory".
pub fn errno_text(e: Errno) -> String {
    let desc = e.desc();
    let mut out = String::with_capacity(desc.len());
    let mut chars = desc.chars();
    if let Some(c) = chars.next() {
        out.extend(c.to_lowercase());
    }
    out.extend(chars);
    out
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Sys { op, target, errno } if target.is_empty() => {
                write!(f, "{op}: {}", errno_text(*errno))
            }
            Error::Sys { op, target, errno } => {
                write!(f, "{op} {target}: {}", errno_text(*errno))
            }
            Error::Config { field, msg } => write!(f, "config: {field}: {msg}"),
            Error::Msg(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Error {}

impl Error {
    pub fn sys(op: impl Into<String>, target: impl fmt::Display, errno: Errno) -> Self {
        Error::Sys {
            op: op.into(),
            target: target.to_string(),
            errno,
        }
    }

    pub fn config(field: impl Into<String>, msg: impl Into<String>) -> Self {
        Error::Config {
            field: field.into(),
            msg: msg.into(),
        }
    }

    pub fn msg(m: impl Into<String>) -> Self {
        Error::Msg(m.into())
    }

    /// Put the step that was running in front of the message, keeping the
    /// errno wording at the end where engines look for it.
    pub fn context(self, what: impl fmt::Display) -> Self {
        Error::Msg(format!("{what}: {self}"))
    }

    pub fn errno(&self) -> Option<Errno> {
        match self {
            Error::Sys { errno, .. } => Some(*errno),
            _ => None,
        }
    }
}

/// Attach an operation and target to a nix result.
pub trait SysContext<T> {
    fn sys(self, op: &str, target: impl fmt::Display) -> Result<T>;
}

impl<T> SysContext<T> for nix::Result<T> {
    fn sys(self, op: &str, target: impl fmt::Display) -> Result<T> {
        self.map_err(|e| Error::sys(op, target, e))
    }
}

impl<T> SysContext<T> for std::io::Result<T> {
    fn sys(self, op: &str, target: impl fmt::Display) -> Result<T> {
        self.map_err(|e| {
            let errno = Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO));
            Error::sys(op, target, errno)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_words_match_what_engines_grep_for() {
        let e = Error::sys("open", "/x/config.json", Errno::ENOENT);
        assert_eq!(
            e.to_string(),
            "open /x/config.json: no such file or directory"
        );
        let e = Error::sys("mount", "", Errno::EPERM);
        assert_eq!(e.to_string(), "mount: operation not permitted");
        assert_eq!(errno_text(Errno::EACCES), "permission denied");
    }

    #[test]
    fn context_keeps_errno_last() {
        let e = Error::sys("mkdir", "/a", Errno::EEXIST).context("create cgroup");
        assert_eq!(e.to_string(), "create cgroup: mkdir /a: file exists");
    }
}
