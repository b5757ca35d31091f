//! Modifiers: the postfix ones that bind to the nearest primary expression
//! (`[5m]`, `[1h:5m]`, `offset 5m`, `@ 1700000000`), the ones after a
//! binary operator (`bool`, `on`/`ignoring`, `group_left`/`group_right`),
//! and grouping label lists.

use nines_engine::index::selector::label_name;

use super::ast::{At, Cardinality, Expr, MatrixSelector, Offset, SubqueryExpr, VectorMatching};
use super::check;
use super::lexer::{Keyword, Kind};
use super::literals::{at_millis, parse_duration, parse_number};
use super::parser::{Node, PResult, Parser};

/// What follows a binary operator.
pub(crate) struct BinModifiers {
    pub return_bool: bool,
    /// As written; the checks turn it into the node's `matching`.
    pub matching: VectorMatching,
}

const PRECEDED: &str =
    "must be preceded by an instant vector selector or range vector selector or a subquery";

impl Parser<'_> {
    /// Applies every postfix modifier that follows `node`.
    pub(crate) fn parse_postfix(&mut self, mut node: Node) -> PResult<Node> {
        loop {
            node = match self.peek_kind()? {
                Kind::LBracket => self.parse_range(node)?,
                Kind::Keyword(Keyword::Offset) => self.parse_offset(node)?,
                Kind::At => self.parse_at(node)?,
                _ => return Ok(node),
            };
        }
    }

    /// A duration token's value, or its error.
    fn duration(&mut self) -> PResult<i64> {
        let tok = self.advance()?;
        parse_duration(tok.text(self.src)).map_err(|m| self.fail_at(tok.start, m))
    }

    /// `[range]` on a vector selector, or `[range:step]` / `[range:]` on
    /// anything (the checks want an instant vector).
    fn parse_range(&mut self, node: Node) -> PResult<Node> {
        let open = self.advance()?.start;
        if self.peek_kind()? != Kind::Duration {
            return Err(self.unexpected(Some("subquery selector"), Some("duration")));
        }
        let range = self.duration()?;
        match self.peek_kind()? {
            Kind::RBracket => {
                self.advance()?;
                let message = match *node.expr {
                    Expr::Vector(selector) if selector.offset.is_none() => {
                        // Like Prometheus 2.42, only a timestamp is refused
                        // here: `x @ start() [5m]` is `x[5m] @ start()`.
                        if !matches!(selector.at, Some(At::Timestamp(_))) {
                            let expr = Expr::Matrix(MatrixSelector { selector, range });
                            return self.node(expr, node.start, 1, node.deferred);
                        }
                        "no @ modifiers allowed before range"
                    }
                    Expr::Vector(_) => "no offset modifiers allowed before range",
                    _ => "ranges only allowed for vector selectors",
                };
                Err(self.fail_at(open, message))
            }
            Kind::Colon => {
                self.advance()?;
                let step = match self.peek_kind()? {
                    Kind::Duration => Some(self.duration()?),
                    Kind::RBracket => None,
                    _ => {
                        let expected = Some("duration or \"]\"");
                        return Err(self.unexpected(Some("subquery selector"), expected));
                    }
                };
                if self.eat(Kind::RBracket)?.is_none() {
                    return Err(self.unexpected(Some("subquery selector"), Some("\"]\"")));
                }
                let own = check::subquery(&node);
                let deferred = node.deferred.or(own);
                let expr = Expr::Subquery(SubqueryExpr {
                    expr: node.expr,
                    range,
                    step,
                    offset: None,
                    at: None,
                });
                self.node(expr, node.start, node.height + 1, deferred)
            }
            _ => Err(self.unexpected(Some("subquery or range"), Some("\":\" or \"]\""))),
        }
    }

    /// `offset 5m` or `offset -5m`.
    fn parse_offset(&mut self, mut node: Node) -> PResult<Node> {
        self.advance()?;
        let negative = self.eat(Kind::Sub)?.is_some();
        if self.peek_kind()? != Kind::Duration {
            return Err(self.unexpected(Some("offset"), Some("duration")));
        }
        let d = self.duration()?;
        let slot = match &mut *node.expr {
            Expr::Vector(vs) => &mut vs.offset,
            Expr::Matrix(ms) => &mut ms.selector.offset,
            Expr::Subquery(sq) => &mut sq.offset,
            _ => return Err(self.fail_at(node.start, format!("offset modifier {PRECEDED}"))),
        };
        if slot.is_some() {
            return Err(self.fail_at(node.start, "offset may not be set multiple times"));
        }
        *slot = Some(Offset(if negative { -d } else { d }));
        Ok(node)
    }

    /// `@ <number>`, `@ -<number>`, `@ start()`, `@ end()`.
    fn parse_at(&mut self, mut node: Node) -> PResult<Node> {
        const CONTEXT: Option<&str> = Some("@");
        const EXPECTED: Option<&str> = Some("timestamp");
        self.advance()?;
        let at = match self.peek_kind()? {
            Kind::Number | Kind::Add | Kind::Sub => {
                let negative = match self.peek_kind()? {
                    Kind::Sub => self.advance().map(|_| true)?,
                    Kind::Add => self.advance().map(|_| false)?,
                    _ => false,
                };
                if self.peek_kind()? != Kind::Number {
                    return Err(self.unexpected(CONTEXT, EXPECTED));
                }
                let tok = self.advance()?;
                let v = parse_number(tok.text(self.src)).map_err(|m| self.fail_at(tok.start, m))?;
                let seconds = if negative { -v } else { v };
                At::Timestamp(at_millis(seconds).map_err(|m| self.fail_at(node.start, m))?)
            }
            Kind::Keyword(kw @ (Keyword::Start | Keyword::End)) => {
                self.advance()?;
                if self.eat(Kind::LParen)?.is_none() || self.eat(Kind::RParen)?.is_none() {
                    return Err(self.unexpected(CONTEXT, EXPECTED));
                }
                if kw == Keyword::Start {
                    At::Start
                } else {
                    At::End
                }
            }
            _ => return Err(self.unexpected(CONTEXT, EXPECTED)),
        };
        let slot = match &mut *node.expr {
            Expr::Vector(vs) => &mut vs.at,
            Expr::Matrix(ms) => &mut ms.selector.at,
            Expr::Subquery(sq) => &mut sq.at,
            _ => return Err(self.fail_at(node.start, format!("@ modifier {PRECEDED}"))),
        };
        if slot.is_some() {
            let msg = "@ <timestamp> may not be set multiple times";
            return Err(self.fail_at(node.start, msg));
        }
        *slot = Some(at);
        Ok(node)
    }

    /// `[bool] [on|ignoring (...) [group_left|group_right [(...)]]]`.
    pub(crate) fn parse_bin_modifiers(&mut self) -> PResult<BinModifiers> {
        let return_bool = self.eat(Kind::Keyword(Keyword::Bool))?.is_some();
        let mut matching = VectorMatching::default();
        let on = match self.peek_kind()? {
            Kind::Keyword(Keyword::On) => true,
            Kind::Keyword(Keyword::Ignoring) => false,
            _ => {
                return Ok(BinModifiers {
                    return_bool,
                    matching,
                })
            }
        };
        self.advance()?;
        matching.on = on;
        matching.labels = self.parse_grouping_labels()?;
        let card = match self.peek_kind()? {
            Kind::Keyword(Keyword::GroupLeft) => Cardinality::ManyToOne,
            Kind::Keyword(Keyword::GroupRight) => Cardinality::OneToMany,
            _ => {
                return Ok(BinModifiers {
                    return_bool,
                    matching,
                })
            }
        };
        self.advance()?;
        matching.card = card;
        // A `(` here is the label list, never the right operand.
        if self.peek_kind()? == Kind::LParen {
            matching.include = self.parse_grouping_labels()?;
        }
        Ok(BinModifiers {
            return_bool,
            matching,
        })
    }

    /// `( label, ... )`, possibly empty, with a trailing comma allowed.
    /// Keywords are label names here, except `without`, as in Prometheus.
    pub(crate) fn parse_grouping_labels(&mut self) -> PResult<Vec<String>> {
        const CONTEXT: Option<&str> = Some("grouping opts");
        if self.eat(Kind::LParen)?.is_none() {
            return Err(self.unexpected(CONTEXT, Some("\"(\"")));
        }
        let mut labels = Vec::new();
        if self.eat(Kind::RParen)?.is_some() {
            return Ok(labels);
        }
        loop {
            let is_word = match self.peek_kind()? {
                Kind::Identifier | Kind::MetricIdentifier => true,
                Kind::Keyword(k) => k != Keyword::Without,
                _ => false,
            };
            if !is_word {
                return Err(self.unexpected(CONTEXT, Some("label")));
            }
            let tok = self.advance()?;
            let text = tok.text(self.src);
            if !matches!(label_name(text), Ok(("", _))) {
                // Prometheus names the token after the bad label here.
                return Err(self.unexpected(CONTEXT, Some("label")));
            }
            labels.push(text.to_string());
            if self.eat(Kind::Comma)?.is_some() {
                if self.eat(Kind::RParen)?.is_some() {
                    return Ok(labels);
                }
            } else if self.eat(Kind::RParen)?.is_some() {
                return Ok(labels);
            } else {
                return Err(self.unexpected(CONTEXT, Some("\",\" or \")\"")));
            }
        }
    }
}
