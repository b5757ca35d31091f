//! The golden test format (documented in `tests/cases/README.md`): parsing
//! a `.test` file into commands.

use nines_engine::{Label, Labels, STALE_NAN_BITS};

/// One sample slot of a loaded series or of an expected range series:
/// `None` is `_` (no sample / no value at that step).
pub type Slot = Option<f64>;

/// A series of a `load` block: sample `i` is at `i * interval`.
#[derive(Clone, Debug)]
pub struct LoadSeries {
    pub labels: Labels,
    pub slots: Vec<Slot>,
}

#[derive(Clone, Debug)]
pub enum Command {
    Load {
        interval_ms: i64,
        series: Vec<LoadSeries>,
    },
    Clear,
    Eval(Eval),
}

#[derive(Clone, Copy, Debug)]
pub enum When {
    Instant {
        at_ms: i64,
    },
    Range {
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    },
}

/// What an evaluation must produce.
#[derive(Clone, Debug)]
pub enum Expected {
    /// Instant vector samples, in the order written.
    Vector(Vec<(Labels, f64)>),
    Scalar(f64),
    String(String),
    /// Range query series, one slot per step.
    Matrix(Vec<(Labels, Vec<Slot>)>),
    /// An error whose message contains this substring (empty: any error).
    Fail(String),
}

#[derive(Clone, Debug)]
pub struct Eval {
    /// 1-based line of the `eval` command.
    pub line: usize,
    pub query: String,
    pub when: When,
    /// `eval_ordered`: the vector's order is part of the answer.
    pub ordered: bool,
    pub expected: Expected,
}

/// A parse error of a test file, with its 1-based line.
#[derive(Debug)]
pub struct ScriptError {
    pub line: usize,
    pub msg: String,
}

/// Parses a whole `.test` file into `(line, command)` pairs.
pub fn parse_script(text: &str) -> Result<Vec<(usize, Command)>, ScriptError> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line_no = i + 1;
        let raw = lines[i];
        i += 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if raw.starts_with(char::is_whitespace) {
            return Err(err(line_no, "indented line outside a load or eval block"));
        }
        // The indented lines that follow belong to this command.
        let mut body = Vec::new();
        while i < lines.len() {
            let next = lines[i];
            let trimmed = next.trim();
            if trimmed.is_empty() || !next.starts_with(char::is_whitespace) {
                break;
            }
            if !trimmed.starts_with('#') {
                body.push((i + 1, trimmed));
            }
            i += 1;
        }
        let cmd = if line == "clear" {
            Command::Clear
        } else if let Some(rest) = line.strip_prefix("load ") {
            parse_load(line_no, rest, &body)?
        } else if line.starts_with("eval") {
            Command::Eval(parse_eval(line_no, line, &body)?)
        } else {
            return Err(err(line_no, format!("unknown command {line:?}")));
        };
        out.push((line_no, cmd));
    }
    Ok(out)
}

fn err(line: usize, msg: impl Into<String>) -> ScriptError {
    ScriptError {
        line,
        msg: msg.into(),
    }
}

fn parse_load(line: usize, rest: &str, body: &[(usize, &str)]) -> Result<Command, ScriptError> {
    let interval_ms = parse_duration(rest.trim()).map_err(|e| err(line, e))?;
    if interval_ms <= 0 {
        return Err(err(line, "load interval must be positive"));
    }
    let mut series = Vec::new();
    for &(n, text) in body {
        let (labels, values) = split_labels(text).map_err(|e| err(n, e))?;
        let slots = parse_slots(values).map_err(|e| err(n, e))?;
        series.push(LoadSeries { labels, slots });
    }
    Ok(Command::Load {
        interval_ms,
        series,
    })
}

