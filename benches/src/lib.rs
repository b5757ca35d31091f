//! Benchmarks and the seeded SLI workload generator.
//!
//! - [`workload`]: the seeded, realistic SLI workload every performance
//!   target is measured on, its information content and exact answers.
//! - [`harness`]: server processes, CPU time and pre-encoded requests for
//!   the end-to-end harnesses in `src/bin/`.
//! - [`peer`]: Prometheus and VictoriaMetrics beside nines, the same
//!   PromQL asked of each, answers compared.
//! - [`readback`]: every sample of a data directory read back through a
//!   snapshot (the full read path).

pub mod harness;
pub mod peer;
pub mod readback;
pub mod workload;
