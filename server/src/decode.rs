//! Hand-written protobuf readers for the two write requests (`nines.v1`
//! `WriteRequest` and remote-write 1.0 `WriteRequest`), straight from the
//! wire bytes into engine batches. prost would first build a message tree
//! (a `Vec` per series, a `Sample` struct per sample, copies through
//! `Buf`), which the server then converted again; this reads label text as
//! slices, packed timestamps as varints into the final `Vec<i64>` and packed
//! values with one bounds check per column.
//!
//! Both accept exactly what prost accepts for these messages (packed and
//! unpacked repeated scalars, fields in any order, last value wins for
//! singular fields, unknown fields skipped), and the tests check that they
//! produce what the prost path produced. Errors name the field.

use std::fmt;

// unzigzag: protobuf `sint64` to two's complement
use nines_engine::bytes::{put_uvarint, unzigzag};
use nines_engine::{Label, Labels, SeriesBatch, SeriesKind, SeriesRef, WriteBatch};
use nines_proto::prometheus;
use prost::Message;

use crate::ingest::kind_from_proto;
use crate::series_cache::{key_hash, sequence_hash, SeriesCache};
use crate::stream_refs::{Named, RefError, StreamRefs, MAX_SERIES_REF};

/// What was wrong, without allocating (hot path).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeErrorKind {
    /// The message ends inside this field.
    Truncated,
    /// A varint longer than 10 bytes or past 64 bits.
    VarintOverflow,
    /// The field came with a wire type its declared type cannot have.
    WireType(u8),
    /// A key with field number 0, an unknown wire type, or past 32 bits.
    InvalidKey,
    /// Groups (wire types 3 and 4) are not part of these messages.
    Group,
    /// A string that is not UTF-8.
    InvalidUtf8,
    /// Packed doubles whose length is not a multiple of 8.
    PackedLength(usize),
    /// A nested message prost refused (remote-write metadata, exemplars).
    Nested,
    /// A compact series' label reference past the request's symbols.
    SymbolRef { index: u32, symbols: usize },
    /// A compact series with an odd number of label references.
    OddLabelRefs(usize),
    /// A compact series with both `values` and `integer_deltas`.
    TwoValueForms,
    /// An integer value beyond +-2^53, not exact as a double.
    InexactInteger(i64),
    /// The request decodes to more than this many bytes.
    TooLarge(usize),
    /// A `series_ref` past [`MAX_SERIES_REF`].
    SeriesRefTooLarge(u32),
    /// A `series_ref` without labels that names no series on the stream.
    UndefinedSeriesRef(u32),
    /// A `series_ref` without labels on a unary `Write`.
    SeriesRefOutsideStream(u32),
}

/// A malformed write request; `field` says where (`message.field`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeError {
    pub field: &'static str,
    pub kind: DecodeErrorKind,
}

impl fmt::Display for DecodeErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            DecodeErrorKind::Truncated => f.write_str("message ends inside the field"),
            DecodeErrorKind::VarintOverflow => f.write_str("varint longer than 64 bits"),
            DecodeErrorKind::WireType(w) => write!(f, "unexpected wire type {w}"),
            DecodeErrorKind::InvalidKey => f.write_str("invalid field key"),
            DecodeErrorKind::Group => f.write_str("groups are not supported"),
            DecodeErrorKind::InvalidUtf8 => f.write_str("string is not UTF-8"),
            DecodeErrorKind::PackedLength(n) => {
                write!(f, "packed doubles of {n} bytes, not a multiple of 8")
            }
            DecodeErrorKind::Nested => f.write_str("invalid nested message"),
            DecodeErrorKind::SymbolRef { index, symbols } => write!(
                f,
                "label reference {index}, but the request has {symbols} symbols"
            ),
            DecodeErrorKind::OddLabelRefs(n) => {
                write!(f, "{n} label references, not name-value pairs")
            }
            DecodeErrorKind::TwoValueForms => {
                f.write_str("both `values` and `integer_deltas` are set; send one")
            }
            DecodeErrorKind::InexactInteger(v) => write!(
                f,
                "integer value {v} is beyond +-2^53, where doubles skip integers; send it in `values`"
            ),
            DecodeErrorKind::TooLarge(limit) => write!(
                f,
                "the request decodes to more than {limit} bytes (16 per sample, ~100 per series, plus label text); send smaller batches"
            ),
            DecodeErrorKind::SeriesRefTooLarge(n) => write!(
                f,
                "series_ref {n} is past the largest, {MAX_SERIES_REF}; number a stream's series densely from 1"
            ),
            DecodeErrorKind::UndefinedSeriesRef(n) => write!(
                f,
                "series_ref {n} names no series on this stream; send it once with its label_refs first"
            ),
            DecodeErrorKind::SeriesRefOutsideStream(n) => write!(
                f,
                "series_ref {n} without label_refs on a unary Write; numbered series last one WriteStream or WriteSession"
            ),
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "field {}: {}", self.field, self.kind)
    }
}

