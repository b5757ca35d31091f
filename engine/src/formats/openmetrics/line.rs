//! Parses one line of Prometheus or OpenMetrics text. The grammar is the
//! union of both dialects and lenient where they differ (spaces or tabs, any
//! number of them, between tokens; a trailing comma in a label set); what the
//! dialect decides (the timestamp unit, `# EOF`) is left to the reader.

use std::fmt;

use crate::formats::first_duplicate;
use crate::types::{Label, METRIC_NAME};

/// A `# TYPE` of either dialect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MetricType {
    Counter,
    Gauge,
    Histogram,
    Summary,
    /// Prometheus's name for `unknown`.
    Untyped,
    Unknown,
    GaugeHistogram,
    StateSet,
    Info,
}

impl MetricType {
    fn parse(s: &str) -> Option<MetricType> {
        Some(match s {
            "counter" => MetricType::Counter,
            "gauge" => MetricType::Gauge,
            "histogram" => MetricType::Histogram,
            "summary" => MetricType::Summary,
            "untyped" => MetricType::Untyped,
            "unknown" => MetricType::Unknown,
            "gaugehistogram" => MetricType::GaugeHistogram,
            "stateset" => MetricType::StateSet,
            "info" => MetricType::Info,
            _ => return None,
        })
    }

    /// Types that only OpenMetrics has; seeing one decides `Auto`.
    pub(crate) fn openmetrics_only(self) -> bool {
        matches!(
            self,
            MetricType::Unknown
                | MetricType::GaugeHistogram
                | MetricType::StateSet
                | MetricType::Info
        )
    }
}

/// What one line holds.
#[derive(Debug, PartialEq)]
pub(crate) enum Entry<'a> {
    /// Empty or only spaces and tabs.
    Blank,
    /// Any other `#` line, ignored.
    Comment,
    Help,
    Unit,
    Type {
        name: &'a str,
        ty: MetricType,
    },
    Eof,
    Sample(Sample<'a>),
}

#[derive(Debug, PartialEq)]
pub(crate) struct Sample<'a> {
    pub(crate) name: &'a str,
    /// Byte offset of the metric name.
    pub(crate) start: usize,
    /// `name{labels}` exactly as written: equal text is an equal series, so
    /// the reader decodes labels only when this changes.
    pub(crate) series: &'a str,
    /// Byte offset of the `{` that opens the label set, if any.
    pub(crate) brace: Option<usize>,
    pub(crate) value: f64,
    /// The timestamp's text and its byte offset; its unit is the dialect's.
    pub(crate) timestamp: Option<(&'a str, usize)>,
}

/// Why a line was rejected and at which byte. Small and `Copy`: the message
/// text is only built when the error is reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Fail {
    pub(crate) pos: usize,
    pub(crate) what: What,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum What {
    ExpectedMetricName,
    ExpectedAfterName,
    ExpectedLabelName,
    ExpectedEquals,
    ExpectedQuote,
    UnterminatedLabelValue,
    ExpectedCommaOrBrace,
    DuplicateLabel,
    ExpectedValue,
    BadValue,
    TrailingText,
    ExpectedMetaName,
    BadType,
    TrailingAfterType,
    InvalidUtf8,
    BadTimestampMillis,
    BadTimestampSeconds,
    TimestampRange,
    NoTimestamp,
    AfterEof,
    MissingEof,
    EofButReadAsPrometheus,
}

