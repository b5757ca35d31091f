//! `deriv`, `predict_linear` (least-squares regression) and `holt_winters`
//! (double exponential smoothing) over one window of samples.

use super::stats::{kahan_inc, GO_NAN};
use crate::gofmt::fmt_f;

/// Least-squares slope and the intercept at `intercept_t` (ms), with x in
/// seconds relative to it and compensated sums. A constant series has slope
/// 0 (NaN for a constant infinity).
pub fn linear_regression(ts: &[i64], vs: &[f64], intercept_t: i64) -> (f64, f64) {
    let mut n = 0.0;
    let (mut sum_x, mut c_x) = (0.0, 0.0);
    let (mut sum_y, mut c_y) = (0.0, 0.0);
    let (mut sum_xy, mut c_xy) = (0.0, 0.0);
    let (mut sum_x2, mut c_x2) = (0.0, 0.0);
    let init_y = vs.first().copied().unwrap_or(0.0);
    let mut const_y = true;
    for (i, (&t, &v)) in ts.iter().zip(vs).enumerate() {
        if const_y && i > 0 && v != init_y {
            const_y = false;
        }
        n += 1.0;
        let x = (t - intercept_t) as f64 / 1e3;
        (sum_x, c_x) = kahan_inc(x, sum_x, c_x);
        (sum_y, c_y) = kahan_inc(v, sum_y, c_y);
        (sum_xy, c_xy) = kahan_inc(x * v, sum_xy, c_xy);
        (sum_x2, c_x2) = kahan_inc(x * x, sum_x2, c_x2);
    }
    if const_y {
        if init_y.is_infinite() {
            return (GO_NAN, GO_NAN);
        }
        return (0.0, init_y);
    }
    sum_x += c_x;
    sum_y += c_y;
    sum_xy += c_xy;
    sum_x2 += c_x2;
    let cov_xy = sum_xy - sum_x * sum_y / n;
    let var_x = sum_x2 - sum_x * sum_x / n;
    let slope = cov_xy / var_x;
    let intercept = sum_y / n - slope * sum_x / n;
    (slope, intercept)
}

/// `deriv`: the per-second slope; `None` with fewer than two samples.
pub fn deriv(ts: &[i64], vs: &[f64]) -> Option<f64> {
    if ts.len() < 2 {
        return None;
    }
    // Relative to the first sample, to keep x small.
    Some(linear_regression(ts, vs, ts[0]).0)
}

/// `predict_linear`: the value `duration_s` seconds after the evaluation
/// time `eval_t` (the intercept is taken there, not at the window's end).
pub fn predict_linear(ts: &[i64], vs: &[f64], eval_t: i64, duration_s: f64) -> Option<f64> {
    if ts.len() < 2 {
        return None;
    }
    let (slope, intercept) = linear_regression(ts, vs, eval_t);
    Some(slope * duration_s + intercept)
}

/// `holt_winters(v, sf, tf)`: the smoothed value at the window's last
/// sample. Factors outside (0, 1) are an error (a NaN factor is not);
/// `Ok(None)` with fewer than two samples.
pub fn holt_winters(vs: &[f64], sf: f64, tf: f64) -> Result<Option<f64>, String> {
    if sf <= 0.0 || sf >= 1.0 {
        return Err(format!(
            "invalid smoothing factor. Expected: 0 < sf < 1, got: {}",
            fmt_f(sf)
        ));
    }
    if tf <= 0.0 || tf >= 1.0 {
        return Err(format!(
            "invalid trend factor. Expected: 0 < tf < 1, got: {}",
            fmt_f(tf)
        ));
    }
    if vs.len() < 2 {
        return Ok(None);
    }
    let mut s0 = 0.0;
    let mut s1 = vs[0];
    let mut b = vs[1] - vs[0];
    for (i, &v) in vs.iter().enumerate().skip(1) {
        let x = sf * v;
        // The trend at i-1; at the first step it is the initial trend.
        if i > 1 {
            b = tf * (s1 - s0) + (1.0 - tf) * b;
        }
        let y = (1.0 - sf) * (s1 + b);
        s0 = s1;
        s1 = x + y;
    }
    Ok(Some(s1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regression_on_a_line() {
        let ts = [0, 10_000, 20_000, 30_000];
        let vs = [1.0, 3.0, 5.0, 7.0];
        assert_eq!(deriv(&ts, &vs), Some(0.2));
        // at t=30 s the line is 7; 10 s later 9
        assert_eq!(predict_linear(&ts, &vs, 30_000, 10.0), Some(9.0));
        assert_eq!(predict_linear(&ts, &vs, 0, 0.0), Some(1.0));
        assert_eq!(deriv(&ts[..1], &vs[..1]), None);
    }

    #[test]
    fn constant_series() {
        let ts = [0, 10_000];
        assert_eq!(deriv(&ts, &[4.0, 4.0]), Some(0.0));
        assert_eq!(predict_linear(&ts, &[4.0, 4.0], 0, 100.0), Some(4.0));
        assert!(deriv(&ts, &[f64::INFINITY, f64::INFINITY])
            .unwrap()
            .is_nan());
    }

    #[test]
    fn holt_winters_smooths_and_checks_factors() {
        // s1=1, b=1; i=1: x=.5*2=1, b=1 (initial), y=.5*(1+1)=1 -> s1=2
        // i=2: x=.5*4=2, b=.5*(2-1)+.5*1=1, y=.5*(2+1)=1.5 -> s1=3.5
        assert_eq!(holt_winters(&[1.0, 2.0, 4.0], 0.5, 0.5), Ok(Some(3.5)));
        assert_eq!(holt_winters(&[1.0], 0.5, 0.5), Ok(None));
        assert_eq!(
            holt_winters(&[1.0, 2.0], 1.0, 0.5).unwrap_err(),
            "invalid smoothing factor. Expected: 0 < sf < 1, got: 1.000000"
        );
        assert_eq!(
            holt_winters(&[1.0, 2.0], 0.5, 0.0).unwrap_err(),
            "invalid trend factor. Expected: 0 < tf < 1, got: 0.000000"
        );
        assert!(holt_winters(&[1.0, 2.0], f64::NAN, 0.5)
            .unwrap()
            .unwrap()
            .is_nan());
    }
}
