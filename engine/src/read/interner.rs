//! Label sets shared by every series directory of an engine: each distinct
//! label set is held once, as one `Arc`, so series found in several files
//! are matched by pointer instead of by comparing strings.

use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::types::Labels;

/// Interned label sets. A label set stays while some directory (or handle)
/// holds it; ones only the interner holds are dropped as the set grows.
#[derive(Default)]
pub struct LabelInterner {
    inner: Mutex<Set>,
}

#[derive(Default)]
struct Set {
    set: HashSet<Key>,
    /// Size after the last prune; the next prune runs at twice this.
    pruned_at: usize,
}

/// Hashes and compares by content; the `Borrow` impl lets a plain
/// `&Labels` look one up.
struct Key(Arc<Labels>);

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        self.0 == other.0
    }
}
impl Eq for Key {}
impl Hash for Key {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.0.hash(h);
    }
}
impl std::borrow::Borrow<Labels> for Key {
    fn borrow(&self) -> &Labels {
        &self.0
    }
}

/// Below this many entries the set is never pruned.
const MIN_PRUNE: usize = 4096;

impl LabelInterner {
    /// The shared copy of `labels`, adding it if new.
    pub fn intern(&self, labels: Labels) -> Arc<Labels> {
        let mut s = self.inner.lock();
        if let Some(k) = s.set.get(&labels) {
            return Arc::clone(&k.0);
        }
        if s.set.len() >= (2 * s.pruned_at).max(MIN_PRUNE) {
            s.set.retain(|k| Arc::strong_count(&k.0) > 1);
            s.pruned_at = s.set.len();
        }
        let a = Arc::new(labels);
        s.set.insert(Key(Arc::clone(&a)));
        a
    }

    /// The shared copy of `labels` if some holder has it.
    pub fn get(&self, labels: &Labels) -> Option<Arc<Labels>> {
        self.inner.lock().set.get(labels).map(|k| Arc::clone(&k.0))
    }

    /// Number of label sets held (live or not yet pruned).
    pub fn len(&self) -> usize {
        self.inner.lock().set.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
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
