//! `Display` for the AST: a canonical query in Prometheus's printed form
//! (`sum by (job) (rate(x{a="b"}[5m]))`, binary operators between spaces,
//! `@` before `offset`, canonical durations, double-quoted strings) that
//! parses back to the same tree.
//!
//! Two deliberate departures from Prometheus's printer keep that round trip
//! exact: `by ()` and `ignoring () group_left ()` are printed rather than
//! dropped, and matchers keep their order instead of being sorted.

use std::fmt::{self, Display, Formatter, Write};

use nines_engine::index::{MatchOp, Matcher};
use nines_engine::METRIC_NAME;

use super::ast::{
    AggregateExpr, AggregateOp, At, BinaryExpr, BinaryOp, Call, Cardinality, Expr, Grouping,
    MatrixSelector, Offset, SubqueryExpr, UnaryExpr, UnaryOp, VectorSelector,
};
use super::literals::{format_at_seconds, format_duration, format_number, go_quote};

impl Display for Expr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Number(v) => f.write_str(&format_number(*v)),
            Expr::String(s) => f.write_str(&go_quote(s)),
            Expr::Duration(ms) => f.write_str(&format_duration(*ms)),
            Expr::Vector(v) => v.fmt(f),
            Expr::Matrix(m) => m.fmt(f),
            Expr::Subquery(s) => s.fmt(f),
            Expr::Paren(e) => write!(f, "({e})"),
            Expr::Unary(u) => u.fmt(f),
            Expr::Binary(b) => b.fmt(f),
            Expr::Aggregate(a) => a.fmt(f),
            Expr::Call(c) => c.fmt(f),
        }
    }
}

impl Display for Offset {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "offset {}", format_duration(self.0))
    }
}

impl Display for At {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            At::Timestamp(ms) => write!(f, "@ {}", format_at_seconds(*ms)),
            At::Start => f.write_str("@ start()"),
            At::End => f.write_str("@ end()"),
        }
    }
}

/// ` @ ...` then ` offset ...`, Prometheus's order.
fn write_modifiers(f: &mut Formatter<'_>, at: Option<At>, offset: Option<Offset>) -> fmt::Result {
    if let Some(at) = at {
        write!(f, " {at}")?;
    }
    if let Some(offset) = offset {
        write!(f, " {offset}")?;
    }
    Ok(())
}

fn write_matcher(f: &mut Formatter<'_>, m: &Matcher) -> fmt::Result {
    write!(f, "{}{}{}", m.name, m.op.as_str(), go_quote(&m.value))
}

/// The selector without its modifiers: `name{matchers}`, leaving out the
/// matcher the name stands for.
fn write_selector(f: &mut Formatter<'_>, vs: &VectorSelector) -> fmt::Result {
    let implied = vs.name.as_ref().and_then(|n| {
        vs.matchers
            .iter()
            .position(|m| m.name == METRIC_NAME && m.op == MatchOp::Equal && m.value == *n)
    });
    if let Some(name) = &vs.name {
        f.write_str(name)?;
    }
    let mut rest = vs
        .matchers
        .iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != implied)
        .map(|(_, m)| m)
        .peekable();
    if rest.peek().is_none() && vs.name.is_some() {
        return Ok(());
    }
    f.write_char('{')?;
    for (i, m) in rest.enumerate() {
        if i > 0 {
            f.write_char(',')?;
        }
        write_matcher(f, m)?;
    }
    f.write_char('}')
}

impl Display for VectorSelector {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write_selector(f, self)?;
        write_modifiers(f, self.at, self.offset)
    }
}

impl Display for MatrixSelector {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write_selector(f, &self.selector)?;
        write!(f, "[{}]", format_duration(self.range))?;
        write_modifiers(f, self.selector.at, self.selector.offset)
    }
}

impl Display for SubqueryExpr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}[{}:", self.expr, format_duration(self.range))?;
        if let Some(step) = self.step {
            f.write_str(&format_duration(step))?;
        }
        f.write_char(']')?;
        write_modifiers(f, self.at, self.offset)
    }
}

impl Display for UnaryOp {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UnaryOp::Neg => "-",
            UnaryOp::Pos => "+",
        })
    }
}

impl Display for UnaryExpr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.op, self.expr)
    }
}

impl Display for BinaryOp {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn write_labels(f: &mut Formatter<'_>, labels: &[String]) -> fmt::Result {
    write!(f, "({})", labels.join(", "))
}

impl Display for BinaryExpr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.lhs, self.op)?;
        if self.return_bool {
            f.write_str(" bool")?;
        }
        if let Some(m) = &self.matching {
            let grouped = matches!(m.card, Cardinality::ManyToOne | Cardinality::OneToMany);
            if m.on || !m.labels.is_empty() || grouped {
                f.write_str(if m.on { " on " } else { " ignoring " })?;
                write_labels(f, &m.labels)?;
            }
            match m.card {
                Cardinality::ManyToOne => f.write_str(" group_left ")?,
                Cardinality::OneToMany => f.write_str(" group_right ")?,
                _ => {}
            }
            if grouped {
                write_labels(f, &m.include)?;
            }
        }
        write!(f, " {}", self.rhs)
    }
}

impl Display for AggregateOp {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Display for Grouping {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(if self.without { "without " } else { "by " })?;
        write_labels(f, &self.labels)
    }
}

impl Display for AggregateExpr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(self.op.as_str())?;
        if let Some(g) = &self.grouping {
            write!(f, " {g} ")?;
        }
        f.write_char('(')?;
        if let Some(p) = &self.param {
            write!(f, "{p}, ")?;
        }
        write!(f, "{})", self.expr)
    }
}

impl Display for Call {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}(", self.func.name)?;
        for (i, a) in self.args.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{a}")?;
        }
        f.write_char(')')
    }
}
