//! Series selectors in PromQL syntax: `metric{label="v", other=~"re"}`,
//! `{__name__=~"x.*"}`, or a bare metric name. Also the PromQL string literal
//! (double, single or back quotes, Go escapes), shared with the query parser.

use nom::branch::alt;
use nom::bytes::complete::{tag, take_while, take_while1};
use nom::character::complete::{char, multispace0};
use nom::combinator::{opt, recognize};
use nom::sequence::{delimited, pair};
use nom::{IResult, Parser};

use super::{MatchOp, Matcher, MatcherError};
use crate::types::METRIC_NAME;

/// A selector that failed to parse: where and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid series selector at column {column}: {message}\n  {input}\n  {caret}^")]
pub struct SelectorError {
    pub column: usize,
    pub message: String,
    pub input: String,
    caret: String,
}

impl SelectorError {
    fn new(input: &str, rest: &str, message: impl Into<String>) -> SelectorError {
        let at = input.len() - rest.len();
        SelectorError {
            column: at + 1,
            message: message.into(),
            input: input.to_string(),
            caret: " ".repeat(input[..at].chars().count()),
        }
    }
}

pub fn is_metric_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == ':'
}

pub fn is_label_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*`
pub fn metric_name(i: &str) -> IResult<&str, &str> {
    recognize(pair(
        take_while1(|c: char| c.is_ascii_alphabetic() || c == '_' || c == ':'),
        take_while(is_metric_char),
    ))
    .parse(i)
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`
pub fn label_name(i: &str) -> IResult<&str, &str> {
    recognize(pair(
        take_while1(|c: char| c.is_ascii_alphabetic() || c == '_'),
        take_while(is_label_char),
    ))
    .parse(i)
}

/// Parses a PromQL string literal at the start of `i`: `"..."` and `'...'`
/// with Go escapes (`\n \t \\ \" \' \a \b \f \r \v \xHH \NNN \uHHHH
/// \UHHHHHHHH`), or a raw `` `...` `` without escapes. Returns the decoded
/// string and the rest, or where and why it is invalid, in the words of
/// Prometheus's lexer. `\xHH` and `\NNN` decode to the code point of that
/// value (Go decodes them to a raw byte, which a Rust string cannot hold).
pub fn string_literal(i: &str) -> Result<(String, &str), (&str, String)> {
    let mut chars = i.char_indices();
    let quote = match chars.next() {
        Some((_, q @ ('"' | '\'' | '`'))) => q,
        _ => return Err((i, "expected a string in quotes".into())),
    };
    let unterminated = if quote == '`' {
        "unterminated raw string"
    } else {
        "unterminated quoted string"
    };
    let mut out = String::new();
    while let Some((at, c)) = chars.next() {
        match c {
            c if c == quote => return Ok((out, &i[at + c.len_utf8()..])),
            '\n' if quote != '`' => return Err((&i[at..], unterminated.into())),
            '\\' if quote != '`' => {
                let Some((_, e)) = chars.next() else {
                    return Err((&i[at..], "escape sequence not terminated".into()));
                };
                let simple = match e {
                    'n' => Some('\n'),
                    't' => Some('\t'),
                    'r' => Some('\r'),
                    'a' => Some('\x07'),
                    'b' => Some('\x08'),
                    'f' => Some('\x0c'),
                    'v' => Some('\x0b'),
                    '\\' => Some('\\'),
                    '"' | '\'' if e == quote => Some(e),
                    _ => None,
                };
                if let Some(s) = simple {
                    out.push(s);
                    continue;
                }
                // Digits after the escape letter (octal: the letter is the first digit).
                let (mut digits, radix, max, mut code) = match e {
                    'x' => (2, 16, 0xff, 0),
                    'u' => (4, 16, 0x10_ffff, 0),
                    'U' => (8, 16, 0x10_ffff, 0),
                    '0'..='7' => (2, 8, 0xff, u32::from(e) - u32::from('0')),
                    _ => {
                        return Err((
                            &i[at..],
                            format!("unknown escape sequence {}", unicode_name(e)),
                        ))
                    }
                };
                while digits > 0 {
                    let Some((_, d)) = chars.next() else {
                        return Err((&i[at..], "escape sequence not terminated".into()));
                    };
                    let Some(v) = d.to_digit(radix) else {
                        return Err((
                            &i[at..],
                            format!("illegal character {} in escape sequence", unicode_name(d)),
                        ));
                    };
                    code = code * radix + v;
                    digits -= 1;
                }
                match char::from_u32(code).filter(|_| code <= max) {
                    Some(ch) => out.push(ch),
                    None => {
                        return Err((
                            &i[at..],
                            "escape sequence is an invalid Unicode code point".into(),
                        ))
                    }
                }
            }
            c => out.push(c),
        }
    }
    Err((i, unterminated.into()))
}

