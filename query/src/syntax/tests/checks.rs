//! Refused queries, by the type rules and limits, and how errors are
//! reported: which comes first, where, and the caret.

use super::error;
use crate::syntax::{parse, ParseError, MAX_DEPTH};

#[test]
fn binary_type_rules() {
    error(
        "1 == 1",
        1,
        3,
        "comparisons between scalars must use BOOL modifier",
    );
    error(
        "1 and 1",
        1,
        1,
        r#"set operator "and" not allowed in binary scalar expression"#,
    );
    error(
        "1 or 1",
        1,
        1,
        r#"set operator "or" not allowed in binary scalar expression"#,
    );
    error(
        "1 unless 1",
        1,
        1,
        r#"set operator "unless" not allowed in binary scalar expression"#,
    );
    error(
        "foo and 1",
        1,
        1,
        r#"set operator "and" not allowed in binary scalar expression"#,
    );
    error(
        "1 or foo",
        1,
        1,
        r#"set operator "or" not allowed in binary scalar expression"#,
    );
    error(
        "1 or on(bar) foo",
        1,
        1,
        "vector matching only allowed between instant vectors",
    );
    error(
        "foo == on(bar) 10",
        1,
        1,
        "vector matching only allowed between instant vectors",
    );
    error(
        "foo and on(bar) group_left(baz) bar",
        1,
        1,
        r#"no grouping allowed for "and" operation"#,
    );
    error(
        "foo or on(bar) group_right(baz) bar",
        1,
        1,
        r#"no grouping allowed for "or" operation"#,
    );
    error(
        "foo unless ignoring(bar) group_left bar",
        1,
        1,
        r#"no grouping allowed for "unless" operation"#,
    );
    error(
        r#"http_requests{group="production"} + on(instance) group_left(job,instance) cpu_count{type="smp"}"#,
        1,
        35,
        r#"label "instance" must not occur in ON and GROUP clause at once"#,
    );
    error(
        "foo + bool bar",
        1,
        5,
        "bool modifier can only be used on comparison operators",
    );
    error(
        "foo + bool 10",
        1,
        5,
        "bool modifier can only be used on comparison operators",
    );
    error(
        "foo and bool 10",
        1,
        5,
        "bool modifier can only be used on comparison operators",
    );
    error(
        r#""a" + 1"#,
        1,
        1,
        "binary expression must contain only scalar and instant vector types",
    );
    error(
        "1 + foo[5m]",
        1,
        5,
        "binary expression must contain only scalar and instant vector types",
    );
    error(
        r#"-"string""#,
        1,
        1,
        r#"unary expression only allowed on expressions of type scalar or instant vector, got "string""#,
    );
    error(
        "-test[5m]",
        1,
        1,
        r#"unary expression only allowed on expressions of type scalar or instant vector, got "range vector""#,
    );
}

