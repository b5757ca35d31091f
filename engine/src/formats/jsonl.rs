//! VictoriaMetrics-style JSON lines, the lossless export format: one object
//! per line,
//!
//! ```text
//! {"metric":{"__name__":"up","job":"a"},"values":[1,"NaN"],"timestamps":[1700000000000,1700000015000],"kind":"gauge"}
//! ```
//!
//! Finite values are JSON numbers (shortest round-trip text, parsed exactly);
//! non-finite values are strings that keep every bit: `"NaN"` (Prometheus's
//! NaN, 0x7ff8000000000001), `"StaleNaN"` (0x7ff0000000000002), `"+Inf"`,
//! `"-Inf"`, and `"NaN:0x7ff8000000000000"` for any other NaN. `"kind"` is
//! our extension, written only when the kind is known. The full
//! specification, including what else is accepted, is `docs/format/jsonl.md`.

mod json;
mod writer;

#[cfg(test)]
mod tests;

use std::fmt;
use std::io::BufRead;
use std::path::PathBuf;

use self::json::{fail, Cursor, Fail};
use super::batch::BatchBuilder;
use super::lines::{Line, LineReader};
use super::{first_duplicate, Chunk, ParseError, ReadOptions, ReadStats, PROMETHEUS_NAN_BITS};
use crate::error::{IoContext, Result};
use crate::types::{Label, Labels, SeriesKind, TimestampMs, STALE_NAN_BITS};

pub use writer::JsonlWriter;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum What {
    ExpectedObject,
    ExpectedKey,
    ExpectedColon,
    ExpectedCommaOrObjectEnd,
    ExpectedCommaOrArrayEnd,
    ExpectedArray,
    ExpectedString,
    ExpectedValue,
    UnterminatedString,
    ControlCharacter,
    BadEscape,
    BadUnicodeEscape,
    LoneSurrogate,
    BadNumber,
    TooDeep,
    TrailingData,
    InvalidUtf8,
    DuplicateKey,
    DuplicateLabel,
    MissingMetric,
    MissingValues,
    MissingTimestamps,
    LabelValueNotString,
    BadValue,
    UnknownValueString,
    NotNanBits,
    BadTimestamp,
    TimestampRange,
    KindNotString,
    UnknownKind,
    LengthMismatch { values: usize, timestamps: usize },
}

impl fmt::Display for What {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match *self {
            What::ExpectedObject => "expected '{' to start a JSON object",
            What::ExpectedKey => "expected a \"key\" string",
            What::ExpectedColon => "expected ':' after the key",
            What::ExpectedCommaOrObjectEnd => "expected ',' or '}'",
            What::ExpectedCommaOrArrayEnd => "expected ',' or ']'",
            What::ExpectedArray => "expected '[' to start an array",
            What::ExpectedString => "expected a string",
            What::ExpectedValue => "expected a JSON value",
            What::UnterminatedString => "string has no closing '\"'",
            What::ControlCharacter => "control character in a string; it must be escaped",
            What::BadEscape => r#"invalid escape: expected \" \\ \/ \b \f \n \r \t or \uXXXX"#,
            What::BadUnicodeEscape => r"invalid \u escape: expected four hex digits",
            What::LoneSurrogate => r"invalid \u escape: unpaired UTF-16 surrogate",
            What::BadNumber => "invalid JSON number",
            What::TooDeep => "JSON nested too deeply",
            What::TrailingData => "unexpected text after the JSON object",
            What::InvalidUtf8 => "line is not valid UTF-8",
            What::DuplicateKey => "key appears more than once in the object",
            What::DuplicateLabel => "label name appears more than once in \"metric\"",
            What::MissingMetric => "object has no \"metric\"",
            What::MissingValues => "object has no \"values\"",
            What::MissingTimestamps => "object has no \"timestamps\"",
            What::LabelValueNotString => "label values in \"metric\" must be strings",
            What::BadValue => {
                "invalid value: expected a number, null, \"NaN\", \"StaleNaN\", \"+Inf\", \
                 \"-Inf\" or \"NaN:0x<16 hex digits>\""
            }
            What::UnknownValueString => {
                "unknown value string: expected \"NaN\", \"StaleNaN\", \"+Inf\", \"-Inf\" \
                 or \"NaN:0x<16 hex digits>\""
            }
            What::NotNanBits => "\"NaN:0x...\" must hold the 16 hex digits of a NaN",
            What::BadTimestamp => "invalid timestamp: expected integer milliseconds",
            What::TimestampRange => "timestamp out of range: it does not fit in i64",
            What::KindNotString => "\"kind\" must be a string",
            What::UnknownKind => {
                "unknown \"kind\": expected counter, gauge, histogram_bucket, histogram_count, \
                 histogram_sum, delta_counter, summary_quantile or unknown"
            }
            What::LengthMismatch { values, timestamps } => {
                return write!(
                    f,
                    "{values} values but {timestamps} timestamps; the arrays must be equally long"
                )
            }
        })
    }
}

