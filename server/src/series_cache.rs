//! Head series of recently written label sets, keyed by their wire bytes.
//!
//! Agents send the same series in every request, with their labels encoded
//! the same way each time. Decoding them (a UTF-8 check and two strings per
//! label, a sort) and resolving them in the head (hashing the strings,
//! comparing them with the stored copy) cost about half of the server's CPU
//! per sample under gRPC and remote-write ingest. This cache maps the exact
//! bytes of a series' label fields to the engine's [`SeriesRef`], so a
//! repeated series costs one hash of its bytes, one map probe and one
//! comparison.
//!
//! Entries are only added after the labels decoded and resolved without
//! error, so skipping the checks on a hit is exact: the same bytes always
//! decode to the same label set. Entries hold weak handles: a series the
//! head has since forgotten (idle) is freed and counts as a miss. Two generations bound the size: lookups
//! read both and move hits to the young one; when the young one is full it
//! becomes the old one and the old one is dropped, so series written in
//! every request stay and the rest age out.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;

use nines_engine::{Engine, SeriesBatch, SeriesRef, WeakSeriesRef};
use parking_lot::Mutex;

use crate::decode::CacheMiss;

const SHARDS: usize = 16;

/// The key hash is already mixed: use it as the map's hash.
#[derive(Default)]
struct Identity(u64);

