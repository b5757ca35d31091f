//! Length-limited canonical Huffman codes over bin indices.
//!
//! Lengths come from package-merge (optimal among prefix codes with no code
//! longer than [`MAX_CODE_LEN`]); codes are canonical (shorter codes first,
//! ties by bin index) and written bit-reversed, so that an LSB-first reader
//! finds the first code bit in bit 0 and one table lookup on the next
//! `table_bits` bits names the bin.

use super::super::CodecError;

/// The longest code: the decode table has at most `2^12` entries (16 KiB),
/// small enough to stay in L1 beside the bin array.
pub(crate) const MAX_CODE_LEN: u32 = 12;

/// Code lengths for symbols with these (non-zero) counts: a single symbol
/// gets length 0 (it needs no bits), otherwise every length is in
/// `1..=max_len` and the code is complete (Kraft sum exactly 1).
/// Requires `counts.len() <= 2^max_len`.
pub(crate) fn code_lengths(counts: &[u64], max_len: u32) -> Vec<u8> {
    let n = counts.len();
    if n <= 1 {
        return vec![0; n];
    }
    debug_assert!(n <= 1 << max_len);
    // Package-merge: items of the finest level are the symbols sorted by
    // weight; each coarser level merges the symbols with pairs ("packages")
    // of the level below. The first 2n - 2 items of the coarsest level are
    // the optimal choice; a symbol's length is how often it is chosen, its
    // leaves counted level by level.
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| (counts[i], i));
    let leaves: Vec<u64> = order.iter().map(|&i| counts[i]).collect();

    // Each level: (weight, leaf index in `order` or None for a package).
    let mut levels: Vec<Vec<(u64, Option<usize>)>> = Vec::with_capacity(max_len as usize);
    let mut prev: Vec<(u64, Option<usize>)> = leaves
        .iter()
        .enumerate()
        .map(|(i, &w)| (w, Some(i)))
        .collect();
    for _ in 1..max_len {
        let packages = prev.chunks_exact(2).map(|p| (p[0].0 + p[1].0, None));
        let mut merged = Vec::with_capacity(n + prev.len() / 2);
        let mut leaf = leaves.iter().enumerate().peekable();
        for pkg in packages {
            while let Some((i, &w)) = leaf.next_if(|&(_, &w)| w <= pkg.0) {
                merged.push((w, Some(i)));
            }
            merged.push(pkg);
        }
        merged.extend(leaf.map(|(i, &w)| (w, Some(i))));
        levels.push(std::mem::replace(&mut prev, merged));
    }
    levels.push(prev);

    let mut lens = vec![0u8; n];
    let mut take = 2 * n - 2;
    for level in levels.iter().rev() {
        let mut packages = 0;
        for &(_, leaf) in &level[..take.min(level.len())] {
            match leaf {
                Some(i) => lens[order[i]] += 1,
                None => packages += 1,
            }
        }
        take = 2 * packages;
    }
    lens
}

/// The canonical codes for `lens`, bit-reversed for LSB-first writing.
/// `lens` must describe a complete code (or a single length-0 symbol).
pub(crate) fn codes(lens: &[u8]) -> Vec<u32> {
    let mut count = [0u32; MAX_CODE_LEN as usize + 1];
    for &l in lens {
        count[usize::from(l)] += 1;
    }
    count[0] = 0;
    let mut next = [0u32; MAX_CODE_LEN as usize + 2];
    let mut code = 0u32;
    for len in 1..=MAX_CODE_LEN as usize {
        code = (code + count[len - 1]) << 1;
        next[len] = code;
    }
    lens.iter()
        .map(|&l| {
            if l == 0 {
                return 0;
            }
            let c = next[usize::from(l)];
            next[usize::from(l)] += 1;
            reverse(c, u32::from(l))
        })
        .collect()
}

fn reverse(code: u32, len: u32) -> u32 {
    code.reverse_bits() >> (32 - len)
}

/// Checks that lengths read from disk form a usable code: each at most
/// [`MAX_CODE_LEN`], and either one symbol of length 0 or a complete code of
/// lengths >= 1 (so every table slot names exactly one symbol). Returns the
/// longest length, the table's index width.
pub(crate) fn check_lengths(lens: &[u8]) -> Result<u32, CodecError> {
    if lens == [0] {
        return Ok(0);
    }
    let mut kraft = 0u64;
    let mut max = 0u32;
    for &l in lens {
        let l = u32::from(l);
        if l == 0 || l > MAX_CODE_LEN {
            return Err(CodecError::Invalid("bins code length outside 1..=12"));
        }
        kraft += 1 << (MAX_CODE_LEN - l);
        max = max.max(l);
    }
    if kraft != 1 << MAX_CODE_LEN {
        return Err(CodecError::Invalid(
            "bins code lengths are not a complete code",
        ));
    }
    Ok(max)
}

