//! The data model shared by every stage: label sets, series kinds, columnar
//! write batches and the outcome of an append.

use std::fmt;

/// Milliseconds since the Unix epoch (UTC). Sample timestamps are plain `i64`
/// in columns (`&[i64]`) for speed; this alias documents the unit.
pub type TimestampMs = i64;

/// The label that carries the metric name.
pub const METRIC_NAME: &str = "__name__";

/// Prometheus's stale marker: a NaN with this exact bit pattern tells a reader
/// that the series ended. Stored bit-exactly like every other value.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// True when `v` is Prometheus's stale-marker NaN (not merely any NaN).
pub fn is_stale_marker(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

/// One `name="value"` pair.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Label {
    pub name: String,
    pub value: String,
}

impl Label {
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Label {
        Label {
            name: name.into(),
            value: value.into(),
        }
    }
}

/// A label set: sorted by name, names unique, no empty values (an empty value
/// means "label absent", as in Prometheus). The ordering of label sets is the
/// lexicographic order of their (name, value) pairs, which is the order series
/// are stored in within a segment and returned by reads.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Labels(Vec<Label>);

impl Labels {
    /// Builds a label set: sorts by name and drops empty values. Duplicate
    /// names are kept so that [`Labels::validate`] can report them.
    pub fn new(mut labels: Vec<Label>) -> Labels {
        labels.retain(|l| !l.value.is_empty());
        labels.sort();
        Labels(labels)
    }

    pub fn from_pairs<N: AsRef<str>, V: AsRef<str>>(pairs: &[(N, V)]) -> Labels {
        Labels::new(
            pairs
                .iter()
                .map(|(n, v)| Label::new(n.as_ref(), v.as_ref()))
                .collect(),
        )
    }

    /// Wraps labels already sorted by name with unique names and no empty
    /// values (as read back from storage). Debug builds check the invariant.
    pub fn from_sorted(labels: Vec<Label>) -> Labels {
        debug_assert!(labels.windows(2).all(|w| w[0].name < w[1].name));
        Labels(labels)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .binary_search_by(|l| l.name.as_str().cmp(name))
            .ok()
            .map(|i| self.0[i].value.as_str())
    }

    pub fn metric_name(&self) -> Option<&str> {
        self.get(METRIC_NAME)
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Label> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn as_slice(&self) -> &[Label] {
        &self.0
    }

    pub fn into_vec(self) -> Vec<Label> {
        self.0
    }

    /// A copy without the metric name (what PromQL functions return).
    pub fn without_metric_name(&self) -> Labels {
        Labels(
            self.0
                .iter()
                .filter(|l| l.name != METRIC_NAME)
                .cloned()
                .collect(),
        )
    }

    /// Sets `name` to `value`, removing the label when `value` is empty.
    pub fn set(&mut self, name: &str, value: &str) {
        match self.0.binary_search_by(|l| l.name.as_str().cmp(name)) {
            Ok(i) if value.is_empty() => {
                self.0.remove(i);
            }
            Ok(i) => self.0[i].value = value.to_string(),
            Err(_) if value.is_empty() => {}
            Err(i) => self.0.insert(i, Label::new(name, value)),
        }
    }

    /// A stable 64-bit hash of the label set (FNV-1a over names and values with
    /// separators). Used for sharding and hash maps; never persisted.
    pub fn hash64(&self) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut eat = |bytes: &[u8]| {
            for &b in bytes {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0000_0100_0000_01b3);
            }
        };
        for l in &self.0 {
            eat(l.name.as_bytes());
            eat(&[0xff]);
            eat(l.value.as_bytes());
            eat(&[0xfe]);
        }
        h
    }

    /// Checks Prometheus's naming rules and the configured limits. The first
    /// problem found is returned; the message names the offending label.
    pub fn validate(&self, limits: &LabelLimits) -> Result<(), LabelError> {
        if self.0.len() > limits.max_labels_per_series {
            return Err(LabelError::TooManyLabels {
                count: self.0.len(),
                limit: limits.max_labels_per_series,
            });
        }
        let mut has_name = false;
        for (i, l) in self.0.iter().enumerate() {
            if i > 0 && self.0[i - 1].name == l.name {
                return Err(LabelError::DuplicateName(l.name.clone()));
            }
            if l.name.len() > limits.max_label_name_len {
                return Err(LabelError::NameTooLong {
                    name: truncate_for_message(&l.name),
                    len: l.name.len(),
                    limit: limits.max_label_name_len,
                });
            }
            if l.value.len() > limits.max_label_value_len {
                return Err(LabelError::ValueTooLong {
                    name: l.name.clone(),
                    len: l.value.len(),
                    limit: limits.max_label_value_len,
                });
            }
            if l.name == METRIC_NAME {
                has_name = true;
                if !is_valid_metric_name(&l.value) {
                    return Err(LabelError::InvalidMetricName(truncate_for_message(
                        &l.value,
                    )));
                }
            } else if !is_valid_label_name(&l.name) {
                return Err(LabelError::InvalidLabelName(truncate_for_message(&l.name)));
            }
        }
        if !has_name {
            return Err(LabelError::MissingMetricName);
        }
        Ok(())
    }
}

