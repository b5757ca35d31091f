//! The function table: every function the language knows, with its argument
//! and return types. The parser checks calls against it; the evaluator
//! dispatches on [`FunctionDef::name`] to the implementations in this folder
//! (one file per family):
//!
//! - [`rate`]: `rate`, `increase`, `delta`, `irate`, `idelta`, `resets`,
//!   `changes`.
//! - [`over_time`]: the `*_over_time` aggregations of one window.
//! - [`regression`]: `deriv`, `predict_linear`, `holt_winters`.
//! - [`histogram`]: `histogram_quantile` on classic buckets.
//! - [`math`]: element-wise math, `round`, `clamp*`, Go's `Pow`.
//! - [`time`]: the date functions.
//! - [`labels`]: `label_replace`, `label_join`, `absent`'s labels.
//! - [`stats`]: compensated sums, quantiles, Go's `Max`/`Min`.
//! - SLO operators (`slo_*` over stored SLOs, and the ad-hoc `sli`,
//!   `error_ratio`, `burn_rate`): evaluated by `eval::slo` with the
//!   `nines-slo` crate; see docs/slo-queries.md.
//!
//! They are pure functions over sample slices; the evaluator slides them
//! over each series' windows.

pub mod histogram;
pub mod labels;
pub mod math;
pub mod over_time;
pub mod rate;
pub mod regression;
pub mod stats;
pub mod time;

use crate::syntax::ast::ValueType;

/// A function's signature.
#[derive(Debug, PartialEq, Eq)]
pub struct FunctionDef {
    pub name: &'static str,
    /// Types of the arguments in order.
    pub args: &'static [ValueType],
    /// How many trailing arguments of `args` may be left out (`round(v)`,
    /// `hour()`).
    pub optional: usize,
    /// The last argument may repeat any number of times (`label_join`).
    pub variadic: bool,
    pub returns: ValueType,
}

impl FunctionDef {
    pub fn min_args(&self) -> usize {
        self.args.len() - self.optional - usize::from(self.variadic)
    }

    pub fn max_args(&self) -> Option<usize> {
        (!self.variadic).then_some(self.args.len())
    }

    /// The expected type of argument `i` (the variadic tail repeats).
    pub fn arg_type(&self, i: usize) -> Option<ValueType> {
        self.args.get(i).copied().or_else(|| {
            if self.variadic {
                self.args.last().copied()
            } else {
                None
            }
        })
    }
}

use ValueType::{Matrix as M, Scalar as S, String as Str, Vector as V};

const fn f(name: &'static str, args: &'static [ValueType], returns: ValueType) -> FunctionDef {
    FunctionDef {
        name,
        args,
        optional: 0,
        variadic: false,
        returns,
    }
}

const fn opt(
    name: &'static str,
    args: &'static [ValueType],
    optional: usize,
    returns: ValueType,
) -> FunctionDef {
    FunctionDef {
        name,
        args,
        optional,
        variadic: false,
        returns,
    }
}

/// Prometheus 2.x's functions on float samples (native-histogram functions
/// are not supported).
pub static FUNCTIONS: &[FunctionDef] = &[
    f("abs", &[V], V),
    f("absent", &[V], V),
    f("absent_over_time", &[M], V),
    f("acos", &[V], V),
    f("acosh", &[V], V),
    f("asin", &[V], V),
    f("asinh", &[V], V),
    f("atan", &[V], V),
    f("atanh", &[V], V),
    f("avg_over_time", &[M], V),
    f("burn_rate", &[V, V, S, S], V),
    f("ceil", &[V], V),
    f("changes", &[M], V),
    f("clamp", &[V, S, S], V),
    f("clamp_max", &[V, S], V),
    f("clamp_min", &[V, S], V),
    f("cos", &[V], V),
    f("cosh", &[V], V),
    f("count_over_time", &[M], V),
    opt("day_of_month", &[V], 1, V),
    opt("day_of_week", &[V], 1, V),
    opt("day_of_year", &[V], 1, V),
    opt("days_in_month", &[V], 1, V),
    f("deg", &[V], V),
    f("delta", &[M], V),
    f("deriv", &[M], V),
    f("error_ratio", &[V, V, S], V),
    f("exp", &[V], V),
    f("floor", &[V], V),
    f("histogram_quantile", &[S, V], V),
    f("holt_winters", &[M, S, S], V),
    opt("hour", &[V], 1, V),
    f("idelta", &[M], V),
    f("increase", &[M], V),
    f("irate", &[M], V),
    FunctionDef {
        name: "label_join",
        args: &[V, Str, Str, Str],
        optional: 0,
        variadic: true,
        returns: V,
    },
    f("label_replace", &[V, Str, Str, Str, Str], V),
    f("last_over_time", &[M], V),
    f("ln", &[V], V),
    f("log10", &[V], V),
    f("log2", &[V], V),
    f("max_over_time", &[M], V),
    f("min_over_time", &[M], V),
    opt("minute", &[V], 1, V),
    opt("month", &[V], 1, V),
    f("pi", &[], S),
    f("predict_linear", &[M, S], V),
    f("present_over_time", &[M], V),
    f("quantile_over_time", &[S, M], V),
    f("rad", &[V], V),
    f("rate", &[M], V),
    f("resets", &[M], V),
    opt("round", &[V, S], 1, V),
    f("scalar", &[V], S),
    f("sgn", &[V], V),
    f("sin", &[V], V),
    f("sinh", &[V], V),
    f("sli", &[V, V, S], V),
    f("slo_budget_consumed", &[Str, S], V),
    f("slo_budget_remaining", &[Str], V),
    f("slo_budget_remaining_events", &[Str], V),
    f("slo_burn_rate", &[Str, S], V),
    f("slo_compliance", &[Str, Str], V),
    f("slo_error_ratio", &[Str, S], V),
    f("slo_sli", &[Str, S], V),
    f("slo_time_to_exhaustion", &[Str, S], V),
    f("sort", &[V], V),
    f("sort_desc", &[V], V),
    f("sqrt", &[V], V),
    f("stddev_over_time", &[M], V),
    f("stdvar_over_time", &[M], V),
    f("sum_over_time", &[M], V),
    f("tan", &[V], V),
    f("tanh", &[V], V),
    f("time", &[], S),
    f("timestamp", &[V], V),
    f("vector", &[S], V),
    opt("year", &[V], 1, V),
];

/// Looks a function up by name.
pub fn lookup(name: &str) -> Option<&'static FunctionDef> {
    FUNCTIONS.iter().find(|f| f.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_unique_and_consistent() {
        for w in FUNCTIONS.windows(2) {
            assert!(w[0].name < w[1].name, "{} before {}", w[0].name, w[1].name);
        }
        let lj = lookup("label_join").unwrap();
        assert_eq!((lj.min_args(), lj.max_args()), (3, None));
        assert_eq!(lj.arg_type(7), Some(Str));
        let r = lookup("round").unwrap();
        assert_eq!((r.min_args(), r.max_args()), (1, Some(2)));
        assert_eq!(lookup("hour").unwrap().min_args(), 0);
        assert!(lookup("histogram_count").is_none());
    }
}
