//! `Bins`: i64 columns as a prediction residual per row (none, the delta from
//! the previous row, the change of that delta, or the distance from a grid),
//! each residual split into a *bin* (a range `lower .. lower + 2^obits`)
//! whose index is Huffman-coded and an offset stored raw in `obits` bits. Built to decode fast: one table
//! lookup per row names the bin and both bit lengths, and each page keeps
//! four interleaved bit streams ([`decode::LANES`]) so that rows decode in
//! parallel. Sizes stay within a few percent of pco's on the counters and
//! decimals it is chosen for.
//!
//! Meta (after the tag): `u8 predictor`, for `Grid` `zz t0, zz step`, then
//! `varint n_bins` (1..=256) and a bit-packed bin table (see [`BinTable`]).
//! Page: for `Delta` and `Delta2` `zz` of the page's first value, for
//! `Delta2` with two rows or more then `zz` of its first delta; the
//! `varint` byte lengths of all lanes but the last; the lanes. Symbol `j` of the page is
//! in lane `j % LANES`; a lane holds, per symbol, the bin's code then its
//! offset, LSB-first, zero-padded to a byte.

mod choose;
mod decode;
mod huffman;
#[cfg(test)]
mod tests;

use super::bits::{put_varint, put_zigzag, BitReader, BitWriter, ByteReader};
use super::{CodecError, EncodedColumn};
use choose::Group;
use decode::{DecodeBins, Tables, LANES, MAX_PER_REFILL, PAD, REFILL_BITS};
use huffman::MAX_CODE_LEN;

/// How a row's residual is predicted. Values are on disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Predictor {
    /// The residual is the value (order 0).
    None = 0,
    /// The residual is `v_i - v_{i-1}`; a page stores its first value.
    Delta = 1,
    /// The residual is `v_i - (t0 + i * step)` for chunk row `i`.
    Grid = 2,
    /// The residual is the change of the delta, `v_i - 2 v_{i-1} + v_{i-2}`;
    /// a page stores its first value and first delta (codec v1.2). Counters
    /// whose rate drifts (daily traffic) have far narrower residuals under
    /// it than under `Delta`.
    Delta2 = 3,
}

impl TryFrom<u8> for Predictor {
    type Error = CodecError;
    fn try_from(b: u8) -> Result<Self, CodecError> {
        match b {
            0 => Ok(Predictor::None),
            1 => Ok(Predictor::Delta),
            2 => Ok(Predictor::Grid),
            3 => Ok(Predictor::Delta2),
            _ => Err(CodecError::Invalid("unknown bins predictor")),
        }
    }
}

/// Bits of the field that holds a bit count `0..=64`.
const LEN_FIELD_BITS: u32 = 7;
/// Bits of a code length `0..=12`.
const CODE_LEN_BITS: u32 = 4;
/// Groups spanning fewer values than this map symbols to bins through a
/// table (at most 64 KiB) rather than a binary search.
const LOOKUP_SPAN: u64 = 1 << 16;

/// Encodes `values` (non-empty, `page_lens` checked) into `meta` (after the
/// caller's tag) and pages. The predictor is the one with the smallest quick
/// estimate, then the bins the candidate with the smallest exact size.
/// `grid_step` (else the mean slope) is the step of the `Grid` predictor.
pub(crate) fn encode(
    values: &[i64],
    page_lens: &[usize],
    grid_step: Option<i64>,
    meta: Vec<u8>,
) -> Option<EncodedColumn> {
    if values.is_empty() {
        return None;
    }
    let mut best: Option<(f64, Predictor, Vec<i64>)> = None;
    let mut consider = |pred: Predictor, residuals: Vec<i64>, extra_bits: usize| {
        let bits = choose::rough_bits(&residuals) + extra_bits as f64;
        if best.as_ref().is_none_or(|b| bits < b.0) {
            best = Some((bits, pred, residuals));
        }
    };
    consider(Predictor::None, values.to_vec(), 0);
    let anchor_bits = page_starts(page_lens)
        .map(|s| varint_len(values[s]) * 8)
        .sum();
    consider(Predictor::Delta, deltas(values, page_lens), anchor_bits);
    let anchor2_bits = page_starts(page_lens)
        .zip(page_lens)
        .map(|(s, &len)| match len {
            1 => varint_len(values[s]) * 8,
            _ => (varint_len(values[s]) + varint_len(values[s + 1].wrapping_sub(values[s]))) * 8,
        })
        .sum();
    consider(Predictor::Delta2, deltas2(values, page_lens), anchor2_bits);
    // Without a majority step, the mean slope: a grid that jitters on every
    // row has no majority step, and its residuals are still far smaller than
    // its deltas.
    let step = grid_step.or_else(|| mean_step(values));
    if let Some(step) = step {
        consider(Predictor::Grid, grid_residuals(values, step), 0);
    }
    let (_, pred, residuals) = best?;
    let groups = choose::candidates(&residuals)
        .into_iter()
        .min_by_key(|groups| BinTable::new(groups).size_bits(groups))?;
    Some(write_column(
        values,
        page_lens,
        pred,
        step.unwrap_or(0),
        &residuals,
        &groups,
        meta,
    ))
}

