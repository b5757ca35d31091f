//! Rollups: for counter series, per-bucket [`Summary`]s at fixed widths
//! (1 m, 1 h, 1 d by default). Bucket `k` of width `w` covers the half-open
//! interval `(k*w - w, k*w]` (aligned to the Unix epoch), the same openness as
//! the contract's `increase(a, b]`, so any window built from whole buckets
//! has exactly the raw answer; the first and last raw sample of each bucket
//! let a reader finish partial edges and bridge bucket boundaries.
//!
//! Rollup segments use the segment format with these columns ([`COLUMNS`]):
//! `end`, `count`, `first_t` as an offset after the bucket start, `first_v`,
//! `last_t` as an offset before the bucket end, then `last_v` and `inc`
//! stored as `last_v - first_v` and `(last_v - first_v) - inc` where that
//! round-trips bit for bit (the usual counter: the second is 0 unless the
//! counter reset inside the bucket), and a per-row `flags` column saying
//! which rows use that form (and whether all the bucket's samples are exact
//! integers, see [`Summary::integral`]). The differences cost far less than the values:
//! the 1 m rollups of 15 s scrapes shrink by about a third.

mod job;
mod summary;

pub use summary::{is_exact_integer, pair_increase, Counting, Summary};

use crate::segment::{Column, ColumnBuf, ColumnType};
use crate::types::TimestampMs;

/// The column layout of a rollup segment.
pub const COLUMNS: [ColumnType; 8] = [
    ColumnType::I64, // bucket end
    ColumnType::I64, // sample count
    ColumnType::I64, // first sample time - bucket start (1..=width)
    ColumnType::F64, // first sample value
    ColumnType::I64, // bucket end - last sample time (0..width)
    ColumnType::F64, // last value, or last - first when flags has DIFFS
    ColumnType::F64, // increase inside, or (last - first) - increase with DIFFS
    ColumnType::I64, // flags
];

/// Row flag: the `last` and `inc` columns hold differences (see the module
/// doc). Set only where all three values are non-NaN (NaN payloads through
/// arithmetic differ between CPUs) and the inverse gives the same bits.
pub const FLAG_DIFFS: i64 = 1;
/// Row flag: every sample in the bucket is an exact integer
/// ([`Summary::integral`]).
pub const FLAG_INTEGRAL: i64 = 2;

/// The default rollup widths in seconds: 1 m, 1 h, 1 d.
pub const DEFAULT_RESOLUTIONS: [u32; 3] = [60, 3_600, 86_400];

/// One bucket: the summary of the samples in `(end - width, end]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bucket {
    pub end: TimestampMs,
    pub summary: Summary,
}

/// The end of the bucket of width `w` that contains `t`.
#[inline]
pub fn bucket_end(t: TimestampMs, w: i64) -> TimestampMs {
    t.saturating_add((w - t.rem_euclid(w)) % w)
}

/// The last bucket boundary at or before `t`.
#[inline]
pub fn floor_to(t: TimestampMs, w: i64) -> TimestampMs {
    t - t.rem_euclid(w)
}

/// Appends the non-empty buckets of samples given in time order.
pub fn build_buckets(
    counting: Counting,
    width_ms: i64,
    ts: &[TimestampMs],
    vs: &[f64],
    out: &mut Vec<Bucket>,
) {
    let mut cur: Option<Bucket> = None;
    for (&t, &v) in ts.iter().zip(vs) {
        let end = bucket_end(t, width_ms);
        match &mut cur {
            Some(b) if b.end == end => b.summary.push(counting, t, v),
            _ => {
                if let Some(b) = cur.take().filter(|b| !b.summary.is_empty()) {
                    out.push(b);
                }
                let mut summary = Summary::EMPTY;
                summary.push(counting, t, v);
                cur = Some(Bucket { end, summary });
            }
        }
    }
    if let Some(b) = cur.filter(|b| !b.summary.is_empty()) {
        out.push(b);
    }
}

/// Buckets laid out as rollup segment columns.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BucketColumns {
    end: Vec<i64>,
    count: Vec<i64>,
    first_off: Vec<i64>,
    first_v: Vec<f64>,
    last_off: Vec<i64>,
    last: Vec<f64>,
    inc: Vec<f64>,
    flags: Vec<i64>,
}

/// The stored form of (first, last, inc): differences where exact.
fn encode_values(first: f64, last: f64, inc: f64) -> (f64, f64, i64) {
    if !(first.is_nan() || last.is_nan() || inc.is_nan()) {
        let d = last - first;
        let c = d - inc;
        if (first + d).to_bits() == last.to_bits() && (d - c).to_bits() == inc.to_bits() {
            return (d, c, FLAG_DIFFS);
        }
    }
    (last, inc, 0)
}

fn decode_values(first: f64, last: f64, inc: f64, flags: i64) -> (f64, f64) {
    if flags & FLAG_DIFFS != 0 {
        (first + last, last - inc)
    } else {
        (last, inc)
    }
}