fn parse_eval(line: usize, text: &str, body: &[(usize, &str)]) -> Result<Eval, ScriptError> {
    let (head, rest) = text
        .split_once(' ')
        .ok_or_else(|| err(line, "eval needs a query"))?;
    let (ordered, mut fail) = match head {
        "eval" => (false, None),
        "eval_ordered" => (true, None),
        "eval_fail" => (false, Some(String::new())),
        _ => return Err(err(line, format!("unknown command {head:?}"))),
    };
    let mut words = rest.split_whitespace();
    let when = match words.next() {
        Some("instant") => {
            expect_word(line, words.next(), "at")?;
            let at_ms = next_duration(line, words.next())?;
            When::Instant { at_ms }
        }
        Some("range") => {
            expect_word(line, words.next(), "from")?;
            let start_ms = next_duration(line, words.next())?;
            expect_word(line, words.next(), "to")?;
            let end_ms = next_duration(line, words.next())?;
            expect_word(line, words.next(), "step")?;
            let step_ms = next_duration(line, words.next())?;
            When::Range {
                start_ms,
                end_ms,
                step_ms,
            }
        }
        other => {
            return Err(err(
                line,
                format!("expected instant or range, found {other:?}"),
            ))
        }
    };
    // The query is the rest of the line as written (string literals may
    // hold runs of spaces).
    let used: Vec<&str> = rest.split_whitespace().take(head_words(when)).collect();
    let mut query = rest;
    for w in used {
        query = query.trim_start().strip_prefix(w).unwrap_or(query);
    }
    let query = query.trim().to_string();
    if query.is_empty() {
        return Err(err(line, "eval needs a query"));
    }
    let mut lines = Vec::new();
    for &(n, l) in body {
        if let Some(msg) = l.strip_prefix("expect fail") {
            fail = Some(msg.trim().to_string());
        } else {
            lines.push((n, l));
        }
    }
    let expected = if let Some(msg) = fail {
        if let Some(&(n, _)) = lines.first() {
            return Err(err(n, "a failing eval has no expected results"));
        }
        Expected::Fail(msg)
    } else {
        match when {
            When::Instant { .. } => parse_instant_expected(&lines)?,
            When::Range { .. } => {
                let mut series = Vec::new();
                for &(n, l) in &lines {
                    let (labels, values) = split_labels(l).map_err(|e| err(n, e))?;
                    series.push((labels, parse_slots(values).map_err(|e| err(n, e))?));
                }
                Expected::Matrix(series)
            }
        }
    };
    Ok(Eval {
        line,
        query,
        when,
        ordered,
        expected,
    })
}

/// Words of `instant at T` / `range from A to B step S`.
fn head_words(w: When) -> usize {
    match w {
        When::Instant { .. } => 3,
        When::Range { .. } => 7,
    }
}

fn parse_instant_expected(lines: &[(usize, &str)]) -> Result<Expected, ScriptError> {
    if let [(n, l)] = lines {
        if l.starts_with('"') {
            let (s, rest) = unquote(l).map_err(|e| err(*n, e))?;
            if !rest.trim().is_empty() {
                return Err(err(*n, "text after the expected string"));
            }
            return Ok(Expected::String(s));
        }
        if let Ok(v) = parse_value(l) {
            return Ok(Expected::Scalar(v));
        }
    }
    let mut samples = Vec::new();
    for &(n, l) in lines {
        let (labels, value) = split_labels(l).map_err(|e| err(n, e))?;
        samples.push((labels, parse_value(value.trim()).map_err(|e| err(n, e))?));
    }
    Ok(Expected::Vector(samples))
}

fn expect_word(line: usize, got: Option<&str>, want: &str) -> Result<(), ScriptError> {
    if got == Some(want) {
        Ok(())
    } else {
        Err(err(line, format!("expected {want:?}, found {got:?}")))
    }
}

fn next_duration(line: usize, word: Option<&str>) -> Result<i64, ScriptError> {
    let w = word.ok_or_else(|| err(line, "expected a time"))?;
    parse_duration(w).map_err(|e| err(line, e))
}

/// A duration in Prometheus's notation (`1h5m`, `90s`, `100ms`, `0`), in ms.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    if s == "0" {
        return Ok(0);
    }
    let bad = || format!("invalid duration {s:?}");
    let mut total: i64 = 0;
    let mut rest = s;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        if digits == 0 {
            return Err(bad());
        }
        let n: i64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 7 * 86_400_000,
            "y" => 365 * 86_400_000,
            _ => return Err(bad()),
        };
        rest = &rest[unit_len..];
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
    }
    Ok(total)
}

/// Splits `metric{a="b"} rest` into the label set and the rest.
pub fn split_labels(s: &str) -> Result<(Labels, &str), String> {
    let s = s.trim_start();
    let name_end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(s.len());
    let name = &s[..name_end];
    let mut rest = &s[name_end..];
    let mut labels = Vec::new();
    if !name.is_empty() {
        labels.push(Label::new("__name__", name));
    }
    if let Some(r) = rest.strip_prefix('{') {
        rest = r.trim_start();
        loop {
            if let Some(r) = rest.strip_prefix('}') {
                rest = r;
                break;
            }
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .ok_or("unterminated label set")?;
            let lname = &rest[..end];
            if lname.is_empty() {
                return Err(format!("expected a label name at {rest:?}"));
            }
            let r = rest[end..].trim_start();
            let r = r.strip_prefix('=').ok_or("expected = after a label name")?;
            let (value, r) = unquote(r.trim_start())?;
            labels.push(Label::new(lname, value));
            rest = r.trim_start();
            if let Some(r) = rest.strip_prefix(',') {
                rest = r.trim_start();
            } else if !rest.starts_with('}') {
                return Err(format!("expected , or }} at {rest:?}"));
            }
        }
    } else if name.is_empty() {
        return Err(format!("expected a metric name or a label set at {s:?}"));
    }
    Ok((Labels::new(labels), rest))
}

