//! The golden PromQL test harness: the `.test` format ([`script`]),
//! evaluation on nines ([`run`]) and the check against Prometheus's own
//! answers through `promtool` ([`promtool`]).

pub mod promtool;
pub mod run;
pub mod script;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use nines_engine::Labels;

use script::{Expected, Slot};

/// The case files, sorted by name.
pub fn case_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "test"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .test files in {}", dir.display());
    files
}

/// One disagreement, printed as `file:line`, the query, expected and got.
pub struct Failure {
    pub file: String,
    pub line: usize,
    pub query: String,
    pub expected: String,
    pub got: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "{}:{}: {}", self.file, self.line, self.query)?;
        writeln!(f, "  expected:\n{}", indent(&self.expected))?;
        write!(f, "  got:\n{}", indent(&self.got))
    }
}

fn indent(s: &str) -> String {
    if s.is_empty() {
        return "    (nothing)".into();
    }
    s.lines().map(|l| format!("    {l}\n")).collect::<String>()
}

/// Panics with every failure, if there are any.
pub fn report(what: &str, failures: &[Failure], cases: usize) {
    if failures.is_empty() {
        eprintln!("{what}: {cases} cases agree");
        return;
    }
    let mut msg = format!("{what}: {} of {cases} cases disagree\n\n", failures.len());
    for f in failures {
        let _ = writeln!(msg, "{f}\n");
    }
    panic!("{msg}");
}

/// Equal within 1e-9 relative; NaN equals NaN (any NaN); -0 equals 0.
pub fn same_value(a: f64, b: f64) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    if a == b {
        return true;
    }
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

/// A value as the case files write it.
pub fn fmt_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v}")
    }
}

pub fn fmt_slots(slots: &[Slot]) -> String {
    slots
        .iter()
        .map(|s| s.map_or_else(|| "_".to_string(), fmt_value))
        .collect::<Vec<_>>()
        .join(" ")
}

/// An answer, normalised for comparison: what a query produced (on nines
/// or on Prometheus) or what a case expects.
#[derive(Clone, Debug)]
pub enum Answer {
    Vector(Vec<(Labels, f64)>),
    Scalar(f64),
    String(String),
    Matrix(Vec<(Labels, Vec<Slot>)>),
    Error(String),
}

impl Answer {
    /// The answer in the case file's notation.
    pub fn to_case_text(&self) -> String {
        match self {
            Answer::Vector(v) => v
                .iter()
                .map(|(l, x)| format!("{l} {}\n", fmt_value(*x)))
                .collect(),
            Answer::Scalar(x) => format!("{}\n", fmt_value(*x)),
            Answer::String(s) => format!("{s:?}\n"),
            Answer::Matrix(m) => m
                .iter()
                .map(|(l, s)| format!("{l} {}\n", fmt_slots(s)))
                .collect(),
            Answer::Error(e) => format!("expect fail {e}\n"),
        }
    }
}

/// Whether `got` satisfies `want`; `ordered` compares vectors in order.
pub fn matches(want: &Expected, got: &Answer, ordered: bool) -> bool {
    match (want, got) {
        (Expected::Fail(msg), Answer::Error(e)) => e.contains(msg.as_str()),
        (Expected::Scalar(a), Answer::Scalar(b)) => same_value(*a, *b),
        (Expected::String(a), Answer::String(b)) => a == b,
        (Expected::Vector(a), Answer::Vector(b)) => {
            if ordered {
                a.len() == b.len()
                    && a.iter()
                        .zip(b)
                        .all(|(x, y)| x.0 == y.0 && same_value(x.1, y.1))
            } else {
                same_set(a, b, |x, y| same_value(*x, *y))
            }
        }
        (Expected::Matrix(a), Answer::Matrix(b)) => same_set(a, b, |x, y| {
            x.len() == y.len()
                && x.iter().zip(y).all(|(p, q)| match (p, q) {
                    (Some(p), Some(q)) => same_value(*p, *q),
                    (None, None) => true,
                    _ => false,
                })
        }),
        _ => false,
    }
}

/// Same label sets (each once) with matching values, in any order.
fn same_set<T>(a: &[(Labels, T)], b: &[(Labels, T)], eq: impl Fn(&T, &T) -> bool) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut a: Vec<_> = a.iter().collect();
    let mut b: Vec<_> = b.iter().collect();
    a.sort_by(|x, y| x.0.cmp(&y.0));
    b.sort_by(|x, y| x.0.cmp(&y.0));
    a.iter().zip(&b).all(|(x, y)| x.0 == y.0 && eq(&x.1, &y.1))
}

pub fn expected_text(e: &Expected) -> String {
    match e {
        Expected::Vector(v) => Answer::Vector(v.clone()).to_case_text(),
        Expected::Scalar(x) => Answer::Scalar(*x).to_case_text(),
        Expected::String(s) => Answer::String(s.clone()).to_case_text(),
        Expected::Matrix(m) => Answer::Matrix(m.clone()).to_case_text(),
        Expected::Fail(m) => format!("expect fail {m}\n"),
    }
}
