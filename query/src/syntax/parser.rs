//! The PromQL parser: [`parse`] turns a query into an [`Expr`], accepting
//! what Prometheus 2.42 accepts for float data, with its messages.
//!
//! Binary operators are parsed by precedence climbing over the lexer's
//! tokens; postfix modifiers (`[5m]`, `[1h:5m]`, `offset`, `@`) bind to the
//! nearest primary expression, tighter than any operator, as yacc's
//! precedence gives them in Prometheus. Unary `-`/`+` bind like `*`, so
//! `-2^2` is `-(2^2)` and `-a * b` is `(-a) * b`.
//!
//! Errors come in two phases, as in Prometheus: syntax errors (and the
//! checks Prometheus makes while parsing) stop the parse at once; type
//! errors are kept on the node (`Node::deferred`, the first in Prometheus's
//! check order) and reported only when the whole query parsed.

use std::collections::VecDeque;

use nines_engine::index::{MatchOp, Matcher};
use nines_engine::METRIC_NAME;

use super::ast::{AggregateExpr, AggregateOp, BinaryOp, Expr, Grouping, VectorSelector};
use super::check;
use super::lexer::{Keyword, Kind, LexError, Lexer, Token};
use super::literals::{go_quote, parse_duration, parse_number};
use super::ParseError;
use crate::functions;

/// How deeply expressions may nest (parentheses, operands, arguments,
/// operator chains): deeper queries are refused rather than risking the
/// stack here or in whatever walks the tree later.
pub const MAX_DEPTH: usize = 200;

/// Parses a PromQL query.
///
/// ```
/// let e = nines_query::parse("sum(rate(x[5m])) by (a)").unwrap();
/// assert_eq!(e.to_string(), "sum by (a) (rate(x[5m]))");
/// ```
pub fn parse(input: &str) -> Result<Expr, ParseError> {
    parse_with(input, functions::lookup)
}

/// [`parse`] against another function table (tests of the SLO functions,
/// which the table does not have yet).
pub(crate) fn parse_with(
    input: &str,
    lookup: fn(&str) -> Option<&'static functions::FunctionDef>,
) -> Result<Expr, ParseError> {
    let mut p = Parser::new(input);
    p.lookup = lookup;
    p.parse_query().map_err(|f| {
        let (pos, message) = f.into_parts();
        ParseError::new(input, pos, message)
    })
}

/// An error at a byte offset. Boxed: results travel up every level of the
/// recursion, and small ones keep its stack frames small.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Failure(Box<(usize, String)>);

impl Failure {
    pub fn new(pos: usize, message: impl Into<String>) -> Failure {
        Failure(Box::new((pos, message.into())))
    }

    pub fn into_parts(self) -> (usize, String) {
        *self.0
    }
}

impl From<LexError> for Failure {
    fn from(e: LexError) -> Failure {
        Failure::new(e.pos, e.message)
    }
}

pub(crate) type PResult<T> = Result<T, Failure>;

/// A parsed expression with what the checks need: where it starts, how
/// deep it is, and its first type error, if any. The expression is boxed
/// (its parent wants it boxed anyway) to keep the parser's frames small.
pub(crate) struct Node {
    pub expr: Box<Expr>,
    pub start: usize,
    pub height: usize,
    pub deferred: Option<Failure>,
}

impl Node {
    pub fn leaf(expr: Expr, start: usize) -> Node {
        Node {
            expr: Box::new(expr),
            start,
            height: 1,
            deferred: None,
        }
    }
}

pub(crate) struct Parser<'a> {
    pub src: &'a str,
    lexer: Lexer<'a>,
    /// Up to two tokens of lookahead; a lexical error ends the stream.
    ahead: VecDeque<Result<Token, LexError>>,
    depth: usize,
    /// Inside an aggregation's arguments: Prometheus's generic "unexpected"
    /// errors there say "in aggregation".
    in_aggregation: usize,
    lookup: fn(&str) -> Option<&'static functions::FunctionDef>,
}