impl std::error::Error for DecodeError {}

const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LEN: u8 = 2;
const FIXED32: u8 = 5;

/// A bounds-checked cursor over one message's bytes.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    fn has_more(&self) -> bool {
        self.pos < self.buf.len()
    }

    #[inline]
    fn varint(&mut self, field: &'static str) -> Result<u64, DecodeError> {
        // Keys, lengths and most timestamp deltas fit one byte. (An 8-byte
        // load for longer ones measured 15-20 % slower, twice: see
        // docs/BENCHMARKS.md "Ingest".)
        match self.buf.get(self.pos) {
            Some(&b) if b < 0x80 => {
                self.pos += 1;
                Ok(u64::from(b))
            }
            _ => self.varint_slow(field),
        }
    }

    /// [`Reader::varint`] for a packed column's elements, where two- and
    /// three-byte varints are common (timestamp deltas of 1 s to 17 min
    /// zigzagged, counter increments past 63): those read inline too.
    #[inline]
    fn packed_varint(&mut self, field: &'static str) -> Result<u64, DecodeError> {
        match self.buf.get(self.pos..) {
            Some(&[b0, ..]) if b0 < 0x80 => {
                self.pos += 1;
                Ok(u64::from(b0))
            }
            Some(&[b0, b1, ..]) if b1 < 0x80 => {
                self.pos += 2;
                Ok(u64::from(b0 & 0x7f) | u64::from(b1) << 7)
            }
            Some(&[b0, b1, b2, ..]) if b2 < 0x80 => {
                self.pos += 3;
                Ok(u64::from(b0 & 0x7f) | u64::from(b1 & 0x7f) << 7 | u64::from(b2) << 14)
            }
            _ => self.varint_slow(field),
        }
    }

    #[inline(never)]
    fn varint_slow(&mut self, field: &'static str) -> Result<u64, DecodeError> {
        let err = |kind| DecodeError { field, kind };
        let mut v = 0u64;
        for i in 0..10 {
            let b = *self
                .buf
                .get(self.pos)
                .ok_or(err(DecodeErrorKind::Truncated))?;
            self.pos += 1;
            if i == 9 && b > 1 {
                return Err(err(DecodeErrorKind::VarintOverflow));
            }
            v |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(err(DecodeErrorKind::VarintOverflow))
    }

    /// (field number, wire type) of the next field.
    #[inline]
    fn key(&mut self, msg: &'static str) -> Result<(u32, u8), DecodeError> {
        let invalid = DecodeError {
            field: msg,
            kind: DecodeErrorKind::InvalidKey,
        };
        // Keys are 32 bits: field numbers stop at 2^29 - 1.
        let k = u32::try_from(self.varint(msg)?).map_err(|_| invalid)?;
        let (number, wire) = (k >> 3, (k & 7) as u8);
        if number == 0 || wire > FIXED32 {
            return Err(invalid);
        }
        Ok((number, wire))
    }

    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        let end = end.ok_or(DecodeError {
            field,
            kind: DecodeErrorKind::Truncated,
        })?;
        let b = &self.buf[self.pos..end];
        self.pos = end;
        Ok(b)
    }

    #[inline]
    fn bytes(&mut self, field: &'static str) -> Result<&'a [u8], DecodeError> {
        let n = self.varint(field)?;
        // A length past the buffer is truncation, however huge.
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        self.take(n, field)
    }

    #[inline]
    fn fixed64(&mut self, field: &'static str) -> Result<u64, DecodeError> {
        let b = self.take(8, field)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    /// A `repeated double` field with wire type `wire` (packed, or one
    /// fixed64) appended to `values` after charging the budget; how many
    /// values it held.
    #[inline]
    fn doubles(
        &mut self,
        wire: u8,
        field: &'static str,
        budget: &mut Budget,
        values: &mut Vec<f64>,
    ) -> Result<usize, DecodeError> {
        match wire {
            LEN => {
                let packed = self.bytes(field)?;
                budget.take(packed.len(), field)?;
                if !packed.len().is_multiple_of(8) {
                    return Err(DecodeError {
                        field,
                        kind: DecodeErrorKind::PackedLength(packed.len()),
                    });
                }
                values.extend(packed.chunks_exact(8).map(|c| {
                    let mut a = [0u8; 8];
                    a.copy_from_slice(c);
                    f64::from_le_bytes(a)
                }));
                Ok(packed.len() / 8)
            }
            FIXED64 => {
                budget.take(8, field)?;
                values.push(f64::from_bits(self.fixed64(field)?));
                Ok(1)
            }
            w => Err(wire_error(field, w)),
        }
    }

    fn skip(&mut self, wire: u8, field: &'static str) -> Result<(), DecodeError> {
        match wire {
            VARINT => self.varint(field).map(drop),
            FIXED64 => self.take(8, field).map(drop),
            LEN => self.bytes(field).map(drop),
            FIXED32 => self.take(4, field).map(drop),
            _ => Err(DecodeError {
                field,
                kind: DecodeErrorKind::Group,
            }),
        }
    }
}

fn expect_wire(wire: u8, want: u8, field: &'static str) -> Result<(), DecodeError> {
    if wire == want {
        Ok(())
    } else {
        Err(DecodeError {
            field,
            kind: DecodeErrorKind::WireType(wire),
        })
    }
}

fn utf8<'a>(b: &'a [u8], field: &'static str) -> Result<&'a str, DecodeError> {
    std::str::from_utf8(b).map_err(|_| DecodeError {
        field,
        kind: DecodeErrorKind::InvalidUtf8,
    })
}

/// A `Label { name = 1; value = 2; }` message (both schemas use it).
fn label(b: &[u8], msg: &'static str) -> Result<Label, DecodeError> {
    let mut r = Reader::new(b);
    let (mut name, mut value) = ("", "");
    while r.has_more() {
        match r.key(msg)? {
            (1, w) => {
                expect_wire(w, LEN, "Label.name")?;
                name = utf8(r.bytes("Label.name")?, "Label.name")?;
            }
            (2, w) => {
                expect_wire(w, LEN, "Label.value")?;
                value = utf8(r.bytes("Label.value")?, "Label.value")?;
            }
            (_, w) => r.skip(w, msg)?,
        }
    }
    Ok(Label {
        name: name.to_owned(),
        value: value.to_owned(),
    })
}

/// Decodes a `nines.v1.WriteRequest` into an engine batch; equal to prost's
/// decode followed by [`crate::ingest::batch_from_grpc`].
pub fn decode_write_request_fast(buf: &[u8]) -> Result<WriteBatch, DecodeError> {
    decode_write_request_cached(buf, None, usize::MAX).map(|d| d.batch)
}

/// What a request may still decode to: each series entry and symbol, its
/// samples' columns (8 bytes per timestamp and per value, charged before
/// they are allocated) and the label text compact series expand to. An
/// empty series entry is two bytes on the wire and a hundred in memory, a
/// packed timestamp can be one byte, a compact label reference a few
/// bytes for a long symbol: the wire size alone does not bound the memory
/// a request takes.
struct Budget {
    left: usize,
    limit: usize,
}

/// What one decoded series entry takes before its columns and labels.
const SERIES_COST: usize = std::mem::size_of::<SeriesBatch>();

/// What one decoded label takes besides its text.
const LABEL_COST: usize = std::mem::size_of::<Label>();

/// Bytes a remote-write request may decode to per decompressed byte: the
/// legitimate worst case, a series of one sample and one short label
/// (`{__name__="a"}`: 35 bytes on the wire), takes under 5 (88 for the
/// series, 16 for the sample, 57 for the label); an empty `TimeSeries`
/// entry takes 44 and is refused in bulk.
pub const REMOTE_WRITE_EXPANSION: usize = 6;

impl Budget {
    fn new(limit: usize) -> Budget {
        Budget { left: limit, limit }
    }

    #[inline]
    fn take(&mut self, n: usize, field: &'static str) -> Result<(), DecodeError> {
        match self.left.checked_sub(n) {
            Some(left) => {
                self.left = left;
                Ok(())
            }
            None => Err(DecodeError {
                field,
                kind: DecodeErrorKind::TooLarge(self.limit),
            }),
        }
    }
}

/// A series whose label bytes the cache did not know: once its labels are
/// resolved, [`SeriesCache::insert`] it under `hash` and `key`.
#[derive(Debug, PartialEq)]
pub struct CacheMiss {
    /// Index into the batch's series.
    pub index: usize,
    pub hash: u64,
    pub key: Box<[u8]>,
}

/// A decoded write and the series to add to the cache.
#[derive(Debug, Default)]
pub struct DecodedWrite {
    pub batch: WriteBatch,
    pub misses: Vec<CacheMiss>,
}

/// [`decode_write_request_fast`] with the series cache: a series whose label
/// fields are byte for byte those of a cached one comes back with empty
/// labels and its head series in `resolved`, its labels neither checked nor
/// copied (they were when first cached). The others are decoded as without
/// the cache and listed in `misses`. Series whose label fields are not
/// contiguous in the message (no encoder writes that) are never cached.
/// The decoded samples and compact label text may take at most `limit`
/// bytes (see `Budget`), else `TooLarge`.
pub fn decode_write_request_cached(
    buf: &[u8],
    cache: Option<&SeriesCache>,
    limit: usize,
) -> Result<DecodedWrite, DecodeError> {
    decode_write_request_stream(buf, cache, limit, None)
}

/// [`decode_write_request_cached`] for one message of a stream, with the
/// stream's numbered series: a compact series with a `series_ref` and
/// labels names it in `stream`; one with a `series_ref` alone comes back
/// as the series named so (resolved, or with its labels), neither decoded
/// nor looked up. Without `stream` (a unary `Write`) a `series_ref` alone
/// is an error.
pub fn decode_write_request_stream(
    buf: &[u8],
    cache: Option<&SeriesCache>,
    limit: usize,
    stream: Option<&mut StreamRefs>,
) -> Result<DecodedWrite, DecodeError> {
    let cache = cache.filter(|c| c.enabled());
    let mut r = Reader::new(buf);
    let mut out = DecodedWrite::default();
    let mut budget = Budget::new(limit);
    // Compact series refer to symbols that may come after them.
    let mut symbols: Vec<&str> = Vec::new();
    let mut compact: Vec<&[u8]> = Vec::new();
    // Series found by their stream number, not in the cache.
    let mut numbered = 0;
    while r.has_more() {
        match r.key("WriteRequest")? {
            (1, w) => {
                expect_wire(w, LEN, "WriteRequest.series")?;
                let b = r.bytes("WriteRequest.series")?;
                budget.take(SERIES_COST, "WriteRequest.series")?;
                let index = out.batch.series.len();
                out.batch.series.push(series_samples(
                    b,
                    cache,
                    index,
                    &mut out.misses,
                    &mut budget,
                )?);
            }
            (2, w) => {
                const F: &str = "WriteRequest.symbols";
                expect_wire(w, LEN, F)?;
                budget.take(std::mem::size_of::<&str>(), F)?;
                symbols.push(utf8(r.bytes(F)?, F)?);
            }
            (3, w) => {
                expect_wire(w, LEN, "WriteRequest.compact")?;
                budget.take(SERIES_COST + 16, "WriteRequest.compact")?;
                compact.push(r.bytes("WriteRequest.compact")?);
            }
            (_, w) => r.skip(w, "WriteRequest")?,
        }
    }
    if !compact.is_empty() {
        let mut c = CompactReader {
            symbols: &symbols,
            symbol_hashes: match cache {
                Some(_) => symbols.iter().map(|s| key_hash(s.as_bytes())).collect(),
                None => Vec::new(),
            },
            cache,
            refs: Vec::new(),
            stream,
            numbered: 0,
        };
        out.batch.series.reserve(compact.len());
        for b in compact {
            let index = out.batch.series.len();
            let s = c.series(b, index, &mut out.misses, &mut budget)?;
            out.batch.series.push(s);
        }
        numbered = c.numbered;
    }
    count_lookups(cache, &out.batch.series, numbered, &out.misses);
    Ok(out)
}

/// Adds a decoded request's cache hits (series that came back resolved,
/// less the `numbered` ones found by their stream number) and misses to
/// the cache's counters, once per request.
fn count_lookups(
    cache: Option<&SeriesCache>,
    series: &[SeriesBatch],
    numbered: usize,
    misses: &[CacheMiss],
) {
    if let Some(c) = cache {
        let resolved = series.iter().filter(|s| s.resolved.is_some()).count();
        c.count(resolved.saturating_sub(numbered), misses.len());
    }
}

/// How a packed column's elements run: deltas (timestamp deltas, counter
/// increments) are mostly one to three bytes; absolute millisecond
/// timestamps are six, where the short-varint checks would only cost.
#[derive(Clone, Copy)]
enum Elements {
    Short,
    Long,
}

/// Appends a packed varint column, each element through `f`, after
/// charging the budget 8 bytes per element; returns how many there were.
#[inline]
fn packed_varints<T>(
    packed: &[u8],
    field: &'static str,
    elements: Elements,
    budget: &mut Budget,
    out: &mut Vec<T>,
    mut f: impl FnMut(u64) -> Result<T, DecodeError>,
) -> Result<usize, DecodeError> {
    // Every varint ends in exactly one byte below 0x80.
    let n = packed.iter().filter(|&&b| b < 0x80).count();
    budget.take(n * 8, field)?;
    out.reserve(n);
    let mut p = Reader::new(packed);
    while p.has_more() {
        let v = match elements {
            Elements::Short => p.packed_varint(field)?,
            Elements::Long => p.varint(field)?,
        };
        out.push(f(v)?);
    }
    Ok(n)
}

/// The largest integer magnitude a double holds together with all the
/// integers below it.
const EXACT_INTEGER: i64 = 1 << 53;

/// Decodes `CompactSeries` messages against one request's symbols, with
/// scratch space reused across the series.
struct CompactReader<'a, 's> {
    symbols: &'s [&'a str],
    /// `key_hash` of each symbol, when there is a cache.
    symbol_hashes: Vec<u64>,
    cache: Option<&'s SeriesCache>,
    refs: Vec<u32>,
    /// The stream's numbered series (`None`: a unary `Write`).
    stream: Option<&'s mut StreamRefs>,
    /// Series resolved through `stream` so far.
    numbered: usize,
}

