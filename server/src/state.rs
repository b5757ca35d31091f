//! What every handler shares: the engine, the SLO store, the limits, the
//! metrics, the memory budget for writes in flight and the query slots.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use nines_engine::{Engine, SeriesKind};
use nines_query::eval::{SloCatalogRef, SloSumsRef};
use nines_slo::store::SloStore;
use parking_lot::RwLock;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::Config;
use crate::metrics::Metrics;

/// Writes reserve their estimated memory in units of this many bytes.
const PERMIT_BYTES: usize = 1024;

/// Distinct instant queries kept parsed: what a fleet of dashboards and
/// alert rules asks, a few kilobytes each at most.
const PARSED_QUERIES: usize = 1024;

/// Metric metadata reported by remote-write senders (`/api/v1/metadata`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetricMeta {
    pub kind: &'static str,
    pub help: String,
    pub unit: String,
}

pub struct AppState {
    pub engine: Arc<Engine>,
    /// SLO definitions, versions and exclusions (`DATA/meta/slo.log`).
    pub slos: Arc<SloStore>,
    /// The configured bearer tokens (`[auth]`).
    pub auth: crate::auth::Authenticator,
    /// The audit trail (`DATA/meta/audit.log`).
    pub audit: Arc<crate::audit::AuditLog>,
    /// The same store as the query evaluator's catalog.
    pub slo_catalog: SloCatalogRef,
    /// Per-selector SLO event sums shared by queries, alerts, the gate and
    /// incidents (`nines_slo::sums`).
    pub slo_sums: SloSumsRef,
    pub config: Config,
    pub metrics: Metrics,
    pub query_timeout: Duration,
    inflight: Arc<Semaphore>,
    query_slots: Arc<Semaphore>,
    /// Family name -> metadata, from remote-write metadata.
    pub metadata: RwLock<BTreeMap<String, MetricMeta>>,
    /// Head series of label sets writers sent recently, by wire bytes.
    pub series_cache: crate::series_cache::SeriesCache,
    /// Range-query results by query, step and grid, for dashboards.
    pub range_cache: nines_query::range_cache::RangeCache,
    /// Instant queries parsed, by their text.
    pub parsed: nines_query::parse_cache::ParseCache,
    /// False until startup finished and while shutting down (`/-/ready`).
    pub ready: AtomicBool,
    /// SLO burn-rate alerts (`/api/v1/alerts`, `/api/v1/rules`).
    pub alerter: Arc<crate::alerts::Alerter>,
}

/// Memory reserved for one write; released when dropped.
pub struct Reservation {
    _permit: OwnedSemaphorePermit,
    bytes: u64,
    state: Arc<AppState>,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.state
            .metrics
            .inflight_bytes
            .fetch_sub(self.bytes, Relaxed);
    }
}

/// Why a write was not admitted.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum Overload {
    #[error(
        "the server is at its in-flight write memory budget ({budget} bytes); retry after a short wait"
    )]
    Busy { budget: u64 },
    #[error("the request needs about {needed} bytes to decode, more than the whole write budget of {budget} bytes; send smaller batches")]
    TooLarge { needed: u64, budget: u64 },
}

impl AppState {
    pub fn new(
        engine: Arc<Engine>,
        slos: Arc<SloStore>,
        audit: Arc<crate::audit::AuditLog>,
        config: Config,
    ) -> Result<AppState, crate::config::ConfigError> {
        let query_timeout = config.query_timeout()?;
        let budget = config.limits.inflight_bytes;
        let alerter = Arc::new(crate::alerts::Alerter::new(
            config.burn_policy()?,
            config.alert_interval()?,
            config.alerting.alertmanager_url.clone(),
        ));
        let auth = crate::auth::Authenticator::new(&config.auth)
            .map_err(|e| crate::config::ConfigError(e.to_string()))?;
        Ok(AppState {
            auth,
            alerter,
            audit,
            engine,
            slo_catalog: SloCatalogRef(Arc::clone(&slos) as _),
            slo_sums: SloSumsRef::default(),
            slos,
            metrics: Metrics::new(budget as u64),
            query_timeout,
            inflight: Arc::new(Semaphore::new((budget / PERMIT_BYTES).max(1))),
            query_slots: Arc::new(Semaphore::new(config.limits.query_concurrency)),
            metadata: RwLock::default(),
            series_cache: crate::series_cache::SeriesCache::new(config.limits.write_series_cache),
            range_cache: nines_query::range_cache::RangeCache::new(
                config.limits.query_range_cache_bytes,
            ),
            parsed: nines_query::parse_cache::ParseCache::new(PARSED_QUERIES),
            ready: AtomicBool::new(false),
            config,
        })
    }

    /// Counts a refused request and writes it to the audit trail (rate
    /// limited there); `detail` says which protocol, call and why.
    pub fn note_refusal(&self, e: &crate::auth::AuthError, detail: serde_json::Value) {
        self.metrics.auth_failure(e.audit_kind());
        self.audit
            .record_auth_failure(e.audit_kind(), crate::http::now_ms(), detail);
    }

    /// Reserves `bytes` of the write budget now, or says why not (never
    /// waits: an overloaded server answers at once so senders back off).
    pub fn reserve(self: &Arc<Self>, bytes: usize) -> Result<Reservation, Overload> {
        let budget = self.config.limits.inflight_bytes as u64;
        let permits = bytes.div_ceil(PERMIT_BYTES).max(1);
        if permits * PERMIT_BYTES > self.config.limits.inflight_bytes {
            return Err(Overload::TooLarge {
                needed: bytes as u64,
                budget,
            });
        }
        let permit = Arc::clone(&self.inflight)
            .try_acquire_many_owned(permits as u32)
            .map_err(|_| Overload::Busy { budget })?;
        let reserved = (permits * PERMIT_BYTES) as u64;
        self.metrics.inflight_bytes.fetch_add(reserved, Relaxed);
        Ok(Reservation {
            _permit: permit,
            bytes: reserved,
            state: Arc::clone(self),
        })
    }

    /// Waits for a query slot until `deadline`.
    pub async fn query_slot(&self, wait: Duration) -> Option<OwnedSemaphorePermit> {
        tokio::time::timeout(wait, Arc::clone(&self.query_slots).acquire_owned())
            .await
            .ok()
            .and_then(Result::ok)
    }

    /// The series kind a remote-write sender declared for a metric, from its
    /// metadata (`_total`, `_bucket`, `_count`, `_sum` map to the family).
    pub fn kind_from_metadata(&self, metric: &str) -> SeriesKind {
        let meta = self.metadata.read();
        if meta.is_empty() {
            return SeriesKind::Unknown;
        }
        let lookup = |family: &str| meta.get(family).map(|m| m.kind);
        if let Some(k) = lookup(metric) {
            return match k {
                "counter" => SeriesKind::Counter,
                "gauge" => SeriesKind::Gauge,
                _ => SeriesKind::Unknown,
            };
        }
        for (suffix, hist, summary) in [
            ("_total", SeriesKind::Counter, SeriesKind::Counter),
            ("_bucket", SeriesKind::HistogramBucket, SeriesKind::Unknown),
            ("_count", SeriesKind::HistogramCount, SeriesKind::Counter),
            ("_sum", SeriesKind::HistogramSum, SeriesKind::Counter),
        ] {
            if let Some(family) = metric.strip_suffix(suffix) {
                match lookup(family) {
                    Some("counter") if suffix == "_total" => return SeriesKind::Counter,
                    Some("histogram") => return hist,
                    Some("summary") => return summary,
                    _ => {}
                }
            }
        }
        SeriesKind::Unknown
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Relaxed)
    }
}
