//! The model of the monitored system, fixed before any sample is drawn:
//! services with endpoints, their traffic cycle, incidents and deploys, the
//! pods (scrape targets) each deploy creates, their restarts and scrape
//! clocks. Everything here is small; samples are drawn later, per pod, from
//! random streams keyed by the pod's index (see [`stream_rng`]).

use std::collections::HashSet;

use nines_engine::TimestampMs;
use rand::rngs::SmallRng;
use rand::{Rng, RngCore, SeedableRng};

use super::config::{ConfigError, WorkloadConfig};
use super::latency::{edge_ms, LatencyModel};

const DAY_MS: i64 = 86_400_000;
const WEEK_MS: f64 = 7.0 * DAY_MS as f64;

/// What a random stream of a pod is used for; part of its seed.
#[derive(Clone, Copy, Debug)]
pub enum Stream {
    Clock,
    Gauges,
    Endpoint(usize),
}

/// The independent random stream of one pod and purpose. Streams depend only
/// on the seed, the pod's index and the purpose, never on iteration order.
pub fn stream_rng(seed: u64, pod: usize, stream: Stream) -> SmallRng {
    let purpose = match stream {
        Stream::Clock => 0,
        Stream::Gauges => 1,
        Stream::Endpoint(e) => 2 + e as u64,
    };
    let key = mix(mix(seed ^ 0x6e69_6e65_7321) ^ pod as u64) ^ purpose;
    SmallRng::seed_from_u64(mix(key))
}

/// SplitMix64's finaliser: a bijection that spreads every input bit.
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[derive(Clone, Debug)]
pub struct Service {
    pub name: String,
    /// Hour of day (UTC) of the traffic peak.
    pub peak_hour: f64,
    /// Baseline 5xx share.
    pub error_ratio: f64,
    pub endpoints: Vec<Endpoint>,
    /// Sorted, non-overlapping.
    pub incidents: Vec<Incident>,
    /// Deploy times, sorted.
    pub deploys: Vec<TimestampMs>,
}

#[derive(Clone, Debug)]
pub struct Endpoint {
    pub name: String,
    /// Mean requests per second of one pod (before its rate factor).
    pub rate: f64,
    pub latency: LatencyModel,
    /// The latency during incidents that slow the service down.
    pub degraded: LatencyModel,
}

/// A period of elevated 5xx share (and, if `slow`, latency) of one service.
#[derive(Clone, Debug, PartialEq)]
pub struct Incident {
    pub start_ms: TimestampMs,
    pub end_ms: TimestampMs,
    pub error_ratio: f64,
    pub slow: bool,
}

/// A pod restart: counters restart from 0 during the interval before `slot`,
/// `fraction` of that interval before the scrape.
#[derive(Clone, Debug, PartialEq)]
pub struct Restart {
    pub at_ms: TimestampMs,
    pub slot: u64,
    pub fraction: f64,
}

/// One scrape target: a pod of one deploy generation of a service.
#[derive(Clone, Debug)]
pub struct Pod {
    pub service: usize,
    pub name: String,
    /// Process start; before the workload for pods already running then.
    pub start_ms: TimestampMs,
    /// The pod's scrape grid is `workload start + phase + k * interval`.
    pub phase_ms: i64,
    pub first_slot: u64,
    /// One past the last scrape slot.
    pub end_slot: u64,
    /// Whether a stale marker follows at slot `end_slot` (the pod was
    /// replaced before the workload ended).
    pub stale: bool,
    /// Multiplies the endpoints' request rates (load-balancer imbalance).
    pub rate_factor: f64,
    /// Sorted by slot, at most one per slot, never at `first_slot`.
    pub restarts: Vec<Restart>,
    /// Scrapes that were not missed.
    pub scrapes: u64,
}

/// The status codes and their class, which decides their share.
#[derive(Clone, Debug)]
pub struct Codes {
    pub labels: Vec<String>,
    /// Per code: 0 = success (< 400), 1 = client error (4xx), 2 = server error (5xx).
    pub class: Vec<u8>,
    /// Codes per class.
    pub per_class: [usize; 3],
}

