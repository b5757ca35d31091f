//! `GridSparse`: values on an arithmetic grid `t0 + i * step` except for a few
//! rows, stored as exceptions. Built for scrape timestamps: Prometheus's ticker
//! does not drift, so ~95 % of scrapes sit exactly on the grid, a few are late
//! by some ms (a *jitter*: the next row is back on the grid) and a missed
//! scrape or a restart moves the grid (a *shift*: later rows follow the new
//! position). Decoding fills the progression and patches a handful of rows,
//! at memory speed.
//!
//! Model: `e_i = G_{i-1} + step` is the expected value of row `i` (`e_0 = t0`).
//! A row equal to `e_i` has `G_i = e_i`. A jitter row has `G_i = e_i` and value
//! `e_i + j`; a shift row has `G_i = value`.
//!
//! Page bytes: `anchor` (zigzag varint: `e_first - (t0 + first_row * step)`),
//! exception count (varint), then a bit stream with, per exception: the row gap
//! (Rice code with parameter `k` from the meta; the first gap is the row within
//! the page, later ones count the rows strictly between two exceptions), then a
//! symbol in truncated binary over `m` symbols: `s < m - 1` is a jitter with
//! `zigzag(j) = s + 1`; `s = m - 1` is a shift `d`, followed by `zigzag(d)`
//! in Elias gamma code (`len - 1` one bits and a zero, where `len` is its bit
//! length, then its `len - 1` bits below the leading one).

use super::bits::{put_varint, put_zigzag, unzigzag, zigzag, BitReader, BitWriter, ByteReader};
use super::{CodecError, EncodedColumn, MAX_PAGE_ROWS};

/// A jitter larger than this (zigzag) is stored as a shift and a shift back,
/// so that one wild row does not widen the symbol of every jitter.
const MAX_JITTER_ZIGZAG: u64 = 1024;
/// Rice quotients of this many ones are an escape followed by 16 raw bits.
const RICE_ESCAPE: u32 = 20;
const RAW_GAP_BITS: u32 = 16;
const MAX_RICE_K: u32 = 16;

/// Sparse exceptions beyond this fraction of the rows make the encoding not
/// worth trying: decoding slows and pco on the residuals wins anyway.
const MAX_EXCEPTION_FRACTION: usize = 4; // 1/4

#[derive(Clone, Copy, Debug)]
enum Exception {
    Jitter(i64),
    Shift(i64),
}

/// Parsed meta of a `GridSparse` column.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SparseGrid {
    t0: i64,
    step: i64,
    k: u32,
    m: u64,
}

/// Writes the meta body (after the tag) and the pages. `None` when too many
/// rows are off the grid.
pub(crate) fn encode(
    values: &[i64],
    page_lens: &[usize],
    t0: i64,
    step: i64,
    mut meta: Vec<u8>,
) -> Option<EncodedColumn> {
    let max_exceptions = values.len() / MAX_EXCEPTION_FRACTION;
    // (row, exception) for the whole chunk, and each page's anchor offset.
    let mut exceptions: Vec<(usize, Exception)> = Vec::new();
    let mut anchors = Vec::with_capacity(page_lens.len());
    let mut page_starts = page_lens.iter().scan(0usize, |start, &len| {
        let s = *start;
        *start += len;
        Some(s)
    });
    let mut next_page_start = page_starts.next();
    let mut expected = t0;
    for (i, &v) in values.iter().enumerate() {
        if next_page_start == Some(i) {
            let grid = t0.wrapping_add((i as i64).wrapping_mul(step));
            anchors.push(expected.wrapping_sub(grid));
            next_page_start = page_starts.next();
        }
        let g = if v == expected {
            expected
        } else {
            let d = v.wrapping_sub(expected);
            let next = values.get(i + 1).copied();
            let is_shift = if next == Some(v.wrapping_add(step)) {
                true
            } else if next == Some(expected.wrapping_add(step)) {
                zigzag(d) > MAX_JITTER_ZIGZAG
            } else {
                zigzag(d) > MAX_JITTER_ZIGZAG || d.unsigned_abs() > step.unsigned_abs() / 2
            };
            if exceptions.len() == max_exceptions {
                return None;
            }
            if is_shift {
                exceptions.push((i, Exception::Shift(d)));
                v
            } else {
                exceptions.push((i, Exception::Jitter(d)));
                expected
            }
        };
        expected = g.wrapping_add(step);
    }

    let gaps = row_gaps(&exceptions, page_lens);
    let k = (0..=MAX_RICE_K)
        .min_by_key(|&k| gaps.iter().map(|&g| rice_len(g, k)).sum::<u64>())
        .unwrap_or(0);
    let max_jitter_symbol = exceptions
        .iter()
        .filter_map(|&(_, e)| match e {
            Exception::Jitter(j) => Some(zigzag(j) - 1),
            Exception::Shift(_) => None,
        })
        .max();
    let m = max_jitter_symbol.map_or(1, |s| s + 2);

    put_zigzag(&mut meta, t0);
    put_zigzag(&mut meta, step);
    meta.push(k as u8);
    put_varint(&mut meta, m);

    let mut pages = Vec::with_capacity(page_lens.len());
    let mut exc = exceptions.iter().zip(gaps.iter()).peekable();
    let mut start = 0usize;
    for (&len, &anchor) in page_lens.iter().zip(&anchors) {
        let end = start + len;
        let mut w = BitWriter::new();
        let mut count = 0u64;
        while let Some(((_, e), &gap)) = exc.next_if(|((row, _), _)| *row < end) {
            count += 1;
            write_rice(&mut w, gap, k);
            match *e {
                Exception::Jitter(j) => write_truncated(&mut w, zigzag(j) - 1, m),
                Exception::Shift(d) => {
                    write_truncated(&mut w, m - 1, m);
                    write_gamma(&mut w, zigzag(d));
                }
            }
        }
        let mut page = Vec::new();
        put_zigzag(&mut page, anchor);
        put_varint(&mut page, count);
        page.extend_from_slice(&w.finish());
        pages.push(page);
        start = end;
    }
    Some(EncodedColumn { meta, pages })
}

