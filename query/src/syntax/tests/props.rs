//! Property tests: random well-typed trees print and parse back to
//! themselves; random input never panics, and whatever parses prints to a
//! query that parses back to the same tree.

use nines_engine::index::{MatchOp, Matcher};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

use crate::functions::{self, FUNCTIONS};
use crate::syntax::ast::{
    AggregateExpr, AggregateOp, At, BinaryExpr, BinaryOp, Call, Cardinality, Expr, Grouping,
    MatrixSelector, Offset, SubqueryExpr, UnaryExpr, UnaryOp, ValueType, VectorMatching,
    VectorSelector,
};
use crate::syntax::parse;

/// Words that the lexer never reads as a metric name (case-insensitive).
const NOT_METRIC_NAMES: &[&str] = &[
    "bool",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "atan2",
    "inf",
    "nan",
];
/// Words that may not be grouping labels.
const NOT_GROUPING_LABELS: &[&str] = &["without", "inf", "nan"];

fn metric_name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "foo",
            "http_requests_total",
            "a:b",
            "sum",
            "by",
            "offset",
            "start",
            "And"
        ])
        .prop_map(str::to_string),
        "[a-zA-Z_:][a-zA-Z0-9_:]{0,10}".prop_filter("keyword", |n| !NOT_METRIC_NAMES
            .contains(&n.to_ascii_lowercase().as_str())),
    ]
}

fn label_name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "job",
            "le",
            "by",
            "on",
            "bool",
            "Sum",
            "offset",
            "group_left"
        ])
        .prop_map(str::to_string),
        "[a-zA-Z_][a-zA-Z0-9_]{0,8}".prop_filter("keyword", |n| !NOT_GROUPING_LABELS
            .contains(&n.to_ascii_lowercase().as_str())),
    ]
}

fn matcher() -> impl Strategy<Value = Matcher> {
    let name = prop_oneof![
        label_name(),
        Just("__name__".to_string()),
        Just("without".to_string())
    ];
    let regex = prop::sample::select(vec![".*", ".+", "5..", "a|b", "(x|y)z?", "", "\\d+", "é+"]);
    prop_oneof![
        (
            name.clone(),
            prop_oneof![Just(MatchOp::Equal), Just(MatchOp::NotEqual)],
            any::<String>()
        )
            .prop_map(|(n, op, v)| Matcher::new(op, n, v).unwrap()),
        (
            name,
            prop_oneof![Just(MatchOp::RegexMatch), Just(MatchOp::RegexNoMatch)],
            regex
        )
            .prop_map(|(n, op, v)| Matcher::new(op, n, v).unwrap()),
    ]
}

/// Non-zero durations up to about 285 years, in milliseconds.
fn duration() -> impl Strategy<Value = i64> {
    prop_oneof![
        prop::sample::select(vec![
            1_000,
            60_000,
            300_000,
            3_600_000,
            86_400_000,
            604_800_000,
            31_536_000_000
        ]),
        1i64..9_000_000_000_000,
    ]
}

fn offset() -> impl Strategy<Value = Offset> {
    (duration(), any::<bool>()).prop_map(|(d, neg)| Offset(if neg { -d } else { d }))
}

fn at() -> impl Strategy<Value = At> {
    prop_oneof![
        Just(At::Start),
        Just(At::End),
        (-10_000_000_000_000i64..10_000_000_000_000).prop_map(At::Timestamp),
    ]
}

fn selector() -> impl Strategy<Value = VectorSelector> {
    (
        option::of(metric_name()),
        vec(matcher(), 0..3),
        option::of(offset()),
        option::of(at()),
    )
        .prop_map(|(name, ms, offset, at)| {
            let mut matchers = Vec::new();
            if let Some(n) = &name {
                matchers.push(Matcher::equal("__name__", n.as_str()));
            }
            // A name may not be set twice; a nameless selector needs a
            // matcher that rejects the empty string.
            matchers.extend(
                ms.into_iter()
                    .filter(|m| name.is_none() || m.name != "__name__"),
            );
            if name.is_none() && matchers.iter().all(Matcher::matches_empty) {
                matchers.push(Matcher::equal("job", "api"));
            }
            VectorSelector {
                name,
                matchers,
                offset,
                at,
            }
        })
}