impl CompactReader<'_, '_> {
    fn series(
        &mut self,
        b: &[u8],
        index: usize,
        misses: &mut Vec<CacheMiss>,
        budget: &mut Budget,
    ) -> Result<SeriesBatch, DecodeError> {
        const REFS: &str = "CompactSeries.label_refs";
        const TS: &str = "CompactSeries.timestamp_deltas";
        const VALS: &str = "CompactSeries.values";
        const INTS: &str = "CompactSeries.integer_deltas";
        const NUM: &str = "CompactSeries.series_ref";
        let mut r = Reader::new(b);
        self.refs.clear();
        let mut kind = 0i32;
        let mut number = 0u32;
        let mut timestamps: Vec<i64> = Vec::new();
        let mut values: Vec<f64> = Vec::new();
        let (mut t, mut v) = (0i64, 0i64);
        let (mut doubles, mut integers) = (false, false);
        // One running sum per column across all its fields, as prost
        // collects packed and unpacked elements into one list.
        while r.has_more() {
            match r.key("CompactSeries")? {
                (1, LEN) => {
                    let mut p = Reader::new(r.bytes(REFS)?);
                    while p.has_more() {
                        // prost keeps the low 32 bits of a uint32 varint.
                        self.refs.push(p.varint(REFS)? as u32);
                    }
                }
                (1, VARINT) => self.refs.push(r.varint(REFS)? as u32),
                (1, w) => return Err(wire_error(REFS, w)),
                (2, w) => {
                    expect_wire(w, VARINT, "CompactSeries.kind")?;
                    kind = r.varint("CompactSeries.kind")? as i32;
                }
                (3, LEN) => {
                    packed_varints(
                        r.bytes(TS)?,
                        TS,
                        Elements::Short,
                        budget,
                        &mut timestamps,
                        |d| {
                            t = t.wrapping_add(unzigzag(d));
                            Ok(t)
                        },
                    )?;
                }
                (3, VARINT) => {
                    budget.take(8, TS)?;
                    t = t.wrapping_add(unzigzag(r.varint(TS)?));
                    timestamps.push(t);
                }
                (3, w) => return Err(wire_error(TS, w)),
                (4, w) => doubles |= r.doubles(w, VALS, budget, &mut values)? > 0,
                (5, LEN) => {
                    let n = packed_varints(
                        r.bytes(INTS)?,
                        INTS,
                        Elements::Short,
                        budget,
                        &mut values,
                        |d| int_value(d, &mut v),
                    )?;
                    integers |= n > 0;
                }
                (5, VARINT) => {
                    budget.take(8, INTS)?;
                    integers = true;
                    values.push(int_value(r.varint(INTS)?, &mut v)?);
                }
                (5, w) => return Err(wire_error(INTS, w)),
                (6, w) => {
                    expect_wire(w, VARINT, NUM)?;
                    // prost keeps the low 32 bits of a uint32 varint.
                    number = r.varint(NUM)? as u32;
                }
                (_, w) => r.skip(w, "CompactSeries")?,
            }
        }
        if doubles && integers {
            return Err(DecodeError {
                field: INTS,
                kind: DecodeErrorKind::TwoValueForms,
            });
        }
        let (labels, resolved) = if number != 0 && self.refs.is_empty() {
            self.numbered(number, budget)?
        } else {
            let (labels, resolved) = self.labels(index, misses, budget)?;
            if let (Some(stream), true) = (self.stream.as_deref_mut(), number != 0) {
                stream
                    .define(number, &labels, resolved.as_ref())
                    .map_err(ref_error)?;
            }
            (labels, resolved)
        };
        Ok(SeriesBatch {
            kind: kind_from_proto(kind),
            labels,
            timestamps,
            values,
            resolved,
        })
    }

