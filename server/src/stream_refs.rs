//! Series numbered by the client for the length of one write stream
//! (`CompactSeries.series_ref` on `WriteStream` and `WriteSession`).
//!
//! An agent writes the same series in every batch. Even with the series
//! cache, each one costs its label references decoded, their hashes
//! folded, a shard lock, a map probe and a comparison of the label text,
//! per series per request: a third of the server's CPU when requests
//! carry a few samples per series. A stream that named a series once with
//! its labels and a number sends the number alone afterwards, and the
//! server finds the head series by indexing this table.
//!
//! Entries hold the head series strongly: a handle the head has since
//! dropped (an idle series) still knows its labels, the append re-resolves
//! it by them (`SeriesBatch::resolved` may be stale), and the next use
//! here replaces it. Series whose labels the head refused keep their
//! labels, so every later use is refused for the same reason, per series,
//! like a batch carrying the labels would be.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use nines_engine::{Engine, Labels, SeriesRef};

/// The largest series number a stream may use: the table is a vector as
/// long as the largest number, 16 bytes an entry (16 MiB at most).
pub const MAX_SERIES_REF: u32 = (1 << 20) - 1;

enum Entry {
    /// Resolved in the head.
    Series(SeriesRef),
    /// Not (yet) resolved: named in the batch being decoded, or refused.
    Labels(Box<Labels>),
}

/// The server's open streams and the series numbered on them
/// (`/metrics`: `nines_write_streams`, `nines_write_stream_series`).
#[derive(Debug, Default)]
pub struct StreamGauges {
    pub streams: AtomicU64,
    pub series: AtomicU64,
}

/// One stream's numbered series.
#[derive(Default)]
pub struct StreamRefs {
    entries: Vec<Option<Entry>>,
    /// Numbers whose entry holds labels to resolve after the batch.
    pending: Vec<u32>,
    /// Numbers in use.
    named: u64,
    /// Where this stream counts itself and its numbers, while it lives.
    gauges: Option<Arc<StreamGauges>>,
}

impl Drop for StreamRefs {
    fn drop(&mut self) {
        if let Some(g) = &self.gauges {
            g.streams.fetch_sub(1, Relaxed);
            g.series.fetch_sub(self.named, Relaxed);
        }
    }
}

/// A stream's numbered series, shared by its decoder (which reads and
/// names them) and its handler (which resolves them after each batch);
/// the two take turns, one message at a time.
pub type SharedRefs = Arc<parking_lot::Mutex<StreamRefs>>;

/// Why a series number cannot be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefError {
    /// Past [`MAX_SERIES_REF`].
    TooLarge(u32),
    /// Used without labels before any series was named by it.
    Undefined(u32),
}

/// What a series number stands for in a batch.
pub enum Named<'a> {
    /// The head series (the batch's `resolved`; labels left empty).
    Series(SeriesRef),
    /// The labels to write the samples under.
    Labels(&'a Labels),
}

impl StreamRefs {
    /// A stream counted in `gauges` until it is dropped.
    pub fn counted(gauges: Arc<StreamGauges>) -> StreamRefs {
        gauges.streams.fetch_add(1, Relaxed);
        StreamRefs {
            entries: Vec::new(),
            pending: Vec::new(),
            named: 0,
            gauges: Some(gauges),
        }
    }

    fn slot(&mut self, n: u32) -> Result<&mut Option<Entry>, RefError> {
        if n > MAX_SERIES_REF {
            return Err(RefError::TooLarge(n));
        }
        let i = n as usize;
        if i >= self.entries.len() {
            self.entries.resize_with(i + 1, || None);
        }
        Ok(&mut self.entries[i])
    }

    /// Names series `n`: its head series when the batch found it already
    /// (a series cache hit), else its labels, resolved after the batch.
    pub fn define(
        &mut self,
        n: u32,
        labels: &Labels,
        resolved: Option<&SeriesRef>,
    ) -> Result<(), RefError> {
        let entry = match resolved {
            Some(r) => Entry::Series(r.clone()),
            None => Entry::Labels(Box::new(labels.clone())),
        };
        let pending = matches!(entry, Entry::Labels(_));
        if self.slot(n)?.replace(entry).is_none() {
            self.named += 1;
            if let Some(g) = &self.gauges {
                g.series.fetch_add(1, Relaxed);
            }
        }
        if pending {
            self.pending.push(n);
        }
        Ok(())
    }

