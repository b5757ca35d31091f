//! Evaluator tests over a real engine: expressions are built by hand with a
//! small builder (the parser lives elsewhere), results compared with
//! expectations computed by hand from Prometheus 2.42's rules.

mod aggregate;
mod binary;
mod functions;
mod limits;
mod prometheus_aggregators;
mod prometheus_cases;
mod prometheus_functions;
mod range_functions;
mod rollup;
mod selectors;
mod split;
mod subquery;

use nines_engine::index::{MatchOp, Matcher};
use nines_engine::wal::SyncPolicy;
use nines_engine::{Engine, EngineOptions, Labels, SeriesBatch, SeriesKind, WriteBatch};

use super::{eval_instant, eval_range, Cancel, QueryOptions};
use crate::error::QueryError;
use crate::functions::lookup;
use crate::syntax::ast::*;
use crate::value::Value;

pub const S: i64 = 1_000;
pub const M: i64 = 60 * S;
pub const H: i64 = 60 * M;

pub const STALE: f64 = f64::from_bits(nines_engine::STALE_NAN_BITS);

/// An engine in a temporary directory.
pub struct Db {
    pub engine: Engine,
    _dir: tempfile::TempDir,
}

impl Db {
    pub fn new() -> Db {
        Db::with(|_| {})
    }

    pub fn with(f: impl FnOnce(&mut EngineOptions)) -> Db {
        let dir = tempfile::tempdir().unwrap();
        let mut o = EngineOptions::new(dir.path())
            .background(false)
            .sync(SyncPolicy::Never);
        f(&mut o);
        Db {
            engine: Engine::open(o).unwrap(),
            _dir: dir,
        }
    }

    /// Adds a series `name{pairs}` with `(ms, value)` samples.
    pub fn add(&self, name: &str, pairs: &[(&str, &str)], samples: &[(i64, f64)]) {
        self.add_kind(name, pairs, SeriesKind::Unknown, samples);
    }

    pub fn add_kind(
        &self,
        name: &str,
        pairs: &[(&str, &str)],
        kind: SeriesKind,
        samples: &[(i64, f64)],
    ) {
        let mut all = vec![("__name__", name)];
        all.extend_from_slice(pairs);
        let out = self
            .engine
            .append(&WriteBatch {
                series: vec![SeriesBatch {
                    labels: Labels::from_pairs(&all),
                    kind,
                    timestamps: samples.iter().map(|s| s.0).collect(),
                    values: samples.iter().map(|s| s.1).collect(),
                    resolved: None,
                }],
            })
            .unwrap();
        assert_eq!(out.accepted as usize, samples.len(), "{:?}", out.rejected);
    }

    pub fn instant(&self, e: &Expr, t: i64) -> Result<Value, QueryError> {
        eval_instant(
            &self.engine.snapshot(),
            e,
            t,
            &QueryOptions::default(),
            &Cancel::new(),
        )
    }

    pub fn range(&self, e: &Expr, start: i64, end: i64, step: i64) -> Result<Value, QueryError> {
        eval_range(
            &self.engine.snapshot(),
            e,
            start,
            end,
            step,
            &QueryOptions::default(),
            &Cancel::new(),
        )
    }

    /// An instant vector as `(labels, value)` in result order.
    #[track_caller]
    pub fn vector(&self, e: &Expr, t: i64) -> Vec<(String, f64)> {
        match self.instant(e, t) {
            Ok(Value::Vector(v)) => {
                for s in &v {
                    assert_eq!(s.t, t);
                }
                v.into_iter().map(|s| (s.labels.to_string(), s.v)).collect()
            }
            other => panic!("expected a vector, got {other:?}"),
        }
    }

