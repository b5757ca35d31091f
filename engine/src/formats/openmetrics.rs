//! Prometheus text exposition (0.0.4) and OpenMetrics 1.0 text.
//!
//! [`OpenMetricsReader`] reads both dialects; [`OpenMetricsWriter`] writes
//! OpenMetrics that `promtool tsdb create-blocks-from openmetrics` (Prometheus
//! 2.42) backfills. The dialects differ in what this reader cares about:
//!
//! | | Prometheus 0.0.4 | OpenMetrics 1.0 |
//! |---|---|---|
//! | timestamp | integer milliseconds | decimal seconds (`1700000000.123`) |
//! | end of input | end of file | a `# EOF` line, nothing after it |
//!
//! Everything else (names, label escaping, values, `# HELP`/`# TYPE`/`# UNIT`,
//! exemplars) is read by one lenient grammar. `docs/format/openmetrics.md`
//! is the full specification, including how `# TYPE` maps to [`SeriesKind`].

mod line;
mod writer;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::io::{BufRead, Chain, Cursor, Read};
use std::path::PathBuf;

use self::line::{decode_labels, parse_line, Entry, MetricType, Sample, What};
use super::batch::BatchBuilder;
use super::lines::{Line, LineReader};
use super::number::{parse_millis, parse_seconds, TimestampError};
use super::{Chunk, ParseError, ReadOptions, ReadStats};
use crate::error::{IoContext, Result};
use crate::types::{Label, Labels, SeriesKind, TimestampMs};

pub use writer::{family_of, OpenMetricsWriter, WriteStats};

/// Which text dialect to read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TextDialect {
    /// Prometheus text exposition format 0.0.4: timestamps are integer
    /// milliseconds; `# EOF` is an ordinary comment.
    Prometheus,
    /// OpenMetrics 1.0 text: timestamps are decimal seconds; the input ends
    /// with `# EOF`.
    OpenMetrics,
    /// Decide from the first [`TextOptions::sniff_bytes`] of the input:
    /// OpenMetrics if they hold a `# EOF` line, a `# UNIT` line, a `# TYPE`
    /// that only OpenMetrics has (`unknown`, `gaugehistogram`, `stateset`,
    /// `info`) or a sample timestamp written with a `.` or an exponent;
    /// Prometheus otherwise.
    #[default]
    Auto,
}

/// Options of [`OpenMetricsReader`]. Each default is documented with its
/// reason.
#[derive(Clone, Debug)]
pub struct TextOptions {
    pub read: ReadOptions,
    /// Default [`TextDialect::Auto`]: files usually say what they are.
    pub dialect: TextDialect,
    /// The timestamp of samples written without one (such as a scrape saved
    /// with curl). Default `None`: such samples are rejected, because any
    /// default time (say, now) would put them in the wrong place silently.
    pub default_timestamp: Option<TimestampMs>,
    /// How much of the input `Auto` looks at. Default 1 MiB: thousands of
    /// sample lines, held in memory only until the dialect is decided.
    pub sniff_bytes: usize,
}

impl Default for TextOptions {
    fn default() -> Self {
        TextOptions {
            read: ReadOptions::default(),
            dialect: TextDialect::Auto,
            default_timestamp: None,
            sniff_bytes: 1 << 20,
        }
    }
}

/// Streams samples out of Prometheus or OpenMetrics text.
///
/// Call [`OpenMetricsReader::next_chunk`] (or iterate) until it returns
/// `None`; each chunk holds up to [`ReadOptions::batch_samples`] samples and
/// the errors of lines rejected since the previous chunk. Within a chunk the
/// samples of one series (same text, same kind) share one `SeriesBatch`, in
/// input order. Only I/O errors end the reading early.
pub struct OpenMetricsReader<R> {
    lines: LineReader<Chain<Cursor<Vec<u8>>, R>>,
    state: State,
}

