//! The head's label index: for every `(name, value)` pair the roaring bitmap
//! of head series ids that carry it. Changed only when a series is created or
//! dropped, so one lock around it is enough.

use std::collections::{BTreeMap, HashMap};

use roaring::RoaringBitmap;

use crate::index::LabelIndex;
use crate::types::Labels;

#[derive(Debug, Default)]
pub(crate) struct MemPostings {
    /// Values per name are kept sorted so that listing them needs no sort.
    by_name: HashMap<Box<str>, BTreeMap<Box<str>, RoaringBitmap>>,
    all: RoaringBitmap,
}

impl MemPostings {
    pub fn add(&mut self, id: u32, labels: &Labels) {
        self.all.insert(id);
        for l in labels.iter() {
            let values = self.by_name.entry(l.name.as_str().into()).or_default();
            match values.get_mut(l.value.as_str()) {
                Some(p) => {
                    p.insert(id);
                }
                None => {
                    values.insert(l.value.as_str().into(), std::iter::once(id).collect());
                }
            }
        }
    }

    pub fn remove(&mut self, id: u32, labels: &Labels) {
        self.all.remove(id);
        for l in labels.iter() {
            let Some(values) = self.by_name.get_mut(l.name.as_str()) else {
                continue;
            };
            if let Some(p) = values.get_mut(l.value.as_str()) {
                p.remove(id);
                if p.is_empty() {
                    values.remove(l.value.as_str());
                }
            }
            if values.is_empty() {
                self.by_name.remove(l.name.as_str());
            }
        }
    }

    pub fn label_names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(|k| &**k)
    }

    /// The values of `name` (sorted) with their postings.
    pub fn values(&self, name: &str) -> impl Iterator<Item = (&str, &RoaringBitmap)> {
        self.by_name
            .get(name)
            .into_iter()
            .flat_map(|m| m.iter().map(|(k, v)| (&**k, v)))
    }
}

impl LabelIndex for MemPostings {
    fn all_postings(&self) -> RoaringBitmap {
        self.all.clone()
    }

    fn postings(&self, name: &str, value: &str) -> RoaringBitmap {
        self.by_name
            .get(name)
            .and_then(|m| m.get(value))
            .cloned()
            .unwrap_or_default()
    }

    fn postings_where(&self, name: &str, pred: &dyn Fn(&str) -> bool) -> RoaringBitmap {
        let mut acc = RoaringBitmap::new();
        for (v, p) in self.values(name) {
            if pred(v) {
                acc |= p;
            }
        }
        acc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_remove_keeps_index_exact() {
        let mut p = MemPostings::default();
        let a = Labels::from_pairs(&[("__name__", "x"), ("job", "a")]);
        let b = Labels::from_pairs(&[("__name__", "x"), ("job", "b")]);
        p.add(1, &a);
        p.add(2, &b);
        assert_eq!(p.postings("__name__", "x").len(), 2);
        assert_eq!(
            p.values("job").map(|(v, _)| v).collect::<Vec<_>>(),
            vec!["a", "b"]
        );
        p.remove(1, &a);
        assert_eq!(
            p.values("job").map(|(v, _)| v).collect::<Vec<_>>(),
            vec!["b"]
        );
        assert_eq!(p.all_postings().iter().collect::<Vec<_>>(), vec![2]);
        p.remove(2, &b);
        assert_eq!(p.label_names().count(), 0);
        assert!(p.all_postings().is_empty());
    }
}