/// The Rice-coded gap of each exception (see the module doc).
fn row_gaps(exceptions: &[(usize, Exception)], page_lens: &[usize]) -> Vec<u64> {
    let mut gaps = Vec::with_capacity(exceptions.len());
    let mut exc = exceptions.iter().peekable();
    let mut start = 0usize;
    for &len in page_lens {
        let end = start + len;
        let mut prev: Option<usize> = None;
        while let Some(&(row, _)) = exc.next_if(|(row, _)| *row < end) {
            let gap = match prev {
                None => row - start,
                Some(p) => row - p - 1,
            };
            gaps.push(gap as u64);
            prev = Some(row);
        }
        start = end;
    }
    gaps
}

fn rice_len(gap: u64, k: u32) -> u64 {
    let q = gap >> k;
    if q < u64::from(RICE_ESCAPE) {
        q + 1 + u64::from(k)
    } else {
        u64::from(RICE_ESCAPE + RAW_GAP_BITS)
    }
}

fn write_rice(w: &mut BitWriter, gap: u64, k: u32) {
    let q = gap >> k;
    if q < u64::from(RICE_ESCAPE) {
        w.write_unary(q as u32);
        w.write(gap, k);
    } else {
        w.write(u64::MAX, RICE_ESCAPE);
        w.write(gap, RAW_GAP_BITS);
    }
}

fn read_rice(r: &mut BitReader<'_>, k: u32) -> Result<u64, CodecError> {
    let q = r.read_unary(RICE_ESCAPE)?;
    if q == RICE_ESCAPE {
        r.read(RAW_GAP_BITS)
    } else {
        Ok((u64::from(q) << k) | r.read(k)?)
    }
}

/// Elias gamma code of `v >= 1`: `2 * len - 1` bits.
fn write_gamma(w: &mut BitWriter, v: u64) {
    let len = 64 - v.leading_zeros();
    w.write_unary(len - 1);
    w.write(v, len - 1);
}

fn read_gamma(r: &mut BitReader<'_>) -> Result<u64, CodecError> {
    let extra = r.read_unary(64)?;
    if extra == 64 {
        return Err(CodecError::Invalid("gamma code longer than 64 bits"));
    }
    Ok((1u64 << extra) | r.read(extra)?)
}

/// Truncated binary code of `sym < m`: `floor(log2 m)` or one more bit.
fn write_truncated(w: &mut BitWriter, sym: u64, m: u64) {
    let k = 63 - m.leading_zeros();
    let u = (1u64 << (k + 1)) - m;
    if sym < u {
        w.write(sym, k);
    } else {
        let x = sym + u;
        w.write(x >> 1, k);
        w.write(x & 1, 1);
    }
}

fn read_truncated(r: &mut BitReader<'_>, m: u64) -> Result<u64, CodecError> {
    let k = 63 - m.leading_zeros();
    let u = (1u64 << (k + 1)) - m;
    let x = r.read(k)?;
    if x < u {
        Ok(x)
    } else {
        let x = (x << 1) | r.read(1)?;
        Ok(x - u)
    }
}

