//! Label indexes: matchers and the postings algebra shared by the head's
//! in-memory index and each segment's on-disk index.
//!
//! Both indexes map a `(name, value)` pair to a roaring bitmap of series
//! ordinals (head series ids, or a segment's series numbers); selecting series
//! by matchers is set algebra over those bitmaps ([`select`]).

mod matcher;
pub mod selector;

pub use matcher::{matches_all, MatchOp, Matcher, MatcherError};
use roaring::RoaringBitmap;
pub use selector::{parse_selector, SelectorError};

/// What a label index offers to [`select`].
pub trait LabelIndex {
    /// Every series in the index.
    fn all_postings(&self) -> RoaringBitmap;
    /// The series with label `name="value"` (empty when there are none).
    fn postings(&self, name: &str, value: &str) -> RoaringBitmap;
    /// The union of the postings of every value of `name` that `pred` accepts.
    fn postings_where(&self, name: &str, pred: &dyn Fn(&str) -> bool) -> RoaringBitmap;
}

/// The series that every matcher accepts.
///
/// Matchers that reject the empty value narrow the set by intersection;
/// matchers that accept it (`=""`, `!=`, `!~`, `=~".*"`) can only remove
/// series, so they are applied last by subtracting the series whose value
/// they reject.
pub fn select(index: &impl LabelIndex, matchers: &[Matcher]) -> RoaringBitmap {
    let mut narrowed: Option<RoaringBitmap> = None;
    for m in matchers.iter().filter(|m| !m.matches_empty()) {
        let p = match m.exact_values() {
            Some(values) => {
                let mut u = RoaringBitmap::new();
                for v in values {
                    u |= index.postings(&m.name, v);
                }
                u
            }
            None => index.postings_where(&m.name, &|v| m.matches(v)),
        };
        let next = match narrowed {
            None => p,
            Some(acc) => acc & p,
        };
        if next.is_empty() {
            return next;
        }
        narrowed = Some(next);
    }
    let mut result = narrowed.unwrap_or_else(|| index.all_postings());
    for m in matchers.iter().filter(|m| m.matches_empty()) {
        if result.is_empty() {
            break;
        }
        result -= index.postings_where(&m.name, &|v| !m.matches(v));
    }
    result
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::types::Labels;

    /// A naive index over a list of label sets, for checking `select`.
    struct VecIndex(Vec<Labels>);

    impl LabelIndex for VecIndex {
        fn all_postings(&self) -> RoaringBitmap {
            (0..self.0.len() as u32).collect()
        }
        fn postings(&self, name: &str, value: &str) -> RoaringBitmap {
            self.postings_where(name, &|v| v == value)
        }
        fn postings_where(&self, name: &str, pred: &dyn Fn(&str) -> bool) -> RoaringBitmap {
            let mut by_value: BTreeMap<&str, RoaringBitmap> = BTreeMap::new();
            for (i, l) in self.0.iter().enumerate() {
                if let Some(v) = l.get(name) {
                    by_value.entry(v).or_default().insert(i as u32);
                }
            }
            by_value
                .into_iter()
                .filter(|(v, _)| pred(v))
                .fold(RoaringBitmap::new(), |acc, (_, p)| acc | p)
        }
    }

    fn idx() -> VecIndex {
        VecIndex(vec![
            Labels::from_pairs(&[("__name__", "req"), ("code", "200"), ("job", "api")]),
            Labels::from_pairs(&[("__name__", "req"), ("code", "500"), ("job", "api")]),
            Labels::from_pairs(&[("__name__", "req"), ("code", "200")]),
            Labels::from_pairs(&[("__name__", "up"), ("job", "web")]),
        ])
    }

    fn sel(ms: &[(MatchOp, &str, &str)]) -> Vec<u32> {
        let ms: Vec<Matcher> = ms
            .iter()
            .map(|(op, n, v)| Matcher::new(*op, *n, *v).unwrap())
            .collect();
        let got: Vec<u32> = select(&idx(), &ms).iter().collect();
        let want: Vec<u32> = idx()
            .0
            .iter()
            .enumerate()
            .filter(|(_, l)| matches_all(&ms, l))
            .map(|(i, _)| i as u32)
            .collect();
        assert_eq!(got, want, "select disagrees with per-series matching");
        got
    }

    #[test]
    fn select_agrees_with_matching_each_series() {
        use MatchOp::*;
        assert_eq!(sel(&[(Equal, "__name__", "req")]), vec![0, 1, 2]);
        assert_eq!(
            sel(&[(Equal, "__name__", "req"), (Equal, "job", "")]),
            vec![2]
        );
        assert_eq!(
            sel(&[(Equal, "__name__", "req"), (NotEqual, "code", "200")]),
            vec![1]
        );
        assert_eq!(
            sel(&[(RegexMatch, "code", "5.."), (Equal, "job", "api")]),
            vec![1]
        );
        assert_eq!(sel(&[(RegexNoMatch, "job", "api|web")]), vec![2]);
        assert_eq!(sel(&[(RegexMatch, "job", ".*")]), vec![0, 1, 2, 3]);
        assert_eq!(sel(&[(RegexMatch, "job", "api|nope")]), vec![0, 1]);
        assert_eq!(sel(&[(Equal, "__name__", "nope")]), Vec::<u32>::new());
    }
}