fn number() -> impl Strategy<Value = f64> {
    prop_oneof![
        0.0..1e6f64,
        any::<f64>().prop_map(f64::abs),
        (0u32..100).prop_map(f64::from),
        Just(f64::INFINITY),
        Just(f64::NAN),
    ]
}

fn leaf() -> impl Strategy<Value = Expr> {
    prop_oneof![
        number().prop_map(Expr::Number),
        any::<String>().prop_map(Expr::String),
        selector().prop_map(Expr::Vector),
        // The selector's modifiers are the range selector's.
        (selector(), duration())
            .prop_map(|(selector, range)| Expr::Matrix(MatrixSelector { selector, range })),
    ]
}

fn call(name: &str, args: Vec<Expr>) -> Expr {
    Expr::Call(Call {
        func: functions::lookup(name).unwrap(),
        args,
    })
}

fn paren(e: Expr) -> Expr {
    Expr::Paren(Box::new(e))
}

fn to_vector(e: Expr) -> Expr {
    match e.value_type() {
        ValueType::Vector => e,
        ValueType::Scalar => call("vector", vec![e]),
        ValueType::Matrix => call("rate", vec![e]),
        ValueType::String => call("vector", vec![Expr::Number(1.0)]),
    }
}

fn to_scalar(e: Expr) -> Expr {
    match e.value_type() {
        ValueType::Scalar => e,
        ValueType::String => Expr::Number(0.5),
        _ => call("scalar", vec![to_vector(e)]),
    }
}

/// An operand of a binary or unary operator: a scalar or an instant vector.
fn to_operand(e: Expr) -> Expr {
    match e.value_type() {
        ValueType::Scalar | ValueType::Vector => e,
        _ => to_vector(e),
    }
}

/// Wraps what a postfix modifier would not bind to as written.
fn postfixable(e: Expr) -> Expr {
    match e {
        Expr::Vector(_) | Expr::Call(_) | Expr::Aggregate(_) | Expr::Paren(_) => e,
        other => paren(other),
    }
}

fn subquery(
    e: Expr,
    range: i64,
    step: Option<i64>,
    offset: Option<Offset>,
    at: Option<At>,
) -> Expr {
    Expr::Subquery(SubqueryExpr {
        expr: Box::new(postfixable(to_vector(e))),
        range,
        step,
        offset,
        at,
    })
}

fn to_matrix(e: Expr) -> Expr {
    match e {
        Expr::Vector(s) if s.offset.is_none() && s.at.is_none() => Expr::Matrix(MatrixSelector {
            selector: s,
            range: 300_000,
        }),
        e if e.value_type() == ValueType::Matrix => e,
        e => subquery(e, 3_600_000, None, None, None),
    }
}

fn to_type(e: Expr, t: ValueType) -> Expr {
    match t {
        ValueType::Scalar => to_scalar(e),
        ValueType::Vector => to_vector(e),
        ValueType::Matrix => to_matrix(e),
        ValueType::String => match e {
            Expr::String(_) => e,
            _ => Expr::String("label".into()),
        },
    }
}

const OPS: [BinaryOp; 16] = [
    BinaryOp::Add,
    BinaryOp::Sub,
    BinaryOp::Mul,
    BinaryOp::Div,
    BinaryOp::Mod,
    BinaryOp::Pow,
    BinaryOp::Atan2,
    BinaryOp::Eq,
    BinaryOp::Ne,
    BinaryOp::Gt,
    BinaryOp::Lt,
    BinaryOp::Ge,
    BinaryOp::Le,
    BinaryOp::And,
    BinaryOp::Or,
    BinaryOp::Unless,
];

/// The inputs of one binary expression, before they are made well typed.
#[derive(Debug, Clone)]
struct BinaryParts {
    op: BinaryOp,
    lhs: Expr,
    rhs: Expr,
    return_bool: bool,
    on: bool,
    card: Cardinality,
    labels: Vec<String>,
    include: Vec<String>,
}

