//! The nines storage engine.
//!
//! Module map (one module per stage of the data path):
//! - [`types`]: label sets, series kinds, columnar write batches.
//! - [`error`]: the engine's error type.
//! - [`formats`]: text import/export (OpenMetrics / Prometheus text, JSON
//!   lines): streaming readers that yield `WriteBatch`es, per-series writers.
//!
//! Write path: `Engine::append` → `wal` → `head` → `flush` → `segment`.
//! Read path: `Engine::snapshot` → `read` (head + segments, merged by label set).

pub mod error;
pub mod formats;
pub mod types;

pub use error::{Error, Result};
pub use types::*;
