//! Writes OpenMetrics text for `promtool tsdb create-blocks-from openmetrics`.

use std::collections::HashSet;
use std::io::Write;
use std::path::PathBuf;

use crate::error::{Error, IoContext, Result};
use crate::formats::number::{push_finite, push_seconds};
use crate::types::{
    escape_label_value, is_valid_label_name, is_valid_metric_name, Labels, SeriesKind, TimestampMs,
    METRIC_NAME,
};

/// Output is handed to the underlying writer in pieces of about this size.
const FLUSH_BYTES: usize = 64 << 10;

/// The metric family a series is written under: its name and its `# TYPE`.
///
/// Counters named `x_total` belong to family `x` (OpenMetrics names the
/// family without the suffix); histogram `_bucket`, `_count` and `_sum`
/// series to the family without that suffix. A series whose kind OpenMetrics
/// cannot express (a delta counter, or a histogram series without its suffix)
/// is `unknown`. Families can be used to order series so that each family is
/// written once (sort by family name, then labels).
pub fn family_of(metric_name: &str, kind: SeriesKind) -> (&str, &'static str) {
    let strip = |suffix: &str| {
        metric_name
            .strip_suffix(suffix)
            .filter(|family| !family.is_empty())
    };
    let histogram = |suffix: &str| match strip(suffix) {
        Some(family) => (family, "histogram"),
        None => (metric_name, "unknown"),
    };
    match kind {
        SeriesKind::Counter => (strip("_total").unwrap_or(metric_name), "counter"),
        SeriesKind::Gauge => (metric_name, "gauge"),
        SeriesKind::HistogramBucket => histogram("_bucket"),
        SeriesKind::HistogramCount => histogram("_count"),
        SeriesKind::HistogramSum => histogram("_sum"),
        SeriesKind::SummaryQuantile => (metric_name, "summary"),
        SeriesKind::Unknown | SeriesKind::DeltaCounter => (metric_name, "unknown"),
    }
}

/// Counters of what an [`OpenMetricsWriter`] wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteStats {
    pub series: u64,
    pub samples: u64,
    /// `# TYPE` lines written.
    pub families: u64,
    /// Families that started again after another family: the input was not
    /// grouped by family. Prometheus 2.42 reads such files, strict
    /// OpenMetrics parsers do not.
    pub reopened_families: u64,
}

