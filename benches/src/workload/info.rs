//! The information content of a workload: the yardstick for bytes on disk.
//!
//! # Definition
//!
//! For one series with samples `(t_0, v_0), ..., (t_{n-1}, v_{n-1})` in time
//! order:
//!
//! - **Values.** Each value is read in the series' native integer unit:
//!   `u_i = v_i * 1000` for `_sum` series (`HistogramSum`, whole ms), `u_i = v_i`
//!   for every other kind. A value is *native* when `u_i` is an integer below
//!   2^53 in magnitude that gives back `v_i` bit for bit (`u_i / 1000.0` for
//!   `_sum`; `-0.0` is not native). Sample `i` gets the symbol
//!   - `STALE` if `v_i` is Prometheus's stale marker;
//!   - else `AFTER_STALE` if `v_{i-1}` is the stale marker;
//!   - else the delta `u_i - u_{i-1}` if both are native, with `u_{-1} = 0`
//!     (so the first value is a delta from zero, and a counter reset is an
//!     ordinary negative delta);
//!   - else the value's bit pattern (not reached by the generated workload).
//! - **Timestamps.** Sample `i` gets the symbol `t_i - t_{i-1}` with
//!   `t_{-1} = 0`. A perfectly regular series thus costs only its first
//!   timestamp; jitter and missed scrapes add the rest.
//!
//! For `n` symbols of which `c_s` are equal to `s`, the cost is
//! `n * H0 = sum over s of c_s * log2(n / c_s)` bits: the empirical zero-order
//! entropy, per series, of value deltas and timestamp deltas separately. The
//! workload's information content is the sum over its series; bytes per
//! sample divide by 8 and by the number of samples (stale markers included).
//! No real codec can beat it for every series without exploiting structure
//! beyond single deltas (cross-series correlation, delta-of-delta, a model of
//! the traffic cycle), so `bytes on disk / information content` measures how
//! close a codec gets to an order-0 model of the deltas.

use std::collections::BTreeMap;

use nines_engine::{SeriesBatch, SeriesKind, STALE_NAN_BITS};

use super::Workload;

/// Sums over a set of series.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct InfoTotals {
    pub series: u64,
    pub samples: u64,
    pub bits_values: f64,
    pub bits_timestamps: f64,
}

impl InfoTotals {
    pub fn bytes_per_sample(&self) -> f64 {
        self.value_bytes_per_sample() + self.timestamp_bytes_per_sample()
    }

    pub fn value_bytes_per_sample(&self) -> f64 {
        per_sample(self.bits_values, self.samples)
    }

    pub fn timestamp_bytes_per_sample(&self) -> f64 {
        per_sample(self.bits_timestamps, self.samples)
    }

    fn add(&mut self, samples: usize, bits_values: f64, bits_timestamps: f64) {
        self.series += 1;
        self.samples += samples as u64;
        self.bits_values += bits_values;
        self.bits_timestamps += bits_timestamps;
    }
}

fn per_sample(bits: f64, samples: u64) -> f64 {
    if samples == 0 {
        0.0
    } else {
        bits / 8.0 / samples as f64
    }
}

/// The information content of a set of series (see the module docs for the
/// exact definition), in total and per series kind.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct InfoContent {
    pub total: InfoTotals,
    pub by_kind: BTreeMap<SeriesKind, InfoTotals>,
}

impl InfoContent {
    /// Adds one whole series (samples in time order).
    pub fn add_series(&mut self, series: &SeriesBatch) {
        let (bits_values, bits_timestamps) = series_bits(series);
        let n = series.timestamps.len();
        self.total.add(n, bits_values, bits_timestamps);
        self.by_kind
            .entry(series.kind)
            .or_default()
            .add(n, bits_values, bits_timestamps);
    }
}

/// The information content of every series of the workload.
pub fn information_content(workload: &Workload) -> InfoContent {
    let mut info = InfoContent::default();
    workload.for_each_series(|s| info.add_series(&s));
    info
}

