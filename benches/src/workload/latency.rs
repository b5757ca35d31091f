//! Request latencies: a lognormal per endpoint, observed in whole
//! milliseconds, and the histogram bucket edges in the same unit.
//!
//! A request's latency is `L = ceil(X)` ms (at least 1) with
//! `X = exp(mu + sigma * Z)`. For an integer edge `e`, `L <= e` exactly when
//! `X <= e`, so the lognormal's CDF gives the bucket probabilities directly.

use rand::Rng;
use rand_distr::{Distribution, StandardNormal};

/// Latencies above this are clamped (about 11.6 days); keeps `ceil` finite.
const MAX_LATENCY_MS: f64 = 1e9;

/// The largest whole-ms latency counted by a bucket with upper bound
/// `le_seconds`: the largest `L` with `(L as f64) / 1000.0 <= le_seconds`, the
/// comparison a client library makes when it observes `L / 1000` seconds.
pub fn edge_ms(le_seconds: f64) -> u64 {
    let observed = |l: u64| (l as f64) / 1000.0;
    let mut l = (le_seconds * 1000.0).floor().max(0.0) as u64;
    while observed(l + 1) <= le_seconds {
        l += 1;
    }
    while l > 0 && observed(l) > le_seconds {
        l -= 1;
    }
    l
}

/// One endpoint's latency distribution split over the histogram's intervals
/// `(edge[j-1], edge[j]]` (the last one unbounded).
#[derive(Clone, Debug)]
pub struct LatencyModel {
    mu: f64,
    sigma: f64,
    /// Probability of each interval; sums to 1.
    pub probs: Vec<f64>,
    /// Mean and variance of `L` given its interval.
    moments: Vec<(f64, f64)>,
    /// Smallest and largest whole-ms latency of each interval; the largest
    /// are non-decreasing, which `interval_of` relies on.
    bounds: Vec<(u64, u64)>,
}

impl LatencyModel {
    /// `edges_ms` are the finite bucket edges (non-decreasing).
    pub fn new(median_ms: f64, sigma: f64, edges_ms: &[u64]) -> LatencyModel {
        let mu = median_ms.ln();
        let n = edges_ms.len() + 1;
        let mut probs = Vec::with_capacity(n);
        let mut moments = Vec::with_capacity(n);
        let mut bounds = Vec::with_capacity(n);
        for j in 0..n {
            let lo_edge = if j == 0 { 0 } else { edges_ms[j - 1] };
            let hi_edge = edges_ms.get(j).copied();
            // Continuous X ranges over (lo_edge, hi_edge].
            let z = |e: u64| (e as f64).ln();
            let a = if lo_edge == 0 {
                f64::NEG_INFINITY
            } else {
                z(lo_edge)
            };
            let b = hi_edge.map_or(f64::INFINITY, z);
            let p = normal_mass((a - mu) / sigma, (b - mu) / sigma).max(0.0);
            // Empty (hi < lo) when two bounds fall in the same whole ms.
            let lo = lo_edge + 1;
            let hi = hi_edge.unwrap_or(MAX_LATENCY_MS as u64);
            // Partial moments of a lognormal:
            // E[X^r; a < ln X <= b] = exp(r mu + r^2 sigma^2 / 2) * P(a - r sigma^2 < ln X <= b - r sigma^2)
            let partial = |r: f64| {
                let shift = r * sigma * sigma;
                (r * mu + r * r * sigma * sigma / 2.0).exp()
                    * normal_mass((a - mu - shift) / sigma, (b - mu - shift) / sigma)
            };
            let (mean, var) = if p > 1e-300 && lo <= hi {
                let m1 = partial(1.0) / p;
                let m2 = partial(2.0) / p;
                // ceil adds half a ms on average and a uniform's 1/12 ms^2.
                let mean = (m1 + 0.5).clamp(lo as f64, hi as f64);
                let var = (m2 - m1 * m1).max(0.0) + 1.0 / 12.0;
                (mean, var)
            } else {
                (lo as f64, 0.0)
            };
            probs.push(p);
            moments.push((mean, var));
            bounds.push((lo, hi));
        }
        let total: f64 = probs.iter().sum();
        if total > 0.0 {
            probs.iter_mut().for_each(|p| *p /= total);
        }
        LatencyModel {
            mu,
            sigma,
            probs,
            moments,
            bounds,
        }
    }

    /// One request's latency in whole ms (at least 1).
    pub fn draw_ms<R: Rng>(&self, rng: &mut R) -> u64 {
        let z: f64 = StandardNormal.sample(rng);
        let x = (self.mu + self.sigma * z).exp();
        x.ceil().clamp(1.0, MAX_LATENCY_MS) as u64
    }

    /// The interval index of a latency.
    pub fn interval_of(&self, latency_ms: u64) -> usize {
        self.bounds
            .partition_point(|&(_, hi)| hi < latency_ms)
            .min(self.bounds.len() - 1)
    }

    /// Total latency of `counts[j]` requests in each interval `j`: the sum of
    /// independent per-interval totals, approximated by one normal draw
    /// (central limit) and clamped to what whole-ms requests in those
    /// intervals can add up to, so the result is always attainable.
    pub fn draw_total_ms<R: Rng>(&self, rng: &mut R, counts: &[u64]) -> u64 {
        let (mut mean, mut var, mut lo, mut hi) = (0.0, 0.0, 0u64, 0u64);
        for ((&c, &(m, v)), &(l, h)) in counts.iter().zip(&self.moments).zip(&self.bounds) {
            if c == 0 {
                continue;
            }
            let cf = c as f64;
            mean += cf * m;
            var += cf * v;
            lo = lo.saturating_add(c.saturating_mul(l));
            hi = hi.saturating_add(c.saturating_mul(h));
        }
        if hi == 0 {
            return 0;
        }
        let z: f64 = StandardNormal.sample(rng);
        let x = (mean + var.sqrt() * z).round();
        (x.max(0.0) as u64).clamp(lo, hi)
    }
}

