//! The nines storage engine.
//!
//! Module map, one module per stage of the data path:
//! - [`types`]: label sets, series kinds, columnar write batches.
//! - [`wal`]: the write-ahead log (group commit, sync policies, replay).
//! - [`head`]: in-memory series with their newest samples, label-indexed.
//! - [`flush`](crate::flush): the head cut into raw segments.
//! - [`segment`]: immutable columnar files; [`codec`] encodes their columns.
//! - [`index`]: label matchers and roaring postings algebra.
//! - [`manifest`]: the hash-chained log of live files, and [`manifest::Version`].
//! - [`compaction`]: merging segments into longer time windows.
//! - [`rollup`]: exact per-bucket counter summaries (1 m, 1 h, 1 d).
//! - [`retention`](crate::retention): deleting expired whole files.
//! - [`read`]: snapshots, series selection and exact window summaries.
//! - [`engine`]: opening, recovery, `append`, background maintenance.
//! - [`formats`]: OpenMetrics / Prometheus text and JSON-lines import and export.
//! - [`stats`] and [`verify`]: what `nines inspect` and `nines verify` report.
//!
//! Write path: [`Engine::append`] → `head::Head::append` → `wal::Wal::append`
//! (durable) → later `flush` → `segment::SegmentWriter` → `manifest` edit.
//! Read path: [`Engine::snapshot`] → `read::Snapshot::select` (head +
//! segments, merged by label set) → `read_samples` / `summarize`.

pub mod bytes;
pub mod chainlog;
pub mod codec;
pub mod compaction;
pub mod engine;
pub mod error;
mod flush;
pub mod formats;
pub mod fsutil;
pub mod head;
pub mod index;
pub mod locks;
pub mod manifest;
pub mod options;
pub mod read;
mod retention;
pub mod rollup;
pub mod segment;
pub mod stats;
pub mod types;
pub mod verify;
pub mod wal;

pub use engine::{Engine, OpenReport};
pub use error::{Error, Result};
pub use head::{SeriesRef, WeakSeriesRef};
pub use options::{EngineOptions, Retention};
pub use types::*;
