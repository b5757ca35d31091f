//! The hot loop: Huffman-coded bin indices with raw offsets, in [`LANES`]
//! interleaved bit streams so that the CPU decodes several symbols at once
//! (a lane's next symbol waits on its previous one; lanes do not wait on
//! each other).
//!
//! A lane is a bit position. A refill loads the 8 bytes at `pos / 8` and
//! shifts out `pos % 8` bits, keeping 57 valid bits: enough for
//! `per_refill` symbols when no symbol (code + offset) is longer than
//! `57 / per_refill` bits. Per symbol, one lookup of the low `table_bits`
//! bits gives the bin, the code length and the symbol's total length; the
//! offset is the bits after the code, masked to the bin's width, added to its
//! lower bound. The buffer carries [`PAD`] zero bytes past the last lane so
//! that every position inside a lane can load 8 bytes.

use super::super::CodecError;

/// Bit streams per page; symbol `j` of a page lives in lane `j % LANES`.
pub(crate) const LANES: usize = 4;
/// Zero bytes after the lanes in the decode buffer.
pub(crate) const PAD: usize = 8;
/// Valid bits after a refill.
pub(crate) const REFILL_BITS: u32 = 57;
/// Most symbols decoded per refill: columns of short symbols (7 bits or
/// less) decoded 4-5 % faster at 8 than at 6.
pub(crate) const MAX_PER_REFILL: u32 = 8;

/// A decode table entry: total length (code + offset bits) in bits 0..8,
/// code length in bits 8..16, bin index in bits 24..32 (one shift extracts
/// it).
#[inline]
pub(crate) fn entry(bin: usize, code_len: u32, total: u32) -> u32 {
    total | (code_len << 8) | ((bin as u32) << 24)
}

/// The bins as the decoder uses them: `[i]` is bin `i`'s lower bound (as
/// u64 bits), `[256 + i]` its offset mask `2^obits - 1`. One array, so that
/// both are one base register and a constant displacement apart.
pub(crate) type DecodeBins = [u64; 512];

/// The chunk's tables.
pub(crate) struct Tables<'a> {
    /// `2^table_bits` entries (see [`entry`]).
    pub(crate) table: &'a [u32],
    pub(crate) bins: &'a DecodeBins,
}

/// Where decoded residuals go: the predictor turns them into values.
pub(crate) trait Sink {
    fn put(&mut self, slot: &mut i64, residual: i64);
}

/// Order 0: the residual is the value.
pub(crate) struct Plain;
impl Sink for Plain {
    #[inline(always)]
    fn put(&mut self, slot: &mut i64, residual: i64) {
        *slot = residual;
    }
}

/// Order 1: running sum from the page's first value.
pub(crate) struct Sum(pub(crate) i64);
impl Sink for Sum {
    #[inline(always)]
    fn put(&mut self, slot: &mut i64, residual: i64) {
        self.0 = self.0.wrapping_add(residual);
        *slot = self.0;
    }
}

/// Order 2: the residual changes the running delta, which moves the value.
pub(crate) struct Sum2 {
    pub(crate) value: i64,
    pub(crate) delta: i64,
}
impl Sink for Sum2 {
    #[inline(always)]
    fn put(&mut self, slot: &mut i64, residual: i64) {
        self.delta = self.delta.wrapping_add(residual);
        self.value = self.value.wrapping_add(self.delta);
        *slot = self.value;
    }
}

/// Grid: `next` is the grid value of the next row.
pub(crate) struct OnGrid {
    pub(crate) next: i64,
    pub(crate) step: i64,
}
impl Sink for OnGrid {
    #[inline(always)]
    fn put(&mut self, slot: &mut i64, residual: i64) {
        *slot = residual.wrapping_add(self.next);
        self.next = self.next.wrapping_add(self.step);
    }
}

/// The 8 bytes at bit `pos`, shifted so that bit `pos` is bit 0.
#[inline(always)]
fn load(buf: &[u8], pos: usize) -> Result<u64, CodecError> {
    let bytes = buf
        .get(pos >> 3..)
        .and_then(|s| s.first_chunk::<8>())
        .ok_or(CodecError::Truncated)?;
    Ok(u64::from_le_bytes(*bytes) >> (pos & 7))
}

/// The next [`REFILL_BITS`] bits at `pos`, with a marker bit above them:
/// as symbols shift out, the marker's position counts the bits used.
#[inline(always)]
fn refill(buf: &[u8], pos: usize) -> Result<u64, CodecError> {
    const MARKER: u64 = 1 << REFILL_BITS;
    Ok((load(buf, pos)? & (MARKER - 1)) | MARKER)
}

