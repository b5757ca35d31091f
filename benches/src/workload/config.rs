//! The knobs of the workload, their defaults and the two presets.

use nines_engine::TimestampMs;

const SECOND_MS: i64 = 1_000;
const MINUTE_MS: i64 = 60 * SECOND_MS;
const HOUR_MS: i64 = 60 * MINUTE_MS;
const DAY_MS: i64 = 24 * HOUR_MS;
/// The longest duration, deploy interval or incident accepted: ten years.
const MAX_SPAN_MS: i64 = 3660 * DAY_MS;

/// 2026-01-05T00:00:00Z, a Monday, so the first day of the workload is a
/// working day and weekends fall on days 6 and 7.
pub const DEFAULT_START_MS: TimestampMs = 1_767_571_200_000;

/// Everything that shapes a workload. Two workloads built from equal configs
/// are bit-identical. Ranges are `(low, high)`; "log-uniform" means the log of
/// the value is uniform, so every decade of the range is equally likely.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkloadConfig {
    /// Seeds every random choice. Default 1.
    pub seed: u64,
    /// First scrape round, ms since the epoch. Default [`DEFAULT_START_MS`].
    pub start_ms: TimestampMs,
    /// Samples have grid times in `[start_ms, start_ms + duration_ms)`.
    pub duration_ms: i64,
    /// 15 s: the most common Prometheus scrape interval.
    pub scrape_interval_ms: i64,
    /// Value of the `namespace` label. Default `"prod"`.
    pub namespace: String,
    pub services: usize,
    pub endpoints_per_service: usize,
    /// Pods serving each service at any time (each deploy replaces them all).
    pub pods_per_service: usize,
    /// Values of the `code` label. 5xx codes share the service's error ratio,
    /// 4xx codes share `client_error_ratio`, the others the rest, equally
    /// within a class. Default 200, 404, 500, 503.
    pub status_codes: Vec<u16>,
    /// Upper bounds (seconds) of the histogram buckets, strictly increasing,
    /// without +Inf (always added). Default: client_golang's `DefBuckets`.
    pub buckets: Vec<f64>,
    /// Mean requests per second of one pod on one endpoint, log-uniform per
    /// service+endpoint; each pod gets it times a fixed factor in 0.9..1.1.
    /// Default 0.05..300: from near-idle admin routes to busy APIs.
    pub request_rate: (f64, f64),
    /// Relative amplitude of the daily traffic cycle (a cosine peaking at a
    /// per-service hour between 12:00 and 20:00 UTC). Default 0.6.
    pub daily_amplitude: f64,
    /// Traffic factor on Saturdays and Sundays (UTC). Default 0.7.
    pub weekend_factor: f64,
    /// Share of requests answered with a 4xx code. Default 0.02.
    pub client_error_ratio: f64,
    /// Baseline 5xx share per service, log-uniform. Default 0.0002..0.005,
    /// the range of services with 99.5 % to 99.98 % availability.
    pub error_ratio: (f64, f64),
    /// Mean number of incidents per service and week (a Poisson process).
    /// Default 1.
    pub incidents_per_week: f64,
    /// Incident length, log-uniform. Default 5 min..90 min.
    pub incident_duration_ms: (i64, i64),
    /// 5xx share during an incident, log-uniform. Default 0.02..0.4.
    pub incident_error_ratio: (f64, f64),
    /// Half of all incidents also slow the service down: its latency median
    /// is multiplied by this. Default 4.
    pub incident_latency_factor: f64,
    /// Median request latency per endpoint in ms, log-uniform. Default 8..150.
    pub latency_median_ms: (f64, f64),
    /// Shape (sigma of the log) of the lognormal latency per endpoint,
    /// uniform. Default 0.4..1.0.
    pub latency_sigma: (f64, f64),
    /// Mean restarts per pod and day (a Poisson process); a restart resets the
    /// pod's counters to 0. Default 0.1.
    pub restarts_per_pod_day: f64,
    /// Time between two deploys of a service, uniform; the first deploy falls
    /// uniformly in `(0, high)` after the start. Default 2..5 days.
    pub deploy_interval_ms: (i64, i64),
    /// A deploy replaces pod i at `deploy + i * stagger` (new pod starts) and
    /// stops the old pod i one stagger later, like a rolling update with
    /// surge 1. Default 30 s.
    pub deploy_stagger_ms: i64,
    /// Share of scrapes whose timestamp is 1..=`jitter_max_ms` ms late; the
    /// next scrape is on the grid again. Default 0.05.
    pub jitter_ratio: f64,
    /// Default 5 ms.
    pub jitter_max_ms: i64,
    /// Share of scrapes that are missed (no sample at all). A pod's first
    /// scrape is never missed. Default 0.0005.
    pub miss_ratio: f64,
}

impl Default for WorkloadConfig {
    /// The small preset.
    fn default() -> Self {
        WorkloadConfig::small()
    }
}

