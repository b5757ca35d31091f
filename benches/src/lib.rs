//! Benchmarks and the seeded SLI workload generator.
//!
//! - [`workload`]: the seeded, realistic SLI workload every performance
//!   target is measured on, its information content and exact answers.

pub mod workload;
