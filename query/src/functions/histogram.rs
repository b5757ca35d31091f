//! `histogram_quantile` over classic (`le`-labelled) buckets, and Go's
//! `strconv.ParseFloat` for the `le` values.

use super::stats::GO_NAN;

/// One cumulative bucket: observations at or below `upper`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bucket {
    pub upper: f64,
    pub count: f64,
}

/// The `q`-quantile of one histogram's buckets (any order; sorted here),
/// interpolated linearly inside the bucket it falls in, with Prometheus's
/// rules: NaN for a NaN `q`, -Inf below 0, +Inf above 1; NaN without a +Inf
/// bucket, with fewer than two buckets or no observations; buckets with the
/// same bound are merged and counts forced monotonic; a quantile in the +Inf
/// bucket is the second-highest bound; the lowest bucket interpolates from
/// 0 unless its bound is at or below 0.
pub fn bucket_quantile(q: f64, buckets: &mut Vec<Bucket>) -> f64 {
    if q.is_nan() {
        return GO_NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    buckets.sort_by(|a, b| {
        a.upper
            .partial_cmp(&b.upper)
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    match buckets.last() {
        Some(b) if b.upper == f64::INFINITY => {}
        _ => return GO_NAN,
    }
    coalesce(buckets);
    ensure_monotonic(buckets);
    if buckets.len() < 2 {
        return GO_NAN;
    }
    let n = buckets.len();
    let observations = buckets[n - 1].count;
    if observations == 0.0 {
        return GO_NAN;
    }
    let mut rank = q * observations;
    // First bucket (excluding +Inf) whose count reaches the rank.
    let b = buckets[..n - 1].partition_point(|x| x.count < rank);
    if b == n - 1 {
        return buckets[n - 2].upper;
    }
    if b == 0 && buckets[0].upper <= 0.0 {
        return buckets[0].upper;
    }
    let mut start = 0.0;
    let end = buckets[b].upper;
    let mut count = buckets[b].count;
    if b > 0 {
        start = buckets[b - 1].upper;
        count -= buckets[b - 1].count;
        rank -= buckets[b - 1].count;
    }
    start + (end - start) * (rank / count)
}

/// Merges adjacent buckets with equal bounds (summing counts).
fn coalesce(buckets: &mut Vec<Bucket>) {
    let mut out = 0;
    for i in 1..buckets.len() {
        if buckets[i].upper == buckets[out].upper {
            buckets[out].count += buckets[i].count;
        } else {
            out += 1;
            buckets[out] = buckets[i];
        }
    }
    buckets.truncate(out + 1);
}

/// Raises every count to at least the largest count before it.
fn ensure_monotonic(buckets: &mut [Bucket]) {
    let Some(first) = buckets.first() else {
        return;
    };
    let mut max = first.count;
    for b in buckets.iter_mut().skip(1) {
        if b.count > max {
            max = b.count;
        } else if b.count < max {
            b.count = max;
        }
    }
}

/// Go's `strconv.ParseFloat(s, 64)`: decimal or hexadecimal (`0x1p-3`)
/// floats, `inf`/`infinity`/`nan` in any case with an optional sign;
/// `None` for anything else and for finite numbers out of range (Go reports
/// those as an error).
pub fn parse_go_float(s: &str) -> Option<f64> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'+') => (false, &s[1..]),
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    let v = match lower.as_str() {
        "inf" | "infinity" => f64::INFINITY,
        "nan" => return Some(GO_NAN),
        _ if lower.starts_with("0x") => parse_hex(&lower[2..])?,
        _ => parse_decimal(body)?,
    };
    Some(if neg { -v } else { v })
}

fn parse_decimal(s: &str) -> Option<f64> {
    // Go takes underscores only after a base prefix; Rust would reject
    // them anyway. Rust also accepts "inf"/"nan" words, handled above.
    let ok = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'));
    if !ok {
        return None;
    }
    let v: f64 = s.parse().ok()?;
    // Out of range: Go's ParseFloat errors instead of returning Inf.
    v.is_finite().then_some(v)
}

/// The part after `0x`: hex digits with an optional point, then a mandatory
/// binary exponent `p[+-]N`; underscores may separate digits.
fn parse_hex(s: &str) -> Option<f64> {
    let s: String = s.chars().filter(|&c| c != '_').collect();
    let (mant, exp) = s.split_once('p')?;
    let exp: i32 = exp.parse().ok()?;
    let (int_part, frac_part) = mant.split_once('.').unwrap_or((mant, ""));
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    let mut v = 0.0f64;
    for c in int_part.chars().chain(frac_part.chars()) {
        v = v * 16.0 + f64::from(c.to_digit(16)?);
    }
    let frac_digits = i32::try_from(frac_part.len()).ok()?;
    let scale = exp.checked_sub(frac_digits.checked_mul(4)?)?;
    let v = v * 2f64.powi(scale);
    v.is_finite().then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(list: &[(f64, f64)]) -> Vec<Bucket> {
        list.iter()
            .map(|&(upper, count)| Bucket { upper, count })
            .collect()
    }

    #[test]
    fn interpolates_inside_the_bucket() {
        let mut bs = b(&[
            (f64::INFINITY, 100.0),
            (0.1, 50.0),
            (0.5, 90.0),
            (1.0, 100.0),
        ]);
        // rank 45 in (0, 0.1] with 50: 0.1 * 45/50
        assert_eq!(bucket_quantile(0.45, &mut bs.clone()), 0.1 * (45.0 / 50.0));
        // rank 70 in (0.1, 0.5]: 0.1 + 0.4 * (20/40)
        assert_eq!(
            bucket_quantile(0.7, &mut bs.clone()),
            0.1 + 0.4 * (20.0 / 40.0)
        );
        // rank 100 is reached by the le=1 bucket: its upper bound
        assert_eq!(bucket_quantile(1.0, &mut bs), 1.0);
    }

    #[test]
    fn quantile_in_the_inf_bucket_is_the_second_highest_bound() {
        let mut bs = b(&[(1.0, 10.0), (2.0, 20.0), (f64::INFINITY, 30.0)]);
        assert_eq!(bucket_quantile(0.9, &mut bs), 2.0);
    }

    #[test]
    fn special_cases() {
        let bs = b(&[(1.0, 10.0), (f64::INFINITY, 10.0)]);
        assert_eq!(bucket_quantile(-0.5, &mut bs.clone()), f64::NEG_INFINITY);
        assert_eq!(bucket_quantile(1.5, &mut bs.clone()), f64::INFINITY);
        assert!(bucket_quantile(f64::NAN, &mut bs.clone()).is_nan());
        assert!(bucket_quantile(0.5, &mut b(&[(1.0, 1.0), (2.0, 2.0)])).is_nan());
        assert!(bucket_quantile(0.5, &mut b(&[(f64::INFINITY, 2.0)])).is_nan());
        assert!(bucket_quantile(0.5, &mut b(&[(1.0, 0.0), (f64::INFINITY, 0.0)])).is_nan());
        // lowest bound at or below zero is returned as is
        let mut neg = b(&[(-1.0, 5.0), (0.0, 8.0), (f64::INFINITY, 10.0)]);
        assert_eq!(bucket_quantile(0.2, &mut neg), -1.0);
        // q = 0 lands in the first bucket with a count
        assert_eq!(bucket_quantile(0.0, &mut bs.clone()), 0.0);
    }

    #[test]
    fn equal_bounds_merge_and_counts_become_monotonic() {
        let mut bs = b(&[
            (1.0, 4.0),
            (1.0, 6.0),
            (2.0, 8.0), // below 10: raised to 10
            (4.0, 20.0),
            (f64::INFINITY, 20.0),
        ]);
        // rank 10 is reached by le=1 (10 after merging)
        assert_eq!(bucket_quantile(0.5, &mut bs.clone()), 1.0);
        // rank 15 in (2, 4]: 2 + 2 * (5/10)
        assert_eq!(bucket_quantile(0.75, &mut bs), 3.0);
    }

    #[test]
    fn le_values_parse_like_go() {
        assert_eq!(parse_go_float("0.25"), Some(0.25));
        assert_eq!(parse_go_float("+Inf"), Some(f64::INFINITY));
        assert_eq!(parse_go_float("-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_go_float("Infinity"), Some(f64::INFINITY));
        assert!(parse_go_float("NaN").unwrap().is_nan());
        assert_eq!(parse_go_float("1e3"), Some(1000.0));
        assert_eq!(parse_go_float(".5"), Some(0.5));
        assert_eq!(parse_go_float("0x1p-2"), Some(0.25));
        assert_eq!(parse_go_float("0x1.8p1"), Some(3.0));
        assert_eq!(parse_go_float("1e400"), None);
        assert_eq!(parse_go_float(""), None);
        assert_eq!(parse_go_float("1_0"), None);
        assert_eq!(parse_go_float("abc"), None);
        assert_eq!(parse_go_float("0x10"), None);
    }
}
