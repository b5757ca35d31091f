//! Calendar arithmetic in an SLO's time zone: calendar periods and time
//! slices, DST-correct (a day is 23, 24 or 25 hours as the zone says).
//!
//! Windows follow the counting convention `(a, b]`: the period that starts
//! at local midnight of the 1st and ends at the next 1st holds the event
//! times `(start, end]`, so a period is also a run of whole rollup buckets
//! wherever the zone's offset is whole hours.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan, Zoned};
use nines_engine::TimestampMs;
use serde::{Deserialize, Serialize};

use crate::error::SloError;

pub const DAY_MS: i64 = 86_400_000;

/// A calendar period's length. Weeks start on Monday (ISO 8601), quarters
/// in January, April, July and October.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CalendarUnit {
    Day,
    Week,
    Month,
    Quarter,
    Year,
}

impl CalendarUnit {
    pub fn as_str(self) -> &'static str {
        match self {
            CalendarUnit::Day => "day",
            CalendarUnit::Week => "week",
            CalendarUnit::Month => "month",
            CalendarUnit::Quarter => "quarter",
            CalendarUnit::Year => "year",
        }
    }

    pub fn parse(s: &str) -> Option<CalendarUnit> {
        [
            CalendarUnit::Day,
            CalendarUnit::Week,
            CalendarUnit::Month,
            CalendarUnit::Quarter,
            CalendarUnit::Year,
        ]
        .into_iter()
        .find(|u| u.as_str() == s)
    }

    /// The first day of the period containing `d`.
    fn start_date(self, d: Date) -> Date {
        match self {
            CalendarUnit::Day => d,
            CalendarUnit::Week => d
                .checked_sub(i64::from(d.weekday().to_monday_zero_offset()).days())
                .unwrap_or(d),
            CalendarUnit::Month => d.first_of_month(),
            CalendarUnit::Quarter => {
                let m = (d.month() - 1) / 3 * 3 + 1;
                Date::new(d.year(), m, 1).unwrap_or(d)
            }
            CalendarUnit::Year => d.first_of_year(),
        }
    }

    /// The first day of the period after the one starting on `start`.
    fn next_date(self, start: Date) -> Result<Date, SloError> {
        let r = match self {
            CalendarUnit::Day => start.checked_add(1.day()),
            CalendarUnit::Week => start.checked_add(1.week()),
            CalendarUnit::Month => start.checked_add(1.month()),
            CalendarUnit::Quarter => start.checked_add(3.months()),
            CalendarUnit::Year => start.checked_add(1.year()),
        };
        r.map_err(|e| SloError::Time(e.to_string()))
    }

    fn prev_date(self, start: Date) -> Result<Date, SloError> {
        let r = match self {
            CalendarUnit::Day => start.checked_sub(1.day()),
            CalendarUnit::Week => start.checked_sub(1.week()),
            CalendarUnit::Month => start.checked_sub(1.month()),
            CalendarUnit::Quarter => start.checked_sub(3.months()),
            CalendarUnit::Year => start.checked_sub(1.year()),
        };
        r.map_err(|e| SloError::Time(e.to_string()))
    }
}

/// An IANA zone from the bundled database (works without
/// /usr/share/zoneinfo).
pub fn zone(name: &str) -> Result<TimeZone, SloError> {
    TimeZone::get(name).map_err(|e| SloError::Time(format!("time zone {name:?}: {e}")))
}

fn to_zoned(t: TimestampMs, tz: &TimeZone) -> Result<Zoned, SloError> {
    Timestamp::from_millisecond(t)
        .map(|ts| ts.to_zoned(tz.clone()))
        .map_err(|e| SloError::Time(e.to_string()))
}

/// Local midnight of `d` (the first instant of the day where midnight falls
/// in a DST gap) as Unix milliseconds.
pub fn midnight(d: Date, tz: &TimeZone) -> Result<TimestampMs, SloError> {
    d.to_zoned(tz.clone())
        .map(|z| z.timestamp().as_millisecond())
        .map_err(|e| SloError::Time(e.to_string()))
}

