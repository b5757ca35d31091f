//! Splits a window `(a, b]` into the pieces that answer it exactly: the
//! coarsest rollup buckets that fit whole inside it (and are already
//! written), recursively finer buckets for the parts left over, and raw
//! samples for what no bucket covers.
//!
//! Raw samples older than raw retention are gone; a raw piece there reads
//! nothing. Rollup retention is longer, so long windows over old data should
//! be aligned to the finest rollup width that is still retained.

use super::SeriesHandle;
use crate::manifest::Version;
use crate::rollup::{bucket_end, floor_to};
use crate::types::TimestampMs;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Piece {
    /// Raw samples with `after < t <= through`.
    Raw {
        after: TimestampMs,
        through: TimestampMs,
    },
    /// Buckets of width `res_s` whose end is in `(after, through]`; `after`
    /// and `through` are multiples of the width.
    Buckets {
        res_s: u32,
        after: TimestampMs,
        through: TimestampMs,
    },
}

pub(crate) fn plan(
    version: &Version,
    h: &SeriesHandle,
    a: TimestampMs,
    b: TimestampMs,
) -> Vec<Piece> {
    plan_with(version, h, a, b, |_| true)
}

/// Like [`plan`], with only the rollup widths that divide `step` and
/// `start`, so that every bucket lies inside one step `(start + k*step,
/// start + (k+1)*step]`.
pub(crate) fn plan_steps(
    version: &Version,
    h: &SeriesHandle,
    start: TimestampMs,
    end: TimestampMs,
    step: i64,
) -> Vec<Piece> {
    plan_with(version, h, start, end, |w| {
        step % w == 0 && start.rem_euclid(w) == 0
    })
}

/// The plan from the series' written rollup widths (in ms) that `usable`
/// accepts.
fn plan_with(
    version: &Version,
    h: &SeriesHandle,
    a: TimestampMs,
    b: TimestampMs,
    usable: impl Fn(i64) -> bool,
) -> Vec<Piece> {
    let mut levels: Vec<(u32, TimestampMs)> = version
        .rollups_through
        .iter()
        .filter(|(r, _)| h.rollups.contains_key(r) && usable(i64::from(**r) * 1000))
        .map(|(r, t)| (*r, *t))
        .collect();
    levels.sort_by_key(|l| std::cmp::Reverse(l.0));
    let mut out = Vec::new();
    split(&levels, a, b, &mut out);
    out
}

/// Every written rollup width of the version: (width in seconds, written
/// through), coarsest first. What [`plan`] uses for a series that has
/// buckets of every width.
pub(crate) fn written_levels(version: &Version) -> Vec<(u32, TimestampMs)> {
    let mut levels: Vec<(u32, TimestampMs)> = version
        .rollups_through
        .iter()
        .map(|(r, t)| (*r, *t))
        .collect();
    levels.sort_by_key(|l| std::cmp::Reverse(l.0));
    levels
}

/// `levels`: (width in seconds, written through), coarsest first.
pub(crate) fn split(
    levels: &[(u32, TimestampMs)],
    a: TimestampMs,
    b: TimestampMs,
    out: &mut Vec<Piece>,
) {
    if a >= b {
        return;
    }
    for (i, &(res_s, written)) in levels.iter().enumerate() {
        let w = i64::from(res_s) * 1000;
        let lo = bucket_end(a, w);
        let hi = floor_to(b.min(written), w);
        if hi > lo {
            split(&levels[i + 1..], a, lo, out);
            out.push(Piece::Buckets {
                res_s,
                after: lo,
                through: hi,
            });
            split(&levels[i + 1..], hi, b, out);
            return;
        }
    }
    out.push(Piece::Raw {
        after: a,
        through: b,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: i64 = 60_000;
    const H: i64 = 60 * M;
    const D: i64 = 24 * H;

    fn run(levels: &[(u32, i64)], a: i64, b: i64) -> Vec<Piece> {
        let mut out = Vec::new();
        split(levels, a, b, &mut out);
        out
    }

    #[test]
    fn coarsest_whole_buckets_then_finer_edges_then_raw() {
        let levels = [(86_400, 10 * D), (3_600, 10 * D), (60, 10 * D)];
        let a = D + 2 * H + 5 * M + 7;
        let b = 4 * D + 3 * H + 30 * M + 9;
        let p = run(&levels, a, b);
        assert_eq!(
            p,
            vec![
                Piece::Raw {
                    after: a,
                    through: D + 2 * H + 6 * M
                },
                Piece::Buckets {
                    res_s: 60,
                    after: D + 2 * H + 6 * M,
                    through: D + 3 * H
                },
                Piece::Buckets {
                    res_s: 3_600,
                    after: D + 3 * H,
                    through: 2 * D
                },
                Piece::Buckets {
                    res_s: 86_400,
                    after: 2 * D,
                    through: 4 * D
                },
                Piece::Buckets {
                    res_s: 3_600,
                    after: 4 * D,
                    through: 4 * D + 3 * H
                },
                Piece::Buckets {
                    res_s: 60,
                    after: 4 * D + 3 * H,
                    through: 4 * D + 3 * H + 30 * M
                },
                Piece::Raw {
                    after: 4 * D + 3 * H + 30 * M,
                    through: b
                },
            ]
        );
        // contiguous cover of (a, b]
        let mut at = a;
        for piece in &p {
            let (after, through) = match *piece {
                Piece::Raw { after, through } | Piece::Buckets { after, through, .. } => {
                    (after, through)
                }
            };
            assert_eq!(after, at);
            at = through;
        }
        assert_eq!(at, b);
    }

    #[test]
    fn unwritten_buckets_are_read_raw() {
        let levels = [(3_600, 2 * H)];
        assert_eq!(
            run(&levels, 0, 5 * H),
            vec![
                Piece::Buckets {
                    res_s: 3_600,
                    after: 0,
                    through: 2 * H
                },
                Piece::Raw {
                    after: 2 * H,
                    through: 5 * H
                }
            ]
        );
        assert_eq!(
            run(&[], 3, 9),
            vec![Piece::Raw {
                after: 3,
                through: 9
            }]
        );
        assert_eq!(run(&levels, 9, 9), vec![]);
    }
}
