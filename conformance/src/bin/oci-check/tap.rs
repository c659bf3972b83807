//! TAP output, and the /proc reads every area uses.

use std::collections::HashMap;

pub struct Tap {
    pub n: usize,
    pub failed: usize,
}

impl Tap {
    pub fn check(&mut self, area: &str, what: &str, expected: impl ToString, got: impl ToString) {
        let (e, g) = (expected.to_string(), got.to_string());
        self.n += 1;
        if e == g {
            println!("ok {} - {area}: {what}", self.n);
        } else {
            self.failed += 1;
            println!(
                "not ok {} - {area}: {what} # expected {e:?}, got {g:?}",
                self.n
            );
        }
    }
    pub fn truth(&mut self, area: &str, what: &str, ok: bool, detail: impl ToString) {
        self.n += 1;
        if ok {
            println!("ok {} - {area}: {what}", self.n);
        } else {
            self.failed += 1;
            println!(
                "not ok {} - {area}: {what} # {}",
                self.n,
                detail.to_string()
            );
        }
    }
    pub fn skip(&mut self, area: &str, what: &str, why: &str) {
        self.n += 1;
        println!("ok {} - {area}: {what} # SKIP {why}", self.n);
    }
}

pub fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

pub fn status() -> HashMap<String, String> {
    read("/proc/self/status")
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.trim().to_string()))
        .collect()
}