impl fmt::Display for What {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            What::ExpectedMetricName => {
                "expected a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*) or a '#' comment"
            }
            What::ExpectedAfterName => "expected '{' or a space after the metric name",
            What::ExpectedLabelName => "expected a label name ([a-zA-Z_][a-zA-Z0-9_]*) or '}'",
            What::ExpectedEquals => "expected '=' after the label name",
            What::ExpectedQuote => "expected '\"' to open the label value",
            What::UnterminatedLabelValue => "label value has no closing '\"'",
            What::ExpectedCommaOrBrace => "expected ',' or '}' after the label value",
            What::DuplicateLabel => "label name appears more than once in this series",
            What::ExpectedValue => "expected a sample value after the series",
            What::BadValue => "invalid sample value: expected a number, NaN, +Inf or -Inf",
            What::TrailingText => {
                "unexpected text after the timestamp: expected the end of the line \
                 or an exemplar (' # {...} value')"
            }
            What::ExpectedMetaName => "expected a metric name after HELP, TYPE or UNIT",
            What::BadType => {
                "unknown metric type: expected counter, gauge, histogram, summary, untyped, \
                 unknown, gaugehistogram, stateset or info"
            }
            What::TrailingAfterType => "unexpected text after the metric type",
            What::InvalidUtf8 => "line is not valid UTF-8",
            What::BadTimestampMillis => {
                "invalid timestamp: Prometheus text timestamps are integer milliseconds \
                 (is this OpenMetrics? then read it with the OpenMetrics dialect)"
            }
            What::BadTimestampSeconds => {
                "invalid timestamp: OpenMetrics timestamps are decimal seconds such as \
                 1700000000.123"
            }
            What::TimestampRange => "timestamp out of range: it does not fit in i64 milliseconds",
            What::NoTimestamp => "sample has no timestamp and no default timestamp was given",
            What::AfterEof => "data after '# EOF'; this line and the rest of the input are ignored",
            What::MissingEof => {
                "OpenMetrics input ended without '# EOF': it may be truncated \
                 (the samples before this point were read)"
            }
            What::EofButReadAsPrometheus => {
                "'# EOF' marks OpenMetrics text, but the start of this input looked like \
                 Prometheus text, so its timestamps were read as milliseconds; \
                 read it again with the OpenMetrics dialect"
            }
        })
    }
}

fn fail(pos: usize, what: What) -> Fail {
    Fail { pos, what }
}

fn is_ws(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn skip_ws(s: &[u8], mut i: usize) -> usize {
    while i < s.len() && is_ws(s[i]) {
        i += 1;
    }
    i
}

/// End of the token starting at `i`: the next space, tab or end of line.
fn token_end(s: &[u8], mut i: usize) -> usize {
    while i < s.len() && !is_ws(s[i]) {
        i += 1;
    }
    i
}

/// End of the `[a-zA-Z_:][a-zA-Z0-9_:]*` name at `i` (`i` when there is none).
fn metric_name_end(s: &[u8], i: usize) -> usize {
    match s.get(i) {
        Some(&b) if b.is_ascii_alphabetic() || b == b'_' || b == b':' => {}
        _ => return i,
    }
    let mut j = i + 1;
    while j < s.len() && (s[j].is_ascii_alphanumeric() || s[j] == b'_' || s[j] == b':') {
        j += 1;
    }
    j
}

/// End of the `[a-zA-Z_][a-zA-Z0-9_]*` name at `i` (`i` when there is none).
fn label_name_end(s: &[u8], i: usize) -> usize {
    match s.get(i) {
        Some(&b) if b.is_ascii_alphabetic() || b == b'_' => {}
        _ => return i,
    }
    let mut j = i + 1;
    while j < s.len() && (s[j].is_ascii_alphanumeric() || s[j] == b'_') {
        j += 1;
    }
    j
}

/// Parses one line (without its line break).
pub(crate) fn parse_line(line: &str) -> Result<Entry<'_>, Fail> {
    let s = line.as_bytes();
    let i = skip_ws(s, 0);
    match s.get(i) {
        None => Ok(Entry::Blank),
        Some(b'#') => parse_comment(line, i + 1),
        Some(_) => parse_sample(line, i).map(Entry::Sample),
    }
}

