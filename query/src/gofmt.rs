//! Go's formatting of numbers, strings and label sets, so that error
//! messages read exactly as Prometheus's (`%v`, `%f`, `%q` and
//! `labels.Labels.String()`).

use nines_engine::Labels;

/// Shortest decimal digits of a finite, non-zero `|v|` and the decimal
/// point position: `v = 0.d1d2... * 10^dp`.
fn shortest_digits(v: f64) -> (String, i32) {
    let s = format!("{:e}", v.abs());
    let (mant, exp) = s.split_once('e').unwrap_or((s.as_str(), "0"));
    let digits: String = mant.chars().filter(char::is_ascii_digit).collect();
    let exp: i32 = exp.parse().unwrap_or(0);
    (digits, exp + 1)
}

fn special(v: f64) -> Option<&'static str> {
    if v.is_nan() {
        Some("NaN")
    } else if v == f64::INFINITY {
        Some("+Inf")
    } else if v == f64::NEG_INFINITY {
        Some("-Inf")
    } else {
        None
    }
}

/// Go's `%v` of a float64 (`strconv.FormatFloat(v, 'g', -1, 64)`): the
/// shortest digits, in exponent form when the decimal exponent is below -4
/// or at least 6.
pub fn fmt_v(v: f64) -> String {
    if let Some(s) = special(v) {
        return s.to_string();
    }
    let sign = if v.is_sign_negative() { "-" } else { "" };
    if v == 0.0 {
        return format!("{sign}0");
    }
    let (d, dp) = shortest_digits(v);
    let exp = dp - 1;
    if !(-4..6).contains(&exp) {
        let mut out = format!("{sign}{}", &d[..1]);
        if d.len() > 1 {
            out.push('.');
            out.push_str(&d[1..]);
        }
        let (es, ea) = if exp < 0 { ('-', -exp) } else { ('+', exp) };
        out.push_str(&format!("e{es}{ea:02}"));
        return out;
    }
    // %f with max(nd - dp, 0) decimals
    let nd = d.len() as i32;
    let mut out = String::from(sign);
    if dp <= 0 {
        out.push('0');
    } else {
        for i in 0..dp {
            out.push(d.as_bytes().get(i as usize).map_or('0', |&b| char::from(b)));
        }
    }
    if nd > dp {
        out.push('.');
        for i in dp..nd {
            if i < 0 {
                out.push('0');
            } else {
                out.push(char::from(d.as_bytes()[i as usize]));
            }
        }
    }
    out
}

/// Go's `%f`: six decimals.
pub fn fmt_f(v: f64) -> String {
    match special(v) {
        Some(s) => s.to_string(),
        None => format!("{v:.6}"),
    }
}

/// Go's `strconv.Quote`: double quotes, backslash escapes for quotes,
/// backslashes and control characters.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if c.is_control() => {
                let n = c as u32;
                if n <= 0xffff {
                    out.push_str(&format!("\\u{n:04x}"));
                } else {
                    out.push_str(&format!("\\U{n:08x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Prometheus's `labels.Labels.String()`: `{__name__="up", job="a"}`.
pub fn labels_string(labels: &Labels) -> String {
    let mut out = String::from("{");
    for (i, l) in labels.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(&l.name);
        out.push('=');
        out.push_str(&quote(&l.value));
    }
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_v_like_go() {
        assert_eq!(fmt_v(1.0), "1");
        assert_eq!(fmt_v(-2.5), "-2.5");
        assert_eq!(fmt_v(123456.0), "123456");
        assert_eq!(fmt_v(1234567.0), "1.234567e+06");
        assert_eq!(fmt_v(1e20), "1e+20");
        assert_eq!(fmt_v(9.223372036854776e18), "9.223372036854776e+18");
        assert_eq!(fmt_v(0.0001), "0.0001");
        assert_eq!(fmt_v(0.00001), "1e-05");
        assert_eq!(fmt_v(0.000123), "0.000123");
        assert_eq!(fmt_v(1e-300), "1e-300");
        assert_eq!(fmt_v(0.0), "0");
        assert_eq!(fmt_v(-0.0), "-0");
        assert_eq!(fmt_v(f64::NAN), "NaN");
        assert_eq!(fmt_v(f64::NEG_INFINITY), "-Inf");
        assert_eq!(fmt_v(100.5), "100.5");
    }

    #[test]
    fn percent_f_like_go() {
        assert_eq!(fmt_f(1.5), "1.500000");
        assert_eq!(fmt_f(-0.1), "-0.100000");
        assert_eq!(fmt_f(f64::INFINITY), "+Inf");
    }

    #[test]
    fn quoting_and_labels() {
        assert_eq!(quote("a\"b\\c\nd\u{1}"), r#""a\"b\\c\nd\x01""#);
        assert_eq!(quote("é"), "\"é\"");
        let l = Labels::from_pairs(&[("__name__", "up"), ("job", "a\"b")]);
        assert_eq!(labels_string(&l), r#"{__name__="up", job="a\"b"}"#);
        assert_eq!(labels_string(&Labels::default()), "{}");
    }
}
