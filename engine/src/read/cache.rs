//! Decoded rollup buckets, per series and file, bounded by bytes. Rollup
//! files are immutable and small per series (a month of 1 h buckets is 744
//! rows), so a dashboard or SLO that asks about the same series again finds
//! them decoded instead of rebuilding decoders and decoding pages.
//!
//! The same budget holds raw blocks read for a window's edge: a long
//! window's summary needs the samples of a partial hour at its edges, and
//! within the last days (before 1 m rollups are written) they come from a
//! raw block of a day that every refresh of the same panel or alert would
//! decode again.
//!
//! Each entry lives in a [`Slot`] of the file's series directory, next to
//! the series' chunk that a read looks at anyway: a lookup is the slot's
//! lock, not a hash probe into a table of tens of thousands of entries (a
//! 30-day window looks up about seven per series).
//!
//! Eviction is by two generations, an approximation of LRU that costs O(1)
//! per access: entries are stamped with the epoch they were last used in,
//! and each epoch keeps a list of the entries put in or used again in it
//! (the file, weakly, and the series' ordinal). When the current epoch
//! holds half the budget a new one starts, and the entries listed two
//! epochs back that were not used since are dropped: the work is the
//! length of that list, never a scan of every slot. Together the two
//! epochs hold at most the budget (plus one entry). An entry's bytes are
//! given back when it is dropped, by eviction or with its file.

use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};

use parking_lot::Mutex;

use crate::manifest::LiveFile;
use crate::rollup::Bucket;
use crate::types::TimestampMs;

/// The default budget: 64 MiB holds the 1 h and 1 d buckets of 1,000
/// counters for about a year.
pub const DEFAULT_BUCKET_CACHE_BYTES: usize = 64 << 20;

/// Bytes an entry is charged besides its buckets (slot, `Arc` headers).
const ENTRY_OVERHEAD: usize = 64;

/// The budget and what is held against it, shared by every entry.
pub struct BucketCache {
    budget: usize,
    account: Arc<Account>,
    /// The entries put in or used again in the current epoch and in the one
    /// before.
    lists: Mutex<Lists>,
}

#[derive(Default)]
struct Lists {
    current: Vec<Entry>,
    previous: Vec<Entry>,
}

/// Where an entry lives: the series `ordinal` in `file`'s directory.
struct Entry {
    file: Weak<LiveFile>,
    ordinal: u32,
}

struct Account {
    /// Bytes charged to every entry alive.
    bytes: AtomicUsize,
    /// Bytes put in or used again in the current epoch.
    current: AtomicUsize,
    epoch: AtomicU32,
}

/// The cache slot of one series in one file: 16 bytes, made for a whole
/// directory at its first use, so the entry itself is boxed.
#[derive(Default)]
pub struct Slot(Mutex<Option<Box<Cached>>>);

impl std::fmt::Debug for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let held = self.0.lock().as_ref().map(|c| c.value.charge());
        f.debug_tuple("Slot").field(&held).finish()
    }
}

struct Cached {
    value: Value,
    /// The epoch it was last used in.
    used: u32,
    account: Arc<Account>,
}

/// What a slot holds: every bucket of a rollup source, or one decoded
/// block of a raw source.
#[derive(Clone)]
pub enum Value {
    Buckets(Arc<[Bucket]>),
    Block(Arc<RawBlock>),
}

/// The samples of one block of a raw source (block `index` of its chunk).
pub struct RawBlock {
    pub index: usize,
    pub ts: Vec<TimestampMs>,
    pub vs: Vec<f64>,
}

impl Value {
    fn charge(&self) -> usize {
        ENTRY_OVERHEAD
            + match self {
                Value::Buckets(b) => std::mem::size_of_val(&**b),
                Value::Block(b) => b.ts.len() * 8 + b.vs.len() * 8,
            }
    }
}

impl Drop for Cached {
    fn drop(&mut self) {
        self.account
            .bytes
            .fetch_sub(self.value.charge(), Ordering::Relaxed);
    }
}

