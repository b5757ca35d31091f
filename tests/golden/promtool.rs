//! Checking the case files against Prometheus itself: every eval becomes a
//! `promtool test rules` group (its loaded series as `input_series`, one
//! `promql_expr_test` per instant, or per step of a range), expecting a
//! sentinel sample that never occurs, so that promtool prints what
//! Prometheus got for each. Those answers are compared with the case's
//! expectation.
//!
//! promtool loads input samples lazily, only up to the last evaluation
//! time of a group (rounded down to the evaluation interval); each group
//! therefore also evaluates `vector(0)` at a time past its last sample.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use nines_engine::{is_stale_marker, Labels};

use super::run::{padded, step_count, File, Loaded};
use super::script::{split_labels, unquote, Eval, Expected, Slot, When};
use super::{expected_text, fmt_value, matches, Answer, Failure};

/// promtool's rule evaluation interval (its default).
const EVAL_INTERVAL_MS: i64 = 60_000;
const TAG: &str = "# nines:";
const SENTINEL: &str = r#"{__nines_sentinel__="never"}"#;

/// The promtool binary: `$PROMTOOL`, else `promtool` on the `PATH`.
pub fn promtool() -> Result<String, String> {
    let bin = std::env::var("PROMTOOL").unwrap_or_else(|_| "promtool".into());
    match Command::new(&bin).arg("--version").output() {
        Ok(o) if o.status.success() => Ok(bin),
        Ok(o) => Err(format!(
            "`{bin} --version` failed: {}",
            String::from_utf8_lossy(&o.stderr)
        )),
        Err(e) => Err(format!(
            "promtool (Prometheus 2.42) is needed to check the golden cases and \
             `{bin}` cannot be run ({e}); scripts/test installs it \
             (apt-get install -y prometheus), or set PROMTOOL to its path"
        )),
    }
}

/// What a single promtool expression test printed.
#[derive(Debug)]
enum Got {
    Samples(Vec<(Labels, f64)>),
    Error(String),
}

/// Checks a file's cases against promtool; returns (checked cases,
/// failures). Cases it cannot check ([`checkable`]) are not counted.
pub fn check_file(bin: &str, file: &File, tmp: &Path) -> (usize, Vec<Failure>) {
    let mut yaml = String::from("evaluation_interval: 1m\ntests:\n");
    // tag -> (eval index, step)
    let mut tags: Vec<(usize, usize)> = Vec::new();
    let mut checked = Vec::new();
    for (i, (e, loaded)) in file.evals.iter().enumerate() {
        if !checkable(e) {
            continue;
        }
        checked.push(i);
        let times: Vec<i64> = match e.when {
            When::Instant { at_ms } => vec![at_ms],
            When::Range {
                start_ms,
                end_ms,
                step_ms,
            } => (0..step_count(start_ms, end_ms, step_ms))
                .map(|k| start_ms + k as i64 * step_ms)
                .collect(),
        };
        group(&mut yaml, &file.name, e, loaded, &times, &mut tags, i);
    }
    let path = tmp.join(format!("{}.yml", file.name));
    let fail_all = |msg: String| {
        let failures = checked
            .iter()
            .map(|&i| failure(file, &file.evals[i].0, Answer::Error(msg.clone())))
            .collect();
        (checked.len(), failures)
    };
    if let Err(e) = std::fs::write(&path, &yaml) {
        return fail_all(format!("write {}: {e}", path.display()));
    }
    let out = match Command::new(bin)
        .args(["test", "rules"])
        .arg(&path)
        .output()
    {
        Ok(o) => o,
        Err(e) => return fail_all(format!("run {bin}: {e}")),
    };
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let got = parse_output(&text);
    if got.is_empty() {
        return fail_all(format!("promtool printed no results:\n{text}"));
    }
    let mut failures = Vec::new();
    let mut blessed = Vec::new();
    for &i in &checked {
        let e = &file.evals[i].0;
        let steps: Vec<Option<&Got>> = tags
            .iter()
            .enumerate()
            .filter(|(_, t)| t.0 == i)
            .map(|(tag, _)| got.get(&tag))
            .collect();
        let answer = prometheus_answer(e, &steps);
        if !matches(&padded(e), &answer, false) {
            blessed.push((e.line, answer.to_case_text()));
            failures.push(failure(file, e, answer));
        }
    }
    if std::env::var_os("NINES_GOLDEN_BLESS").is_some() && !blessed.is_empty() {
        if let Err(e) = bless(&file.path, &blessed) {
            panic!("bless {}: {e}", file.path.display());
        }
    }
    (checked.len(), failures)
}

