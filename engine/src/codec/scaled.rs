//! f64 columns whose values are `m / 10^d` for integers `m` (d = 0: integral
//! values), stored as the i64 column of the `m`s plus a short list of
//! exceptions for the rows that are not (a stale-marker NaN in a counter, a
//! -0.0). Every mapping is checked bit for bit at encode time with the same
//! arithmetic the decoder uses, so the round trip is exact by construction.

use super::bits::{put_varint, ByteReader};
use super::CodecError;

/// Powers of ten, each exact in f64 (10^d is exact up to d = 22).
const POW10: [f64; 19] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18,
];
pub(crate) const MAX_DECIMALS: u8 = 18;

/// The decoder's mapping from `m` back to the value.
#[inline]
pub(crate) fn unscale(m: i64, decimals: u8) -> f64 {
    if decimals == 0 {
        m as f64
    } else {
        m as f64 / POW10[usize::from(decimals)]
    }
}

/// `out[i] = unscale(ints[i], decimals)` for a whole page, bit-identical to
/// the scalar mapping. Decoding a scaled column spends its time here: the
/// conversion to f64 has no vector instruction before AVX-512, so where
/// every integer of the page is below 2^51 in magnitude (nearly always) it
/// takes the exact add-and-subtract route ([`small_to_f64`]), which
/// vectorises; the division by 10^d runs four lanes at a time where the CPU
/// has AVX2 (measured 2-3x the SSE2 baseline on this project's machines).
pub(crate) fn unscale_all(ints: &[i64], decimals: u8, out: &mut [f64]) {
    let how = How::of(ints, decimals);
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the running CPU supports AVX2, checked just above; the
        // function is otherwise ordinary safe code.
        unsafe { fill_avx2(ints, how, out) };
        return;
    }
    fill(ints, how, out);
}

/// [`unscale_all`] appending to `out` instead of overwriting a slice: the
/// read path's buffers need no zero-filling first.
pub(crate) fn unscale_extend(ints: &[i64], decimals: u8, out: &mut Vec<f64>) {
    let how = How::of(ints, decimals);
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: as in `unscale_all`.
        unsafe { extend_avx2(ints, how, out) };
        return;
    }
    extend(ints, how, out);
}

/// Magnitudes below this convert by [`small_to_f64`].
const SMALL: i64 = 1 << 51;
/// 2^52 + 2^51: doubles from it to 2^53 are spaced exactly 1 apart.
const MAGIC: f64 = 6_755_399_441_055_744.0;

/// `m as f64` for `-2^51 <= m < 2^51`, exactly: `MAGIC + m` is a double
/// whose bits are `MAGIC`'s plus `m` (the integer lies in `MAGIC`'s binade
/// where doubles step by 1), and subtracting `MAGIC` is exact. Both sides are
/// the exact value of `m`, so the bits equal `m as f64`'s (zero gives +0.0).
#[inline(always)]
fn small_to_f64(m: i64) -> f64 {
    f64::from_bits(MAGIC.to_bits().wrapping_add(m as u64)) - MAGIC
}

/// How a page maps its integers: division or not, and which conversion.
#[derive(Clone, Copy)]
enum How {
    Int { small: bool },
    Div { small: bool, p: f64 },
}

impl How {
    #[inline(always)]
    fn of(ints: &[i64], decimals: u8) -> How {
        // Every m in [-2^51, 2^51): m + 2^51 below 2^52.
        let small = ints
            .iter()
            .fold(0u64, |acc, &m| acc | m.wrapping_add(SMALL) as u64)
            >> 52
            == 0;
        if decimals == 0 {
            How::Int { small }
        } else {
            How::Div {
                small,
                p: POW10[usize::from(decimals.min(MAX_DECIMALS))],
            }
        }
    }
}

#[inline(always)]
fn fill(ints: &[i64], how: How, out: &mut [f64]) {
    let pairs = out.iter_mut().zip(ints);
    match how {
        How::Int { small: true } => pairs.for_each(|(o, &m)| *o = small_to_f64(m)),
        How::Int { small: false } => pairs.for_each(|(o, &m)| *o = m as f64),
        How::Div { small: true, p } => pairs.for_each(|(o, &m)| *o = small_to_f64(m) / p),
        How::Div { small: false, p } => pairs.for_each(|(o, &m)| *o = m as f64 / p),
    }
}

