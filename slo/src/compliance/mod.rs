//! Compliance reports over retained history (docs/reports.md): for each SLO
//! and each calendar period of a kind (week, month, quarter) that holds a day
//! of the asked dates, the period's figures under the contract of
//! SLO_SEMANTICS.md, the versions and exclusions applied, the breach
//! intervals and the deploys.
//!
//! Nothing here reads a clock: a row is a function of the request, the
//! snapshot's data and persisted cut, and the SLO's versions and
//! exclusions, so the same request over the same inputs gives the same
//! rows ([`render`] then gives the same bytes).
//!
//! Order of use: [`ReportRange::parse`] → [`slo_rows`] per SLO, sorted by
//! name → [`render::Renderer`]: `header`, `row` per row, `finish` with the
//! manifest anchor.

pub mod render;

use jiff::civil::Date;
use nines_engine::read::Snapshot;
use nines_engine::TimestampMs;

use crate::calendar::{self, CalendarUnit, Period};
use crate::error::SloError;
use crate::exclusion::{excluded_windows, Exclusion};
use crate::incidents::Deploy;
use crate::model::{RatioEvents, Sli, SloVersion};
use crate::numbers::{self, Compliance, Totals};
use crate::report::SloEval;
use crate::sums::SumsCache;

/// Breach checks of event-counted SLOs are made at this step from the
/// period's start (the last step ends at the period's end).
pub const BREACH_CHECK_MS: i64 = 3_600_000;

/// At most this many years of dates per request (a guard against a
/// mistyped year, not a limit of the method).
pub const MAX_YEARS: i16 = 20;

/// What a report covers: periods of `unit` holding a day of `from..=to`
/// (local dates in each SLO's time zone).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReportRange {
    pub unit: CalendarUnit,
    pub from: Date,
    /// Inclusive.
    pub to: Date,
}

impl ReportRange {
    /// `period` is `week`, `month` or `quarter`; `from` and `to` are
    /// `YYYY-MM-DD` or `YYYY-MM` (a month from its first day, to its last).
    pub fn parse(period: &str, from: &str, to: &str) -> Result<ReportRange, SloError> {
        let unit = match CalendarUnit::parse(period.trim()) {
            Some(u @ (CalendarUnit::Week | CalendarUnit::Month | CalendarUnit::Quarter)) => u,
            _ => {
                return Err(SloError::Invalid(format!(
                    "period {period:?}: expected week, month or quarter"
                )))
            }
        };
        let from = parse_date("from", from, false)?;
        let to = parse_date("to", to, true)?;
        if from > to {
            return Err(SloError::Invalid(format!(
                "from ({from}) is after to ({to})"
            )));
        }
        if to.year() - from.year() > MAX_YEARS {
            return Err(SloError::Invalid(format!(
                "from {from} to {to} spans more than {MAX_YEARS} years"
            )));
        }
        Ok(ReportRange { unit, from, to })
    }
}

/// `YYYY-MM-DD`, or `YYYY-MM` as the month's first day (or its last when
/// `last`).
pub fn parse_date(what: &str, s: &str, last: bool) -> Result<Date, SloError> {
    let s = s.trim();
    let bad = || {
        SloError::Invalid(format!(
            "{what} {s:?}: expected a date YYYY-MM-DD or a month YYYY-MM"
        ))
    };
    let parts: Vec<&str> = s.split('-').collect();
    let num = |p: &str, len: usize| {
        (p.len() == len && p.bytes().all(|b| b.is_ascii_digit()))
            .then(|| p.parse::<i16>().ok())
            .flatten()
            .ok_or_else(bad)
    };
    match parts.as_slice() {
        [y, m, d] => Date::new(num(y, 4)?, num(m, 2)? as i8, num(d, 2)? as i8).map_err(|_| bad()),
        [y, m] => {
            let first = Date::new(num(y, 4)?, num(m, 2)? as i8, 1).map_err(|_| bad())?;
            Ok(if last { first.last_of_month() } else { first })
        }
        _ => Err(bad()),
    }
}

