//! Every check's outcome, and the summary: a table per area (passed,
//! failed, not applicable here with the reason), then what failed.

use std::collections::BTreeMap;

pub enum Outcome {
    Pass,
    Fail(String),
    /// The check exists but cannot run on this host; the reason says why.
    NotHere(String),
}

pub struct Check {
    pub case: String,
    pub area: String,
    pub what: String,
    pub outcome: Outcome,
}

#[derive(Default)]
pub struct Report {
    pub checks: Vec<Check>,
}

impl Report {
    pub fn truth(&mut self, case: &str, area: &str, what: &str, ok: bool, detail: impl ToString) {
        self.checks.push(Check {
            case: case.into(),
            area: area.into(),
            what: what.into(),
            outcome: if ok {
                Outcome::Pass
            } else {
                Outcome::Fail(detail.to_string())
            },
        });
    }

    pub fn not_here(&mut self, case: &str, area: &str, what: &str, why: &str) {
        self.checks.push(Check {
            case: case.into(),
            area: area.into(),
            what: what.into(),
            outcome: Outcome::NotHere(why.into()),
        });
    }

    pub fn failed(&self) -> usize {
        self.checks
            .iter()
            .filter(|c| matches!(c.outcome, Outcome::Fail(_)))
            .count()
    }

    /// With `all`, one line per check first (PASS/FAIL/N/A, case, area,
    /// what), for comparing runtimes line by line.
    pub fn print(&self, title: &str, all: bool) {
        if all {
            for c in &self.checks {
                let tag = match c.outcome {
                    Outcome::Pass => "PASS",
                    Outcome::Fail(_) => "FAIL",
                    Outcome::NotHere(_) => "N/A ",
                };
                println!("{tag} [{}] {}: {}", c.case, c.area, c.what);
            }
            println!();
        }
        #[derive(Default)]
        struct Area {
            passed: usize,
            failed: usize,
            not_here: BTreeMap<String, usize>,
        }
        let mut areas: BTreeMap<&str, Area> = BTreeMap::new();
        for c in &self.checks {
            let a = areas.entry(&c.area).or_default();
            match &c.outcome {
                Outcome::Pass => a.passed += 1,
                Outcome::Fail(_) => a.failed += 1,
                Outcome::NotHere(why) => {
                    *a.not_here
                        .entry(format!("{}: not applicable here: {why}", c.what))
                        .or_default() += 1
                }
            }
        }
        println!("{title}");
        println!(
            "{:<20} {:>6} {:>6} {:>6}",
            "area", "passed", "failed", "n/a"
        );
        for (name, a) in &areas {
            println!(
                "{name:<20} {:>6} {:>6} {:>6}",
                a.passed,
                a.failed,
                a.not_here.values().sum::<usize>()
            );
            for (why, n) in &a.not_here {
                let times = if *n > 1 {
                    format!(" (x{n})")
                } else {
                    String::new()
                };
                println!("    n/a: {why}{times}");
            }
        }
        for c in &self.checks {
            if let Outcome::Fail(d) = &c.outcome {
                let d = if d.is_empty() {
                    String::new()
                } else {
                    format!(" # {d}")
                };
                println!("FAILED: [{}] {}: {}{d}", c.case, c.area, c.what);
            }
        }
        let count = |f: fn(&Outcome) -> bool| self.checks.iter().filter(|c| f(&c.outcome)).count();
        println!(
            "{} passed, {} failed, {} not applicable here",
            count(|o| matches!(o, Outcome::Pass)),
            count(|o| matches!(o, Outcome::Fail(_))),
            count(|o| matches!(o, Outcome::NotHere(_)))
        );
    }
}
