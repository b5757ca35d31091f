//! Series-parallel work: contiguous chunks of a slice on scoped threads,
//! results in input order. Each thread has its own read scratch; the first
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

impl Evaluator<'_> {
    /// `f` over every item, on up to all cores; checks cancellation and the
    /// timeout between items.
    pub fn par_map<T, R, F>(&self, items: &[T], f: F) -> Result<Vec<R>, QueryError>
    where
        T: Sync,
        R: Send,
        F: Fn(&T, &mut ReadScratch) -> Result<R, QueryError> + Sync,
    {
        let n = threads().min(items.len() / MIN_ITEMS_PER_THREAD).max(1);
        if n == 1 {
            let mut scratch = ReadScratch::default();
            return items
                .iter()
                .map(|it| {
                    self.check("expression evaluation")?;
                    f(it, &mut scratch)
                })
                .collect();
        }
        let failed = AtomicBool::new(false);
        let chunk = items.len().div_ceil(n);
        let results: Vec<Result<Vec<R>, QueryError>> = std::thread::scope(|s| {
            let handles: Vec<_> = items
                .chunks(chunk)
                .map(|part| {
                    let (f, failed) = (&f, &failed);
                    s.spawn(move || {
                        let mut scratch = ReadScratch::default();
                        let mut out = Vec::with_capacity(part.len());
                        for it in part {
                            if failed.load(Ordering::Relaxed) {
                                break;
                            }
                            let r = self
                                .check("expression evaluation")
                                .and_then(|()| f(it, &mut scratch));
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
        let mut out = Vec::with_capacity(items.len());
        // The first error in input order wins, as in a sequential run.
        for r in results {
            out.extend(r?);
        }
        Ok(out)
    }
}
