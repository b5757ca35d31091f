//! Accepted queries: each is parsed, printed, compared with its canonical
//! form, and the canonical form must parse back to the same tree.

use crate::functions::{self, FunctionDef};
use crate::syntax::ast::{Expr, ValueType};
use crate::syntax::parser::parse_with;

/// SLO functions as they will look once they exist: windows as durations.
static SLO_FUNCTIONS: [FunctionDef; 3] = [
    FunctionDef {
        name: "burn_rate",
        args: &[ValueType::Vector, ValueType::Scalar],
        optional: 0,
        variadic: false,
        returns: ValueType::Vector,
    },
    FunctionDef {
        name: "slo_window",
        args: &[ValueType::Scalar],
        optional: 0,
        variadic: false,
        returns: ValueType::Scalar,
    },
    FunctionDef {
        name: "sli",
        args: &[ValueType::Matrix, ValueType::Scalar, ValueType::Scalar],
        optional: 0,
        variadic: false,
        returns: ValueType::Vector,
    },
];

pub(super) fn with_slo_functions(name: &str) -> Option<&'static FunctionDef> {
    SLO_FUNCTIONS
        .iter()
        .find(|f| f.name == name)
        .or_else(|| functions::lookup(name))
}

/// Parses `input`, checks that it prints as `want`, and that `want` parses
/// back to the same tree (compared through `Debug`, where NaN equals NaN).
#[track_caller]
fn case(input: &str, want: &str) {
    let e = parse_with(input, with_slo_functions).unwrap_or_else(|err| panic!("{input:?}: {err}"));
    let printed = e.to_string();
    assert_eq!(printed, want, "printed form of {input:?}");
    let again = parse_with(&printed, with_slo_functions)
        .unwrap_or_else(|err| panic!("reparsing {printed:?}: {err}"));
    assert_eq!(
        format!("{again:?}"),
        format!("{e:?}"),
        "round trip of {input:?}"
    );
}

#[test]
fn number_literals() {
    case("1", "1");
    case("1.5", "1.5");
    case(".5", "0.5");
    case("5.", "5");
    case("1e3", "1000");
    case("1E-3", "0.001");
    case("1.5e+3", "1500");
    case("0x1F", "31");
    case("0X1f", "31");
    case("010", "8"); // Go reads a leading 0 as octal
    case("08", "8");
    case("0", "0");
    case("Inf", "Inf");
    case("inf", "Inf");
    case("NaN", "NaN");
    case("nAn", "NaN");
    case("1e21", "1e+21");
    case("0.00001", "1e-05");
    case("123456789012345678901234567890", "1.2345678901234568e+29");
    case("9223372036854775807", "9223372036854776000");
    case("0.1 + 0.2", "0.1 + 0.2");
}

#[test]
fn signs_are_unary_expressions() {
    case("-1", "-1");
    case("+1", "+1");
    case("- 1", "-1");
    case("--1", "--1");
    case("-Inf", "-Inf");
    case("+inf", "+Inf");
    case("-foo", "-foo");
    case("+foo", "+foo");
    case("-(foo)", "-(foo)");
    case("-foo offset 5m", "-foo offset 5m");
    case("-2^2", "-2 ^ 2");
    case("2^-2", "2 ^ -2");
    case("-a * b", "-a * b");
    case("a * -b", "a * -b");
    case("1 + -2 * 3", "1 + -2 * 3");
    case("a - -b", "a - -b");
    case("abs(-foo)", "abs(-foo)");
}