/// The residuals of `values` under `Grid` with `step` and `t0 = values[0]`.
fn grid_residuals(values: &[i64], step: i64) -> Vec<i64> {
    let t0 = values.first().copied().unwrap_or(0);
    values
        .iter()
        .enumerate()
        .map(|(i, &v)| v.wrapping_sub(grid_at(t0, step, i)))
        .collect()
}

/// The residuals of `values` under `pred` (page by page for `Delta`).
#[cfg(test)]
fn residuals(values: &[i64], page_lens: &[usize], pred: Predictor, step: i64) -> Vec<i64> {
    match pred {
        Predictor::None => values.to_vec(),
        Predictor::Delta => deltas(values, page_lens),
        Predictor::Grid => grid_residuals(values, step),
        Predictor::Delta2 => deltas2(values, page_lens),
    }
}

/// Writes the meta and pages for `residuals` of `pred` binned into `groups`,
/// which must cover every residual, sorted and disjoint.
fn write_column(
    values: &[i64],
    page_lens: &[usize],
    pred: Predictor,
    step: i64,
    residuals: &[i64],
    groups: &[Group],
    mut meta: Vec<u8>,
) -> EncodedColumn {
    let table = BinTable::new(groups);
    meta.push(pred as u8);
    if pred == Predictor::Grid {
        put_zigzag(&mut meta, values.first().copied().unwrap_or(0));
        put_zigzag(&mut meta, step);
    }
    table.write(&mut meta);

    let mut pages = Vec::with_capacity(page_lens.len());
    let mut start = 0usize;
    // `residuals` skips each page's first row for `Delta`, its first two
    // for `Delta2`.
    let mut sym_start = 0usize;
    for &len in page_lens {
        let mut page = Vec::new();
        let n_sym = match pred {
            Predictor::Delta => {
                put_zigzag(&mut page, values[start]);
                len - 1
            }
            Predictor::Delta2 => {
                put_zigzag(&mut page, values[start]);
                if len >= 2 {
                    put_zigzag(&mut page, values[start + 1].wrapping_sub(values[start]));
                }
                len.saturating_sub(2)
            }
            Predictor::None | Predictor::Grid => len,
        };
        let syms = &residuals[sym_start..sym_start + n_sym];
        write_lanes(&table, groups, syms, &mut page);
        pages.push(page);
        start += len;
        sym_start += n_sym;
    }
    EncodedColumn { meta, pages }
}

/// `(last - first) / (rows - 1)` rounded, if not zero.
fn mean_step(values: &[i64]) -> Option<i64> {
    let (first, last) = (*values.first()?, *values.last()?);
    let gaps = i128::try_from(values.len()).ok()? - 1;
    if gaps < 1 {
        return None;
    }
    let rise = i128::from(last) - i128::from(first);
    let step = (rise + rise.signum() * gaps / 2) / gaps;
    i64::try_from(step).ok().filter(|&s| s != 0)
}

fn page_starts(page_lens: &[usize]) -> impl Iterator<Item = usize> + '_ {
    page_lens.iter().scan(0usize, |start, &len| {
        let s = *start;
        *start += len;
        Some(s)
    })
}

fn varint_len(v: i64) -> usize {
    let bits = 64 - super::bits::zigzag(v).leading_zeros() as usize;
    bits.div_ceil(7).max(1)
}

/// Row deltas within each page (a page's first row has none).
fn deltas(values: &[i64], page_lens: &[usize]) -> Vec<i64> {
    let mut out = Vec::with_capacity(values.len());
    let mut start = 0;
    for &len in page_lens {
        let page = &values[start..start + len];
        out.extend(page.windows(2).map(|w| w[1].wrapping_sub(w[0])));
        start += len;
    }
    out
}