/// Fills `table` (length `2^table_bits`) so that entry `peek & mask` is
/// `entry(symbol)` for the code that the low bits of `peek` start with.
/// `lens` must have passed [`check_lengths`] with this `table_bits`.
pub(crate) fn fill_table(
    lens: &[u8],
    table_bits: u32,
    table: &mut [u32],
    mut entry: impl FnMut(usize) -> u32,
) {
    for (sym, (&len, code)) in lens.iter().zip(codes(lens)).enumerate() {
        let e = entry(sym);
        let step = 1usize << len;
        let mut i = code as usize;
        while i < 1 << table_bits {
            table[i] = e;
            i += step;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn kraft(lens: &[u8]) -> f64 {
        lens.iter().map(|&l| 0.5f64.powi(i32::from(l))).sum()
    }

    #[test]
    fn unlimited_lengths_match_huffman() {
        // Classic example: weights 1, 1, 2, 4, 8 -> lengths 4, 4, 3, 2, 1.
        assert_eq!(code_lengths(&[8, 1, 2, 1, 4], 12), vec![1, 4, 3, 4, 2]);
        assert_eq!(code_lengths(&[5, 5], 12), vec![1, 1]);
        assert_eq!(code_lengths(&[7], 12), vec![0]);
    }

    #[test]
    fn a_limit_flattens_skewed_weights() {
        // Fibonacci weights make Huffman as deep as possible.
        let mut w = vec![1u64, 1];
        while w.len() < 20 {
            w.push(w[w.len() - 1] + w[w.len() - 2]);
        }
        let lens = code_lengths(&w, 6);
        assert!(lens.iter().all(|&l| (1..=6).contains(&l)), "{lens:?}");
        assert_eq!(kraft(&lens), 1.0);
        // Heavier symbols never get longer codes.
        for i in 1..w.len() {
            assert!(lens[i] <= lens[i - 1], "{lens:?}");
        }
    }

    #[test]
    fn canonical_codes_are_prefix_free_and_decode_through_the_table() {
        let lens = code_lengths(&[40, 3, 3, 9, 1, 1, 20, 2], 12);
        let bits = check_lengths(&lens).unwrap();
        let mut table = vec![u32::MAX; 1 << bits];
        fill_table(&lens, bits, &mut table, |s| s as u32);
        assert!(table.iter().all(|&e| e != u32::MAX), "every slot filled");
        for (sym, (&len, code)) in lens.iter().zip(codes(&lens)).enumerate() {
            // Any continuation after the code still finds the symbol.
            for tail in [0u32, u32::MAX] {
                let peek = (code | (tail << len)) & ((1 << bits) - 1);
                assert_eq!(table[peek as usize], sym as u32);
            }
        }
    }

    #[test]
    fn bad_lengths_are_refused() {
        assert_eq!(check_lengths(&[0]), Ok(0));
        assert!(check_lengths(&[0, 1]).is_err());
        assert!(check_lengths(&[1, 2]).is_err(), "incomplete");
        assert!(check_lengths(&[1, 1, 1]).is_err(), "over-full");
        assert!(check_lengths(&[13, 13]).is_err());
        assert_eq!(check_lengths(&[1, 2, 2]), Ok(2));
    }

    proptest! {
        #[test]
        fn lengths_are_complete_limited_and_optimal_enough(
            counts in proptest::collection::vec(1u64..100_000, 2..300),
            max_len in 9u32..=12,
        ) {
            let lens = code_lengths(&counts, max_len);
            prop_assert!(lens.iter().all(|&l| l >= 1 && u32::from(l) <= max_len));
            prop_assert_eq!(check_lengths(&lens).map(|_| ()), Ok(()));
            // Within the entropy + 1 bit per symbol bound that unlimited
            // Huffman meets; the limit costs little at these sizes.
            let total: u64 = counts.iter().sum();
            let bits: u64 = counts.iter().zip(&lens).map(|(&c, &l)| c * u64::from(l)).sum();
            let entropy: f64 = counts.iter().map(|&c| {
                let p = c as f64 / total as f64;
                -(c as f64) * p.log2()
            }).sum();
            prop_assert!((bits as f64) <= entropy + total as f64 * 1.05, "{bits} vs {entropy}");
        }
    }
}
