//! The `*_over_time` functions over one window's values (time order, stale
//! markers removed, at least one value), with Prometheus's arithmetic.
//! `count_over_time`, `last_over_time` and `present_over_time` need no
//! function: the count, the last value and 1.

use super::stats::{kahan_inc, quantile};

/// `sum_over_time`: Kahan–Neumaier sum; an infinite sum is returned without
/// its compensation (which would be NaN).
pub fn sum(vs: &[f64]) -> f64 {
    let (mut sum, mut c) = (0.0, 0.0);
    for &v in vs {
        (sum, c) = kahan_inc(v, sum, c);
    }
    if sum.is_infinite() {
        sum
    } else {
        sum + c
    }
}

/// `avg_over_time`: an incremental, compensated mean that keeps an infinite
/// mean once reached (unless a NaN or the opposite infinity arrives).
pub fn avg(vs: &[f64]) -> f64 {
    let (mut mean, mut count, mut c) = (0.0f64, 0.0f64, 0.0f64);
    for &v in vs {
        count += 1.0;
        if mean.is_infinite() {
            if v.is_infinite() && (mean > 0.0) == (v > 0.0) {
                continue;
            }
            if !v.is_infinite() && !v.is_nan() {
                continue;
            }
        }
        (mean, c) = kahan_inc(v / count - mean / count, mean, c);
    }
    if mean.is_infinite() {
        mean
    } else {
        mean + c
    }
}

/// `max_over_time`: NaN only when every value is NaN.
pub fn max(vs: &[f64]) -> f64 {
    let mut max = vs.first().copied().unwrap_or(f64::NAN);
    for &v in vs {
        if v > max || max.is_nan() {
            max = v;
        }
    }
    max
}

/// `min_over_time`: NaN only when every value is NaN.
pub fn min(vs: &[f64]) -> f64 {
    let mut min = vs.first().copied().unwrap_or(f64::NAN);
    for &v in vs {
        if v < min || min.is_nan() {
            min = v;
        }
    }
    min
}

/// The population variance by Welford's method with compensated sums.
fn variance(vs: &[f64]) -> f64 {
    let (mut count, mut mean, mut c_mean, mut aux, mut c_aux) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for &v in vs {
        count += 1.0;
        let delta = v - (mean + c_mean);
        (mean, c_mean) = kahan_inc(delta / count, mean, c_mean);
        (aux, c_aux) = kahan_inc(delta * (v - (mean + c_mean)), aux, c_aux);
    }
    (aux + c_aux) / count
}

/// `stdvar_over_time`
pub fn stdvar(vs: &[f64]) -> f64 {
    variance(vs)
}

/// `stddev_over_time`
pub fn stddev(vs: &[f64]) -> f64 {
    variance(vs).sqrt()
}

/// `quantile_over_time`; `scratch` is reused between windows.
pub fn quantile_of(q: f64, vs: &[f64], scratch: &mut Vec<f64>) -> f64 {
    scratch.clear();
    scratch.extend_from_slice(vs);
    quantile(q, scratch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_and_means() {
        assert_eq!(sum(&[1.0, 2.0, 3.5]), 6.5);
        assert_eq!(sum(&[1e100, 1.0, -1e100]), 1.0);
        assert_eq!(sum(&[f64::INFINITY, 1.0]), f64::INFINITY);
        assert!(sum(&[f64::INFINITY, f64::NEG_INFINITY]).is_nan());
        assert_eq!(avg(&[1.0, 2.0, 3.0, 4.0]), 2.5);
        assert_eq!(avg(&[f64::INFINITY, 1.0, 2.0]), f64::INFINITY);
        assert_eq!(avg(&[1.0, f64::NEG_INFINITY, 2.0]), f64::NEG_INFINITY);
        assert!(avg(&[f64::INFINITY, f64::NEG_INFINITY]).is_nan());
        assert!(avg(&[f64::INFINITY, f64::NAN]).is_nan());
        assert!(avg(&[1.0, f64::NAN]).is_nan());
        // no overflow where a plain sum would overflow
        assert_eq!(avg(&[f64::MAX, f64::MAX]), f64::MAX);
    }

    #[test]
    fn min_and_max_skip_nan_unless_all_nan() {
        assert_eq!(max(&[f64::NAN, 1.0, 3.0, 2.0]), 3.0);
        assert_eq!(min(&[f64::NAN, 1.0, 3.0, -2.0]), -2.0);
        assert_eq!(max(&[1.0, f64::NAN]), 1.0);
        assert!(max(&[f64::NAN]).is_nan());
        assert!(min(&[f64::NAN, f64::NAN]).is_nan());
    }

    #[test]
    fn variance_and_deviation() {
        let vs = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0];
        assert_eq!(stdvar(&vs), 4.0);
        assert_eq!(stddev(&vs), 2.0);
        assert_eq!(stdvar(&[3.0]), 0.0);
        assert!(stdvar(&[1.0, f64::NAN]).is_nan());
    }

    #[test]
    fn quantile_over_values() {
        let mut scratch = Vec::new();
        assert_eq!(quantile_of(0.5, &[1.0, 3.0, 2.0], &mut scratch), 2.0);
        assert_eq!(quantile_of(0.75, &[4.0, 1.0, 3.0, 2.0], &mut scratch), 3.25);
    }
}