/// One SLO's definition history and what applies to it.
#[derive(Clone, Copy, Debug)]
pub struct SloInput<'a> {
    /// Ordered by `effective_from`, at least one.
    pub versions: &'a [SloVersion],
    /// The exclusions covering the SLO, in the order they were added.
    pub exclusions: &'a [Exclusion],
    /// Deploys of the SLO's services over the range (any order).
    pub deploys: &'a [Deploy],
}

/// An exclusion applied in a period and the minutes of the period it
/// excluded.
#[derive(Clone, Debug, PartialEq)]
pub struct ExclusionUse {
    pub id: String,
    pub minutes: f64,
}

/// One SLO in one period (docs/reports.md, "Columns").
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub slo: String,
    /// The service of the version in force at the period's end.
    pub service: String,
    /// The IANA zone the period is local to (the newest version's).
    pub tz: String,
    /// `(start, end]`.
    pub period: Period,
    /// The period ends after the engine's persisted cut: samples in it can
    /// still arrive, so its figures may change.
    pub partial: bool,
    /// The versions that govern some of the period, oldest first, and
    /// their objectives.
    pub versions: Vec<u32>,
    pub objectives: Vec<f64>,
    pub totals: Totals,
    pub compliance: Option<Compliance>,
    /// Of the SLO's budget period (rolling or calendar) ending at the
    /// period's end.
    pub budget_remaining: Option<f64>,
    pub budget_remaining_events: Option<f64>,
    pub exclusions: Vec<ExclusionUse>,
    /// The union of all exclusions inside the period.
    pub excluded_minutes: f64,
    /// `[start, end]` runs of checks at which the period-to-date budget
    /// was exhausted.
    pub breaches: Vec<(TimestampMs, TimestampMs)>,
    pub deploys: Vec<Deploy>,
}

/// The rows of one SLO, oldest period first.
pub fn slo_rows(
    snap: &Snapshot,
    sums: Option<&SumsCache>,
    input: &SloInput<'_>,
    range: &ReportRange,
) -> Result<Vec<Row>, SloError> {
    let newest = input
        .versions
        .last()
        .ok_or_else(|| SloError::Invalid("an SLO needs at least one version".into()))?;
    let name = newest.def.name.clone();
    let tz_name = newest.def.tz_name().to_string();
    let tz = calendar::zone(&tz_name)?;
    let cut = snap.version().persisted_through;
    let periods = calendar::periods_between(range.from, range.to, range.unit, &tz)?;
    let (Some(first), Some(last)) = (periods.first(), periods.last()) else {
        return Ok(Vec::new());
    };
    let (span_a, span_b) = (first.start, last.end);
    let mut eval = SloEval::new(snap, input.versions, input.exclusions)?
        .with_cache(sums)
        .with_holes_over(span_a, span_b)?;
    // each exclusion's own windows over the whole span, clipped per period
    let mut own = Vec::new();
    for e in input.exclusions.iter().filter(|e| e.covers(&name)) {
        let w = excluded_windows(std::slice::from_ref(e), &name, span_a, span_b)?;
        own.push((e.id.as_str(), w));
    }
    // only the deploys of services this SLO had: a report over many SLOs
    // passes every service's
    let services: Vec<&str> = input
        .versions
        .iter()
        .map(|v| v.def.service.as_str())
        .collect();
    let mut deploys_sorted: Vec<&Deploy> = input
        .deploys
        .iter()
        .filter(|d| services.contains(&d.service.as_str()))
        .collect();
    deploys_sorted.sort_by(|a, b| {
        (a.at, &a.service, &a.version, &a.id, &a.env, &a.commit)
            .cmp(&(b.at, &b.service, &b.version, &b.id, &b.env, &b.commit))
    });
    let mut out = Vec::new();
    for p in periods {
        let totals = eval.totals(p.start, p.end)?;
        let in_force = eval.versions_in(p.start, p.end);
        let service = eval.version_at(p.end).def.service.clone();
        let lo = deploys_sorted.partition_point(|d| d.at <= p.start);
        let hi = deploys_sorted.partition_point(|d| d.at <= p.end);
        let deploys: Vec<Deploy> = deploys_sorted[lo..hi]
            .iter()
            .filter(|d| d.service == service || in_force.iter().any(|v| v.def.service == d.service))
            .map(|d| (*d).clone())
            .collect();
        let exclusions: Vec<ExclusionUse> = own
            .iter()
            .filter_map(|(id, w)| {
                let ms = clipped_ms(w, p);
                (ms > 0).then(|| ExclusionUse {
                    id: id.to_string(),
                    minutes: ms as f64 / MINUTE_MS,
                })
            })
            .collect();
        let excluded_minutes = clipped_ms(&eval.holes(p.start, p.end)?, p) as f64 / MINUTE_MS;
        // the SLO's budget period at the period's end (often the period)
        let budget_window = eval.budget_period(p.end)?;
        let budget = if budget_window == (p.start, p.end) {
            totals
        } else {
            eval.totals(budget_window.0, budget_window.1)?
        };
        out.push(Row {
            slo: name.clone(),
            service,
            tz: tz_name.clone(),
            period: p,
            partial: cut.is_none_or(|c| p.end > c),
            versions: in_force.iter().map(|v| v.version).collect(),
            objectives: in_force.iter().map(|v| v.def.target()).collect(),
            compliance: numbers::compliance(&totals),
            totals,
            budget_remaining: numbers::budget_remaining(&budget),
            budget_remaining_events: numbers::budget_remaining_events(&budget),
            exclusions,
            excluded_minutes,
            breaches: breaches(&mut eval, p)?,
            deploys,
        });
    }
    Ok(out)
}

