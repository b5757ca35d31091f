//! Exclusions: intervals `[start, end)` whose events count in neither good
//! nor total (an event's time is the time of the later sample of its pair).
//! One-off, or recurring by an RRULE-like rule in a time zone:
//! `FREQ=DAILY|WEEKLY`, `BYDAY=MO,TU,..`, `BYHOUR=2,14`, `BYMINUTE=0,30`,
//! each occurrence lasting `duration_ms`.

use jiff::civil::Date;
use jiff::ToSpan;
use nines_engine::TimestampMs;
use serde::{Deserialize, Serialize};

use crate::calendar::{local_date, zone};
use crate::error::SloError;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Category {
    Maintenance,
    Deployment,
    ThirdParty,
    Other,
}

/// Which SLOs an exclusion covers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    All,
    Slos(Vec<String>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Freq {
    Daily,
    Weekly,
}

/// A recurring rule. `by_day` holds days as 0 = Monday .. 6 = Sunday (empty:
/// every day, allowed only for `Daily`); `by_hour` and `by_minute` default
/// to 0.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recurrence {
    pub freq: Freq,
    pub by_day: Vec<u8>,
    pub by_hour: Vec<u8>,
    pub by_minute: Vec<u8>,
    pub duration_ms: i64,
    pub tz: String,
}