/// `i` is just after the `#`.
fn parse_comment(line: &str, i: usize) -> Result<Entry<'_>, Fail> {
    let s = line.as_bytes();
    // `#` must be followed by whitespace to start HELP, TYPE, UNIT or EOF.
    if !s.get(i).is_some_and(|&b| is_ws(b)) {
        return Ok(Entry::Comment);
    }
    let w = skip_ws(s, i);
    let w_end = token_end(s, w);
    let word = &line[w..w_end];
    if word == "EOF" {
        return Ok(if skip_ws(s, w_end) == s.len() {
            Entry::Eof
        } else {
            Entry::Comment
        });
    }
    if !matches!(word, "HELP" | "TYPE" | "UNIT") || w_end == s.len() {
        return Ok(Entry::Comment);
    }
    let n = skip_ws(s, w_end);
    let n_end = metric_name_end(s, n);
    if n_end == n || s.get(n_end).is_some_and(|&b| !is_ws(b)) {
        return Err(fail(n, What::ExpectedMetaName));
    }
    match word {
        "HELP" => Ok(Entry::Help),
        "UNIT" => Ok(Entry::Unit),
        _ => {
            let t = skip_ws(s, n_end);
            let t_end = token_end(s, t);
            let ty = MetricType::parse(&line[t..t_end]).ok_or(fail(t, What::BadType))?;
            let rest = skip_ws(s, t_end);
            if rest != s.len() {
                return Err(fail(rest, What::TrailingAfterType));
            }
            Ok(Entry::Type {
                name: &line[n..n_end],
                ty,
            })
        }
    }
}

fn parse_sample(line: &str, start: usize) -> Result<Sample<'_>, Fail> {
    let s = line.as_bytes();
    let name_end = metric_name_end(s, start);
    if name_end == start {
        return Err(fail(start, What::ExpectedMetricName));
    }
    let p = skip_ws(s, name_end);
    let (brace, series_end) = if s.get(p) == Some(&b'{') {
        (Some(p), scan_labels(line, p + 1, None)?)
    } else {
        (None, name_end)
    };
    let v = skip_ws(s, series_end);
    if v == series_end && brace.is_none() && v < s.len() {
        return Err(fail(v, What::ExpectedAfterName));
    }
    if v == s.len() {
        return Err(fail(v, What::ExpectedValue));
    }
    let v_end = token_end(s, v);
    let value =
        crate::formats::number::parse_text_value(&line[v..v_end]).ok_or(fail(v, What::BadValue))?;
    let t = skip_ws(s, v_end);
    let mut timestamp = None;
    // A '#' after the value or timestamp starts an exemplar, which is ignored.
    if t < s.len() && s[t] != b'#' {
        let t_end = token_end(s, t);
        timestamp = Some((&line[t..t_end], t));
        let rest = skip_ws(s, t_end);
        if rest < s.len() && !(s[rest] == b'#' && rest > t_end) {
            return Err(fail(rest, What::TrailingText));
        }
    }
    Ok(Sample {
        name: &line[start..name_end],
        start,
        series: &line[start..series_end],
        brace,
        value,
        timestamp,
    })
}

/// Where [`scan_labels`] decodes labels to: the labels and the byte offset
/// of each name.
struct Collect<'x> {
    labels: &'x mut Vec<Label>,
    at: &'x mut Vec<usize>,
}

/// Scans a label set from `p` (just after `{`) and returns the offset just
/// after its `}`. With `out`, also decodes the labels into it.
fn scan_labels(line: &str, mut p: usize, mut out: Option<Collect<'_>>) -> Result<usize, Fail> {
    let s = line.as_bytes();
    loop {
        p = skip_ws(s, p);
        if s.get(p) == Some(&b'}') {
            return Ok(p + 1);
        }
        let name_end = label_name_end(s, p);
        if name_end == p {
            return Err(fail(p, What::ExpectedLabelName));
        }
        let name = &line[p..name_end];
        let name_at = p;
        p = skip_ws(s, name_end);
        if s.get(p) != Some(&b'=') {
            return Err(fail(p, What::ExpectedEquals));
        }
        p = skip_ws(s, p + 1);
        if s.get(p) != Some(&b'"') {
            return Err(fail(p, What::ExpectedQuote));
        }
        let open = p;
        let mut q = p + 1;
        let mut escaped = false;
        loop {
            match s.get(q) {
                None => return Err(fail(open, What::UnterminatedLabelValue)),
                Some(b'"') => break,
                Some(b'\\') => {
                    escaped = true;
                    q += 2;
                }
                Some(_) => q += 1,
            }
        }
        if let Some(out) = out.as_mut() {
            let raw = &line[open + 1..q];
            let value = if escaped {
                unescape(raw)
            } else {
                raw.to_owned()
            };
            out.labels.push(Label::new(name, value));
            out.at.push(name_at);
        }
        p = skip_ws(s, q + 1);
        match s.get(p) {
            Some(b',') => p += 1,
            Some(b'}') => return Ok(p + 1),
            _ => return Err(fail(p, What::ExpectedCommaOrBrace)),
        }
    }
}

