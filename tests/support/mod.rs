//! Support code for `tests/promql_differential.rs`.

pub mod compare;
pub mod corpus;
pub mod dataset;
pub mod prometheus;