fn binary(p: BinaryParts) -> Expr {
    let BinaryParts {
        op,
        lhs,
        rhs,
        return_bool,
        on,
        card,
        labels,
        include,
    } = p;
    let (lhs, rhs) = if op.is_set() {
        (to_vector(lhs), to_vector(rhs))
    } else {
        (to_operand(lhs), to_operand(rhs))
    };
    let (lt, rt) = (lhs.value_type(), rhs.value_type());
    let both_scalar = lt == ValueType::Scalar && rt == ValueType::Scalar;
    let return_bool = op.is_comparison() && (return_bool || both_scalar);
    let matching = (lt == ValueType::Vector && rt == ValueType::Vector).then(|| {
        let card = if op.is_set() {
            Cardinality::ManyToMany
        } else {
            card
        };
        let grouped = matches!(card, Cardinality::ManyToOne | Cardinality::OneToMany);
        let include = if grouped {
            include
                .into_iter()
                .filter(|l| !on || !labels.contains(l))
                .collect()
        } else {
            Vec::new()
        };
        VectorMatching {
            card,
            on,
            labels,
            include,
        }
    });
    // Parentheses where the parser would otherwise group differently.
    let prec = op.precedence();
    let lhs = match lhs {
        Expr::Binary(b)
            if b.op.precedence() < prec
                || (b.op.precedence() == prec && op.is_right_associative()) =>
        {
            paren(Expr::Binary(b))
        }
        Expr::Unary(u) if op == BinaryOp::Pow => paren(Expr::Unary(u)),
        other => other,
    };
    let rhs = match rhs {
        Expr::Binary(b)
            if b.op.precedence() < prec
                || (b.op.precedence() == prec && !op.is_right_associative()) =>
        {
            paren(Expr::Binary(b))
        }
        other => other,
    };
    Expr::Binary(BinaryExpr {
        op,
        lhs: Box::new(lhs),
        rhs: Box::new(rhs),
        return_bool,
        matching,
    })
}

fn unary(op: UnaryOp, e: Expr) -> Expr {
    let e = match to_operand(e) {
        Expr::Binary(b) if b.op != BinaryOp::Pow => paren(Expr::Binary(b)),
        other => other,
    };
    Expr::Unary(UnaryExpr {
        op,
        expr: Box::new(e),
    })
}

fn aggregate(op: AggregateOp, grouping: Option<Grouping>, param: Expr, e: Expr) -> Expr {
    let param = op.param_type().map(|t| Box::new(to_type(param, t)));
    Expr::Aggregate(AggregateExpr {
        op,
        expr: Box::new(to_vector(e)),
        param,
        grouping,
    })
}

fn function_call(index: usize, extra: usize, args: Vec<Expr>) -> Expr {
    let func = &FUNCTIONS[index % FUNCTIONS.len()];
    let n = match func.max_args() {
        Some(max) => func.min_args() + extra % (max - func.min_args() + 1),
        None => func.min_args() + extra % 3,
    };
    let mut pool = args.into_iter().cycle();
    let args = (0..n)
        .map(|i| {
            let t = func.arg_type(i).unwrap_or(ValueType::Vector);
            to_type(pool.next().unwrap_or(Expr::Number(1.0)), t)
        })
        .collect();
    Expr::Call(Call { func, args })
}

fn expr() -> impl Strategy<Value = Expr> {
    leaf().prop_recursive(6, 48, 4, |inner| {
        let cards = prop::sample::select(vec![
            Cardinality::OneToOne,
            Cardinality::ManyToOne,
            Cardinality::OneToMany,
        ]);
        let parts = (
            prop::sample::select(OPS.to_vec()),
            inner.clone(),
            inner.clone(),
            any::<bool>(),
            any::<bool>(),
            cards,
            vec(label_name(), 0..3),
            vec(label_name(), 0..3),
        )
            .prop_map(|(op, lhs, rhs, return_bool, on, card, labels, include)| {
                BinaryParts {
                    op,
                    lhs,
                    rhs,
                    return_bool,
                    on,
                    card,
                    labels,
                    include,
                }
            });
        let grouping = option::of((any::<bool>(), vec(label_name(), 0..3)))
            .prop_map(|g| g.map(|(without, labels)| Grouping { without, labels }));
        prop_oneof![
            inner.clone().prop_map(paren),
            (
                prop_oneof![Just(UnaryOp::Neg), Just(UnaryOp::Pos)],
                inner.clone()
            )
                .prop_map(|(op, e)| unary(op, e)),
            parts.prop_map(binary),
            (
                prop::sample::select(AggregateOp::ALL.to_vec()),
                grouping,
                inner.clone(),
                inner.clone()
            )
                .prop_map(|(op, g, p, e)| aggregate(op, g, p, e)),
            (any::<usize>(), any::<usize>(), vec(inner.clone(), 0..4))
                .prop_map(|(i, extra, args)| function_call(i, extra, args)),
            (
                inner,
                duration(),
                option::of(duration()),
                option::of(offset()),
                option::of(at())
            )
                .prop_map(|(e, range, step, offset, at)| subquery(e, range, step, offset, at)),
        ]
    })
}

