//! The write path shared by gRPC and remote-write: wire messages become an
//! engine `WriteBatch`, the append runs on a blocking thread (it waits for the
//! WAL's fsync), and the outcome goes back to the sender.

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

/// A gRPC write request as an engine batch (moves the columns, no copy).
pub fn batch_from_grpc(req: v1::WriteRequest, max_series: usize) -> Result<WriteBatch, WriteError> {
    if req.series.len() > max_series {
        return Err(WriteError::BadRequest(format!(
            "{} series in one request, more than the limit of {max_series}; split the batch",
            req.series.len()
        )));
    }
    Ok(WriteBatch {
        series: req
            .series
            .into_iter()
            .map(|s| SeriesBatch {
                kind: kind_from_proto(s.kind),
                labels: labels_from_proto(s.labels),
                timestamps: s.timestamps,
                values: s.values,
                resolved: None,
            })
            .collect(),
    })
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
    append_caching(state, batch, Vec::new()).await
}

/// [`append`], first resolving the series the series cache missed and
/// remembering them (series with labels the head refuses are left to the
/// append, which reports them).
pub async fn append_caching(
    state: &Arc<AppState>,
    mut batch: WriteBatch,
    misses: Vec<CacheMiss>,
) -> Result<AppendOutcome, WriteError> {
    let st = Arc::clone(state);
    let task = move || {
        st.series_cache
            .remember(&st.engine, &mut batch.series, misses);
        st.engine.append(&batch)
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
