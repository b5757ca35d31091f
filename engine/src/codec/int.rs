//! i64 columns: the encodings, how one is chosen, and the decoder.

use super::bins::{self, BinsColumn};
use super::bits::{put_zigzag, ByteReader};
use super::grid::{self, SparseGrid};
use super::pco_col::{self, PcoColumn, PcoDelta};
use super::{pick_smallest, Candidate, CodecError, DecodeScratch, EncodedColumn};

/// The first byte of an i64 column's meta. Values are on disk; never reuse one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum I64Encoding {
    /// Every row is `v`. Meta: `v`; pages are empty.
    Const = 0x01,
    /// Row `i` is `t0 + i * step` (wrapping). Meta: `t0`, `step`; pages are empty.
    Arith = 0x02,
    /// On a grid except for a few jittered or shifted rows (see `grid.rs`).
    GridSparse = 0x03,
    /// Row `i` is `t0 + i * step + r_i`, the residuals `r_i` pco-coded without delta.
    GridPco = 0x04,
    /// Pco with its own choice of delta and mode.
    Pco = 0x05,
    /// 8 little-endian bytes per row: the fallback that always works.
    Raw = 0x06,
    /// Residuals (of no prediction, the previous row or a grid) in
    /// Huffman-coded bins with raw offsets (see `bins/`): pco's sizes on
    /// counters and decimals at several times its decode speed.
    Bins = 0x07,
}

impl I64Encoding {
    pub const ALL: [I64Encoding; 7] = [
        I64Encoding::Const,
        I64Encoding::Arith,
        I64Encoding::GridSparse,
        I64Encoding::GridPco,
        I64Encoding::Pco,
        I64Encoding::Raw,
        I64Encoding::Bins,
    ];

    pub fn name(self) -> &'static str {
        match self {
            I64Encoding::Const => "const",
            I64Encoding::Arith => "arith",
            I64Encoding::GridSparse => "grid-sparse",
            I64Encoding::GridPco => "grid-pco",
            I64Encoding::Pco => "pco",
            I64Encoding::Raw => "raw",
            I64Encoding::Bins => "bins",
        }
    }

    /// Lower decodes faster; breaks near-ties in size.
    pub(crate) fn speed_rank(self) -> u8 {
        match self {
            I64Encoding::Const => 0,
            I64Encoding::Arith => 1,
            I64Encoding::GridSparse => 2,
            I64Encoding::Raw => 3,
            I64Encoding::Bins => 4,
            I64Encoding::GridPco => 5,
            I64Encoding::Pco => 6,
        }
    }
}

impl TryFrom<u8> for I64Encoding {
    type Error = CodecError;
    fn try_from(tag: u8) -> Result<Self, CodecError> {
        I64Encoding::ALL
            .into_iter()
            .find(|e| *e as u8 == tag)
            .ok_or(CodecError::UnknownEncoding(tag))
    }
}

/// Chooses and runs the encoding of an i64 column whose `page_lens` were
/// checked by the caller. Returns the column and its encoding.
pub(crate) fn encode(values: &[i64], page_lens: &[usize]) -> (EncodedColumn, I64Encoding) {
    for tag in [I64Encoding::Const, I64Encoding::Arith] {
        // Zero page bytes: nothing can beat these.
        if let Some(col) = build(tag, values, page_lens, 0) {
            return (col, tag);
        }
    }
    let mut candidates = Vec::new();
    let step = grid_step(values);
    if let Some(step) = step {
        if let Some(col) = build(I64Encoding::GridSparse, values, page_lens, step) {
            candidates.push(Candidate::new(I64Encoding::GridSparse, col));
        }
    }
    // Residuals from a grid of step 0 are the values themselves, which `Pco`
    // (with deltas) holds better.
    let with_pco = step
        .filter(|&s| s != 0)
        .map(|s| (I64Encoding::GridPco, s))
        .into_iter()
        .chain([(I64Encoding::Pco, 0)]);
    for (tag, step) in with_pco {
        if let Some(col) = build(tag, values, page_lens, step) {
            candidates.push(Candidate::new(tag, col));
        }
    }
    if let Some(col) = build(I64Encoding::Bins, values, page_lens, step.unwrap_or(0)) {
        candidates.push(Candidate::new(I64Encoding::Bins, col));
    }
    let raw = Candidate::new(I64Encoding::Raw, raw_column(values, page_lens));
    pick_smallest(raw, candidates)
}