/// Replaces the expectations of the evals at `fixes` lines with
/// Prometheus's answers (`NINES_GOLDEN_BLESS=1`, for writing new cases).
fn bless(path: &Path, fixes: &[(usize, String)]) -> std::io::Result<()> {
    let text = std::fs::read_to_string(path)?;
    let lines: Vec<&str> = text.lines().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < lines.len() {
        out.push_str(lines[i]);
        out.push('\n');
        i += 1;
        if let Some((_, answer)) = fixes.iter().find(|(l, _)| *l == i) {
            while i < lines.len()
                && lines[i].starts_with(char::is_whitespace)
                && !lines[i].trim().is_empty()
            {
                i += 1;
            }
            for l in answer.lines() {
                out.push_str("  ");
                out.push_str(l);
                out.push('\n');
            }
        }
    }
    std::fs::write(path, out)
}

/// Whether promtool can check a case: not string results (its tests take
/// vectors and scalars only).
fn checkable(e: &Eval) -> bool {
    !matches!(e.expected, Expected::String(_))
}

/// The query promtool evaluates at each step. A range query is an instant
/// query per step, except that `@ start()` / `@ end()` name the range's
/// bounds: they become those times, in seconds.
fn step_query(e: &Eval) -> String {
    match e.when {
        When::Instant { .. } => e.query.clone(),
        When::Range {
            start_ms, end_ms, ..
        } => {
            let secs = |ms: i64| format!("{}", ms as f64 / 1000.0);
            e.query
                .replace("start()", &secs(start_ms))
                .replace("end()", &secs(end_ms))
        }
    }
}

fn failure(file: &File, e: &Eval, got: Answer) -> Failure {
    Failure {
        file: file.name.clone(),
        line: e.line,
        query: e.query.clone(),
        expected: expected_text(&padded(e)),
        got: got.to_case_text(),
    }
}

/// One promtool test group for an eval: its data and one expression test
/// per time (see [`step_query`]).
fn group(
    yaml: &mut String,
    file: &str,
    e: &Eval,
    loaded: &[Loaded],
    times: &[i64],
    tags: &mut Vec<(usize, usize)>,
    eval_index: usize,
) {
    let interval = loaded.iter().map(|l| l.interval_ms).fold(0, gcd).max(1);
    let _ = writeln!(
        yaml,
        "  - name: {}",
        yaml_str(&format!("{file}:{}", e.line))
    );
    let _ = writeln!(yaml, "    interval: {}", duration(interval));
    let _ = writeln!(yaml, "    input_series:");
    let mut last_sample = 0;
    for l in loaded {
        let mut slots: Vec<Slot> = Vec::new();
        for (t, v) in l.samples() {
            let at = usize::try_from(t / interval).unwrap_or(0);
            slots.resize(at, None);
            slots.push(Some(v));
            last_sample = last_sample.max(t);
        }
        let _ = writeln!(
            yaml,
            "      - series: {}",
            yaml_str(&l.series.labels.to_string())
        );
        let _ = writeln!(yaml, "        values: {}", yaml_str(&values_text(&slots)));
    }
    let _ = writeln!(yaml, "    promql_expr_test:");
    for (step, &t) in times.iter().enumerate() {
        let tag = tags.len();
        tags.push((eval_index, step));
        let expr = format!("{} {TAG}{tag}", step_query(e));
        let _ = writeln!(yaml, "      - expr: {}", yaml_str(&expr));
        let _ = writeln!(yaml, "        eval_time: {}", duration(t));
        let _ = writeln!(yaml, "        exp_samples:");
        let _ = writeln!(yaml, "          - labels: {}", yaml_str(SENTINEL));
        let _ = writeln!(yaml, "            value: 0");
    }
    // Loads every sample (see the module comment); passes silently.
    let all_loaded = (last_sample + EVAL_INTERVAL_MS - 1) / EVAL_INTERVAL_MS * EVAL_INTERVAL_MS;
    let _ = writeln!(yaml, "      - expr: vector(0)");
    let _ = writeln!(yaml, "        eval_time: {}", duration(all_loaded));
    let _ = writeln!(yaml, "        exp_samples:");
    let _ = writeln!(yaml, "          - labels: '{{}}'");
    let _ = writeln!(yaml, "            value: 0");
}

fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// Explicit values (no expanding arithmetic, so no rounding question),
/// runs of missing samples as `_xN`.
fn values_text(slots: &[Slot]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut gap = 0;
    for s in slots {
        match s {
            None => gap += 1,
            Some(v) => {
                match gap {
                    0 => {}
                    1 => out.push("_".into()),
                    n => out.push(format!("_x{n}")),
                }
                gap = 0;
                out.push(if is_stale_marker(*v) {
                    "stale".into()
                } else {
                    fmt_value(*v)
                });
            }
        }
    }
    out.join(" ")
}