#[test]
fn string_literals() {
    case(r#""abc""#, r#""abc""#);
    case("'abc'", r#""abc""#);
    case("`abc`", r#""abc""#);
    case(r#"'a"b'"#, r#""a\"b""#);
    case(r#""a'b""#, r#""a'b""#);
    case(r"'\''", r#""'""#);
    case(r#""\n\t\\""#, r#""\n\t\\""#);
    case(r"`a\b`", r#""a\\b""#);
    case("`line1\nline2`", r#""line1\nline2""#);
    case(r#""\x41\u00e9\101\U0001F980""#, "\"Aé\u{41}🦀\"");
    case(r#""\a\b\f\v\r""#, r#""\a\b\f\v\r""#);
    case("\"\u{200b}\"", r#""\u200b""#);
}

#[test]
fn vector_selectors() {
    case("foo", "foo");
    case("foo{}", "foo");
    case(r#"foo{a="b"}"#, r#"foo{a="b"}"#);
    case(r#"foo{ a = "b" , }"#, r#"foo{a="b"}"#);
    case(
        r#"foo{a="b", c!="d", e=~"f.*", g!~"h"}"#,
        r#"foo{a="b",c!="d",e=~"f.*",g!~"h"}"#,
    );
    case(r#"{a="b"}"#, r#"{a="b"}"#);
    case(r#"{__name__="foo"}"#, r#"{__name__="foo"}"#);
    case(
        r#"{__name__=~"foo.*", job="x"}"#,
        r#"{__name__=~"foo.*",job="x"}"#,
    );
    case("foo:bar:baz", "foo:bar:baz");
    case(":foo", ":foo");
    case("_x1", "_x1");
    case(
        r#"foo{by="x", on="y", offset="z", and="w", bool="v", sum="u"}"#,
        r#"foo{by="x",on="y",offset="z",and="w",bool="v",sum="u"}"#,
    );
    case(r#"foo{a='b\'c'}"#, r#"foo{a="b'c"}"#);
    case(r#"foo{a=""}"#, r#"foo{a=""}"#);
    case(r#"{a=~".+"}"#, r#"{a=~".+"}"#);
    case(r#"{a="b", a="c"}"#, r#"{a="b",a="c"}"#);
    case(r#"{a="", b="x"}"#, r#"{a="",b="x"}"#);
    case(r#"foo{a=~"(x|y)"}"#, r#"foo{a=~"(x|y)"}"#);
    case(r#"foo{a!~`\d+`}"#, r#"foo{a!~"\\d+"}"#);
    case("foo{a=\"b\" # c\n}", r#"foo{a="b"}"#);
    case("foo {a=\"b\"}", r#"foo{a="b"}"#);
}

#[test]
fn keywords_as_metric_names() {
    case("sum", "sum");
    case(r#"sum{a="b"}"#, r#"sum{a="b"}"#);
    case("SUM", "SUM");
    case("count + 1", "count + 1");
    case("and", "and");
    case("a and and", "a and and");
    case("or", "or");
    case("unless", "unless");
    case("by", "by");
    case("without", "without");
    case("offset", "offset");
    case("offset offset 5m", "offset offset 5m");
    case("start", "start");
    case("end", "end");
    case("topk", "topk");
    case("sum(by)", "sum(by)");
    case("rate(sum[5m])", "rate(sum[5m])");
}

#[test]
fn range_selectors() {
    case("foo[5m]", "foo[5m]");
    case("foo[ 5m ]", "foo[5m]");
    case("foo[90m]", "foo[1h30m]");
    case("foo[1h30m]", "foo[1h30m]");
    case("foo[300s]", "foo[5m]");
    case("foo[1y]", "foo[1y]");
    case("foo[365d]", "foo[1y]");
    case("foo[14d]", "foo[2w]");
    case("foo[90d]", "foo[90d]");
    case("foo[100ms]", "foo[100ms]");
    case("foo[1d12h]", "foo[1d12h]");
    case("foo[1m1s1ms]", "foo[1m1s1ms]");
    case(r#"foo{a="b"}[5m]"#, r#"foo{a="b"}[5m]"#);
    case("foo[5m] offset 1m", "foo[5m] offset 1m");
    case("foo[5m] offset -1m", "foo[5m] offset -1m");
    case("foo[5m] @ 100", "foo[5m] @ 100.000");
    case("foo[5m] @ 100 offset 1m", "foo[5m] @ 100.000 offset 1m");
    case("foo[5m] offset 1m @ 100", "foo[5m] @ 100.000 offset 1m");
    case("foo[5m] @ end()", "foo[5m] @ end()");
    // Prometheus 2.42 refuses only a timestamp before the range.
    case("foo @ start() [5m]", "foo[5m] @ start()");
}

#[test]
fn offset_and_at_on_selectors() {
    case("foo offset 5m", "foo offset 5m");
    case("foo OFFSET 5m", "foo offset 5m");
    case("foo offset -5m", "foo offset -5m");
    case("foo offset - 5m", "foo offset -5m");
    case("foo offset 1h30m", "foo offset 1h30m");
    case("foo offset 7d", "foo offset 1w");
    case("foo @ 1700000000", "foo @ 1700000000.000");
    case("foo @ 1700000000.123", "foo @ 1700000000.123");
    case("foo @ -1", "foo @ -1.000");
    case("foo @ +5", "foo @ 5.000");
    case("foo @ 0x10", "foo @ 16.000");
    case("foo @ 1e3", "foo @ 1000.000");
    case("foo @ .5", "foo @ 0.500");
    case("foo @ start()", "foo @ start()");
    case("foo @ end()", "foo @ end()");
    case("foo @ START ( )", "foo @ start()");
    case("foo @ 1 offset 5m", "foo @ 1.000 offset 5m");
    case("foo offset 5m @ 1", "foo @ 1.000 offset 5m");
    case(
        r#"foo{a="b"} @ end() offset -1h"#,
        r#"foo{a="b"} @ end() offset -1h"#,
    );
}

#[test]
fn subqueries() {
    case("foo[1h:5m]", "foo[1h:5m]");
    case("foo[1h:]", "foo[1h:]");
    case("foo[ 1h : 5m ]", "foo[1h:5m]");
    case("foo[60m:300s]", "foo[1h:5m]");
    case("rate(foo[5m])[1h:5m]", "rate(foo[5m])[1h:5m]");
    case("sum(foo)[1h:]", "sum(foo)[1h:]");
    case("sum by (a) (x)[1h:]", "sum by (a) (x)[1h:]");
    case("sum(x) by (a)[1h:]", "sum by (a) (x)[1h:]");
    case("(foo + bar)[1h:5m]", "(foo + bar)[1h:5m]");
    case("foo[1h:5m] offset 1m", "foo[1h:5m] offset 1m");
    case("foo[1h:5m] @ end()", "foo[1h:5m] @ end()");
    case("foo[1h:5m] offset -1m @ 1", "foo[1h:5m] @ 1.000 offset -1m");
    case("foo offset 1m [1h:]", "foo offset 1m[1h:]");
    case("foo @ 10 [1h:]", "foo @ 10.000[1h:]");
    case(
        "min_over_time(rate(foo[5m])[30m:1m])",
        "min_over_time(rate(foo[5m])[30m:1m])",
    );
    case(
        "max_over_time(deriv(rate(foo[5m])[10m:1m])[1h:])",
        "max_over_time(deriv(rate(foo[5m])[10m:1m])[1h:])",
    );
}

#[test]
fn binary_operators() {
    for op in [
        "+", "-", "*", "/", "%", "^", "atan2", "==", "!=", ">", "<", ">=", "<=", "and", "or",
        "unless",
    ] {
        case(&format!("a {op} b"), &format!("a {op} b"));
    }
    case("a+b", "a + b");
    case("a AND b", "a and b");
    case("a Or b", "a or b");
    case("a ATAN2 b", "a atan2 b");
    case("foo + 1", "foo + 1");
    case("1 - foo", "1 - foo");
    case("1 + 2", "1 + 2");
    case("time() * 2", "time() * 2");
    case("foo\n+\nbar", "foo + bar");
}

#[test]
fn bool_and_vector_matching() {
    case("a == bool b", "a == bool b");
    case("1 > bool 2", "1 > bool 2");
    case("a >= BOOL 1", "a >= bool 1");
    case("a + on(x) b", "a + on (x) b");
    case("a + on() b", "a + on () b");
    case("a + on(x,) b", "a + on (x) b");
    case("a + ignoring(x, y) b", "a + ignoring (x, y) b");
    case("a + ignoring() b", "a + b");
    case("a * on(x) group_left b", "a * on (x) group_left () b");
    case("a * on(x) group_left() b", "a * on (x) group_left () b");
    case(
        "a * on(x) group_left(y, z) b",
        "a * on (x) group_left (y, z) b",
    );
    case(
        "a * ignoring(x) group_right(y) b",
        "a * ignoring (x) group_right (y) b",
    );
    case(
        "a * ignoring() group_left b",
        "a * ignoring () group_left () b",
    );
    case("a == bool on(x) b", "a == bool on (x) b");
    case("a and on(x) b", "a and on (x) b");
    case("a or ignoring(x) b", "a or ignoring (x) b");
    case("a unless on() b", "a unless on () b");
    case(
        "a + on(sum, by, on, bool, start) b",
        "a + on (sum, by, on, bool, start) b",
    );
    case("a + ON(x) GROUP_LEFT(y) b", "a + on (x) group_left (y) b");
    // After group_left, `(` opens the label list, never the operand.
    case(
        "a * on(x) group_left (y) (b)",
        "a * on (x) group_left (y) (b)",
    );
    // Matching only exists between two vectors.
    case("1 + on() group_left foo", "1 + foo");
    case("foo + ignoring() 1", "foo + 1");
}

#[test]
fn precedence_prints_without_extra_parentheses() {
    case("a + b * c", "a + b * c");
    case("a * b + c", "a * b + c");
    case("(a + b) * c", "(a + b) * c");
    case("a - (b - c)", "a - (b - c)");
    case("a - b - c", "a - b - c");
    case("a / b / c", "a / b / c");
    case("a ^ b ^ c", "a ^ b ^ c");
    case("(a ^ b) ^ c", "(a ^ b) ^ c");
    case("a or b and c", "a or b and c");
    case("a and b or c", "a and b or c");
    case("a unless b or c", "a unless b or c");
    case("a > b + 1", "a > b + 1");
    case("a == b > c", "a == b > c");
    case("a atan2 b * c", "a atan2 b * c");
    case("a % b ^ c", "a % b ^ c");
    case("((a))", "((a))");
}

#[test]
fn aggregations() {
    case("sum(foo)", "sum(foo)");
    case("sum by (a) (foo)", "sum by (a) (foo)");
    case("sum(foo) by (a)", "sum by (a) (foo)");
    case("sum (foo) by (a)", "sum by (a) (foo)");
    case("sum without (a) (foo)", "sum without (a) (foo)");
    case("sum(foo) without (a, b)", "sum without (a, b) (foo)");
    case("sum by () (foo)", "sum by () (foo)");
    case("sum without () (foo)", "sum without () (foo)");
    case("sum BY (a) (foo)", "sum by (a) (foo)");
    case("SUM(foo)", "sum(foo)");
    case("sum by (a,) (foo)", "sum by (a) (foo)");
    case(
        "sum by (on, sum, offset, le) (foo)",
        "sum by (on, sum, offset, le) (foo)",
    );
    for op in ["avg", "min", "max", "count", "group", "stddev", "stdvar"] {
        case(&format!("{op}(x)"), &format!("{op}(x)"));
    }
    case("topk(5, foo)", "topk(5, foo)");
    case("bottomk by (a) (5, foo)", "bottomk by (a) (5, foo)");
    case("quantile(0.9, foo)", "quantile(0.9, foo)");
    case(r#"count_values("v", foo)"#, r#"count_values("v", foo)"#);
    case(
        "count_values without (a) ('v', foo)",
        r#"count_values without (a) ("v", foo)"#,
    );
    case("topk(scalar(x), foo)", "topk(scalar(x), foo)");
    case("sum(rate(x[5m])) by (a)", "sum by (a) (rate(x[5m]))");
    case(
        "sum by (a) (sum by (a, b) (x))",
        "sum by (a) (sum by (a, b) (x))",
    );
    case("sum(\n  rate(x[5m])\n)", "sum(rate(x[5m]))");
    case("sum(-x)", "sum(-x)");
}

#[test]
fn function_calls() {
    case("rate(foo[5m])", "rate(foo[5m])");
    case("rate ( foo [5m] )", "rate(foo[5m])");
    case("time()", "time()");
    case("pi()", "pi()");
    case("abs(foo)", "abs(foo)");
    case("round(foo)", "round(foo)");
    case("round(foo, 0.5)", "round(foo, 0.5)");
    case("hour()", "hour()");
    case("day_of_week(foo)", "day_of_week(foo)");
    case(
        r#"label_join(foo, "dst", ",", "a", "b", "c")"#,
        r#"label_join(foo, "dst", ",", "a", "b", "c")"#,
    );
    case(
        "label_join(foo, 'dst', ',')",
        r#"label_join(foo, "dst", ",")"#,
    );
    case(
        "label_replace(foo, 'a', '$1', 'b', '(.*)')",
        r#"label_replace(foo, "a", "$1", "b", "(.*)")"#,
    );
    case(
        "histogram_quantile(0.9, sum by (le) (rate(x_bucket[5m])))",
        "histogram_quantile(0.9, sum by (le) (rate(x_bucket[5m])))",
    );
    case("clamp(foo, 0, 1)", "clamp(foo, 0, 1)");
    case("vector(1)", "vector(1)");
    case("scalar(foo)", "scalar(foo)");
    case(
        r#"absent(nonexistent{job="x"})"#,
        r#"absent(nonexistent{job="x"})"#,
    );
    case(
        "quantile_over_time(0.9, foo[5m])",
        "quantile_over_time(0.9, foo[5m])",
    );
    case(
        "predict_linear(foo[1h], 3600)",
        "predict_linear(foo[1h], 3600)",
    );
    case(
        "holt_winters(foo[1h], 0.5, 0.5)",
        "holt_winters(foo[1h], 0.5, 0.5)",
    );
    case("rate(foo[5m] offset 1h)", "rate(foo[5m] offset 1h)");
    case("increase(foo[1h] @ end())", "increase(foo[1h] @ end())");
    case("sort_desc(sum by (a) (x))", "sort_desc(sum by (a) (x))");
    case("abs(vector(time()))", "abs(vector(time()))");
}

#[test]
fn slo_functions_take_bare_durations() {
    case("burn_rate(errors, 1h)", "burn_rate(errors, 1h)");
    case("burn_rate(errors, 90m)", "burn_rate(errors, 1h30m)");
    case("slo_window(28d)", "slo_window(4w)");
    case("slo_window(30d)", "slo_window(30d)");
    case("sli(x[5m], 1h, 0.999)", "sli(x[5m], 1h, 0.999)");
    case(
        "burn_rate(errors, 1h) > bool 14.4",
        "burn_rate(errors, 1h) > bool 14.4",
    );
    case("slo_window(time())", "slo_window(time())");
}

#[test]
fn comments_and_whitespace() {
    case("# comment\nfoo # another\n", "foo");
    case("\t foo \r\n", "foo");
    case("sum by (a) # c\n (x)", "sum by (a) (x)");
    case("foo[5m] # c", "foo[5m]");
    case("rate(\n\tfoo[5m] # window\n)", "rate(foo[5m])");
    case("foo#c", "foo");
}

#[test]
fn dashboard_queries() {
    case(
        r#"sum by (service, code) (rate(http_requests_total{job="api", code=~"5.."}[5m])) / ignoring(code) group_left sum by (service) (rate(http_requests_total{job="api"}[5m]))"#,
        r#"sum by (service, code) (rate(http_requests_total{job="api",code=~"5.."}[5m])) / ignoring (code) group_left () sum by (service) (rate(http_requests_total{job="api"}[5m]))"#,
    );
    case(
        r#"histogram_quantile(0.99, sum by (le, service) (rate(http_request_duration_seconds_bucket{job="api"}[5m]))) > 0.5"#,
        r#"histogram_quantile(0.99, sum by (le, service) (rate(http_request_duration_seconds_bucket{job="api"}[5m]))) > 0.5"#,
    );
    case(
        r#"100 * (1 - avg_over_time(up{job="x"}[1d]))"#,
        r#"100 * (1 - avg_over_time(up{job="x"}[1d]))"#,
    );
    case(
        "(sum(rate(errors[1h])) / sum(rate(requests[1h]))) > bool (14.4 * 0.001)",
        "(sum(rate(errors[1h])) / sum(rate(requests[1h]))) > bool (14.4 * 0.001)",
    );
    case(
        r#"sum(rate(x{code=~"5.."}[5m] offset 1w)) / sum(rate(x[5m] offset 1w)) unless on() vector(time() > bool 0) == 0"#,
        r#"sum(rate(x{code=~"5.."}[5m] offset 1w)) / sum(rate(x[5m] offset 1w)) unless on () vector(time() > bool 0) == 0"#,
    );
}

/// Fully parenthesised form: shows the tree's shape.
fn tree(e: &Expr) -> String {
    match e {
        Expr::Binary(b) => format!("({} {} {})", tree(&b.lhs), b.op, tree(&b.rhs)),
        Expr::Unary(u) => format!("({}{})", u.op, tree(&u.expr)),
        Expr::Paren(p) => tree(p),
        other => other.to_string(),
    }
}

#[test]
fn precedence_and_associativity_shape_the_tree() {
    for (q, want) in [
        ("-2^2", "(-(2 ^ 2))"),
        ("2^3^2", "(2 ^ (3 ^ 2))"),
        ("2^-3^2", "(2 ^ (-(3 ^ 2)))"),
        ("a^-b*c", "((a ^ (-b)) * c)"),
        ("a - b - c", "((a - b) - c)"),
        ("-a * b", "((-a) * b)"),
        ("-a + b", "((-a) + b)"),
        ("a + -b * c", "(a + ((-b) * c))"),
        ("a * -b ^ c", "(a * (-(b ^ c)))"),
        ("a + b * c ^ d", "(a + (b * (c ^ d)))"),
        ("a or b and c unless d", "(a or ((b and c) unless d))"),
        ("a == b + c * d", "(a == (b + (c * d)))"),
        ("a > b < c", "((a > b) < c)"),
        ("a atan2 b / c", "((a atan2 b) / c)"),
        ("a + b offset 5m", "(a + b offset 5m)"),
        ("-a offset 5m @ 1", "(-a @ 1.000 offset 5m)"),
    ] {
        let e = parse_with(q, with_slo_functions).unwrap();
        assert_eq!(tree(&e), want, "{q}");
    }
}

#[test]
fn the_tree_carries_what_the_evaluator_needs() {
    use crate::syntax::ast::{At, Cardinality, Offset};
    let e = parse_with(r#"foo{a="b"} offset -5m @ 1.5"#, with_slo_functions).unwrap();
    let Expr::Vector(vs) = e else { panic!("{e:?}") };
    assert_eq!(vs.name.as_deref(), Some("foo"));
    assert_eq!(vs.matchers.len(), 2);
    assert_eq!(
        (vs.matchers[0].name.as_str(), vs.matchers[0].value.as_str()),
        ("__name__", "foo")
    );
    assert_eq!(vs.offset, Some(Offset(-300_000)));
    assert_eq!(vs.at, Some(At::Timestamp(1_500)));

    let binary = |q: &str| match parse_with(q, with_slo_functions).unwrap() {
        Expr::Binary(b) => b,
        other => panic!("{other:?}"),
    };
    assert_eq!(binary("a + b").matching, Some(Default::default()));
    assert_eq!(binary("a + 1").matching, None);
    assert_eq!(binary("1 + 1").matching, None);
    assert_eq!(
        binary("a and b").matching.unwrap().card,
        Cardinality::ManyToMany
    );
    let m = binary("a / on(x) group_right(y) b").matching.unwrap();
    assert_eq!(
        (m.card, m.on, m.labels, m.include),
        (
            Cardinality::OneToMany,
            true,
            vec!["x".to_string()],
            vec!["y".to_string()]
        )
    );
    assert!(binary("a > bool b").return_bool);

    let Expr::Subquery(sq) = parse_with("x[1h:]", with_slo_functions).unwrap() else {
        panic!()
    };
    assert_eq!((sq.range, sq.step), (3_600_000, None));
    let Expr::Call(c) = parse_with("burn_rate(x, 1h)", with_slo_functions).unwrap() else {
        panic!()
    };
    assert_eq!(c.args[1], Expr::Duration(3_600_000));
    let Expr::Aggregate(a) = parse_with("topk(3, x)", with_slo_functions).unwrap() else {
        panic!()
    };
    assert_eq!(a.param.as_deref(), Some(&Expr::Number(3.0)));
    assert_eq!(a.grouping, None);
}
