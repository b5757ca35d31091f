//! f64 columns: the encodings, how one is chosen, and the decoder.

use super::bits::ByteReader;
use super::int::{self, I64Decoder, I64Encoding};
use super::pco_col::{self, PcoColumn, PcoDelta};
use super::scaled::{self, Exceptions, MAX_DECIMALS};
use super::{pick_smallest, xor, Candidate, CodecError, DecodeScratch, EncodedColumn};

/// The first byte of an f64 column's meta. Values are on disk; never reuse
/// one. Disjoint from [`I64Encoding`] so that a meta of the wrong type is
/// refused rather than misread.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum F64Encoding {
    /// Every row has these bits. Meta: 8 bytes; pages are empty.
    Const = 0x10,
    /// Integral values as an i64 column, plus exceptions.
    Integer = 0x11,
    /// `m / 10^d` values as an i64 column of `m`, plus exceptions.
    Decimal = 0x12,
    /// Pco's float modes.
    PcoFloat = 0x13,
    /// Gorilla XOR per page, zstd on top where that shrinks the page.
    Xor = 0x14,
    /// 8 little-endian bytes per row, zstd on top where that shrinks the page.
    Raw = 0x15,
}

impl F64Encoding {
    pub const ALL: [F64Encoding; 6] = [
        F64Encoding::Const,
        F64Encoding::Integer,
        F64Encoding::Decimal,
        F64Encoding::PcoFloat,
        F64Encoding::Xor,
        F64Encoding::Raw,
    ];

    pub fn name(self) -> &'static str {
        match self {
            F64Encoding::Const => "const",
            F64Encoding::Integer => "integer",
            F64Encoding::Decimal => "decimal",
            F64Encoding::PcoFloat => "pco-float",
            F64Encoding::Xor => "xor",
            F64Encoding::Raw => "raw",
        }
    }
}

impl TryFrom<u8> for F64Encoding {
    type Error = CodecError;
    fn try_from(tag: u8) -> Result<Self, CodecError> {
        F64Encoding::ALL
            .into_iter()
            .find(|e| *e as u8 == tag)
            .ok_or(CodecError::UnknownEncoding(tag))
    }
}

/// First byte of an `Xor` or `Raw` page.
const PAGE_PLAIN: u8 = 0;
const PAGE_ZSTD: u8 = 1;
const ZSTD_LEVEL: i32 = 3;
/// Decimal columns with at most this many places are taken to be real
/// decimals (exporters print ms, µs or ns as seconds).
const REAL_DECIMALS: u8 = 9;

/// Chooses and runs the encoding of an f64 column whose `page_lens` were
/// checked by the caller.
pub(crate) fn encode(values: &[f64], page_lens: &[usize]) -> (EncodedColumn, F64Encoding) {
    if let Some((col, _)) = build(F64Encoding::Const, values, page_lens) {
        return (col, F64Encoding::Const);
    }
    let mut candidates = Vec::new();
    let mut real_decimals = false;
    if let Some(s) = scaled_column(values, page_lens) {
        // Real integers and decimals are held exactly by the best i64
        // encoding; the float encodings have only been seen to tie with it
        // (pco-float) or lose, so they are not worth their encode time. Values
        // that merely round-trip through many decimals (any float does at 17)
        // still try them.
        real_decimals = s.decimals <= REAL_DECIMALS;
        candidates.push(Candidate::with_rank(s.tag, s.rank, s.col));
    }
    if !real_decimals {
        for tag in [F64Encoding::PcoFloat, F64Encoding::Xor] {
            if let Some((col, rank)) = build(tag, values, page_lens) {
                candidates.push(Candidate::with_rank(tag, rank, col));
            }
        }
    }
    let (raw_col, raw_rank) = raw(values, page_lens, !real_decimals);
    pick_smallest(
        Candidate::with_rank(F64Encoding::Raw, raw_rank, raw_col),
        candidates,
    )
}

/// Encodes with `tag`, if it can hold `values`, and ranks its decode speed
/// (lower is faster; the i64 ranks run 0..=5).
pub(crate) fn build(
    tag: F64Encoding,
    values: &[f64],
    page_lens: &[usize],
) -> Option<(EncodedColumn, u8)> {
    match tag {
        F64Encoding::Const => {
            let first = values.first().map_or(0, |v| v.to_bits());
            values
                .iter()
                .all(|v| v.to_bits() == first)
                .then(|| (const_column(first, page_lens.len()), 0))
        }
        F64Encoding::Integer | F64Encoding::Decimal => scaled_column(values, page_lens)
            .filter(|s| s.tag == tag)
            .map(|s| (s.col, s.rank)),
        F64Encoding::PcoFloat => {
            let meta = vec![tag as u8];
            pco_col::encode(values, page_lens, PcoDelta::Auto, meta).map(|col| (col, 8))
        }
        F64Encoding::Xor => {
            let (col, zstd) = paged(values, page_lens, tag, xor::encode, true);
            Some((col, if zstd { 10 } else { 9 }))
        }
        F64Encoding::Raw => Some(raw(values, page_lens, true)),
    }
}

