//! The seeded SLI workload: what Prometheus would scrape from a fleet of
//! HTTP services, generated deterministically.
//!
//! Module map:
//! - [`config`]: [`WorkloadConfig`], its defaults and presets.
//! - `plan`: the model fixed up front: services, endpoints, traffic cycle,
//!   incidents, deploys, pods with their restarts and scrape clocks.
//! - `latency`: lognormal whole-ms latencies and the bucket intervals.
//! - `emit`: series emission; one *unit* (a pod+endpoint's counters and
//!   histogram, or a pod's gauges) is drawn from one seeded stream.
//! - `batches`: time-ordered iteration ([`Workload::batches`]).
//! - [`info`]: [`information_content`], the yardstick for bytes on disk.
//! - `exact`: reference answers ([`Workload::increase`]).
//!
//! The series of one pod and endpoint:
//! `http_requests_total{code}` (counter, one per status code),
//! `http_request_duration_seconds_bucket{le}` (cumulative, +Inf last),
//! `_count` (equals the +Inf bucket and the sum over codes) and `_sum` (whole
//! ms / 1000), all with `namespace`, `job`, `service`, `pod` and `endpoint`
//! labels. The histogram has no `code` label, as in Prometheus's own
//! `prometheus_http_request_duration_seconds`. Per pod: gauges `up`,
//! `process_resident_memory_bytes` and `process_open_fds`.
//!
//! Determinism: a workload is a pure function of its config. Every unit draws
//! from its own stream keyed by (seed, pod index, unit), so every iteration
//! order gives the same samples, bit for bit, with the `rand` and
//! `rand_distr` versions pinned by Cargo.lock (their algorithms are not
//! promised stable across major versions) on one platform (`exp`, `ln` and
//! `cos` come from the system's libm).

pub mod config;
pub mod info;

mod batches;
mod emit;
mod exact;
mod latency;
mod plan;

use nines_engine::{Labels, SeriesBatch, TimestampMs};

pub use batches::Batches;
pub use config::{ConfigError, WorkloadConfig, DEFAULT_START_MS};
pub use exact::{contract_increase, SeriesSelector};
pub use info::{information_content, InfoContent, InfoTotals};

use emit::{Unit, UnitKind};
use plan::Plan;

/// A generated workload. Cheap to build (it holds only the plan); samples are
/// drawn on each iteration.
pub struct Workload {
    plan: Plan,
}

/// Something that happened to the fleet, for annotations and for checking
/// that a harness sees it.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// The service's pods are replaced, one every `deploy_stagger_ms`.
    Deploy { service: String, at_ms: TimestampMs },
    /// `[start_ms, end_ms)`: the 5xx share is `error_ratio`; if `slow`,
    /// latencies are `incident_latency_factor` times longer.
    Incident {
        service: String,
        start_ms: TimestampMs,
        end_ms: TimestampMs,
        error_ratio: f64,
        slow: bool,
    },
    /// The pod's process restarted; its counters start again from 0.
    Restart {
        service: String,
        pod: String,
        at_ms: TimestampMs,
    },
}

impl Event {
    pub fn at_ms(&self) -> TimestampMs {
        match self {
            Event::Deploy { at_ms, .. } | Event::Restart { at_ms, .. } => *at_ms,
            Event::Incident { start_ms, .. } => *start_ms,
        }
    }
}

impl Workload {
    pub fn new(config: WorkloadConfig) -> Result<Workload, ConfigError> {
        Ok(Workload {
            plan: Plan::new(config)?,
        })
    }

    pub fn config(&self) -> &WorkloadConfig {
        &self.plan.config
    }

    /// `start_ms + duration_ms`: every grid time is below it (a late scrape
    /// may land up to `jitter_max_ms` after it).
    pub fn end_ms(&self) -> TimestampMs {
        self.plan.config.start_ms + self.plan.config.duration_ms
    }

