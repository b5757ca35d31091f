//! The PromQL abstract syntax tree. `Display` (in `print.rs`) prints a tree
//! back as a query, and `parse(&expr.to_string()) == expr` for every tree the
//! parser produces.
//!
//! Times and durations are milliseconds (`i64`), as in the engine.

use nines_engine::index::Matcher;

use crate::functions::FunctionDef;

/// The type of an expression's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ValueType {
    Scalar,
    String,
    /// An instant vector: one sample per series at each evaluation time.
    Vector,
    /// A range vector: the samples of each series in a window.
    Matrix,
}

impl ValueType {
    /// The name Prometheus uses in messages and API results.
    pub fn name(self) -> &'static str {
        match self {
            ValueType::Scalar => "scalar",
            ValueType::String => "string",
            ValueType::Vector => "instant vector",
            ValueType::Matrix => "range vector",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// `1`, `1.5e3`, `0x1F`, `Inf`, `NaN`. Negative literals parse as
    /// [`Expr::Unary`] of a positive one, as in Prometheus.
    Number(f64),
    /// `"..."`, `'...'` or `` `...` ``, already unescaped.
    String(String),
    /// A duration literal (`28d`, `1h30m`), allowed only as a function
    /// argument (nines's SLO functions take windows this way). Evaluates to
    /// its length in seconds.
    Duration(i64),
    Vector(VectorSelector),
    Matrix(MatrixSelector),
    Subquery(SubqueryExpr),
    /// `( expr )`: kept so that printing reproduces the query's grouping.
    Paren(Box<Expr>),
    Unary(UnaryExpr),
    Binary(BinaryExpr),
    Aggregate(AggregateExpr),
    Call(Call),
}

/// `metric{label="value", ...} offset 5m @ 1700000000`
#[derive(Clone, Debug, PartialEq)]
pub struct VectorSelector {
    /// The metric name as written before the braces (also present in
    /// `matchers` as `__name__="..."`).
    pub name: Option<String>,
    /// Every matcher, including the one for the name; at least one of them
    /// does not match the empty string.
    pub matchers: Vec<Matcher>,
    pub offset: Option<Offset>,
    pub at: Option<At>,
}

/// `offset 5m` (positive: earlier data) or `offset -5m`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Offset(pub i64);

/// The `@` modifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum At {
    /// `@ 1700000000.123`, milliseconds.
    Timestamp(i64),
    /// `@ start()`: the start of the range query (the time of an instant one).
    Start,
    /// `@ end()`
    End,
}

/// `selector[5m]` with the selector's own `offset` / `@`.
#[derive(Clone, Debug, PartialEq)]
pub struct MatrixSelector {
    pub selector: VectorSelector,
    pub range: i64,
}

/// `expr[1h:5m] offset 1m @ end()`; `step` is `None` for `[1h:]` (the
/// evaluation's default step).
#[derive(Clone, Debug, PartialEq)]
pub struct SubqueryExpr {
    pub expr: Box<Expr>,
    pub range: i64,
    pub step: Option<i64>,
    pub offset: Option<Offset>,
    pub at: Option<At>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnaryOp {
    Neg,
    Pos,
}

#[derive(Clone, Debug, PartialEq)]
pub struct UnaryExpr {
    pub op: UnaryOp,
    pub expr: Box<Expr>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Atan2,
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    And,
    Or,
    Unless,
}

impl BinaryOp {
    pub fn as_str(self) -> &'static str {
        match self {
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Mod => "%",
            BinaryOp::Pow => "^",
            BinaryOp::Atan2 => "atan2",
            BinaryOp::Eq => "==",
            BinaryOp::Ne => "!=",
            BinaryOp::Gt => ">",
            BinaryOp::Lt => "<",
            BinaryOp::Ge => ">=",
            BinaryOp::Le => "<=",
            BinaryOp::And => "and",
            BinaryOp::Or => "or",
            BinaryOp::Unless => "unless",
        }
    }

    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinaryOp::Eq | BinaryOp::Ne | BinaryOp::Gt | BinaryOp::Lt | BinaryOp::Ge | BinaryOp::Le
        )
    }

    pub fn is_set(self) -> bool {
        matches!(self, BinaryOp::And | BinaryOp::Or | BinaryOp::Unless)
    }

    /// Prometheus's precedence, higher binds tighter: `or` < `and unless` <
    /// comparisons < `+ -` < `* / % atan2` < `^`.
    pub fn precedence(self) -> u8 {
        match self {
            BinaryOp::Or => 1,
            BinaryOp::And | BinaryOp::Unless => 2,
            BinaryOp::Eq
            | BinaryOp::Ne
            | BinaryOp::Gt
            | BinaryOp::Lt
            | BinaryOp::Ge
            | BinaryOp::Le => 3,
            BinaryOp::Add | BinaryOp::Sub => 4,
            BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod | BinaryOp::Atan2 => 5,
            BinaryOp::Pow => 6,
        }
    }

    /// `^` is right-associative; every other operator left-associative.
    pub fn is_right_associative(self) -> bool {
        self == BinaryOp::Pow
    }
}

