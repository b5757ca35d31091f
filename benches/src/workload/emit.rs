//! Series emission. A *unit* is a group of series drawn jointly from one
//! random stream: all request counters and the latency histogram of one
//! pod+endpoint, or the gauges of one pod. A unit is stepped once per scrape
//! slot of its pod, in order; its state evolves at every slot (requests keep
//! arriving when a scrape is missed), and a scrape only observes it.

use nines_engine::{Labels, SeriesKind, TimestampMs, METRIC_NAME, STALE_NAN_BITS};
use rand::rngs::SmallRng;
use rand::Rng;
use rand_distr::{Binomial, Distribution, Poisson, StandardNormal};

use super::latency::LatencyModel;
use super::plan::{log_uniform, stream_rng, Plan, Pod, ScrapeClock, Stream};

/// Gauges per pod: `up`, `process_resident_memory_bytes`, `process_open_fds`.
pub const GAUGES: usize = 3;

/// Up to this many requests in a slot are drawn one by one (code, then an
/// exact whole-ms latency); above it the counts are split by binomials and
/// the latency total is drawn from its normal approximation.
const EXACT_REQUESTS: u64 = 32;

const PAGE: u64 = 4096;

/// Which unit of a pod: endpoint `e`, or the gauges.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnitKind {
    Endpoint(usize),
    Gauges,
}

/// One group of jointly drawn series of one pod.
pub struct Unit<'a> {
    plan: &'a Plan,
    pod: &'a Pod,
    kind: UnitKind,
    clock: ScrapeClock,
    rng: SmallRng,
    next_restart: usize,
    state: State<'a>,
    /// The values of the last emitted slot, one per series.
    values: Vec<f64>,
}

enum State<'a> {
    Endpoint(EndpointState<'a>),
    Gauges(GaugeState),
}

impl<'a> Unit<'a> {
    pub fn new(plan: &'a Plan, pod_index: usize, kind: UnitKind) -> Option<Unit<'a>> {
        let pod = plan.pods.get(pod_index)?;
        let seed = plan.config.seed;
        let (state, stream, n) = match kind {
            UnitKind::Endpoint(e) => {
                let service = &plan.services[pod.service];
                let endpoint = service.endpoints.get(e)?;
                let state = EndpointState {
                    rate: endpoint.rate * pod.rate_factor,
                    normal: &endpoint.latency,
                    degraded: &endpoint.degraded,
                    incident: 0,
                    codes: vec![0; plan.codes.labels.len()],
                    intervals: vec![0; plan.le_labels.len()],
                    sum_ms: 0,
                    shares: vec![0.0; plan.codes.labels.len()],
                    slot_codes: vec![0; plan.codes.labels.len()],
                    slot_intervals: vec![0; plan.le_labels.len()],
                };
                (
                    State::Endpoint(state),
                    Stream::Endpoint(e),
                    plan.series_per_endpoint(),
                )
            }
            UnitKind::Gauges => (State::Gauges(GaugeState::default()), Stream::Gauges, GAUGES),
        };
        Some(Unit {
            plan,
            pod,
            kind,
            clock: ScrapeClock::new(plan, pod_index, pod),
            rng: stream_rng(seed, pod_index, stream),
            next_restart: 0,
            state,
            values: vec![0.0; n],
        })
    }

    /// The slots to step through, in order: the pod's scrape slots and the
    /// stale-marker slot if there is one.
    pub fn slots(&self) -> std::ops::Range<u64> {
        self.pod.first_slot..self.pod.end_slot + u64::from(self.pod.stale)
    }

    /// Label sets and kinds of the unit's series, in the order of `values`.
    pub fn series(&self) -> Vec<(Labels, SeriesKind)> {
        let plan = self.plan;
        let service = &plan.services[self.pod.service];
        let base = |name: &str, extra: &[(&str, &str)]| {
            let mut pairs: Vec<(&str, &str)> = vec![
                (METRIC_NAME, name),
                ("namespace", &plan.config.namespace),
                ("job", &service.name),
                ("service", &service.name),
                ("pod", &self.pod.name),
            ];
            pairs.extend_from_slice(extra);
            Labels::from_pairs(&pairs)
        };
        match self.kind {
            UnitKind::Gauges => vec![
                (base("up", &[]), SeriesKind::Gauge),
                (
                    base("process_resident_memory_bytes", &[]),
                    SeriesKind::Gauge,
                ),
                (base("process_open_fds", &[]), SeriesKind::Gauge),
            ],
            UnitKind::Endpoint(e) => {
                let endpoint = service.endpoints.get(e).map_or("", |e| e.name.as_str());
                let mut out = Vec::with_capacity(self.values.len());
                for code in &plan.codes.labels {
                    out.push((
                        base(
                            "http_requests_total",
                            &[("endpoint", endpoint), ("code", code)],
                        ),
                        SeriesKind::Counter,
                    ));
                }
                for le in &plan.le_labels {
                    out.push((
                        base(
                            "http_request_duration_seconds_bucket",
                            &[("endpoint", endpoint), ("le", le)],
                        ),
                        SeriesKind::HistogramBucket,
                    ));
                }
                out.push((
                    base(
                        "http_request_duration_seconds_count",
                        &[("endpoint", endpoint)],
                    ),
                    SeriesKind::HistogramCount,
                ));
                out.push((
                    base(
                        "http_request_duration_seconds_sum",
                        &[("endpoint", endpoint)],
                    ),
                    SeriesKind::HistogramSum,
                ));
                out
            }
        }
    }

    /// Advances to slot `k` (the next of [`Unit::slots`]). Returns the
    /// timestamp when the slot produced samples, whose values are then in
    /// [`Unit::values`]; `None` when the scrape was missed.
    pub fn step(&mut self, k: u64) -> Option<TimestampMs> {
        let pod = self.pod;
        if k >= pod.end_slot {
            self.values.fill(f64::from_bits(STALE_NAN_BITS));
            return Some(self.clock.grid(k));
        }
        let interval = self.plan.config.scrape_interval_ms as f64;
        let grid = self.clock.grid(k);
        let mut reset = false;
        let span_ms = if k == pod.first_slot {
            (grid - pod.start_ms) as f64
        } else if pod
            .restarts
            .get(self.next_restart)
            .is_some_and(|r| r.slot == k)
        {
            let fraction = pod.restarts[self.next_restart].fraction;
            self.next_restart += 1;
            reset = true;
            fraction * interval
        } else {
            interval
        };
        let first = k == pod.first_slot;
        match &mut self.state {
            State::Endpoint(st) => st.advance(self.plan, pod, &mut self.rng, grid, span_ms, reset),
            State::Gauges(st) => st.advance(&mut self.rng, first, reset),
        }
        let ts = self.clock.scrape(k)?;
        match &self.state {
            State::Endpoint(st) => st.write(&mut self.values),
            State::Gauges(st) => st.write(&mut self.values),
        }
        Some(ts)
    }

    pub fn values(&self) -> &[f64] {
        &self.values
    }
}

/// Cumulative request counts of one pod+endpoint since its process started.
struct EndpointState<'a> {
    /// Mean requests per second at traffic factor 1.
    rate: f64,
    normal: &'a LatencyModel,
    degraded: &'a LatencyModel,
    /// Index of the first incident of the service that has not ended.
    incident: usize,
    codes: Vec<u64>,
    /// Requests per latency interval (not cumulative over `le`).
    intervals: Vec<u64>,
    sum_ms: u64,
    // Per-slot scratch, kept to avoid allocating per slot.
    shares: Vec<f64>,
    slot_codes: Vec<u64>,
    slot_intervals: Vec<u64>,
}

