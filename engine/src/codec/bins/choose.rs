//! Choosing bins: which ranges of symbol values share a Huffman code, each
//! value then stored as its offset from the bin's lower bound in the bin's
//! `obits` raw bits.
//!
//! The symbols are sorted into a fine histogram (every distinct value, or
//! equal-count groups of them when there are many), then an exact dynamic
//! program over the fine bins merges neighbours into the partition that
//! minimises the estimated size: per bin, `count × (ideal code length +
//! obits)` plus the bits its table entry costs.

use crate::bytes::zigzag;

/// Most bins a column may have (a bin index fits a byte).
pub(crate) const MAX_BINS: usize = 256;

/// Fine bins the dynamic program starts from; more finds slightly better
/// partitions at quadratic cost.
const MAX_FINE: usize = 256;

/// Estimated table bits per bin besides its lower bound: 4 (code length) +
/// 7 (offset bits), plus a little for the Huffman code's distance from the
/// ideal lengths the program assumes.
const BIN_COST_BITS: f64 = 13.0;

/// A chosen bin: the symbols in `min..=max` (by value), `count` of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Group {
    pub(crate) min: i64,
    pub(crate) max: i64,
    pub(crate) count: u64,
}

impl Group {
    /// Offset bits the group needs: the bit length of `max - min`.
    pub(crate) fn obits(&self) -> u32 {
        64 - (self.max.wrapping_sub(self.min) as u64).leading_zeros()
    }
}

/// Partitions of `symbols` into at most [`MAX_BINS`] groups, in value
/// order, to be compared by their exact encoded size: one group per fine
/// bin when that is few enough, and the dynamic program's optimum (its size
/// model ignores how far Huffman lengths fall from the ideal ones, so either
/// can win: on the bench's columns by up to 2 %). Never empty.
pub(crate) fn candidates(symbols: &[i64]) -> Vec<Vec<Group>> {
    let fine = fine_bins(symbols);
    if fine.len() <= 1 {
        // No symbols (a column of one-row pages under `Delta`) still needs a
        // bin for the table to be valid.
        let only = fine.first().copied().unwrap_or(Group {
            min: 0,
            max: 0,
            count: 0,
        });
        return vec![vec![only]];
    }
    let mut bin_cost = BIN_COST_BITS;
    let merged = loop {
        let groups = partition(&fine, bin_cost);
        if groups.len() <= MAX_BINS {
            break groups;
        }
        // Dearer bins until few enough: terminates, since at a cost above
        // the total bits a single group wins.
        bin_cost *= 2.0;
    };
    if fine.len() <= MAX_BINS && fine != merged {
        vec![fine, merged]
    } else {
        vec![merged]
    }
}

/// A quick size estimate for comparing predictors: bits if the residuals'
/// distances from their median were binned by bit length (what a log-scale
/// bin table would give), entropy-coded bin plus raw bits below the top one.
pub(crate) fn rough_bits(symbols: &[i64]) -> f64 {
    if symbols.is_empty() {
        return 0.0;
    }
    let mut sample: Vec<i64> = symbols
        .iter()
        .step_by(symbols.len().div_ceil(1024))
        .copied()
        .collect();
    let mid = sample.len() / 2;
    let centre = *sample.select_nth_unstable(mid).1;
    let mut hist = [0u64; 65];
    for &s in symbols {
        let z = zigzag(s.wrapping_sub(centre));
        hist[(64 - z.leading_zeros()) as usize] += 1;
    }
    let n = symbols.len() as f64;
    hist.iter()
        .enumerate()
        .filter(|&(_, &c)| c > 0)
        .map(|(len, &c)| {
            let c = c as f64;
            c * ((n / c).log2() + len.saturating_sub(1) as f64)
        })
        .sum()
}

/// Distinct values with their counts, merged into at most [`MAX_FINE`]
/// groups of about equal count when there are more.
fn fine_bins(symbols: &[i64]) -> Vec<Group> {
    let mut sorted = symbols.to_vec();
    sorted.sort_unstable();
    let mut distinct: Vec<Group> = Vec::new();
    for &v in &sorted {
        match distinct.last_mut() {
            Some(g) if g.max == v => g.count += 1,
            _ => distinct.push(Group {
                min: v,
                max: v,
                count: 1,
            }),
        }
    }
    if distinct.len() <= MAX_FINE {
        return distinct;
    }
    let target = (symbols.len() as u64).div_ceil(MAX_FINE as u64);
    let mut fine: Vec<Group> = Vec::with_capacity(MAX_FINE + 1);
    for d in distinct {
        match fine.last_mut() {
            Some(g) if g.count < target => {
                g.max = d.max;
                g.count += d.count;
            }
            _ => fine.push(d),
        }
    }
    fine
}

