//! A set of series ids: a bitset for the dense ids the head hands out, with
//! a hash set above a bound so a stray huge id (or one read from a damaged
//! file) cannot make it allocate hundreds of MiB.

use std::collections::HashSet;

/// Ids below this live in the bitset (8 MiB at most).
const DENSE_LIMIT: u32 = 1 << 26;

#[derive(Debug, Default)]
pub struct IdSet {
    words: Vec<u64>,
    sparse: HashSet<u32>,
}

impl IdSet {
    /// Adds `id`; true when it was not there yet.
    #[inline]
    pub fn insert(&mut self, id: u32) -> bool {
        if id >= DENSE_LIMIT {
            return self.sparse.insert(id);
        }
        let (w, bit) = ((id / 64) as usize, 1u64 << (id % 64));
        if w >= self.words.len() {
            self.words.resize(w + 1, 0);
        }
        let fresh = self.words[w] & bit == 0;
        self.words[w] |= bit;
        fresh
    }

    pub fn remove(&mut self, id: u32) {
        if id >= DENSE_LIMIT {
            self.sparse.remove(&id);
        } else if let Some(w) = self.words.get_mut((id / 64) as usize) {
            *w &= !(1u64 << (id % 64));
        }
    }

    #[inline]
    pub fn contains(&self, id: u32) -> bool {
        if id >= DENSE_LIMIT {
            return self.sparse.contains(&id);
        }
        self.words
            .get((id / 64) as usize)
            .is_some_and(|w| w & (1u64 << (id % 64)) != 0)
    }

    /// Empties the set, keeping its allocation for the next file.
    pub fn clear(&mut self) {
        self.words.fill(0);
        self.sparse.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_and_sparse_ids() {
        let mut s = IdSet::default();
        for id in [0, 63, 64, 1000, DENSE_LIMIT - 1, DENSE_LIMIT, u32::MAX] {
            assert!(!s.contains(id));
            assert!(s.insert(id));
            assert!(!s.insert(id));
            assert!(s.contains(id));
        }
        assert!(s.words.len() <= (DENSE_LIMIT / 64) as usize);
        s.remove(63);
        s.remove(u32::MAX);
        assert!(!s.contains(63) && !s.contains(u32::MAX) && s.contains(64));
        s.clear();
        assert!(!s.contains(64) && !s.contains(DENSE_LIMIT));
    }
}