/// Bits shifted out of a buffer from [`refill`].
#[inline(always)]
fn used(bits: u64) -> usize {
    (bits.leading_zeros() - (63 - REFILL_BITS)) as usize
}

/// Decodes the symbol at the bottom of `bits` (which holds all of it) and
/// shifts it out.
#[inline(always)]
fn symbol(t: &Tables<'_>, bits: &mut u64) -> i64 {
    // `table.len()` is a power of two: the mask keeps the index in bounds.
    let e = t.table[*bits as usize & (t.table.len() - 1)];
    let bin = (e >> 24) as usize;
    let offset = (*bits >> ((e >> 8) & 63)) & t.bins[256 + bin];
    // `total <= 57` for the tables the fast loop runs on.
    *bits >>= e & 63;
    t.bins[bin].wrapping_add(offset) as i64
}

/// Decodes `out.len()` symbols from the lanes starting at bit positions
/// `pos` of `buf` into `sink`, advancing `pos`. `per_refill` symbols of the
/// column fit in [`REFILL_BITS`]; 0 means some do not (offsets up to 64
/// bits), which takes the slow loop. A position that runs past the buffer is
/// an error; the caller checks where each lane ended.
pub(crate) fn decode_lanes(
    t: &Tables<'_>,
    per_refill: u32,
    buf: &[u8],
    pos: &mut [usize; LANES],
    out: &mut [i64],
    sink: &mut impl Sink,
) -> Result<(), CodecError> {
    if per_refill == 0 {
        return decode_any(t, buf, pos, out, sink);
    }
    decode_fast(t, per_refill, buf, pos, out, sink)
}

/// Refills every lane, then decodes `per_refill` rounds of one symbol per
/// lane; the last partial block refills before each symbol.
#[inline(always)]
fn decode_fast(
    t: &Tables<'_>,
    per_refill: u32,
    buf: &[u8],
    pos: &mut [usize; LANES],
    out: &mut [i64],
    sink: &mut impl Sink,
) -> Result<(), CodecError> {
    let [mut p0, mut p1, mut p2, mut p3] = *pos;
    let mut blocks = out.chunks_exact_mut(LANES * per_refill as usize);
    for block in &mut blocks {
        let mut b0 = refill(buf, p0)?;
        let mut b1 = refill(buf, p1)?;
        let mut b2 = refill(buf, p2)?;
        let mut b3 = refill(buf, p3)?;
        for g in block.chunks_exact_mut(LANES) {
            let v0 = symbol(t, &mut b0);
            let v1 = symbol(t, &mut b1);
            let v2 = symbol(t, &mut b2);
            let v3 = symbol(t, &mut b3);
            sink.put(&mut g[0], v0);
            sink.put(&mut g[1], v1);
            sink.put(&mut g[2], v2);
            sink.put(&mut g[3], v3);
        }
        p0 += used(b0);
        p1 += used(b1);
        p2 += used(b2);
        p3 += used(b3);
    }
    // The last partial block: one symbol per refill, lanes in turn.
    let mut lanes = [p0, p1, p2, p3];
    for (i, o) in blocks.into_remainder().iter_mut().enumerate() {
        let p = &mut lanes[i % LANES];
        let mut bits = refill(buf, *p)?;
        let v = symbol(t, &mut bits);
        *p += used(bits);
        sink.put(o, v);
    }
    *pos = lanes;
    Ok(())
}

/// The general loop: the code from one load, the offset (up to 64 bits)
/// from one or two more.
fn decode_any(
    t: &Tables<'_>,
    buf: &[u8],
    pos: &mut [usize; LANES],
    out: &mut [i64],
    sink: &mut impl Sink,
) -> Result<(), CodecError> {
    for (i, o) in out.iter_mut().enumerate() {
        let p = &mut pos[i % LANES];
        let word = load(buf, *p)?;
        let e = t.table[word as usize & (t.table.len() - 1)];
        let bin = (e >> 24) as usize;
        let mask = t.bins[256 + bin];
        let at = *p + ((e >> 8) & 0xff) as usize;
        let lo = load(buf, at)?;
        let offset = if mask >> (REFILL_BITS - 1) == 0 {
            lo & mask
        } else {
            // More than 56 bits: the low 32 and then the rest.
            (lo & 0xffff_ffff) | ((load(buf, at + 32)? & (mask >> 32)) << 32)
        };
        *p += (e & 0xff) as usize;
        sink.put(o, t.bins[bin].wrapping_add(offset) as i64);
    }
    Ok(())
}
