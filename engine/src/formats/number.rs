//! Numbers in the text formats: sample values and timestamps, parsed exactly
//! and printed so that they read back to the same bits.

use std::io::Write;

use super::PROMETHEUS_NAN_BITS;
use crate::types::TimestampMs;

/// Appends a finite `v` with the fewest significant digits that parse back
/// to the same bits (Rust's float formatting is shortest-round-trip). Plain
/// notation where that is short, exponent notation (`1e300`, `5e-324`) where
/// plain notation would spell out runs of zeros. Both are valid JSON numbers,
/// OpenMetrics numbers and Go `ParseFloat` input. `-0.0` prints as `-0`.
pub(crate) fn push_finite(out: &mut Vec<u8>, v: f64) {
    debug_assert!(v.is_finite());
    let a = v.abs();
    // Writing to a Vec cannot fail.
    let _ = if a == 0.0 || (1e-5..1e16).contains(&a) {
        write!(out, "{v}")
    } else {
        write!(out, "{v:e}")
    };
}

/// Appends an integer in decimal.
pub(crate) fn push_int(out: &mut Vec<u8>, v: i64) {
    // Writing to a Vec cannot fail.
    let _ = write!(out, "{v}");
}

/// Parses a sample value of the text formats: a decimal number with optional
/// sign, fraction and exponent, or `NaN`, `Inf`, `+Inf`, `-Inf`, `Infinity`
/// in any case. That is the OpenMetrics number grammar; Rust's float parser
/// accepts exactly it and rounds correctly. Every NaN becomes Prometheus's
/// NaN ([`PROMETHEUS_NAN_BITS`]), as Prometheus stores it.
pub(crate) fn parse_text_value(s: &str) -> Option<f64> {
    let v: f64 = s.parse().ok()?;
    Some(if v.is_nan() {
        f64::from_bits(PROMETHEUS_NAN_BITS)
    } else {
        v
    })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TimestampError {
    Syntax,
    Range,
}

/// Parses Prometheus text timestamps: integer milliseconds with an optional
/// sign.
pub(crate) fn parse_millis(s: &str) -> Result<TimestampMs, TimestampError> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(TimestampError::Syntax);
    }
    s.parse().map_err(|_| TimestampError::Range)
}

/// Parses OpenMetrics timestamps, `[sign] digits [. digits] [e [sign] digits]`
/// seconds, exactly into milliseconds: the decimal digits are shifted, never
/// multiplied in floating point. Digits below the millisecond are truncated
/// toward zero, as Prometheus does (`int64(seconds * 1000)`); the flag says
/// whether any non-zero digit was dropped.
pub(crate) fn parse_seconds(s: &[u8]) -> Result<(TimestampMs, bool), TimestampError> {
    let mut i = 0;
    let neg = match s.first() {
        Some(b'-') => {
            i = 1;
            true
        }
        Some(b'+') => {
            i = 1;
            false
        }
        _ => false,
    };
    let digits_from = |i: usize| i + s[i..].iter().take_while(|b| b.is_ascii_digit()).count();
    let int_end = digits_from(i);
    let int = &s[i..int_end];
    i = int_end;
    let mut frac: &[u8] = &[];
    if s.get(i) == Some(&b'.') {
        let end = digits_from(i + 1);
        frac = &s[i + 1..end];
        i = end;
    }
    if int.is_empty() && frac.is_empty() {
        return Err(TimestampError::Syntax);
    }
    let mut exp: i64 = 0;
    if matches!(s.get(i), Some(b'e' | b'E')) {
        i += 1;
        let exp_neg = match s.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let end = digits_from(i);
        if end == i {
            return Err(TimestampError::Syntax);
        }
        for &d in &s[i..end] {
            // Saturate: any exponent this large is out of range anyway
            // (unless the mantissa is zero, which the shift handles).
            exp = (exp * 10 + i64::from(d - b'0')).min(1_000_000_000);
        }
        if exp_neg {
            exp = -exp;
        }
        i = end;
    }
    if i != s.len() {
        return Err(TimestampError::Syntax);
    }

    // The digits `int ++ frac` with the decimal point after `point` of them
    // once scaled to milliseconds.
    let total = int.len() + frac.len();
    let digit = |k: usize| {
        let d = if k < int.len() {
            int[k]
        } else {
            frac[k - int.len()]
        };
        i128::from(d - b'0')
    };
    let point = int.len() as i64 + exp + 3;
    let whole = point.clamp(0, total as i64) as usize;
    let limit = i128::from(i64::MAX) + i128::from(neg);
    let mut acc: i128 = 0;
    for k in 0..whole {
        acc = acc * 10 + digit(k);
        if acc > limit {
            return Err(TimestampError::Range);
        }
    }
    if acc != 0 {
        for _ in total as i64..point {
            acc *= 10;
            if acc > limit {
                return Err(TimestampError::Range);
            }
        }
    }
    let truncated = (whole..total).any(|k| digit(k) != 0);
    let ms = if neg { -acc } else { acc };
    // acc <= limit, so the value fits.
    let ms = i64::try_from(ms).map_err(|_| TimestampError::Range)?;
    Ok((ms, truncated))
}

