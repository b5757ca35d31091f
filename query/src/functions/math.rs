//! Element-wise math on instant vectors (`abs`, `ln`, trigonometry, `sgn`,
//! `round`, `clamp*`) and the arithmetic of binary operators, with Go's
//! `math` semantics where they differ from Rust's: `Log10` and `Log2` are
//! computed from `Log` as Go does (so `log10(1e15)` is 14.999999999999998,
//! as in Prometheus), `Pow` follows Go's algorithm (exact repeated
//! squaring for the integer part of the exponent), `Max`/`Min` let NaN win.
//!
//! Transcendental functions otherwise come from the platform's libm; they
//! may differ from Go's in the last bit.

use std::f64::consts::{LOG10_E, LOG2_E, PI};

use super::stats::{go_max, go_min, GO_NAN};

/// The element-wise function named `name` (the functions of one vector
/// argument that only transform values).
pub fn simple(name: &str) -> Option<fn(f64) -> f64> {
    Some(match name {
        "abs" => f64::abs,
        "ceil" => f64::ceil,
        "floor" => f64::floor,
        "exp" => f64::exp,
        "sqrt" => f64::sqrt,
        "ln" => f64::ln,
        "log2" => go_log2,
        "log10" => go_log10,
        "sin" => f64::sin,
        "cos" => f64::cos,
        "tan" => f64::tan,
        "asin" => f64::asin,
        "acos" => f64::acos,
        "atan" => f64::atan,
        "sinh" => f64::sinh,
        "cosh" => f64::cosh,
        "tanh" => f64::tanh,
        "asinh" => f64::asinh,
        "acosh" => f64::acosh,
        "atanh" => f64::atanh,
        "rad" => |v| v * PI / 180.0,
        "deg" => |v| v * 180.0 / PI,
        "sgn" => sgn,
        _ => return None,
    })
}

/// -1, 1, or the value itself for zeros and NaN.
pub fn sgn(v: f64) -> f64 {
    if v < 0.0 {
        -1.0
    } else if v > 0.0 {
        1.0
    } else {
        v
    }
}

/// `round(v, to_nearest)`: ties round up.
pub fn round(v: f64, to_nearest: f64) -> f64 {
    let inverse = 1.0 / to_nearest;
    (v * inverse + 0.5).floor() / inverse
}

/// `clamp(v, min, max)` for `min <= max` (the caller drops every sample
/// when `max < min`).
pub fn clamp(v: f64, min: f64, max: f64) -> f64 {
    go_max(min, go_min(max, v))
}

pub fn clamp_max(v: f64, max: f64) -> f64 {
    go_min(max, v)
}

pub fn clamp_min(v: f64, min: f64) -> f64 {
    go_max(min, v)
}

/// Go's `math.Log10`: `Log(x) * (1/Ln10)`.
pub fn go_log10(x: f64) -> f64 {
    x.ln() * LOG10_E
}

/// Go's `math.Log2`: exact for powers of two, else from `Log` of the
/// mantissa.
pub fn go_log2(x: f64) -> f64 {
    let (frac, exp) = frexp(x);
    if frac == 0.5 {
        return f64::from(exp - 1);
    }
    frac.ln() * LOG2_E + f64::from(exp)
}

/// Go's `math.Frexp`: `x = frac * 2^exp` with `|frac|` in [0.5, 1); zeros,
/// infinities and NaN come back unchanged with exponent 0.
pub fn frexp(x: f64) -> (f64, i32) {
    if x == 0.0 || x.is_infinite() || x.is_nan() {
        return (x, 0);
    }
    let (mut x, mut exp) = (x, 0i32);
    if x.abs() < f64::MIN_POSITIVE {
        x *= (1u64 << 52) as f64;
        exp = -52;
    }
    let bits = x.to_bits();
    exp += ((bits >> 52) & 0x7ff) as i32 - 1022;
    let frac = f64::from_bits((bits & !(0x7ff << 52)) | (1022u64 << 52));
    (frac, exp)
}

/// Go's `math.Ldexp`: `frac * 2^exp`, rounding once into the subnormal
/// range and saturating to zero or infinity.
pub fn ldexp(frac: f64, exp: i32) -> f64 {
    if frac == 0.0 || frac.is_infinite() || frac.is_nan() {
        return frac;
    }
    let (frac, e) = frexp(frac);
    let mut exp = i64::from(exp) + i64::from(e);
    // frac is in [0.5, 1): its biased exponent is 1022.
    let bits = frac.to_bits();
    exp += 1022 - 1023;
    if exp < -1075 {
        return 0.0f64.copysign(frac);
    }
    if exp > 1023 {
        return f64::INFINITY.copysign(frac);
    }
    let mut m = 1.0;
    if exp < -1022 {
        exp += 53;
        m = 1.0 / (1u64 << 53) as f64;
    }
    let bits = (bits & !(0x7ff << 52)) | (((exp + 1023) as u64) << 52);
    m * f64::from_bits(bits)
}