impl Codes {
    fn new(codes: &[u16]) -> Codes {
        let class: Vec<u8> = codes
            .iter()
            .map(|&c| match c {
                500.. => 2,
                400..500 => 1,
                _ => 0,
            })
            .collect();
        let mut per_class = [0; 3];
        for &c in &class {
            per_class[usize::from(c)] += 1;
        }
        Codes {
            labels: codes.iter().map(|c| c.to_string()).collect(),
            class,
            per_class,
        }
    }

    /// Share of each code given the 4xx and 5xx shares; a class without
    /// codes gives its share to the successes.
    pub fn shares(&self, client: f64, server: f64, out: &mut [f64]) {
        let client = if self.per_class[1] > 0 { client } else { 0.0 };
        let server = if self.per_class[2] > 0 { server } else { 0.0 };
        let class_share = [1.0 - client - server, client, server];
        for (o, &c) in out.iter_mut().zip(&self.class) {
            let c = usize::from(c);
            *o = class_share[c] / self.per_class[c] as f64;
        }
    }
}

/// The whole model. Built once per workload.
#[derive(Clone, Debug)]
pub struct Plan {
    pub config: WorkloadConfig,
    /// Scrape rounds: every grid time is below `start + slots * interval`.
    pub slots: u64,
    /// `le` label values, `+Inf` last.
    pub le_labels: Vec<String>,
    pub codes: Codes,
    pub services: Vec<Service>,
    /// Ordered by service, deploy generation, pod number.
    pub pods: Vec<Pod>,
}

const SERVICE_NAMES: [&str; 16] = [
    "checkout",
    "cart",
    "payments",
    "search",
    "catalog",
    "auth",
    "users",
    "shipping",
    "inventory",
    "recommendations",
    "reviews",
    "notifications",
    "orders",
    "pricing",
    "gateway",
    "media",
];

const ROUTES: [&str; 12] = [
    "/api/v1/orders",
    "/api/v1/orders/{id}",
    "/api/v1/items",
    "/api/v1/items/{id}",
    "/api/v1/search",
    "/api/v1/login",
    "/api/v1/cart",
    "/api/v1/checkout",
    "/api/v1/users/{id}",
    "/api/v2/quotes",
    "/internal/sync",
    "/healthz",
];

/// Kubernetes' alphabet for generated names (no vowels, no look-alikes).
const POD_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// A value whose log is uniform in `(ln lo, ln hi)`.
pub fn log_uniform<R: Rng>(rng: &mut R, (lo, hi): (f64, f64)) -> f64 {
    if lo >= hi {
        return lo;
    }
    (rng.gen_range(lo.ln()..hi.ln())).exp()
}

fn uniform<R: Rng>(rng: &mut R, (lo, hi): (f64, f64)) -> f64 {
    if lo >= hi {
        lo
    } else {
        rng.gen_range(lo..hi)
    }
}

fn uniform_ms<R: Rng>(rng: &mut R, (lo, hi): (i64, i64)) -> i64 {
    if lo >= hi {
        lo
    } else {
        rng.gen_range(lo..=hi)
    }
}

/// Exponential waiting time in ms for events at `per_ms` per ms.
fn exponential_ms<R: Rng>(rng: &mut R, per_ms: f64) -> f64 {
    let u: f64 = rng.gen();
    -(1.0 - u).ln() / per_ms
}

fn random_name<R: Rng>(rng: &mut R, len: usize) -> String {
    (0..len)
        .map(|_| char::from(POD_ALPHABET[rng.gen_range(0..POD_ALPHABET.len())]))
        .collect()
}

