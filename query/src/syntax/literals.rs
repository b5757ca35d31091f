//! Literal values: numbers, durations and `@` timestamps read and printed
//! with Prometheus's rules, and Go-style quoting for strings and messages.

/// A NUMBER token's value, as Prometheus reads it: an integer in Go syntax
/// first (`0x1F`, and a leading `0` means octal: `010` is 8), otherwise a
/// float (`1.5e3`, `.5`, `5.`, `Inf`, `NaN`). A float beyond `f64` is an
/// error, as in Go.
pub(crate) fn parse_number(text: &str) -> Result<f64, String> {
    if let Some(i) = parse_go_int(text) {
        return Ok(i as f64);
    }
    let err = |why: &str| {
        format!(
            "error parsing number: strconv.ParseFloat: parsing {}: {why}",
            go_quote(text)
        )
    };
    let is_word = text.bytes().all(|b| b.is_ascii_alphabetic());
    // Rust's float syntax is Go's for everything the lexer lets through
    // (no hex floats: the lexer refuses `p` exponents).
    match text.parse::<f64>() {
        Ok(v) if v.is_infinite() && !is_word => Err(err("value out of range")),
        Ok(v) => Ok(v),
        Err(_) => Err(err("invalid syntax")),
    }
}

/// Go's `strconv.ParseInt(text, 0, 64)` for the shapes the lexer produces.
fn parse_go_int(text: &str) -> Option<i64> {
    let (digits, radix) = if let Some(h) = text.strip_prefix("0x").or(text.strip_prefix("0X")) {
        (h, 16)
    } else if text.len() > 1 && text.starts_with('0') {
        (&text[1..], 8)
    } else {
        (text, 10)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    i64::from_str_radix(digits, radix).ok()
}

const MS_PER_UNIT: [(&str, i64); 7] = [
    ("y", 365 * 24 * 3_600_000),
    ("w", 7 * 24 * 3_600_000),
    ("d", 24 * 3_600_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1_000),
    ("ms", 1),
];

/// A DURATION token's length in milliseconds, with Prometheus's rules: units
/// `y w d h m s ms` (a year is 365 days), each at most once and in that
/// order (`1h30m`, not `30m1h`), the total within Go's `time.Duration`
/// (about 292 years) and greater than zero.
pub fn parse_duration(text: &str) -> Result<i64, String> {
    let invalid = || format!("not a valid duration string: {}", go_quote(text));
    let mut rest = text;
    let mut total_ns: i64 = 0;
    let mut overflow = false;
    for (unit, ms) in MS_PER_UNIT {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            continue;
        }
        let after = &rest[digits..];
        let Some(tail) = after.strip_prefix(unit) else {
            continue;
        };
        // `5ms` is milliseconds, not minutes followed by a stray `s`.
        if unit == "m" && tail.starts_with('s') {
            continue;
        }
        let n: i64 = rest[..digits].parse().unwrap_or(i64::MAX);
        match n
            .checked_mul(ms)
            .and_then(|v| v.checked_mul(1_000_000))
            .and_then(|v| v.checked_add(total_ns))
        {
            Some(t) => total_ns = t,
            None => overflow = true,
        }
        rest = tail;
    }
    if !rest.is_empty() || text.is_empty() {
        return Err(invalid());
    }
    if overflow {
        return Err("duration out of range".into());
    }
    if total_ns == 0 {
        return Err("duration must be greater than 0".into());
    }
    Ok(total_ns / 1_000_000)
}

/// Prints a duration canonically, as Prometheus does: largest units first,
/// years and weeks only when they divide it exactly (`90d`, not `12w6d`),
/// `0s` for zero; `-` before a negative one.
pub fn format_duration(ms: i64) -> String {
    if ms == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    if ms < 0 {
        out.push('-');
    }
    let mut left = ms.unsigned_abs();
    for (i, (unit, per)) in MS_PER_UNIT.into_iter().enumerate() {
        let per = per.unsigned_abs();
        let exact_only = i < 2;
        if exact_only && !left.is_multiple_of(per) {
            continue;
        }
        let n = left / per;
        if n > 0 {
            out.push_str(&n.to_string());
            out.push_str(unit);
            left -= n * per;
        }
    }
    out
}

/// Prints a number so that the lexer reads back the identical `f64`, in the
/// shape of Go's `%v`: shortest digits, an exponent below 1e-4 and from 1e21
/// on (`1e+21`, `1.5e-07`), `NaN`, `Inf`, `-Inf`.
pub fn format_number(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Inf".into() } else { "-Inf".into() };
    }
    let sci = format!("{v:e}");
    let Some((mantissa, exp)) = sci.split_once('e') else {
        return v.to_string();
    };
    let exp: i32 = exp.parse().unwrap_or(0);
    if (-4..21).contains(&exp) {
        return v.to_string();
    }
    let sign = if exp < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{:02}", exp.unsigned_abs())
}

