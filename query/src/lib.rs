//! The nines query language: PromQL with Prometheus's semantics, plus the
//! SLO operators of the SLO layer.
//!
//! Module map:
//! - [`syntax`]: AST, nom parser, printer (`Display` prints a query back).
//! - [`eval`]: the evaluator ([`eval_instant`], [`eval_range`]) over an
//!   engine snapshot, with Prometheus 2.42's semantics.
//! - [`functions`]: the function table and one file per function family.
//! - [`value`]: results and their Prometheus JSON encoding.
//! - [`range_cache`]: step-aligned range results kept across queries.
//! - [`parse_cache`]: parsed instant queries kept by their text.
//! - [`error`]: query errors with their API error type and HTTP status.
//!
//! Data path: `parse` → `eval` (over an engine `Snapshot`: selectors load
//! series once per query, range functions slide over each series' samples)
//! → [`Value`].

#![forbid(unsafe_code)]

pub mod error;
pub mod eval;
pub mod functions;
mod gofmt;
pub mod parse_cache;
pub mod range_cache;
pub mod syntax;
pub mod value;

pub use error::QueryError;
pub use eval::{eval_instant, eval_range, Cancel, QueryOptions};
pub use syntax::{parse, Expr, ParseError};
pub use value::{Sample, Series, Value};

/// Whether `expr` reads nothing but the SLO catalog's precomputed sums:
/// it calls the native SLO operators (`slo_*`) on literals, combined by
/// arithmetic and aggregation, and selects no series. Such a query answers
/// in microseconds from [`QueryOptions::slo_sums`]; the server evaluates
/// it without handing it to a blocking thread (two thread wake-ups, most
/// of its latency).
pub fn reads_only_slo_state(expr: &Expr) -> bool {
    match expr {
        Expr::Number(_) | Expr::String(_) | Expr::Duration(_) => true,
        Expr::Vector(_) | Expr::Matrix(_) | Expr::Subquery(_) => false,
        Expr::Paren(e) => reads_only_slo_state(e),
        Expr::Unary(u) => reads_only_slo_state(&u.expr),
        Expr::Binary(b) => reads_only_slo_state(&b.lhs) && reads_only_slo_state(&b.rhs),
        Expr::Aggregate(a) => {
            reads_only_slo_state(&a.expr) && a.param.as_deref().is_none_or(reads_only_slo_state)
        }
        Expr::Call(c) => c.func.name.starts_with("slo_") && c.args.iter().all(reads_only_slo_state),
    }
}

/// Parses and evaluates a query at one time.
pub fn instant_query(
    snap: &nines_engine::read::Snapshot,
    query: &str,
    time_ms: i64,
    opts: &QueryOptions,
    cancel: &Cancel,
) -> Result<Value, QueryError> {
    let expr = parse(query)?;
    eval_instant(snap, &expr, time_ms, opts, cancel)
}

/// Parses and evaluates a range query at `start`, `start + step`, ... <= `end`.
pub fn range_query(
    snap: &nines_engine::read::Snapshot,
    query: &str,
    start_ms: i64,
    end_ms: i64,
    step_ms: i64,
    opts: &QueryOptions,
    cancel: &Cancel,
) -> Result<Value, QueryError> {
    let expr = parse(query)?;
    eval_range(snap, &expr, start_ms, end_ms, step_ms, opts, cancel)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_slo_operators_on_literals_read_only_slo_state() {
        for q in [
            r#"slo_budget_remaining("checkout")"#,
            r#"slo_burn_rate("checkout", 1h) > 14.4"#,
            r#"max by (slo) (slo_burn_rate("a", 5m))"#,
            r#"topk(1, slo_burn_rate("a", 1h))"#,
            r#"-(slo_sli("a", 30d) * 100)"#,
            r#"slo_burn_rate("a", 5m) / 2 > bool slo_burn_rate("a", 1h)"#,
        ] {
            assert!(reads_only_slo_state(&parse(q).unwrap()), "{q}");
        }
        for q in [
            r#"slo_burn_rate("a", 1h) * on() group_left vector(1)"#,
            "up",
            "rate(x[5m])",
            r#"sli(good, total, 30d)"#,
            r#"slo_burn_rate("a", scalar(up))"#,
            r#"slo_budget_remaining("a") + time()"#,
            r#"slo_budget_remaining("a") and up"#,
            r#"max_over_time(slo_burn_rate("a", 1h)[1h:5m])"#,
        ] {
            let e = parse(q).unwrap();
            assert!(
                !reads_only_slo_state(&e),
                "{q} selects series or calls other functions"
            );
        }
    }
}