/// Changes of the row delta within each page (a page's first two rows have
/// none).
fn deltas2(values: &[i64], page_lens: &[usize]) -> Vec<i64> {
    let mut out = Vec::with_capacity(values.len());
    let mut start = 0;
    for &len in page_lens {
        let page = &values[start..start + len];
        out.extend(page.windows(3).map(|w| {
            w[2].wrapping_sub(w[1])
                .wrapping_sub(w[1].wrapping_sub(w[0]))
        }));
        start += len;
    }
    out
}

fn grid_at(t0: i64, step: i64, row: usize) -> i64 {
    t0.wrapping_add((row as i64).wrapping_mul(step))
}

/// Appends the lane lengths and the lanes of `syms`.
fn write_lanes(table: &BinTable, groups: &[Group], syms: &[i64], page: &mut Vec<u8>) {
    let codes = huffman::codes(&table.code_lens);
    let mut lanes: [BitWriter; LANES] = Default::default();
    // Groups are sorted and cover every symbol: a symbol's bin is the first
    // group that ends at or above it, looked up directly when the groups
    // span few values.
    let (min, max) = (groups[0].min, groups[groups.len() - 1].max);
    let span = max.wrapping_sub(min) as u64;
    let direct: Vec<u8> = if span < LOOKUP_SPAN {
        let mut lut = vec![0u8; span as usize + 1];
        let mut at = 0;
        for (b, g) in groups.iter().enumerate() {
            let end = g.max.wrapping_sub(min) as usize;
            lut[at..=end].fill(b as u8);
            at = end + 1;
        }
        lut
    } else {
        Vec::new()
    };
    for (j, &s) in syms.iter().enumerate() {
        let b = match direct.get(s.wrapping_sub(min) as u64 as usize) {
            Some(&b) => usize::from(b),
            None => groups.partition_point(|g| g.max < s),
        };
        let w = &mut lanes[j % LANES];
        w.write(u64::from(codes[b]), u32::from(table.code_lens[b]));
        w.write(s.wrapping_sub(table.lowers[b]) as u64, table.obits[b]);
    }
    let lanes = lanes.map(BitWriter::finish);
    for lane in &lanes[..LANES - 1] {
        put_varint(page, lane.len() as u64);
    }
    for lane in &lanes {
        page.extend_from_slice(lane);
    }
}

/// The bins of a column, as stored in its meta: `varint n`, then a bit
/// stream: the first lower bound as a length-prefixed zigzag number (7 bits
/// of bit length, then that many bits), and per bin, for bins after the
/// first a gap (`0`: the bin starts where the previous one ends; `1` and a
/// length-prefixed zigzag number: it starts that far from there), 4 bits of
/// code length and 7 bits of offset bits (0..=64). Zero-padded to a byte.
#[derive(Debug, PartialEq, Eq)]
struct BinTable {
    lowers: Vec<i64>,
    obits: Vec<u32>,
    code_lens: Vec<u8>,
}

/// Where a bin of `obits` offset bits starting at `lower` ends (wrapping).
fn bin_end(lower: i64, obits: u32) -> i64 {
    if obits >= 64 {
        lower
    } else {
        lower.wrapping_add(1i64.wrapping_shl(obits))
    }
}

impl BinTable {
    fn new(groups: &[Group]) -> Self {
        let counts: Vec<u64> = groups.iter().map(|g| g.count).collect();
        let code_lens = huffman::code_lengths(&counts, MAX_CODE_LEN);
        let mut lowers = Vec::with_capacity(groups.len());
        let mut obits = Vec::with_capacity(groups.len());
        let mut end: Option<i64> = None;
        for g in groups {
            let bits = g.obits();
            // Start where the previous bin ends when that still covers the
            // group: the gap then costs one bit.
            let lower = match end {
                Some(e)
                    if i128::from(e) <= i128::from(g.min)
                        && bits < 64
                        && i128::from(g.max) - i128::from(e) < 1i128 << bits =>
                {
                    e
                }
                _ => g.min,
            };
            lowers.push(lower);
            obits.push(bits);
            end = Some(bin_end(lower, bits));
        }
        BinTable {
            lowers,
            obits,
            code_lens,
        }
    }