/// The `@` timestamp in milliseconds for `seconds`, as Prometheus computes
/// it (rounded), or its error for values outside `i64`.
pub(crate) fn at_millis(seconds: f64) -> Result<i64, String> {
    const LIMIT: f64 = 9_223_372_036_854_775_808.0; // 2^63
    let ms = (seconds * 1000.0).round();
    if seconds.is_finite() && seconds < LIMIT && seconds > -LIMIT && (-LIMIT..LIMIT).contains(&ms) {
        Ok(ms as i64)
    } else {
        Err(format!(
            "timestamp out of bounds for @ modifier: {}",
            go_fixed6(seconds)
        ))
    }
}

/// Go's `%f`.
fn go_fixed6(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{v:.6}")
    }
}

/// Prints an `@` timestamp (milliseconds) as seconds that read back to the
/// same milliseconds: `1700000000.123`, like Prometheus's `%.3f`; for
/// timestamps beyond 2^53 ms, whose seconds are not exact in an `f64`, the
/// nearest `f64` that rounds back to them.
pub fn format_at_seconds(ms: i64) -> String {
    let sign = if ms < 0 { "-" } else { "" };
    let abs = ms.unsigned_abs();
    let plain = format!("{sign}{}.{:03}", abs / 1000, abs % 1000);
    let reads_back = |s: &str| {
        s.trim_start_matches('-')
            .parse::<f64>()
            .ok()
            .map(|v| if s.starts_with('-') { -v } else { v })
            .and_then(|v| at_millis(v).ok())
            == Some(ms)
    };
    if reads_back(&plain) {
        return plain;
    }
    let nearest = ms as f64 / 1000.0;
    let (mut up, mut down) = (nearest, nearest);
    for _ in 0..8 {
        for candidate in [up, down] {
            let s = format_number(candidate);
            if reads_back(&s) {
                return s;
            }
        }
        up = up.next_up();
        down = down.next_down();
    }
    plain
}

/// Go's `strconv.Quote`: double quotes, `\"` and `\\`, escapes for control
/// and other invisible characters; printable characters as they are. The
/// engine's `string_literal` reads every output back to the same string.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        push_escaped(&mut out, c, '"');
    }
    out.push('"');
    out
}

/// Go's `strconv.QuoteRune`: `'x'`.
pub(crate) fn go_quote_rune(c: char) -> String {
    let mut out = String::from('\'');
    push_escaped(&mut out, c, '\'');
    out.push('\'');
    out
}

fn push_escaped(out: &mut String, c: char, quote: char) {
    match c {
        '\\' => out.push_str("\\\\"),
        c if c == quote => {
            out.push('\\');
            out.push(c);
        }
        '\x07' => out.push_str("\\a"),
        '\x08' => out.push_str("\\b"),
        '\x0c' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\x0b' => out.push_str("\\v"),
        c if (c as u32) < 0x20 || c == '\x7f' => out.push_str(&format!("\\x{:02x}", c as u32)),
        c if is_invisible(c) => {
            if (c as u32) < 0x10000 {
                out.push_str(&format!("\\u{:04x}", c as u32));
            } else {
                out.push_str(&format!("\\U{:08x}", c as u32));
            }
        }
        c => out.push(c),
    }
}