/// For maps keyed by integers the engine chooses (file ids, ordinals,
/// addresses), not by users.
pub(crate) type FastHash = BuildHasherDefault<KeyHasher>;

/// Keys are integers chosen by the engine, not by users, so a
/// multiply-rotate mix is enough (and far cheaper than SipHash).
#[derive(Default)]
pub(crate) struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_u32(&mut self, v: u32) {
        self.write_u64(u64::from(v));
    }
    fn write_usize(&mut self, v: usize) {
        self.write_u64(v as u64);
    }
}

impl Default for BucketCache {
    fn default() -> Self {
        BucketCache::new(DEFAULT_BUCKET_CACHE_BYTES)
    }
}

impl BucketCache {
    /// A cache holding at most `budget` bytes; 0 disables it.
    pub fn new(budget: usize) -> BucketCache {
        BucketCache {
            budget,
            account: Arc::new(Account {
                bytes: AtomicUsize::new(0),
                current: AtomicUsize::new(0),
                epoch: AtomicU32::new(1),
            }),
            lists: Mutex::new(Lists::default()),
        }
    }

    /// What `slot` (series `ordinal` of `file`) holds, marking it used in
    /// this epoch.
    pub fn get(&self, file: &Arc<LiveFile>, ordinal: u32, slot: &Slot) -> Option<Value> {
        let mut g = slot.0.lock();
        let c = g.as_mut()?;
        let epoch = self.account.epoch.load(Ordering::Relaxed);
        let v = c.value.clone();
        if c.used != epoch {
            c.used = epoch;
            drop(g);
            self.note(file, ordinal, v.charge());
        }
        Some(v)
    }

    /// The rollup buckets `slot` holds.
    pub fn buckets(
        &self,
        file: &Arc<LiveFile>,
        ordinal: u32,
        slot: &Slot,
    ) -> Option<Arc<[Bucket]>> {
        match self.get(file, ordinal, slot)? {
            Value::Buckets(b) => Some(b),
            Value::Block(_) => None,
        }
    }

    /// Puts `value` in `slot` (series `ordinal` of `file`).
    pub fn insert(&self, file: &Arc<LiveFile>, ordinal: u32, slot: &Slot, value: Value) {
        let n = value.charge();
        if n > self.budget / 2 {
            return;
        }
        self.account.bytes.fetch_add(n, Ordering::Relaxed);
        let old = slot.0.lock().replace(Box::new(Cached {
            value,
            used: self.account.epoch.load(Ordering::Relaxed),
            account: Arc::clone(&self.account),
        }));
        drop(old);
        self.note(file, ordinal, n);
    }

    /// Lists an entry put in or used again in the current epoch, charging
    /// `n` bytes to it; starts a new epoch when it is full.
    fn note(&self, file: &Arc<LiveFile>, ordinal: u32, n: usize) {
        let entry = Entry {
            file: Arc::downgrade(file),
            ordinal,
        };
        let mut lists = self.lists.lock();
        lists.current.push(entry);
        let full = self.account.current.fetch_add(n, Ordering::Relaxed) + n > self.budget / 2;
        if !full {
            return;
        }
        // A new epoch: what was listed two epochs back and not used since
        // goes.
        let epoch = self.account.epoch.fetch_add(1, Ordering::Relaxed) + 1;
        self.account.current.store(0, Ordering::Relaxed);
        let current = std::mem::take(&mut lists.current);
        let old = std::mem::replace(&mut lists.previous, current);
        drop(lists);
        for e in old {
            let Some(file) = e.file.upgrade() else {
                continue;
            };
            let Some(slot) = file
                .segment
                .built_directory()
                .and_then(|d| d.made_slot(e.ordinal))
            else {
                continue;
            };
            let mut g = slot.0.lock();
            if g.as_ref().is_some_and(|c| c.used + 1 < epoch) {
                let gone = g.take();
                drop(g);
                drop(gone);
            }
        }
    }

    /// Bytes charged to the entries held now.
    pub fn bytes(&self) -> usize {
        self.account.bytes.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_is_small() {
        // one per series and file once a file is read from the cache
        assert!(std::mem::size_of::<Slot>() <= 16);
    }
}