/// `U+0063 'c'`, as Go's `%#U` prints a character.
fn unicode_name(c: char) -> String {
    if c.is_control() {
        format!("U+{:04X}", u32::from(c))
    } else {
        format!("U+{:04X} '{c}'", u32::from(c))
    }
}

fn ws<'a, O, P: Parser<&'a str, Output = O, Error = nom::error::Error<&'a str>>>(
    p: P,
) -> impl Parser<&'a str, Output = O, Error = nom::error::Error<&'a str>> {
    delimited(multispace0, p, multispace0)
}

fn match_op(i: &str) -> IResult<&str, MatchOp> {
    alt((
        tag("=~").map(|_| MatchOp::RegexMatch),
        tag("!~").map(|_| MatchOp::RegexNoMatch),
        tag("!=").map(|_| MatchOp::NotEqual),
        tag("=").map(|_| MatchOp::Equal),
    ))
    .parse(i)
}

/// One `name op "value"` inside braces.
pub fn matcher(i: &str) -> Result<(Matcher, &str), (&str, String)> {
    let (rest, name) = ws(label_name)
        .parse(i)
        .map_err(|_| (i, "expected a label name".to_string()))?;
    let (rest, op) = ws(match_op)
        .parse(rest)
        .map_err(|_| (rest, "expected one of =, !=, =~, !~".to_string()))?;
    let (value, rest) = string_literal(rest)?;
    let m = Matcher::new(op, name, value).map_err(|e: MatcherError| (i, e.to_string()))?;
    Ok((m, rest))
}