/// Milliseconds of the windows `w` (sorted, disjoint) inside `p`.
fn clipped_ms(w: &[(TimestampMs, TimestampMs)], p: Period) -> i64 {
    w.iter()
        .map(|&(x, y)| (y.min(p.end) - x.max(p.start)).max(0))
        .sum()
}

const MINUTE_MS: f64 = 60_000.0;

/// Breach intervals of period `p` (docs/reports.md, "Breach intervals"):
/// checks at the end of every counted slice (time-slice budgets) or every
/// [`BREACH_CHECK_MS`] from the period's start (event budgets; see
/// [`screened_steps`] for how most are skipped); at a check
/// the budget is exhausted when the period-to-date bad units exceed the
/// period-to-date allowed bad units. A breach runs from the first
/// exhausted check to the first check after it that is not (or the
/// period's end).
fn breaches(
    eval: &mut SloEval<'_>,
    p: Period,
) -> Result<Vec<(TimestampMs, TimestampMs)>, SloError> {
    let steps = match eval.slice_totals(p.start, p.end)? {
        Some(slices) => slices,
        None if bad_events_only(eval, p) => screened_steps(eval, p)?,
        None => hourly_steps(eval, p.start, p.end)?,
    };
    Ok(breach_runs(&steps, p.end))
}

/// The check steps `(end, units)` of `(a, b]`: every [`BREACH_CHECK_MS`]
/// from `a`, the last ending at `b`.
fn hourly_steps(
    eval: &mut SloEval<'_>,
    a: TimestampMs,
    b: TimestampMs,
) -> Result<Vec<(TimestampMs, Totals)>, SloError> {
    let mut edges = Vec::new();
    let mut t = a;
    while t < b {
        edges.push(t);
        t = t.saturating_add(BREACH_CHECK_MS);
    }
    edges.push(b);
    let steps = eval.edge_totals(&edges)?.unwrap_or_default();
    Ok(edges[1..].iter().copied().zip(steps).collect())
}

/// Whether every version in force in `p` counts bad events with a
/// selector: then the bad units of any stretch of time are increases, so
/// never negative, and a whole day can be cleared at once.
fn bad_events_only(eval: &SloEval<'_>, p: Period) -> bool {
    eval.versions_in(p.start, p.end).iter().all(|v| {
        matches!(
            v.def.sli,
            Sli::Ratio {
                events: RatioEvents::Bad(_),
                ..
            }
        )
    })
}

