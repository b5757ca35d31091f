//! The parsed series directory of a segment: every series entry, parsed once
//! on the first read of the (immutable) file and kept while it is open, so a
//! query finds a series' chunk without parsing or allocating. Label sets are
//! interned ([`LabelInterner`]): the same series in several files shares one
//! `Arc<Labels>`, and reads match series across files by pointer.
//!
//! Memory: a [`Chunk`] (about 100 bytes for a raw series with one block,
//! 200 for a rollup series) plus an `Arc` pointer per series and file; the
//! label set itself once per engine. `Directory::mem_bytes` measures it.

use std::sync::{Arc, OnceLock};

use roaring::RoaringBitmap;

use super::reader::{Chunk, Segment};
use crate::error::{Error, Result};
use crate::read::{LabelInterner, Slot};
use crate::types::{Labels, SeriesKind};

/// One series of a segment.
#[derive(Debug)]
pub struct DirEntry {
    pub labels: Arc<Labels>,
    pub kind: SeriesKind,
    pub chunk: Chunk,
}

/// Every series of a segment, by ordinal.
#[derive(Debug, Default)]
pub struct Directory {
    entries: Vec<DirEntry>,
    /// The ordinals of series whose kind has no rollups
    /// ([`SeriesKind::has_rollups`]): a read that answers rolled-up series
    /// from buckets still needs all raw data of these.
    no_rollups: RoaringBitmap,
    /// The bucket cache's slot of each series (rollup files), made on the
    /// first use.
    slots: OnceLock<Box<[Slot]>>,
}

impl Directory {
    pub(crate) fn build(seg: &Segment, interner: &LabelInterner) -> Result<Directory> {
        let n = seg.series_count();
        let mut entries = Vec::with_capacity(n as usize);
        let mut no_rollups = RoaringBitmap::new();
        for ord in 0..n {
            let e = seg.series(ord)?;
            if !e.kind.has_rollups(e.labels.metric_name()) {
                no_rollups.insert(ord);
            }
            entries.push(DirEntry {
                labels: interner.intern(e.labels),
                kind: e.kind,
                chunk: e.chunk,
            });
        }
        Ok(Directory {
            entries,
            no_rollups,
            slots: OnceLock::new(),
        })
    }

    /// The ordinals of series of a kind without rollups.
    pub fn no_rollups(&self) -> &RoaringBitmap {
        &self.no_rollups
    }

    /// The entry of series `ordinal`; an error for an ordinal the postings
    /// named but the file does not have.
    pub fn get(&self, seg: &Segment, ordinal: u32) -> Result<&DirEntry> {
        self.entries.get(ordinal as usize).ok_or_else(|| {
            Error::corrupted(
                seg.path(),
                0,
                format!(
                    "series ordinal {ordinal} out of range ({} series)",
                    self.entries.len()
                ),
            )
        })
    }

    /// The bucket cache slot of series `ordinal` (`None` past the end).
    pub fn slot(&self, ordinal: u32) -> Option<&Slot> {
        self.slots
            .get_or_init(|| (0..self.entries.len()).map(|_| Slot::default()).collect())
            .get(ordinal as usize)
    }

    /// The slot of series `ordinal` if the slots were made.
    pub fn made_slot(&self, ordinal: u32) -> Option<&Slot> {
        self.slots.get()?.get(ordinal as usize)
    }

    /// The slots made so far.
    pub fn slots(&self) -> &[Slot] {
        self.slots.get().map_or(&[], |s| s)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Bytes this directory holds (the interned label sets not included).
    pub fn mem_bytes(&self) -> usize {
        std::mem::size_of::<Directory>()
            + self.no_rollups.serialized_size()
            + std::mem::size_of_val(self.slots())
            + self
                .entries
                .iter()
                .map(|e| {
                    std::mem::size_of::<DirEntry>() - std::mem::size_of::<Chunk>()
                        + e.chunk.mem_bytes()
                })
                .sum::<usize>()
    }
}