/// The local date of the instant `t`.
pub fn local_date(t: TimestampMs, tz: &TimeZone) -> Result<Date, SloError> {
    Ok(to_zoned(t, tz)?.date())
}

/// A calendar period `(start, end]` in Unix milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Period {
    pub start: TimestampMs,
    pub end: TimestampMs,
}

/// The period of `unit` that holds the event time `t` (`start < t <= end`).
pub fn period_containing(
    t: TimestampMs,
    unit: CalendarUnit,
    tz: &TimeZone,
) -> Result<Period, SloError> {
    let d = unit.start_date(local_date(t.saturating_sub(1), tz)?);
    Ok(Period {
        start: midnight(d, tz)?,
        end: midnight(unit.next_date(d)?, tz)?,
    })
}

/// The last period of `unit` that is closed at `t` (its end `<= t`).
pub fn last_closed_period(
    t: TimestampMs,
    unit: CalendarUnit,
    tz: &TimeZone,
) -> Result<Period, SloError> {
    let cur = period_containing(t, unit, tz)?;
    if cur.end <= t {
        return Ok(cur);
    }
    let d = local_date(cur.start, tz)?;
    Ok(Period {
        start: midnight(unit.prev_date(d)?, tz)?,
        end: cur.start,
    })
}

/// The periods of `unit` that hold some day of the local dates `from..=to`,
/// whole (the first may start before `from`, the last end after `to`), in
/// order.
pub fn periods_between(
    from: Date,
    to: Date,
    unit: CalendarUnit,
    tz: &TimeZone,
) -> Result<Vec<Period>, SloError> {
    let mut out = Vec::new();
    if from > to {
        return Ok(out);
    }
    let mut d = unit.start_date(from);
    let mut start = midnight(d, tz)?;
    while d <= to {
        let next = unit.next_date(d)?;
        let end = midnight(next, tz)?;
        out.push(Period { start, end });
        d = next;
        start = end;
    }
    Ok(out)
}

/// Whether a slice length aligns to local days: a whole divisor of 24 h, or
/// exactly one day.
pub fn valid_slice(slice_ms: i64) -> bool {
    slice_ms > 0 && slice_ms <= DAY_MS && DAY_MS % slice_ms == 0
}

