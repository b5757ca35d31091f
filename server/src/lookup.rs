//! The metadata questions both APIs answer (label names, label values,
//! series), over the union of several selectors, on one snapshot. Blocking:
//! call from a blocking thread.

use std::collections::BTreeSet;

use nines_engine::index::Matcher;
use nines_engine::{Engine, Labels, Result};

/// Label names of the series any selector matches in `[start, end]` (all
/// series when there is no selector), sorted.
pub fn label_names(
    engine: &Engine,
    selectors: &[Vec<Matcher>],
    start: i64,
    end: i64,
) -> Result<Vec<String>> {
    let snap = engine.snapshot();
    let mut all = BTreeSet::new();
    for m in or_all(selectors) {
        all.extend(snap.label_names(m, start, end)?);
    }
    Ok(all.into_iter().collect())
}

/// Values of label `name` among the series any selector matches (all series
/// when there is no selector), sorted.
pub fn label_values(
    engine: &Engine,
    name: &str,
    selectors: &[Vec<Matcher>],
    start: i64,
    end: i64,
) -> Result<Vec<String>> {
    let snap = engine.snapshot();
    let mut all = BTreeSet::new();
    for m in or_all(selectors) {
        all.extend(snap.label_values(name, m, start, end)?);
    }
    Ok(all.into_iter().collect())
}

/// The label sets of the series any selector matches, sorted.
pub fn series(
    engine: &Engine,
    selectors: &[Vec<Matcher>],
    start: i64,
    end: i64,
) -> Result<Vec<Labels>> {
    let snap = engine.snapshot();
    let mut all = BTreeSet::new();
    for m in selectors {
        for h in snap.select(m, start, end)? {
            all.insert(h.labels);
        }
    }
    Ok(all
        .into_iter()
        .map(std::sync::Arc::unwrap_or_clone)
        .collect())
}

/// The selectors, or one empty matcher list (every series) when there are none.
fn or_all(selectors: &[Vec<Matcher>]) -> &[Vec<Matcher>] {
    const ALL: &[Vec<Matcher>] = &[Vec::new()];
    if selectors.is_empty() {
        ALL
    } else {
        selectors
    }
}