    /// Bits of the table and of every symbol's code and offset.
    fn size_bits(&self, groups: &[Group]) -> u64 {
        let mut table = Vec::new();
        self.write(&mut table);
        let symbols: u64 = groups
            .iter()
            .zip(self.code_lens.iter().zip(&self.obits))
            .map(|(g, (&len, &obits))| g.count * (u64::from(len) + u64::from(obits)))
            .sum();
        table.len() as u64 * 8 + symbols
    }

    fn write(&self, meta: &mut Vec<u8>) {
        put_varint(meta, self.lowers.len() as u64);
        let mut w = BitWriter::new();
        let mut end = 0i64;
        for (i, ((&lower, &obits), &len)) in self
            .lowers
            .iter()
            .zip(&self.obits)
            .zip(&self.code_lens)
            .enumerate()
        {
            if i == 0 {
                write_number(&mut w, lower);
            } else if lower == end {
                w.write_bit(false);
            } else {
                w.write_bit(true);
                write_number(&mut w, lower.wrapping_sub(end));
            }
            w.write(u64::from(len), CODE_LEN_BITS);
            w.write(u64::from(obits), LEN_FIELD_BITS);
            end = bin_end(lower, obits);
        }
        meta.extend_from_slice(&w.finish());
    }

    /// Parses a table that ends the meta: `r` must hold exactly its bytes.
    fn parse(mut r: ByteReader<'_>) -> Result<Self, CodecError> {
        let n = r.varint()?;
        if n == 0 || n > choose::MAX_BINS as u64 {
            return Err(CodecError::Invalid("bins count outside 1..=256"));
        }
        let n = n as usize;
        let mut bits = BitReader::new(r.rest());
        let mut t = BinTable {
            lowers: Vec::with_capacity(n),
            obits: Vec::with_capacity(n),
            code_lens: Vec::with_capacity(n),
        };
        let mut end = 0i64;
        for i in 0..n {
            let lower = if i == 0 {
                read_number(&mut bits)?
            } else if bits.read_bit()? {
                end.wrapping_add(read_number(&mut bits)?)
            } else {
                end
            };
            let len = bits.read(CODE_LEN_BITS)? as u8;
            let obits = bits.read(LEN_FIELD_BITS)? as u32;
            if obits > 64 {
                return Err(CodecError::Invalid("bin offset bits above 64"));
            }
            t.lowers.push(lower);
            t.obits.push(obits);
            t.code_lens.push(len);
            end = bin_end(lower, obits);
        }
        if !bits.only_padding_left() {
            return Err(CodecError::Invalid("trailing bits after the bin table"));
        }
        Ok(t)
    }
}

/// A zigzag number as 7 bits of bit length and then its bits.
fn write_number(w: &mut BitWriter, v: i64) {
    let z = super::bits::zigzag(v);
    let len = 64 - z.leading_zeros();
    w.write(u64::from(len), LEN_FIELD_BITS);
    w.write(z, len);
}

fn read_number(r: &mut BitReader<'_>) -> Result<i64, CodecError> {
    let len = r.read(LEN_FIELD_BITS)? as u32;
    if len > 64 {
        return Err(CodecError::Invalid("bins number longer than 64 bits"));
    }
    Ok(super::bits::unzigzag(r.read(len)?))
}

/// A parsed `Bins` meta with its decode tables.
pub(crate) struct BinsColumn {
    predictor: Predictor,
    t0: i64,
    step: i64,
    table: Box<[u32]>,
    bins: Box<DecodeBins>,
    /// Symbols that fit in one refill of the bit buffer; 0 when the longest
    /// does not (offsets of more than ~45 bits).
    per_refill: u32,
}

impl std::fmt::Debug for BinsColumn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BinsColumn")
            .field("predictor", &self.predictor)
            .field("table_bits", &self.table.len().trailing_zeros())
            .field("per_refill", &self.per_refill)
            .finish_non_exhaustive()
    }
}