/// Undoes `\\`, `\"` and `\n`; any other backslash stays as written, as
/// both Prometheus and OpenMetrics read it.
fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('\\') => out.push('\\'),
            Some('"') => out.push('"'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// Decodes the labels of a sample that [`parse_line`] accepted, with the
/// metric name as `__name__`, into `out` (unsorted); `at` is scratch space.
pub(crate) fn decode_labels(
    line: &str,
    sample: &Sample<'_>,
    out: &mut Vec<Label>,
    at: &mut Vec<usize>,
) -> Result<(), Fail> {
    at.clear();
    out.push(Label::new(METRIC_NAME, sample.name));
    at.push(sample.start);
    if let Some(brace) = sample.brace {
        scan_labels(line, brace + 1, Some(Collect { labels: out, at }))?;
    }
    match first_duplicate(out) {
        Some(j) => Err(fail(at.get(j).copied().unwrap_or(0), What::DuplicateLabel)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn sample(line: &str) -> Sample<'_> {
        match parse_line(line) {
            Ok(Entry::Sample(s)) => s,
            other => panic!("{line:?} parsed as {other:?}"),
        }
    }

    #[track_caller]
    fn labels(line: &str) -> Vec<(String, String)> {
        let s = sample(line);
        let mut out = Vec::new();
        assert_eq!(decode_labels(line, &s, &mut out, &mut Vec::new()), Ok(()));
        out.into_iter().map(|l| (l.name, l.value)).collect()
    }

    #[track_caller]
    fn fails(line: &str, pos: usize, what: What) {
        assert_eq!(parse_line(line), Err(Fail { pos, what }), "{line:?}");
    }

    #[test]
    fn comments_and_metadata() {
        assert_eq!(parse_line(""), Ok(Entry::Blank));
        assert_eq!(parse_line(" \t "), Ok(Entry::Blank));
        assert_eq!(parse_line("# EOF"), Ok(Entry::Eof));
        assert_eq!(parse_line("#\tEOF  "), Ok(Entry::Eof));
        assert_eq!(parse_line("# EOF now"), Ok(Entry::Comment));
        assert_eq!(parse_line("#EOF"), Ok(Entry::Comment));
        assert_eq!(parse_line("# just words"), Ok(Entry::Comment));
        assert_eq!(parse_line("# TYPE"), Ok(Entry::Comment));
        assert_eq!(parse_line("#"), Ok(Entry::Comment));
        assert_eq!(
            parse_line("# HELP up Whether \\n it is up."),
            Ok(Entry::Help)
        );
        assert_eq!(parse_line("# UNIT req_seconds seconds"), Ok(Entry::Unit));
        assert_eq!(
            parse_line("# TYPE http_requests counter"),
            Ok(Entry::Type {
                name: "http_requests",
                ty: MetricType::Counter
            })
        );
        assert_eq!(
            parse_line("#  TYPE\tx:y  gaugehistogram "),
            Ok(Entry::Type {
                name: "x:y",
                ty: MetricType::GaugeHistogram
            })
        );
        fails("# TYPE foo countr", 11, What::BadType);
        fails("# TYPE foo", 10, What::BadType);
        fails("# TYPE foo gauge x", 17, What::TrailingAfterType);
        fails("# TYPE 1foo gauge", 7, What::ExpectedMetaName);
        fails("# HELP foo-bar x", 7, What::ExpectedMetaName);
    }

    #[test]
    fn samples() {
        let s = sample("up 1");
        assert_eq!(
            (s.name, s.series, s.value, s.timestamp),
            ("up", "up", 1.0, None)
        );
        let s = sample(r#"  a:b_total{x="1",y="2",} -2.5e3  1700000000.5 "#);
        assert_eq!(s.series, r#"a:b_total{x="1",y="2",}"#);
        assert_eq!(s.value, -2500.0);
        assert_eq!(s.timestamp, Some(("1700000000.5", 34)));
        let s = sample("up{} +Inf\t17");
        assert_eq!((s.value, s.timestamp), (f64::INFINITY, Some(("17", 10))));
        assert!(sample("up NaN").value.is_nan());
        assert_eq!(sample("up -Inf").value, f64::NEG_INFINITY);
        assert_eq!(sample("up Inf").value, f64::INFINITY);
        // Whitespace between the name and the labels.
        assert_eq!(sample(r#"up {a="b"} 1"#).series, r#"up {a="b"}"#);
        // Exemplars are ignored, with or without a timestamp before them.
        let s = sample(r#"foo_bucket{le="1"} 3 1.5 # {trace_id="a b"} 0.5 1.2"#);
        assert_eq!(s.timestamp, Some(("1.5", 21)));
        let s = sample(r#"foo_total 3 # {} 1"#);
        assert_eq!(s.timestamp, None);
    }

    #[test]
    fn label_escapes() {
        assert_eq!(
            labels(r#"m{a="x\\y",b="q\"q",c="l\nl",d="\t\z"} 1"#),
            vec![
                ("__name__".to_string(), "m".to_string()),
                ("a".into(), "x\\y".into()),
                ("b".into(), "q\"q".into()),
                ("c".into(), "l\nl".into()),
                ("d".into(), "\\t\\z".into()),
            ]
        );
        assert_eq!(labels(r#"m{ a = "}{,=#" } 1"#)[1].1, "}{,=#");
        assert_eq!(labels(r#"m{a="é😀"} 1"#)[1].1, "é😀");
    }

    #[test]
    fn sample_errors_point_at_the_problem() {
        fails("1up 1", 0, What::ExpectedMetricName);
        fails("up-1 1", 2, What::ExpectedAfterName);
        fails("up", 2, What::ExpectedValue);
        fails("up{}", 4, What::ExpectedValue);
        fails("up{a=\"b\"}   ", 12, What::ExpectedValue);
        fails("up x", 3, What::BadValue);
        fails("up 1,5", 3, What::BadValue);
        fails("up{1=\"b\"} 1", 3, What::ExpectedLabelName);
        fails("up{a \"b\"} 1", 5, What::ExpectedEquals);
        fails("up{a=b} 1", 5, What::ExpectedQuote);
        fails("up{a=\"b} 1", 5, What::UnterminatedLabelValue);
        fails("up{a=\"b\\\"} 1", 5, What::UnterminatedLabelValue);
        fails("up{a=\"b\" c=\"d\"} 1", 9, What::ExpectedCommaOrBrace);
        fails("up{a=\"b\"", 8, What::ExpectedCommaOrBrace);
        fails("up{,} 1", 3, What::ExpectedLabelName);
        fails("up 1 2 3", 7, What::TrailingText);
    }

    #[test]
    fn duplicate_labels_are_found_when_decoding() {
        let line = r#"up{a="1",__name__="x"} 1"#;
        let s = sample(line);
        let mut out = Vec::new();
        assert_eq!(
            decode_labels(line, &s, &mut out, &mut Vec::new()),
            Err(Fail {
                pos: 9,
                what: What::DuplicateLabel
            })
        );
        let line = r#"up{a="1",a="2"} 1"#;
        let s = sample(line);
        out.clear();
        assert_eq!(
            decode_labels(line, &s, &mut out, &mut Vec::new()).map_err(|f| f.pos),
            Err(9)
        );
    }
}