impl std::hash::Hasher for Identity {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, _: &[u8]) {
        unreachable!("keys are u64")
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

type Map = HashMap<u64, Entry, BuildHasherDefault<Identity>>;

struct Entry {
    key: Box<[u8]>,
    /// Weak: a series the head forgets is freed, not kept by the cache.
    series: WeakSeriesRef,
}

#[derive(Default)]
struct Shard {
    young: Map,
    old: Map,
}

/// See the module documentation. `Sync`: shared by every connection.
pub struct SeriesCache {
    shards: Box<[Mutex<Shard>]>,
    /// Entries per generation per shard.
    generation: usize,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl SeriesCache {
    /// A cache of about `capacity` label sets (up to twice that while a
    /// generation turns over); 0 turns it off.
    pub fn new(capacity: usize) -> SeriesCache {
        SeriesCache {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            generation: capacity.div_ceil(SHARDS),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    pub fn enabled(&self) -> bool {
        self.generation > 0
    }

    fn shard(&self, hash: u64) -> &Mutex<Shard> {
        &self.shards[(hash >> 60) as usize % SHARDS]
    }

    /// The live head series written before under exactly these label bytes.
    pub fn get(&self, hash: u64, key: &[u8]) -> Option<SeriesRef> {
        self.get_matching(hash, |k| k == key)
    }

    /// [`SeriesCache::get`] for a key the caller compares without building
    /// it: `is_key` says whether a stored key is the one looked for.
    /// Lookups are not counted here (see [`SeriesCache::count`]).
    pub fn get_matching(&self, hash: u64, is_key: impl Fn(&[u8]) -> bool) -> Option<SeriesRef> {
        if !self.enabled() {
            return None;
        }
        self.lookup(hash, is_key)
    }

    /// Adds one request's lookups to the counters `/metrics` shows: once
    /// per request, not per series (the counters are shared by every
    /// connection, and an atomic add per series from two cores at once
    /// was a contended cache line per lookup).
    pub fn count(&self, hits: usize, misses: usize) {
        if hits > 0 {
            self.hits.fetch_add(hits as u64, Relaxed);
        }
        if misses > 0 {
            self.misses.fetch_add(misses as u64, Relaxed);
        }
    }

    /// (hits, misses) since start, for `/metrics`.
    pub fn counts(&self) -> (u64, u64) {
        (self.hits.load(Relaxed), self.misses.load(Relaxed))
    }

    fn lookup(&self, hash: u64, is_key: impl Fn(&[u8]) -> bool) -> Option<SeriesRef> {
        let mut shard = self.shard(hash).lock();
        if let Some(e) = shard.young.get(&hash) {
            if !is_key(&e.key) {
                return None;
            }
            let series = e.series.upgrade();
            if series.is_none() {
                shard.young.remove(&hash);
            }
            return series;
        }
        let e = shard.old.remove(&hash)?;
        if !is_key(&e.key) {
            return None;
        }
        let series = e.series.upgrade()?;
        self.put(&mut shard, hash, e);
        Some(series)
    }

    /// Remembers the head series of `key` (replacing what a hash collision
    /// or a dropped series left there).
    pub fn insert(&self, hash: u64, key: Box<[u8]>, series: SeriesRef) {
        if !self.enabled() {
            return;
        }
        let mut shard = self.shard(hash).lock();
        shard.old.remove(&hash);
        let series = series.downgrade();
        self.put(&mut shard, hash, Entry { key, series });
    }

    fn put(&self, shard: &mut Shard, hash: u64, e: Entry) {
        if shard.young.len() >= self.generation && !shard.young.contains_key(&hash) {
            shard.old = std::mem::take(&mut shard.young);
        }
        shard.young.insert(hash, e);
    }

    /// After a cached decode: resolves the series the cache missed, hands
    /// each its handle and remembers it. Series whose samples the append
    /// will refuse whole (none, or columns of different lengths) and label
    /// sets the head refuses are left to the append, which reports them.
    pub fn remember(&self, engine: &Engine, series: &mut [SeriesBatch], misses: Vec<CacheMiss>) {
        for m in misses {
            let Some(sb) = series.get_mut(m.index) else {
                continue;
            };
            if sb.timestamps.is_empty() || sb.timestamps.len() != sb.values.len() {
                continue;
            }
            if let Ok(r) = engine.resolve(&sb.labels) {
                self.insert(m.hash, m.key, r.clone());
                sb.resolved = Some(r);
            }
        }
    }

    /// Entries held (both generations), for tests and `/metrics`.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| {
                let s = s.lock();
                s.young.len() + s.old.len()
            })
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A 64-bit hash of label bytes: eight bytes at a time through a folded
/// 128-bit multiply. Not keyed: a crafted collision only costs a miss, the
/// bytes are compared on every hit.
pub fn key_hash(b: &[u8]) -> u64 {
    let mut h = K0 ^ (b.len() as u64);
    let mut words = b.chunks_exact(8);
    for w in &mut words {
        let mut a = [0u8; 8];
        a.copy_from_slice(w);
        h = fold(h ^ u64::from_le_bytes(a), K1);
    }
    let rest = words.remainder();
    if !rest.is_empty() {
        let mut a = [0u8; 8];
        a[..rest.len()].copy_from_slice(rest);
        h = fold(h ^ u64::from_le_bytes(a), K1);
    }
    fold(h, K0)
}

const K0: u64 = 0x9e37_79b9_7f4a_7c15;
const K1: u64 = 0xbf58_476d_1ce4_e5b9;

#[inline]
fn fold(a: u64, m: u64) -> u64 {
    let p = u128::from(a).wrapping_mul(u128::from(m));
    (p as u64) ^ ((p >> 64) as u64)
}

/// A 64-bit hash of a sequence of strings from their [`key_hash`]es, in
/// order: a compact series' labels hashed from its request's symbols, each
/// symbol hashed once per request however many series use it.
#[inline]
pub fn sequence_hash(hashes: impl ExactSizeIterator<Item = u64>) -> u64 {
    let mut h = K1 ^ (hashes.len() as u64);
    for x in hashes {
        h = fold(h ^ x, K0);
    }
    fold(h, K1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use nines_engine::{EngineOptions, Labels};

    fn engine(dir: &std::path::Path) -> Engine {
        Engine::open(EngineOptions::new(dir).background(false)).unwrap()
    }

    #[test]
    fn hits_need_the_same_bytes_and_a_live_series() {
        let dir = tempfile::tempdir().unwrap();
        let e = engine(dir.path());
        let r = e
            .resolve(&Labels::from_pairs(&[("__name__", "a")]))
            .unwrap();
        let c = SeriesCache::new(64);
        let key = b"\x0a\x0c\x0a\x08__name__\x12\x01a".to_vec();
        let h = key_hash(&key);
        assert_eq!(c.get(h, &key), None);
        c.insert(h, key.clone().into_boxed_slice(), r.clone());
        assert_eq!(c.get(h, &key), Some(r));
        // Same hash slot, other bytes: a miss, never the wrong series.
        assert_eq!(c.get(h, b"other"), None);
        c.count(1, 2);
        assert_eq!(c.counts(), (1, 2));
        assert_eq!(SeriesCache::new(0).get(h, &key), None);
    }

    #[test]
    fn generations_keep_what_is_used_and_bound_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let e = engine(dir.path());
        let c = SeriesCache::new(SHARDS * 4);
        let hot = b"hot".to_vec();
        let hot_ref = e
            .resolve(&Labels::from_pairs(&[("__name__", "hot")]))
            .unwrap();
        c.insert(
            key_hash(&hot),
            hot.clone().into_boxed_slice(),
            hot_ref.clone(),
        );
        for i in 0..2000 {
            let k = format!("k{i}").into_bytes();
            let r = e
                .resolve(&Labels::from_pairs(&[(
                    "__name__",
                    format!("m{i}").as_str(),
                )]))
                .unwrap();
            c.insert(key_hash(&k), k.into_boxed_slice(), r);
            assert_eq!(c.get(key_hash(&hot), &hot).as_ref(), Some(&hot_ref), "{i}");
        }
        assert!(c.len() <= 2 * SHARDS * 4, "{}", c.len());
    }

    #[test]
    fn key_hash_spreads_near_keys() {
        let mut seen = std::collections::HashSet::new();
        for i in 0..100_000u32 {
            let k = format!("job=api,pod=pod-{i:06}");
            assert!(seen.insert(key_hash(k.as_bytes())));
        }
        assert_ne!(key_hash(b""), key_hash(b"\0"));
        assert_ne!(key_hash(b"a"), key_hash(b"a\0"));
    }
}