/// The optimum (under the size model) over merges of neighbouring fine
/// bins, `O(n²)`.
fn partition(fine: &[Group], bin_cost: f64) -> Vec<Group> {
    let total: u64 = fine.iter().map(|g| g.count).sum();
    let log_total = (total as f64).log2();
    let mut prefix = Vec::with_capacity(fine.len() + 1);
    prefix.push(0u64);
    for g in fine {
        prefix.push(prefix[prefix.len() - 1] + g.count);
    }
    // Table bits of a group's lower bound when it starts at fine[i]: one for
    // a bin that follows the previous one, else a gap (see `BinTable`).
    let lower_bits: Vec<f64> = (0..fine.len())
        .map(|i| {
            let gap = match i.checked_sub(1) {
                None => fine[0].min,
                Some(p) => fine[i].min.wrapping_sub(fine[p].max).wrapping_sub(1),
            };
            match gap {
                0 => 1.0,
                g => f64::from(8 + 64 - zigzag(g).leading_zeros()),
            }
        })
        .collect();
    // best[j]: cheapest cover of fine[..j]; from[j]: where its last group starts.
    let mut best = vec![0f64; fine.len() + 1];
    let mut from = vec![0usize; fine.len() + 1];
    for j in 1..=fine.len() {
        let max = fine[j - 1].max;
        let mut best_j = f64::INFINITY;
        let mut from_j = 0;
        for i in (0..j).rev() {
            let count = prefix[j] - prefix[i];
            let span = max.wrapping_sub(fine[i].min) as u64;
            let obits = f64::from(64 - span.leading_zeros());
            let c = count as f64;
            let cost =
                best[i] + c * (log_total - approx_log2(c) + obits) + bin_cost + lower_bits[i];
            if cost < best_j {
                best_j = cost;
                from_j = i;
            }
        }
        best[j] = best_j;
        from[j] = from_j;
    }
    let mut groups = Vec::new();
    let mut j = fine.len();
    while j > 0 {
        let i = from[j];
        groups.push(Group {
            min: fine[i].min,
            max: fine[j - 1].max,
            count: prefix[j] - prefix[i],
        });
        j = i;
    }
    groups.reverse();
    groups
}

/// `log2(x)` for `x >= 1` within about 0.01: exponent plus a quadratic
/// through the mantissa. The program only compares estimates, and the exact
/// logarithm made it several times slower.
fn approx_log2(x: f64) -> f64 {
    let bits = x.to_bits();
    let exponent = ((bits >> 52) & 0x7ff) as f64 - 1023.0;
    let m = f64::from_bits((bits & ((1 << 52) - 1)) | (1023 << 52)) - 1.0; // in [0, 1)
    exponent + m * (1.3465 - 0.3465 * m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn approx_log2_is_close() {
        for x in [1.0, 1.5, 2.0, 3.0, 1000.0, 65537.0, 1e12] {
            let err: f64 = approx_log2(x) - f64::log2(x);
            assert!(err.abs() < 0.01, "{x}: {err}");
        }
    }

    #[test]
    fn rough_bits_prefer_the_better_predictor() {
        let walk: Vec<i64> = (0..4096i64)
            .map(|i| 1_000_000 + i * 7 + (i * 31 % 5))
            .collect();
        let deltas: Vec<i64> = walk.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(rough_bits(&deltas) * 4.0 < rough_bits(&walk));
    }

    #[test]
    fn few_distinct_values_get_a_bin_each() {
        let symbols: Vec<i64> = (0..1000).map(|i| [3, 5, 5, 9, 5, 3, 5, 5][i % 8]).collect();
        let groups = &candidates(&symbols)[0];
        let got: Vec<(i64, u64)> = groups.iter().map(|g| (g.min, g.count)).collect();
        assert_eq!(got, vec![(3, 250), (5, 625), (9, 125)]);
        assert!(groups.iter().all(|g| g.obits() == 0));
    }

    #[test]
    fn uniform_values_share_wide_bins() {
        // 0..4096 uniform: one bin of 12 offset bits is optimal.
        let symbols: Vec<i64> = (0..16384)
            .map(|i| (i * 2654435761u64 as i64) & 4095)
            .collect();
        let all = candidates(&symbols);
        assert!(all.iter().any(|g| g.len() <= 4), "{all:?}");
    }

    #[test]
    fn extremes_need_64_offset_bits_or_separate_bins() {
        let symbols = [i64::MIN, i64::MAX, 0, i64::MIN, i64::MAX];
        for groups in candidates(&symbols) {
            assert_eq!(groups.iter().map(|g| g.count).sum::<u64>(), 5);
            for w in groups.windows(2) {
                assert!(w[0].max < w[1].min);
            }
        }
        let whole = Group {
            min: i64::MIN,
            max: i64::MAX,
            count: 1,
        };
        assert_eq!(whole.obits(), 64);
    }

    #[test]
    fn many_distinct_values_stay_under_the_bin_limit() {
        // Values spread over 2^40 with a heavy centre.
        let symbols: Vec<i64> = (0..20_000i64)
            .map(|i| {
                let x = i.wrapping_mul(0x9e37_79b9_7f4a_7c15u64 as i64);
                if i % 3 == 0 {
                    x >> 24
                } else {
                    x >> 50
                }
            })
            .collect();
        for groups in candidates(&symbols) {
            assert!(groups.len() <= MAX_BINS);
            assert_eq!(groups.iter().map(|g| g.count).sum::<u64>(), 20_000);
        }
    }
}
