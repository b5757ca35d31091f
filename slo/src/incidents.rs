//! Breach intervals: when an SLO's burn-rate alerts fired, how hard it
//! burned and how much budget went, and which deploys came shortly before.
//!
//! A breach is a maximal run of scan steps at which some rule of at least
//! the asked severity fires. Its onset is the first such step (the time the
//! alert would have fired), its end the first step after it at which none
//! fires (`None` while it lasts). Its budget consumed is the bad events from
//! the start of the long window of the rule that opened it (not before the
//! previous breach's end) to its end, over the allowed bad events of the
//! SLO's budget period at its end.

use nines_engine::TimestampMs;
use serde::Serialize;

use crate::alerting::{scan, BurnPolicy, Severity};
use crate::error::SloError;
use crate::numbers;
use crate::report::SloEval;

/// A deploy (or other annotation) as incidents see it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Deploy {
    pub at: TimestampMs,
    pub service: String,
    pub version: String,
    pub env: Option<String>,
    pub id: Option<String>,
    pub commit: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Breach {
    pub start: TimestampMs,
    pub end: Option<TimestampMs>,
    /// The highest severity that fired during it.
    pub severity: Severity,
    /// The highest long-window burn rate of a firing rule.
    pub peak_burn: f64,
    /// Bad events counted for it (see the module comment).
    pub bad_events: f64,
    /// `bad_events` over the allowed bad events of the budget period at its
    /// end; `None` when that period had no events.
    pub budget_consumed: Option<f64>,
    /// Deploys in `[start - lead, start]`, newest first.
    pub deploys: Vec<Deploy>,
    /// True when a deploy came within the lead time before the onset.
    pub likely_release_induced: bool,
}

/// What to scan.
#[derive(Clone, Debug)]
pub struct Scan {
    pub from: TimestampMs,
    pub to: TimestampMs,
    pub step_ms: i64,
    pub min_severity: Severity,
    /// How long before an onset a deploy counts as its likely cause.
    pub deploy_lead_ms: i64,
}

/// The breaches of one SLO in `[scan.from, scan.to]`; `deploys` are the
/// deploys of the SLO's service (any order).
pub fn breaches(
    eval: &mut SloEval<'_>,
    policy: &BurnPolicy,
    how: &Scan,
    deploys: &[Deploy],
) -> Result<Vec<Breach>, SloError> {
    let steps = scan(eval, policy, how.from, how.to, how.step_ms)?;
    let mut out: Vec<Breach> = Vec::new();
    // the open breach: its onset, the long window that opened it
    let mut open: Option<(TimestampMs, i64, Severity, f64)> = None;
    let mut prev_end = TimestampMs::MIN;
    let close = |eval: &mut SloEval<'_>,
                 (start, long, sev, peak): (TimestampMs, i64, Severity, f64),
                 end: Option<TimestampMs>,
                 prev_end: &mut TimestampMs|
     -> Result<Breach, SloError> {
        let through = end.unwrap_or(how.to);
        let from = (start - long).max(*prev_end);
        let w = eval.totals(from, through)?;
        let (pa, pb) = eval.budget_period(through)?;
        let p = eval.totals(pa, pb)?;
        *prev_end = through;
        let mut near: Vec<Deploy> = deploys
            .iter()
            .filter(|d| d.at <= start && d.at >= start - how.deploy_lead_ms)
            .cloned()
            .collect();
        near.sort_by_key(|d| std::cmp::Reverse(d.at));
        Ok(Breach {
            start,
            end,
            severity: sev,
            peak_burn: peak,
            bad_events: w.bad(),
            budget_consumed: numbers::budget_consumed(&w, &p),
            likely_release_induced: !near.is_empty(),
            deploys: near,
        })
    };
    for (t, states) in steps {
        let firing: Vec<_> = states
            .iter()
            .filter(|s| s.firing && s.severity >= how.min_severity)
            .collect();
        match (&mut open, firing.is_empty()) {
            (None, false) => {
                let first = firing[0];
                let peak = firing
                    .iter()
                    .filter_map(|s| s.long_burn)
                    .fold(f64::MIN, f64::max);
                let sev = firing
                    .iter()
                    .map(|s| s.severity)
                    .max()
                    .unwrap_or(first.severity);
                open = Some((t, first.long_ms, sev, peak));
            }
            (Some(b), false) => {
                for s in &firing {
                    b.2 = b.2.max(s.severity);
                    if let Some(x) = s.long_burn {
                        b.3 = b.3.max(x);
                    }
                }
            }
            (Some(_), true) => {
                if let Some(b) = open.take() {
                    out.push(close(eval, b, Some(t), &mut prev_end)?);
                }
            }
            (None, true) => {}
        }
    }
    if let Some(b) = open.take() {
        out.push(close(eval, b, None, &mut prev_end)?);
    }
    Ok(out)
}