/// An `integer` or `decimal` column, whichever fits, if one does.
struct ScaledColumn {
    col: EncodedColumn,
    tag: F64Encoding,
    decimals: u8,
    rank: u8,
}

fn scaled_column(values: &[f64], page_lens: &[usize]) -> Option<ScaledColumn> {
    let s = scaled::analyze(values)?;
    let tag = if s.decimals == 0 {
        F64Encoding::Integer
    } else {
        F64Encoding::Decimal
    };
    let mut meta = vec![tag as u8];
    if s.decimals > 0 {
        meta.push(s.decimals);
    }
    s.exceptions.write(&mut meta);
    let (inner, inner_tag) = int::encode(&s.ints, page_lens);
    meta.extend_from_slice(&inner.meta);
    Some(ScaledColumn {
        col: EncodedColumn {
            meta,
            pages: inner.pages,
        },
        tag,
        decimals: s.decimals,
        // As fast as the i64 encoding inside, plus a cheap conversion.
        rank: 1 + inner_tag.speed_rank(),
    })
}

fn const_column(bits: u64, n_pages: usize) -> EncodedColumn {
    let mut meta = vec![F64Encoding::Const as u8];
    meta.extend_from_slice(&bits.to_le_bytes());
    EncodedColumn {
        meta,
        pages: vec![Vec::new(); n_pages],
    }
}

/// The fallback that holds anything; plain raw decodes at memory speed.
fn raw(values: &[f64], page_lens: &[usize], try_zstd: bool) -> (EncodedColumn, u8) {
    let (col, zstd) = paged(values, page_lens, F64Encoding::Raw, raw_bytes, try_zstd);
    (col, if zstd { 11 } else { 4 })
}

fn raw_bytes(values: &[f64]) -> Vec<u8> {
    values
        .iter()
        .flat_map(|v| v.to_bits().to_le_bytes())
        .collect()
}

/// Encodes each page with `f`, then, if `try_zstd`, with zstd where that is
/// smaller. Returns the column and whether any page uses zstd.
fn paged(
    values: &[f64],
    page_lens: &[usize],
    tag: F64Encoding,
    f: fn(&[f64]) -> Vec<u8>,
    try_zstd: bool,
) -> (EncodedColumn, bool) {
    let mut pages = Vec::with_capacity(page_lens.len());
    let mut any_zstd = false;
    let mut start = 0;
    for &len in page_lens {
        let plain = f(&values[start..start + len]);
        start += len;
        let zstd = try_zstd
            .then(|| zstd::bulk::compress(&plain, ZSTD_LEVEL).ok())
            .flatten()
            .filter(|z| z.len() < plain.len());
        let (flag, body) = match &zstd {
            Some(z) => (PAGE_ZSTD, z),
            None => (PAGE_PLAIN, &plain),
        };
        any_zstd |= flag == PAGE_ZSTD;
        let mut page = Vec::with_capacity(1 + body.len());
        page.push(flag);
        page.extend_from_slice(body);
        pages.push(page);
    }
    let col = EncodedColumn {
        meta: vec![tag as u8],
        pages,
    };
    (col, any_zstd)
}

/// A parsed f64 column meta; build once per chunk, then decode its pages.
#[derive(Debug)]
pub struct F64Decoder {
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Const(f64),
    Scaled {
        decimals: u8,
        exceptions: Exceptions,
        inner: I64Decoder,
    },
    PcoFloat(PcoColumn<f64>),
    Xor,
    Raw,
}

impl F64Decoder {
    pub fn new(meta: &[u8]) -> Result<Self, CodecError> {
        let mut r = ByteReader::new(meta);
        let encoding = F64Encoding::try_from(r.u8()?)?;
        let kind = match encoding {
            F64Encoding::Const => Kind::Const(f64::from_bits(r.u64_le()?)),
            F64Encoding::Integer | F64Encoding::Decimal => {
                let decimals = if encoding == F64Encoding::Decimal {
                    let d = r.u8()?;
                    if d == 0 || d > MAX_DECIMALS {
                        return Err(CodecError::Invalid("decimal places out of 1..=18"));
                    }
                    d
                } else {
                    0
                };
                let exceptions = Exceptions::parse(&mut r)?;
                let inner = I64Decoder::new(r.rest())?;
                return Ok(F64Decoder {
                    kind: Kind::Scaled {
                        decimals,
                        exceptions,
                        inner,
                    },
                });
            }
            F64Encoding::PcoFloat => {
                return Ok(F64Decoder {
                    kind: Kind::PcoFloat(PcoColumn::parse(r)?),
                })
            }
            F64Encoding::Xor => Kind::Xor,
            F64Encoding::Raw => Kind::Raw,
        };
        if !r.is_empty() {
            return Err(CodecError::Invalid("trailing bytes after f64 meta"));
        }
        Ok(F64Decoder { kind })
    }

