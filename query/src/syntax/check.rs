//! Prometheus's type rules (its `checkAST`), applied as each node is built.
//! A node keeps its first type error in `Node::deferred`, in the order
//! Prometheus checks (children before parents, left to right; a call's
//! arity before its arguments); `parse` reports it only when the whole
//! query parsed, because Prometheus type-checks only error-free parses.

use nines_engine::index::Matcher;
use nines_engine::METRIC_NAME;

use super::ast::{
    AggregateOp, BinaryExpr, BinaryOp, Cardinality, Expr, Grouping, UnaryExpr, UnaryOp, ValueType,
};
use super::lexer::{Kind, Token};
use super::literals::go_quote;
use super::modifiers::BinModifiers;
use super::parser::{aggregate_expr, Failure, Node, PResult, Parser};
use crate::functions::FunctionDef;

/// Collects the first of a node's own errors.
#[derive(Default)]
struct First(Option<Failure>);

impl First {
    /// Keeps `f` unless an earlier error is already kept.
    fn keep(&mut self, f: Option<Failure>) {
        if self.0.is_none() {
            self.0 = f;
        }
    }

    fn fail(&mut self, pos: usize, message: impl Into<String>) {
        if self.0.is_none() {
            self.0 = Some(Failure::new(pos, message));
        }
    }
}

/// Go's internal type names, which one Prometheus message uses.
fn go_type_name(t: ValueType) -> &'static str {
    match t {
        ValueType::Scalar => "scalar",
        ValueType::String => "string",
        ValueType::Vector => "vector",
        ValueType::Matrix => "matrix",
    }
}

pub(crate) fn selector(name: Option<&str>, matchers: &[Matcher], start: usize) -> Option<Failure> {
    let mut first = First::default();
    if let Some(name) = name {
        // The first matcher is the name's own.
        for m in matchers.iter().skip(1).filter(|m| m.name == METRIC_NAME) {
            let msg = format!(
                "metric name must not be set twice: {} or {}",
                go_quote(name),
                go_quote(&m.value)
            );
            first.fail(start, msg);
        }
    } else if matchers.iter().all(Matcher::matches_empty) {
        first.fail(
            start,
            "vector selector must contain at least one non-empty matcher",
        );
    }
    first.0
}

pub(crate) fn subquery(inner: &Node) -> Option<Failure> {
    let t = inner.expr.value_type();
    (t != ValueType::Vector).then(|| {
        let msg = format!(
            "subquery is only allowed on instant vector, got {} instead",
            go_type_name(t)
        );
        Failure::new(inner.start, msg)
    })
}

pub(crate) fn unary(p: &mut Parser<'_>, sign: &Token, operand: Node) -> PResult<Node> {
    let op = if sign.kind == Kind::Sub {
        UnaryOp::Neg
    } else {
        UnaryOp::Pos
    };
    let mut first = First(operand.deferred);
    let t = operand.expr.value_type();
    if !matches!(t, ValueType::Scalar | ValueType::Vector) {
        let msg = format!(
            "unary expression only allowed on expressions of type scalar or instant vector, got {}",
            go_quote(t.name())
        );
        first.fail(sign.start, msg);
    }
    let expr = Expr::Unary(UnaryExpr {
        op,
        expr: operand.expr,
    });
    p.node(expr, sign.start, operand.height + 1, first.0)
}