/// One parsed line.
#[derive(Default)]
struct Parsed {
    labels: Vec<Label>,
    values: Vec<f64>,
    timestamps: Vec<TimestampMs>,
    kind: SeriesKind,
}

/// Parses one non-blank line into `out` (whose vectors are empty).
fn parse_line(line: &str, out: &mut Parsed) -> Result<(), Fail> {
    let mut c = Cursor::new(line);
    c.ws();
    c.expect(b'{', What::ExpectedObject)?;
    c.ws();
    let (mut metric, mut values, mut timestamps, mut kind) = (false, false, None, false);
    if !c.eat(b'}') {
        loop {
            let key_at = c.pos;
            if c.peek() != Some(b'"') {
                return fail(c.pos, What::ExpectedKey);
            }
            let key = c.string()?;
            c.ws();
            c.expect(b':', What::ExpectedColon)?;
            c.ws();
            let seen = match key.as_ref() {
                "metric" => std::mem::replace(&mut metric, true),
                "values" => std::mem::replace(&mut values, true),
                "timestamps" => timestamps.replace(c.pos).is_some(),
                "kind" => std::mem::replace(&mut kind, true),
                _ => false,
            };
            if seen {
                return fail(key_at, What::DuplicateKey);
            }
            match key.as_ref() {
                "metric" => parse_metric(&mut c, &mut out.labels)?,
                "values" => parse_values(&mut c, &mut out.values)?,
                "timestamps" => parse_timestamps(&mut c, &mut out.timestamps)?,
                "kind" => out.kind = parse_kind(&mut c)?,
                _ => c.skip_value(0)?,
            }
            if !c.next_element(b'}', What::ExpectedCommaOrObjectEnd)? {
                break;
            }
        }
    }
    c.ws();
    if !c.at_end() {
        return fail(c.pos, What::TrailingData);
    }
    if !metric {
        return fail(0, What::MissingMetric);
    }
    if !values {
        return fail(0, What::MissingValues);
    }
    let Some(timestamps_at) = timestamps else {
        return fail(0, What::MissingTimestamps);
    };
    if out.values.len() != out.timestamps.len() {
        let what = What::LengthMismatch {
            values: out.values.len(),
            timestamps: out.timestamps.len(),
        };
        return fail(timestamps_at, what);
    }
    Ok(())
}

fn parse_metric(c: &mut Cursor<'_>, labels: &mut Vec<Label>) -> Result<(), Fail> {
    let open = c.pos;
    c.expect(b'{', What::ExpectedObject)?;
    c.ws();
    if c.eat(b'}') {
        return Ok(());
    }
    loop {
        if c.peek() != Some(b'"') {
            return fail(c.pos, What::ExpectedKey);
        }
        let name = c.string()?;
        c.ws();
        c.expect(b':', What::ExpectedColon)?;
        c.ws();
        if c.peek() != Some(b'"') {
            return fail(c.pos, What::LabelValueNotString);
        }
        let value = c.string()?;
        labels.push(Label::new(name, value));
        if !c.next_element(b'}', What::ExpectedCommaOrObjectEnd)? {
            break;
        }
    }
    if first_duplicate(labels).is_some() {
        return fail(open, What::DuplicateLabel);
    }
    Ok(())
}