    pub fn encoding_tag(&self) -> F64Encoding {
        match &self.kind {
            Kind::Const(_) => F64Encoding::Const,
            Kind::Scaled { decimals: 0, .. } => F64Encoding::Integer,
            Kind::Scaled { .. } => F64Encoding::Decimal,
            Kind::PcoFloat(_) => F64Encoding::PcoFloat,
            Kind::Xor => F64Encoding::Xor,
            Kind::Raw => F64Encoding::Raw,
        }
    }

    pub fn encoding(&self) -> &'static str {
        self.encoding_tag().name()
    }

    /// For `Integer` and `Decimal`: the encoding of the i64 column inside.
    pub fn inner_encoding(&self) -> Option<I64Encoding> {
        match &self.kind {
            Kind::Scaled { inner, .. } => Some(inner.encoding_tag()),
            _ => None,
        }
    }

    /// Decimal places (0 for `Integer`) and exception count of a scaled column.
    pub fn scaled_info(&self) -> Option<(u8, usize)> {
        match &self.kind {
            Kind::Scaled {
                decimals,
                exceptions,
                ..
            } => Some((*decimals, exceptions.len())),
            _ => None,
        }
    }

    /// [`Self::decode_page`] for a page of `rows` rows, appended to `out`.
    /// Integral and decimal pages go from the decoded integers straight
    /// into `out`, with no zero-filling first; on an error `out` may hold
    /// part of the page.
    pub fn decode_page_append(
        &self,
        scratch: &mut DecodeScratch,
        first_row: usize,
        page: &[u8],
        rows: usize,
        out: &mut Vec<f64>,
    ) -> Result<(), CodecError> {
        super::check_page_rows(rows)?;
        let start = out.len();
        match &self.kind {
            Kind::Scaled {
                decimals,
                exceptions,
                inner,
            } => {
                let ints = scaled_ints(inner, scratch, first_row, page, rows)?;
                scaled::unscale_extend(ints, *decimals, out);
                exceptions.patch(first_row, &mut out[start..]);
                Ok(())
            }
            _ => {
                out.resize(start + rows, 0.0);
                self.decode_page(scratch, first_row, page, &mut out[start..])
            }
        }
    }

    /// Decodes one page. `first_row` is the page's first row within the chunk;
    /// `out.len()` is the page's row count (at most [`super::MAX_PAGE_ROWS`]).
    pub fn decode_page(
        &self,
        scratch: &mut DecodeScratch,
        first_row: usize,
        page: &[u8],
        out: &mut [f64],
    ) -> Result<(), CodecError> {
        super::check_page_rows(out.len())?;
        match &self.kind {
            Kind::Const(v) => {
                if !page.is_empty() {
                    return Err(CodecError::Invalid("page of a const column is not empty"));
                }
                out.fill(*v);
            }
            Kind::Scaled {
                decimals,
                exceptions,
                inner,
            } => {
                let ints = scaled_ints(inner, scratch, first_row, page, out.len())?;
                scaled::unscale_all(ints, *decimals, out);
                exceptions.patch(first_row, out);
            }
            Kind::PcoFloat(pco) => pco.decode(&mut scratch.pco, page, out)?,
            Kind::Xor => {
                let bytes = unwrap_page(page, xor::max_encoded_len(out.len()), &mut scratch.bytes)?;
                xor::decode(bytes, out)?;
            }
            Kind::Raw => {
                let bytes = unwrap_page(page, out.len() * 8, &mut scratch.bytes)?;
                if bytes.len() != out.len() * 8 {
                    return Err(CodecError::Invalid(
                        "raw f64 page length is not 8 bytes per row",
                    ));
                }
                for (o, b) in out.iter_mut().zip(bytes.chunks_exact(8)) {
                    let mut a = [0u8; 8];
                    a.copy_from_slice(b);
                    *o = f64::from_bits(u64::from_le_bytes(a));
                }
            }
        }
        Ok(())
    }
}

/// The `rows` integers of a scaled page, decoded into the scratch buffer.
fn scaled_ints<'s>(
    inner: &I64Decoder,
    scratch: &'s mut DecodeScratch,
    first_row: usize,
    page: &[u8],
    rows: usize,
) -> Result<&'s [i64], CodecError> {
    let ints = &mut scratch.ints;
    ints.resize(rows, 0);
    inner.decode_unchecked(&mut scratch.pco, &mut scratch.bytes, first_row, page, ints)?;
    Ok(ints)
}

/// The payload of an `Xor`/`Raw` page, decompressed into `buf` (at most
/// `max_len` bytes) when the page is zstd.
fn unwrap_page<'a>(
    page: &'a [u8],
    max_len: usize,
    buf: &'a mut Vec<u8>,
) -> Result<&'a [u8], CodecError> {
    let (&flag, body) = page.split_first().ok_or(CodecError::Truncated)?;
    match flag {
        PAGE_PLAIN => Ok(body),
        PAGE_ZSTD => {
            buf.clear();
            buf.resize(max_len, 0);
            let n = zstd::bulk::decompress_to_buffer(body, buf)
                .map_err(|_| CodecError::Invalid("corrupt or oversized zstd page"))?;
            Ok(&buf[..n])
        }
        _ => Err(CodecError::Invalid("unknown page flag")),
    }
}