    /// What series `n`, named earlier on the stream, stands for.
    pub fn get(&mut self, n: u32) -> Result<Named<'_>, RefError> {
        if n > MAX_SERIES_REF {
            return Err(RefError::TooLarge(n));
        }
        let slot = self
            .entries
            .get_mut(n as usize)
            .and_then(|e| e.as_mut())
            .ok_or(RefError::Undefined(n))?;
        if let Entry::Series(r) = slot {
            if r.is_live() {
                return Ok(Named::Series(r.clone()));
            }
            // The head forgot it (idle): write by its labels this time,
            // resolve them again after the batch.
            *slot = Entry::Labels(Box::new(r.labels()));
            self.pending.push(n);
        }
        Ok(match slot {
            Entry::Labels(l) => Named::Labels(l),
            Entry::Series(r) => Named::Series(r.clone()),
        })
    }

    /// After a batch was stored: resolves the series it named by labels
    /// (they exist now, unless the head refused them: those keep their
    /// labels). With `scoped` (a tenant's stream, whose stored labels are
    /// the tenant's view, without the tenant label) nothing is resolved:
    /// resolving would create the unscoped series.
    pub fn resolve_pending(&mut self, engine: &Engine, scoped: bool) {
        let pending = std::mem::take(&mut self.pending);
        if scoped {
            return;
        }
        for n in pending {
            let Some(Some(Entry::Labels(l))) = self.entries.get(n as usize) else {
                continue;
            };
            if let Ok(r) = engine.resolve(l) {
                self.entries[n as usize] = Some(Entry::Series(r));
            }
        }
    }

    /// Numbers in use.
    pub fn len(&self) -> usize {
        self.named as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nines_engine::{EngineOptions, SeriesBatch, WriteBatch};

    fn labels(job: &str) -> Labels {
        Labels::from_pairs(&[("__name__", "up"), ("job", job)])
    }

    #[test]
    fn named_series_resolve_after_the_batch() {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::open(EngineOptions::new(dir.path()).background(false)).unwrap();
        let mut refs = StreamRefs::default();
        refs.define(1, &labels("a"), None).unwrap();
        assert!(matches!(refs.get(1).unwrap(), Named::Labels(l) if *l == labels("a")));
        assert_eq!(refs.get(2).err(), Some(RefError::Undefined(2)));
        assert_eq!(
            refs.define(MAX_SERIES_REF + 1, &labels("a"), None),
            Err(RefError::TooLarge(MAX_SERIES_REF + 1))
        );
        refs.resolve_pending(&engine, false);
        let Named::Series(r) = refs.get(1).unwrap() else {
            panic!("not resolved")
        };
        assert_eq!(r.labels(), labels("a"));
        // A tenant's stream leaves labels as they are.
        refs.define(3, &labels("b"), None).unwrap();
        refs.resolve_pending(&engine, true);
        assert!(matches!(refs.get(3).unwrap(), Named::Labels(_)));
        assert_eq!(refs.len(), 2);
        refs.define(3, &labels("c"), None).unwrap();
        assert_eq!(refs.len(), 2, "naming a number again replaces it");
        // A batch through the handle lands in the series of its labels.
        let batch = WriteBatch {
            series: vec![SeriesBatch {
                labels: Labels::default(),
                kind: Default::default(),
                timestamps: vec![1_000],
                values: vec![1.0],
                resolved: Some(r),
            }],
        };
        assert_eq!(engine.append(&batch).unwrap().accepted, 1);
    }

    #[test]
    fn streams_count_themselves_while_they_live() {
        let g = Arc::new(StreamGauges::default());
        let mut a = StreamRefs::counted(Arc::clone(&g));
        let mut b = StreamRefs::counted(Arc::clone(&g));
        for n in [1, 2, 2, 5] {
            a.define(n, &labels("a"), None).unwrap();
        }
        b.define(1, &labels("b"), None).unwrap();
        assert_eq!((g.streams.load(Relaxed), g.series.load(Relaxed)), (2, 4));
        drop(a);
        assert_eq!((g.streams.load(Relaxed), g.series.load(Relaxed)), (1, 1));
        drop(b);
        assert_eq!((g.streams.load(Relaxed), g.series.load(Relaxed)), (0, 0));
    }
}
