//! Immutable segment files: per series, a chunk of columns split into blocks
//! of up to [`format::BLOCK_ROWS`] rows, each column encoded by [`crate::codec`];
//! a symbol table and roaring postings index the series by label; a footer
//! with magic, version and CRCs locates everything. Raw segments have the
//! columns (time, value); rollup segments the columns of
//! [`crate::rollup`]. Layout: docs/format/segment.md.

mod directory;
pub mod format;
mod mmap;
mod reader;
mod writer;

pub use directory::{DirEntry, Directory};
pub use format::{ColumnType, BLOCK_ROWS};
pub use reader::{Chunk, ColumnBuf, Damage, Segment, SeriesEntry};
pub use writer::{BlockRef, Column, SegmentWriter};

/// What the manifest records about a finished segment file.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SegmentInfo {
    pub file_name: String,
    /// Rollup bucket width in seconds; 0 for raw samples.
    pub resolution_s: u32,
    pub min_t: i64,
    pub max_t: i64,
    pub series: u64,
    pub rows: u64,
    pub bytes: u64,
    #[serde(with = "crate::manifest::hex32")]
    pub sha256: [u8; 32],
}

/// Splits `n` rows into blocks of at most `max` rows, as equal as possible
/// (so the last block is never a sliver).
pub fn block_splits(n: usize, max: usize) -> Vec<usize> {
    if n == 0 {
        return Vec::new();
    }
    let blocks = n.div_ceil(max.max(1));
    let base = n / blocks;
    let extra = n % blocks;
    (0..blocks).map(|i| base + usize::from(i < extra)).collect()
}

#[cfg(test)]
mod tests;