/// Encodes with `tag`, if it can hold `values`. `step` is the grid step of
/// the `Grid*` encodings; `Bins` also tries a grid of a non-zero `step`.
pub(crate) fn build(
    tag: I64Encoding,
    values: &[i64],
    page_lens: &[usize],
    step: i64,
) -> Option<EncodedColumn> {
    let first = values.first().copied().unwrap_or(0);
    match tag {
        I64Encoding::Const => values.iter().all(|&v| v == first).then(|| EncodedColumn {
            meta: meta_prefix(tag, &[first]),
            pages: vec![Vec::new(); page_lens.len()],
        }),
        I64Encoding::Arith => {
            let step = values.get(1).map_or(0, |v| v.wrapping_sub(first));
            is_arith(values, first, step).then(|| EncodedColumn {
                meta: meta_prefix(tag, &[first, step]),
                pages: vec![Vec::new(); page_lens.len()],
            })
        }
        I64Encoding::GridSparse => {
            grid::encode(values, page_lens, first, step, meta_prefix(tag, &[]))
        }
        I64Encoding::GridPco => {
            let residuals: Vec<i64> = values
                .iter()
                .enumerate()
                .map(|(i, &v)| v.wrapping_sub(grid_at(first, step, i)))
                .collect();
            let meta = meta_prefix(tag, &[first, step]);
            pco_col::encode(&residuals, page_lens, PcoDelta::None, meta)
        }
        I64Encoding::Pco => {
            pco_col::encode(values, page_lens, PcoDelta::Auto, meta_prefix(tag, &[]))
        }
        I64Encoding::Raw => Some(raw_column(values, page_lens)),
        I64Encoding::Bins => {
            let grid = (step != 0).then_some(step);
            bins::encode(values, page_lens, grid, meta_prefix(tag, &[]))
        }
    }
}

fn meta_prefix(e: I64Encoding, ints: &[i64]) -> Vec<u8> {
    let mut meta = vec![e as u8];
    for &v in ints {
        put_zigzag(&mut meta, v);
    }
    meta
}

fn raw_column(values: &[i64], page_lens: &[usize]) -> EncodedColumn {
    let mut pages = Vec::with_capacity(page_lens.len());
    let mut start = 0;
    for &len in page_lens {
        let mut page = Vec::with_capacity(len * 8);
        for v in &values[start..start + len] {
            page.extend_from_slice(&v.to_le_bytes());
        }
        pages.push(page);
        start += len;
    }
    EncodedColumn {
        meta: vec![I64Encoding::Raw as u8],
        pages,
    }
}

fn is_arith(values: &[i64], first: i64, step: i64) -> bool {
    let mut expected = first;
    values.iter().all(|&v| {
        let ok = v == expected;
        expected = expected.wrapping_add(step);
        ok
    })
}

/// The difference between neighbours shared by at least half of them, if
/// any: then the column looks like a grid. Boyer-Moore majority vote, O(n).
pub(crate) fn grid_step(values: &[i64]) -> Option<i64> {
    let deltas = || values.windows(2).map(|w| w[1].wrapping_sub(w[0]));
    let mut candidate = 0i64;
    let mut votes = 0usize;
    for d in deltas() {
        if votes == 0 {
            candidate = d;
        }
        votes = if d == candidate { votes + 1 } else { votes - 1 };
    }
    let count = deltas().filter(|&d| d == candidate).count();
    let n = values.len().saturating_sub(1);
    // Step 0 is a grid too: a counter that rarely moves is a run of shifts.
    (count * 2 >= n && n > 0).then_some(candidate)
}

/// A parsed i64 column meta; build once per chunk, then decode its pages.
#[derive(Debug)]
pub struct I64Decoder {
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Const(i64),
    Arith {
        t0: i64,
        step: i64,
    },
    GridSparse(SparseGrid),
    GridPco {
        t0: i64,
        step: i64,
        pco: PcoColumn<i64>,
    },
    Pco(PcoColumn<i64>),
    Raw,
    Bins(BinsColumn),
}

