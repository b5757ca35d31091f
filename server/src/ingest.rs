//! The write path shared by gRPC and remote-write: wire messages become an
//! engine `WriteBatch`, the append runs on a blocking thread (it waits for the
//! WAL's fsync), and the outcome goes back to the sender.

use std::collections::HashMap;
use std::sync::Arc;

use nines_engine::{
    AppendOutcome, Label, Labels, RejectReason, SeriesBatch, SeriesKind, WriteBatch,
};
use nines_proto::prometheus;
use nines_proto::v1;

use crate::decode::{CacheMiss, RemoteWrite};
use crate::state::AppState;

/// Why a write failed as a whole.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// Malformed request; nothing was stored.
    #[error("{0}")]
    BadRequest(String),
    /// The engine could not store the batch durably (WAL failure, I/O).
    #[error("{0}")]
    Storage(#[from] nines_engine::Error),
}

pub fn kind_from_proto(k: i32) -> SeriesKind {
    match v1::SeriesKind::try_from(k) {
        Ok(v1::SeriesKind::Counter) => SeriesKind::Counter,
        Ok(v1::SeriesKind::Gauge) => SeriesKind::Gauge,
        Ok(v1::SeriesKind::HistogramBucket) => SeriesKind::HistogramBucket,
        Ok(v1::SeriesKind::HistogramCount) => SeriesKind::HistogramCount,
        Ok(v1::SeriesKind::HistogramSum) => SeriesKind::HistogramSum,
        Ok(v1::SeriesKind::DeltaCounter) => SeriesKind::DeltaCounter,
        Ok(v1::SeriesKind::SummaryQuantile) => SeriesKind::SummaryQuantile,
        _ => SeriesKind::Unknown,
    }
}

pub fn kind_to_proto(k: SeriesKind) -> v1::SeriesKind {
    match k {
        SeriesKind::Unknown => v1::SeriesKind::Unknown,
        SeriesKind::Counter => v1::SeriesKind::Counter,
        SeriesKind::Gauge => v1::SeriesKind::Gauge,
        SeriesKind::HistogramBucket => v1::SeriesKind::HistogramBucket,
        SeriesKind::HistogramCount => v1::SeriesKind::HistogramCount,
        SeriesKind::HistogramSum => v1::SeriesKind::HistogramSum,
        SeriesKind::DeltaCounter => v1::SeriesKind::DeltaCounter,
        SeriesKind::SummaryQuantile => v1::SeriesKind::SummaryQuantile,
    }
}

pub fn labels_from_proto(labels: Vec<v1::Label>) -> Labels {
    Labels::new(
        labels
            .into_iter()
            .map(|l| Label {
                name: l.name,
                value: l.value,
            })
            .collect(),
    )
}

pub fn labels_to_proto(labels: &Labels) -> Vec<v1::Label> {
    labels
        .iter()
        .map(|l| v1::Label {
            name: l.name.clone(),
            value: l.value.clone(),
        })
        .collect()
}

/// A gRPC write request as an engine batch (moves the plain columns, no
/// copy): `series`, then `compact`. The server decodes requests with
/// [`crate::decode`]; this is the plain-prost definition it is tested
/// against.
pub fn batch_from_grpc(req: v1::WriteRequest, max_series: usize) -> Result<WriteBatch, WriteError> {
    let n = req.series.len() + req.compact.len();
    if n > max_series {
        return Err(WriteError::BadRequest(format!(
            "{n} series in one request, more than the limit of {max_series}; split the batch"
        )));
    }
    let mut series: Vec<SeriesBatch> = req
        .series
        .into_iter()
        .map(|s| SeriesBatch {
            kind: kind_from_proto(s.kind),
            labels: labels_from_proto(s.labels),
            timestamps: s.timestamps,
            values: s.values,
            resolved: None,
        })
        .collect();
    for c in req.compact {
        series.push(compact_from_proto(c, &req.symbols)?);
    }
    Ok(WriteBatch { series })
}

/// One `CompactSeries` as the engine's series (see ingest.proto).
fn compact_from_proto(c: v1::CompactSeries, symbols: &[String]) -> Result<SeriesBatch, WriteError> {
    let bad = |m: String| WriteError::BadRequest(format!("field CompactSeries.{m}"));
    if !c.label_refs.len().is_multiple_of(2) {
        return Err(bad(format!(
            "label_refs: {} references, not pairs",
            c.label_refs.len()
        )));
    }
    let symbol = |i: u32| {
        symbols
            .get(i as usize)
            .ok_or_else(|| bad(format!("label_refs: {i} past {} symbols", symbols.len())))
    };
    let mut labels = Vec::with_capacity(c.label_refs.len() / 2);
    for p in c.label_refs.chunks_exact(2) {
        labels.push(Label::new(symbol(p[0])?.as_str(), symbol(p[1])?.as_str()));
    }
    let running_sum = |deltas: &[i64]| {
        deltas
            .iter()
            .scan(0i64, |acc, &d| {
                *acc = acc.wrapping_add(d);
                Some(*acc)
            })
            .collect::<Vec<i64>>()
    };
    let values = match (c.values.is_empty(), c.integer_deltas.is_empty()) {
        (_, true) => c.values,
        (true, false) => {
            let ints = running_sum(&c.integer_deltas);
            if let Some(v) = ints.iter().find(|v| v.unsigned_abs() > 1 << 53) {
                return Err(bad(format!("integer_deltas: {v} is beyond +-2^53")));
            }
            ints.into_iter().map(|v| v as f64).collect()
        }
        (false, false) => return Err(bad("integer_deltas: also `values` set".into())),
    };
    Ok(SeriesBatch {
        kind: kind_from_proto(c.kind),
        labels: Labels::new(labels),
        timestamps: running_sum(&c.timestamp_deltas),
        values,
        resolved: None,
    })
}

