//! Parser and printer tests: accepted queries and their canonical form
//! (`cases`), errors with their positions (`errors`), property tests
//! (`props`).

mod cases;
mod errors;
mod props;