impl I64Decoder {
    pub fn new(meta: &[u8]) -> Result<Self, CodecError> {
        let mut r = ByteReader::new(meta);
        let encoding = I64Encoding::try_from(r.u8()?)?;
        let kind = match encoding {
            I64Encoding::Const => Kind::Const(r.zigzag()?),
            I64Encoding::Arith => Kind::Arith {
                t0: r.zigzag()?,
                step: r.zigzag()?,
            },
            I64Encoding::GridSparse => {
                return Ok(I64Decoder {
                    kind: Kind::GridSparse(SparseGrid::parse(r)?),
                })
            }
            I64Encoding::GridPco => {
                let t0 = r.zigzag()?;
                let step = r.zigzag()?;
                return Ok(I64Decoder {
                    kind: Kind::GridPco {
                        t0,
                        step,
                        pco: PcoColumn::parse(r)?,
                    },
                });
            }
            I64Encoding::Pco => {
                return Ok(I64Decoder {
                    kind: Kind::Pco(PcoColumn::parse(r)?),
                })
            }
            I64Encoding::Raw => Kind::Raw,
            I64Encoding::Bins => {
                return Ok(I64Decoder {
                    kind: Kind::Bins(BinsColumn::parse(r)?),
                })
            }
        };
        if !r.is_empty() {
            return Err(CodecError::Invalid("trailing bytes after i64 meta"));
        }
        Ok(I64Decoder { kind })
    }

    pub fn encoding(&self) -> &'static str {
        self.encoding_tag().name()
    }

    pub fn encoding_tag(&self) -> I64Encoding {
        match self.kind {
            Kind::Const(_) => I64Encoding::Const,
            Kind::Arith { .. } => I64Encoding::Arith,
            Kind::GridSparse(_) => I64Encoding::GridSparse,
            Kind::GridPco { .. } => I64Encoding::GridPco,
            Kind::Pco(_) => I64Encoding::Pco,
            Kind::Raw => I64Encoding::Raw,
            Kind::Bins(_) => I64Encoding::Bins,
        }
    }

    /// Decodes one page. `first_row` is the page's first row within the chunk;
    /// `out.len()` is the page's row count (at most [`super::MAX_PAGE_ROWS`]).
    pub fn decode_page(
        &self,
        scratch: &mut DecodeScratch,
        first_row: usize,
        page: &[u8],
        out: &mut [i64],
    ) -> Result<(), CodecError> {
        super::check_page_rows(out.len())?;
        self.decode_unchecked(&mut scratch.pco, &mut scratch.bytes, first_row, page, out)
    }

    /// [`Self::decode_page`] once the row count was checked; the f64 decoder
    /// calls it with its own buffer. `bytes` is scratch for `Bins` pages.
    pub(crate) fn decode_unchecked(
        &self,
        pco_scratch: &mut pco::DecompressorScratch,
        bytes: &mut Vec<u8>,
        first_row: usize,
        page: &[u8],
        out: &mut [i64],
    ) -> Result<(), CodecError> {
        match &self.kind {
            Kind::Const(v) => {
                expect_empty(page)?;
                out.fill(*v);
            }
            Kind::Arith { t0, step } => {
                expect_empty(page)?;
                fill_arith(out, grid_at(*t0, *step, first_row), *step);
            }
            Kind::GridSparse(grid) => grid.decode(first_row, page, out)?,
            Kind::GridPco { t0, step, pco } => {
                pco.decode(pco_scratch, page, out)?;
                let mut g = grid_at(*t0, *step, first_row);
                for o in out.iter_mut() {
                    *o = o.wrapping_add(g);
                    g = g.wrapping_add(*step);
                }
            }
            Kind::Pco(pco) => pco.decode(pco_scratch, page, out)?,
            Kind::Bins(bins) => bins.decode(bytes, first_row, page, out)?,
            Kind::Raw => {
                if page.len() != out.len() * 8 {
                    return Err(CodecError::Invalid(
                        "raw i64 page length is not 8 bytes per row",
                    ));
                }
                for (o, b) in out.iter_mut().zip(page.chunks_exact(8)) {
                    let mut a = [0u8; 8];
                    a.copy_from_slice(b);
                    *o = i64::from_le_bytes(a);
                }
            }
        }
        Ok(())
    }
}

fn expect_empty(page: &[u8]) -> Result<(), CodecError> {
    if page.is_empty() {
        Ok(())
    } else {
        Err(CodecError::Invalid(
            "page of a const/arith column is not empty",
        ))
    }
}

fn grid_at(t0: i64, step: i64, row: usize) -> i64 {
    t0.wrapping_add((row as i64).wrapping_mul(step))
}

fn fill_arith(out: &mut [i64], start: i64, step: i64) {
    let mut v = start;
    for o in out {
        *o = v;
        v = v.wrapping_add(step);
    }
}
