//! OpenSLO duration shorthand: a positive integer and one unit letter.
//! `s`, `m`, `h`, `d`, `w` are fixed lengths; `M`, `Q`, `Y` (or `y`) are
//! calendar units, valid only for calendar windows.

use crate::calendar::CalendarUnit;

/// A parsed shorthand duration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shorthand {
    Fixed(i64),
    /// `n` calendar units (days and weeks are both fixed and calendar).
    Calendar(u32, CalendarUnit),
}

pub fn parse(text: &str) -> Result<Shorthand, String> {
    let bad = || {
        format!(
            "invalid duration {text:?}: expected a positive integer and one of s, m, h, d, w, M, Q, Y"
        )
    };
    let t = text.trim();
    let unit = t.chars().last().ok_or_else(bad)?;
    let digits = &t[..t.len() - unit.len_utf8()];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n: u32 = digits.parse().map_err(|_| bad())?;
    if n == 0 {
        return Err(bad());
    }
    let ms = |per: i64| Ok(Shorthand::Fixed(i64::from(n) * per));
    match unit {
        's' => ms(1_000),
        'm' => ms(60_000),
        'h' => ms(3_600_000),
        'd' => ms(86_400_000),
        'w' => ms(7 * 86_400_000),
        'M' => Ok(Shorthand::Calendar(n, CalendarUnit::Month)),
        'Q' => Ok(Shorthand::Calendar(n, CalendarUnit::Quarter)),
        'Y' | 'y' => Ok(Shorthand::Calendar(n, CalendarUnit::Year)),
        _ => Err(bad()),
    }
}

/// A fixed length in milliseconds (calendar units refused).
pub fn parse_fixed(text: &str) -> Result<i64, String> {
    match parse(text)? {
        Shorthand::Fixed(ms) => Ok(ms),
        Shorthand::Calendar(..) => Err(format!(
            "{text:?} is a calendar duration; a fixed length (s, m, h, d, w) is needed here"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(parse("28d"), Ok(Shorthand::Fixed(28 * 86_400_000)));
        assert_eq!(parse("5m"), Ok(Shorthand::Fixed(300_000)));
        assert_eq!(parse("1M"), Ok(Shorthand::Calendar(1, CalendarUnit::Month)));
        assert_eq!(
            parse("1Q"),
            Ok(Shorthand::Calendar(1, CalendarUnit::Quarter))
        );
        for bad in ["", "d", "0d", "-1d", "1.5h", "3x", "1 d x"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert!(parse_fixed("1M").is_err());
    }
}
