//! Column codecs (format v1.2, spec in `docs/format/codec.md`).
//!
//! A segment stores each series' samples as a *chunk*, split into pages of up
//! to [`MAX_PAGE_ROWS`] rows. Each column of a chunk is encoded here into one
//! meta blob (chunk-level parameters: the encoding tag, pco tables,
//! exceptions) plus one byte string per page. A page decodes on its own given
//! the parsed meta and the page's first row, so a reader touches only the
//! pages a query needs.
//!
//! Use, in this order: [`encode_i64`]/[`encode_f64`] when writing; when
//! reading, [`I64Decoder::new`]/[`F64Decoder::new`] once per chunk (cheap), then
//! `decode_page` per page with a [`DecodeScratch`] kept per thread.
//!
//! The encoder tries the encodings that fit the data (the spec says which)
//! and keeps the smallest, unless a faster-decoding one is within
//! [`SIZE_TOLERANCE_DIVISOR`] of it.
//!
//! Files: `int.rs` (i64 encodings), `grid.rs` (scrape timestamps on a grid),
//! `bins/` (residuals in Huffman-coded bins: the fast entropy coder),
//! `float.rs` (f64 encodings), `scaled.rs` (integral and decimal floats with
//! exceptions), `xor.rs` (Gorilla XOR), `pco_col.rs` (the pco wrapper),
//! `bits.rs` (varints and bit I/O), `error.rs`.

mod bins;
mod bits;
mod error;
mod float;
mod grid;
mod int;
mod pco_col;
mod scaled;
mod xor;

#[cfg(test)]
mod tests;

pub use error::CodecError;
pub use float::{F64Decoder, F64Encoding};
pub use int::{I64Decoder, I64Encoding};

/// The most rows a page may have.
pub const MAX_PAGE_ROWS: usize = 1 << 16;

/// A faster-decoding encoding is kept when it is at most `1/8` (12.5 %)
/// larger than the smallest. On the benchmark workload this costs 0.8 %
/// more bytes than `1/32` did and reads back 1.8x as fast (most columns
/// move from pco to bins); the storage target leaves room for it.
pub const SIZE_TOLERANCE_DIVISOR: usize = 8;

/// A column of one series chunk: chunk metadata plus one page per block.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EncodedColumn {
    pub meta: Vec<u8>,
    pub pages: Vec<Vec<u8>>,
}

impl EncodedColumn {
    /// Bytes of the meta and all pages.
    pub fn encoded_len(&self) -> usize {
        self.meta.len() + self.pages.iter().map(Vec::len).sum::<usize>()
    }
}

/// Encodes an i64 column. `page_lens` are the row counts of the pages (each
/// `1..=MAX_PAGE_ROWS`), summing to `values.len()`; the result has one page
/// per entry.
pub fn encode_i64(values: &[i64], page_lens: &[usize]) -> Result<EncodedColumn, CodecError> {
    check_page_lens(values.len(), page_lens)?;
    Ok(int::encode(values, page_lens).0)
}

/// Encodes an i64 column with `encoding` regardless of the choice rules, or
/// `None` if that encoding cannot hold `values` (for benchmarks and tools
/// that compare encodings). Same `page_lens` contract as [`encode_i64`].
pub fn encode_i64_as(
    encoding: I64Encoding,
    values: &[i64],
    page_lens: &[usize],
) -> Result<Option<EncodedColumn>, CodecError> {
    check_page_lens(values.len(), page_lens)?;
    let step = int::grid_step(values).unwrap_or(0);
    Ok(int::build(encoding, values, page_lens, step))
}

/// Encodes an f64 column losslessly (every bit pattern round-trips). Same
/// `page_lens` contract as [`encode_i64`].
pub fn encode_f64(values: &[f64], page_lens: &[usize]) -> Result<EncodedColumn, CodecError> {
    check_page_lens(values.len(), page_lens)?;
    Ok(float::encode(values, page_lens).0)
}

fn check_page_lens(n: usize, page_lens: &[usize]) -> Result<(), CodecError> {
    let mut sum = 0usize;
    for &len in page_lens {
        check_page_rows(len)?;
        sum += len; // each <= 2^16: cannot overflow before exceeding n
        if sum > n {
            break;
        }
    }
    if sum != n {
        return Err(CodecError::Invalid(
            "page lengths do not sum to the row count",
        ));
    }
    Ok(())
}

fn check_page_rows(rows: usize) -> Result<(), CodecError> {
    if rows == 0 || rows > MAX_PAGE_ROWS {
        return Err(CodecError::Invalid("page row count outside 1..=65536"));
    }
    Ok(())
}

/// Reusable decode buffers: pco's scratch, the i64 rows of integral and
/// decimal f64 columns, decompressed zstd pages. One per thread.
#[derive(Default)]
pub struct DecodeScratch {
    pco: pco::DecompressorScratch,
    ints: Vec<i64>,
    bytes: Vec<u8>,
}

impl std::fmt::Debug for DecodeScratch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecodeScratch").finish_non_exhaustive()
    }
}

/// An encoded alternative and how fast it decodes (lower is faster).
struct Candidate<E> {
    tag: E,
    rank: u8,
    col: EncodedColumn,
}

impl Candidate<I64Encoding> {
    fn new(tag: I64Encoding, col: EncodedColumn) -> Self {
        Candidate {
            tag,
            rank: tag.speed_rank(),
            col,
        }
    }
}

impl<E> Candidate<E> {
    fn with_rank(tag: E, rank: u8, col: EncodedColumn) -> Self {
        Candidate { tag, rank, col }
    }
}

/// The fastest candidate among those within the size tolerance of the
/// smallest; `fallback` (always available) is the answer only if nothing else
/// is within it.
fn pick_smallest<E>(fallback: Candidate<E>, others: Vec<Candidate<E>>) -> (EncodedColumn, E) {
    let smallest = others
        .iter()
        .map(|c| c.col.encoded_len())
        .fold(fallback.col.encoded_len(), usize::min);
    let budget = smallest + smallest / SIZE_TOLERANCE_DIVISOR;
    let key = |c: &Candidate<E>| (c.rank, c.col.encoded_len());
    let mut best_in_budget = fallback.col.encoded_len() <= budget;
    let mut best = fallback;
    for c in others {
        if c.col.encoded_len() <= budget && (!best_in_budget || key(&c) < key(&best)) {
            best = c;
            best_in_budget = true;
        }
    }
    (best.col, best.tag)
}
