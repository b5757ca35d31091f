//! Decoded rollup buckets, per series and file, bounded by bytes. Rollup
//! files are immutable and small per series (a month of 1 h buckets is 744
//! rows), so a dashboard or SLO that asks about the same series again finds
//! them decoded instead of rebuilding decoders and decoding pages.
//!
//! Eviction is by two generations, an approximation of LRU that costs O(1)
//! per access: new and re-used entries go to the hot map; when the hot map
//! holds half the budget it becomes the cold map (the old cold one is
//! dropped); a hit in the cold map moves the entry back to the hot one.
//! Together they never hold more than the budget (plus one entry).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::rollup::Bucket;

/// (file id, series ordinal in the file).
pub type CacheKey = (u64, u32);

/// The default budget: 64 MiB holds the 1 h and 1 d buckets of 1,000
/// counters for about a year.
pub const DEFAULT_BUCKET_CACHE_BYTES: usize = 64 << 20;

/// Bytes an entry is charged besides its buckets (map slot, `Arc` header).
const ENTRY_OVERHEAD: usize = 64;

pub struct BucketCache {
    budget: usize,
    gens: Mutex<Generations>,
}

type Map = HashMap<CacheKey, Arc<[Bucket]>, FastHash>;

/// For maps keyed by integers the engine chooses (file ids, ordinals,
/// addresses), not by users.
pub(crate) type FastHash = BuildHasherDefault<KeyHasher>;

#[derive(Default)]
struct Generations {
    hot: Map,
    hot_bytes: usize,
    cold: Map,
    cold_bytes: usize,
}

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
            gens: Mutex::new(Generations::default()),
        }
    }

    pub fn get(&self, key: CacheKey) -> Option<Arc<[Bucket]>> {
        let mut g = self.gens.lock();
        if let Some(b) = g.hot.get(&key) {
            return Some(Arc::clone(b));
        }
        let b = g.cold.remove(&key)?;
        g.cold_bytes -= charge(&b);
        self.put(&mut g, key, Arc::clone(&b));
        Some(b)
    }

    pub fn insert(&self, key: CacheKey, buckets: Arc<[Bucket]>) {
        if charge(&buckets) > self.budget / 2 {
            return;
        }
        let mut g = self.gens.lock();
        if let Some(old) = g.cold.remove(&key) {
            g.cold_bytes -= charge(&old);
        }
        self.put(&mut g, key, buckets);
    }

    fn put(&self, g: &mut Generations, key: CacheKey, b: Arc<[Bucket]>) {
        let n = charge(&b);
        if g.hot_bytes + n > self.budget / 2 {
            g.cold = std::mem::take(&mut g.hot);
            g.cold_bytes = g.hot_bytes;
            g.hot_bytes = 0;
        }
        if let Some(old) = g.hot.insert(key, b) {
            g.hot_bytes -= charge(&old);
        }
        g.hot_bytes += n;
    }

    /// Bytes charged to the entries held now.
    pub fn bytes(&self) -> usize {
        let g = self.gens.lock();
        g.hot_bytes + g.cold_bytes
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
        for i in 0..100u32 {
            c.insert((1, i), buckets(10));
            // entry 0 is used all the time, so it survives every rotation
            assert!(c.get((1, 0)).is_some(), "after {i}");
            assert!(c.bytes() <= 10 * one);
        }
        assert!(c.get((1, 99)).is_some());
        assert!(c.get((1, 50)).is_none());
        assert!(c.get((2, 0)).is_none());
        // too big for the budget: not kept
        c.insert((3, 0), buckets(1000));
        assert!(c.get((3, 0)).is_none());
        let off = BucketCache::new(0);
        off.insert((1, 1), buckets(1));
        assert!(off.get((1, 1)).is_none());
    }
}
