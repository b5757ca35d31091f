//! The date functions (`year`, `month`, `day_of_month`, `day_of_week`,
//! `day_of_year`, `days_in_month`, `hour`, `minute`) on Unix seconds, in
//! UTC and the proleptic Gregorian calendar, as Go's `time` computes them.

/// A sample value as Go's `int64(v)` on amd64 gives it: truncated toward
/// zero; NaN and values out of range become `i64::MIN`.
pub fn unix_seconds(v: f64) -> i64 {
    if !(-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&v) {
        i64::MIN
    } else {
        v as i64
    }
}

/// Year, month (1..=12) and day (1..=31) of a day count since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    // Shift to 0000-03-01 so that leap days end each 400-year era.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365], from March 1
    let mp = (5 * doy + 2) / 153; // [0, 11], March = 0
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// The calendar fields of one instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Civil {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    /// 0 = Sunday.
    pub weekday: u32,
    /// 1..=366
    pub yday: u32,
    pub hour: u32,
    pub minute: u32,
}

impl Civil {
    pub fn of_unix(secs: i64) -> Civil {
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        let mut yday = day;
        for m in 1..month {
            yday += days_in(year, m);
        }
        Civil {
            year,
            month,
            day,
            // 1970-01-01 was a Thursday.
            weekday: (days + 4).rem_euclid(7) as u32,
            yday,
            hour: (sod / 3_600) as u32,
            minute: (sod % 3_600 / 60) as u32,
        }
    }
}

/// The date function `name` applied to Unix seconds.
pub fn date_fn(name: &str) -> Option<fn(&Civil) -> f64> {
    Some(match name {
        "year" => |c| c.year as f64,
        "month" => |c| f64::from(c.month),
        "day_of_month" => |c| f64::from(c.day),
        "day_of_week" => |c| f64::from(c.weekday),
        "day_of_year" => |c| f64::from(c.yday),
        "days_in_month" => |c| f64::from(days_in(c.year, c.month)),
        "hour" => |c| f64::from(c.hour),
        "minute" => |c| f64::from(c.minute),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(name: &str, secs: i64) -> f64 {
        date_fn(name).unwrap()(&Civil::of_unix(secs))
    }

    #[test]
    fn known_dates() {
        // 2024-02-29T13:45:10Z, a Thursday, day 60 of a leap year
        let t = 1_709_214_310;
        assert_eq!(f("year", t), 2024.0);
        assert_eq!(f("month", t), 2.0);
        assert_eq!(f("day_of_month", t), 29.0);
        assert_eq!(f("day_of_week", t), 4.0);
        assert_eq!(f("day_of_year", t), 60.0);
        assert_eq!(f("days_in_month", t), 29.0);
        assert_eq!(f("hour", t), 13.0);
        assert_eq!(f("minute", t), 45.0);
        // 1970-01-01 is a Thursday; 2026-01-05 a Monday
        assert_eq!(f("day_of_week", 0), 4.0);
        assert_eq!(f("day_of_week", 1_767_571_200), 1.0);
        assert_eq!(f("days_in_month", 1_767_571_200), 31.0);
        // 1900 is not a leap year, 2000 is
        assert_eq!(f("days_in_month", -2_205_100_800), 28.0); // 1900-02-15
        assert_eq!(f("days_in_month", 950_572_800), 29.0); // 2000-02-15
                                                           // 2023-12-31 is day 365
        assert_eq!(f("day_of_year", 1_704_024_000), 365.0);
    }

    #[test]
    fn before_the_epoch() {
        // 1969-12-31T23:59:59Z, a Wednesday
        let c = Civil::of_unix(-1);
        assert_eq!(
            (c.year, c.month, c.day, c.hour, c.minute),
            (1969, 12, 31, 23, 59)
        );
        assert_eq!(c.weekday, 3);
        assert_eq!(c.yday, 365);
    }

    #[test]
    fn float_to_seconds_like_go_on_amd64() {
        assert_eq!(unix_seconds(1.9), 1);
        assert_eq!(unix_seconds(-1.9), -1);
        assert_eq!(unix_seconds(f64::NAN), i64::MIN);
        assert_eq!(unix_seconds(f64::INFINITY), i64::MIN);
        assert_eq!(unix_seconds(1e19), i64::MIN);
    }
}
