//! Series-parallel work: the items handed out one by one to scoped threads,
//! results in input order. Each thread has its own [`Scratch`] and drops the
//! items it took (dropping thousands of series handles is not free). The
//! first error stops the others at their next item.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use nines_engine::read::ReadScratch;

use super::Evaluator;
use crate::error::QueryError;

/// Below this many items per thread, one thread does it all.
const MIN_ITEMS_PER_THREAD: usize = 8;

fn threads() -> usize {
    static N: OnceLock<usize> = OnceLock::new();
    *N.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Per-thread buffers: the engine's decode scratch and one series' samples.
#[derive(Default)]
pub(crate) struct Scratch {
    pub read: ReadScratch,
    pub ts: Vec<i64>,
    pub vs: Vec<f64>,
}

impl Evaluator<'_> {
    /// `f` over every item, on up to all cores; checks cancellation and the
    /// timeout between items.
    pub fn par_map<T, R, F>(&self, items: Vec<T>, f: F) -> Result<Vec<R>, QueryError>
    where
        T: Send,
        R: Send,
        F: Fn(&T, &mut Scratch) -> Result<R, QueryError> + Sync,
    {
        let n = threads().min(items.len() / MIN_ITEMS_PER_THREAD).max(1);
        if n == 1 {
            let mut scratch = Scratch::default();
            return items
                .into_iter()
                .map(|it| {
                    self.check("expression evaluation")?;
                    f(&it, &mut scratch)
                })
                .collect();
        }
        // Items are handed out one at a time, so that threads stay busy
        // when series differ in size; each result keeps its index.
        let total = items.len();
        let slots: Vec<Mutex<Option<T>>> = items.into_iter().map(|t| Mutex::new(Some(t))).collect();
        let next = AtomicUsize::new(0);
        let failed = AtomicBool::new(false);
        let results: Vec<Result<Vec<(usize, R)>, QueryError>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..n)
                .map(|_| {
                    let (f, failed, next, slots) = (&f, &failed, &next, &slots);
                    s.spawn(move || {
                        let mut scratch = Scratch::default();
                        let mut out = Vec::new();
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            if i >= total || failed.load(Ordering::Relaxed) {
                                break;
                            }
                            let item = match slots[i].lock() {
                                Ok(mut slot) => slot.take(),
                                Err(_) => None,
                            };
                            let Some(item) = item else {
                                continue;
                            };
                            let r = self
                                .check("expression evaluation")
                                .and_then(|()| f(&item, &mut scratch));
                            drop(item);
                            match r {
                                Ok(r) => out.push((i, r)),
                                Err(e) => {
                                    failed.store(true, Ordering::Relaxed);
                                    return Err(e);
                                }
                            }
                        }
                        Ok(out)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(QueryError::Execution("query worker thread panicked".into()))
                    })
                })
                .collect()
        });
        let mut all = Vec::with_capacity(total);
        for r in results {
            all.extend(r?);
        }
        all.sort_unstable_by_key(|(i, _)| *i);
        Ok(all.into_iter().map(|(_, r)| r).collect())
    }
}