/// Structural equality where NaN equals NaN.
fn same(a: &Expr, b: &Expr) -> bool {
    format!("{a:?}") == format!("{b:?}")
}

/// Random queries: operands and operators in turn, with stray pieces of
/// PromQL mixed in, so that some parse and many almost do.
fn soup() -> impl Strategy<Value = String> {
    let operands = prop::sample::select(vec![
        "foo",
        "sum",
        "1",
        "0x1F",
        ".5",
        "Inf",
        "'s'",
        "time()",
        "x[5m]",
        "x[5m:]",
        "rate(x[5m])",
        "sum by (a) (x)",
        "topk(3, x)",
        "count_values(\"v\", x)",
        "foo{a=\"b\"}",
        "{a=~'x.*'}",
        "(x)",
        "-x",
        "x offset 5m",
        "x @ start()",
        "abs(x)",
        "label_join(x, 'a', ',', 'b')",
        "x[1h:5m] offset -1m",
        "vector(1)",
        "offset",
        "by",
        "and",
        "histogram_quantile(0.9, x)",
    ]);
    let operators = prop::sample::select(vec![
        "+",
        "-",
        "*",
        "/",
        "%",
        "^",
        "atan2",
        "==",
        "!=",
        ">",
        "<=",
        "== bool",
        "> bool",
        "and",
        "or",
        "unless",
        "+ on(a)",
        "* ignoring(b) group_left",
        "/ on(a) group_right(c)",
        "and on()",
        "-",
        "^ -",
    ]);
    let junk = prop::sample::select(vec![
        "",
        "",
        "",
        "",
        "",
        "(",
        ")",
        "{",
        "}",
        "[",
        "]",
        "5m",
        ":",
        ",",
        "bool",
        "@",
        "#c\n",
        "by (a)",
        "without",
        "offset 1m",
        "[5m]",
        "\\",
        "1e",
        "\"",
        "sum(",
    ]);
    (operands.clone(), vec((operators, operands, junk), 0..6)).prop_map(|(first, rest)| {
        let mut q = first.to_string();
        for (op, operand, junk) in rest {
            q.push_str(&format!(" {op} {junk}{operand}"));
        }
        q
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn printed_trees_parse_back(e in expr()) {
        let printed = e.to_string();
        let back = parse(&printed).map_err(|err| TestCaseError::fail(format!("{printed}\n{err}")))?;
        prop_assert!(same(&back, &e), "{}\n{:?}\n{:?}", printed, back, e);
        prop_assert_eq!(back.to_string(), printed);
    }

    #[test]
    fn arbitrary_input_never_panics(s in any::<String>()) {
        let _ = parse(&s);
    }

    #[test]
    fn printable_input_never_panics(s in "[ -~\t\n]{0,80}") {
        let _ = parse(&s);
    }

    #[test]
    fn whatever_parses_prints_back(s in soup()) {
        if let Ok(e) = parse(&s) {
            let printed = e.to_string();
            let back = parse(&printed).map_err(|err| TestCaseError::fail(format!("{s:?} -> {printed}\n{err}")))?;
            prop_assert!(same(&back, &e), "{:?} -> {}", s, printed);
            prop_assert_eq!(back.to_string(), printed);
        }
    }
}