/// Everything but the line source, so that a borrowed line can be handled
/// while the reader's other fields are updated.
struct State {
    options: TextOptions,
    source: PathBuf,
    /// `None` until `Auto` has looked at the input.
    dialect: Option<TextDialect>,
    /// `Auto` chose Prometheus (so a later `# EOF` means it guessed wrong).
    guessed: bool,
    family: Option<Family>,
    eof_line: Option<u64>,
    after_eof_reported: bool,
    builder: BatchBuilder,
    /// The series text and kind of the last sample; its index in the batch
    /// (`None` once the batch was handed out, when `carry` keeps its labels
    /// so that a series running across chunks is decoded once).
    last_series: String,
    last_kind: Option<SeriesKind>,
    last_index: Option<usize>,
    carry: Option<Labels>,
    /// Series text → (kind, index) of every series in the batch, so that
    /// interleaved series (a saved scrape holds every series once per
    /// timestamp) still share one `SeriesBatch` per chunk.
    index: HashMap<String, Vec<(SeriesKind, usize)>>,
    scratch: Vec<Label>,
    scratch_at: Vec<usize>,
    errors: Vec<ParseError>,
    stats: ReadStats,
    done: bool,
}

struct Family {
    name: String,
    ty: MetricType,
}

enum Class {
    Kind(SeriesKind),
    SkipCreated,
}