impl EndpointState<'_> {
    fn advance(
        &mut self,
        plan: &Plan,
        pod: &Pod,
        rng: &mut SmallRng,
        grid: TimestampMs,
        span_ms: f64,
        reset: bool,
    ) {
        if reset {
            self.codes.fill(0);
            self.intervals.fill(0);
            self.sum_ms = 0;
        }
        let service = &plan.services[pod.service];
        let incidents = &service.incidents;
        while incidents
            .get(self.incident)
            .is_some_and(|i| i.end_ms <= grid)
        {
            self.incident += 1;
        }
        let active = incidents.get(self.incident).filter(|i| i.start_ms <= grid);
        let server = active.map_or(service.error_ratio, |i| i.error_ratio);
        let latency = if active.is_some_and(|i| i.slow) {
            self.degraded
        } else {
            self.normal
        };
        plan.codes
            .shares(plan.config.client_error_ratio, server, &mut self.shares);

        let mean = self.rate * plan.traffic(service, grid) * span_ms / 1000.0;
        let n = poisson(rng, mean);
        self.slot_codes.fill(0);
        self.slot_intervals.fill(0);
        let mut slot_ms = 0u64;
        if n <= EXACT_REQUESTS {
            for _ in 0..n {
                let u: f64 = rng.gen();
                let mut acc = 0.0;
                let mut code = self.shares.len() - 1;
                for (i, s) in self.shares.iter().enumerate() {
                    acc += s;
                    if u < acc {
                        code = i;
                        break;
                    }
                }
                self.slot_codes[code] += 1;
                let ms = latency.draw_ms(rng);
                self.slot_intervals[latency.interval_of(ms)] += 1;
                slot_ms += ms;
            }
        } else {
            multinomial(rng, n, &self.shares, &mut self.slot_codes);
            multinomial(rng, n, &latency.probs, &mut self.slot_intervals);
            slot_ms = latency.draw_total_ms(rng, &self.slot_intervals);
        }
        add(&mut self.codes, &self.slot_codes);
        add(&mut self.intervals, &self.slot_intervals);
        self.sum_ms += slot_ms;
    }

    /// Counters per code, cumulative buckets (+Inf last), `_count`, `_sum`.
    fn write(&self, out: &mut [f64]) {
        let (codes, rest) = out.split_at_mut(self.codes.len());
        for (o, &c) in codes.iter_mut().zip(&self.codes) {
            *o = c as f64;
        }
        let (buckets, rest) = rest.split_at_mut(self.intervals.len());
        let mut cumulative = 0u64;
        for (o, &c) in buckets.iter_mut().zip(&self.intervals) {
            cumulative += c;
            *o = cumulative as f64;
        }
        if let [count, sum] = rest {
            *count = cumulative as f64;
            // Exporters that count whole ms report the sum this way.
            *sum = (self.sum_ms as f64) / 1000.0;
        }
    }
}