/// The time slices of `slice_ms` that lie wholly inside `(a, b]`, as
/// `(start, end]` pairs in order. Slices start at each local midnight and
/// follow at `slice_ms` steps; the last slice of a day ends at the next
/// midnight (on a 25-hour day a 1 d slice is 25 hours). `slice_ms` must
/// satisfy [`valid_slice`].
pub fn slices(
    a: TimestampMs,
    b: TimestampMs,
    slice_ms: i64,
    tz: &TimeZone,
) -> Result<Vec<(TimestampMs, TimestampMs)>, SloError> {
    if !valid_slice(slice_ms) {
        return Err(SloError::Invalid(format!(
            "time slice of {slice_ms} ms does not divide a day"
        )));
    }
    let mut out = Vec::new();
    if a >= b {
        return Ok(out);
    }
    let mut day = local_date(a, tz)?;
    let mut start = midnight(day, tz)?;
    while start < b {
        let next_day = day
            .checked_add(1.day())
            .map_err(|e| SloError::Time(e.to_string()))?;
        let end_of_day = midnight(next_day, tz)?;
        let mut s = start;
        while s < end_of_day && s < b {
            let e = if slice_ms == DAY_MS {
                end_of_day
            } else {
                (s + slice_ms).min(end_of_day)
            };
            if s >= a && e <= b {
                out.push((s, e));
            }
            s = e;
        }
        day = next_day;
        start = end_of_day;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(s: &str) -> i64 {
        s.parse::<Timestamp>().unwrap().as_millisecond()
    }

    #[test]
    fn months_in_berlin_follow_dst() {
        let tz = zone("Europe/Berlin").unwrap();
        // March 2024: DST starts on the 31st, so the month is 743 hours.
        let p = period_containing(ms("2024-03-15T12:00:00Z"), CalendarUnit::Month, &tz).unwrap();
        assert_eq!(p.start, ms("2024-02-29T23:00:00Z"));
        assert_eq!(p.end, ms("2024-03-31T22:00:00Z"));
        assert_eq!(p.end - p.start, 743 * 3_600_000);
        // the instant of midnight belongs to the period that ends there
        let q = period_containing(p.end, CalendarUnit::Month, &tz).unwrap();
        assert_eq!(q, p);
        let closed = last_closed_period(p.end, CalendarUnit::Month, &tz).unwrap();
        assert_eq!(closed, p);
        let closed = last_closed_period(p.end - 1, CalendarUnit::Month, &tz).unwrap();
        assert_eq!(closed.end, p.start);
        assert_eq!(closed.start, ms("2024-01-31T23:00:00Z"));
    }

    #[test]
    fn weeks_quarters_years() {
        let tz = zone("UTC").unwrap();
        // 2024-05-15 is a Wednesday
        let w = period_containing(ms("2024-05-15T10:00:00Z"), CalendarUnit::Week, &tz).unwrap();
        assert_eq!(w.start, ms("2024-05-13T00:00:00Z"));
        assert_eq!(w.end, ms("2024-05-20T00:00:00Z"));
        let q = period_containing(ms("2024-05-15T10:00:00Z"), CalendarUnit::Quarter, &tz).unwrap();
        assert_eq!(q.start, ms("2024-04-01T00:00:00Z"));
        assert_eq!(q.end, ms("2024-07-01T00:00:00Z"));
        let y = last_closed_period(ms("2024-05-15T10:00:00Z"), CalendarUnit::Year, &tz).unwrap();
        assert_eq!(y.start, ms("2023-01-01T00:00:00Z"));
        assert_eq!(y.end, ms("2024-01-01T00:00:00Z"));
    }

    #[test]
    fn periods_between_cover_the_dates_whole() {
        let tz = zone("Europe/Berlin").unwrap();
        let d = |y, m, day| Date::new(y, m, day).unwrap();
        let months =
            periods_between(d(2024, 2, 10), d(2024, 4, 1), CalendarUnit::Month, &tz).unwrap();
        assert_eq!(months.len(), 3);
        assert_eq!(months[0].start, ms("2024-01-31T23:00:00Z"));
        assert_eq!(months[1].end - months[1].start, 743 * 3_600_000);
        assert_eq!(months[2].end, ms("2024-04-30T22:00:00Z"));
        // 2025-01-01 is a Wednesday: the first week starts on Monday the 30th
        let utc = zone("UTC").unwrap();
        let weeks =
            periods_between(d(2025, 1, 1), d(2025, 1, 5), CalendarUnit::Week, &utc).unwrap();
        assert_eq!(weeks.len(), 1);
        assert_eq!(weeks[0].start, ms("2024-12-30T00:00:00Z"));
        let none = periods_between(d(2025, 2, 1), d(2025, 1, 1), CalendarUnit::Quarter, &utc);
        assert_eq!(none.unwrap(), vec![]);
    }

    #[test]
    fn slices_align_to_local_days_across_dst() {
        let tz = zone("Europe/Berlin").unwrap();
        let a = ms("2024-10-26T22:00:00Z"); // local midnight of Oct 27 (25 h day)
        let b = ms("2024-10-27T23:00:00Z");
        let hours = slices(a, b, 3_600_000, &tz).unwrap();
        assert_eq!(hours.len(), 25);
        let days = slices(a, b, DAY_MS, &tz).unwrap();
        assert_eq!(days, vec![(a, b)]);
        // partial slices at the edges are left out
        let part = slices(a + 1, b, 3_600_000, &tz).unwrap();
        assert_eq!(part.len(), 24);
        assert!(slices(a, b, 7 * 3_600_000, &tz).is_err());
        // offsets of +05:45: slices still start at local midnight
        let kat = zone("Asia/Kathmandu").unwrap();
        let s = slices(
            ms("2024-01-01T00:00:00Z"),
            ms("2024-01-03T00:00:00Z"),
            DAY_MS,
            &kat,
        )
        .unwrap();
        assert_eq!(s[0].0, ms("2024-01-01T18:15:00Z"));
    }
}
