//! The SLO numbers of SLO_SEMANTICS.md as pure functions of counts, in one
//! place. Counts are in budgeting units: events for occurrences, counted
//! slices for time slices (good = good slices, or the sum of slice ratios
//! for ratio time slices).
//!
//! `allowed_bad` is the version-weighted budget `sum_v (1 - T_v) *
//! total_v`, so with one version `bad / allowed_bad` is `error_ratio / (1 -
//! T)`. A window with no events has no value (`None`): never NaN, never
//! 100 %.

/// Good, total and allowed bad over one window.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Totals {
    pub good: f64,
    pub total: f64,
    pub allowed_bad: f64,
}

impl Totals {
    pub fn bad(&self) -> f64 {
        self.total - self.good
    }

    pub fn add(&mut self, o: &Totals) {
        self.good += o.good;
        self.total += o.total;
        self.allowed_bad += o.allowed_bad;
    }

    fn some(&self) -> bool {
        self.total > 0.0
    }
}

/// `good / total`.
pub fn sli(w: &Totals) -> Option<f64> {
    w.some().then(|| w.good / w.total)
}

/// `bad / total`.
pub fn error_ratio(w: &Totals) -> Option<f64> {
    w.some().then(|| w.bad() / w.total)
}

/// `error_ratio / (1 - T)`, version-weighted: `bad / allowed_bad`. 1.0
/// spends the budget exactly by the end of the SLO window.
pub fn burn_rate(w: &Totals) -> Option<f64> {
    (w.some() && w.allowed_bad > 0.0).then(|| w.bad() / w.allowed_bad)
}

/// `1 - bad(P) / allowed_bad(P)`: negative when overspent.
pub fn budget_remaining(p: &Totals) -> Option<f64> {
    (p.some() && p.allowed_bad > 0.0).then(|| 1.0 - p.bad() / p.allowed_bad)
}

/// `allowed_bad(P) - bad(P)`, in budgeting units.
pub fn budget_remaining_events(p: &Totals) -> Option<f64> {
    p.some().then(|| p.allowed_bad - p.bad())
}

/// `bad(W) / allowed_bad(P)`.
pub fn budget_consumed(w: &Totals, p: &Totals) -> Option<f64> {
    (p.allowed_bad > 0.0).then(|| w.bad() / p.allowed_bad)
}

/// Seconds until the budget of `P` is spent at the rate of bad events seen
/// over `W` (`w_ms` long): 0 when it is already spent, +Inf when nothing
/// was spent over `W`.
pub fn time_to_exhaustion_s(w: &Totals, w_ms: i64, p: &Totals) -> Option<f64> {
    let remaining = budget_remaining_events(p)?;
    if remaining <= 0.0 {
        return Some(0.0);
    }
    let bad = w.bad();
    if bad <= 0.0 || w_ms <= 0 {
        return Some(f64::INFINITY);
    }
    Some(remaining / (bad / (w_ms as f64 / 1000.0)))
}

/// The attainment of a closed period and whether it met the objective
/// (`bad <= allowed_bad`, which with one version is `attainment >= T`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Compliance {
    pub attainment: f64,
    pub compliant: bool,
}

pub fn compliance(p: &Totals) -> Option<Compliance> {
    Some(Compliance {
        attainment: sli(p)?,
        compliant: p.bad() <= p.allowed_bad,
    })
}

/// A time slice with `good` of `total` events, as budget units: `(good,
/// total)` of `(1, 1)` or `(0, 1)` for time slices judged against
/// `slice_target`, `(ratio, 1)` for ratio time slices; `None` for a slice
/// with no events (not counted).
pub fn slice_units(good: f64, total: f64, slice_target: Option<f64>) -> Option<f64> {
    if total <= 0.0 {
        return None;
    }
    let ratio = good / total;
    Some(match slice_target {
        Some(t) => {
            if ratio >= t {
                1.0
            } else {
                0.0
            }
        }
        None => ratio,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_traffic_is_absent_not_nan() {
        let z = Totals::default();
        assert_eq!(sli(&z), None);
        assert_eq!(error_ratio(&z), None);
        assert_eq!(burn_rate(&z), None);
        assert_eq!(budget_remaining(&z), None);
        assert_eq!(budget_remaining_events(&z), None);
        assert_eq!(compliance(&z), None);
        assert_eq!(slice_units(0.0, 0.0, Some(0.9)), None);
    }

    #[test]
    fn budget_arithmetic() {
        // T = 0.99 over 10,000 events: 100 allowed, 25 bad
        let p = Totals {
            good: 9_975.0,
            total: 10_000.0,
            allowed_bad: 100.0,
        };
        assert_eq!(sli(&p), Some(0.9975));
        assert_eq!(budget_remaining(&p), Some(0.75));
        assert_eq!(budget_remaining_events(&p), Some(75.0));
        assert_eq!(burn_rate(&p), Some(0.25));
        let w = Totals {
            good: 990.0,
            total: 1_000.0,
            allowed_bad: 10.0,
        };
        assert_eq!(budget_consumed(&w, &p), Some(0.1));
        // 10 bad per hour, 75 left: 7.5 hours
        assert_eq!(time_to_exhaustion_s(&w, 3_600_000, &p), Some(7.5 * 3600.0));
        let quiet = Totals {
            good: 5.0,
            total: 5.0,
            allowed_bad: 0.05,
        };
        assert_eq!(
            time_to_exhaustion_s(&quiet, 3_600_000, &p),
            Some(f64::INFINITY)
        );
        let c = compliance(&p).unwrap();
        assert!(c.compliant);
        let over = Totals { good: 9_800.0, ..p };
        assert_eq!(budget_remaining(&over), Some(-1.0));
        assert_eq!(time_to_exhaustion_s(&w, 3_600_000, &over), Some(0.0));
        assert!(!compliance(&over).unwrap().compliant);
        assert_eq!(slice_units(99.0, 100.0, Some(0.99)), Some(1.0));
        assert_eq!(slice_units(98.0, 100.0, Some(0.99)), Some(0.0));
        assert_eq!(slice_units(98.0, 100.0, None), Some(0.98));
    }
}