    /// What series `number` of the stream stands for: its head series, or
    /// (not resolved, or refused) its labels, copied and charged.
    fn numbered(
        &mut self,
        number: u32,
        budget: &mut Budget,
    ) -> Result<(Labels, Option<SeriesRef>), DecodeError> {
        const NUM: &str = "CompactSeries.series_ref";
        let Some(stream) = self.stream.as_deref_mut() else {
            return Err(DecodeError {
                field: NUM,
                kind: DecodeErrorKind::SeriesRefOutsideStream(number),
            });
        };
        match stream.get(number).map_err(ref_error)? {
            Named::Series(r) => {
                self.numbered += 1;
                Ok((Labels::default(), Some(r)))
            }
            Named::Labels(l) => {
                let text: usize = l
                    .iter()
                    .map(|l| LABEL_COST + l.name.len() + l.value.len())
                    .sum();
                budget.take(text, NUM)?;
                Ok((l.clone(), None))
            }
        }
    }

    /// The series' labels from `self.refs`, or its cached head series
    /// (labels left empty). The cache key is the label text, each string
    /// length-prefixed, after a 0 byte no plain series' key starts with.
    fn labels(
        &mut self,
        index: usize,
        misses: &mut Vec<CacheMiss>,
        budget: &mut Budget,
    ) -> Result<(Labels, Option<SeriesRef>), DecodeError> {
        const REFS: &str = "CompactSeries.label_refs";
        if self.refs.is_empty() {
            return Ok((Labels::default(), None));
        }
        if !self.refs.len().is_multiple_of(2) {
            return Err(DecodeError {
                field: REFS,
                kind: DecodeErrorKind::OddLabelRefs(self.refs.len()),
            });
        }
        let symbols = self.symbols;
        let symbol = |i: u32| {
            symbols.get(i as usize).copied().ok_or(DecodeError {
                field: REFS,
                kind: DecodeErrorKind::SymbolRef {
                    index: i,
                    symbols: symbols.len(),
                },
            })
        };
        let decode = |refs: &[u32], budget: &mut Budget| {
            let mut labels = Vec::with_capacity(refs.len() / 2);
            for p in refs.chunks_exact(2) {
                let (name, value) = (symbol(p[0])?, symbol(p[1])?);
                budget.take(LABEL_COST + name.len() + value.len(), REFS)?;
                labels.push(Label {
                    name: name.to_owned(),
                    value: value.to_owned(),
                });
            }
            Ok::<_, DecodeError>(Labels::new(labels))
        };
        let Some(cache) = self.cache else {
            return decode(&self.refs, budget).map(|l| (l, None));
        };
        let mut key_len = 1;
        for &i in &self.refs {
            let s = symbol(i)?;
            // A hit compares the key's text, a miss copies it: charged,
            // so that many references to a long symbol cannot make
            // either grow without bound.
            budget.take(s.len() + 10, REFS)?;
            key_len += s.len() + 10;
        }
        let refs = &self.refs;
        let hash = sequence_hash(refs.iter().map(|&i| self.symbol_hashes[i as usize]));
        let is_key = |stored: &[u8]| compact_key_is(stored, refs, symbols);
        if let Some(r) = cache.get_matching(hash, is_key) {
            return Ok((Labels::default(), Some(r)));
        }
        let labels = decode(refs, budget)?;
        let mut key = Vec::with_capacity(key_len);
        key.push(0);
        for &i in refs {
            let s = symbols[i as usize];
            put_uvarint(&mut key, s.len() as u64);
            key.extend_from_slice(s.as_bytes());
        }
        misses.push(CacheMiss {
            index,
            hash,
            key: key.into(),
        });
        Ok((labels, None))
    }
}

