//! Series-parallel work: contiguous chunks of the items on scoped threads,
//! results in input order. Each thread has its own [`Scratch`] and drops its
//! own items (dropping thousands of series handles is not free). The first
//! error stops the others at their next item.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

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
        let chunk = items.len().div_ceil(n);
        let mut parts: Vec<Vec<T>> = Vec::with_capacity(n);
        let mut rest = items;
        while rest.len() > chunk {
            let tail = rest.split_off(chunk);
            parts.push(rest);
            rest = tail;
        }
        parts.push(rest);
        let failed = AtomicBool::new(false);
        let results: Vec<Result<Vec<R>, QueryError>> = std::thread::scope(|s| {
            let handles: Vec<_> = parts
                .into_iter()
                .map(|part| {
                    let (f, failed) = (&f, &failed);
                    s.spawn(move || {
                        let mut scratch = Scratch::default();
                        let mut out = Vec::with_capacity(part.len());
                        for it in part {
                            if failed.load(Ordering::Relaxed) {
                                break;
                            }
                            let r = self
                                .check("expression evaluation")
                                .and_then(|()| f(&it, &mut scratch));
                            match r {
                                Ok(r) => out.push(r),
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
        let mut out = Vec::new();
        // The first error in input order wins, as in a sequential run.
        for r in results {
            out.extend(r?);
        }
        Ok(out)
    }
}