/// Writes series as OpenMetrics text, one sample per line, with exactly
/// millisecond timestamps in seconds, ending with `# EOF` in
/// [`OpenMetricsWriter::finish`].
///
/// Call [`OpenMetricsWriter::write_series`] once per series (or for
/// consecutive parts of one, never returning to a series after another),
/// then `finish`.
/// A `# TYPE` line is written whenever the family (see [`family_of`])
/// changes; series fed in label order are grouped by family except where
/// another metric name sorts between a family's names. Each series' timestamps
/// must increase strictly (Prometheus drops or refuses samples out of order).
pub struct OpenMetricsWriter<W: Write> {
    out: W,
    path: PathBuf,
    buf: Vec<u8>,
    /// `name{labels} ` of the series being written.
    prefix: String,
    family: Option<(String, &'static str)>,
    written_families: HashSet<(String, &'static str)>,
    /// The previous series and its last timestamp, so that a series split
    /// over several calls still has increasing timestamps.
    last: Option<(Labels, SeriesKind, TimestampMs)>,
    stats: WriteStats,
}

impl<W: Write> OpenMetricsWriter<W> {
    /// `path` names the output in I/O errors (`-` for standard output).
    pub fn new(out: W, path: impl Into<PathBuf>) -> Self {
        OpenMetricsWriter {
            out,
            path: path.into(),
            buf: Vec::with_capacity(FLUSH_BYTES * 2),
            prefix: String::new(),
            family: None,
            written_families: HashSet::new(),
            last: None,
            stats: WriteStats::default(),
        }
    }

    pub fn stats(&self) -> &WriteStats {
        &self.stats
    }

    /// Writes one series. Nothing is written when it is refused: a series
    /// without a valid metric name, with a label name OpenMetrics cannot
    /// carry, with unequal column lengths, or with timestamps that do not
    /// increase (also across consecutive calls for the same series).
    pub fn write_series(
        &mut self,
        labels: &Labels,
        kind: SeriesKind,
        timestamps: &[TimestampMs],
        values: &[f64],
    ) -> Result<()> {
        let refuse = |why: String| Err(Error::InvalidArgument(format!("series {labels}: {why}")));
        if timestamps.len() != values.len() {
            return refuse(format!(
                "{} timestamps but {} values",
                timestamps.len(),
                values.len()
            ));
        }
        let Some(name) = labels.metric_name() else {
            return refuse("no metric name; OpenMetrics needs one".into());
        };
        if !is_valid_metric_name(name) {
            return refuse("the metric name is not valid in OpenMetrics".into());
        }
        let mut previous: Option<&str> = None;
        for l in labels.iter().filter(|l| l.name != METRIC_NAME) {
            if !is_valid_label_name(&l.name) {
                return refuse(format!(
                    "label name {:?} is not valid in OpenMetrics",
                    l.name
                ));
            }
            if previous == Some(l.name.as_str()) {
                return refuse(format!("label name {:?} appears twice", l.name));
            }
            previous = Some(&l.name);
        }
        if let Some(i) = timestamps.windows(2).position(|w| w[0] >= w[1]) {
            return refuse(format!(
                "timestamps must increase: {} is followed by {}",
                timestamps[i],
                timestamps[i + 1]
            ));
        }
        if let (Some((last_labels, last_kind, last_t)), Some(&first)) =
            (&self.last, timestamps.first())
        {
            if last_labels == labels && *last_kind == kind && first <= *last_t {
                return refuse(format!(
                    "timestamps must increase: this part starts at {first}, the previous \
                     part of the series ended at {last_t}"
                ));
            }
        }
        let Some(&last_t) = timestamps.last() else {
            return Ok(());
        };

        let (family, ty) = family_of(name, kind);
        if self
            .family
            .as_ref()
            .is_none_or(|(f, t)| f != family || *t != ty)
        {
            let key = (family.to_owned(), ty);
            if self.written_families.contains(&key) {
                self.stats.reopened_families += 1;
            } else {
                self.written_families.insert(key.clone());
            }
            self.stats.families += 1;
            self.buf.extend_from_slice(b"# TYPE ");
            self.buf.extend_from_slice(family.as_bytes());
            self.buf.push(b' ');
            self.buf.extend_from_slice(ty.as_bytes());
            self.buf.push(b'\n');
            self.family = Some(key);
        }

        self.prefix.clear();
        self.prefix.push_str(name);
        let mut first = true;
        for l in labels.iter().filter(|l| l.name != METRIC_NAME) {
            self.prefix.push(if first { '{' } else { ',' });
            first = false;
            self.prefix.push_str(&l.name);
            self.prefix.push_str("=\"");
            escape_label_value(&l.value, &mut self.prefix);
            self.prefix.push('"');
        }
        if !first {
            self.prefix.push('}');
        }
        self.prefix.push(' ');

        for (&t, &v) in timestamps.iter().zip(values) {
            self.buf.extend_from_slice(self.prefix.as_bytes());
            push_value(&mut self.buf, v);
            self.buf.push(b' ');
            push_seconds(&mut self.buf, t);
            self.buf.push(b'\n');
            if self.buf.len() >= FLUSH_BYTES {
                self.flush_buf()?;
            }
        }
        self.stats.series += 1;
        self.stats.samples += timestamps.len() as u64;
        match &mut self.last {
            Some((l, k, t)) if l == labels && *k == kind => *t = last_t,
            last => *last = Some((labels.clone(), kind, last_t)),
        }
        Ok(())
    }

    /// Writes `# EOF`, flushes, and returns the underlying writer. Without
    /// it the output is incomplete: promtool refuses input without `# EOF`.
    pub fn finish(mut self) -> Result<W> {
        self.buf.extend_from_slice(b"# EOF\n");
        self.flush_buf()?;
        self.out.flush().ctx("flush", &self.path)?;
        Ok(self.out)
    }

    fn flush_buf(&mut self) -> Result<()> {
        self.out.write_all(&self.buf).ctx("write", &self.path)?;
        self.buf.clear();
        Ok(())
    }
}

/// `NaN` (every NaN: the text cannot carry payloads, so stale markers become
/// plain NaN), `+Inf`, `-Inf`, or the shortest round-trip decimal.
fn push_value(out: &mut Vec<u8>, v: f64) {
    if v.is_nan() {
        out.extend_from_slice(b"NaN");
    } else if v == f64::INFINITY {
        out.extend_from_slice(b"+Inf");
    } else if v == f64::NEG_INFINITY {
        out.extend_from_slice(b"-Inf");
    } else {
        push_finite(out, v);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::types::STALE_NAN_BITS;

    /// Writes the series into a string (for tests here and in `../tests.rs`).
    pub(crate) fn write(
        series: &[(Labels, SeriesKind, Vec<i64>, Vec<f64>)],
    ) -> (String, WriteStats) {
        let mut w = OpenMetricsWriter::new(Vec::new(), "test.om");
        for (l, k, t, v) in series {
            if let Err(e) = w.write_series(l, *k, t, v) {
                panic!("write_series: {e}");
            }
        }
        let stats = w.stats().clone();
        match w.finish() {
            Ok(out) => (String::from_utf8_lossy(&out).into_owned(), stats),
            Err(e) => panic!("finish: {e}"),
        }
    }

    #[test]
    fn writer_output_is_openmetrics() {
        let l = |pairs: &[(&str, &str)]| Labels::from_pairs(pairs);
        let (text, stats) = write(&[
            (
                l(&[
                    ("__name__", "http_requests_total"),
                    ("path", "/a\"b\\c\nd"),
                    ("code", "200"),
                ]),
                SeriesKind::Counter,
                vec![1_700_000_000_000, 1_700_000_000_001],
                vec![1.0, f64::INFINITY],
            ),
            (
                l(&[("__name__", "http_requests_total"), ("code", "500")]),
                SeriesKind::Counter,
                vec![-1],
                vec![f64::from_bits(STALE_NAN_BITS)],
            ),
            (
                l(&[("__name__", "rpc_seconds_bucket"), ("le", "+Inf")]),
                SeriesKind::HistogramBucket,
                vec![0],
                vec![-0.0],
            ),
            (
                l(&[("__name__", "rpc_seconds_count")]),
                SeriesKind::HistogramCount,
                vec![0],
                vec![1e300],
            ),
            (l(&[("__name__", "up")]), SeriesKind::Gauge, vec![], vec![]),
            (
                l(&[("__name__", "up")]),
                SeriesKind::DeltaCounter,
                vec![5],
                vec![f64::NEG_INFINITY],
            ),
        ]);
        let expected = r#"# TYPE http_requests counter
http_requests_total{code="200",path="/a\"b\\c\nd"} 1 1700000000.000
http_requests_total{code="200",path="/a\"b\\c\nd"} +Inf 1700000000.001
http_requests_total{code="500"} NaN -0.001
# TYPE rpc_seconds histogram
rpc_seconds_bucket{le="+Inf"} -0 0.000
rpc_seconds_count 1e300 0.000
# TYPE up unknown
up -Inf 0.005
# EOF
"#;
        assert_eq!(text, expected);
        assert_eq!(
            stats,
            WriteStats {
                series: 5,
                samples: 6,
                families: 3,
                reopened_families: 0
            }
        );
    }

    #[test]
    fn writer_refuses_what_promtool_cannot_take() {
        let mut w = OpenMetricsWriter::new(Vec::new(), "out.om");
        let up = Labels::from_pairs(&[("__name__", "up")]);
        let refused = |r: crate::Result<()>| match r {
            Err(crate::Error::InvalidArgument(m)) => m,
            other => panic!("expected a refusal, got {other:?}"),
        };
        let m = refused(w.write_series(&up, SeriesKind::Gauge, &[2, 1], &[1.0, 2.0]));
        assert_eq!(
            m,
            "series up{}: timestamps must increase: 2 is followed by 1"
        );
        let m = refused(w.write_series(&up, SeriesKind::Gauge, &[1], &[]));
        assert_eq!(m, "series up{}: 1 timestamps but 0 values");
        let m = refused(w.write_series(
            &Labels::from_pairs(&[("job", "a")]),
            SeriesKind::Gauge,
            &[1],
            &[1.0],
        ));
        assert!(m.contains("no metric name"), "{m}");
        let m = refused(w.write_series(
            &Labels::from_pairs(&[("__name__", "a.b")]),
            SeriesKind::Gauge,
            &[1],
            &[1.0],
        ));
        assert!(m.contains("metric name is not valid"), "{m}");
        let m = refused(w.write_series(
            &Labels::from_pairs(&[("__name__", "a"), ("b-c", "1")]),
            SeriesKind::Gauge,
            &[1],
            &[1.0],
        ));
        assert!(m.contains("label name \"b-c\""), "{m}");
        // A series continued over two calls must keep increasing.
        assert!(w
            .write_series(&up, SeriesKind::Gauge, &[1, 2], &[1.0, 2.0])
            .is_ok());
        let m = refused(w.write_series(&up, SeriesKind::Gauge, &[2], &[3.0]));
        assert!(m.contains("previous part of the series ended at 2"), "{m}");
        assert!(w.write_series(&up, SeriesKind::Gauge, &[3], &[3.0]).is_ok());
        let out = w.finish().unwrap_or_default();
        assert_eq!(
            String::from_utf8_lossy(&out),
            "# TYPE up gauge\nup 1 0.001\nup 2 0.002\nup 3 0.003\n# EOF\n"
        );
    }

    #[test]
    fn family_names_follow_openmetrics() {
        use SeriesKind::*;
        assert_eq!(family_of("a_total", Counter), ("a", "counter"));
        assert_eq!(family_of("a", Counter), ("a", "counter"));
        assert_eq!(family_of("_total", Counter), ("_total", "counter"));
        assert_eq!(family_of("h_bucket", HistogramBucket), ("h", "histogram"));
        assert_eq!(family_of("h_count", HistogramCount), ("h", "histogram"));
        assert_eq!(family_of("h_sum", HistogramSum), ("h", "histogram"));
        assert_eq!(family_of("h", HistogramSum), ("h", "unknown"));
        assert_eq!(family_of("s", SummaryQuantile), ("s", "summary"));
        assert_eq!(family_of("g", Gauge), ("g", "gauge"));
        assert_eq!(family_of("d", DeltaCounter), ("d", "unknown"));
        assert_eq!(family_of("u", Unknown), ("u", "unknown"));
    }
}