impl Recurrence {
    /// Parses `FREQ=WEEKLY;BYDAY=SU;BYHOUR=2` with a duration and a zone.
    pub fn parse(rule: &str, duration_ms: i64, tz: &str) -> Result<Recurrence, SloError> {
        let bad = |m: String| SloError::Invalid(format!("rrule {rule:?}: {m}"));
        zone(tz)?;
        if duration_ms <= 0 {
            return Err(bad("the duration must be positive".into()));
        }
        let mut r = Recurrence {
            freq: Freq::Daily,
            by_day: Vec::new(),
            by_hour: Vec::new(),
            by_minute: Vec::new(),
            duration_ms,
            tz: tz.to_string(),
        };
        let mut freq = None;
        for part in rule.split(';').filter(|p| !p.trim().is_empty()) {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| bad(format!("{part:?} is not KEY=VALUE")))?;
            let list = |max: u8| -> Result<Vec<u8>, SloError> {
                v.split(',')
                    .map(|x| {
                        x.trim()
                            .parse::<u8>()
                            .ok()
                            .filter(|n| *n <= max)
                            .ok_or_else(|| bad(format!("{k} value {x:?} is not 0..={max}")))
                    })
                    .collect()
            };
            match k.trim().to_ascii_uppercase().as_str() {
                "FREQ" => {
                    freq = Some(match v.trim().to_ascii_uppercase().as_str() {
                        "DAILY" => Freq::Daily,
                        "WEEKLY" => Freq::Weekly,
                        other => return Err(bad(format!("FREQ {other:?} is not DAILY or WEEKLY"))),
                    })
                }
                "BYDAY" => {
                    for d in v.split(',') {
                        const DAYS: [&str; 7] = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"];
                        let i = DAYS
                            .iter()
                            .position(|x| x.eq_ignore_ascii_case(d.trim()))
                            .ok_or_else(|| bad(format!("BYDAY {d:?} is not one of MO..SU")))?;
                        r.by_day.push(i as u8);
                    }
                }
                "BYHOUR" => r.by_hour = list(23)?,
                "BYMINUTE" => r.by_minute = list(59)?,
                other => return Err(bad(format!("{other} is not supported"))),
            }
        }
        r.freq = freq.ok_or_else(|| bad("FREQ is required".into()))?;
        if r.freq == Freq::Weekly && r.by_day.is_empty() {
            return Err(bad("FREQ=WEEKLY needs BYDAY".into()));
        }
        Ok(r)
    }

    /// The rule as [`Recurrence::parse`] reads it (`FREQ=WEEKLY;BYDAY=SU;BYHOUR=2`).
    pub fn rule(&self) -> String {
        const DAYS: [&str; 7] = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"];
        let list = |v: &[u8]| v.iter().map(u8::to_string).collect::<Vec<_>>().join(",");
        let mut out = match self.freq {
            Freq::Daily => "FREQ=DAILY".to_string(),
            Freq::Weekly => "FREQ=WEEKLY".to_string(),
        };
        if !self.by_day.is_empty() {
            let days: Vec<&str> = self
                .by_day
                .iter()
                .filter_map(|d| DAYS.get(usize::from(*d)).copied())
                .collect();
            out.push_str(&format!(";BYDAY={}", days.join(",")));
        }
        if !self.by_hour.is_empty() {
            out.push_str(&format!(";BYHOUR={}", list(&self.by_hour)));
        }
        if !self.by_minute.is_empty() {
            out.push_str(&format!(";BYMINUTE={}", list(&self.by_minute)));
        }
        out
    }

    /// Occurrences `[start, end)` that overlap `[from, to)`, in order.
    pub fn occurrences(
        &self,
        from: TimestampMs,
        to: TimestampMs,
    ) -> Result<Vec<(TimestampMs, TimestampMs)>, SloError> {
        let tz = zone(&self.tz)?;
        let mut out = Vec::new();
        if from >= to {
            return Ok(out);
        }
        let hours: &[u8] = if self.by_hour.is_empty() {
            &[0]
        } else {
            &self.by_hour
        };
        let minutes: &[u8] = if self.by_minute.is_empty() {
            &[0]
        } else {
            &self.by_minute
        };
        let step = |d: Date, n: i64| {
            d.checked_add(n.days())
                .map_err(|e| SloError::Time(e.to_string()))
        };
        let mut day = step(local_date(from.saturating_sub(self.duration_ms), &tz)?, -1)?;
        let last = step(local_date(to, &tz)?, 1)?;
        while day <= last {
            let wd = day.weekday().to_monday_zero_offset() as u8;
            if self.by_day.is_empty() || self.by_day.contains(&wd) {
                for &h in hours {
                    for &m in minutes {
                        let start = day
                            .at(h as i8, m as i8, 0, 0)
                            .to_zoned(tz.clone())
                            .map_err(|e| SloError::Time(e.to_string()))?
                            .timestamp()
                            .as_millisecond();
                        let end = start.saturating_add(self.duration_ms);
                        if start < to && end > from {
                            out.push((start, end));
                        }
                    }
                }
            }
            day = step(day, 1)?;
        }
        out.sort_unstable();
        Ok(out)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Schedule {
    /// `[start, end)`.
    Once {
        start: TimestampMs,
        end: TimestampMs,
    },
    Recurring(Recurrence),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exclusion {
    pub id: String,
    pub scope: Scope,
    pub schedule: Schedule,
    pub category: Category,
    pub reason: String,
    pub author: String,
}

impl Exclusion {
    /// Checks what the types cannot: a non-empty interval or a rule that
    /// [`Recurrence::parse`] would accept, and a scope naming some SLO.
    pub fn validate(&self) -> Result<(), SloError> {
        let bad = |m: String| Err(SloError::Invalid(format!("exclusion {:?}: {m}", self.id)));
        if let Scope::Slos(names) = &self.scope {
            if names.is_empty() || names.iter().any(String::is_empty) {
                return bad("it must name at least one SLO, or cover all".into());
            }
        }
        match &self.schedule {
            Schedule::Once { start, end } if start >= end => {
                bad(format!("start {start} must be before end {end}"))
            }
            Schedule::Once { .. } => Ok(()),
            Schedule::Recurring(r) => {
                zone(&r.tz)?;
                if r.duration_ms <= 0 {
                    return bad("the duration must be positive".into());
                }
                if r.by_day.iter().any(|d| *d > 6)
                    || r.by_hour.iter().any(|h| *h > 23)
                    || r.by_minute.iter().any(|m| *m > 59)
                {
                    return bad("a day, hour or minute of the rule is out of range".into());
                }
                if r.freq == Freq::Weekly && r.by_day.is_empty() {
                    return bad("FREQ=WEEKLY needs BYDAY".into());
                }
                Ok(())
            }
        }
    }

    pub fn covers(&self, slo: &str) -> bool {
        match &self.scope {
            Scope::All => true,
            Scope::Slos(names) => names.iter().any(|n| n == slo),
        }
    }

    /// Intervals `[start, end)` overlapping `[from, to)`.
    pub fn intervals(
        &self,
        from: TimestampMs,
        to: TimestampMs,
    ) -> Result<Vec<(TimestampMs, TimestampMs)>, SloError> {
        match &self.schedule {
            Schedule::Once { start, end } => Ok(if *start < to && *end > from && start < end {
                vec![(*start, *end)]
            } else {
                vec![]
            }),
            Schedule::Recurring(r) => r.occurrences(from, to),
        }
    }
}

/// The excluded event times of `slo` inside the window `(a, b]`, merged and
/// written as windows `(x, y]` (an exclusion `[s, e)` of integer
/// milliseconds is the window `(s - 1, e - 1]`), clipped to `(a, b]`.
pub fn excluded_windows(
    exclusions: &[Exclusion],
    slo: &str,
    a: TimestampMs,
    b: TimestampMs,
) -> Result<Vec<(TimestampMs, TimestampMs)>, SloError> {
    let mut all = Vec::new();
    for e in exclusions.iter().filter(|e| e.covers(slo)) {
        for (s, t) in e.intervals(a.saturating_add(1), b.saturating_add(1))? {
            let (x, y) = (s.saturating_sub(1).max(a), t.saturating_sub(1).min(b));
            if x < y {
                all.push((x, y));
            }
        }
    }
    all.sort_unstable();
    let mut merged: Vec<(TimestampMs, TimestampMs)> = Vec::new();
    for (x, y) in all {
        match merged.last_mut() {
            Some(last) if x <= last.1 => last.1 = last.1.max(y),
            _ => merged.push((x, y)),
        }
    }
    Ok(merged)
}

/// `(a, b]` less the sorted, disjoint `holes`: the included windows.
pub fn subtract(
    a: TimestampMs,
    b: TimestampMs,
    holes: &[(TimestampMs, TimestampMs)],
) -> Vec<(TimestampMs, TimestampMs)> {
    let mut out = Vec::new();
    let mut at = a;
    for &(x, y) in holes {
        if y <= at || x >= b {
            continue;
        }
        if x > at {
            out.push((at, x));
        }
        at = at.max(y);
    }
    if at < b {
        out.push((at, b));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(s: &str) -> i64 {
        s.parse::<jiff::Timestamp>().unwrap().as_millisecond()
    }

    #[test]
    fn weekly_rule_in_berlin_follows_dst() {
        let r = Recurrence::parse(
            "FREQ=WEEKLY;BYDAY=SU;BYHOUR=2",
            2 * 3_600_000,
            "Europe/Berlin",
        )
        .unwrap();
        let occ = r
            .occurrences(ms("2024-03-20T00:00:00Z"), ms("2024-04-08T00:00:00Z"))
            .unwrap();
        // 02:00 on 31 March does not exist in Berlin: jiff's compatible rule
        // moves it to 03:00 CEST = 01:00Z.
        assert_eq!(
            occ,
            vec![
                (ms("2024-03-24T01:00:00Z"), ms("2024-03-24T03:00:00Z")),
                (ms("2024-03-31T01:00:00Z"), ms("2024-03-31T03:00:00Z")),
                (ms("2024-04-07T00:00:00Z"), ms("2024-04-07T02:00:00Z")),
            ]
        );
        assert_eq!(r.rule(), "FREQ=WEEKLY;BYDAY=SU;BYHOUR=2");
        let two =
            Recurrence::parse("FREQ=DAILY;BYDAY=MO,FR;BYHOUR=2,14;BYMINUTE=30", 1, "UTC").unwrap();
        assert_eq!(
            Recurrence::parse(&two.rule(), 1, "UTC").unwrap(),
            two,
            "{}",
            two.rule()
        );
        assert!(Recurrence::parse("FREQ=WEEKLY", 1, "UTC").is_err());
        assert!(Recurrence::parse("FREQ=HOURLY", 1, "UTC").is_err());
        assert!(Recurrence::parse("FREQ=DAILY;BYHOUR=24", 1, "UTC").is_err());
        assert!(Recurrence::parse("FREQ=DAILY", 1, "Mars/Olympus").is_err());
    }

    #[test]
    fn windows_are_half_open_the_other_way() {
        let e = Exclusion {
            id: "x".into(),
            scope: Scope::Slos(vec!["a".into()]),
            schedule: Schedule::Once {
                start: 100,
                end: 200,
            },
            category: Category::Maintenance,
            reason: String::new(),
            author: String::new(),
        };
        // events at 100..=199 are excluded: the window (99, 199]
        assert_eq!(
            excluded_windows(std::slice::from_ref(&e), "a", 0, 1000).unwrap(),
            vec![(99, 199)]
        );
        assert_eq!(
            excluded_windows(std::slice::from_ref(&e), "b", 0, 1000).unwrap(),
            vec![]
        );
        assert_eq!(
            excluded_windows(&[e], "a", 150, 1000).unwrap(),
            vec![(150, 199)]
        );
        assert_eq!(
            subtract(0, 1000, &[(99, 199), (500, 2000)]),
            vec![(0, 99), (199, 500)]
        );
        assert_eq!(subtract(0, 10, &[]), vec![(0, 10)]);
    }
}