fn is_odd_int(y: f64) -> bool {
    if y.abs() >= (1u64 << 53) as f64 {
        return false;
    }
    y.fract() == 0.0 && (y as i64) & 1 == 1
}

/// Go's `math.Pow`, special cases and algorithm: the fractional part of the
/// exponent through `Exp(yf * Log(x))`, the integer part by repeated
/// squaring on the mantissa with the binary exponent kept apart.
pub fn go_pow(x: f64, y: f64) -> f64 {
    if y == 0.0 || x == 1.0 {
        return 1.0;
    }
    if y == 1.0 {
        return x;
    }
    if x.is_nan() || y.is_nan() {
        return GO_NAN;
    }
    if x == 0.0 {
        let odd_neg_zero = x.is_sign_negative() && is_odd_int(y);
        return if y < 0.0 {
            if odd_neg_zero {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            }
        } else if odd_neg_zero {
            x
        } else {
            0.0
        };
    }
    if y.is_infinite() {
        return if x == -1.0 {
            1.0
        } else if (x.abs() < 1.0) == (y > 0.0) {
            0.0
        } else {
            f64::INFINITY
        };
    }
    if x.is_infinite() {
        if x < 0.0 {
            return go_pow(1.0 / x, -y);
        }
        return if y < 0.0 { 0.0 } else { f64::INFINITY };
    }
    if y == 0.5 {
        return x.sqrt();
    }
    if y == -0.5 {
        return 1.0 / x.sqrt();
    }
    let ay = y.abs();
    let (mut yi, mut yf) = (ay.trunc(), ay.fract());
    if yf != 0.0 && x < 0.0 {
        return GO_NAN;
    }
    if yi >= 9_223_372_036_854_775_808.0 {
        // A huge even integer: overflow or underflow for every x but -1.
        return if x == -1.0 {
            1.0
        } else if (x.abs() < 1.0) == (y > 0.0) {
            0.0
        } else {
            f64::INFINITY
        };
    }
    let mut a1 = 1.0;
    let mut ae: i64 = 0;
    if yf != 0.0 {
        if yf > 0.5 {
            yf -= 1.0;
            yi += 1.0;
        }
        a1 = (yf * x.ln()).exp();
    }
    let (mut x1, xe) = frexp(x);
    let mut xe = i64::from(xe);
    // yi < 2^63 here.
    let mut i = yi as i64;
    while i != 0 {
        if !(-(1 << 12)..=(1 << 12)).contains(&xe) {
            // Certain overflow or underflow: let ldexp saturate.
            ae += xe;
            break;
        }
        if i & 1 == 1 {
            a1 *= x1;
            ae += xe;
        }
        x1 *= x1;
        xe <<= 1;
        if x1 < 0.5 {
            x1 += x1;
            xe -= 1;
        }
        i >>= 1;
    }
    if y < 0.0 {
        a1 = 1.0 / a1;
        ae = -ae;
    }
    let ae = i32::try_from(ae.clamp(-(1 << 20), 1 << 20)).unwrap_or(0);
    ldexp(a1, ae)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_follow_go() {
        assert_eq!(go_log10(1e15), 14.999999999999998);
        assert_eq!(go_log10(5.0), 0.6989700043360187);
        assert_eq!(go_log10(1000.0), 3.0);
        assert_eq!(go_log10(100.0), 2.0);
        assert_eq!(go_log2(8.0), 3.0);
        assert_eq!(go_log2(0.25), -2.0);
        assert!(go_log2(-1.0).is_nan());
        assert_eq!(go_log2(0.0), f64::NEG_INFINITY);
        assert_eq!(go_log10(f64::INFINITY), f64::INFINITY);
    }

    #[test]
    fn frexp_ldexp_round_trip() {
        for x in [
            1.0,
            0.3,
            -7.5,
            1e300,
            5e-324,
            2.2250738585072014e-308,
            1e-310,
        ] {
            let (f, e) = frexp(x);
            assert!((0.5..1.0).contains(&f.abs()), "{x}: {f}");
            assert_eq!(ldexp(f, e), x);
        }
        assert_eq!(frexp(8.0), (0.5, 4));
        assert_eq!(ldexp(1.0, 2000), f64::INFINITY);
        assert_eq!(ldexp(-1.0, -2000), -0.0);
        assert_eq!(ldexp(1.0, -1074), 5e-324);
    }

    #[test]
    fn pow_special_cases() {
        assert_eq!(go_pow(f64::NAN, 0.0), 1.0);
        assert_eq!(go_pow(1.0, f64::NAN), 1.0);
        assert!(go_pow(2.0, f64::NAN).is_nan());
        assert_eq!(go_pow(-0.0, -3.0), f64::NEG_INFINITY);
        assert_eq!(go_pow(0.0, -2.0), f64::INFINITY);
        assert!(go_pow(-0.0, 3.0).is_sign_negative());
        assert_eq!(go_pow(-1.0, f64::INFINITY), 1.0);
        assert_eq!(go_pow(2.0, f64::NEG_INFINITY), 0.0);
        assert_eq!(go_pow(0.5, f64::NEG_INFINITY), f64::INFINITY);
        assert_eq!(go_pow(f64::NEG_INFINITY, 3.0), f64::NEG_INFINITY);
        assert_eq!(go_pow(f64::NEG_INFINITY, -2.0), 0.0);
        assert!(go_pow(-8.0, 1.0 / 3.0).is_nan());
        assert_eq!(go_pow(4.0, 0.5), 2.0);
        assert_eq!(go_pow(4.0, -0.5), 0.5);
        assert_eq!(go_pow(10.0, 1e300), f64::INFINITY);
        assert_eq!(go_pow(-1.0, 1e300), 1.0);
    }

    #[test]
    fn pow_integer_exponents_are_exact_squaring() {
        assert_eq!(go_pow(2.0, 10.0), 1024.0);
        assert_eq!(go_pow(-3.0, 3.0), -27.0);
        assert_eq!(go_pow(1.5, 2.0), 2.25);
        assert_eq!(go_pow(10.0, -2.0), 0.01);
        assert_eq!(go_pow(2.0, -1074.0), 5e-324);
        assert_eq!(go_pow(2.0, 1024.0), f64::INFINITY);
    }

    #[test]
    fn trigonometry_and_friends_at_exact_points() {
        let f = |name: &str, x: f64| simple(name).unwrap()(x);
        assert_eq!(f("sin", 0.0), 0.0);
        assert_eq!(f("cos", 0.0), 1.0);
        assert_eq!(f("tan", 0.0), 0.0);
        assert_eq!(f("asin", 1.0), PI / 2.0);
        assert_eq!(f("acos", 1.0), 0.0);
        assert_eq!(f("atan", f64::INFINITY), PI / 2.0);
        assert_eq!(f("sinh", 0.0), 0.0);
        assert_eq!(f("cosh", 0.0), 1.0);
        assert_eq!(f("tanh", f64::INFINITY), 1.0);
        assert_eq!(f("asinh", 0.0), 0.0);
        assert_eq!(f("acosh", 1.0), 0.0);
        assert_eq!(f("atanh", 1.0), f64::INFINITY);
        assert!(f("acos", 2.0).is_nan());
        assert_eq!(f("exp", 0.0), 1.0);
        assert_eq!(f("ln", 1.0), 0.0);
        assert_eq!(f("sqrt", 16.0), 4.0);
        assert_eq!(f("abs", -0.5), 0.5);
        assert_eq!(f("ceil", 1.2), 2.0);
        assert_eq!(f("floor", -1.2), -2.0);
    }

    #[test]
    fn rounding_clamping_sign() {
        assert_eq!(round(2.5, 1.0), 3.0);
        assert_eq!(round(-2.5, 1.0), -2.0);
        assert_eq!(round(1.234, 0.1), 1.2);
        assert_eq!(round(17.0, 5.0), 15.0);
        assert_eq!(clamp(5.0, 0.0, 3.0), 3.0);
        assert!(clamp(f64::NAN, 0.0, 3.0).is_nan());
        assert_eq!(clamp_max(5.0, 3.0), 3.0);
        assert_eq!(clamp_min(-1.0, 0.0), 0.0);
        assert_eq!(sgn(-3.0), -1.0);
        assert!(sgn(-0.0).is_sign_negative());
        assert!(sgn(f64::NAN).is_nan());
        assert_eq!(simple("deg").unwrap()(PI), 180.0);
        assert_eq!(simple("rad").unwrap()(180.0), PI);
        assert!(simple("nope").is_none());
    }
}