impl SparseGrid {
    pub(crate) fn parse(mut r: ByteReader<'_>) -> Result<Self, CodecError> {
        let t0 = r.zigzag()?;
        let step = r.zigzag()?;
        let k = u32::from(r.u8()?);
        let m = r.varint()?;
        if k > MAX_RICE_K {
            return Err(CodecError::Invalid("grid rice parameter above 16"));
        }
        if m == 0 || m > MAX_JITTER_ZIGZAG + 1 {
            return Err(CodecError::Invalid("grid symbol count out of range"));
        }
        if !r.is_empty() {
            return Err(CodecError::Invalid("trailing bytes after grid meta"));
        }
        Ok(SparseGrid { t0, step, k, m })
    }

    /// Decodes one page: the whole page is the progression from the anchor
    /// except at the exceptions. The exceptions are read first, a few dozen
    /// at a time, and the progression is then written in long runs (split
    /// only at shifts) and the jitter rows patched, so that the common case,
    /// a jitter every few dozen rows, costs no short loop per exception.
    pub(crate) fn decode(
        &self,
        first_row: usize,
        page: &[u8],
        out: &mut [i64],
    ) -> Result<(), CodecError> {
        let step = self.step;
        let mut r = ByteReader::new(page);
        let grid = self.t0.wrapping_add((first_row as i64).wrapping_mul(step));
        let anchor = grid.wrapping_add(r.zigzag()?);
        let count = r.count(out.len().min(MAX_PAGE_ROWS))?;
        let mut bits = BitReader::new(r.rest());
        let mut run = Run {
            from: 0,
            value: anchor,
            step,
            jitters: [(0, 0); PENDING],
            pending: 0,
        };
        let codes = Codes::new(self.k, self.m);
        let mut row = 0usize;
        for _ in 0..count {
            let (gap, sym) = codes.next(&mut bits)?;
            // gap < 2^21, row <= MAX_PAGE_ROWS: no overflow
            let at = row + gap as usize;
            if at >= out.len() {
                return Err(CodecError::Invalid("grid exception row beyond the page"));
            }
            if sym == self.m - 1 {
                let d = unzigzag(read_gamma(&mut bits)?);
                run.shift(out, at, d);
            } else {
                run.jitter(out, at, unzigzag(sym + 1));
            }
            row = at + 1;
        }
        run.finish(out);
        if !bits.only_padding_left() {
            return Err(CodecError::Invalid("trailing bits after grid exceptions"));
        }
        Ok(())
    }
}

/// Jitters held before the progression under them is written.
const PENDING: usize = 64;

/// The part of a page not written yet: rows from `from` on follow the
/// progression `value + (row - from) * step`, except the pending jitters
/// (row, offset), all at or after `from`.
struct Run {
    from: usize,
    value: i64,
    step: i64,
    jitters: [(u32, i64); PENDING],
    pending: usize,
}

impl Run {
    /// Row `at` is `value + j`; later rows stay on the progression.
    #[inline(always)]
    fn jitter(&mut self, out: &mut [i64], at: usize, j: i64) {
        self.jitters[self.pending] = (at as u32, j);
        self.pending += 1;
        if self.pending == PENDING {
            self.write_to(out, at + 1);
        }
    }

    /// Row `at` and every later row are off the progression by `d`.
    fn shift(&mut self, out: &mut [i64], at: usize, d: i64) {
        self.write_to(out, at);
        self.value = self.value.wrapping_add(d);
    }

    fn finish(&mut self, out: &mut [i64]) {
        self.write_to(out, out.len());
    }

    /// Writes rows `from..end` (`end <= out.len()`, after every pending
    /// jitter) and patches the jitters.
    #[inline]
    fn write_to(&mut self, out: &mut [i64], end: usize) {
        let mut v = self.value;
        for o in &mut out[self.from..end] {
            *o = v;
            v = v.wrapping_add(self.step);
        }
        for &(at, j) in &self.jitters[..self.pending] {
            let o = &mut out[at as usize];
            *o = o.wrapping_add(j);
        }
        self.pending = 0;
        self.from = end;
        self.value = v;
    }
}

/// How a page's exceptions are coded: the Rice gap and the truncated
/// binary symbol of each, from one 56-bit window where the page has 8 bytes
/// left (a gap takes at most 37 bits, a symbol at most 11).
struct Codes {
    k: u32,
    m: u64,
    /// Bits of a short truncated-binary symbol, and how many symbols are short.
    sym_bits: u32,
    short: u64,
}

impl Codes {
    fn new(k: u32, m: u64) -> Self {
        let sym_bits = 63 - m.leading_zeros();
        Codes {
            k,
            m,
            sym_bits,
            short: (1u64 << (sym_bits + 1)) - m,
        }
    }