impl WorkloadConfig {
    /// About 2,000 series over 7 days (4 services x 3 endpoints x 3 pods,
    /// replaced by one or two deploys per service). Seed 1: 1,881 series,
    /// 27.6 M samples.
    pub fn small() -> WorkloadConfig {
        WorkloadConfig {
            seed: 1,
            start_ms: DEFAULT_START_MS,
            duration_ms: 7 * DAY_MS,
            scrape_interval_ms: 15 * SECOND_MS,
            namespace: "prod".to_string(),
            services: 4,
            endpoints_per_service: 3,
            pods_per_service: 3,
            status_codes: vec![200, 404, 500, 503],
            buckets: vec![
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ],
            request_rate: (0.05, 300.0),
            daily_amplitude: 0.6,
            weekend_factor: 0.7,
            client_error_ratio: 0.02,
            error_ratio: (0.0002, 0.005),
            incidents_per_week: 1.0,
            incident_duration_ms: (5 * MINUTE_MS, 90 * MINUTE_MS),
            incident_error_ratio: (0.02, 0.4),
            incident_latency_factor: 4.0,
            latency_median_ms: (8.0, 150.0),
            latency_sigma: (0.4, 1.0),
            restarts_per_pod_day: 0.1,
            deploy_interval_ms: (2 * DAY_MS, 5 * DAY_MS),
            deploy_stagger_ms: 30 * SECOND_MS,
            jitter_ratio: 0.05,
            jitter_max_ms: 5,
            miss_ratio: 0.0005,
        }
    }

    /// About 10,000 series over 14 days (10 services x 4 endpoints x 3 pods,
    /// three to eight pod generations each). Seed 1: 11,475 series, 181 M
    /// samples.
    pub fn medium() -> WorkloadConfig {
        WorkloadConfig {
            duration_ms: 14 * DAY_MS,
            services: 10,
            endpoints_per_service: 4,
            ..WorkloadConfig::small()
        }
    }

    /// The preset with this name (`small`, `medium`).
    pub fn preset(name: &str) -> Option<WorkloadConfig> {
        match name {
            "small" => Some(WorkloadConfig::small()),
            "medium" => Some(WorkloadConfig::medium()),
            _ => None,
        }
    }

    /// Sets the duration in whole days.
    pub fn with_days(mut self, days: i64) -> WorkloadConfig {
        self.duration_ms = days.saturating_mul(DAY_MS);
        self
    }

    pub fn with_seed(mut self, seed: u64) -> WorkloadConfig {
        self.seed = seed;
        self
    }

    /// Checks every knob; the error names the first one that is out of range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |field: &'static str, why: &str| {
            Err(ConfigError {
                field,
                reason: why.to_string(),
            })
        };
        if !(1_000..=DAY_MS).contains(&self.scrape_interval_ms) {
            return bad(
                "scrape_interval_ms",
                "must be in 1000..=86400000 (1 s to 1 day)",
            );
        }
        // Bounds on times keep every sum of times far from i64 overflow.
        if !(self.scrape_interval_ms..=MAX_SPAN_MS).contains(&self.duration_ms) {
            return bad(
                "duration_ms",
                "must be at least one scrape interval and at most 3660 days",
            );
        }
        // Year 9999: far below i64 overflow even after adding every span.
        if !(0..=253_402_300_799_999).contains(&self.start_ms) {
            return bad("start_ms", "must be between 1970 and the end of year 9999");
        }
        if self.services == 0 || self.endpoints_per_service == 0 || self.pods_per_service == 0 {
            return bad(
                "services",
                "services, endpoints_per_service and pods_per_service must be positive",
            );
        }
        let mut codes = self.status_codes.clone();
        codes.sort_unstable();
        codes.dedup();
        if codes.len() != self.status_codes.len() {
            return bad("status_codes", "codes must be distinct");
        }
        if codes.iter().any(|c| !(100..=599).contains(c)) {
            return bad("status_codes", "codes must be in 100..=599");
        }
        if !codes.iter().any(|c| *c < 400) {
            return bad("status_codes", "at least one code below 400 is needed");
        }
        if self.buckets.is_empty()
            || self.buckets.iter().any(|b| !b.is_finite() || *b <= 0.0)
            || self.buckets.windows(2).any(|w| w[0] >= w[1])
        {
            return bad(
                "buckets",
                "bounds must be finite, positive and strictly increasing",
            );
        }
        check_range("request_rate", self.request_rate, 0.0, f64::INFINITY)?;
        check_range("error_ratio", self.error_ratio, 0.0, 1.0)?;
        check_range("incident_error_ratio", self.incident_error_ratio, 0.0, 1.0)?;
        check_range("latency_median_ms", self.latency_median_ms, 0.0, 1e7)?;
        let (sigma_lo, sigma_hi) = self.latency_sigma;
        if !(sigma_lo > 0.0 && sigma_lo <= sigma_hi && sigma_hi <= 4.0) {
            return bad("latency_sigma", "must satisfy 0 < low <= high <= 4");
        }
        let worst_errors = self.error_ratio.1.max(self.incident_error_ratio.1);
        if !(self.client_error_ratio >= 0.0 && self.client_error_ratio + worst_errors < 1.0) {
            return bad(
                "client_error_ratio",
                "must be >= 0 and leave room for successes beside the 5xx share",
            );
        }
        if !(0.0..=1.0).contains(&self.daily_amplitude) {
            return bad("daily_amplitude", "must be in 0..=1");
        }
        if !(self.weekend_factor > 0.0 && self.weekend_factor <= 10.0) {
            return bad("weekend_factor", "must be in (0, 10]");
        }
        for (field, rate) in [
            ("incidents_per_week", self.incidents_per_week),
            ("restarts_per_pod_day", self.restarts_per_pod_day),
        ] {
            if !(0.0..=1e4).contains(&rate) {
                return bad(field, "must be in 0..=10000");
            }
        }
        if !(self.incident_latency_factor >= 1.0 && self.incident_latency_factor <= 1e3) {
            return bad("incident_latency_factor", "must be in 1..=1000");
        }
        let (dur_lo, dur_hi) = self.incident_duration_ms;
        if !(dur_lo > 0 && dur_lo <= dur_hi && dur_hi <= MAX_SPAN_MS) {
            return bad(
                "incident_duration_ms",
                "must satisfy 0 < low <= high <= 3660 days",
            );
        }
        let rollout = i64::try_from(self.pods_per_service)
            .ok()
            .and_then(|p| p.checked_add(1))
            .and_then(|p| p.checked_mul(self.deploy_stagger_ms));
        let (dep_lo, dep_hi) = self.deploy_interval_ms;
        match rollout {
            Some(r) if self.deploy_stagger_ms >= 0 && dep_lo > r + self.scrape_interval_ms => {}
            _ => {
                return bad(
                    "deploy_interval_ms",
                    "low must exceed a whole rollout (pods + 1 staggers) plus one scrape interval",
                )
            }
        }
        if dep_hi < dep_lo || dep_hi > MAX_SPAN_MS {
            return bad(
                "deploy_interval_ms",
                "high must be >= low and at most 3660 days",
            );
        }
        if !(0.0..=0.5).contains(&self.jitter_ratio) || !(0.0..=0.5).contains(&self.miss_ratio) {
            return bad(
                "jitter_ratio",
                "jitter_ratio and miss_ratio must be in 0..=0.5",
            );
        }
        if !(1..self.scrape_interval_ms / 2).contains(&self.jitter_max_ms) {
            return bad("jitter_max_ms", "must be in 1..(scrape interval / 2)");
        }
        Ok(())
    }
}

