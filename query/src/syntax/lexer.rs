//! The lexical pieces of PromQL: a lexer that turns a query into tokens on
//! demand, mirroring Prometheus 2.42's lexer state by state, because several
//! of PromQL's rules live there (keywords are identifiers inside braces, a
//! duration must follow `[`, parentheses must balance) and so do many of its
//! error messages.
//!
//! The recognisers are nom parsers; names reuse the engine's `metric_name`
//! and `label_name`, strings its `string_literal`.

use nines_engine::index::selector::{label_name, metric_name, string_literal};
use nom::bytes::complete::{tag_no_case, take_till, take_while, take_while1};
use nom::character::complete::{char, one_of};
use nom::combinator::{opt, recognize};
use nom::{IResult, Parser};

use super::ast::AggregateOp;
use super::literals::{go_quote, go_quote_rune};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Eof,
    Comma,
    LParen,
    RParen,
    LBrace,
    RBrace,
    LBracket,
    RBracket,
    Colon,
    /// `=` (inside braces only, or a stray one outside).
    Eql,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Eqlc,
    Neq,
    Lss,
    Lte,
    Gtr,
    Gte,
    EqlRegex,
    NeqRegex,
    At,
    /// Also `Inf` and `NaN` in any case.
    Number,
    Duration,
    Str,
    /// `[a-zA-Z_][a-zA-Z0-9_]*` that is no keyword.
    Identifier,
    /// A name with a colon.
    MetricIdentifier,
    Keyword(Keyword),
}

/// Words the lexer recognises in any letter case (outside braces).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Keyword {
    And,
    Or,
    Unless,
    Atan2,
    Aggregate(AggregateOp),
    Offset,
    By,
    Without,
    On,
    Ignoring,
    GroupLeft,
    GroupRight,
    Bool,
    Start,
    End,
}

impl Keyword {
    fn lookup(word: &str) -> Option<Kind> {
        let mut buf = [0u8; 12];
        let lower = buf.get_mut(..word.len())?;
        lower.copy_from_slice(word.as_bytes());
        lower.make_ascii_lowercase();
        let kw = match &*lower {
            b"and" => Keyword::And,
            b"or" => Keyword::Or,
            b"unless" => Keyword::Unless,
            b"atan2" => Keyword::Atan2,
            b"offset" => Keyword::Offset,
            b"by" => Keyword::By,
            b"without" => Keyword::Without,
            b"on" => Keyword::On,
            b"ignoring" => Keyword::Ignoring,
            b"group_left" => Keyword::GroupLeft,
            b"group_right" => Keyword::GroupRight,
            b"bool" => Keyword::Bool,
            b"start" => Keyword::Start,
            b"end" => Keyword::End,
            b"inf" | b"nan" => return Some(Kind::Number),
            other => {
                let op = AggregateOp::parse(std::str::from_utf8(other).ok()?)?;
                Keyword::Aggregate(op)
            }
        };
        Some(Kind::Keyword(kw))
    }

    /// Prometheus's three classes of words, for messages.
    fn class(self) -> WordClass {
        match self {
            Keyword::And | Keyword::Or | Keyword::Unless | Keyword::Atan2 => WordClass::Operator,
            Keyword::Aggregate(_) => WordClass::Aggregator,
            Keyword::Start | Keyword::End => WordClass::Plain,
            _ => WordClass::Keyword,
        }
    }
}

enum WordClass {
    Operator,
    Aggregator,
    Keyword,
    Plain,
}

/// A token: its kind and where it is (byte offsets into the query).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Token {
    pub kind: Kind,
    pub start: usize,
    pub end: usize,
    /// The decoded value of a string token.
    pub string: Option<String>,
}

impl Token {
    fn new(kind: Kind, start: usize, end: usize) -> Token {
        Token {
            kind,
            start,
            end,
            string: None,
        }
    }