impl<R: BufRead> OpenMetricsReader<R> {
    pub fn new(input: R, options: TextOptions) -> Self {
        let read = options.read.clone().normalized();
        let options = TextOptions { read, ..options };
        let dialect = match options.dialect {
            TextDialect::Auto => None,
            d => Some(d),
        };
        OpenMetricsReader {
            lines: LineReader::new(
                Cursor::new(Vec::new()).chain(input),
                options.read.max_line_bytes,
            ),
            state: State {
                builder: BatchBuilder::new(options.read.batch_samples),
                options,
                source: PathBuf::from("-"),
                dialect,
                guessed: false,
                family: None,
                eof_line: None,
                after_eof_reported: false,
                last_series: String::new(),
                last_kind: None,
                last_index: None,
                carry: None,
                index: HashMap::new(),
                scratch: Vec::new(),
                scratch_at: Vec::new(),
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

    /// The dialect being read; `None` before `Auto` has looked at the input.
    pub fn dialect(&self) -> Option<TextDialect> {
        self.state.dialect
    }

    pub fn stats(&self) -> &ReadStats {
        &self.state.stats
    }

    /// The next chunk, or `None` when the input is exhausted and everything
    /// was handed out.
    pub fn next_chunk(&mut self) -> Result<Option<Chunk>> {
        if self.state.done {
            return Ok(None);
        }
        if self.state.dialect.is_none() {
            self.sniff()?;
        }
        let st = &mut self.state;
        while st.builder.room() > 0 && st.errors.len() < st.options.read.max_errors_per_chunk {
            let line_no = self.lines.line_no() + 1;
            match self.lines.next_line().ctx("read", &st.source)? {
                None => {
                    st.end_of_input(line_no - 1);
                    break;
                }
                Some(line) => st.handle(line_no, line),
            }
        }
        st.carry = st
            .last_index
            .take()
            .and_then(|i| st.builder.labels_at(i).cloned());
        st.index.clear();
        let chunk = Chunk {
            batch: st.builder.take(),
            errors: std::mem::take(&mut st.errors),
        };
        if chunk.batch.series.is_empty() && chunk.errors.is_empty() {
            return Ok(None);
        }
        Ok(Some(chunk))
    }

    /// Decides `Auto` from a prefix of the input, which is then read again.
    fn sniff(&mut self) -> Result<()> {
        let st = &mut self.state;
        let (cursor, rest) = self.lines.get_mut().get_mut();
        let mut prefix = Vec::new();
        let want = st.options.sniff_bytes;
        rest.by_ref()
            .take(want as u64)
            .read_to_end(&mut prefix)
            .ctx("read", &st.source)?;
        let whole = prefix.len() < want;
        let dialect = sniff(&prefix, whole);
        st.guessed = dialect == TextDialect::Prometheus;
        st.dialect = Some(dialect);
        // The chain has not been read yet, so it starts with this prefix.
        *cursor = Cursor::new(prefix);
        Ok(())
    }
}

impl<R: BufRead> Iterator for OpenMetricsReader<R> {
    type Item = Result<Chunk>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_chunk().transpose()
    }
}

/// The `Auto` rule on the complete lines of `prefix` (all of it when `whole`).
fn sniff(prefix: &[u8], whole: bool) -> TextDialect {
    let mut pieces: Vec<&[u8]> = prefix.split(|&b| b == b'\n').collect();
    if !whole {
        // The last piece may be a cut-off line.
        pieces.pop();
    }
    for piece in pieces {
        let piece = piece.strip_suffix(b"\r").unwrap_or(piece);
        let Ok(text) = std::str::from_utf8(piece) else {
            continue;
        };
        let om = match parse_line(text) {
            Ok(Entry::Eof | Entry::Unit) => true,
            Ok(Entry::Type { ty, .. }) => ty.openmetrics_only(),
            Ok(Entry::Sample(Sample {
                timestamp: Some((t, _)),
                ..
            })) => t.contains(['.', 'e', 'E']),
            _ => false,
        };
        if om {
            return TextDialect::OpenMetrics;
        }
    }
    TextDialect::Prometheus
}

impl State {
    fn reject(&mut self, line_no: u64, line: &[u8], pos: usize, what: What) {
        self.stats.rejected_lines += 1;
        self.errors
            .push(ParseError::new(line_no, line, pos, what.to_string()));
    }

    fn is_openmetrics(&self) -> bool {
        self.dialect == Some(TextDialect::OpenMetrics)
    }

    fn end_of_input(&mut self, last_line: u64) {
        self.done = true;
        if self.is_openmetrics() && self.eof_line.is_none() {
            self.reject(last_line + 1, b"", 0, What::MissingEof);
        }
    }

    fn handle(&mut self, line_no: u64, line: Line<'_>) {
        self.stats.lines += 1;
        let bytes = match line {
            Line::Text(bytes) => bytes,
            Line::TooLong { prefix, len } => {
                self.stats.rejected_lines += 1;
                let limit = self.options.read.max_line_bytes;
                self.errors
                    .push(ParseError::too_long(line_no, prefix, len, limit));
                return;
            }
        };
        let text = match std::str::from_utf8(bytes) {
            Ok(t) => t,
            Err(e) => return self.reject(line_no, bytes, e.valid_up_to(), What::InvalidUtf8),
        };
        if self.eof_line.is_some() && self.is_openmetrics() {
            if text.trim_matches([' ', '\t']).is_empty() {
                return;
            }
            if self.after_eof_reported {
                self.stats.rejected_lines += 1;
            } else {
                self.after_eof_reported = true;
                self.reject(line_no, bytes, 0, What::AfterEof);
            }
            return;
        }
        match parse_line(text) {
            Err(f) => self.reject(line_no, bytes, f.pos, f.what),
            Ok(Entry::Blank | Entry::Comment | Entry::Help | Entry::Unit) => {}
            Ok(Entry::Eof) => {
                if self.is_openmetrics() {
                    self.eof_line = Some(line_no);
                } else if self.guessed {
                    self.reject(line_no, bytes, 0, What::EofButReadAsPrometheus);
                }
            }
            Ok(Entry::Type { name, ty }) => match &mut self.family {
                Some(f) => {
                    f.name.clear();
                    f.name.push_str(name);
                    f.ty = ty;
                }
                None => {
                    self.family = Some(Family {
                        name: name.to_owned(),
                        ty,
                    })
                }
            },
            Ok(Entry::Sample(sample)) => self.sample(line_no, text, &sample),
        }
    }

    fn sample(&mut self, line_no: u64, text: &str, sample: &Sample<'_>) {
        let bytes = text.as_bytes();
        let kind = match classify(sample.name, self.family.as_ref()) {
            Class::SkipCreated => {
                self.stats.skipped_created += 1;
                return;
            }
            Class::Kind(k) => k,
        };
        let t = match sample.timestamp {
            None => match self.options.default_timestamp {
                Some(t) => t,
                None => return self.reject(line_no, bytes, bytes.len(), What::NoTimestamp),
            },
            Some((ts, pos)) => {
                let parsed = if self.is_openmetrics() {
                    parse_seconds(ts.as_bytes()).map(|(t, truncated)| {
                        if truncated {
                            self.stats.truncated_timestamps += 1;
                        }
                        t
                    })
                } else {
                    parse_millis(ts)
                };
                match parsed {
                    Ok(t) => t,
                    Err(e) => {
                        let what = match (e, self.is_openmetrics()) {
                            (TimestampError::Range, _) => What::TimestampRange,
                            (TimestampError::Syntax, true) => What::BadTimestampSeconds,
                            (TimestampError::Syntax, false) => What::BadTimestampMillis,
                        };
                        return self.reject(line_no, bytes, pos, what);
                    }
                }
            }
        };
        let same = self.last_kind == Some(kind) && self.last_series == sample.series;
        let found = if same {
            self.last_index
        } else {
            self.index
                .get(sample.series)
                .and_then(|v| v.iter().find(|(k, _)| *k == kind))
                .map(|&(_, i)| i)
        };
        let i = match found {
            Some(i) => i,
            None => {
                let labels = match self.carry.take() {
                    Some(labels) if same => labels,
                    _ => {
                        self.scratch.clear();
                        if let Err(f) =
                            decode_labels(text, sample, &mut self.scratch, &mut self.scratch_at)
                        {
                            return self.reject(line_no, bytes, f.pos, f.what);
                        }
                        Labels::new(std::mem::take(&mut self.scratch))
                    }
                };
                let i = self.builder.series_count();
                self.builder.start(labels, kind);
                self.index
                    .entry(sample.series.to_owned())
                    .or_default()
                    .push((kind, i));
                i
            }
        };
        if !same {
            self.last_series.clear();
            self.last_series.push_str(sample.series);
            self.last_kind = Some(kind);
        }
        self.last_index = Some(i);
        self.builder.push_at(i, t, sample.value);
        self.stats.samples += 1;
    }
}

/// Maps a sample to a [`SeriesKind`] by the `# TYPE` of the family it
/// belongs to: the most recent `# TYPE` whose name is the sample's name or
/// the sample's name without one of the type's suffixes.
fn classify(name: &str, family: Option<&Family>) -> Class {
    let Some(f) = family else {
        return Class::Kind(SeriesKind::Unknown);
    };
    let Some(suffix) = name.strip_prefix(f.name.as_str()) else {
        return Class::Kind(SeriesKind::Unknown);
    };
    let kind = match (f.ty, suffix) {
        (MetricType::Counter, "" | "_total") => SeriesKind::Counter,
        (MetricType::Counter | MetricType::Histogram | MetricType::Summary, "_created") => {
            return Class::SkipCreated
        }
        (MetricType::Gauge, "") => SeriesKind::Gauge,
        (MetricType::Histogram, "_bucket") => SeriesKind::HistogramBucket,
        (MetricType::Histogram, "_count") => SeriesKind::HistogramCount,
        (MetricType::Histogram, "_sum") => SeriesKind::HistogramSum,
        (MetricType::Summary, "") => SeriesKind::SummaryQuantile,
        (MetricType::Summary, "_count" | "_sum") => SeriesKind::Counter,
        _ => SeriesKind::Unknown,
    };
    Class::Kind(kind)
}