fn truncate_for_message(s: &str) -> String {
    const MAX: usize = 64;
    if s.len() <= MAX {
        return s.to_string();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*`
pub fn is_valid_metric_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    match bytes.next() {
        Some(b) if b.is_ascii_alphabetic() || b == b'_' || b == b':' => {}
        _ => return false,
    }
    bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`
pub fn is_valid_label_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    match bytes.next() {
        Some(b) if b.is_ascii_alphabetic() || b == b'_' => {}
        _ => return false,
    }
    bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Escapes a label value the way the Prometheus text format and PromQL print
/// it: backslash, double quote and newline.
pub fn escape_label_value(v: &str, out: &mut String) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

impl fmt::Display for Labels {
    /// `name{a="b", c="d"}`, or `{a="b"}` without a metric name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        if let Some(name) = self.metric_name() {
            s.push_str(name);
        }
        s.push('{');
        let mut first = true;
        for l in self.0.iter().filter(|l| l.name != METRIC_NAME) {
            if !first {
                s.push_str(", ");
            }
            first = false;
            s.push_str(&l.name);
            s.push_str("=\"");
            escape_label_value(&l.value, &mut s);
            s.push('"');
        }
        s.push('}');
        f.write_str(&s)
    }
}

/// Limits on label sets, each with the reason for its default.
#[derive(Clone, Debug)]
pub struct LabelLimits {
    /// 40: generous for real instrumentation (Prometheus targets rarely exceed
    /// 20) while stopping label explosions from a misconfigured relabel rule.
    pub max_labels_per_series: usize,
    /// 256 bytes: label names are identifiers.
    pub max_label_name_len: usize,
    /// 4 KiB: room for URLs and SQL fingerprints, not for request bodies.
    pub max_label_value_len: usize,
}

impl Default for LabelLimits {
    fn default() -> Self {
        LabelLimits {
            max_labels_per_series: 40,
            max_label_name_len: 256,
            max_label_value_len: 4096,
        }
    }
}

/// Why a label set was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LabelError {
    #[error("series has no metric name (label __name__)")]
    MissingMetricName,
    #[error("invalid metric name {0:?}: must match [a-zA-Z_:][a-zA-Z0-9_:]*")]
    InvalidMetricName(String),
    #[error("invalid label name {0:?}: must match [a-zA-Z_][a-zA-Z0-9_]*")]
    InvalidLabelName(String),
    #[error("label name {0:?} appears more than once")]
    DuplicateName(String),
    #[error("{count} labels, more than the limit of {limit} per series")]
    TooManyLabels { count: usize, limit: usize },
    #[error("label name {name:?} is {len} bytes, more than the limit of {limit}")]
    NameTooLong {
        name: String,
        len: usize,
        limit: usize,
    },
    #[error("value of label {name:?} is {len} bytes, more than the limit of {limit}")]
    ValueTooLong {
        name: String,
        len: usize,
        limit: usize,
    },
}

