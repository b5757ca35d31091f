//! The query corpus and the list of deliberate differences.

use std::path::Path;

use nines_query::syntax::ast::{AggregateOp, Expr};

/// Queries of `tests/cases/differential_queries.txt`: one per line; blank
/// lines and lines starting with `#` are skipped.
pub fn read_queries(path: &Path) -> Vec<String> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect()
}

/// The queries in the fenced ```` ```differential-skip ```` blocks of
/// `docs/promql-compatibility.md`, written exactly as in the corpus.
pub fn deliberate_differences(path: &Path) -> Vec<String> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let mut out = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        let t = line.trim();
        if inside {
            if t.starts_with("```") {
                inside = false;
            } else if !t.is_empty() {
                out.push(t.to_string());
            }
        } else if t == "```differential-skip" {
            inside = true;
        }
    }
    out
}

/// Whether the order of a query's vector result is defined: the outermost
/// expression is `sort`/`sort_desc`, or `topk`/`bottomk` without grouping
/// (groups come in no defined order).
pub fn ordered(expr: &Expr) -> bool {
    match expr {
        Expr::Paren(e) => ordered(e),
        Expr::Call(c) => matches!(c.func.name, "sort" | "sort_desc"),
        Expr::Aggregate(a) => {
            matches!(a.op, AggregateOp::Topk | AggregateOp::Bottomk) && a.grouping.is_none()
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_matters_for_sort_and_ungrouped_topk_only() {
        let o = |q: &str| ordered(&nines_query::parse(q).unwrap());
        assert!(o("sort(up)"));
        assert!(o("(sort_desc(up))"));
        assert!(o("topk(3, up)"));
        assert!(!o("topk by (job) (3, up)"));
        assert!(!o("sort(up) + 1"));
        assert!(!o("sum(up)"));
    }
}