/// Parses a whole selector into matchers (the metric name becomes a
/// `__name__="..."` matcher). Like PromQL, a selector must have at least one
/// matcher that does not match the empty string.
pub fn parse_selector(input: &str) -> Result<Vec<Matcher>, SelectorError> {
    let err = |rest: &str, msg: String| SelectorError::new(input, rest, msg);
    let (mut rest, name) = opt(ws(metric_name))
        .parse(input)
        .map_err(|_| err(input, "cannot parse".into()))?;
    let mut matchers = Vec::new();
    if let Some(n) = name {
        matchers.push(Matcher::equal(METRIC_NAME, n));
    }
    if let Ok((r, _)) = ws(char::<&str, nom::error::Error<&str>>('{')).parse(rest) {
        rest = r;
        loop {
            if let Ok((r, _)) = ws(char::<&str, nom::error::Error<&str>>('}')).parse(rest) {
                rest = r;
                break;
            }
            let (m, r) = matcher(rest).map_err(|(at, msg)| err(at, msg))?;
            matchers.push(m);
            rest = r;
            let (r, _) = multispace0::<&str, nom::error::Error<&str>>(rest)
                .map_err(|_| err(rest, "cannot parse".into()))?;
            rest = r;
            if let Some(r) = rest.strip_prefix(',') {
                rest = r;
            } else if !rest.starts_with('}') {
                return Err(err(rest, "expected , or } after a label matcher".into()));
            }
        }
    }
    if !rest.trim().is_empty() {
        return Err(err(rest, "unexpected text after the selector".into()));
    }
    if matchers.is_empty() {
        return Err(err(
            input,
            "expected a metric name or {label matchers}".into(),
        ));
    }
    if matchers.iter().all(Matcher::matches_empty) {
        return Err(err(
            input,
            "a selector needs at least one matcher that does not match the empty string (e.g. {job=~\".+\"})".into(),
        ));
    }
    Ok(matchers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn ok(input: &str, want: &str) {
        let ms = parse_selector(input).unwrap_or_else(|e| panic!("{e}"));
        let got: Vec<String> = ms.iter().map(ToString::to_string).collect();
        assert_eq!(got.join(", "), want);
    }

    #[test]
    fn selectors() {
        ok("up", r#"__name__="up""#);
        ok(
            r#"http_requests_total{job="api",code=~"5.."}"#,
            r#"__name__="http_requests_total", job="api", code=~"5..""#,
        );
        ok(r#"{ __name__ =~ "x.*" , }"#, r#"__name__=~"x.*""#);
        ok(
            r#"a:b{x!='y\'z', y!~`\d+`}"#,
            r#"__name__="a:b", x!="y'z", y!~"\\d+""#,
        );
        ok(
            r#"m{v="\x41\u00e9\101\n"}"#,
            "__name__=\"m\", v=\"A\u{e9}A\\n\"",
        );
    }

    #[test]
    fn errors_point_at_the_problem() {
        let e = parse_selector(r#"up{job="a" code="b"}"#).unwrap_err();
        assert_eq!(e.column, 12, "{e}");
        assert!(e.to_string().contains("expected , or }"), "{e}");
        let e = parse_selector(r#"up{job~"a"}"#).unwrap_err();
        assert!(e.message.contains("expected one of"), "{e}");
        let e = parse_selector(r#"{job=""}"#).unwrap_err();
        assert!(e.message.contains("does not match the empty string"), "{e}");
        let e = parse_selector(r#"up{job="a}"#).unwrap_err();
        assert!(e.message.contains("unterminated"), "{e}");
        let e = parse_selector(r#"up{job=~"("}"#).unwrap_err();
        assert!(e.message.contains("invalid regular expression"), "{e}");
        let e = parse_selector("up down").unwrap_err();
        assert!(e.message.contains("unexpected text"), "{e}");
        let e = parse_selector(r#"up{a="\q"}"#).unwrap_err();
        assert!(e.message.contains("unknown escape"), "{e}");
    }

    #[test]
    fn string_literal_errors_match_prometheus() {
        let err = |s: &str| string_literal(s).unwrap_err().1;
        assert_eq!(err(r#""\c""#), "unknown escape sequence U+0063 'c'");
        assert_eq!(
            err(r#""\x.""#),
            "illegal character U+002E '.' in escape sequence"
        );
        assert_eq!(
            err(r#""\x+f""#),
            "illegal character U+002B '+' in escape sequence"
        );
        assert_eq!(err(r#""\"#), "escape sequence not terminated");
        assert_eq!(err(r#""\x4"#), "escape sequence not terminated");
        assert_eq!(
            err(r#""\777""#),
            "escape sequence is an invalid Unicode code point"
        );
        assert_eq!(
            err(r#""\ud800""#),
            "escape sequence is an invalid Unicode code point"
        );
        assert_eq!(err("\"ab\ncd\""), "unterminated quoted string");
        assert_eq!(err("`ab"), "unterminated raw string");
        assert_eq!(err(r#"'a\"'"#), "unknown escape sequence U+0022 '\"'");
        fn ok(s: &str) -> (String, &str) {
            string_literal(s).unwrap()
        }
        assert_eq!(
            ok(r#""\101\x41\u0041\U00000041\"" x"#),
            ("AAAA\"".to_string(), " x")
        );
        assert_eq!(ok("`a\nb\\`rest"), ("a\nb\\".to_string(), "rest"));
        assert_eq!(ok("'\\''"), ("'".to_string(), ""));
    }
}
