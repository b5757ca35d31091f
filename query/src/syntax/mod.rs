//! The language's syntax: AST, parser (nom), printer.

pub mod ast;

pub use ast::Expr;

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
