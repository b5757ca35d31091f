//! The language's syntax: AST, parser (nom lexical pieces under a
//! precedence-climbing parser), printer.
//!
//! - [`ast`]: the tree the parser returns and the evaluator walks.
//! - `lexer`: tokens, mirroring Prometheus's lexer and its messages.
//! - `literals`: numbers, durations, `@` timestamps, Go-style quoting.
//! - `parser`: [`parse`] and the expression grammar; `modifiers`: ranges,
//!   subqueries, `offset`, `@`, binary-operator and grouping modifiers;
//!   `check`: Prometheus's type rules, applied once the parse succeeded.
//! - `print`: `Display` for the tree, printing a canonical query that parses
//!   back to the same tree.

pub mod ast;
mod check;
mod lexer;
mod literals;
mod modifiers;
mod parser;
mod print;

pub use ast::Expr;
pub use literals::{format_at_seconds, format_duration, format_number, go_quote, parse_duration};
pub use parser::{parse, MAX_DEPTH};

/// A query that failed to parse: where, what was expected, and the query
/// with a caret under the spot.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("parse error at line {line}, column {column}: {message}\n{snippet}")]
pub struct ParseError {
    /// 1-based.
    pub line: usize,
    /// 1-based, in characters.
    pub column: usize,
    pub message: String,
    /// The offending line of the query and a caret line under it.
    pub snippet: String,
}

impl ParseError {
    /// An error at byte offset `pos` of `input` (clamped into it).
    pub(crate) fn new(input: &str, pos: usize, message: String) -> ParseError {
        let mut pos = pos.min(input.len());
        while !input.is_char_boundary(pos) {
            pos -= 1;
        }
        let before = &input[..pos];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let line_end = input[pos..].find('\n').map_or(input.len(), |i| pos + i);
        let line_text = input[line_start..line_end].trim_end_matches('\r');
        // Tabs stay tabs so that the caret lines up under them.
        let mut snippet = String::with_capacity(2 * line_text.len() + 2);
        snippet.push_str(line_text);
        snippet.push('\n');
        let mut column = 1;
        for c in input[line_start..pos].chars() {
            snippet.push(if c == '\t' { '\t' } else { ' ' });
            column += 1;
        }
        snippet.push('^');
        ParseError {
            line: before.matches('\n').count() + 1,
            column,
            message,
            snippet,
        }
    }
}

#[cfg(test)]
mod tests;