/// How the series of the two sides of a binary operation are paired.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VectorMatching {
    pub card: Cardinality,
    /// `on(...)` when true, `ignoring(...)` when false.
    pub on: bool,
    pub labels: Vec<String>,
    /// The labels of `group_left(...)` / `group_right(...)`.
    pub include: Vec<String>,
}

impl Default for VectorMatching {
    /// No modifier: one-to-one on all labels (`ignoring()`).
    fn default() -> Self {
        VectorMatching {
            card: Cardinality::OneToOne,
            on: false,
            labels: Vec::new(),
            include: Vec::new(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cardinality {
    OneToOne,
    /// `group_left`
    ManyToOne,
    /// `group_right`
    OneToMany,
    /// Set operators (`and`, `or`, `unless`).
    ManyToMany,
}

#[derive(Clone, Debug, PartialEq)]
pub struct BinaryExpr {
    pub op: BinaryOp,
    pub lhs: Box<Expr>,
    pub rhs: Box<Expr>,
    /// `bool` after a comparison operator.
    pub return_bool: bool,
    /// `Some` when both sides are vectors (written or implied matching).
    pub matching: Option<VectorMatching>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AggregateOp {
    Sum,
    Min,
    Max,
    Avg,
    Count,
    Group,
    Stddev,
    Stdvar,
    Topk,
    Bottomk,
    Quantile,
    CountValues,
}

impl AggregateOp {
    pub const ALL: [AggregateOp; 12] = [
        AggregateOp::Sum,
        AggregateOp::Min,
        AggregateOp::Max,
        AggregateOp::Avg,
        AggregateOp::Count,
        AggregateOp::Group,
        AggregateOp::Stddev,
        AggregateOp::Stdvar,
        AggregateOp::Topk,
        AggregateOp::Bottomk,
        AggregateOp::Quantile,
        AggregateOp::CountValues,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AggregateOp::Sum => "sum",
            AggregateOp::Min => "min",
            AggregateOp::Max => "max",
            AggregateOp::Avg => "avg",
            AggregateOp::Count => "count",
            AggregateOp::Group => "group",
            AggregateOp::Stddev => "stddev",
            AggregateOp::Stdvar => "stdvar",
            AggregateOp::Topk => "topk",
            AggregateOp::Bottomk => "bottomk",
            AggregateOp::Quantile => "quantile",
            AggregateOp::CountValues => "count_values",
        }
    }

    pub fn parse(s: &str) -> Option<AggregateOp> {
        AggregateOp::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// The type of the first argument when the aggregation takes one
    /// (`topk(3, x)`, `quantile(0.9, x)`, `count_values("v", x)`).
    pub fn param_type(self) -> Option<ValueType> {
        match self {
            AggregateOp::Topk | AggregateOp::Bottomk | AggregateOp::Quantile => {
                Some(ValueType::Scalar)
            }
            AggregateOp::CountValues => Some(ValueType::String),
            _ => None,
        }
    }
}

/// `by (a, b)` or `without (c)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grouping {
    pub without: bool,
    pub labels: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct AggregateExpr {
    pub op: AggregateOp,
    pub expr: Box<Expr>,
    pub param: Option<Box<Expr>>,
    /// `None`: no `by`/`without` clause (aggregate everything).
    pub grouping: Option<Grouping>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Call {
    pub func: &'static FunctionDef,
    pub args: Vec<Expr>,
}

impl Expr {
    /// The type of the expression's value.
    pub fn value_type(&self) -> ValueType {
        match self {
            Expr::Number(_) | Expr::Duration(_) => ValueType::Scalar,
            Expr::String(_) => ValueType::String,
            Expr::Vector(_) | Expr::Aggregate(_) => ValueType::Vector,
            Expr::Matrix(_) | Expr::Subquery(_) => ValueType::Matrix,
            Expr::Paren(e) => e.value_type(),
            Expr::Unary(u) => u.expr.value_type(),
            Expr::Binary(b) => {
                if b.lhs.value_type() == ValueType::Scalar
                    && b.rhs.value_type() == ValueType::Scalar
                {
                    ValueType::Scalar
                } else {
                    ValueType::Vector
                }
            }
            Expr::Call(c) => c.func.returns,
        }
    }
}
