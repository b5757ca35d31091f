//! Label sets shared by every series directory of an engine: each distinct
//! label set is held once, as one `Arc`, so series found in several files
//! are matched by pointer instead of by comparing strings.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;

use super::cache::FastHash;
use crate::types::Labels;

/// Interned label sets. A label set stays while some directory (or handle)
/// holds it; ones only the interner holds are dropped as the set grows.
///
/// Sets are found by [`Labels::hash64`], the hash the head keeps for each
/// of its series, so a head series finds its shared copy without decoding
/// its labels ([`LabelInterner::get_hashed`]).
#[derive(Default)]
pub struct LabelInterner {
    inner: Mutex<Set>,
}

#[derive(Default)]
struct Set {
    by_hash: HashMap<u64, Vec<Arc<Labels>>, FastHash>,
    len: usize,
    /// Size after the last prune; the next prune runs at twice this.
    pruned_at: usize,
}

/// Below this many entries the set is never pruned.
const MIN_PRUNE: usize = 4096;

impl LabelInterner {
    /// The shared copy of `labels`, adding it if new.
    pub fn intern(&self, labels: Labels) -> Arc<Labels> {
        let hash = labels.hash64();
        let mut s = self.inner.lock();
        if let Some(a) = s.find(hash, |l| *l == labels) {
            return a;
        }
        if s.len >= (2 * s.pruned_at).max(MIN_PRUNE) {
            s.by_hash.retain(|_, v| {
                v.retain(|a| Arc::strong_count(a) > 1);
                !v.is_empty()
            });
            s.len = s.by_hash.values().map(Vec::len).sum();
            s.pruned_at = s.len;
        }
        let a = Arc::new(labels);
        s.by_hash.entry(hash).or_default().push(Arc::clone(&a));
        s.len += 1;
        a
    }

    /// The shared copy of `labels` if some holder has it.
    pub fn get(&self, labels: &Labels) -> Option<Arc<Labels>> {
        self.get_hashed(labels.hash64(), |l| l == labels)
    }

    /// The shared copy of the label set whose [`Labels::hash64`] is `hash`
    /// and for which `is` holds, if some holder has it.
    pub fn get_hashed(&self, hash: u64, is: impl Fn(&Labels) -> bool) -> Option<Arc<Labels>> {
        self.inner.lock().find(hash, is)
    }

    /// Number of label sets held (live or not yet pruned).
    pub fn len(&self) -> usize {
        self.inner.lock().len
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Set {
    fn find(&self, hash: u64, is: impl Fn(&Labels) -> bool) -> Option<Arc<Labels>> {
        self.by_hash
            .get(&hash)?
            .iter()
            .find(|a| is(a))
            .map(Arc::clone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_label_sets_share_one_arc_and_unused_ones_are_pruned() {
        let i = LabelInterner::default();
        let a = i.intern(Labels::from_pairs(&[("a", "1")]));
        let b = i.intern(Labels::from_pairs(&[("a", "1")]));
        assert!(Arc::ptr_eq(&a, &b));
        let c = i.intern(Labels::from_pairs(&[("a", "2")]));
        assert!(!Arc::ptr_eq(&a, &c));
        assert!(i.get(&Labels::from_pairs(&[("a", "2")])).is_some());
        assert!(i.get(&Labels::from_pairs(&[("a", "3")])).is_none());
        drop(c);
        for n in 0..MIN_PRUNE + 1 {
            drop(i.intern(Labels::from_pairs(&[("n", n.to_string())])));
        }
        // the dropped ones went in the prune; `a` is still held
        assert!(i.len() < MIN_PRUNE);
        assert!(i.get(&Labels::from_pairs(&[("a", "1")])).is_some());
        assert!(i.get(&Labels::from_pairs(&[("a", "2")])).is_none());
    }
}