impl BinsColumn {
    /// Parses the meta after the tag; it must be consumed exactly.
    pub(crate) fn parse(mut r: ByteReader<'_>) -> Result<Self, CodecError> {
        let predictor = Predictor::try_from(r.u8()?)?;
        let (t0, step) = if predictor == Predictor::Grid {
            (r.zigzag()?, r.zigzag()?)
        } else {
            (0, 0)
        };
        let t = BinTable::parse(r)?;
        let table_bits = huffman::check_lengths(&t.code_lens)?;
        let mut bins: Box<DecodeBins> = Box::new([0; 512]);
        let (lowers, masks) = bins.split_at_mut(256);
        for ((l, m), (&lower, &obits)) in lowers
            .iter_mut()
            .zip(masks)
            .zip(t.lowers.iter().zip(&t.obits))
        {
            *l = lower as u64;
            *m = if obits >= 64 {
                u64::MAX
            } else {
                (1u64 << obits) - 1
            };
        }
        let mut longest = 0;
        let mut table = vec![0u32; 1 << table_bits].into_boxed_slice();
        huffman::fill_table(&t.code_lens, table_bits, &mut table, |bin| {
            let len = u32::from(t.code_lens[bin]);
            let total = len + t.obits[bin];
            longest = longest.max(total);
            decode::entry(bin, len, total)
        });
        let per_refill = if longest > REFILL_BITS {
            0
        } else {
            (REFILL_BITS / longest.max(1)).min(MAX_PER_REFILL)
        };
        Ok(BinsColumn {
            predictor,
            t0,
            step,
            table,
            bins,
            per_refill,
        })
    }

    /// Decodes one page into `out` (its row count, checked by the caller),
    /// using `buf` for a padded copy of the lanes.
    pub(crate) fn decode(
        &self,
        buf: &mut Vec<u8>,
        first_row: usize,
        page: &[u8],
        out: &mut [i64],
    ) -> Result<(), CodecError> {
        let mut r = ByteReader::new(page);
        let (anchor, delta, syms) = match self.predictor {
            Predictor::Delta => {
                let (first, rest) = out.split_first_mut().ok_or(CodecError::Truncated)?;
                let anchor = r.zigzag()?;
                *first = anchor;
                (anchor, 0, rest)
            }
            Predictor::Delta2 => {
                let (first, rest) = out.split_first_mut().ok_or(CodecError::Truncated)?;
                let anchor = r.zigzag()?;
                *first = anchor;
                match rest.split_first_mut() {
                    Some((second, rest)) => {
                        let delta = r.zigzag()?;
                        *second = anchor.wrapping_add(delta);
                        (*second, delta, rest)
                    }
                    None => (anchor, 0, rest),
                }
            }
            Predictor::None | Predictor::Grid => (0, 0, &mut *out),
        };
        let mut lens = [0usize; LANES];
        for len in &mut lens[..LANES - 1] {
            *len = r.count(page.len())?;
        }
        let body = r.rest();
        let known: usize = lens[..LANES - 1].iter().sum();
        lens[LANES - 1] = body.len().checked_sub(known).ok_or(CodecError::Truncated)?;
        buf.clear();
        buf.extend_from_slice(body);
        buf.resize(body.len() + PAD, 0);

        let mut starts = [0usize; LANES];
        let mut at = 0;
        for (s, &len) in starts.iter_mut().zip(&lens) {
            *s = at * 8;
            at += len;
        }
        let mut pos = starts;
        let t = Tables {
            table: &self.table,
            bins: &self.bins,
        };
        let k = self.per_refill;
        match self.predictor {
            Predictor::None => {
                decode::decode_lanes(&t, k, buf, &mut pos, syms, &mut decode::Plain)?
            }
            Predictor::Delta => {
                decode::decode_lanes(&t, k, buf, &mut pos, syms, &mut decode::Sum(anchor))?
            }
            Predictor::Delta2 => {
                let mut sink = decode::Sum2 {
                    value: anchor,
                    delta,
                };
                decode::decode_lanes(&t, k, buf, &mut pos, syms, &mut sink)?
            }
            Predictor::Grid => {
                let mut sink = decode::OnGrid {
                    next: grid_at(self.t0, self.step, first_row),
                    step: self.step,
                };
                decode::decode_lanes(&t, k, buf, &mut pos, syms, &mut sink)?
            }
        }
        for ((&p, &s), &len) in pos.iter().zip(&starts).zip(&lens) {
            let end = s + len * 8;
            let padding_zero = p % 8 == 0 || buf.get(p / 8).is_some_and(|&b| b >> (p % 8) == 0);
            if p > end || p.div_ceil(8) != end / 8 || !padding_zero {
                return Err(CodecError::Invalid(
                    "bins lane length does not match its symbols",
                ));
            }
        }
        Ok(())
    }
}
