//! Parser and printer tests: accepted queries and their canonical form
//! (`cases`), refused ones with their positions (`errors`, `checks`),
//! property tests (`props`).

mod cases;
mod checks;
mod errors;
mod props;

use crate::syntax::parser::parse_with;

/// Asserts that `input` fails at `line:column` with a message containing
/// `message`.
#[track_caller]
pub(super) fn error(input: &str, line: usize, column: usize, message: &str) {
    let e = match parse_with(input, cases::with_slo_functions) {
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