fn parse_values(c: &mut Cursor<'_>, values: &mut Vec<f64>) -> Result<(), Fail> {
    c.expect(b'[', What::ExpectedArray)?;
    c.ws();
    if c.eat(b']') {
        return Ok(());
    }
    loop {
        let at = c.pos;
        let v = match c.peek() {
            Some(b'"') => {
                let s = c.string()?;
                special_value(&s).map_err(|what| Fail { pos: at, what })?
            }
            Some(b'n') => {
                c.literal("null")?;
                f64::from_bits(PROMETHEUS_NAN_BITS)
            }
            Some(b'-' | b'0'..=b'9') => {
                let (text, _) = c.number()?;
                // JSON number text is valid Rust float syntax; the parse
                // rounds correctly, so printed shortest digits read back to
                // the same bits.
                text.parse().map_err(|_| Fail {
                    pos: at,
                    what: What::BadNumber,
                })?
            }
            _ => return fail(at, What::BadValue),
        };
        values.push(v);
        if !c.next_element(b']', What::ExpectedCommaOrArrayEnd)? {
            return Ok(());
        }
    }
}

/// The value strings: ours, and VictoriaMetrics's (`"NaN"`, `"nan"`,
/// `"null"`, `"Inf"`, `"-Infinity"` ...).
fn special_value(s: &str) -> Result<f64, What> {
    if let Some(hex) = s.strip_prefix("NaN:0x") {
        if hex.len() != 16 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(What::NotNanBits);
        }
        let bits = u64::from_str_radix(hex, 16).map_err(|_| What::NotNanBits)?;
        let v = f64::from_bits(bits);
        return if v.is_nan() {
            Ok(v)
        } else {
            Err(What::NotNanBits)
        };
    }
    match s {
        "NaN" | "nan" | "null" | "Null" => return Ok(f64::from_bits(PROMETHEUS_NAN_BITS)),
        "StaleNaN" => return Ok(f64::from_bits(STALE_NAN_BITS)),
        _ => {}
    }
    let (negative, name) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    match name {
        "Inf" | "inf" | "Infinity" | "infinity" if negative => Ok(f64::NEG_INFINITY),
        "Inf" | "inf" | "Infinity" | "infinity" => Ok(f64::INFINITY),
        _ => Err(What::UnknownValueString),
    }
}

fn parse_timestamps(c: &mut Cursor<'_>, out: &mut Vec<TimestampMs>) -> Result<(), Fail> {
    c.expect(b'[', What::ExpectedArray)?;
    c.ws();
    if c.eat(b']') {
        return Ok(());
    }
    loop {
        let at = c.pos;
        if !matches!(c.peek(), Some(b'-' | b'0'..=b'9')) {
            return fail(at, What::BadTimestamp);
        }
        let (text, integer) = c.number()?;
        if !integer {
            return fail(at, What::BadTimestamp);
        }
        let t = text.parse().map_err(|_| Fail {
            pos: at,
            what: What::TimestampRange,
        })?;
        out.push(t);
        if !c.next_element(b']', What::ExpectedCommaOrArrayEnd)? {
            return Ok(());
        }
    }
}

fn parse_kind(c: &mut Cursor<'_>) -> Result<SeriesKind, Fail> {
    let at = c.pos;
    if c.peek() != Some(b'"') {
        return fail(at, What::KindNotString);
    }
    let s = c.string()?;
    SeriesKind::parse(&s).ok_or(Fail {
        pos: at,
        what: What::UnknownKind,
    })
}

/// Streams samples out of JSON lines.
///
/// Call [`JsonlReader::next_chunk`] (or iterate) until it returns `None`.
/// Consecutive lines of the same series (same labels and kind) share one
/// `SeriesBatch`; a line with more samples than fit in a chunk is split over
/// several. Blank lines are skipped. Only I/O errors end the reading early.
pub struct JsonlReader<R> {
    lines: LineReader<R>,
    state: State,
}

struct State {
    options: ReadOptions,
    source: PathBuf,
    builder: BatchBuilder,
    /// A parsed line not yet (completely) in a batch, from sample `next` on.
    pending: Option<(Labels, SeriesKind, usize)>,
    parsed: Parsed,
    errors: Vec<ParseError>,
    stats: ReadStats,
    done: bool,
}

