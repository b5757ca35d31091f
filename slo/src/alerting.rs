//! Multi-window, multi-burn-rate alerting (SLO_SEMANTICS.md, the SRE
//! Workbook's "Alerting on SLOs"): a rule fires when the burn rate over its
//! long window and over its short window both exceed its factor.
//!
//! A factor may be given directly or as "budget fraction consumed in the
//! long window": spending fraction `f` of a budget whose window is `P` long
//! within `L` is a burn rate of `f * P / L` (2 % of 30 days in 1 h is 14.4).

use nines_engine::TimestampMs;
use serde::{Deserialize, Serialize};

use crate::calendar::CalendarUnit;
use crate::duration;
use crate::error::SloError;
use crate::model::{Slo, Window};
use crate::numbers::{self, Totals};
use crate::report::SloEval;

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Ticket,
    Page,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Ticket => "ticket",
            Severity::Page => "page",
        }
    }

    pub fn parse(s: &str) -> Option<Severity> {
        match s {
            "page" => Some(Severity::Page),
            "ticket" => Some(Severity::Ticket),
            _ => None,
        }
    }
}

/// How high the burn must be for a rule to fire.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Threshold {
    /// A burn-rate factor.
    Burn(f64),
    /// The fraction of the SLO window's budget spent within the long window.
    BudgetFraction(f64),
}

/// One long/short window pair.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BurnRule {
    pub severity: Severity,
    pub long_ms: i64,
    pub short_ms: i64,
    pub threshold: Threshold,
}

impl BurnRule {
    /// The burn-rate factor for an SLO whose budget window is `window_ms`.
    pub fn factor(&self, window_ms: i64) -> f64 {
        match self.threshold {
            Threshold::Burn(f) => f,
            Threshold::BudgetFraction(f) => f * window_ms as f64 / self.long_ms as f64,
        }
    }

    /// `1h/5m` style name, as alert labels show it.
    pub fn windows(&self) -> String {
        format!("{}/{}", fmt_ms(self.long_ms), fmt_ms(self.short_ms))
    }

    /// Parses `SEVERITY:LONG/SHORT:FACTOR` (`page:1h/5m:14.4`) or with a
    /// budget percentage, `page:1h/5m:2%`.
    pub fn parse(spec: &str) -> Result<BurnRule, String> {
        let bad = |why: &str| {
            format!("invalid burn rule {spec:?}: {why}; expected SEVERITY:LONG/SHORT:FACTOR such as page:1h/5m:14.4 or page:1h/5m:2%")
        };
        let mut parts = spec.split(':');
        let (Some(sev), Some(win), Some(th), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad("three parts separated by ':'"));
        };
        let severity =
            Severity::parse(sev.trim()).ok_or_else(|| bad("severity is page or ticket"))?;
        let (long, short) = win
            .split_once('/')
            .ok_or_else(|| bad("windows are LONG/SHORT"))?;
        let long_ms = duration::parse_fixed(long.trim()).map_err(|e| bad(&e))?;
        let short_ms = duration::parse_fixed(short.trim()).map_err(|e| bad(&e))?;
        if short_ms > long_ms {
            return Err(bad("the short window must not be longer than the long one"));
        }
        let th = th.trim();
        let threshold = if let Some(p) = th.strip_suffix('%') {
            let p: f64 = p
                .parse()
                .map_err(|_| bad("the percentage is not a number"))?;
            if !(p > 0.0 && p <= 100.0) {
                return Err(bad("the percentage must be in (0, 100]"));
            }
            Threshold::BudgetFraction(p / 100.0)
        } else {
            let f: f64 = th.parse().map_err(|_| bad("the factor is not a number"))?;
            if !(f > 0.0 && f.is_finite()) {
                return Err(bad("the factor must be a positive number"));
            }
            Threshold::Burn(f)
        };
        Ok(BurnRule {
            severity,
            long_ms,
            short_ms,
            threshold,
        })
    }
}

/// The rules evaluated for every SLO.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BurnPolicy {
    pub rules: Vec<BurnRule>,
}