fn ref_error(e: RefError) -> DecodeError {
    DecodeError {
        field: "CompactSeries.series_ref",
        kind: match e {
            RefError::TooLarge(n) => DecodeErrorKind::SeriesRefTooLarge(n),
            RefError::Undefined(n) => DecodeErrorKind::UndefinedSeriesRef(n),
        },
    }
}

/// Whether a cache key is that of a compact series with these (checked)
/// label references: a 0 byte, then each string length-prefixed.
fn compact_key_is(stored: &[u8], refs: &[u32], symbols: &[&str]) -> bool {
    let Some((&0, mut rest)) = stored.split_first() else {
        return false;
    };
    for &i in refs {
        let s = symbols[i as usize].as_bytes();
        let mut r = Reader::new(rest);
        let Ok(n) = r.varint("key") else {
            return false;
        };
        let Some(text) = rest.get(r.pos..).and_then(|t| t.get(..s.len())) else {
            return false;
        };
        if n != s.len() as u64 || text != s {
            return false;
        }
        rest = &rest[r.pos + s.len()..];
    }
    rest.is_empty()
}

/// The next integer value from its delta `d` and the running sum `v`.
#[inline]
fn int_value(d: u64, v: &mut i64) -> Result<f64, DecodeError> {
    *v = v.wrapping_add(unzigzag(d));
    if v.unsigned_abs() > EXACT_INTEGER as u64 {
        return Err(DecodeError {
            field: "CompactSeries.integer_deltas",
            kind: DecodeErrorKind::InexactInteger(*v),
        });
    }
    Ok(*v as f64)
}