impl<R: BufRead> JsonlReader<R> {
    pub fn new(input: R, options: ReadOptions) -> Self {
        let options = options.normalized();
        JsonlReader {
            lines: LineReader::new(input, options.max_line_bytes),
            state: State {
                builder: BatchBuilder::new(options.batch_samples),
                options,
                source: PathBuf::from("-"),
                pending: None,
                parsed: Parsed::default(),
                errors: Vec::new(),
                stats: ReadStats::default(),
                done: false,
            },
        }
    }

    /// Names the input in I/O errors (default `-`, standard input).
    pub fn with_source(mut self, path: impl Into<PathBuf>) -> Self {
        self.state.source = path.into();
        self
    }

    pub fn stats(&self) -> &ReadStats {
        &self.state.stats
    }

    /// The next chunk, or `None` when the input is exhausted and everything
    /// was handed out.
    pub fn next_chunk(&mut self) -> Result<Option<Chunk>> {
        let st = &mut self.state;
        loop {
            st.drain_pending();
            if st.builder.room() == 0
                || st.errors.len() >= st.options.max_errors_per_chunk
                || st.done
            {
                break;
            }
            let line_no = self.lines.line_no() + 1;
            match self.lines.next_line().ctx("read", &st.source)? {
                None => st.done = true,
                Some(line) => st.handle(line_no, line),
            }
        }
        let chunk = Chunk {
            batch: st.builder.take(),
            errors: std::mem::take(&mut st.errors),
        };
        if chunk.batch.series.is_empty() && chunk.errors.is_empty() {
            return Ok(None);
        }
        Ok(Some(chunk))
    }
}

impl<R: BufRead> Iterator for JsonlReader<R> {
    type Item = Result<Chunk>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_chunk().transpose()
    }
}

impl State {
    fn reject(&mut self, line_no: u64, line: &[u8], pos: usize, what: What) {
        self.stats.rejected_lines += 1;
        self.errors
            .push(ParseError::new(line_no, line, pos, what.to_string()));
    }

    fn handle(&mut self, line_no: u64, line: Line<'_>) {
        self.stats.lines += 1;
        let bytes = match line {
            Line::Text(bytes) => bytes,
            Line::TooLong { prefix, len } => {
                self.stats.rejected_lines += 1;
                let limit = self.options.max_line_bytes;
                self.errors
                    .push(ParseError::too_long(line_no, prefix, len, limit));
                return;
            }
        };
        let text = match std::str::from_utf8(bytes) {
            Ok(t) => t,
            Err(e) => return self.reject(line_no, bytes, e.valid_up_to(), What::InvalidUtf8),
        };
        if text.trim_ascii().is_empty() {
            return;
        }
        let p = &mut self.parsed;
        p.labels.clear();
        p.values.clear();
        p.timestamps.clear();
        p.kind = SeriesKind::Unknown;
        if let Err(f) = parse_line(text, p) {
            return self.reject(line_no, bytes, f.pos, f.what);
        }
        let labels = Labels::new(std::mem::take(&mut p.labels));
        self.pending = Some((labels, p.kind, 0));
    }

    /// Moves as much of the pending line into the batch as fits. Only
    /// called with the pending line's samples in `parsed`; a new line is read
    /// only once nothing is pending.
    fn drain_pending(&mut self) {
        let Some((labels, kind, next)) = self.pending.take() else {
            return;
        };
        let total = self.parsed.values.len();
        let n = self.builder.room().min(total.saturating_sub(next));
        if n == 0 {
            if next < total {
                self.pending = Some((labels, kind, next));
            }
            return;
        }
        let end = next + n;
        let same = self.builder.open_series() == Some((&labels, kind));
        let keep = match (same, end < total) {
            (true, rest) => rest.then_some(labels),
            (false, true) => {
                self.builder.start(labels.clone(), kind);
                Some(labels)
            }
            (false, false) => {
                self.builder.start(labels, kind);
                None
            }
        };
        let p = &self.parsed;
        self.builder
            .extend(&p.timestamps[next..end], &p.values[next..end]);
        self.stats.samples += n as u64;
        self.pending = keep.map(|labels| (labels, kind, end));
    }
}