    /// Series with at least one sample. Exact, from the plan.
    pub fn series_count(&self) -> u64 {
        (self.plan.pods.len() * self.plan.series_per_pod()) as u64
    }

    /// Samples, stale markers included. Exact, from the plan.
    pub fn sample_count(&self) -> u64 {
        let per_pod = self.plan.series_per_pod() as u64;
        self.plan
            .pods
            .iter()
            .map(|p| (p.scrapes + u64::from(p.stale)) * per_pod)
            .sum()
    }

    /// Samples scrape round by scrape round in batches of at most
    /// `max_samples` (at least 1); see [`Batches`].
    pub fn batches(&self, max_samples: usize) -> Batches<'_> {
        Batches::new(&self.plan, max_samples)
    }

    /// Calls `f` with each series whole, one at a time. Memory is bounded by
    /// one unit (up to 18 series with the defaults) over its pod's lifetime.
    pub fn for_each_series(&self, f: impl FnMut(SeriesBatch)) {
        self.for_each_series_where(|_| true, f);
    }

    /// [`Workload::for_each_series`] restricted to the series whose labels
    /// satisfy `wanted`; units with no wanted series are not generated.
    pub fn for_each_series_where(
        &self,
        wanted: impl Fn(&Labels) -> bool,
        mut f: impl FnMut(SeriesBatch),
    ) {
        for (p, pod) in self.plan.pods.iter().enumerate() {
            for kind in self.unit_kinds() {
                let Some(mut unit) = Unit::new(&self.plan, p, kind) else {
                    continue;
                };
                let series = unit.series();
                let keep: Vec<bool> = series.iter().map(|(l, _)| wanted(l)).collect();
                if !keep.contains(&true) {
                    continue;
                }
                let cap = (pod.scrapes + u64::from(pod.stale)) as usize;
                let mut timestamps = Vec::with_capacity(cap);
                let mut columns: Vec<Vec<f64>> = keep
                    .iter()
                    .map(|&k| {
                        if k {
                            Vec::with_capacity(cap)
                        } else {
                            Vec::new()
                        }
                    })
                    .collect();
                for k in unit.slots() {
                    if let Some(ts) = unit.step(k) {
                        timestamps.push(ts);
                        for ((col, &v), &k) in columns.iter_mut().zip(unit.values()).zip(&keep) {
                            if k {
                                col.push(v);
                            }
                        }
                    }
                }
                for (((labels, kind), values), k) in series.into_iter().zip(columns).zip(&keep) {
                    if *k {
                        f(SeriesBatch {
                            labels,
                            kind,
                            timestamps: timestamps.clone(),
                            values,
                            resolved: None,
                        });
                    }
                }
            }
        }
    }

    fn unit_kinds(&self) -> impl Iterator<Item = UnitKind> {
        (0..self.plan.config.endpoints_per_service)
            .map(UnitKind::Endpoint)
            .chain([UnitKind::Gauges])
    }

    /// Deploys, incidents and restarts (of pods while they were scraped),
    /// sorted by time.
    pub fn events(&self) -> Vec<Event> {
        let mut out = Vec::new();
        for s in &self.plan.services {
            for &at_ms in &s.deploys {
                out.push(Event::Deploy {
                    service: s.name.clone(),
                    at_ms,
                });
            }
            for i in &s.incidents {
                out.push(Event::Incident {
                    service: s.name.clone(),
                    start_ms: i.start_ms,
                    end_ms: i.end_ms,
                    error_ratio: i.error_ratio,
                    slow: i.slow,
                });
            }
        }
        for pod in &self.plan.pods {
            for r in &pod.restarts {
                out.push(Event::Restart {
                    service: self.plan.services[pod.service].name.clone(),
                    pod: pod.name.clone(),
                    at_ms: r.at_ms,
                });
            }
        }
        out.sort_by_key(Event::at_ms);
        out
    }
}

#[cfg(test)]
mod tests;