fn duration(ms: i64) -> String {
    if ms % 1000 == 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// A YAML single-quoted scalar.
fn yaml_str(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Prometheus's answer to an eval from its per-time results.
fn prometheus_answer(e: &Eval, steps: &[Option<&Got>]) -> Answer {
    if let Some(err) = steps.iter().find_map(|g| match g {
        Some(Got::Error(m)) => Some(m.clone()),
        _ => None,
    }) {
        return Answer::Error(err);
    }
    if steps.iter().any(Option::is_none) {
        return Answer::Error("promtool printed nothing for this case".into());
    }
    let samples = |g: &Option<&Got>| match g {
        Some(Got::Samples(s)) => s.clone(),
        _ => Vec::new(),
    };
    match e.when {
        When::Instant { .. } => {
            let s = steps.first().map(samples).unwrap_or_default();
            // promtool turns a scalar into one sample without labels; the
            // query's static type tells the two apart.
            let scalar = nines_query::parse(&e.query)
                .is_ok_and(|q| q.value_type() == nines_query::syntax::ast::ValueType::Scalar);
            match s.as_slice() {
                [(l, v)] if scalar && l.is_empty() => Answer::Scalar(*v),
                _ => Answer::Vector(s),
            }
        }
        When::Range { .. } => {
            let n = steps.len();
            let mut series: BTreeMap<Labels, Vec<Slot>> = BTreeMap::new();
            for (k, g) in steps.iter().enumerate() {
                for (l, v) in samples(g) {
                    series.entry(l).or_insert_with(|| vec![None; n])[k] = Some(v);
                }
            }
            Answer::Matrix(series.into_iter().collect())
        }
    }
}

/// Reads promtool's failure report: for each tagged expression, the error
/// or the samples it got.
fn parse_output(text: &str) -> BTreeMap<usize, Got> {
    let mut out = BTreeMap::new();
    let mut current: Option<usize> = None;
    for line in text.lines() {
        let t = line.trim();
        if let Some(q) = t.strip_prefix("expr: ") {
            current = None;
            let Ok((expr, rest)) = unquote(q) else {
                continue;
            };
            let Some(tag) = expr.rsplit_once(TAG).and_then(|(_, n)| n.parse().ok()) else {
                continue;
            };
            current = Some(tag);
            if let Some((_, msg)) = rest.split_once(" err: ") {
                out.insert(tag, Got::Error(msg.to_string()));
                current = None;
            }
        } else if let (Some(tag), Some(g)) = (current, t.strip_prefix("got: ")) {
            let got = match parse_samples(g) {
                Ok(s) => Got::Samples(s),
                Err(e) => Got::Error(format!("cannot read promtool's answer {g:?}: {e}")),
            };
            out.insert(tag, got);
            current = None;
        }
    }
    out
}

/// `nil`, or `{a="b"} 1E+00, {...} 2E+00` (Go's label and `%E` printing).
fn parse_samples(s: &str) -> Result<Vec<(Labels, f64)>, String> {
    let mut out = Vec::new();
    if s == "nil" {
        return Ok(out);
    }
    let mut rest = s;
    while !rest.is_empty() {
        let (labels, r) = split_labels(rest)?;
        let r = r.trim_start();
        let (value, r) = r.split_once(", ").unwrap_or((r, ""));
        let v = super::script::parse_value(value.trim())?;
        out.push((labels, v));
        rest = r.trim_start();
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_promtool_reports() {
        let text =
            "  FAILED:\n    expr: \"m # nines:0\", time: 1m,\n        exp: {} 0E+00\n        \
                    got: {__name__=\"m\", job=\"a\\\"\"} 9E+00, {job=\"b\"} -Inf\n    \
                    expr: \"m[1m] # nines:1\", time: 1m30s, err: rule result is not a vector\n    \
                    expr: \"x # nines:2\", time: 0s,\n        exp: {} 0E+00\n        got: nil\n";
        let got = parse_output(text);
        assert_eq!(got.len(), 3);
        match &got[&0] {
            Got::Samples(s) => {
                assert_eq!(s.len(), 2);
                assert_eq!(s[0].0.to_string(), r#"m{job="a\""}"#);
                assert_eq!(s[0].1, 9.0);
                assert_eq!(s[1].1, f64::NEG_INFINITY);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(&got[&1], Got::Error(m) if m == "rule result is not a vector"));
        assert!(matches!(&got[&2], Got::Samples(s) if s.is_empty()));
    }

    #[test]
    fn values_are_explicit() {
        let stale = f64::from_bits(nines_engine::STALE_NAN_BITS);
        let slots = [Some(1.5), None, None, Some(stale), None, Some(f64::NAN)];
        assert_eq!(values_text(&slots), "1.5 _x2 stale _ NaN");
    }
}