fn add(total: &mut [u64], slot: &[u64]) {
    for (t, s) in total.iter_mut().zip(slot) {
        *t += s;
    }
}

fn poisson(rng: &mut SmallRng, mean: f64) -> u64 {
    match Poisson::new(mean) {
        Ok(d) => d.sample(rng) as u64,
        // Only a non-positive (or NaN) mean is refused: no requests.
        Err(_) => 0,
    }
}

/// Splits `n` into `out` with probabilities `probs` (summing to 1) by
/// sequential binomials; `out` sums to `n`.
fn multinomial(rng: &mut SmallRng, n: u64, probs: &[f64], out: &mut [u64]) {
    let mut left = n;
    let mut mass = 1.0;
    let last = probs.len().saturating_sub(1);
    for (i, (&p, o)) in probs.iter().zip(out.iter_mut()).enumerate() {
        if i == last {
            *o = left;
            break;
        }
        let c = if left == 0 || mass <= 0.0 {
            0
        } else {
            let q = (p / mass).clamp(0.0, 1.0);
            match Binomial::new(left, if q.is_nan() { 0.0 } else { q }) {
                Ok(d) => d.sample(rng),
                // q is in [0, 1]: never refused.
                Err(_) => 0,
            }
        };
        *o = c;
        left -= c;
        mass -= p;
    }
}

/// A pod's gauges: resident memory (a random walk in whole pages) and open
/// file descriptors (a slow random walk); both return to their starting
/// level on restart.
#[derive(Default)]
struct GaugeState {
    base_rss: u64,
    rss: u64,
    base_fds: u64,
    fds: u64,
}

impl GaugeState {
    fn advance(&mut self, rng: &mut SmallRng, first: bool, reset: bool) {
        if first {
            let mib = log_uniform(rng, (40.0, 400.0));
            self.base_rss = (mib * 256.0) as u64 * PAGE;
            self.rss = self.base_rss;
            self.base_fds = rng.gen_range(12..64);
            self.fds = self.base_fds;
            return;
        }
        if reset {
            self.rss = self.base_rss * rng.gen_range(6..9) / 10 / PAGE * PAGE;
            self.fds = self.base_fds;
            return;
        }
        if rng.gen_bool(0.7) {
            let z: f64 = StandardNormal.sample(rng);
            let step = (24.0 * z).round() as i64;
            let pages = (self.rss / PAGE) as i64 + step;
            let (lo, hi) = (self.base_rss / PAGE / 2, self.base_rss / PAGE * 2);
            self.rss = (pages.max(0) as u64).clamp(lo, hi) * PAGE;
        }
        if rng.gen_bool(0.05) {
            let step = rng.gen_range(1..=3);
            self.fds = if rng.gen_bool(0.5) {
                self.fds + step
            } else {
                self.fds.saturating_sub(step)
            }
            .clamp(8, 4096);
        }
    }

    fn write(&self, out: &mut [f64]) {
        if let [up, rss, fds] = out {
            *up = 1.0;
            *rss = self.rss as f64;
            *fds = self.fds as f64;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn multinomial_conserves_the_total() {
        let mut rng = SmallRng::seed_from_u64(1);
        let probs = [0.5, 0.0, 0.3, 0.2];
        let mut out = [0u64; 4];
        for n in [0u64, 1, 7, 1_000, 10_000_000] {
            multinomial(&mut rng, n, &probs, &mut out);
            assert_eq!(out.iter().sum::<u64>(), n);
            assert_eq!(out[1], 0);
        }
        // Roughly proportional for a large n.
        assert!((out[0] as f64 / 1e7 - 0.5).abs() < 0.001, "{out:?}");
    }

    #[test]
    fn gauges_stay_whole_and_in_range() {
        let mut rng = SmallRng::seed_from_u64(2);
        let mut g = GaugeState::default();
        g.advance(&mut rng, true, false);
        let mut changed = 0;
        let mut out = [0.0; 3];
        let mut prev = g.rss;
        for i in 0..10_000 {
            g.advance(&mut rng, false, i % 2_500 == 0);
            assert_eq!(g.rss % PAGE, 0);
            assert!(g.rss >= g.base_rss / 2 / PAGE * PAGE && g.rss <= g.base_rss * 2);
            assert!((8..=4096).contains(&g.fds));
            changed += usize::from(g.rss != prev);
            prev = g.rss;
        }
        g.write(&mut out);
        assert_eq!(out[0], 1.0);
        assert_eq!(out[1], g.rss as f64);
        assert!(changed > 5_000, "rss changed {changed} times");
    }
}