/// Characters Go's `strconv.IsPrint` refuses, as far as they matter here:
/// controls, spaces other than ' ', and the common invisible format marks.
fn is_invisible(c: char) -> bool {
    c.is_control()
        || (c.is_whitespace() && c != ' ')
        || matches!(c, '\u{ad}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2064}' | '\u{feff}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_follow_go() {
        let n = |s: &str| parse_number(s).unwrap();
        assert_eq!(n("1"), 1.0);
        assert_eq!(n("010"), 8.0);
        assert_eq!(n("08"), 8.0);
        assert_eq!(n("0x1F"), 31.0);
        assert_eq!(n("0X1f"), 31.0);
        assert_eq!(n("1.5e3"), 1500.0);
        assert_eq!(n(".5"), 0.5);
        assert_eq!(n("5."), 5.0);
        assert_eq!(n("1E-2"), 0.01);
        assert_eq!(n("9223372036854775808"), 9223372036854775808.0);
        assert_eq!(n("07777777777777777777777"), 7777777777777777777777.0);
        assert_eq!(n("InF"), f64::INFINITY);
        assert!(n("nAn").is_nan());
        let e = |s: &str| parse_number(s).unwrap_err();
        assert_eq!(
            e("1e"),
            "error parsing number: strconv.ParseFloat: parsing \"1e\": invalid syntax"
        );
        assert!(e("0x").ends_with("invalid syntax"));
        assert!(e("0x1.8").ends_with("invalid syntax"));
        assert!(e("0xFFFFFFFFFFFFFFFFFF").ends_with("invalid syntax"));
        assert!(e("1e400").ends_with("value out of range"));
        assert!(e(&"9".repeat(400)).ends_with("value out of range"));
    }

    #[test]
    fn durations_follow_prometheus() {
        let d = |s: &str| parse_duration(s).unwrap();
        assert_eq!(d("5m"), 300_000);
        assert_eq!(d("1h30m"), 5_400_000);
        assert_eq!(d("1y"), 365 * 86_400_000);
        assert_eq!(d("2w"), 14 * 86_400_000);
        assert_eq!(d("1ms"), 1);
        assert_eq!(d("1m5ms"), 60_005);
        assert_eq!(
            d("1y2w3d4h5m6s7ms"),
            31_536_000_000 + 1_209_600_000 + 259_200_000 + 14_400_000 + 300_000 + 6_000 + 7
        );
        assert_eq!(d("0s1ms"), 1);
        let e = |s: &str| parse_duration(s).unwrap_err();
        assert_eq!(e("5m1h"), "not a valid duration string: \"5m1h\"");
        assert_eq!(e("5m1m"), "not a valid duration string: \"5m1m\"");
        assert_eq!(e("5y1hs"), "not a valid duration string: \"5y1hs\"");
        assert_eq!(e("1.5h"), "not a valid duration string: \"1.5h\"");
        assert_eq!(e("0m"), "duration must be greater than 0");
        assert_eq!(e("293y"), "duration out of range");
        assert_eq!(e("99999999999999999999999s"), "duration out of range");
        assert_eq!(d("292y"), 292 * 31_536_000_000);
    }

    #[test]
    fn durations_print_canonically() {
        for (ms, s) in [
            (5_400_000, "1h30m"),
            (90 * 86_400_000, "90d"),
            (14 * 86_400_000, "2w"),
            (365 * 86_400_000, "1y"),
            (366 * 86_400_000, "366d"),
            (1, "1ms"),
            (61_001, "1m1s1ms"),
            (0, "0s"),
            (-300_000, "-5m"),
        ] {
            assert_eq!(format_duration(ms), s);
            if ms > 0 {
                assert_eq!(parse_duration(s), Ok(ms));
            }
        }
    }

    #[test]
    fn numbers_print_like_go() {
        for (v, s) in [
            (1.0, "1"),
            (0.5, "0.5"),
            (1e6, "1000000"),
            (1e20, "100000000000000000000"),
            (1e21, "1e+21"),
            (1.5e-7, "1.5e-07"),
            (0.0001, "0.0001"),
            (-2.5e300, "-2.5e+300"),
            (f64::INFINITY, "Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (f64::NAN, "NaN"),
        ] {
            assert_eq!(format_number(v), s);
        }
    }

    #[test]
    fn at_timestamps_read_back() {
        assert_eq!(format_at_seconds(1_700_000_000_123), "1700000000.123");
        assert_eq!(format_at_seconds(-1_500), "-1.500");
        assert_eq!(format_at_seconds(0), "0.000");
        assert_eq!(at_millis(1_700_000_000.123), Ok(1_700_000_000_123));
        assert!(at_millis(f64::NAN).unwrap_err().ends_with(": NaN"));
        assert!(at_millis(f64::INFINITY).unwrap_err().ends_with(": +Inf"));
        assert!(at_millis(-9.3e18)
            .unwrap_err()
            .ends_with(": -9300000000000000000.000000"));
        for seconds in [
            1e15,
            123_456_789_012_345.67,
            9.2e15,
            -4.5e15 + 0.001,
            9e15 / 7.0,
        ] {
            let ms = at_millis(seconds).unwrap();
            let printed = format_at_seconds(ms);
            let back: f64 = printed.parse().unwrap();
            assert_eq!(at_millis(back), Ok(ms), "{seconds} -> {ms} -> {printed}");
        }
    }

    #[test]
    fn quoting_reads_back() {
        assert_eq!(go_quote("a\"b\\c\nd\te\u{1}"), r#""a\"b\\c\nd\te\x01""#);
        assert_eq!(go_quote("é\u{200b}"), "\"é\\u200b\"");
        assert_eq!(go_quote_rune('\''), r"'\''");
        for s in [
            "plain",
            "\"'`\\",
            "\u{0}\u{7f}\u{85}\u{2028}\u{10ffff}\u{feff}",
            "ü🦀",
        ] {
            let q = go_quote(s);
            let (back, rest) = nines_engine::index::selector::string_literal(&q).unwrap();
            assert_eq!((back.as_str(), rest), (s, ""), "{q}");
        }
    }
}