impl<'a> Parser<'a> {
    fn new(src: &'a str) -> Parser<'a> {
        Parser {
            src,
            lexer: Lexer::new(src),
            ahead: VecDeque::with_capacity(2),
            depth: 0,
            in_aggregation: 0,
            lookup: functions::lookup,
        }
    }

    fn fill(&mut self, n: usize) {
        while self.ahead.len() < n && !matches!(self.ahead.back(), Some(Err(_))) {
            let t = self.lexer.next_token();
            self.ahead.push_back(t);
        }
    }

    fn peek_at(&mut self, i: usize) -> PResult<&Token> {
        self.fill(i + 1);
        match self.ahead.iter().take(i + 1).find_map(|t| t.as_ref().err()) {
            Some(e) => Err(e.clone().into()),
            None => self
                .ahead
                .get(i)
                .and_then(|t| t.as_ref().ok())
                .ok_or_else(|| Failure::new(self.src.len(), "unexpected end of input")),
        }
    }

    pub fn peek(&mut self) -> PResult<&Token> {
        self.peek_at(0)
    }

    pub fn peek_kind(&mut self) -> PResult<Kind> {
        self.peek_at(0).map(|t| t.kind)
    }

    pub fn peek2_kind(&mut self) -> PResult<Kind> {
        self.peek_at(1).map(|t| t.kind)
    }

    pub fn advance(&mut self) -> PResult<Token> {
        self.peek_at(0)?;
        match self.ahead.pop_front() {
            Some(Ok(t)) => Ok(t),
            Some(Err(e)) => Err(e.into()),
            None => Err(Failure::new(self.src.len(), "unexpected end of input")),
        }
    }

    /// Consumes the next token if it is `kind`.
    pub fn eat(&mut self, kind: Kind) -> PResult<Option<Token>> {
        if self.peek_kind()? == kind {
            self.advance().map(Some)
        } else {
            Ok(None)
        }
    }

    /// Prometheus's "unexpected <token>[ in <context>][, expected <what>]",
    /// about the next token (or the lexical error there). Where Prometheus
    /// says only "unexpected <token>", the expected part is ours.
    pub fn unexpected(&mut self, context: Option<&str>, expected: Option<&str>) -> Failure {
        let in_aggregation = self.in_aggregation > 0;
        let src = self.src;
        let tok = match self.peek() {
            Ok(t) => t,
            Err(f) => return f,
        };
        let mut message = format!("unexpected {}", tok.describe(src));
        if let Some(c) = context.or(in_aggregation.then_some("aggregation")) {
            message.push_str(" in ");
            message.push_str(c);
        }
        if let Some(e) = expected {
            message.push_str(", expected ");
            message.push_str(e);
        }
        Failure::new(tok.start, message)
    }

    /// An error Prometheus raises when it reduces a rule, which it does
    /// after reading the next token: a lexical error there comes first.
    pub fn fail_at(&mut self, pos: usize, message: impl Into<String>) -> Failure {
        match self.peek() {
            Err(f) => f,
            Ok(_) => Failure::new(pos, message),
        }
    }

    /// Wraps a finished node, refusing trees deeper than [`MAX_DEPTH`].
    pub fn node(
        &mut self,
        expr: Expr,
        start: usize,
        height: usize,
        deferred: Option<Failure>,
    ) -> PResult<Node> {
        if height > MAX_DEPTH {
            return Err(Failure::new(start, too_deep()));
        }
        Ok(Node {
            expr: Box::new(expr),
            start,
            height,
            deferred,
        })
    }

    fn parse_query(mut self) -> PResult<Expr> {
        if self.peek_kind()? == Kind::Eof {
            return Err(Failure::new(0, "no expression found in input"));
        }
        let node = self.parse_expr(0)?;
        if self.peek_kind()? != Kind::Eof {
            return Err(self.unexpected(None, Some("operator or end of input")));
        }
        match node.deferred {
            Some(f) => Err(f),
            None => Ok(*node.expr),
        }
    }

    /// An expression whose binary operators bind at least as tightly as
    /// `min_prec`.
    pub fn parse_expr(&mut self, min_prec: u8) -> PResult<Node> {
        if self.depth >= MAX_DEPTH {
            let pos = self.peek()?.start;
            return Err(Failure::new(pos, too_deep()));
        }
        self.depth += 1;
        let r = self.parse_binary(min_prec);
        self.depth -= 1;
        r
    }

    fn parse_binary(&mut self, min_prec: u8) -> PResult<Node> {
        let mut lhs = self.parse_unary()?;
        loop {
            let Some(op) = binary_op(self.peek_kind()?) else {
                return Ok(lhs);
            };
            let prec = op.precedence();
            if prec < min_prec {
                return Ok(lhs);
            }
            let op_pos = self.advance()?.start;
            let modifiers = self.parse_bin_modifiers()?;
            let rhs_min = if op.is_right_associative() {
                prec
            } else {
                prec + 1
            };
            let rhs = self.parse_expr(rhs_min)?;
            lhs = check::binary(self, lhs, op, op_pos, modifiers, rhs)?;
        }
    }

    fn parse_unary(&mut self) -> PResult<Node> {
        match self.peek_kind()? {
            Kind::Add | Kind::Sub => {
                let sign = self.advance()?;
                // The operand takes only `^` and postfix modifiers with it.
                let operand = self.parse_expr(BinaryOp::Pow.precedence())?;
                check::unary(self, &sign, operand)
            }
            _ => {
                let primary = self.parse_primary()?;
                self.parse_postfix(primary)
            }
        }
    }

    /// One function per kind of primary expression: only the one in use is
    /// on the stack while its operands recurse.
    fn parse_primary(&mut self) -> PResult<Node> {
        match self.peek_kind()? {
            Kind::Number => self.parse_number(),
            Kind::Str => self.parse_string(),
            Kind::LParen => self.parse_paren(),
            Kind::LBrace | Kind::MetricIdentifier => self.parse_selector(),
            Kind::Identifier => {
                if self.peek2_kind()? == Kind::LParen {
                    self.parse_call()
                } else {
                    self.parse_selector()
                }
            }
            Kind::Keyword(Keyword::Aggregate(op)) => match self.peek2_kind()? {
                Kind::LParen | Kind::Keyword(Keyword::By | Keyword::Without) => {
                    self.parse_aggregate(op)
                }
                _ => self.parse_selector(),
            },
            // Words that may name a metric where an expression starts.
            Kind::Keyword(
                Keyword::And
                | Keyword::Or
                | Keyword::Unless
                | Keyword::By
                | Keyword::Without
                | Keyword::Offset
                | Keyword::Start
                | Keyword::End,
            ) => self.parse_selector(),
            _ => Err(self.unexpected(None, Some("expression"))),
        }
    }

    #[inline(never)]
    fn parse_number(&mut self) -> PResult<Node> {
        let tok = self.advance()?;
        match parse_number(tok.text(self.src)) {
            Ok(v) => Ok(Node::leaf(Expr::Number(v), tok.start)),
            Err(m) => Err(self.fail_at(tok.start, m)),
        }
    }

    #[inline(never)]
    fn parse_string(&mut self) -> PResult<Node> {
        let tok = self.advance()?;
        let value = tok.string.unwrap_or_default();
        Ok(Node::leaf(Expr::String(value), tok.start))
    }

    #[inline(never)]
    fn parse_paren(&mut self) -> PResult<Node> {
        let open = self.advance()?.start;
        let inner = self.parse_expr(0)?;
        if self.eat(Kind::RParen)?.is_none() {
            return Err(self.unexpected(None, Some("operator or \")\"")));
        }
        let (height, deferred) = (inner.height + 1, inner.deferred);
        self.node(Expr::Paren(inner.expr), open, height, deferred)
    }

    /// `name`, `name{...}` or `{...}`.
    #[inline(never)]
    fn parse_selector(&mut self) -> PResult<Node> {
        let start = self.peek()?.start;
        let mut name = None;
        let mut matchers = Vec::new();
        if self.peek_kind()? != Kind::LBrace {
            let tok = self.advance()?;
            let n = tok.text(self.src).to_string();
            matchers.push(Matcher::equal(METRIC_NAME, n.as_str()));
            name = Some(n);
        }
        if self.eat(Kind::LBrace)?.is_some() {
            self.parse_matchers(&mut matchers)?;
        }
        let deferred = check::selector(name.as_deref(), &matchers, start);
        let vs = VectorSelector {
            name,
            matchers,
            offset: None,
            at: None,
        };
        Ok(Node {
            deferred,
            ..Node::leaf(Expr::Vector(vs), start)
        })
    }

    /// The matchers after `{`, through `}`.
    fn parse_matchers(&mut self, matchers: &mut Vec<Matcher>) -> PResult<()> {
        const CONTEXT: Option<&str> = Some("label matching");
        loop {
            match self.peek_kind()? {
                Kind::RBrace => {
                    self.advance()?;
                    return Ok(());
                }
                Kind::Identifier => {}
                _ => return Err(self.unexpected(CONTEXT, Some("identifier or \"}\""))),
            }
            let label = self.advance()?;
            let op = match self.peek_kind()? {
                Kind::Eql => MatchOp::Equal,
                Kind::Neq => MatchOp::NotEqual,
                Kind::EqlRegex => MatchOp::RegexMatch,
                Kind::NeqRegex => MatchOp::RegexNoMatch,
                _ => return Err(self.unexpected(CONTEXT, Some("label matching operator"))),
            };
            self.advance()?;
            if self.peek_kind()? != Kind::Str {
                return Err(self.unexpected(CONTEXT, Some("string")));
            }
            let value = self.advance()?.string.unwrap_or_default();
            match Matcher::new(op, label.text(self.src), value) {
                Ok(m) => matchers.push(m),
                Err(e) => return Err(self.fail_at(label.start, e.to_string())),
            }
            match self.peek_kind()? {
                Kind::Comma => {
                    self.advance()?;
                }
                Kind::RBrace => {}
                _ => return Err(self.unexpected(CONTEXT, Some("\",\" or \"}\""))),
            }
        }
    }

    /// `name(args...)`, checked against the function table.
    #[inline(never)]
    fn parse_call(&mut self) -> PResult<Node> {
        let ident = self.advance()?;
        let name = ident.text(self.src);
        let args = self.parse_call_args(takes_durations(name))?;
        let Some(func) = (self.lookup)(name) else {
            let msg = format!("unknown function with name {}", go_quote(name));
            return Err(self.fail_at(ident.start, msg));
        };
        check::call(self, func, ident.start, args)
    }

    /// `( expr, ... )`; with `durations`, an argument may be a bare duration
    /// literal.
    fn parse_call_args(&mut self, durations: bool) -> PResult<Vec<Node>> {
        if self.eat(Kind::LParen)?.is_none() {
            return Err(self.unexpected(None, Some("\"(\"")));
        }
        let mut args = Vec::new();
        if self.eat(Kind::RParen)?.is_some() {
            return Ok(args);
        }
        loop {
            let bare_duration = durations
                && self.peek_kind()? == Kind::Duration
                && matches!(self.peek2_kind()?, Kind::Comma | Kind::RParen);
            let arg = if bare_duration {
                let tok = self.advance()?;
                match parse_duration(tok.text(self.src)) {
                    Ok(ms) => Node::leaf(Expr::Duration(ms), tok.start),
                    Err(m) => return Err(self.fail_at(tok.start, m)),
                }
            } else {
                self.parse_expr(0)?
            };
            args.push(arg);
            if let Some(comma) = self.eat(Kind::Comma)? {
                if self.peek_kind()? == Kind::RParen {
                    let msg = "trailing commas not allowed in function call args";
                    return Err(self.fail_at(comma.start, msg));
                }
            } else if self.eat(Kind::RParen)?.is_some() {
                return Ok(args);
            } else {
                return Err(self.unexpected(None, Some("operator, \",\" or \")\"")));
            }
        }
    }

    /// `op [by|without (...)] (args) [by|without (...)]`.
    #[inline(never)]
    fn parse_aggregate(&mut self, op: AggregateOp) -> PResult<Node> {
        let start = self.advance()?.start;
        self.in_aggregation += 1;
        let body = self.parse_aggregate_body();
        self.in_aggregation -= 1;
        let (mut grouping, args) = body?;
        if grouping.is_none() {
            grouping = self.parse_aggregate_grouping()?;
        }
        if args.is_empty() {
            return Err(self.fail_at(start, "no arguments for aggregate expression provided"));
        }
        let want = if op.param_type().is_some() { 2 } else { 1 };
        if args.len() != want {
            let msg = format!(
                "wrong number of arguments for aggregate expression provided, expected {want}, got {}",
                args.len()
            );
            return Err(self.fail_at(start, msg));
        }
        let mut args = args.into_iter();
        let param = if want == 2 { args.next() } else { None };
        let Some(expr) = args.next() else {
            return Err(self.fail_at(start, "no arguments for aggregate expression provided"));
        };
        check::aggregate(self, op, start, grouping, param, expr)
    }

    fn parse_aggregate_body(&mut self) -> PResult<(Option<Grouping>, Vec<Node>)> {
        let grouping = self.parse_aggregate_grouping()?;
        let args = self.parse_call_args(false)?;
        Ok((grouping, args))
    }

    fn parse_aggregate_grouping(&mut self) -> PResult<Option<Grouping>> {
        let without = match self.peek_kind()? {
            Kind::Keyword(Keyword::By) => false,
            Kind::Keyword(Keyword::Without) => true,
            _ => return Ok(None),
        };
        self.advance()?;
        let labels = self.parse_grouping_labels()?;
        Ok(Some(Grouping { without, labels }))
    }
}

/// Builds the aggregate node once its parts are checked.
pub(crate) fn aggregate_expr(
    op: AggregateOp,
    grouping: Option<Grouping>,
    param: Option<Box<Expr>>,
    expr: Box<Expr>,
) -> Expr {
    Expr::Aggregate(AggregateExpr {
        op,
        expr,
        param,
        grouping,
    })
}

fn too_deep() -> String {
    format!("expression nested too deeply (more than {MAX_DEPTH} levels)")
}

/// SLO functions take windows as bare durations (`burn_rate(x, 1h)`); no
/// Prometheus function does.
fn takes_durations(name: &str) -> bool {
    name.starts_with("slo_") || matches!(name, "burn_rate" | "error_ratio" | "sli")
}

fn binary_op(kind: Kind) -> Option<BinaryOp> {
    Some(match kind {
        Kind::Add => BinaryOp::Add,
        Kind::Sub => BinaryOp::Sub,
        Kind::Mul => BinaryOp::Mul,
        Kind::Div => BinaryOp::Div,
        Kind::Mod => BinaryOp::Mod,
        Kind::Pow => BinaryOp::Pow,
        Kind::Eqlc => BinaryOp::Eq,
        Kind::Neq => BinaryOp::Ne,
        Kind::Gtr => BinaryOp::Gt,
        Kind::Lss => BinaryOp::Lt,
        Kind::Gte => BinaryOp::Ge,
        Kind::Lte => BinaryOp::Le,
        Kind::Keyword(Keyword::Atan2) => BinaryOp::Atan2,
        Kind::Keyword(Keyword::And) => BinaryOp::And,
        Kind::Keyword(Keyword::Or) => BinaryOp::Or,
        Kind::Keyword(Keyword::Unless) => BinaryOp::Unless,
        _ => return None,
    })
}
