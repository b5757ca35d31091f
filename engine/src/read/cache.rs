//! Decoded rollup buckets, per series and file, bounded by bytes. Rollup
//! files are immutable and small per series (a month of 1 h buckets is 744
//! rows), so a dashboard or SLO that asks about the same series again finds
//! them decoded instead of rebuilding decoders and decoding pages.
//!
//! Each entry lives in a [`Slot`] of the file's series directory, next to
//! the series' chunk that a read looks at anyway: a lookup is the slot's
//! lock, not a hash probe into a table of tens of thousands of entries (a
//! 30-day window looks up about seven per series).
//!
//! Eviction is by two generations, an approximation of LRU that costs O(1)
//! per access: entries are stamped with the epoch they were last used in;
//! entries put in or used again in the current epoch are charged to it;
//! when the current epoch holds half the budget a new one starts, and the
//! entries not used since before the previous one are dropped by a sweep
//! over the slots of the live files. Together the two epochs hold at most
//! the budget (plus one entry). An entry's bytes are given back when it is
//! dropped, by the sweep or with its file.

use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::rollup::Bucket;

/// The default budget: 64 MiB holds the 1 h and 1 d buckets of 1,000
/// counters for about a year.
pub const DEFAULT_BUCKET_CACHE_BYTES: usize = 64 << 20;

/// Bytes an entry is charged besides its buckets (slot, `Arc` headers).
const ENTRY_OVERHEAD: usize = 64;

/// The budget and what is held against it, shared by every entry.
pub struct BucketCache {
    budget: usize,
    account: Arc<Account>,
    /// One sweep at a time; a thread that finds one running skips its own.
    sweeping: Mutex<()>,
}

struct Account {
    /// Bytes charged to every entry alive.
    bytes: AtomicUsize,
    /// Bytes put in or used again in the current epoch.
    current: AtomicUsize,
    epoch: AtomicU32,
}

/// The cache slot of one series in one rollup file.
#[derive(Default)]
pub struct Slot(Mutex<Option<Cached>>);

impl std::fmt::Debug for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let held = self.0.lock().as_ref().map(|c| c.buckets.len());
        f.debug_tuple("Slot").field(&held).finish()
    }
}

struct Cached {
    buckets: Arc<[Bucket]>,
    /// The epoch it was last used in.
    used: u32,
    account: Arc<Account>,
}

impl Drop for Cached {
    fn drop(&mut self) {
        self.account
            .bytes
            .fetch_sub(charge(&self.buckets), Ordering::Relaxed);
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

fn charge(b: &[Bucket]) -> usize {
    std::mem::size_of_val(b) + ENTRY_OVERHEAD
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
            sweeping: Mutex::new(()),
        }
    }

    /// The buckets held in `slot`, marking them used in this epoch.
    pub fn get(&self, slot: &Slot) -> Option<Arc<[Bucket]>> {
        let mut g = slot.0.lock();
        let c = g.as_mut()?;
        let epoch = self.account.epoch.load(Ordering::Relaxed);
        if c.used + 1 < epoch || !Arc::ptr_eq(&c.account, &self.account) {
            // missed by a sweep that ran while it was being used
            *g = None;
            return None;
        }
        if c.used != epoch {
            c.used = epoch;
            self.account
                .current
                .fetch_add(charge(&c.buckets), Ordering::Relaxed);
        }
        Some(Arc::clone(&c.buckets))
    }

    /// Puts `buckets` in `slot`. Returns whether the current epoch is full,
    /// in which case the caller should [`BucketCache::sweep`] the slots of
    /// its live files.
    #[must_use]
    pub fn insert(&self, slot: &Slot, buckets: Arc<[Bucket]>) -> bool {
        let n = charge(&buckets);
        if n > self.budget / 2 {
            return false;
        }
        self.account.bytes.fetch_add(n, Ordering::Relaxed);
        let old = slot.0.lock().replace(Cached {
            buckets,
            used: self.account.epoch.load(Ordering::Relaxed),
            account: Arc::clone(&self.account),
        });
        drop(old);
        self.account.current.fetch_add(n, Ordering::Relaxed) + n > self.budget / 2
    }

    /// Starts a new epoch and empties every slot of `slots` not used in the
    /// epoch before it; skipped when another thread is sweeping or the
    /// epoch was started by another thread meanwhile.
    pub fn sweep<'a>(&self, slots: impl Iterator<Item = &'a Slot>) {
        let Some(_guard) = self.sweeping.try_lock() else {
            return;
        };
        if self.account.current.load(Ordering::Relaxed) <= self.budget / 2 {
            return;
        }
        let epoch = self.account.epoch.fetch_add(1, Ordering::Relaxed) + 1;
        self.account.current.store(0, Ordering::Relaxed);
        for slot in slots {
            let mut g = slot.0.lock();
            if g.as_ref().is_some_and(|c| c.used + 1 < epoch) {
                let old = g.take();
                drop(g);
                drop(old);
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
    use crate::rollup::Summary;

    fn buckets(n: usize) -> Arc<[Bucket]> {
        (0..n)
            .map(|i| Bucket {
                end: i as i64,
                summary: Summary::EMPTY,
            })
            .collect()
    }

    #[test]
    fn stays_within_budget_and_keeps_what_is_used() {
        let one = charge(&buckets(10));
        let c = BucketCache::new(10 * one);
        let slots: Vec<Slot> = (0..100).map(|_| Slot::default()).collect();
        for (i, slot) in slots.iter().enumerate() {
            if c.insert(slot, buckets(10)) {
                c.sweep(slots.iter());
            }
            // entry 0 is used all the time, so it survives every sweep
            assert!(c.get(&slots[0]).is_some(), "after {i}");
            assert!(c.bytes() <= 10 * one + one, "{} after {i}", c.bytes());
        }
        assert!(c.get(&slots[99]).is_some());
        assert!(c.get(&slots[50]).is_none());
        // too big for the budget: not kept
        let big = Slot::default();
        assert!(!c.insert(&big, buckets(1000)));
        assert!(c.get(&big).is_none());
        let off = BucketCache::new(0);
        let s = Slot::default();
        assert!(!off.insert(&s, buckets(1)));
        assert!(off.get(&s).is_none());
        // an entry's bytes are given back with its slot
        let before = c.bytes();
        drop(slots);
        assert!(c.bytes() < before);
    }
}