/// What a series measures, when the writer knows it. The SLO layer depends on
/// it: counters are summed as exact increases, delta counters directly.
/// Stored on disk as its `u8` value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
#[repr(u8)]
pub enum SeriesKind {
    /// The writer did not say; readers infer from the name where needed.
    #[default]
    Unknown = 0,
    /// Monotonic counter that may reset to zero.
    Counter = 1,
    Gauge = 2,
    /// A classic histogram's cumulative `_bucket{le=...}` counter.
    HistogramBucket = 3,
    /// A classic histogram's `_count` counter.
    HistogramCount = 4,
    /// A classic histogram's `_sum` counter.
    HistogramSum = 5,
    /// Each sample is already an increase (OTLP delta temporality).
    DeltaCounter = 6,
    /// A summary's quantile gauge (`{quantile=...}`); its `_count` and `_sum`
    /// are counters.
    SummaryQuantile = 7,
}

impl SeriesKind {
    pub const ALL: [SeriesKind; 8] = [
        SeriesKind::Unknown,
        SeriesKind::Counter,
        SeriesKind::Gauge,
        SeriesKind::HistogramBucket,
        SeriesKind::HistogramCount,
        SeriesKind::HistogramSum,
        SeriesKind::DeltaCounter,
        SeriesKind::SummaryQuantile,
    ];

    /// Cumulative counters: increases are computed from consecutive samples
    /// with reset detection.
    pub fn is_cumulative_counter(self) -> bool {
        matches!(
            self,
            SeriesKind::Counter
                | SeriesKind::HistogramBucket
                | SeriesKind::HistogramCount
                | SeriesKind::HistogramSum
        )
    }

    /// Whether rollups (exact per-bucket increases) are kept for series of
    /// this kind. `Unknown` series are rolled up when their name follows the
    /// counter naming conventions (`_total`, `_count`, `_sum`, `_bucket`).
    pub fn has_rollups(self, metric_name: Option<&str>) -> bool {
        match self {
            SeriesKind::Unknown => metric_name.is_some_and(|n| {
                n.ends_with("_total")
                    || n.ends_with("_count")
                    || n.ends_with("_sum")
                    || n.ends_with("_bucket")
            }),
            SeriesKind::DeltaCounter => true,
            k => k.is_cumulative_counter(),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SeriesKind::Unknown => "unknown",
            SeriesKind::Counter => "counter",
            SeriesKind::Gauge => "gauge",
            SeriesKind::HistogramBucket => "histogram_bucket",
            SeriesKind::HistogramCount => "histogram_count",
            SeriesKind::HistogramSum => "histogram_sum",
            SeriesKind::DeltaCounter => "delta_counter",
            SeriesKind::SummaryQuantile => "summary_quantile",
        }
    }

    pub fn parse(s: &str) -> Option<SeriesKind> {
        SeriesKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl TryFrom<u8> for SeriesKind {
    type Error = u8;
    fn try_from(v: u8) -> Result<Self, u8> {
        SeriesKind::ALL.get(usize::from(v)).copied().ok_or(v)
    }
}

impl fmt::Display for SeriesKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The samples of one series in a write batch, columnar: `timestamps[i]` goes
/// with `values[i]`. Samples need not be sorted.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SeriesBatch {
    /// May be empty when `resolved` is set.
    pub labels: Labels,
    pub kind: SeriesKind,
    pub timestamps: Vec<TimestampMs>,
    pub values: Vec<f64>,
    /// The head series of `labels`, when the writer resolved it before
    /// (`Engine::resolve`); it wins over `labels`, which it must match.
    pub resolved: Option<crate::head::SeriesRef>,
}

/// What `Engine::append` takes: many series with many samples each. Each
/// series is resolved once per batch.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WriteBatch {
    pub series: Vec<SeriesBatch>,
}

impl WriteBatch {
    pub fn sample_count(&self) -> usize {
        self.series.iter().map(|s| s.timestamps.len()).sum()
    }
}

