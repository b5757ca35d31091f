//! Refused queries: line, column and message, in Prometheus's words.

use super::cases::with_slo_functions;
use crate::syntax::parser::parse_with;
use crate::syntax::{parse, ParseError, MAX_DEPTH};

/// Asserts that `input` fails at `line:column` with a message containing
/// `message`.
#[track_caller]
fn error(input: &str, line: usize, column: usize, message: &str) {
    let e = match parse_with(input, with_slo_functions) {
        Ok(expr) => panic!("{input:?} parsed as {expr}"),
        Err(e) => e,
    };
    assert!(
        e.message.contains(message),
        "{input:?}: message {:?} lacks {message:?}",
        e.message
    );
    assert_eq!(
        (e.line, e.column),
        (line, column),
        "{input:?}: {}",
        e.message
    );
}

#[test]
fn empty_queries() {
    error("", 1, 1, "no expression found in input");
    error("# just a comment\n\n", 1, 1, "no expression found in input");
    error("  ", 1, 1, "no expression found in input");
}

#[test]
fn lexical_errors() {
    error("1+", 1, 3, "unexpected end of input");
    error(".", 1, 1, "unexpected character: '.'");
    error("2.5.", 1, 4, "unexpected character: '.'");
    error("100..4", 1, 5, r#"unexpected number ".4""#);
    error("0deadbeef", 1, 1, r#"bad number or duration syntax: "0de""#);
    error("1 /", 1, 4, "unexpected end of input");
    error("(1))", 1, 4, "unexpected right parenthesis ')'");
    error("((1)", 1, 5, "unclosed left parenthesis");
    error("(", 1, 2, "unclosed left parenthesis");
    error("rate(x[5m]", 1, 11, "unclosed left parenthesis");
    error("1 !~ 1", 1, 3, "unexpected character after '!': '~'");
    error("1 =~ 1", 1, 3, "unexpected character after '=': '~'");
    error("1 ; 2", 1, 3, "unexpected character: ';'");
    error("{", 1, 2, "unexpected end of input inside braces");
    error("}", 1, 1, "unexpected character: '}'");
    error("some{", 1, 6, "unexpected end of input inside braces");
    error("some}", 1, 5, "unexpected character: '}'");
    error(
        r#"some_metric{a:b="b"}"#,
        1,
        14,
        "unexpected character inside braces: ':'",
    );
    error(
        r#"foo{a*"b"}"#,
        1,
        6,
        "unexpected character inside braces: '*'",
    );
    error(
        r#"foo{a>="b"}"#,
        1,
        6,
        "unexpected character inside braces: '>'",
    );
    error("foo{1}", 1, 5, "unexpected character inside braces: '1'");
    error(
        r#"foo{a!"b"}"#,
        1,
        6,
        "unexpected character after '!' inside braces",
    );
    error("foo{a{", 1, 6, "unexpected left brace '{'");
    error("foo]", 1, 4, "unexpected right bracket ']'");
    error("é", 1, 1, "unexpected character: 'é'");
}

#[test]
fn string_errors_point_at_the_opening_quote() {
    error("`\\``", 1, 4, "unterminated raw string");
    error(r#""\"#, 1, 1, "escape sequence not terminated");
    error(r#""\c""#, 1, 1, "unknown escape sequence U+0063 'c'");
    error(
        r#""\x.""#,
        1,
        1,
        "illegal character U+002E '.' in escape sequence",
    );
    error("foo{a=\"b\nc\"}", 1, 7, "unterminated quoted string");
    error(
        r#"x{a="\400"}"#,
        1,
        5,
        "escape sequence is an invalid Unicode code point",
    );
}

#[test]
fn number_errors() {
    error(&"9".repeat(400), 1, 1, "out of range");
    error(
        "1e400",
        1,
        1,
        "error parsing number: strconv.ParseFloat: parsing \"1e400\": value out of range",
    );
    error("1e", 1, 1, "parsing \"1e\": invalid syntax");
    error("0x", 1, 1, "invalid syntax");
    error("x + 1e+", 1, 5, "invalid syntax");
}

#[test]
fn duration_errors() {
    error("foo[5mm]", 1, 5, r#"bad duration syntax: "5mm""#);
    error("foo[5m1]", 1, 5, r#"bad duration syntax: "5m1""#);
    error(
        "foo[5m:1m1]",
        1,
        8,
        r#"bad number or duration syntax: "1m1""#,
    );
    error(
        "foo[5y1hs]",
        1,
        5,
        r#"not a valid duration string: "5y1hs""#,
    );
    error("foo[5m1h]", 1, 5, r#"not a valid duration string: "5m1h""#);
    error("foo[5m1m]", 1, 5, r#"not a valid duration string: "5m1m""#);
    error("foo[1y1y]", 1, 5, r#"bad duration syntax: "1y1""#);
    error("foo[0m]", 1, 5, "duration must be greater than 0");
    error("foo[5m:0s]", 1, 8, "duration must be greater than 0");
    error("foo[293y]", 1, 5, "duration out of range");
    error("foo[]", 1, 5, "missing unit character in duration");
    error("foo[1]", 1, 5, "missing unit character in duration");
    error("foo[-5m]", 1, 5, "missing unit character in duration");
    error("foo[5m", 1, 7, "unclosed left bracket");
    error("foo[5m x]", 1, 8, "unexpected character: 'x', expected ':'");
    error("foo[5m:1m:]", 1, 10, "unexpected colon ':'");
    error("foo offset 0s", 1, 12, "duration must be greater than 0");
}

#[test]
fn label_matcher_errors() {
    error(
        r#"some_metric{a=b}"#,
        1,
        15,
        r#"unexpected identifier "b" in label matching, expected string"#,
    );
    error(
        "foo{gibberish}",
        1,
        14,
        r#"unexpected "}" in label matching, expected label matching operator"#,
    );
    error(
        "foo{__name__= =}",
        1,
        15,
        r#"unexpected "=" in label matching, expected string"#,
    );
    error(
        "foo{,}",
        1,
        5,
        r#"unexpected "," in label matching, expected identifier or "}""#,
    );
    error(
        r#"foo{a="b",,}"#,
        1,
        11,
        r#"unexpected "," in label matching, expected identifier or "}""#,
    );
    error(
        r#"foo{__name__ == "bar"}"#,
        1,
        15,
        r#"unexpected "=" in label matching, expected string"#,
    );
    error(
        r#"foo{__name__="bar" lol}"#,
        1,
        20,
        r#"unexpected identifier "lol" in label matching, expected "," or "}""#,
    );
    error(
        r#"foo{"a"="b"}"#,
        1,
        5,
        r#"unexpected string "\"a\"" in label matching"#,
    );
    error(r#"foo{a=~"("}"#, 1, 5, "invalid regular expression");
}

#[test]
fn selector_rules() {
    error(
        "{}",
        1,
        1,
        "vector selector must contain at least one non-empty matcher",
    );
    error(
        r#"{x=""}"#,
        1,
        1,
        "vector selector must contain at least one non-empty matcher",
    );
    error(
        r#"{x=~".*"}"#,
        1,
        1,
        "vector selector must contain at least one non-empty matcher",
    );
    error(
        r#"{x!~".+"}"#,
        1,
        1,
        "vector selector must contain at least one non-empty matcher",
    );
    error(
        r#"{x!="a"}"#,
        1,
        1,
        "vector selector must contain at least one non-empty matcher",
    );
    error(
        r#"x + {x!="a"}"#,
        1,
        5,
        "vector selector must contain at least one non-empty matcher",
    );
    error(
        r#"foo{__name__="bar"}"#,
        1,
        1,
        r#"metric name must not be set twice: "foo" or "bar""#,
    );
    error(
        r#"foo{__name__=~"b.*"}"#,
        1,
        1,
        r#"metric name must not be set twice: "foo" or "b.*""#,
    );
}

#[test]
fn range_and_subquery_errors() {
    error(
        "some_metric OFFSET 1m[5m]",
        1,
        22,
        "no offset modifiers allowed before range",
    );
    error(
        "some_metric @ 1234 [5m]",
        1,
        20,
        "no @ modifiers allowed before range",
    );
    error(
        "(foo + bar)[5m]",
        1,
        12,
        "ranges only allowed for vector selectors",
    );
    error(
        "rate(food[1m])[1h] offset 1h",
        1,
        15,
        "ranges only allowed for vector selectors",
    );
    error(
        "foo[5m][5m]",
        1,
        8,
        "ranges only allowed for vector selectors",
    );
    error("1[5m]", 1, 2, "ranges only allowed for vector selectors");
    error(
        "foo[5m 1]",
        1,
        8,
        r#"unexpected number "1" in subquery or range, expected ":" or "]""#,
    );
    error(
        "foo[5m:1m 1]",
        1,
        11,
        r#"unexpected number "1" in subquery selector, expected "]""#,
    );
    error(
        "foo[5m:-1m]",
        1,
        8,
        r#"unexpected <op:-> in subquery selector, expected duration or "]""#,
    );
    error(
        "test[5d] OFFSET 10s [10m:5s]",
        1,
        1,
        "subquery is only allowed on instant vector, got matrix instead",
    );
    error(
        r#"(foo + bar{nm="val"})[5m:][10m:5s]"#,
        1,
        1,
        "subquery is only allowed on instant vector, got matrix",
    );
    error(
        "1[5m:]",
        1,
        1,
        "subquery is only allowed on instant vector, got scalar instead",
    );
    error(r#""a"[5m:]"#, 1, 1, "got string instead");
}

#[test]
fn offset_and_at_errors() {
    error(
        "some_metric[5m] OFFSET 1",
        1,
        24,
        r#"unexpected number "1" in offset, expected duration"#,
    );
    error(
        "some_metric[5m] OFFSET 1mm",
        1,
        24,
        r#"bad number or duration syntax: "1mm""#,
    );
    error(
        "some_metric[5m] OFFSET",
        1,
        23,
        "unexpected end of input in offset, expected duration",
    );
    error(
        "foo offset +5m",
        1,
        12,
        "unexpected <op:+> in offset, expected duration",
    );
    error(
        "foo offset - x",
        1,
        14,
        r#"unexpected identifier "x" in offset, expected duration"#,
    );
    error("1 offset 1d", 1, 1, "offset modifier must be preceded by an instant vector selector or range vector selector or a subquery");
    error(
        "(foo) offset 5m",
        1,
        1,
        "offset modifier must be preceded by",
    );
    error(
        "foo offset 1s offset 2s",
        1,
        1,
        "offset may not be set multiple times",
    );
    error(
        "foo[5m] offset 1s offset 2s",
        1,
        1,
        "offset may not be set multiple times",
    );
    error(
        "foo[5m:] offset 1s offset 2s",
        1,
        1,
        "offset may not be set multiple times",
    );
    error(
        "some_metric[5m] @ 1m",
        1,
        19,
        r#"unexpected duration "1m" in @, expected timestamp"#,
    );
    error(
        "some_metric[5m] @",
        1,
        18,
        "unexpected end of input in @, expected timestamp",
    );
    error(
        "foo @ start",
        1,
        12,
        "unexpected end of input in @, expected timestamp",
    );
    error(
        "foo @ start(1)",
        1,
        13,
        r#"unexpected number "1" in @, expected timestamp"#,
    );
    error(
        "foo @ - x",
        1,
        9,
        r#"unexpected identifier "x" in @, expected timestamp"#,
    );
    error("rate(some_metric[5m]) @ 1234", 1, 1, "@ modifier must be preceded by an instant vector selector or range vector selector or a subquery");
    error(
        "foo @ 1 @ 2",
        1,
        1,
        "@ <timestamp> may not be set multiple times",
    );
    error(
        "foo @ start() [5m] @ end()",
        1,
        1,
        "@ <timestamp> may not be set multiple times",
    );
    error(
        "foo @ +Inf",
        1,
        1,
        "timestamp out of bounds for @ modifier: +Inf",
    );
    error(
        "foo @ -Inf",
        1,
        1,
        "timestamp out of bounds for @ modifier: -Inf",
    );
    error(
        "foo @ NaN",
        1,
        1,
        "timestamp out of bounds for @ modifier: NaN",
    );
    error(
        "foo @ 9223372036854775807",
        1,
        1,
        "timestamp out of bounds for @ modifier: 9223372036854775808.000000",
    );
    error(
        "foo @ -9223372036854775809",
        1,
        1,
        "timestamp out of bounds for @ modifier: -9223372036854775808.000000",
    );
    error("foo @ 1e17", 1, 1, "timestamp out of bounds for @ modifier");
}

#[test]
fn operator_errors() {
    error("*1", 1, 1, "unexpected <op:*>");
    error("*test", 1, 1, "unexpected <op:*>");
    error("-=", 1, 2, r#"unexpected "=""#);
    error("++-++-+-+-<", 1, 11, "unexpected <op:<>");
    error("e-+=/(0)", 1, 4, r#"unexpected "=""#);
    error("a - on(b) ignoring(c) d", 1, 11, "unexpected <ignoring>");
    error("foo + group_left(baz) bar", 1, 7, "unexpected <group_left>");
    error(
        "foo + on",
        1,
        9,
        r#"unexpected end of input in grouping opts, expected "(""#,
    );
    error("foo == on(bar) bool baz", 1, 16, "unexpected <bool>");
    error("bool", 1, 1, "unexpected <bool>");
    error("on", 1, 1, "unexpected <on>");
    error("atan2", 1, 1, "unexpected <op:atan2>");
    error("foo bar", 1, 5, r#"unexpected identifier "bar""#);
    error("1 2", 1, 3, r#"unexpected number "2""#);
    error(r#"foo{a="b"} {c="d"}"#, 1, 12, r#"unexpected "{""#);
    error("()", 1, 2, r#"unexpected ")""#);
    error("foo:bar(x)", 1, 8, r#"unexpected "(""#);
    error("start()", 1, 6, r#"unexpected "(""#);
    error("end()", 1, 4, r#"unexpected "(""#);
    error("foo @", 1, 6, "unexpected end of input in @");
}

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
        r#"unexpected identifier "x" in aggregation"#,
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
    error("rate(x[5m] y)", 1, 12, r#"unexpected identifier "y""#);
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
    // With the real table the duration is read, then the name is unknown.
    let e = parse("burn_rate(x, 1h)").unwrap_err();
    assert_eq!(e.message, r#"unknown function with name "burn_rate""#);
    let e = parse("error_ratio(x, 5m)").unwrap_err();
    assert!(e.message.starts_with("unknown function"), "{e}");
    let e = parse("rate(x, 5m)").unwrap_err();
    assert_eq!(e.message, r#"unexpected duration "5m""#);
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
            message: r#"unexpected ")" in aggregation"#.into(),
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