fn check_range(
    field: &'static str,
    (lo, hi): (f64, f64),
    min: f64,
    max: f64,
) -> Result<(), ConfigError> {
    if lo > min && lo <= hi && hi <= max && hi.is_finite() {
        Ok(())
    } else {
        Err(ConfigError {
            field,
            reason: format!("must satisfy {min} < low <= high <= {max}, got ({lo}, {hi})"),
        })
    }
}

/// A knob out of range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub field: &'static str,
    pub reason: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "workload config: {}: {}", self.field, self.reason)
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_validate() {
        assert_eq!(WorkloadConfig::small().validate(), Ok(()));
        assert_eq!(WorkloadConfig::medium().validate(), Ok(()));
        assert_eq!(
            WorkloadConfig::preset("medium"),
            Some(WorkloadConfig::medium())
        );
        assert_eq!(WorkloadConfig::preset("huge"), None);
    }

    #[test]
    fn validation_names_the_field() {
        let field = |c: WorkloadConfig| c.validate().err().map(|e| e.field);
        let base = WorkloadConfig::small;
        assert_eq!(
            field(WorkloadConfig {
                buckets: vec![0.1, 0.1],
                ..base()
            }),
            Some("buckets")
        );
        assert_eq!(
            field(WorkloadConfig {
                status_codes: vec![500],
                ..base()
            }),
            Some("status_codes")
        );
        assert_eq!(
            field(WorkloadConfig {
                request_rate: (0.0, 1.0),
                ..base()
            }),
            Some("request_rate")
        );
        assert_eq!(
            field(WorkloadConfig {
                deploy_interval_ms: (1_000, 2_000),
                ..base()
            }),
            Some("deploy_interval_ms")
        );
        assert_eq!(
            field(WorkloadConfig {
                duration_ms: 10,
                ..base()
            }),
            Some("duration_ms")
        );
        assert_eq!(
            field(WorkloadConfig {
                start_ms: i64::MAX - 1_000_000,
                ..base()
            }),
            Some("start_ms")
        );
        assert_eq!(
            field(WorkloadConfig {
                duration_ms: i64::MAX / 2,
                ..base()
            }),
            Some("duration_ms")
        );
        assert_eq!(
            field(WorkloadConfig {
                deploy_interval_ms: (DAY_MS, i64::MAX),
                ..base()
            }),
            Some("deploy_interval_ms")
        );
        assert_eq!(
            field(WorkloadConfig {
                jitter_max_ms: 0,
                ..base()
            }),
            Some("jitter_max_ms")
        );
    }
}