/// The labels of a series message (`SeriesSamples`, `TimeSeries`): every
/// `labels` field (number 1) in order; `msg` and `field` name them in errors.
fn message_labels(
    b: &[u8],
    msg: &'static str,
    field: &'static str,
    budget: &mut Budget,
) -> Result<Labels, DecodeError> {
    let mut r = Reader::new(b);
    let mut labels = Vec::new();
    while r.has_more() {
        match r.key(msg)? {
            (1, _) => {
                let lb = r.bytes(field)?;
                // An empty `Label` is two bytes on the wire and a 48-byte
                // struct in memory.
                budget.take(LABEL_COST + lb.len(), field)?;
                labels.push(label(lb, "Label")?);
            }
            (_, w) => r.skip(w, msg)?,
        }
    }
    Ok(Labels::new(labels))
}

/// Where a series message's label fields are (key, length and message of
/// each): both write requests keep them in field 1.
struct LabelSpan {
    start: usize,
    end: usize,
    contiguous: bool,
    /// The message and field, for errors.
    msg: &'static str,
    field: &'static str,
}

impl LabelSpan {
    fn new(msg: &'static str, field: &'static str) -> LabelSpan {
        LabelSpan {
            start: 0,
            end: 0,
            contiguous: true,
            msg,
            field,
        }
    }