/// `(bits of the values, bits of the timestamps)` of one series.
pub fn series_bits(series: &SeriesBatch) -> (f64, f64) {
    let scale = if series.kind == SeriesKind::HistogramSum {
        1000.0
    } else {
        1.0
    };
    let mut symbols = Vec::with_capacity(series.values.len());
    let mut prev: Option<f64> = Some(0.0);
    let mut prev_stale = false;
    for &v in &series.values {
        let stale = v.to_bits() == STALE_NAN_BITS;
        let native = native(v, scale);
        let symbol = if stale {
            Symbol::Stale
        } else if prev_stale {
            Symbol::AfterStale
        } else {
            match (prev, native) {
                (Some(p), Some(u)) => Symbol::Delta((u - p) as i64),
                _ => Symbol::Raw(v.to_bits()),
            }
        };
        symbols.push(symbol);
        prev = native;
        prev_stale = stale;
    }
    let mut deltas = Vec::with_capacity(series.timestamps.len());
    let mut prev_t = 0i64;
    for &t in &series.timestamps {
        deltas.push(t.wrapping_sub(prev_t));
        prev_t = t;
    }
    (entropy_bits(&mut symbols), entropy_bits(&mut deltas))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Symbol {
    Delta(i64),
    Raw(u64),
    Stale,
    AfterStale,
}

/// `v` in the native unit when it is an exact integer there.
fn native(v: f64, scale: f64) -> Option<f64> {
    const LIMIT: f64 = 9_007_199_254_740_992.0; // 2^53
    let u = (v * scale).round();
    let exact = u.abs() < LIMIT && (u / scale).to_bits() == v.to_bits();
    exact.then_some(u)
}

/// `n * H0` of the symbols in bits; sorts them.
fn entropy_bits<T: Ord>(symbols: &mut [T]) -> f64 {
    symbols.sort_unstable();
    let n = symbols.len() as f64;
    symbols
        .chunk_by(|a, b| a == b)
        .map(|run| {
            let c = run.len() as f64;
            c * (n / c).log2()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use nines_engine::Labels;

    fn series(kind: SeriesKind, timestamps: Vec<i64>, values: Vec<f64>) -> SeriesBatch {
        SeriesBatch {
            labels: Labels::from_pairs(&[("__name__", "x")]),
            kind,
            timestamps,
            values,
            resolved: None,
        }
    }

    #[test]
    fn hand_computed_counter() {
        // Values 10, 12, 14, 16, 1 (a reset), 3: deltas 10, 2, 2, 2, -15, 2.
        // Counts: 2 -> 4, 10 -> 1, -15 -> 1; n = 6.
        // bits = 4 log2(6/4) + 2 log2(6) = 4 * 0.5849625 + 2 * 2.5849625.
        // Timestamps 1000, 16000, 31000, 46002, 61000, 91000: deltas 1000,
        // 15000 x2, 15002, 14998, 30000; bits = 2 log2(6/2) + 4 log2(6).
        let s = series(
            SeriesKind::Counter,
            vec![1000, 16000, 31000, 46002, 61000, 91000],
            vec![10.0, 12.0, 14.0, 16.0, 1.0, 3.0],
        );
        let (v, t) = series_bits(&s);
        let want_v = 4.0 * (6.0f64 / 4.0).log2() + 2.0 * 6.0f64.log2();
        let want_t = 2.0 * 3.0f64.log2() + 4.0 * 6.0f64.log2();
        assert!((v - want_v).abs() < 1e-12, "{v} vs {want_v}");
        assert!((t - want_t).abs() < 1e-12, "{t} vs {want_t}");
    }

    #[test]
    fn sums_are_read_in_whole_ms_and_stale_markers_are_symbols() {
        let stale = f64::from_bits(STALE_NAN_BITS);
        // ms: 1500, 1750, 2000, then stale, then 0.25 s after it.
        // Symbols: 1500, 250, 250, STALE, AFTER_STALE; n = 5.
        let s = series(
            SeriesKind::HistogramSum,
            vec![0, 15_000, 30_000, 45_000, 60_000],
            vec![1.5, 1.75, 2.0, stale, 0.25],
        );
        let (v, t) = series_bits(&s);
        let want_v = 2.0 * (5.0f64 / 2.0).log2() + 3.0 * 5.0f64.log2();
        assert!((v - want_v).abs() < 1e-12, "{v} vs {want_v}");
        // Deltas 0, 15000 x4.
        let want_t = 5.0f64.log2() + 4.0 * (5.0f64 / 4.0).log2();
        assert!((t - want_t).abs() < 1e-12, "{t} vs {want_t}");

        // Read as a counter, 1.5 and 1.75 are not integers: raw symbols,
        // all distinct except the two stale-related ones, which are too.
        let s = SeriesBatch {
            kind: SeriesKind::Counter,
            ..s
        };
        let (v, _) = series_bits(&s);
        assert!((v - 5.0 * 5.0f64.log2()).abs() < 1e-12);
    }

    #[test]
    fn totals_add_up_by_kind() {
        let mut info = InfoContent::default();
        let c = series(SeriesKind::Counter, vec![0, 15_000], vec![0.0, 1.0]);
        let g = series(
            SeriesKind::Gauge,
            vec![0, 15_000, 30_000],
            vec![5.0, 5.0, 5.0],
        );
        info.add_series(&c);
        info.add_series(&g);
        info.add_series(&c);
        assert_eq!(info.total.series, 3);
        assert_eq!(info.total.samples, 7);
        let counter = info.by_kind[&SeriesKind::Counter];
        assert_eq!(counter.samples, 4);
        // Counter: symbols 0, 1 -> 2 bits per series; timestamps 0, 15000 -> 2.
        assert!((counter.bits_values - 4.0).abs() < 1e-12);
        // Gauge: values 5, 0, 0 -> log2(3) + 2 log2(3/2); same for timestamps.
        let gauge = info.by_kind[&SeriesKind::Gauge];
        let want = 3.0f64.log2() + 2.0 * 1.5f64.log2();
        assert!((gauge.bits_values - want).abs() < 1e-12);
        assert!((gauge.bits_timestamps - want).abs() < 1e-12);
        assert!((info.total.bits_timestamps - (4.0 + want)).abs() < 1e-12);
        let total_bits = info.total.bits_values + info.total.bits_timestamps;
        assert!((info.total.bytes_per_sample() - total_bits / 8.0 / 7.0).abs() < 1e-12);
    }
}