/// Reads a double-quoted string with Go's escapes; returns it and the rest.
pub fn unquote(s: &str) -> Result<(String, &str), String> {
    let body = s.strip_prefix('"').ok_or("expected a quoted string")?;
    let mut out = String::new();
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((out, &body[i + 1..])),
            '\\' => {
                let (_, e) = chars.next().ok_or("unterminated string")?;
                match e {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    '\\' => out.push('\\'),
                    '"' => out.push('"'),
                    '\'' => out.push('\''),
                    'x' | 'u' => {
                        let len = if e == 'x' { 2 } else { 4 };
                        let mut hex = String::new();
                        for _ in 0..len {
                            hex.push(chars.next().ok_or("unterminated escape")?.1);
                        }
                        let code = u32::from_str_radix(&hex, 16).map_err(|e| e.to_string())?;
                        out.push(char::from_u32(code).ok_or("invalid escape")?);
                    }
                    other => return Err(format!("unknown escape \\{other}")),
                }
            }
            c => out.push(c),
        }
    }
    Err("unterminated string".into())
}

/// One value: a number, `NaN`, `Inf`, `+Inf`, `-Inf`, or `stale`.
pub fn parse_value(s: &str) -> Result<f64, String> {
    match s {
        "stale" => return Ok(f64::from_bits(STALE_NAN_BITS)),
        "NaN" => return Ok(f64::NAN),
        "Inf" | "+Inf" => return Ok(f64::INFINITY),
        "-Inf" => return Ok(f64::NEG_INFINITY),
        _ => {}
    }
    // Rust would also take "inf", "infinity" and "nan"; the format does not.
    if s.is_empty() || s.contains(|c: char| c.is_ascii_alphabetic() && c != 'e' && c != 'E') {
        return Err(format!("invalid value {s:?}"));
    }
    s.parse::<f64>().map_err(|_| format!("invalid value {s:?}"))
}

/// Expanding notation: `1+2x5` (1, 3, ..., 11: six values), `1-1x3`, `5x3`
/// (four fives), `_`, `_x3`, plain values.
pub fn parse_slots(s: &str) -> Result<Vec<Slot>, String> {
    let mut out = Vec::new();
    for tok in s.split_whitespace() {
        if tok == "_" {
            out.push(None);
            continue;
        }
        if let Some(n) = tok.strip_prefix("_x") {
            let n: usize = n.parse().map_err(|_| format!("invalid repeat {tok:?}"))?;
            out.extend(std::iter::repeat_n(None, n));
            continue;
        }
        if let Ok(v) = parse_value(tok) {
            out.push(Some(v));
            continue;
        }
        let (head, times) = tok
            .rsplit_once('x')
            .ok_or_else(|| format!("invalid value {tok:?}"))?;
        let times: usize = times
            .parse()
            .map_err(|_| format!("invalid repeat {tok:?}"))?;
        let (start, step) =
            split_start_step(head).ok_or_else(|| format!("invalid series {tok:?}"))?;
        // Repeated addition, as Prometheus builds these series: the values
        // carry the same rounding as Prometheus's.
        let mut v = start;
        for _ in 0..=times {
            out.push(Some(v));
            v += step;
        }
    }
    Ok(out)
}

/// `a+b`, `a-b` or `a` (step 0) with signed `a`.
fn split_start_step(s: &str) -> Option<(f64, f64)> {
    let bytes = s.as_bytes();
    for i in 1..bytes.len() {
        let c = bytes[i];
        if (c == b'+' || c == b'-') && !matches!(bytes[i - 1], b'e' | b'E') {
            let start = parse_value(&s[..i]).ok()?;
            let step = parse_value(&s[i + 1..]).ok()?;
            return Some((start, if c == b'-' { -step } else { step }));
        }
    }
    Some((parse_value(s).ok()?, 0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expanding_notation() {
        let s = parse_slots("1+2x2 _ 3-1x1 _x2 stale 5x1 -1e-3+1e3x1").unwrap();
        assert_eq!(s.len(), 13);
        assert_eq!(&s[..4], &[Some(1.0), Some(3.0), Some(5.0), None]);
        assert_eq!(&s[4..8], &[Some(3.0), Some(2.0), None, None]);
        assert!(nines_engine::is_stale_marker(s[8].unwrap_or(0.0)));
        assert_eq!(
            &s[9..],
            &[Some(5.0), Some(5.0), Some(-0.001), Some(999.999)]
        );
        assert!(parse_slots("1+x").is_err());
    }

    #[test]
    fn durations_and_labels() {
        assert_eq!(parse_duration("1h5m"), Ok(3_900_000));
        assert_eq!(parse_duration("100ms"), Ok(100));
        assert!(parse_duration("5").is_err());
        let (l, rest) = split_labels(r#"m{a="x\"y", b="z"} 1"#).unwrap();
        assert_eq!(l.to_string(), r#"m{a="x\"y", b="z"}"#);
        assert_eq!(rest, " 1");
    }
}