/// Whether `v` travels exactly as an integer in `CompactSeries`: an
/// integral double within +-2^53, and not -0.0 (whose sign an integer loses).
fn is_exact_integer(v: f64) -> bool {
    v.fract() == 0.0 && v.abs() <= (1u64 << 53) as f64 && !(v == 0.0 && v.is_sign_negative())
}

/// The first element, then each one minus the one before (wrapping):
/// `CompactSeries`'s delta columns.
fn deltas(xs: impl Iterator<Item = i64>) -> Vec<i64> {
    let mut prev = 0i64;
    xs.map(|x| {
        let d = x.wrapping_sub(prev);
        prev = x;
        d
    })
    .collect()
}

/// Series as one compact gRPC write request (`symbols` and `compact`;
/// ingest.proto): each distinct label string once, timestamps as deltas,
/// a series' values as integer deltas when every one is an exact integer,
/// else as doubles. About a quarter of the bytes of the plain form for
/// agent batches, decoded to the same samples.
pub fn compact_request(series: &[SeriesBatch]) -> v1::WriteRequest {
    compact_request_numbered(series, None)
}

/// The series numbers one client stream has given (`series_ref`): what
/// `nines write` sends on `WriteStream`, and an agent on `WriteSession`.
#[derive(Debug, Default)]
pub struct SeriesNumbers {
    numbers: HashMap<Labels, u32>,
}

impl SeriesNumbers {
    /// Series numbered so far.
    pub fn len(&self) -> usize {
        self.numbers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.numbers.is_empty()
    }
}

/// [`compact_request`] for one message of a stream: with `numbers`, a
/// series new to the stream is sent with its labels and a new number, one
/// sent before with its number alone (past
/// [`MAX_SERIES_REF`](crate::stream_refs::MAX_SERIES_REF) numbers, and
/// series without labels: with labels and no number).
pub fn compact_request_numbered(
    series: &[SeriesBatch],
    mut numbers: Option<&mut SeriesNumbers>,
) -> v1::WriteRequest {
    // Borrows the batch's strings; copied once into `symbols`.
    let mut index: HashMap<&str, u32> = HashMap::new();
    let mut symbols: Vec<String> = Vec::new();
    let mut compact = Vec::with_capacity(series.len());
    for s in series {
        let (number, named) = match numbers.as_deref_mut() {
            // A number without labels is a use: an empty label set (which
            // the server refuses) is sent unnumbered.
            None => (0, false),
            Some(_) if s.labels.is_empty() => (0, false),
            Some(n) => match n.numbers.get(&s.labels) {
                Some(&k) => (k, true),
                None if n.numbers.len() < crate::stream_refs::MAX_SERIES_REF as usize => {
                    let k = n.numbers.len() as u32 + 1;
                    n.numbers.insert(s.labels.clone(), k);
                    (k, false)
                }
                None => (0, false),
            },
        };
        let mut label_refs = Vec::new();
        if !named {
            label_refs.reserve(s.labels.len() * 2);
            for l in s.labels.iter() {
                for text in [l.name.as_str(), l.value.as_str()] {
                    let i = *index.entry(text).or_insert_with(|| {
                        symbols.push(text.to_owned());
                        (symbols.len() - 1) as u32
                    });
                    label_refs.push(i);
                }
            }
        }
        let (values, integer_deltas) = if s.values.iter().all(|&v| is_exact_integer(v)) {
            (Vec::new(), deltas(s.values.iter().map(|&v| v as i64)))
        } else {
            (s.values.clone(), Vec::new())
        };
        compact.push(v1::CompactSeries {
            label_refs,
            kind: kind_to_proto(s.kind) as i32,
            timestamp_deltas: deltas(s.timestamps.iter().copied()),
            values,
            integer_deltas,
            series_ref: number,
        });
    }
    v1::WriteRequest {
        series: Vec::new(),
        symbols,
        compact,
    }
}