    pub fn text<'a>(&self, src: &'a str) -> &'a str {
        src.get(self.start..self.end).unwrap_or("")
    }

    /// How Prometheus names the token in "unexpected ..." messages:
    /// `"("`, `<op:+>`, `<by>`, `<aggr:sum>`, `identifier "foo"`,
    /// `number "1"`, `end of input`.
    pub fn describe(&self, src: &str) -> String {
        let text = self.text(src);
        let class = match self.kind {
            Kind::Eof => return "end of input".into(),
            Kind::Identifier => return format!("identifier {}", go_quote(text)),
            Kind::MetricIdentifier => return format!("metric identifier {}", go_quote(text)),
            Kind::Number => return format!("number {}", short_quote(text)),
            Kind::Duration => return format!("duration {}", short_quote(text)),
            Kind::Str => return format!("string {}", short_quote(text)),
            Kind::Keyword(k) => k.class(),
            Kind::Add
            | Kind::Sub
            | Kind::Mul
            | Kind::Div
            | Kind::Mod
            | Kind::Pow
            | Kind::Eqlc
            | Kind::Neq
            | Kind::Lss
            | Kind::Lte
            | Kind::Gtr
            | Kind::Gte
            | Kind::EqlRegex
            | Kind::NeqRegex
            | Kind::At => WordClass::Operator,
            _ => WordClass::Plain,
        };
        match class {
            WordClass::Operator => format!("<op:{text}>"),
            WordClass::Aggregator => format!("<aggr:{text}>"),
            WordClass::Keyword => format!("<{text}>"),
            WordClass::Plain => go_quote(text),
        }
    }
}

/// Go's `%.10q...` for long token values.
fn short_quote(text: &str) -> String {
    match text.char_indices().nth(10) {
        Some((cut, _)) if text.len() > 10 => format!("{}...", go_quote(&text[..cut])),
        _ => go_quote(text),
    }
}

/// A lexical error: where (byte offset) and Prometheus's message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LexError {
    pub pos: usize,
    pub message: String,
}

pub(crate) struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    paren_depth: usize,
    brace_open: bool,
    bracket_open: bool,
    got_colon: bool,
    /// The token after `[` must be a duration.
    want_duration: bool,
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