/// Why samples (or a whole series) in a batch were not stored.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum RejectReason {
    #[error("invalid series: {0}")]
    InvalidLabels(#[from] LabelError),
    #[error("series limit of {limit} reached; new series are refused")]
    SeriesLimit { limit: usize },
    #[error("{timestamps} timestamps but {values} values")]
    LengthMismatch { timestamps: usize, values: usize },
    #[error(
        "sample at {timestamp} is older than the out-of-order window: \
         the series is at {series_max}, the window is {window_ms} ms"
    )]
    TooOld {
        timestamp: TimestampMs,
        series_max: TimestampMs,
        window_ms: i64,
    },
    #[error(
        "sample at {timestamp} falls in a time range already written to a \
         segment (up to {persisted_through}) and is not a duplicate of a stored sample"
    )]
    AlreadyPersisted {
        timestamp: TimestampMs,
        persisted_through: TimestampMs,
    },
    #[error(
        "sample at {timestamp} conflicts with a stored sample at the same time \
         (stored value bits {stored:#018x}, new {new:#018x})"
    )]
    Conflict {
        timestamp: TimestampMs,
        stored: u64,
        new: u64,
    },
    #[error("series is stored as a {stored}, this batch says {new}")]
    KindMismatch { stored: SeriesKind, new: SeriesKind },
}

/// The samples of one series that were refused, with the first refused
/// timestamp and how many were refused for this reason.
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesRejection {
    pub labels: Labels,
    /// The first refused sample's timestamp; `None` when the whole series was
    /// refused before its samples were looked at.
    pub timestamp: Option<TimestampMs>,
    pub samples: u64,
    pub reason: RejectReason,
}

/// The result of `Engine::append`: a refused sample never fails the rest of
/// the batch.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AppendOutcome {
    /// Samples stored by this call.
    pub accepted: u64,
    /// Samples identical (same timestamp, same value bits) to a stored one: a
    /// retried batch is a no-op, never a double count.
    pub duplicates: u64,
    /// Samples refused, summed over `rejected`.
    pub rejected_samples: u64,
    pub rejected: Vec<SeriesRejection>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_sort_and_drop_empty_values() {
        let l = Labels::from_pairs(&[("z", "1"), ("__name__", "up"), ("a", ""), ("b", "2")]);
        assert_eq!(l.to_string(), r#"up{b="2", z="1"}"#);
        assert_eq!(l.get("b"), Some("2"));
        assert_eq!(l.get("a"), None);
    }

    #[test]
    fn validation_names_the_problem() {
        let lim = LabelLimits::default();
        let ok = Labels::from_pairs(&[("__name__", "http_requests_total"), ("code", "200")]);
        assert_eq!(ok.validate(&lim), Ok(()));
        let no_name = Labels::from_pairs(&[("code", "200")]);
        assert_eq!(no_name.validate(&lim), Err(LabelError::MissingMetricName));
        let bad = Labels::from_pairs(&[("__name__", "1up")]);
        assert!(matches!(
            bad.validate(&lim),
            Err(LabelError::InvalidMetricName(_))
        ));
        let bad = Labels::from_pairs(&[("__name__", "up"), ("a-b", "x")]);
        assert_eq!(
            bad.validate(&lim),
            Err(LabelError::InvalidLabelName("a-b".into()))
        );
        let dup = Labels::new(vec![
            Label::new("__name__", "up"),
            Label::new("a", "1"),
            Label::new("a", "2"),
        ]);
        assert_eq!(
            dup.validate(&lim),
            Err(LabelError::DuplicateName("a".into()))
        );
        let long = Labels::from_pairs(&[("__name__", "up"), ("a", &"x".repeat(5000))]);
        assert!(matches!(
            long.validate(&lim),
            Err(LabelError::ValueTooLong { len: 5000, .. })
        ));
    }

    #[test]
    fn kind_round_trips_through_u8() {
        for k in SeriesKind::ALL {
            assert_eq!(SeriesKind::try_from(k as u8), Ok(k));
            assert_eq!(SeriesKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(SeriesKind::try_from(200), Err(200));
    }

    #[test]
    fn set_inserts_replaces_and_removes() {
        let mut l = Labels::from_pairs(&[("__name__", "up"), ("b", "2")]);
        l.set("a", "1");
        l.set("b", "3");
        assert_eq!(l.to_string(), r#"up{a="1", b="3"}"#);
        l.set("a", "");
        assert_eq!(l.to_string(), r#"up{b="3"}"#);
    }
}