    /// Notes a label field that began at `field_start` and ends at `end`.
    fn add(&mut self, field_start: usize, end: usize) {
        if self.end == 0 {
            self.start = field_start;
        } else if self.end != field_start {
            self.contiguous = false;
        }
        self.end = end;
    }

    /// The series' labels, or its cached head series (labels left empty);
    /// a cache miss is decoded and listed in `misses`.
    fn resolve(
        &self,
        msg: &[u8],
        cache: Option<&SeriesCache>,
        index: usize,
        misses: &mut Vec<CacheMiss>,
        budget: &mut Budget,
    ) -> Result<(Labels, Option<SeriesRef>), DecodeError> {
        let mut decode = |b| message_labels(b, self.msg, self.field, budget);
        if self.end == 0 {
            return Ok((Labels::default(), None));
        }
        let key = &msg[self.start..self.end];
        if !self.contiguous {
            return decode(msg).map(|l| (l, None));
        }
        let Some(c) = cache else {
            return decode(key).map(|l| (l, None));
        };
        let hash = key_hash(key);
        if let Some(r) = c.get(hash, key) {
            return Ok((Labels::default(), Some(r)));
        }
        let labels = decode(key)?;
        misses.push(CacheMiss {
            index,
            hash,
            key: key.into(),
        });
        Ok((labels, None))
    }
}

fn series_samples(
    b: &[u8],
    cache: Option<&SeriesCache>,
    index: usize,
    misses: &mut Vec<CacheMiss>,
    budget: &mut Budget,
) -> Result<SeriesBatch, DecodeError> {
    const TS: &str = "SeriesSamples.timestamps";
    const VALS: &str = "SeriesSamples.values";
    let mut r = Reader::new(b);
    let mut span = LabelSpan::new("SeriesSamples", "SeriesSamples.labels");
    let mut kind = 0i32;
    let mut timestamps: Vec<i64> = Vec::new();
    let mut values: Vec<f64> = Vec::new();
    while r.has_more() {
        let field_start = r.pos;
        match r.key("SeriesSamples")? {
            (1, w) => {
                expect_wire(w, LEN, "SeriesSamples.labels")?;
                r.bytes("SeriesSamples.labels")?;
                span.add(field_start, r.pos);
            }
            (2, w) => {
                expect_wire(w, VARINT, "SeriesSamples.kind")?;
                // prost keeps the low 32 bits of an enum varint.
                kind = r.varint("SeriesSamples.kind")? as i32;
            }
            (3, LEN) => {
                packed_varints(
                    r.bytes(TS)?,
                    TS,
                    Elements::Long,
                    budget,
                    &mut timestamps,
                    |v| Ok(v as i64),
                )?;
            }
            (3, VARINT) => {
                budget.take(8, TS)?;
                timestamps.push(r.varint(TS)? as i64);
            }
            (3, w) => return Err(wire_error(TS, w)),
            (4, w) => {
                r.doubles(w, VALS, budget, &mut values)?;
            }
            (_, w) => r.skip(w, "SeriesSamples")?,
        }
    }
    let (labels, resolved) = span.resolve(b, cache, index, misses, budget)?;
    Ok(SeriesBatch {
        kind: kind_from_proto(kind),
        labels,
        timestamps,
        values,
        resolved,
    })
}

fn wire_error(field: &'static str, wire: u8) -> DecodeError {
    DecodeError {
        field,
        kind: DecodeErrorKind::WireType(wire),
    }
}

/// A decoded remote-write request: the series (kinds left `Unknown`; the
/// caller fills them from metadata) and the sender's metadata.
#[derive(Debug, Default, PartialEq)]
pub struct RemoteWrite {
    pub series: Vec<SeriesBatch>,
    pub metadata: Vec<prometheus::MetricMetadata>,
    /// With the series cache: the series to add to it.
    pub misses: Vec<CacheMiss>,
}

/// Decodes a remote-write 1.0 `WriteRequest` (already decompressed); equal
/// to prost's decode followed by the conversion the receiver did before.
pub fn decode_remote_write_fast(buf: &[u8]) -> Result<RemoteWrite, DecodeError> {
    remote_write(buf, None, usize::MAX)
}