impl Default for BurnPolicy {
    /// The Workbook's table: page on 1h/5m > 14.4 and 6h/30m > 6, ticket on
    /// 3d/6h > 1.
    fn default() -> BurnPolicy {
        let rule = |severity, long_ms, short_ms, f| BurnRule {
            severity,
            long_ms,
            short_ms,
            threshold: Threshold::Burn(f),
        };
        BurnPolicy {
            rules: vec![
                rule(Severity::Page, HOUR, 5 * MINUTE, 14.4),
                rule(Severity::Page, 6 * HOUR, 30 * MINUTE, 6.0),
                rule(Severity::Ticket, 3 * DAY, 6 * HOUR, 1.0),
            ],
        }
    }
}

impl BurnPolicy {
    /// The longest window any rule looks at.
    pub fn longest_ms(&self) -> i64 {
        self.rules.iter().map(|r| r.long_ms).max().unwrap_or(0)
    }
}

/// The nominal length of an SLO's budget window: the rolling length, or
/// the calendar unit's usual length (a month is 30 days).
pub fn window_ms(slo: &Slo) -> i64 {
    match &slo.window {
        Window::Rolling { ms } => *ms,
        Window::Calendar { unit, .. } => match unit {
            CalendarUnit::Day => DAY,
            CalendarUnit::Week => 7 * DAY,
            CalendarUnit::Month => 30 * DAY,
            CalendarUnit::Quarter => 91 * DAY,
            CalendarUnit::Year => 365 * DAY,
        },
    }
}

/// One rule's state at one time.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RuleState {
    pub severity: Severity,
    /// `1h/5m`.
    pub windows: String,
    pub long_ms: i64,
    pub short_ms: i64,
    /// The burn-rate factor both windows must exceed.
    pub factor: f64,
    /// Burn rates; `None` when the window saw no events (burns nothing).
    pub long_burn: Option<f64>,
    pub short_burn: Option<f64>,
    pub firing: bool,
}

fn state(rule: &BurnRule, factor: f64, long: &Totals, short: &Totals) -> RuleState {
    let long_burn = numbers::burn_rate(long);
    let short_burn = numbers::burn_rate(short);
    let over = |b: Option<f64>| b.is_some_and(|b| b > factor);
    RuleState {
        severity: rule.severity,
        windows: rule.windows(),
        long_ms: rule.long_ms,
        short_ms: rule.short_ms,
        factor,
        long_burn,
        short_burn,
        firing: over(long_burn) && over(short_burn),
    }
}

/// Every rule of `policy` for the SLO at `at`.
pub fn evaluate(
    eval: &mut SloEval<'_>,
    policy: &BurnPolicy,
    at: TimestampMs,
) -> Result<Vec<RuleState>, SloError> {
    let window = window_ms(&eval.version_at(at).def);
    let mut out = Vec::with_capacity(policy.rules.len());
    for rule in &policy.rules {
        let long = eval.totals(at - rule.long_ms, at)?;
        let short = eval.totals(at - rule.short_ms, at)?;
        out.push(state(rule, rule.factor(window), &long, &short));
    }
    Ok(out)
}

/// Every rule's state at each of `from, from + step, ..., <= to`, reading
/// each step of data once when the windows are whole steps and the budget
/// counts events; else window by window.
pub fn scan(
    eval: &mut SloEval<'_>,
    policy: &BurnPolicy,
    from: TimestampMs,
    to: TimestampMs,
    step: i64,
) -> Result<Vec<(TimestampMs, Vec<RuleState>)>, SloError> {
    if step <= 0 || to < from {
        return Ok(Vec::new());
    }
    let times: Vec<TimestampMs> = (0..)
        .map(|k| from + k * step)
        .take_while(|&t| t <= to)
        .collect();
    let longest = policy.longest_ms();
    let whole = policy
        .rules
        .iter()
        .all(|r| r.long_ms % step == 0 && r.short_ms % step == 0);
    let lead = (longest / step) as usize;
    let base = from - longest;
    let steps = if whole {
        eval.step_totals(base, step, lead + times.len() - 1)?
    } else {
        None
    };
    let Some(steps) = steps else {
        let mut out = Vec::with_capacity(times.len());
        for &t in &times {
            out.push((t, evaluate(eval, policy, t)?));
        }
        return Ok(out);
    };
    // prefix[k] = sum of steps[..k]; the window of `w` steps ending at time
    // index i (= step index lead + i) is prefix[lead + i] - prefix[lead + i - w]
    let mut prefix = Vec::with_capacity(steps.len() + 1);
    let mut acc = Totals::default();
    prefix.push(acc);
    for s in &steps {
        acc.add(s);
        prefix.push(acc);
    }
    let window_of = |end: usize, len_ms: i64| -> Totals {
        let w = (len_ms / step) as usize;
        let (hi, lo) = (prefix[end], prefix[end - w]);
        Totals {
            good: hi.good - lo.good,
            total: hi.total - lo.total,
            allowed_bad: hi.allowed_bad - lo.allowed_bad,
        }
    };
    let mut out = Vec::with_capacity(times.len());
    for (i, &t) in times.iter().enumerate() {
        let window = window_ms(&eval.version_at(t).def);
        let end = lead + i;
        let states = policy
            .rules
            .iter()
            .map(|r| {
                state(
                    r,
                    r.factor(window),
                    &window_of(end, r.long_ms),
                    &window_of(end, r.short_ms),
                )
            })
            .collect();
        out.push((t, states));
    }
    Ok(out)
}