pub(crate) fn binary(
    p: &mut Parser<'_>,
    lhs: Node,
    op: BinaryOp,
    op_pos: usize,
    modifiers: BinModifiers,
    rhs: Node,
) -> PResult<Node> {
    let (lt, rt) = (lhs.expr.value_type(), rhs.expr.value_type());
    let mut first = First::default();
    let BinModifiers {
        return_bool,
        mut matching,
    } = modifiers;
    if return_bool && !op.is_comparison() {
        first.fail(
            op_pos,
            "bool modifier can only be used on comparison operators",
        );
    }
    if op.is_comparison() && !return_bool && lt == ValueType::Scalar && rt == ValueType::Scalar {
        first.fail(op_pos, "comparisons between scalars must use BOOL modifier");
    }
    if op.is_set() && matching.card == Cardinality::OneToOne {
        matching.card = Cardinality::ManyToMany;
    }
    if matching.on {
        for l in matching
            .labels
            .iter()
            .filter(|l| matching.include.contains(l))
        {
            let msg = format!(
                "label {} must not occur in ON and GROUP clause at once",
                go_quote(l)
            );
            first.fail(op_pos, msg);
        }
    }
    let operand_types = "binary expression must contain only scalar and instant vector types";
    if !matches!(lt, ValueType::Scalar | ValueType::Vector) {
        first.fail(lhs.start, operand_types);
    }
    if !matches!(rt, ValueType::Scalar | ValueType::Vector) {
        first.fail(rhs.start, operand_types);
    }
    let quoted_op = go_quote(op.as_str());
    let matching = if lt != ValueType::Vector || rt != ValueType::Vector {
        if !matching.labels.is_empty() {
            first.fail(
                lhs.start,
                "vector matching only allowed between instant vectors",
            );
        }
        None
    } else {
        if op.is_set() {
            if matches!(
                matching.card,
                Cardinality::OneToMany | Cardinality::ManyToOne
            ) {
                first.fail(
                    lhs.start,
                    format!("no grouping allowed for {quoted_op} operation"),
                );
            }
            if matching.card != Cardinality::ManyToMany {
                first.fail(lhs.start, "set operations must always be many-to-many");
            }
        }
        Some(matching)
    };
    if (lt == ValueType::Scalar || rt == ValueType::Scalar) && op.is_set() {
        let msg = format!("set operator {quoted_op} not allowed in binary scalar expression");
        first.fail(lhs.start, msg);
    }
    let deferred = lhs.deferred.or(rhs.deferred).or(first.0);
    let height = lhs.height.max(rhs.height) + 1;
    let expr = Expr::Binary(BinaryExpr {
        op,
        lhs: lhs.expr,
        rhs: rhs.expr,
        return_bool,
        matching,
    });
    p.node(expr, lhs.start, height, deferred)
}

pub(crate) fn call(
    p: &mut Parser<'_>,
    func: &'static FunctionDef,
    start: usize,
    args: Vec<Node>,
) -> PResult<Node> {
    let mut first = First::default();
    let n = args.len();
    let name = go_quote(func.name);
    if func.optional == 0 && !func.variadic {
        if n != func.args.len() {
            let want = func.args.len();
            first.fail(
                start,
                format!("expected {want} argument(s) in call to {name}, got {n}"),
            );
        }
    } else if n < func.min_args() {
        let min = func.min_args();
        first.fail(
            start,
            format!("expected at least {min} argument(s) in call to {name}, got {n}"),
        );
    } else if let Some(max) = func.max_args().filter(|&max| n > max) {
        first.fail(
            start,
            format!("expected at most {max} argument(s) in call to {name}, got {n}"),
        );
    }
    let mut height = 0;
    let mut exprs = Vec::with_capacity(n);
    for (i, arg) in args.into_iter().enumerate() {
        first.keep(arg.deferred);
        let t = arg.expr.value_type();
        if let Some(want) = func.arg_type(i).filter(|&want| want != t) {
            let msg = format!(
                "expected type {} in call to function {name}, got {}",
                want.name(),
                t.name()
            );
            first.fail(arg.start, msg);
        }
        height = height.max(arg.height);
        exprs.push(*arg.expr);
    }
    let expr = Expr::Call(super::ast::Call { func, args: exprs });
    p.node(expr, start, height + 1, first.0)
}

pub(crate) fn aggregate(
    p: &mut Parser<'_>,
    op: AggregateOp,
    start: usize,
    grouping: Option<Grouping>,
    param: Option<Node>,
    expr: Node,
) -> PResult<Node> {
    let mut first = First(expr.deferred);
    let t = expr.expr.value_type();
    if t != ValueType::Vector {
        let msg = format!(
            "expected type instant vector in aggregation expression, got {}",
            t.name()
        );
        first.fail(expr.start, msg);
    }
    let mut height = expr.height;
    let param = match param {
        Some(param) => {
            first.keep(param.deferred);
            let t = param.expr.value_type();
            if let Some(want) = op.param_type().filter(|&want| want != t) {
                let msg = format!(
                    "expected type {} in aggregation parameter, got {}",
                    want.name(),
                    t.name()
                );
                first.fail(param.start, msg);
            }
            height = height.max(param.height);
            Some(param.expr)
        }
        None => None,
    };
    let node = aggregate_expr(op, grouping, param, expr.expr);
    p.node(node, start, height + 1, first.0)
}