impl BucketColumns {
    pub fn from_buckets(width_ms: i64, buckets: &[Bucket]) -> BucketColumns {
        let mut c = BucketColumns::default();
        for b in buckets {
            let s = &b.summary;
            c.end.push(b.end);
            c.count.push(s.count as i64);
            c.first_off.push(s.first_t - (b.end - width_ms));
            c.first_v.push(s.first_v);
            c.last_off.push(b.end - s.last_t);
            let (last, inc, flags) = encode_values(s.first_v, s.last_v, s.inc);
            c.last.push(last);
            c.inc.push(inc);
            c.flags
                .push(flags | if s.integral { FLAG_INTEGRAL } else { 0 });
        }
        c
    }

    pub fn columns(&self) -> [Column<'_>; 8] {
        [
            Column::I64(&self.end),
            Column::I64(&self.count),
            Column::I64(&self.first_off),
            Column::F64(&self.first_v),
            Column::I64(&self.last_off),
            Column::F64(&self.last),
            Column::F64(&self.inc),
            Column::I64(&self.flags),
        ]
    }

    pub fn is_empty(&self) -> bool {
        self.end.is_empty()
    }
}

/// Fresh column buffers for reading a rollup segment.
pub fn column_buffers() -> Vec<ColumnBuf> {
    COLUMNS.iter().map(|&t| ColumnBuf::new(t)).collect()
}

/// Turns rollup columns read from a segment back into buckets. Returns
/// `None` when the buffers do not have the rollup layout.
pub fn buckets_from_columns(
    width_ms: i64,
    cols: &[ColumnBuf],
    out: &mut Vec<Bucket>,
) -> Option<()> {
    let [ColumnBuf::I64(end), ColumnBuf::I64(count), ColumnBuf::I64(first_off), ColumnBuf::F64(first_v), ColumnBuf::I64(last_off), ColumnBuf::F64(last), ColumnBuf::F64(inc), ColumnBuf::I64(flags)] =
        cols
    else {
        return None;
    };
    out.reserve(end.len());
    for i in 0..end.len() {
        let (last_v, inc) = decode_values(first_v[i], last[i], inc[i], flags[i]);
        out.push(Bucket {
            end: end[i],
            summary: Summary {
                count: count[i] as u64,
                first_t: end[i] - width_ms + first_off[i],
                first_v: first_v[i],
                last_t: end[i] - last_off[i],
                last_v,
                inc,
                integral: flags[i] & FLAG_INTEGRAL != 0,
            },
        });
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_differences_round_trip_every_value_class() {
        let specials = [
            0.0,
            -0.0,
            1.0,
            0.1,
            1e300,
            -1e300,
            f64::MAX,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            f64::from_bits(crate::types::STALE_NAN_BITS),
            5e-324,
            123_456_789.123,
        ];
        for &a in &specials {
            for &b in &specials {
                for &c in &specials {
                    let (l, i, f) = encode_values(a, b, c);
                    let (lb, ib) = decode_values(a, l, i, f);
                    assert_eq!(
                        (lb.to_bits(), ib.to_bits()),
                        (b.to_bits(), c.to_bits()),
                        "{a} {b} {c}"
                    );
                }
            }
        }
        assert_eq!(encode_values(10.0, 25.0, 15.0), (15.0, 0.0, FLAG_DIFFS));
        assert_eq!(encode_values(10.0, 3.0, 7.0), (-7.0, -14.0, FLAG_DIFFS));
    }

    #[test]
    fn buckets_are_left_open_right_closed() {
        assert_eq!(bucket_end(60_000, 60_000), 60_000);
        assert_eq!(bucket_end(60_001, 60_000), 120_000);
        assert_eq!(bucket_end(-1, 60_000), 0);
        assert_eq!(bucket_end(-60_000, 60_000), -60_000);
        assert_eq!(floor_to(119_999, 60_000), 60_000);
        assert_eq!(floor_to(-1, 60_000), -60_000);
    }

    #[test]
    fn whole_buckets_sum_to_the_raw_increase() {
        // 15 s scrapes with a reset and a gap
        let ts: Vec<i64> = (1..=40)
            .map(|i| i * 15_000)
            .filter(|t| !(300_000..420_000).contains(t))
            .collect();
        let mut v = 0.0;
        let vs: Vec<f64> = ts
            .iter()
            .map(|&t| {
                v = if t == 450_000 { 2.0 } else { v + 3.0 };
                v
            })
            .collect();
        let mut buckets = Vec::new();
        build_buckets(Counting::Cumulative, 60_000, &ts, &vs, &mut buckets);
        let combined = buckets.iter().fold(Summary::EMPTY, |acc, b| {
            acc.then(Counting::Cumulative, &b.summary)
        });
        assert_eq!(combined, Summary::of(Counting::Cumulative, &ts, &vs));
        // and through the segment column layout
        let cols = BucketColumns::from_buckets(60_000, &buckets);
        let bufs: Vec<ColumnBuf> = cols
            .columns()
            .iter()
            .map(|c| match c {
                Column::I64(v) => ColumnBuf::I64(v.to_vec()),
                Column::F64(v) => ColumnBuf::F64(v.to_vec()),
            })
            .collect();
        let mut back = Vec::new();
        buckets_from_columns(60_000, &bufs, &mut back).unwrap();
        assert_eq!(back, buckets);
    }
}