/// `90s`, `5m`, `1h`, `3d`: the largest unit that divides evenly.
pub fn fmt_ms(ms: i64) -> String {
    for (unit, len) in [("d", DAY), ("h", HOUR), ("m", MINUTE), ("s", 1000)] {
        if ms != 0 && ms % len == 0 {
            return format!("{}{unit}", ms / len);
        }
    }
    format!("{ms}ms")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_parse_with_factor_or_budget_percent() {
        let r = BurnRule::parse("page:1h/5m:14.4").unwrap();
        assert_eq!(r.long_ms, HOUR);
        assert_eq!(r.short_ms, 5 * MINUTE);
        assert_eq!(r.factor(30 * DAY), 14.4);
        let r = BurnRule::parse("ticket:6h/30m:5%").unwrap();
        assert_eq!(r.severity, Severity::Ticket);
        // 5 % of 30 days in 6 hours is a burn of 6
        assert!((r.factor(30 * DAY) - 6.0).abs() < 1e-12);
        for bad in [
            "page:1h:14",
            "alarm:1h/5m:14",
            "page:5m/1h:14",
            "page:1h/5m:-1",
            "page:1h/5m:0%",
            "page:1h/5M:2",
        ] {
            assert!(BurnRule::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn workbook_factors_follow_from_budget_fractions() {
        // the Workbook derives its factors from 2 %, 5 % and 10 % of a
        // 30-day budget
        let month = 30 * DAY;
        for (rule, pct) in BurnPolicy::default().rules.iter().zip([2.0, 5.0, 10.0]) {
            let same = BurnRule {
                threshold: Threshold::BudgetFraction(pct / 100.0),
                ..rule.clone()
            };
            assert!((same.factor(month) - rule.factor(month)).abs() < 1e-9);
        }
    }

    #[test]
    fn a_rule_fires_only_when_both_windows_burn() {
        let rule = BurnRule::parse("page:1h/5m:10").unwrap();
        let t = |good: f64, total: f64| Totals {
            good,
            total,
            allowed_bad: 0.01 * total,
        };
        // 20 % errors at a 99 % objective burn at 20
        assert!(state(&rule, 10.0, &t(80.0, 100.0), &t(8.0, 10.0)).firing);
        assert!(!state(&rule, 10.0, &t(80.0, 100.0), &t(10.0, 10.0)).firing);
        assert!(!state(&rule, 10.0, &t(99.0, 100.0), &t(8.0, 10.0)).firing);
        // a quiet short window burns nothing
        let s = state(&rule, 10.0, &t(80.0, 100.0), &t(0.0, 0.0));
        assert_eq!(s.short_burn, None);
        assert!(!s.firing);
    }

    #[test]
    fn durations_print_in_the_largest_unit() {
        assert_eq!(fmt_ms(HOUR), "1h");
        assert_eq!(fmt_ms(90 * 1000), "90s");
        assert_eq!(fmt_ms(3 * DAY), "3d");
        assert_eq!(fmt_ms(30 * MINUTE), "30m");
    }
}
