//! The deploy gate: may a release of the SLO's service be promoted now?
//!
//! Checks, each on the same numbers the query operators give:
//! - `budget_remaining` of the SLO's budget period must be at least
//!   `min_budget` (a fraction: 0.1 = 10 % left);
//! - for each `(window, max)` the burn rate over the window must be at most
//!   `max` (a window without events burns nothing and passes).
//!
//! A period without any events leaves the budget unknown: the gate cannot
//! decide (it never passes silently on missing data) unless the policy says
//! how to treat it.

use nines_engine::TimestampMs;
use serde::{Deserialize, Serialize};

use crate::alerting::fmt_ms;
use crate::duration;
use crate::error::SloError;
use crate::report::SloEval;

/// What the gate does when the SLO has no events in its budget period.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoData {
    /// Exit 2: could not decide (the default).
    #[default]
    Undecided,
    Promote,
    Block,
}

impl NoData {
    pub fn parse(s: &str) -> Option<NoData> {
        match s {
            "undecided" => Some(NoData::Undecided),
            "promote" | "pass" => Some(NoData::Promote),
            "block" => Some(NoData::Block),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GatePolicy {
    pub min_budget: f64,
    /// `(window ms, highest burn rate allowed)`.
    pub max_burn: Vec<(i64, f64)>,
    #[serde(default)]
    pub no_data: NoData,
}

impl Default for GatePolicy {
    /// Budget not exhausted, and not burning at the page rate over 1 h.
    fn default() -> GatePolicy {
        GatePolicy {
            min_budget: 0.0,
            max_burn: vec![(3_600_000, 14.4)],
            no_data: NoData::Undecided,
        }
    }
}

/// Parses `WINDOW:MAX` (`1h:2`).
pub fn parse_max_burn(spec: &str) -> Result<(i64, f64), String> {
    let bad = || format!("invalid --max-burn {spec:?}: expected WINDOW:MAX such as 1h:2");
    let (w, m) = spec.split_once(':').ok_or_else(bad)?;
    let ms =
        duration::parse_fixed(w.trim()).map_err(|e| format!("invalid --max-burn {spec:?}: {e}"))?;
    let max: f64 = m.trim().parse().map_err(|_| bad())?;
    if !(max >= 0.0 && max.is_finite()) {
        return Err(bad());
    }
    Ok((ms, max))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Promote,
    Block,
    Undecided,
}

impl Verdict {
    /// The `nines gate` exit code: 0 promote, 1 blocked, 2 undecided.
    pub fn exit_code(self) -> i32 {
        match self {
            Verdict::Promote => 0,
            Verdict::Block => 1,
            Verdict::Undecided => 2,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GateCheck {
    /// `budget_remaining` or `burn_rate`.
    pub check: String,
    /// The burn-rate window (`1h`), none for the budget.
    pub window: Option<String>,
    pub value: Option<f64>,
    /// The bound: a minimum for the budget, a maximum for burn rates.
    pub limit: f64,
    /// `None` when the value is unknown.
    pub passed: Option<bool>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GateDecision {
    pub slo: String,
    pub version: u32,
    pub at: TimestampMs,
    pub verdict: Verdict,
    pub checks: Vec<GateCheck>,
    /// One sentence per failed or unknown check, with the numbers.
    pub reasons: Vec<String>,
}

pub fn decide(
    eval: &mut SloEval<'_>,
    policy: &GatePolicy,
    at: TimestampMs,
) -> Result<GateDecision, SloError> {
    let v = eval.version_at(at);
    let (slo, version) = (v.def.name.clone(), v.version);
    let mut checks = Vec::new();
    let mut reasons = Vec::new();
    let mut blocked = false;
    let mut unknown = false;

    let budget = eval.budget_remaining(at)?;
    let passed = budget.map(|b| b >= policy.min_budget);
    match budget {
        Some(b) if b < policy.min_budget => {
            blocked = true;
            reasons.push(format!(
                "budget remaining {:.2} % is below the minimum {:.2} %",
                b * 100.0,
                policy.min_budget * 100.0
            ));
        }
        Some(_) => {}
        None => match policy.no_data {
            NoData::Undecided => {
                unknown = true;
                reasons.push(
                    "no events in the SLO's budget period: the budget is unknown (check the SLI selectors, or decide with --no-data)"
                        .into(),
                );
            }
            NoData::Block => {
                blocked = true;
                reasons.push("no events in the SLO's budget period (--no-data block)".into());
            }
            NoData::Promote => {}
        },
    }
    checks.push(GateCheck {
        check: "budget_remaining".into(),
        window: None,
        value: budget,
        limit: policy.min_budget,
        passed,
    });

    for &(w, max) in &policy.max_burn {
        let burn = eval.burn_rate(at, w)?;
        let value = burn.unwrap_or(0.0);
        let ok = value <= max;
        if !ok {
            blocked = true;
            reasons.push(format!(
                "burn rate over {} is {value:.3}, above the maximum {max}",
                fmt_ms(w)
            ));
        }
        checks.push(GateCheck {
            check: "burn_rate".into(),
            window: Some(fmt_ms(w)),
            value: Some(value),
            limit: max,
            passed: Some(ok),
        });
    }
    let verdict = if blocked {
        Verdict::Block
    } else if unknown {
        Verdict::Undecided
    } else {
        Verdict::Promote
    };
    Ok(GateDecision {
        slo,
        version,
        at,
        verdict,
        checks,
        reasons,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_burn_specs() {
        assert_eq!(parse_max_burn("1h:2").unwrap(), (3_600_000, 2.0));
        assert_eq!(parse_max_burn("30m:14.4").unwrap(), (1_800_000, 14.4));
        for bad in ["1h", "1h:x", "x:2", "1h:-1", "1M:2"] {
            assert!(parse_max_burn(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn exit_codes() {
        assert_eq!(Verdict::Promote.exit_code(), 0);
        assert_eq!(Verdict::Block.exit_code(), 1);
        assert_eq!(Verdict::Undecided.exit_code(), 2);
    }
}