impl Plan {
    pub fn new(config: WorkloadConfig) -> Result<Plan, ConfigError> {
        config.validate()?;
        let c = &config;
        let mut rng = SmallRng::seed_from_u64(mix(c.seed));
        let end = c.start_ms + c.duration_ms;
        let slots = (c.duration_ms as u64).div_ceil(c.scrape_interval_ms as u64);
        let edges_ms: Vec<u64> = c.buckets.iter().map(|&b| edge_ms(b)).collect();
        let mut le_labels: Vec<String> = c.buckets.iter().map(|b| b.to_string()).collect();
        le_labels.push("+Inf".to_string());

        let mut services = Vec::with_capacity(c.services);
        for s in 0..c.services {
            let name = match SERVICE_NAMES.get(s) {
                Some(n) => n.to_string(),
                None => format!("{}-{}", SERVICE_NAMES[s % SERVICE_NAMES.len()], s),
            };
            let peak_hour = rng.gen_range(12.0..20.0);
            let error_ratio = log_uniform(&mut rng, c.error_ratio);
            let mut routes: Vec<usize> = (0..ROUTES.len()).collect();
            for i in (1..routes.len()).rev() {
                routes.swap(i, rng.gen_range(0..=i));
            }
            let endpoints = (0..c.endpoints_per_service)
                .map(|e| {
                    let name = match routes.get(e) {
                        Some(&r) => ROUTES[r].to_string(),
                        None => format!("{}/{}", ROUTES[routes[e % routes.len()]], e),
                    };
                    let rate = log_uniform(&mut rng, c.request_rate);
                    let median = log_uniform(&mut rng, c.latency_median_ms);
                    let sigma = uniform(&mut rng, c.latency_sigma);
                    Endpoint {
                        name,
                        rate,
                        latency: LatencyModel::new(median, sigma, &edges_ms),
                        degraded: LatencyModel::new(
                            median * c.incident_latency_factor,
                            sigma,
                            &edges_ms,
                        ),
                    }
                })
                .collect();
            let mut incidents = Vec::new();
            if c.incidents_per_week > 0.0 {
                let per_ms = c.incidents_per_week / WEEK_MS;
                let mut t = c.start_ms as f64 + exponential_ms(&mut rng, per_ms);
                while t < end as f64 {
                    let (lo, hi) = c.incident_duration_ms;
                    let len = log_uniform(&mut rng, (lo as f64, hi as f64)) as i64;
                    let start_ms = t as i64;
                    incidents.push(Incident {
                        start_ms,
                        end_ms: start_ms + len.max(1),
                        error_ratio: log_uniform(&mut rng, c.incident_error_ratio),
                        slow: rng.gen_bool(0.5),
                    });
                    t = (start_ms + len) as f64 + exponential_ms(&mut rng, per_ms);
                }
            }
            let mut deploys = Vec::new();
            let (dep_lo, dep_hi) = c.deploy_interval_ms;
            let mut t = c.start_ms + rng.gen_range(1..=dep_hi);
            while t < end {
                deploys.push(t);
                t += uniform_ms(&mut rng, (dep_lo, dep_hi));
            }
            services.push(Service {
                name,
                peak_hour,
                error_ratio,
                endpoints,
                incidents,
                deploys,
            });
        }

        let mut plan = Plan {
            slots,
            le_labels,
            codes: Codes::new(&c.status_codes),
            services,
            pods: Vec::new(),
            config: c.clone(),
        };
        plan.pods = plan.plan_pods(&mut rng);
        Ok(plan)
    }

    fn plan_pods(&self, rng: &mut SmallRng) -> Vec<Pod> {
        let c = &self.config;
        let end = c.start_ms + c.duration_ms;
        let mut pods = Vec::new();
        let mut names = HashSet::new();
        for (s, service) in self.services.iter().enumerate() {
            for generation in 0..=service.deploys.len() {
                let replica_set = random_name(rng, 10);
                for i in 0..c.pods_per_service {
                    let stagger = c.deploy_stagger_ms * i as i64;
                    let start_ms = match generation {
                        0 => c.start_ms - rng.gen_range(0..=c.deploy_interval_ms.1),
                        g => service.deploys[g - 1] + stagger,
                    };
                    let stop_ms = service
                        .deploys
                        .get(generation)
                        .map(|d| d + stagger + c.deploy_stagger_ms);
                    let name = loop {
                        let n = format!("{}-{}-{}", service.name, replica_set, random_name(rng, 5));
                        if names.insert(n.clone()) {
                            break n;
                        }
                    };
                    let phase_ms = rng.gen_range(0..c.scrape_interval_ms);
                    let rate_factor = rng.gen_range(0.9..1.1);
                    let first_slot = self.first_slot_at_or_after(phase_ms, start_ms);
                    let last = self.first_slot_at_or_after(phase_ms, end);
                    let stop = stop_ms.map_or(last, |t| self.first_slot_at_or_after(phase_ms, t));
                    let end_slot = stop.min(last);
                    let restarts = self.plan_restarts(
                        rng,
                        phase_ms,
                        start_ms.max(c.start_ms),
                        stop_ms.unwrap_or(end),
                    );
                    if first_slot >= end_slot {
                        continue;
                    }
                    let mut pod = Pod {
                        service: s,
                        name,
                        start_ms,
                        phase_ms,
                        first_slot,
                        end_slot,
                        stale: stop < last,
                        rate_factor,
                        restarts: restarts
                            .into_iter()
                            .filter(|r| r.slot > first_slot && r.slot < end_slot)
                            .collect(),
                        scrapes: 0,
                    };
                    let mut clock = ScrapeClock::new(self, pods.len(), &pod);
                    pod.scrapes = (first_slot..end_slot)
                        .filter(|&k| clock.scrape(k).is_some())
                        .count() as u64;
                    pods.push(pod);
                }
            }
        }
        pods
    }