fn is_alnum(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn spaces(i: &str) -> IResult<&str, &str> {
    take_while1(is_space).parse(i)
}

fn comment(i: &str) -> IResult<&str, &str> {
    recognize((char('#'), take_till(|c| c == '\n' || c == '\r'))).parse(i)
}

fn digits(hex: bool) -> impl Fn(&str) -> IResult<&str, &str> {
    move |i| {
        take_while(|c: char| {
            if hex {
                c.is_ascii_hexdigit()
            } else {
                c.is_ascii_digit()
            }
        })
        .parse(i)
    }
}

/// Prometheus's `scanNumber`: `0x` hex digits or decimal digits, an optional
/// fraction, an optional exponent. Returns the length taken and whether the
/// number ends there (the next character is not alphanumeric).
fn scan_number(i: &str) -> (usize, bool) {
    let hex = recognize((char::<&str, nom::error::Error<&str>>('0'), one_of("xX")))
        .parse(i)
        .is_ok();
    let number = (
        opt(tag_no_case("0x")).map(|_| ()),
        digits(hex),
        opt((char('.'), digits(hex))),
        opt((one_of("eE"), opt(one_of("+-")), digits(false))),
    );
    let rest = match recognize(number).parse(i) {
        Ok((rest, _)) => rest,
        Err(_) => i,
    };
    let len = i.len() - rest.len();
    (len, !rest.chars().next().is_some_and(is_alnum))
}

/// Prometheus's `acceptRemainingDuration`: the units after the number part
/// (`smhdwy`, then optionally `s`, then more digit runs with units other than
/// `y`), and a character that is not alphanumeric. Returns the length taken,
/// which includes that last character (or the one that broke the rule), and
/// whether it is a duration; [`super::literals::parse_duration`] applies the
/// order and repetition rules.
fn scan_duration_units(i: &str) -> (usize, bool) {
    let b = i.as_bytes();
    let mut p = 0;
    let accept = |p: &mut usize, set: &[u8]| -> bool {
        if b.get(*p).is_some_and(|c| set.contains(c)) {
            *p += 1;
            true
        } else {
            false
        }
    };
    if !accept(&mut p, b"smhdwy") {
        return (p, false);
    }
    accept(&mut p, b"s");
    while accept(&mut p, b"0123456789") {
        while accept(&mut p, b"0123456789") {}
        if !accept(&mut p, b"smhdw") {
            return (p, false);
        }
        accept(&mut p, b"s");
    }
    match i[p..].chars().next() {
        Some(c) if is_alnum(c) => (p + c.len_utf8(), false),
        _ => (p, true),
    }
}

impl<'a> Lexer<'a> {
    pub fn new(src: &'a str) -> Lexer<'a> {
        Lexer {
            src,
            pos: 0,
            paren_depth: 0,
            brace_open: false,
            bracket_open: false,
            got_colon: false,
            want_duration: false,
        }
    }

    fn rest(&self) -> &'a str {
        &self.src[self.pos..]
    }

    fn error(&self, pos: usize, message: impl Into<String>) -> Result<Token, LexError> {
        Err(LexError {
            pos,
            message: message.into(),
        })
    }

    fn emit(&mut self, kind: Kind, start: usize, len: usize) -> Result<Token, LexError> {
        self.pos = start + len;
        Ok(Token::new(kind, start, self.pos))
    }

    /// Skips spaces and comments; true when it skipped something.
    fn skip_trivia(&mut self) -> bool {
        let rest = self.rest();
        match spaces(rest).or_else(|_| comment(rest)) {
            Ok((r, _)) => {
                self.pos = self.src.len() - r.len();
                true
            }
            Err(_) => false,
        }
    }

    /// The next token, or the lexical error Prometheus reports there.
    pub fn next_token(&mut self) -> Result<Token, LexError> {
        if self.want_duration {
            self.want_duration = false;
            return self.duration_in_brackets();
        }
        while self.skip_trivia() {}
        if self.brace_open {
            return self.inside_braces();
        }
        let start = self.pos;
        let rest = self.rest();
        let Some(c) = rest.chars().next() else {
            if self.paren_depth != 0 {
                return self.error(start, "unclosed left parenthesis");
            }
            if self.bracket_open {
                return self.error(start, "unclosed left bracket");
            }
            return Ok(Token::new(Kind::Eof, start, start));
        };
        let next = rest[c.len_utf8()..].chars().next();
        let one = |kind| (kind, 1);
        let (kind, len) = match c {
            ',' => one(Kind::Comma),
            '*' => one(Kind::Mul),
            '/' => one(Kind::Div),
            '%' => one(Kind::Mod),
            '+' => one(Kind::Add),
            '-' => one(Kind::Sub),
            '^' => one(Kind::Pow),
            '@' => one(Kind::At),
            '=' => match next {
                Some('=') => (Kind::Eqlc, 2),
                Some('~') => {
                    return self.error(start, "unexpected character after '=': '~'");
                }
                _ => one(Kind::Eql),
            },
            '!' => match next {
                Some('=') => (Kind::Neq, 2),
                other => {
                    let msg = format!(
                        "unexpected character after '!': {}",
                        go_quote_rune(other.unwrap_or(char::REPLACEMENT_CHARACTER))
                    );
                    return self.error(start, msg);
                }
            },
            '<' if next == Some('=') => (Kind::Lte, 2),
            '<' => one(Kind::Lss),
            '>' if next == Some('=') => (Kind::Gte, 2),
            '>' => one(Kind::Gtr),
            '0'..='9' => return self.number_or_duration(),
            '.' if next.is_some_and(|d| d.is_ascii_digit()) => return self.number_or_duration(),
            '"' | '\'' | '`' => return self.string(),
            c if c.is_ascii_alphabetic() || c == '_' || c == ':' => {
                if !self.bracket_open {
                    return self.word();
                }
                if c != ':' {
                    // Prometheus 2.42 took any letter here for a colon
                    // (`x[5m y]` read as `x[5m:]`); later versions refuse it.
                    return self.error(start, format!("unexpected character: '{c}', expected ':'"));
                }
                if self.got_colon {
                    return self.error(start, "unexpected colon ':'");
                }
                self.got_colon = true;
                one(Kind::Colon)
            }
            '(' => {
                self.paren_depth += 1;
                one(Kind::LParen)
            }
            ')' => {
                if self.paren_depth == 0 {
                    return self.error(start, "unexpected right parenthesis ')'");
                }
                self.paren_depth -= 1;
                one(Kind::RParen)
            }
            '{' => {
                self.brace_open = true;
                one(Kind::LBrace)
            }
            '[' => {
                if self.bracket_open {
                    return self.error(start, "unexpected left bracket '['");
                }
                self.got_colon = false;
                self.bracket_open = true;
                self.want_duration = true;
                let tok = self.emit(Kind::LBracket, start, 1);
                if let Ok((r, _)) = spaces(self.rest()) {
                    self.pos = self.src.len() - r.len();
                }
                return tok;
            }
            ']' => {
                if !self.bracket_open {
                    return self.error(start, "unexpected right bracket ']'");
                }
                self.bracket_open = false;
                one(Kind::RBracket)
            }
            other => {
                return self.error(
                    start,
                    format!("unexpected character: {}", go_quote_rune(other)),
                )
            }
        };
        self.emit(kind, start, len)
    }

    fn inside_braces(&mut self) -> Result<Token, LexError> {
        let start = self.pos;
        let rest = self.rest();
        let Some(c) = rest.chars().next() else {
            return self.error(start, "unexpected end of input inside braces");
        };
        let next = rest[c.len_utf8()..].chars().next();
        let (kind, len) = match c {
            ',' => (Kind::Comma, 1),
            '=' if next == Some('~') => (Kind::EqlRegex, 2),
            '=' => (Kind::Eql, 1),
            '!' => match next {
                Some('~') => (Kind::NeqRegex, 2),
                Some('=') => (Kind::Neq, 2),
                other => {
                    let msg = format!(
                        "unexpected character after '!' inside braces: {}",
                        go_quote_rune(other.unwrap_or(char::REPLACEMENT_CHARACTER))
                    );
                    return self.error(start, msg);
                }
            },
            '"' | '\'' | '`' => return self.string(),
            '{' => return self.error(start, "unexpected left brace '{'"),
            '}' => {
                self.brace_open = false;
                (Kind::RBrace, 1)
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let len = label_name(rest).map_or(1, |(r, _)| rest.len() - r.len());
                (Kind::Identifier, len)
            }
            other => {
                let msg = format!(
                    "unexpected character inside braces: {}",
                    go_quote_rune(other)
                );
                return self.error(start, msg);
            }
        };
        self.emit(kind, start, len)
    }

    /// A name outside braces: a keyword, an identifier or (with a colon) a
    /// metric identifier.
    fn word(&mut self) -> Result<Token, LexError> {
        let start = self.pos;
        let rest = self.rest();
        let len = metric_name(rest).map_or(1, |(r, _)| rest.len() - r.len());
        let word = &rest[..len];
        let kind = Keyword::lookup(word).unwrap_or(if word.contains(':') {
            Kind::MetricIdentifier
        } else {
            Kind::Identifier
        });
        self.emit(kind, start, len)
    }

    fn number_or_duration(&mut self) -> Result<Token, LexError> {
        let start = self.pos;
        let rest = self.rest();
        let (n, is_number) = scan_number(rest);
        if is_number {
            return self.emit(Kind::Number, start, n);
        }
        let (u, is_duration) = scan_duration_units(&rest[n..]);
        if is_duration {
            return self.emit(Kind::Duration, start, n + u);
        }
        let msg = format!(
            "bad number or duration syntax: {}",
            go_quote(&rest[..n + u])
        );
        self.error(start, msg)
    }

    /// The token right after `[`: a duration and nothing else.
    fn duration_in_brackets(&mut self) -> Result<Token, LexError> {
        let start = self.pos;
        let rest = self.rest();
        let (n, is_number) = scan_number(rest);
        if is_number {
            return self.error(start, "missing unit character in duration");
        }
        let (u, is_duration) = scan_duration_units(&rest[n..]);
        if !is_duration {
            let msg = format!("bad duration syntax: {}", go_quote(&rest[..n + u]));
            return self.error(start, msg);
        }
        self.emit(Kind::Duration, start, n + u)
    }

    fn string(&mut self) -> Result<Token, LexError> {
        let start = self.pos;
        let rest = self.rest();
        match string_literal(rest) {
            Ok((value, r)) => {
                let mut tok = self.emit(Kind::Str, start, rest.len() - r.len())?;
                tok.string = Some(value);
                Ok(tok)
            }
            // Prometheus reports string errors at the opening quote.
            Err((_, message)) => self.error(start, message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lex(src: &str) -> Result<Vec<(Kind, &str)>, LexError> {
        let mut l = Lexer::new(src);
        let mut out = Vec::new();
        loop {
            let t = l.next_token()?;
            if t.kind == Kind::Eof {
                return Ok(out);
            }
            out.push((t.kind, t.text(src)));
        }
    }

    #[test]
    fn tokens_and_their_texts() {
        use Kind::*;
        assert_eq!(
            lex("sum BY(x) # c\n (rate(a:b{by!~'x', c=\"\"}[5m:1m]) >= bool 0x1F)").unwrap(),
            vec![
                (Keyword(self::Keyword::Aggregate(AggregateOp::Sum)), "sum"),
                (Keyword(self::Keyword::By), "BY"),
                (LParen, "("),
                (Identifier, "x"),
                (RParen, ")"),
                (LParen, "("),
                (Identifier, "rate"),
                (LParen, "("),
                (MetricIdentifier, "a:b"),
                (LBrace, "{"),
                (Identifier, "by"),
                (NeqRegex, "!~"),
                (Str, "'x'"),
                (Comma, ","),
                (Identifier, "c"),
                (Eql, "="),
                (Str, "\"\""),
                (RBrace, "}"),
                (LBracket, "["),
                (Duration, "5m"),
                (Colon, ":"),
                (Duration, "1m"),
                (RBracket, "]"),
                (RParen, ")"),
                (Gte, ">="),
                (Keyword(self::Keyword::Bool), "bool"),
                (Number, "0x1F"),
                (RParen, ")"),
            ]
        );
        assert_eq!(
            lex("1.5e3 .5 5. inf NaN 1h30m 0x1e").unwrap(),
            vec![
                (Number, "1.5e3"),
                (Number, ".5"),
                (Number, "5."),
                (Number, "inf"),
                (Number, "NaN"),
                (Duration, "1h30m"),
                (Number, "0x1e"),
            ]
        );
    }

    #[track_caller]
    fn lex_err(src: &str, pos: usize, message: &str) {
        let e = lex(src).unwrap_err();
        assert_eq!((e.pos, e.message.as_str()), (pos, message), "{src}");
    }

    #[test]
    fn lexical_errors_in_prometheus_words() {
        lex_err("0deadbeef", 0, "bad number or duration syntax: \"0de\"");
        lex_err("x[5mm]", 2, "bad duration syntax: \"5mm\"");
        lex_err("x[5m1]", 2, "bad duration syntax: \"5m1\"");
        lex_err("x[1]", 2, "missing unit character in duration");
        lex_err("x[ ]", 3, "missing unit character in duration");
        lex_err("(1))", 3, "unexpected right parenthesis ')'");
        lex_err("((1)", 4, "unclosed left parenthesis");
        lex_err("x[5m", 4, "unclosed left bracket");
        lex_err("x[5m[", 4, "unexpected left bracket '['");
        lex_err("x[5m][", 6, "missing unit character in duration");
        lex_err("x]", 1, "unexpected right bracket ']'");
        lex_err("x[5m:1m:]", 7, "unexpected colon ':'");
        lex_err("x[5m y]", 5, "unexpected character: 'y', expected ':'");
        lex_err("1 =~ 1", 2, "unexpected character after '=': '~'");
        lex_err("1 !~ 1", 2, "unexpected character after '!': '~'");
        lex_err("{", 1, "unexpected end of input inside braces");
        lex_err("}", 0, "unexpected character: '}'");
        lex_err("x{a:b}", 3, "unexpected character inside braces: ':'");
        lex_err("x{{", 2, "unexpected left brace '{'");
        lex_err(
            "x{a!b}",
            3,
            "unexpected character after '!' inside braces: 'b'",
        );
        lex_err("x{a=\"\\c\"}", 4, "unknown escape sequence U+0063 'c'");
        lex_err("\"abc", 0, "unterminated quoted string");
        lex_err("1 ;", 2, "unexpected character: ';'");
        lex_err("é", 0, "unexpected character: 'é'");
    }

    #[test]
    fn descriptions_match_prometheus() {
        let d = |src: &str| {
            let mut l = Lexer::new(src);
            l.next_token().unwrap().describe(src)
        };
        assert_eq!(d("("), "\"(\"");
        assert_eq!(d("*"), "<op:*>");
        assert_eq!(d("and"), "<op:and>");
        assert_eq!(d("BY"), "<BY>");
        assert_eq!(d("sum"), "<aggr:sum>");
        assert_eq!(d("some_metric"), "identifier \"some_metric\"");
        assert_eq!(d("a:b"), "metric identifier \"a:b\"");
        assert_eq!(d("1"), "number \"1\"");
        assert_eq!(d("5m"), "duration \"5m\"");
        assert_eq!(d("\"abcdefghijkl\""), "string \"\\\"abcdefghi\"...");
        assert_eq!(d(""), "end of input");
        assert_eq!(d("start"), "\"start\"");
    }
}