#[test]
fn aggregation_errors() {
    error(
        "sum without(==)(some_metric)",
        1,
        13,
        "unexpected <op:==> in grouping opts, expected label",
    );
    error(
        "sum without(,)(some_metric)",
        1,
        13,
        r#"unexpected "," in grouping opts, expected label"#,
    );
    error(
        "sum without(foo,,)(some_metric)",
        1,
        17,
        r#"unexpected "," in grouping opts, expected label"#,
    );
    // `sum` not followed by `(`, `by` or `without` names a metric.
    error(
        "sum some_metric by (test)",
        1,
        5,
        r#"unexpected identifier "some_metric""#,
    );
    error(
        "sum (some_metric) by test",
        1,
        22,
        r#"unexpected identifier "test" in grouping opts, expected "(""#,
    );
    error(
        "sum () by (test)",
        1,
        1,
        "no arguments for aggregate expression provided",
    );
    error(
        "MIN keep_common (some_metric)",
        1,
        5,
        r#"unexpected identifier "keep_common""#,
    );
    error(
        "MIN (some_metric) keep_common",
        1,
        19,
        r#"unexpected identifier "keep_common""#,
    );
    error(
        "sum (some_metric) without (test) by (test)",
        1,
        34,
        "unexpected <by>",
    );
    error(
        "sum without (test) (some_metric) by (test)",
        1,
        34,
        "unexpected <by>",
    );
    error(
        "topk(some_metric)",
        1,
        1,
        "wrong number of arguments for aggregate expression provided, expected 2, got 1",
    );
    error(
        "sum(x, y)",
        1,
        1,
        "wrong number of arguments for aggregate expression provided, expected 1, got 2",
    );
    error(
        "topk(some_metric,)",
        1,
        17,
        "trailing commas not allowed in function call args",
    );
    error(
        "topk(some_metric, other_metric)",
        1,
        6,
        "expected type scalar in aggregation parameter, got instant vector",
    );
    error(
        "count_values(5, other_metric)",
        1,
        14,
        "expected type string in aggregation parameter, got scalar",
    );
    error(
        "sum(1)",
        1,
        5,
        "expected type instant vector in aggregation expression, got scalar",
    );
    error(
        "sum by (a b) (x)",
        1,
        11,
        r#"unexpected identifier "b" in grouping opts, expected "," or ")""#,
    );
    // Prometheus names the token after a label with a colon.
    error(
        "sum by (a:b) (x)",
        1,
        12,
        r#"unexpected ")" in grouping opts, expected label"#,
    );
    error(
        "sum by (without) (x)",
        1,
        9,
        "unexpected <without> in grouping opts, expected label",
    );
    error(
        "sum by (inf) (x)",
        1,
        9,
        r#"unexpected number "inf" in grouping opts, expected label"#,
    );
    error(
        "sum(a b)",
        1,
        7,
        r#"unexpected identifier "b" in aggregation"#,
    );
    error(
        "sum(rate(a b))",
        1,
        12,
        r#"unexpected identifier "b" in aggregation"#,
    );
    error("sum(x", 1, 6, "unclosed left parenthesis");
    error(
        "sum by (a) x",
        1,
        12,
        r#"unexpected identifier "x" in aggregation, expected "(""#,
    );
}