/// Appends a millisecond timestamp as OpenMetrics seconds with exactly three
/// decimals (`1700000000.123`, `-0.001`), which [`parse_seconds`] reads back
/// exactly.
pub(crate) fn push_seconds(out: &mut Vec<u8>, ms: TimestampMs) {
    let sign = if ms < 0 { "-" } else { "" };
    let a = ms.unsigned_abs();
    // Writing to a Vec cannot fail.
    let _ = write!(out, "{sign}{}.{:03}", a / 1000, a % 1000);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn values_parse_every_text_form() {
        let bits = |s: &str| parse_text_value(s).map(f64::to_bits);
        assert_eq!(bits("NaN"), Some(PROMETHEUS_NAN_BITS));
        assert_eq!(bits("nan"), Some(PROMETHEUS_NAN_BITS));
        assert_eq!(bits("+Inf"), Some(f64::INFINITY.to_bits()));
        assert_eq!(bits("Inf"), Some(f64::INFINITY.to_bits()));
        assert_eq!(bits("-Inf"), Some(f64::NEG_INFINITY.to_bits()));
        assert_eq!(bits("-0"), Some((-0.0f64).to_bits()));
        assert_eq!(parse_text_value("1.5e3"), Some(1500.0));
        assert_eq!(parse_text_value("1E-3"), Some(0.001));
        assert_eq!(parse_text_value(".5"), Some(0.5));
        assert_eq!(parse_text_value("0042"), Some(42.0));
        for bad in ["", "x", "1,5", "0x10", "1_0", "Infinit", "--1"] {
            assert_eq!(parse_text_value(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn finite_values_print_short() {
        let show = |v: f64| {
            let mut out = Vec::new();
            push_finite(&mut out, v);
            String::from_utf8(out).unwrap_or_default()
        };
        assert_eq!(show(1.0), "1");
        assert_eq!(show(0.1), "0.1");
        assert_eq!(show(-0.0), "-0");
        assert_eq!(show(1e300), "1e300");
        assert_eq!(show(1.5e-7), "1.5e-7");
        assert_eq!(show(5e-324), "5e-324");
        assert_eq!(show(123456.789), "123456.789");
    }

    #[test]
    fn millis_are_integers() {
        assert_eq!(parse_millis("1700000000123"), Ok(1_700_000_000_123));
        assert_eq!(parse_millis("-5"), Ok(-5));
        assert_eq!(parse_millis("+5"), Ok(5));
        assert_eq!(parse_millis("1.5"), Err(TimestampError::Syntax));
        assert_eq!(parse_millis("-"), Err(TimestampError::Syntax));
        assert_eq!(parse_millis("1e3"), Err(TimestampError::Syntax));
        assert_eq!(
            parse_millis("99999999999999999999"),
            Err(TimestampError::Range)
        );
    }

    #[test]
    fn seconds_convert_exactly() {
        let p = |s: &str| parse_seconds(s.as_bytes());
        assert_eq!(p("1700000000.123"), Ok((1_700_000_000_123, false)));
        assert_eq!(p("1700000000"), Ok((1_700_000_000_000, false)));
        assert_eq!(p("1700000000."), Ok((1_700_000_000_000, false)));
        assert_eq!(p(".5"), Ok((500, false)));
        assert_eq!(p("-0.001"), Ok((-1, false)));
        assert_eq!(p("+1.5"), Ok((1500, false)));
        assert_eq!(p("1.7e9"), Ok((1_700_000_000_000, false)));
        assert_eq!(p("17E8"), Ok((1_700_000_000_000, false)));
        assert_eq!(p("1700000000123e-3"), Ok((1_700_000_000_123, false)));
        assert_eq!(p("1.230000000"), Ok((1230, false)));
        assert_eq!(p("0e999999999999999999"), Ok((0, false)));
        // Below the millisecond: truncated toward zero and flagged.
        assert_eq!(p("1.2345"), Ok((1234, true)));
        assert_eq!(p("-1.2349"), Ok((-1234, true)));
        assert_eq!(p("1e-10"), Ok((0, true)));
        // The whole i64 range, and no further.
        assert_eq!(p("9223372036854775.807"), Ok((i64::MAX, false)));
        assert_eq!(p("-9223372036854775.808"), Ok((i64::MIN, false)));
        assert_eq!(p("9223372036854775.808"), Err(TimestampError::Range));
        assert_eq!(p("1e17"), Err(TimestampError::Range));
        assert_eq!(p("1e999999999999"), Err(TimestampError::Range));
        for bad in [
            "", "-", ".", "e5", "1e", "1e+", "1.5.", "1x", "NaN", "Inf", "1 ",
        ] {
            assert_eq!(p(bad), Err(TimestampError::Syntax), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn seconds_round_trip(ms in any::<i64>()) {
            let mut out = Vec::new();
            push_seconds(&mut out, ms);
            prop_assert_eq!(parse_seconds(&out), Ok((ms, false)));
        }

        #[test]
        fn finite_values_round_trip(bits in any::<u64>()) {
            let v = f64::from_bits(bits);
            prop_assume!(v.is_finite());
            let mut out = Vec::new();
            push_finite(&mut out, v);
            let text = String::from_utf8(out).unwrap_or_default();
            prop_assert_eq!(parse_text_value(&text).map(f64::to_bits), Some(bits), "{}", text);
        }
    }
}