    fn plan_restarts(&self, rng: &mut SmallRng, phase_ms: i64, from: i64, to: i64) -> Vec<Restart> {
        let c = &self.config;
        let mut out: Vec<Restart> = Vec::new();
        if c.restarts_per_pod_day <= 0.0 {
            return out;
        }
        let per_ms = c.restarts_per_pod_day / DAY_MS as f64;
        let mut t = from as f64 + exponential_ms(rng, per_ms);
        while t < to as f64 {
            let at_ms = t as i64;
            // The first scrape strictly after the restart sees the new process.
            let slot = self.first_slot_at_or_after(phase_ms, at_ms + 1);
            let fraction =
                (self.grid_ms(phase_ms, slot) - at_ms) as f64 / c.scrape_interval_ms as f64;
            if out.last().is_none_or(|r| r.slot < slot) {
                out.push(Restart {
                    at_ms,
                    slot,
                    fraction: fraction.clamp(0.0, 1.0),
                });
            }
            t += exponential_ms(rng, per_ms);
        }
        out
    }

    /// Grid time of slot `k` for a target with this phase.
    pub fn grid_ms(&self, phase_ms: i64, k: u64) -> TimestampMs {
        self.config.start_ms + phase_ms + k as i64 * self.config.scrape_interval_ms
    }

    /// The first slot whose grid time is `>= t`.
    fn first_slot_at_or_after(&self, phase_ms: i64, t: TimestampMs) -> u64 {
        let rel = t - self.config.start_ms - phase_ms;
        if rel <= 0 {
            0
        } else {
            (rel as u64).div_ceil(self.config.scrape_interval_ms as u64)
        }
    }

    /// Traffic relative to the mean at time `t`: the daily cycle times the
    /// weekend factor.
    pub fn traffic(&self, service: &Service, t: TimestampMs) -> f64 {
        let c = &self.config;
        let hour = t.rem_euclid(DAY_MS) as f64 / 3_600_000.0;
        // 1970-01-01 was a Thursday; 0 = Monday.
        let weekday = (t.div_euclid(DAY_MS) + 3).rem_euclid(7);
        let weekend = if weekday >= 5 { c.weekend_factor } else { 1.0 };
        let angle = (hour - service.peak_hour) / 24.0 * std::f64::consts::TAU;
        weekend * (1.0 + c.daily_amplitude * angle.cos())
    }

    /// Series per pod: per endpoint one counter per code, the buckets with
    /// +Inf, `_count` and `_sum`; plus the pod's gauges.
    pub fn series_per_endpoint(&self) -> usize {
        self.codes.labels.len() + self.le_labels.len() + 2
    }

    pub fn series_per_pod(&self) -> usize {
        self.config.endpoints_per_service * self.series_per_endpoint() + super::emit::GAUGES
    }
}

/// Where a pod's scrapes land. Prometheus's ticker does not drift, so a late
/// scrape is followed by one on the grid again.
///
/// Every unit of a pod runs its own copy from the same stream, so all of a
/// pod's series get the same timestamps in any iteration order.
pub struct ScrapeClock {
    rng: SmallRng,
    grid0: TimestampMs,
    interval: i64,
    first_slot: u64,
    miss_ratio: f64,
    late_ratio: f64,
    jitter_max: u64,
}

