//! The nines storage engine.
//!
//! Module map (one module per stage of the data path):
//! - [`types`]: label sets, series kinds, columnar write batches.
//! - [`error`]: the engine's error type.
//! - [`codec`]: column encodings of segment chunks (timestamps, values).
//!
//! Write path: `Engine::append` → `wal` → `head` → `flush` → `segment`.
//! Read path: `Engine::snapshot` → `read` (head + segments, merged by label set).

pub mod codec;
pub mod error;
pub mod types;

pub use error::{Error, Result};
pub use types::*;