    /// [`Db::vector`] sorted by labels.
    #[track_caller]
    pub fn vector_sorted(&self, e: &Expr, t: i64) -> Vec<(String, f64)> {
        let mut v = self.vector(e, t);
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    #[track_caller]
    pub fn scalar(&self, e: &Expr, t: i64) -> f64 {
        match self.instant(e, t) {
            Ok(Value::Scalar { t: st, v }) => {
                assert_eq!(st, t);
                v
            }
            other => panic!("expected a scalar, got {other:?}"),
        }
    }

    /// A range query's series as `(labels, points)`.
    #[track_caller]
    pub fn matrix(
        &self,
        e: &Expr,
        start: i64,
        end: i64,
        step: i64,
    ) -> Vec<(String, Vec<(i64, f64)>)> {
        match self.range(e, start, end, step) {
            Ok(v) => matrix_of(v),
            Err(err) => panic!("range query failed: {err}"),
        }
    }

    #[track_caller]
    pub fn error(&self, e: &Expr, t: i64) -> String {
        match self.instant(e, t) {
            Err(err) => err.to_string(),
            Ok(v) => panic!("expected an error, got {v:?}"),
        }
    }
}

#[track_caller]
pub fn matrix_of(v: Value) -> Vec<(String, Vec<(i64, f64)>)> {
    match v {
        Value::Matrix(m) => m
            .into_iter()
            .map(|s| (s.labels.to_string(), s.points))
            .collect(),
        other => panic!("expected a matrix, got {other:?}"),
    }
}

/// Pairs `(t, v)` at `start, start + step, ...`.
pub fn ramp(start: i64, step: i64, vals: &[f64]) -> Vec<(i64, f64)> {
    vals.iter()
        .enumerate()
        .map(|(i, &v)| (start + i as i64 * step, v))
        .collect()
}

pub fn owned(v: &[(&str, f64)]) -> Vec<(String, f64)> {
    v.iter().map(|(l, x)| (l.to_string(), *x)).collect()
}

// --- expression builder -------------------------------------------------

pub fn sel(name: &str) -> Expr {
    sel_with(name, &[])
}

pub fn sel_with(name: &str, ms: &[(&str, MatchOp, &str)]) -> Expr {
    let mut matchers = vec![Matcher::new(MatchOp::Equal, "__name__", name).unwrap()];
    for (n, op, v) in ms {
        matchers.push(Matcher::new(*op, *n, *v).unwrap());
    }
    Expr::Vector(VectorSelector {
        name: Some(name.to_string()),
        matchers,
        offset: None,
        at: None,
    })
}

/// A selector by matchers only (`{__name__=~"a|b"}`).
pub fn sel_matchers(ms: &[(&str, MatchOp, &str)]) -> Expr {
    Expr::Vector(VectorSelector {
        name: None,
        matchers: ms
            .iter()
            .map(|(n, op, v)| Matcher::new(*op, *n, *v).unwrap())
            .collect(),
        offset: None,
        at: None,
    })
}

pub fn offset(e: Expr, ms: i64) -> Expr {
    match e {
        Expr::Vector(mut s) => {
            s.offset = Some(Offset(ms));
            Expr::Vector(s)
        }
        Expr::Matrix(mut m) => {
            m.selector.offset = Some(Offset(ms));
            Expr::Matrix(m)
        }
        Expr::Subquery(mut s) => {
            s.offset = Some(Offset(ms));
            Expr::Subquery(s)
        }
        other => panic!("no offset on {other:?}"),
    }
}

pub fn at(e: Expr, a: At) -> Expr {
    match e {
        Expr::Vector(mut s) => {
            s.at = Some(a);
            Expr::Vector(s)
        }
        Expr::Matrix(mut m) => {
            m.selector.at = Some(a);
            Expr::Matrix(m)
        }
        Expr::Subquery(mut s) => {
            s.at = Some(a);
            Expr::Subquery(s)
        }
        other => panic!("no @ on {other:?}"),
    }
}

pub fn mat(e: Expr, range: i64) -> Expr {
    match e {
        Expr::Vector(selector) => Expr::Matrix(MatrixSelector { selector, range }),
        other => panic!("not a selector: {other:?}"),
    }
}

pub fn sq(e: Expr, range: i64, step: Option<i64>) -> Expr {
    Expr::Subquery(SubqueryExpr {
        expr: Box::new(e),
        range,
        step,
        offset: None,
        at: None,
    })
}

pub fn num(v: f64) -> Expr {
    Expr::Number(v)
}

pub fn string(s: &str) -> Expr {
    Expr::String(s.to_string())
}

pub fn paren(e: Expr) -> Expr {
    Expr::Paren(Box::new(e))
}

pub fn neg(e: Expr) -> Expr {
    Expr::Unary(UnaryExpr {
        op: UnaryOp::Neg,
        expr: Box::new(e),
    })
}

pub fn call(name: &str, args: Vec<Expr>) -> Expr {
    Expr::Call(Call {
        func: lookup(name).unwrap_or_else(|| panic!("no function {name}")),
        args,
    })
}

pub fn bin(op: BinaryOp, l: Expr, r: Expr) -> Expr {
    let both = l.value_type() == ValueType::Vector && r.value_type() == ValueType::Vector;
    let matching = both.then(|| VectorMatching {
        card: if op.is_set() {
            Cardinality::ManyToMany
        } else {
            Cardinality::OneToOne
        },
        ..VectorMatching::default()
    });
    Expr::Binary(BinaryExpr {
        op,
        lhs: Box::new(l),
        rhs: Box::new(r),
        return_bool: false,
        matching,
    })
}

pub fn bin_bool(op: BinaryOp, l: Expr, r: Expr) -> Expr {
    match bin(op, l, r) {
        Expr::Binary(mut b) => {
            b.return_bool = true;
            Expr::Binary(b)
        }
        _ => unreachable!(),
    }
}

/// A vector-vector operation with explicit matching: `on` or `ignoring`
/// the labels, with `group_left`/`group_right` labels when `card` says so.
pub fn bin_m(
    op: BinaryOp,
    l: Expr,
    r: Expr,
    card: Cardinality,
    on: bool,
    labels: &[&str],
    include: &[&str],
) -> Expr {
    Expr::Binary(BinaryExpr {
        op,
        lhs: Box::new(l),
        rhs: Box::new(r),
        return_bool: false,
        matching: Some(VectorMatching {
            card,
            on,
            labels: labels.iter().map(|s| s.to_string()).collect(),
            include: include.iter().map(|s| s.to_string()).collect(),
        }),
    })
}

pub fn agg(op: AggregateOp, e: Expr) -> Expr {
    Expr::Aggregate(AggregateExpr {
        op,
        expr: Box::new(e),
        param: None,
        grouping: None,
    })
}

pub fn grouping(without: bool, labels: &[&str]) -> Option<Grouping> {
    Some(Grouping {
        without,
        labels: labels.iter().map(|s| s.to_string()).collect(),
    })
}

pub fn agg_by(op: AggregateOp, labels: &[&str], e: Expr) -> Expr {
    agg_full(op, None, grouping(false, labels), e)
}

pub fn agg_without(op: AggregateOp, labels: &[&str], e: Expr) -> Expr {
    agg_full(op, None, grouping(true, labels), e)
}

pub fn agg_full(op: AggregateOp, param: Option<Expr>, g: Option<Grouping>, e: Expr) -> Expr {
    Expr::Aggregate(AggregateExpr {
        op,
        expr: Box::new(e),
        param: param.map(Box::new),
        grouping: g,
    })
}