/// [`decode_remote_write_fast`] with the series cache (when given), as
/// [`decode_write_request_cached`] does it, and what the receiver runs:
/// the decoded request may take at most [`REMOTE_WRITE_EXPANSION`] bytes
/// per byte of `buf` (see `Budget`), else `TooLarge`.
pub fn decode_remote_write_cached(
    buf: &[u8],
    cache: Option<&SeriesCache>,
) -> Result<RemoteWrite, DecodeError> {
    remote_write(buf, cache, buf.len().saturating_mul(REMOTE_WRITE_EXPANSION))
}

fn remote_write(
    buf: &[u8],
    cache: Option<&SeriesCache>,
    limit: usize,
) -> Result<RemoteWrite, DecodeError> {
    let cache = cache.filter(|c| c.enabled());
    let mut r = Reader::new(buf);
    let mut out = RemoteWrite::default();
    let mut budget = Budget::new(limit);
    while r.has_more() {
        match r.key("WriteRequest")? {
            (1, w) => {
                expect_wire(w, LEN, "WriteRequest.timeseries")?;
                let b = r.bytes("WriteRequest.timeseries")?;
                let index = out.series.len();
                out.series
                    .push(time_series(b, cache, index, &mut out.misses, &mut budget)?);
            }
            (3, w) => {
                expect_wire(w, LEN, "WriteRequest.metadata")?;
                // Rare and small: prost's message type is the API surface.
                let b = r.bytes("WriteRequest.metadata")?;
                let md = prometheus::MetricMetadata::decode(b).map_err(|_| DecodeError {
                    field: "WriteRequest.metadata",
                    kind: DecodeErrorKind::Nested,
                })?;
                out.metadata.push(md);
            }
            (_, w) => r.skip(w, "WriteRequest")?,
        }
    }
    count_lookups(cache, &out.series, 0, &out.misses);
    Ok(out)
}

fn time_series(
    b: &[u8],
    cache: Option<&SeriesCache>,
    index: usize,
    misses: &mut Vec<CacheMiss>,
    budget: &mut Budget,
) -> Result<SeriesBatch, DecodeError> {
    let n = count_samples(b);
    budget.take(
        SERIES_COST.saturating_add(n.saturating_mul(16)),
        "WriteRequest.timeseries",
    )?;
    let mut r = Reader::new(b);
    let mut span = LabelSpan::new("TimeSeries", "TimeSeries.labels");
    let mut timestamps = Vec::with_capacity(n);
    let mut values = Vec::with_capacity(n);
    while r.has_more() {
        let field_start = r.pos;
        match r.key("TimeSeries")? {
            (1, w) => {
                expect_wire(w, LEN, "TimeSeries.labels")?;
                r.bytes("TimeSeries.labels")?;
                span.add(field_start, r.pos);
            }
            (2, w) => {
                expect_wire(w, LEN, "TimeSeries.samples")?;
                let (t, v) = sample(r.bytes("TimeSeries.samples")?)?;
                timestamps.push(t);
                values.push(v);
            }
            (3, w) => {
                expect_wire(w, LEN, "TimeSeries.exemplars")?;
                // Not stored, but refused when malformed, as prost would.
                let b = r.bytes("TimeSeries.exemplars")?;
                prometheus::Exemplar::decode(b).map_err(|_| DecodeError {
                    field: "TimeSeries.exemplars",
                    kind: DecodeErrorKind::Nested,
                })?;
            }
            (_, w) => r.skip(w, "TimeSeries")?,
        }
    }
    let (labels, resolved) = span.resolve(b, cache, index, misses, budget)?;
    Ok(SeriesBatch {
        labels,
        kind: SeriesKind::Unknown,
        timestamps,
        values,
        resolved,
    })
}

/// How many `samples` fields a `TimeSeries` holds, for one allocation per
/// column (keys and lengths only; a malformed message just counts short,
/// the decode proper reports it).
fn count_samples(b: &[u8]) -> usize {
    let mut r = Reader::new(b);
    let mut n = 0;
    while r.has_more() {
        let Ok((number, wire)) = r.key("TimeSeries") else {
            break;
        };
        n += usize::from(number == 2);
        if r.skip(wire, "TimeSeries").is_err() {
            break;
        }
    }
    n
}

#[inline]
fn sample(b: &[u8]) -> Result<(i64, f64), DecodeError> {
    let mut r = Reader::new(b);
    let (mut t, mut v) = (0i64, 0f64);
    while r.has_more() {
        match r.key("Sample")? {
            (1, w) => {
                expect_wire(w, FIXED64, "Sample.value")?;
                v = f64::from_bits(r.fixed64("Sample.value")?);
            }
            (2, w) => {
                expect_wire(w, VARINT, "Sample.timestamp")?;
                t = r.varint("Sample.timestamp")? as i64;
            }
            (_, w) => r.skip(w, "Sample")?,
        }
    }
    Ok((t, v))
}

#[cfg(test)]
mod tests;