#[test]
fn function_errors() {
    error(
        "floor()",
        1,
        1,
        r#"expected 1 argument(s) in call to "floor", got 0"#,
    );
    error(
        "floor(some_metric, other_metric)",
        1,
        1,
        r#"expected 1 argument(s) in call to "floor", got 2"#,
    );
    error(
        "floor(1)",
        1,
        7,
        r#"expected type instant vector in call to function "floor", got scalar"#,
    );
    error(
        "hour(some_metric, some_metric, some_metric)",
        1,
        1,
        r#"expected at most 1 argument(s) in call to "hour", got 3"#,
    );
    error(
        "time(some_metric)",
        1,
        1,
        r#"expected 0 argument(s) in call to "time", got 1"#,
    );
    error(
        r#"label_join(x, "a")"#,
        1,
        1,
        r#"expected at least 3 argument(s) in call to "label_join", got 2"#,
    );
    error(
        r#"label_join(x, "a", "b", 1)"#,
        1,
        25,
        r#"expected type string in call to function "label_join", got scalar"#,
    );
    error(
        "non_existent_function_far_bar()",
        1,
        1,
        r#"unknown function with name "non_existent_function_far_bar""#,
    );
    error(
        "rate(some_metric)",
        1,
        6,
        r#"expected type range vector in call to function "rate", got instant vector"#,
    );
    error("rate(avg)", 1, 6, "expected type range vector");
    error("a>b()", 1, 3, "unknown function");
    error("Rate(x[5m])", 1, 1, r#"unknown function with name "Rate""#);
    error(
        "rate(x[5m],)",
        1,
        11,
        "trailing commas not allowed in function call args",
    );
    error(
        "rate(x[5m] y)",
        1,
        12,
        r#"unexpected identifier "y", expected operator, "," or ")""#,
    );
    error("rate(5m)", 1, 6, r#"unexpected duration "5m""#);
    error(
        "predict_linear(x[5m], 1h)",
        1,
        23,
        r#"unexpected duration "1h""#,
    );
    error("burn_rate(x, 1h + 1)", 1, 14, r#"unexpected duration "1h""#);
    error("slo_window(0s)", 1, 12, "duration must be greater than 0");
}

#[test]
fn durations_only_reach_slo_functions() {
    // The SLO functions take durations as arguments.
    assert!(parse("burn_rate(x, y, 0.999, 1h)").is_ok());
    assert!(parse(r#"slo_sli("checkout", 28d)"#).is_ok());
    let e = parse("error_ratio(x, 5m)").unwrap_err();
    assert!(e.message.contains("expected 3 argument(s)"), "{e}");
    let e = parse("rate(x, 5m)").unwrap_err();
    assert_eq!(
        e.message,
        r#"unexpected duration "5m", expected expression"#
    );
}

#[test]
fn which_error_comes_first() {
    // A syntax error anywhere beats a type error earlier on.
    error("{} + (", 1, 7, "unclosed left parenthesis");
    // A lexical error in the token after a rule beats that rule's check.
    error("sum() )", 1, 7, "unexpected right parenthesis ')'");
    // Type errors in Prometheus's order: left operand first, a call's arity
    // before its arguments, an aggregation's operand before its parameter.
    error(
        "sum(1) + foo[5m]",
        1,
        5,
        "expected type instant vector in aggregation expression",
    );
    error("floor({}, 1)", 1, 1, "expected 1 argument(s)");
    error("topk(foo, {})", 1, 11, "vector selector must contain");
}

#[test]
fn nesting_is_capped() {
    let nested = |n: usize| format!("{}1{}", "(".repeat(n), ")".repeat(n));
    assert!(parse(&nested(MAX_DEPTH - 1)).is_ok());
    error(
        &nested(MAX_DEPTH),
        1,
        MAX_DEPTH + 1,
        "expression nested too deeply",
    );
    error(
        &nested(100_000),
        1,
        MAX_DEPTH + 1,
        "expression nested too deeply",
    );
    error(
        &format!("{}1", "-".repeat(100_000)),
        1,
        MAX_DEPTH + 1,
        "expression nested too deeply",
    );
    error(
        &format!("1{}", " + 1".repeat(MAX_DEPTH)),
        1,
        1,
        "expression nested too deeply",
    );
    error(
        &format!("x{}", "[1m:]".repeat(MAX_DEPTH)),
        1,
        1,
        "expression nested too deeply",
    );
    error(
        &format!("{}x{}", "abs(".repeat(500), ")".repeat(500)),
        1,
        4 * MAX_DEPTH + 1,
        "nested too deeply",
    );
    assert!(parse(&format!("1{}", " + 1".repeat(MAX_DEPTH - 1))).is_ok());
    // The shapes with the largest frames, as deep as allowed, on a test
    // thread's stack (2 MiB), printed and dropped.
    for (open, close, levels) in [
        ("sum(", ")", 1),
        ("1 + (", ")", 2),
        ("max_over_time(", "[1m:])", 2),
    ] {
        let n = (MAX_DEPTH - 1) / levels;
        let q = format!("{}x{}", open.repeat(n), close.repeat(n));
        let e = parse(&q).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(e.to_string(), q);
    }
}

#[test]
fn errors_locate_lines_and_draw_a_caret() {
    let e = parse("sum(\n  rate(x[5m])\n  +\n)").unwrap_err();
    assert_eq!(
        e,
        ParseError {
            line: 4,
            column: 1,
            message: r#"unexpected ")" in aggregation, expected expression"#.into(),
            snippet: ")\n^".into(),
        }
    );
    let e = parse("foo +\n\tbar{a=~\"(\"}").unwrap_err();
    assert_eq!((e.line, e.column), (2, 6));
    assert_eq!(e.snippet, "\tbar{a=~\"(\"}\n\t    ^");
    let e = parse("\"é\" + \"\\c\"").unwrap_err();
    assert_eq!((e.line, e.column), (1, 7));
    assert_eq!(
        e.to_string(),
        "parse error at line 1, column 7: unknown escape sequence U+0063 'c'\n\"é\" + \"\\c\"\n      ^"
    );
}