#[inline(always)]
fn extend(ints: &[i64], how: How, out: &mut Vec<f64>) {
    let m = ints.iter().copied();
    match how {
        How::Int { small: true } => out.extend(m.map(small_to_f64)),
        How::Int { small: false } => out.extend(m.map(|m| m as f64)),
        How::Div { small: true, p } => out.extend(m.map(|m| small_to_f64(m) / p)),
        How::Div { small: false, p } => out.extend(m.map(|m| m as f64 / p)),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn fill_avx2(ints: &[i64], how: How, out: &mut [f64]) {
    fill(ints, how, out);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn extend_avx2(ints: &[i64], how: How, out: &mut Vec<f64>) {
    extend(ints, how, out);
}

/// `m` with `unscale(m, d)` bit-identical to `v`, if there is one.
#[inline]
fn scale(v: f64, decimals: u8) -> Option<i64> {
    let scaled = (v * POW10[usize::from(decimals)]).round();
    // NaN and anything beyond this (where `as i64` would saturate) fail.
    if scaled.is_nan() || scaled.abs() >= 9.0e18 {
        return None;
    }
    let m = scaled as i64;
    (unscale(m, decimals).to_bits() == v.to_bits()).then_some(m)
}

/// How many exceptions a column of `n` rows may have and still use a scaled
/// encoding: about 3 %, and at least one.
pub(crate) fn max_exceptions(n: usize) -> usize {
    1 + n / 32
}

/// Rows whose value the main encoding does not hold, with their raw bits.
/// Rows strictly increase.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Exceptions {
    rows: Vec<usize>,
    bits: Vec<u64>,
}

impl Exceptions {
    pub(crate) fn len(&self) -> usize {
        self.rows.len()
    }

    /// Count, then per exception the row (first absolute, later ones as the
    /// number of rows skipped since the previous) and the 8 value bytes.
    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        put_varint(out, self.rows.len() as u64);
        let mut next = 0usize;
        for (&row, &bits) in self.rows.iter().zip(&self.bits) {
            put_varint(out, (row - next) as u64);
            out.extend_from_slice(&bits.to_le_bytes());
            next = row + 1;
        }
    }

    pub(crate) fn parse(r: &mut ByteReader<'_>) -> Result<Self, CodecError> {
        // Each exception takes at least 9 bytes: bounds the allocation.
        let count = r.count(r.rest().len() / 9)?;
        let mut ex = Exceptions {
            rows: Vec::with_capacity(count),
            bits: Vec::with_capacity(count),
        };
        let mut next = 0usize;
        for _ in 0..count {
            let skip = usize::try_from(r.varint()?).ok();
            let row = skip
                .and_then(|s| next.checked_add(s))
                .ok_or(CodecError::Invalid("exception row overflows"))?;
            ex.rows.push(row);
            ex.bits.push(r.u64_le()?);
            next = row
                .checked_add(1)
                .ok_or(CodecError::Invalid("exception row overflows"))?;
        }
        Ok(ex)
    }

    /// Overwrites the rows of `out` (rows `first_row..first_row + out.len()`)
    /// that are exceptions.
    pub(crate) fn patch(&self, first_row: usize, out: &mut [f64]) {
        if self.rows.is_empty() {
            return;
        }
        let lo = self.rows.partition_point(|&r| r < first_row);
        for (&row, &bits) in self.rows[lo..].iter().zip(&self.bits[lo..]) {
            match out.get_mut(row - first_row) {
                Some(o) => *o = f64::from_bits(bits),
                None => break,
            }
        }
    }
}

/// The i64 column and exceptions of a scaled encoding.
pub(crate) struct Scaled {
    pub(crate) decimals: u8,
    pub(crate) ints: Vec<i64>,
    pub(crate) exceptions: Exceptions,
}

/// Finds the fewest decimals that represent all but a few values, or `None`
/// when no decimal count up to [`MAX_DECIMALS`] does.
pub(crate) fn analyze(values: &[f64]) -> Option<Scaled> {
    let limit = max_exceptions(values.len());
    // How many values need exactly d decimals.
    let mut need = [0usize; MAX_DECIMALS as usize + 1];
    let mut unrepresentable = 0usize;
    for &v in values {
        let d = (0..=MAX_DECIMALS).find(|&d| scale(v, d).is_some());
        match d {
            Some(d) => need[usize::from(d)] += 1,
            None => {
                unrepresentable += 1;
                if unrepresentable > limit {
                    return None;
                }
            }
        }
    }
    let mut over = values.len();
    let mut decimals = None;
    for (d, &count) in need.iter().enumerate() {
        over -= count;
        if over <= limit {
            decimals = Some(d as u8);
            break;
        }
    }
    let decimals = decimals?;

    let mut ints = Vec::with_capacity(values.len());
    let mut exceptions = Exceptions::default();
    let mut prev: Option<i64> = None;
    for (row, &v) in values.iter().enumerate() {
        match scale(v, decimals) {
            Some(m) => {
                ints.push(m);
                prev = Some(m);
            }
            None => {
                // Placeholder: the previous value, so deltas stay small;
                // leading exceptions are fixed up below.
                ints.push(prev.unwrap_or(0));
                exceptions.rows.push(row);
                exceptions.bits.push(v.to_bits());
                if exceptions.len() > limit {
                    return None;
                }
            }
        }
    }
    // Rows before the first representable value had no previous value.
    let first_good = exceptions
        .rows
        .iter()
        .enumerate()
        .take_while(|&(i, &row)| i == row)
        .count();
    let fill = *ints.get(first_good)?;
    ints[..first_good].fill(fill);
    Some(Scaled {
        decimals,
        ints,
        exceptions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The page-wide mapping (vectorised where the CPU allows) is the
        /// scalar one, bit for bit.
        #[test]
        fn unscale_all_is_unscale(
            ints in prop_oneof![
                prop::collection::vec(any::<i64>(), 0..300),
                prop::collection::vec(-1_000_000_000i64..1_000_000_000, 0..300),
                // pages at the fast conversion's limit, all inside or some out
                prop::collection::vec(
                    prop_oneof![
                        (-(1i64 << 51))..(-(1i64 << 51) + 3),
                        ((1i64 << 51) - 3)..(1i64 << 51),
                        -3i64..3,
                    ],
                    0..300,
                ),
                prop::collection::vec(
                    prop_oneof![
                        (-(1i64 << 51) - 2)..(-(1i64 << 51) + 2),
                        ((1i64 << 51) - 2)..((1i64 << 51) + 2),
                    ],
                    0..300,
                ),
            ],
            d in 0..=MAX_DECIMALS,
        ) {
            let mut out = vec![0.0; ints.len()];
            unscale_all(&ints, d, &mut out);
            let mut appended = vec![1.5];
            unscale_extend(&ints, d, &mut appended);
            prop_assert_eq!(appended.len(), ints.len() + 1);
            for ((&m, o), a) in ints.iter().zip(&out).zip(&appended[1..]) {
                prop_assert_eq!(o.to_bits(), unscale(m, d).to_bits());
                prop_assert_eq!(a.to_bits(), unscale(m, d).to_bits());
            }
        }
    }
}