impl ScrapeClock {
    pub fn new(plan: &Plan, pod_index: usize, pod: &Pod) -> ScrapeClock {
        let c = &plan.config;
        ScrapeClock {
            rng: stream_rng(c.seed, pod_index, Stream::Clock),
            grid0: plan.grid_ms(pod.phase_ms, 0),
            interval: c.scrape_interval_ms,
            first_slot: pod.first_slot,
            miss_ratio: c.miss_ratio,
            late_ratio: c.miss_ratio + c.jitter_ratio,
            jitter_max: c.jitter_max_ms as u64,
        }
    }

    pub fn grid(&self, k: u64) -> TimestampMs {
        self.grid0 + k as i64 * self.interval
    }

    /// The timestamp of slot `k`'s scrape, `None` when it was missed. Must be
    /// called once per slot, in order, from the pod's first slot.
    pub fn scrape(&mut self, k: u64) -> Option<TimestampMs> {
        let bits = self.rng.next_u64();
        let u = (bits >> 11) as f64 / (1u64 << 53) as f64;
        if u < self.miss_ratio && k != self.first_slot {
            None
        } else if u < self.late_ratio {
            Some(self.grid(k) + 1 + (bits % self.jitter_max) as i64)
        } else {
            Some(self.grid(k))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_have_the_advertised_size() {
        let small = Plan::new(WorkloadConfig::small()).unwrap();
        let series = small.pods.len() * small.series_per_pod();
        assert!((1_500..=2_600).contains(&series), "small: {series} series");
        let medium = Plan::new(WorkloadConfig::medium()).unwrap();
        let series = medium.pods.len() * medium.series_per_pod();
        assert!(
            (8_000..=12_500).contains(&series),
            "medium: {series} series"
        );
    }

    #[test]
    fn pods_cover_the_window_without_gaps_in_service() {
        let plan = Plan::new(WorkloadConfig::small()).unwrap();
        let c = &plan.config;
        for (s, service) in plan.services.iter().enumerate() {
            let pods: Vec<&Pod> = plan.pods.iter().filter(|p| p.service == s).collect();
            assert_eq!(pods.len(), c.pods_per_service * (service.deploys.len() + 1));
            assert_eq!(
                pods.iter().filter(|p| p.first_slot == 0).count(),
                c.pods_per_service
            );
            assert_eq!(
                pods.iter().filter(|p| p.stale).count(),
                c.pods_per_service * service.deploys.len()
            );
            // At every slot some pod of the service is up.
            for k in (0..plan.slots).step_by(97) {
                assert!(
                    pods.iter().any(|p| p.first_slot <= k && k < p.end_slot),
                    "{} slot {k}",
                    service.name
                );
            }
        }
    }

    #[test]
    fn clock_rates_match_the_config() {
        let plan = Plan::new(WorkloadConfig::small()).unwrap();
        let pod = &plan.pods[0];
        let mut clock = ScrapeClock::new(&plan, 0, pod);
        let n = 400_000u64;
        let (mut missed, mut late) = (0u64, 0u64);
        let mut prev = None;
        for k in 0..n {
            match clock.scrape(k) {
                None => missed += 1,
                Some(t) => {
                    let off = t - clock.grid(k);
                    assert!((0..=plan.config.jitter_max_ms).contains(&off));
                    if off > 0 {
                        late += 1;
                    }
                    assert!(prev.is_none_or(|p| p < t));
                    prev = Some(t);
                }
            }
        }
        // Binomial standard deviations: miss ~14, late ~138.
        let (m, l) = (missed as f64 / n as f64, late as f64 / n as f64);
        assert!((m - 0.0005).abs() < 0.0002, "miss share {m}");
        assert!((l - 0.05).abs() < 0.002, "late share {l}");
    }

    #[test]
    fn traffic_cycles_daily_and_drops_on_weekends() {
        let plan = Plan::new(WorkloadConfig::small()).unwrap();
        let s = &plan.services[0];
        let day = DAY_MS;
        let start = plan.config.start_ms; // a Monday
        let peak = start + (s.peak_hour * 3_600_000.0) as i64;
        assert!((plan.traffic(s, peak) - 1.6).abs() < 1e-6);
        assert!((plan.traffic(s, peak + day / 2) - 0.4).abs() < 1e-6);
        assert!((plan.traffic(s, peak + 5 * day) - 1.6 * 0.7).abs() < 1e-6);
        assert!((plan.traffic(s, peak + 7 * day) - 1.6).abs() < 1e-6);
    }
}
