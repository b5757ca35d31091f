//! The nines storage engine.
//!
//! Module map (one module per stage of the data path):
//! - [`types`]: label sets, series kinds, columnar write batches.
//! - [`error`]: the engine's error type.
//! - [`wal`]: the write-ahead log: framing, records, group commit, replay.
//! - [`codec`]: column encodings of segment chunks (timestamps, values).
//!
//! Write path: `Engine::append` → `wal` → `head` → `flush` → `segment`.
//! Read path: `Engine::snapshot` → `read` (head + segments, merged by label set).

pub mod codec;
pub mod error;
pub mod formats;
pub mod head;
pub mod index;
pub mod types;
pub mod wal;

pub use error::{Error, Result};
pub use types::*;