    #[inline(always)]
    fn next(&self, bits: &mut BitReader<'_>) -> Result<(u64, u64), CodecError> {
        let Some(w) = bits.peek56() else {
            let gap = read_rice(bits, self.k)?;
            return Ok((gap, read_truncated(bits, self.m)?));
        };
        let q = w.trailing_ones().min(RICE_ESCAPE);
        let (gap, used) = if q == RICE_ESCAPE {
            (
                (w >> RICE_ESCAPE) & ((1 << RAW_GAP_BITS) - 1),
                RICE_ESCAPE + RAW_GAP_BITS,
            )
        } else {
            let low = (w >> (q + 1)) & ((1u64 << self.k) - 1);
            ((u64::from(q) << self.k) | low, q + 1 + self.k)
        };
        let s = w >> used;
        let x = s & ((1u64 << self.sym_bits) - 1);
        let (sym, len) = if x < self.short {
            (x, self.sym_bits)
        } else {
            (
                ((x << 1) | ((s >> self.sym_bits) & 1)) - self.short,
                self.sym_bits + 1,
            )
        };
        bits.consume(used + len);
        Ok((gap, sym))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(values: &[i64], page_lens: &[usize], step: i64) -> Option<usize> {
        let col = encode(values, page_lens, values[0], step, Vec::new())?;
        let grid = SparseGrid::parse(ByteReader::new(&col.meta)).ok()?;
        let mut start = 0;
        let mut out = vec![0i64; values.len()];
        for (page, &len) in col.pages.iter().zip(page_lens) {
            grid.decode(start, page, &mut out[start..start + len])
                .ok()?;
            start += len;
        }
        assert_eq!(out, values);
        Some(col.meta.len() + col.pages.iter().map(Vec::len).sum::<usize>())
    }

    #[test]
    fn jitter_and_gaps_cost_a_few_bits_each() {
        let mut ts: Vec<i64> = (0..1000).map(|i| 1_700_000_000_000 + i * 15_000).collect();
        ts[10] += 3; // late scrape, back on the grid next time
        ts[11] -= 2; // early one right after
        for t in &mut ts[500..] {
            *t += 15_000; // a missed scrape shifts the rest
        }
        ts[999] += 1;
        let size = round_trip(&ts, &[400, 600], 15_000).unwrap_or(usize::MAX);
        // meta ~12 bytes, two pages of ~3 bytes plus ~4 exceptions of <= 3 bytes.
        assert!(size < 40, "{size} bytes");
    }

    #[test]
    fn exceptions_on_page_edges_and_first_row() {
        let mut ts: Vec<i64> = (0..20).map(|i| -1000 + i * 10).collect();
        ts[0] = 5;
        ts[4] = i64::MAX;
        ts[5] = i64::MIN;
        ts[19] += 1;
        assert!(round_trip(&ts, &[1, 4, 1, 14], 10).is_some());
    }

    proptest::proptest! {
        /// Pages with many more jitters than the decoder holds at once,
        /// shifts between them, wild jitters (a shift and a shift back) and
        /// exceptions near the page's last bytes, where the decoder leaves
        /// its one-load path.
        #[test]
        fn dense_exceptions_round_trip(
            rows in proptest::collection::vec((0u16..1000, -4000i64..4000), 1..3000),
            cuts in proptest::collection::vec(1usize..1500, 0..4),
            shifts in 0u16..50,
            wild in 0u16..10,
        ) {
            let step = 15_000;
            let mut g = 1_700_000_000_000i64;
            let ts: Vec<i64> = rows
                .iter()
                .map(|&(p, x)| {
                    g += step;
                    // 15 % jitters, up to 5 % shifts, up to 1 % wild jitters
                    if p < 150 {
                        g + x % 6
                    } else if p < 150 + shifts {
                        g += x;
                        g
                    } else if p < 150 + shifts + wild {
                        g + x
                    } else {
                        g
                    }
                })
                .collect();
            let mut lens = Vec::new();
            let mut left = ts.len();
            for c in cuts {
                if c < left {
                    lens.push(c);
                    left -= c;
                }
            }
            lens.push(left);
            // `None` only when over a quarter of the rows are exceptions.
            // Below raw size but for the column's and each page's header,
            // which a page of a row or two does not amortise.
            if let Some(size) = round_trip(&ts, &lens, step) {
                proptest::prop_assert!(size < ts.len() * 8 + 16 * lens.len() + 16);
            }
        }
    }

    #[test]
    fn refuses_columns_mostly_off_the_grid() {
        let ts: Vec<i64> = (0..100).map(|i| i * i).collect();
        assert!(encode(&ts, &[100], 0, 10, Vec::new()).is_none());
    }
}