/// `P(lo < Z <= hi)` for a standard normal `Z`, computed from the tail that
/// keeps precision.
pub fn normal_mass(lo: f64, hi: f64) -> f64 {
    if hi <= lo {
        return 0.0;
    }
    if lo >= 0.0 {
        upper_tail(lo) - upper_tail(hi)
    } else if hi <= 0.0 {
        upper_tail(-hi) - upper_tail(-lo)
    } else {
        1.0 - upper_tail(-lo) - upper_tail(hi)
    }
}

/// `P(Z > z)` for a standard normal `Z`.
fn upper_tail(z: f64) -> f64 {
    if z == f64::INFINITY {
        return 0.0;
    }
    if z == f64::NEG_INFINITY {
        return 1.0;
    }
    0.5 * erfc(z / std::f64::consts::SQRT_2)
}

/// The complementary error function, to a relative error below 1.2e-7
/// everywhere: the Chebyshev fit of `erfc(x) / t * exp(x^2)` in
/// `t = 1 / (1 + x / 2)` published in Press et al., Numerical Recipes, 6.2.
/// Enough for bucket probabilities of a synthetic workload.
fn erfc(x: f64) -> f64 {
    const C: [f64; 10] = [
        -1.265_512_23,
        1.000_023_68,
        0.374_091_96,
        0.096_784_18,
        -0.186_288_06,
        0.278_868_07,
        -1.135_203_98,
        1.488_515_87,
        -0.822_152_23,
        0.170_872_77,
    ];
    let ax = x.abs();
    let t = 1.0 / (1.0 + 0.5 * ax);
    let poly = C.iter().rev().fold(0.0, |acc, c| acc * t + c);
    let r = t * (-ax * ax + poly).exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::SmallRng;
    use rand::SeedableRng;

    #[test]
    fn edges_follow_the_client_comparison() {
        let defaults = [
            0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ];
        let want = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];
        for (b, w) in defaults.iter().zip(want) {
            assert_eq!(edge_ms(*b), w, "le={b}");
        }
        assert_eq!(edge_ms(0.0025), 2);
        assert_eq!(edge_ms(0.0001), 0);
    }

    #[test]
    fn normal_mass_matches_known_values() {
        let close = |a: f64, b: f64| (a - b).abs() < 1e-6;
        assert!(close(normal_mass(f64::NEG_INFINITY, 1.959_963_985), 0.975));
        assert!(close(normal_mass(-1.0, 1.0), 0.682_689_49));
        assert!(close(normal_mass(0.0, f64::INFINITY), 0.5));
        assert!(normal_mass(8.0, f64::INFINITY) < 1e-14);
        assert!(normal_mass(8.0, f64::INFINITY) > 0.0);
        assert_eq!(normal_mass(1.0, 1.0), 0.0);
    }

    #[test]
    fn model_probabilities_and_moments_agree_with_draws() {
        let edges = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];
        let model = LatencyModel::new(40.0, 0.8, &edges);
        assert!((model.probs.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        let mut rng = SmallRng::seed_from_u64(7);
        let n = 200_000;
        let mut counts = vec![0u64; edges.len() + 1];
        let mut sums = vec![0u64; edges.len() + 1];
        for _ in 0..n {
            let l = model.draw_ms(&mut rng);
            let j = model.interval_of(l);
            let (lo, hi) = model.bounds[j];
            assert!(lo <= l && l <= hi, "{l} not in interval {j}");
            counts[j] += 1;
            sums[j] += l;
        }
        for j in 0..counts.len() {
            let p = counts[j] as f64 / n as f64;
            assert!(
                (p - model.probs[j]).abs() < 0.005,
                "interval {j}: {p} vs {}",
                model.probs[j]
            );
            if counts[j] > 2_000 {
                let mean = sums[j] as f64 / counts[j] as f64;
                let rel = (mean - model.moments[j].0).abs() / mean;
                assert!(
                    rel < 0.02,
                    "interval {j}: mean {mean} vs {:?}",
                    model.moments[j]
                );
            }
        }
    }

    #[test]
    fn totals_stay_attainable() {
        let edges = [5, 10, 25];
        let model = LatencyModel::new(12.0, 0.5, &edges);
        let mut rng = SmallRng::seed_from_u64(3);
        for counts in [[0, 0, 0, 0], [1, 0, 0, 0], [0, 3, 0, 2], [1000, 10, 0, 1]] {
            let total = model.draw_total_ms(&mut rng, &counts);
            let lo: u64 = counts.iter().zip(&model.bounds).map(|(c, b)| c * b.0).sum();
            let hi: u64 = counts[..3]
                .iter()
                .zip(&model.bounds)
                .map(|(c, b)| c * b.1)
                .sum();
            assert!(total >= lo, "{counts:?}: {total} < {lo}");
            if counts[3] == 0 {
                assert!(total <= hi, "{counts:?}: {total} > {hi}");
            }
        }
        assert_eq!(model.draw_total_ms(&mut rng, &[0, 0, 0, 0]), 0);
    }
}
