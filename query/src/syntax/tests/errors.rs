//! Refused queries, lexical and syntactic: line, column and message, in
//! Prometheus's words.

use super::error;

#[test]
fn empty_queries() {
    error("", 1, 1, "no expression found in input");
    error("# just a comment\n\n", 1, 1, "no expression found in input");
    error("  ", 1, 1, "no expression found in input");
}

#[test]
fn lexical_errors() {
    error("1+", 1, 3, "unexpected end of input, expected expression");
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
    error(
        "foo bar",
        1,
        5,
        r#"unexpected identifier "bar", expected operator or end of input"#,
    );
    error(
        "(1 2)",
        1,
        4,
        r#"unexpected number "2", expected operator or ")""#,
    );
    error("1 + )", 1, 5, "unexpected right parenthesis ')'");
    error("1 + ,", 1, 5, r#"unexpected ",", expected expression"#);
    error("1 2", 1, 3, r#"unexpected number "2""#);
    error(r#"foo{a="b"} {c="d"}"#, 1, 12, r#"unexpected "{""#);
    error("()", 1, 2, r#"unexpected ")""#);
    error("foo:bar(x)", 1, 8, r#"unexpected "(""#);
    error("start()", 1, 6, r#"unexpected "(""#);
    error("end()", 1, 4, r#"unexpected "(""#);
    error("foo @", 1, 6, "unexpected end of input in @");
}
