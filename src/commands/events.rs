use super::Global;
use crate::cli::EventsArgs;
use crate::error::{Error, Result};
use crate::state::{self, Status};
use std::time::Duration;

/// "5s", "500ms", "1m", or seconds.
fn parse_interval(s: &str) -> Result<Duration> {
    let bad = || Error::msg(format!("--interval {s:?}: not a duration (e.g. 5s, 500ms)"));
    let (num, unit) = s
        .find(|c: char| c.is_ascii_alphabetic())
        .map_or((s, "s"), |i| (&s[..i], &s[i..]));
    let n: f64 = num.parse().map_err(|_| bad())?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(bad()),
    };
    if secs <= 0.0 {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(secs))
}

/// runc's events: `--stats` prints one stats event; otherwise one every
/// interval, and an "oom" event as soon as the kernel OOM-kills in the
/// container, until the container stops.
pub fn run(g: &Global, a: &EventsArgs) -> Result<i32> {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    let interval = parse_interval(&a.interval)?;
    let c = state::load(&g.root, &a.id, false)?;
    if c.status() == Status::Stopped {
        return Err(Error::msg(format!("container {} is not running", a.id)));
    }
    let stats = |c: &state::Container| serde_json::json!({"type": "stats", "id": a.id, "data": c.saved.cgroup.stats()});
    if a.stats {
        emit(&stats(&c));
        return Ok(0);
    }
    let mut oom = c.saved.cgroup.watch_oom()?;
    let mut next = std::time::Instant::now();
    // Short polls keep a v2 OOM (a counter, not an fd) prompt too.
    let tick = interval.min(Duration::from_millis(200));
    loop {
        if std::time::Instant::now() >= next {
            if !c.alive() {
                return Ok(0);
            }
            if !emit(&stats(&c)) {
                return Ok(0);
            }
            next += interval;
        }
        let mut fds: Vec<PollFd> = oom
            .fd()
            .map(|f| PollFd::new(f, PollFlags::POLLIN))
            .into_iter()
            .collect();
        let _ = poll(
            &mut fds,
            PollTimeout::try_from(tick).unwrap_or(PollTimeout::MAX),
        );
        if oom.fired() && !emit(&serde_json::json!({"type": "oom", "id": a.id})) {
            return Ok(0);
        }
        if !c.alive() {
            return Ok(0);
        }
    }
}

/// One event per line. False once the reader is gone (EPIPE): the stream
/// ends quietly, as a pipe into `head` expects, rather than with a panic.
fn emit(event: &serde_json::Value) -> bool {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{event}").and_then(|()| out.flush()).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals() {
        assert_eq!(parse_interval("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_interval("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_interval("2").unwrap(), Duration::from_secs(2));
        assert!(parse_interval("0s").is_err());
        assert!(parse_interval("soon").is_err());
    }
}