/// The hourly checks, read day by day: a day (24 h from the period's
/// start) whose bad units added to the period-to-date bad units stay
/// within the period-to-date allowed bad units cannot exhaust the budget
/// at any hour inside it (bad units only grow and allowed ones never
/// shrink), so it is one step; other days are read hour by hour. The
/// runs equal those of [`hourly_steps`]: checks inside a cleared day are
/// all unexhausted, and the cumulative sums differ by rounding only.
fn screened_steps(
    eval: &mut SloEval<'_>,
    p: Period,
) -> Result<Vec<(TimestampMs, Totals)>, SloError> {
    let day = 24 * BREACH_CHECK_MS;
    let mut edges = Vec::new();
    let mut t = p.start;
    while t < p.end {
        edges.push(t);
        t = t.saturating_add(day);
    }
    edges.push(p.end);
    let days = eval.edge_totals(&edges)?.unwrap_or_default();
    let mut out = Vec::new();
    let mut cum = Totals::default();
    for (k, d) in days.iter().enumerate() {
        if cum.bad() + d.bad() <= cum.allowed_bad {
            out.push((edges[k + 1], *d));
            cum.add(d);
        } else {
            for (t, h) in hourly_steps(eval, edges[k], edges[k + 1])? {
                cum.add(&h);
                out.push((t, h));
            }
        }
    }
    Ok(out)
}

/// The runs of `steps` (check time, the units since the previous check)
/// at which the cumulative budget is exhausted.
pub fn breach_runs(
    steps: &[(TimestampMs, Totals)],
    end: TimestampMs,
) -> Vec<(TimestampMs, TimestampMs)> {
    let mut cum = Totals::default();
    let mut out = Vec::new();
    let mut open = None;
    for (t, s) in steps {
        cum.add(s);
        let exhausted = cum.total > 0.0 && cum.bad() > cum.allowed_bad;
        match (open, exhausted) {
            (None, true) => open = Some(*t),
            (Some(start), false) => {
                out.push((start, *t));
                open = None;
            }
            _ => {}
        }
    }
    if let Some(start) = open {
        out.push((start, end));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_months() {
        let r = ReportRange::parse("month", "2025-01", "2026-10").unwrap();
        assert_eq!(r.from, Date::new(2025, 1, 1).unwrap());
        assert_eq!(r.to, Date::new(2026, 10, 31).unwrap());
        let r = ReportRange::parse("week", "2025-01-01", "2025-02-28").unwrap();
        assert_eq!(r.unit, CalendarUnit::Week);
        assert!(ReportRange::parse("year", "2025-01", "2025-02").is_err());
        assert!(ReportRange::parse("month", "2025-02", "2025-01").is_err());
        for bad in [
            "2025",
            "2025-1-01",
            "2025-02-30",
            "25-01-01",
            "2025-01-01T00:00:00Z",
        ] {
            assert!(parse_date("from", bad, false).is_err(), "{bad}");
        }
        assert_eq!(
            parse_date("to", "2024-02", true).unwrap(),
            Date::new(2024, 2, 29).unwrap()
        );
    }

    #[test]
    fn breach_runs_follow_the_cumulative_budget() {
        let t = |good: f64, total: f64| Totals {
            good,
            total,
            allowed_bad: 0.1 * total,
        };
        // 10 % allowed: 5 bad of 10 exhausts it, 100 good later restore it
        let steps = [
            (1, t(10.0, 10.0)),
            (2, t(5.0, 10.0)),
            (3, t(10.0, 10.0)),
            (4, t(100.0, 100.0)),
            (5, t(0.0, 0.0)),
            (6, t(0.0, 50.0)),
        ];
        assert_eq!(breach_runs(&steps, 9), vec![(2, 4), (6, 9)]);
        assert_eq!(breach_runs(&[(1, t(0.0, 0.0))], 9), vec![]);
    }
}