/// A decoded remote-write request as an engine batch. Stale markers pass
/// through bit for bit; series kinds come from the sender's metadata when
/// it sent any.
pub fn batch_from_remote_write(
    req: RemoteWrite,
    state: &AppState,
) -> Result<WriteBatch, WriteError> {
    let max = state.config.limits.max_series_per_request;
    if req.series.len() > max {
        return Err(WriteError::BadRequest(format!(
            "{} series in one request, more than the limit of {max}; lower the sender's max_samples_per_send",
            req.series.len()
        )));
    }
    if !req.metadata.is_empty() {
        record_metadata(&req.metadata, state);
    }
    let mut series = req.series;
    if !state.metadata.read().is_empty() {
        for s in &mut series {
            let name = match &s.resolved {
                Some(r) if s.labels.is_empty() => r.label(nines_engine::METRIC_NAME),
                _ => s.labels.metric_name(),
            };
            s.kind = name
                .map(|n| state.kind_from_metadata(n))
                .unwrap_or_default();
        }
    }
    Ok(WriteBatch { series })
}

fn record_metadata(meta: &[prometheus::MetricMetadata], state: &AppState) {
    use prometheus::metric_metadata::MetricType;
    let mut m = state.metadata.write();
    for md in meta {
        let kind = match MetricType::try_from(md.r#type) {
            Ok(MetricType::Counter) => "counter",
            Ok(MetricType::Gauge) => "gauge",
            Ok(MetricType::Histogram) => "histogram",
            Ok(MetricType::Gaugehistogram) => "gaugehistogram",
            Ok(MetricType::Summary) => "summary",
            Ok(MetricType::Info) => "info",
            Ok(MetricType::Stateset) => "stateset",
            _ => "unknown",
        };
        m.insert(
            md.metric_family_name.clone(),
            crate::state::MetricMeta {
                kind,
                help: md.help.clone(),
                unit: md.unit.clone(),
            },
        );
    }
}

/// Appends on a blocking thread: returns once the stored samples are
/// durable under the sync policy.
pub async fn append(state: &Arc<AppState>, batch: WriteBatch) -> Result<AppendOutcome, WriteError> {
    append_caching(state, batch, Vec::new(), None).await
}

/// [`append`], first resolving the series the series cache missed and
/// remembering them (series with labels the head refuses are left to the
/// append, which reports them).
///
/// On a stream, `refs` (the stream's numbered series, and whether the
/// stream is a tenant's) are resolved after the append: the series the
/// batch named by labels exist then.
pub async fn append_caching(
    state: &Arc<AppState>,
    mut batch: WriteBatch,
    misses: Vec<CacheMiss>,
    refs: Option<(crate::stream_refs::SharedRefs, bool)>,
) -> Result<AppendOutcome, WriteError> {
    let st = Arc::clone(state);
    let task = move || {
        st.series_cache
            .remember(&st.engine, &mut batch.series, misses);
        let out = st.engine.append(&batch);
        if let (Some((refs, scoped)), Ok(_)) = (refs, &out) {
            refs.lock().resolve_pending(&st.engine, scoped);
        }
        out
    };
    match tokio::task::spawn_blocking(task).await {
        Ok(r) => Ok(r?),
        Err(e) => Err(WriteError::Storage(nines_engine::Error::InvalidArgument(
            format!("write task failed: {e}"),
        ))),
    }
}

fn reject_code(r: &RejectReason) -> v1::RejectCode {
    match r {
        RejectReason::InvalidLabels(_) => v1::RejectCode::InvalidLabels,
        RejectReason::SeriesLimit { .. } => v1::RejectCode::SeriesLimit,
        RejectReason::LengthMismatch { .. } => v1::RejectCode::LengthMismatch,
        RejectReason::TooOld { .. } => v1::RejectCode::TooOld,
        RejectReason::AlreadyPersisted { .. } => v1::RejectCode::AlreadyPersisted,
        RejectReason::Conflict { .. } => v1::RejectCode::Conflict,
        RejectReason::KindMismatch { .. } => v1::RejectCode::KindMismatch,
    }
}

pub fn outcome_to_proto(o: &AppendOutcome) -> v1::WriteResponse {
    v1::WriteResponse {
        accepted: o.accepted,
        duplicates: o.duplicates,
        rejected_samples: o.rejected_samples,
        rejected: o
            .rejected
            .iter()
            .map(|r| v1::Rejection {
                labels: labels_to_proto(&r.labels),
                timestamp: r.timestamp,
                samples: r.samples,
                code: reject_code(&r.reason) as i32,
                reason: r.reason.to_string(),
            })
            .collect(),
    }
}

/// Adds one batch's outcome to a running total (streams answer once).
pub fn add_outcome(total: &mut v1::WriteResponse, o: &AppendOutcome) {
    let p = outcome_to_proto(o);
    total.accepted += p.accepted;
    total.duplicates += p.duplicates;
    total.rejected_samples += p.rejected_samples;
    // Keep the report bounded on long streams.
    let room = 10_000usize.saturating_sub(total.rejected.len());
    total.rejected.extend(p.rejected.into_iter().take(room));
}

/// Memory a decoded batch holds, for the write budget.
pub fn batch_bytes(batch: &WriteBatch) -> usize {
    batch
        .series
        .iter()
        .map(|s| {
            64 + s.timestamps.len() * 8
                + s.values.len() * 8
                + s.labels
                    .iter()
                    .map(|l| 48 + l.name.len() + l.value.len())
                    .sum::<usize>()
        })
        .sum()
}
