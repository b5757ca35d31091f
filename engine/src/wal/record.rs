//! WAL record types and their payload encodings (the framing around them is
//! in [`super::frame`]).
//!
//! ```text
//! Series  (type 1): id u32 | kind u8 | n_labels uvarint
//!                   | n_labels × (name_len uvarint | name | value_len uvarint | value)
//! Samples (type 2): n_entries u32
//!                   | n_entries × (id u32 | n uvarint | n × ts zigzag-varint delta
//!                                  | n × value u64 bit pattern)
//! ```
//!
//! Timestamp deltas start from 0, so the first is absolute; they wrap, so any
//! i64 sequence (unsorted, huge jumps) round-trips. Values are raw bit
//! patterns: NaN payloads and the stale marker survive bit for bit.

use std::fmt;

use super::frame::{self, FrameTooLarge};
use super::{WalLabels, WalSeries};
use crate::bytes::{put_uvarint, unzigzag, write_uvarint, zigzag, Cursor as ByteCursor};
use crate::types::{Label, Labels, SeriesKind};

/// Record types on disk. 0 is never used, so a zero-filled region can never
/// look like a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum RecordType {
    Series = 1,
    Samples = 2,
}

impl TryFrom<u8> for RecordType {
    type Error = u8;
    fn try_from(v: u8) -> Result<Self, u8> {
        match v {
            1 => Ok(RecordType::Series),
            2 => Ok(RecordType::Samples),
            other => Err(other),
        }
    }
}

/// The samples of one series in a `Samples` record.
#[derive(Clone, Debug, PartialEq)]
pub struct WalSamples {
    /// File-local series id, declared by a `Series` record earlier in the
    /// same file.
    pub id: u32,
    pub timestamps: Vec<i64>,
    pub values: Vec<f64>,
}

/// A decoded WAL record.
#[derive(Clone, Debug, PartialEq)]
pub enum WalRecord {
    /// Declares what a file-local id means for the rest of its file.
    Series {
        id: u32,
        kind: SeriesKind,
        labels: Labels,
    },
    Samples(Vec<WalSamples>),
}

/// Why a record could not be encoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EncodeError {
    LengthMismatch {
        id: u32,
        timestamps: usize,
        values: usize,
    },
    /// Names must be strictly increasing and values non-empty (what
    /// [`Labels::validate`] guarantees); anything else could not be read back.
    LabelsNotCanonical {
        id: u32,
    },
    TooLarge {
        id: u32,
        err: FrameTooLarge,
    },
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeError::LengthMismatch {
                id,
                timestamps,
                values,
            } => write!(
                f,
                "series {id}: {timestamps} timestamps but {values} values"
            ),
            EncodeError::LabelsNotCanonical { id } => write!(
                f,
                "series {id}: labels must have unique sorted names and non-empty values"
            ),
            EncodeError::TooLarge { id, err } => write!(f, "series {id}: {err}"),
        }
    }
}

/// Why a record's payload (whose CRC matched) could not be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    Truncated,
    VarintOverflow,
    TrailingBytes(usize),
    UnknownType(u8),
    UnknownKind(u8),
    InvalidUtf8,
    LabelsOutOfOrder,
    EmptyLabelValue,
    /// A record or entry with nothing in it (never written).
    Empty,
    /// A count larger than the remaining bytes could hold.
    CountTooLarge(u64),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            DecodeError::Truncated => f.write_str("payload ends inside a field"),
            DecodeError::VarintOverflow => f.write_str("varint longer than 64 bits"),
            DecodeError::TrailingBytes(n) => write!(f, "{n} bytes after the last field"),
            DecodeError::UnknownType(t) => write!(f, "unknown record type {t}"),
            DecodeError::UnknownKind(k) => write!(f, "unknown series kind {k}"),
            DecodeError::InvalidUtf8 => f.write_str("label is not UTF-8"),
            DecodeError::LabelsOutOfOrder => f.write_str("label names not strictly increasing"),
            DecodeError::EmptyLabelValue => f.write_str("empty label value"),
            DecodeError::Empty => f.write_str("record or entry without samples"),
            DecodeError::CountTooLarge(n) => {
                write!(f, "count {n} exceeds what the payload can hold")
            }
        }
    }
}

/// Soft cap on a `Samples` body: a record is closed once it reaches this, so
/// records stay far below [`frame::MAX_BODY_LEN`] and a torn write loses little.
const TARGET_SAMPLES_BODY: usize = 1 << 20;
/// Most samples of one series in one entry; at most 18 bytes each, so one
/// entry stays under 600 KiB and a record under [`frame::MAX_BODY_LEN`].
const MAX_ENTRY_SAMPLES: usize = 32 * 1024;
/// Smallest entry: id, n, one timestamp byte, one value.
const MIN_ENTRY_BYTES: usize = 4 + 1 + 1 + 8;
/// Smallest label: empty name, value length, one value byte.
const MIN_LABEL_BYTES: usize = 3;

/// Appends a framed `Series` record.
pub fn encode_series(
    out: &mut Vec<u8>,
    id: u32,
    kind: SeriesKind,
    labels: WalLabels<'_>,
) -> Result<(), EncodeError> {
    let start = frame::begin(out, RecordType::Series as u8);
    out.extend_from_slice(&id.to_le_bytes());
    out.push(kind as u8);
    match labels {
        WalLabels::Set(labels) => {
            let ls = labels.as_slice();
            let canonical = ls.windows(2).all(|w| w[0].name < w[1].name)
                && ls.iter().all(|l| !l.value.is_empty());
            if !canonical {
                out.truncate(start);
                return Err(EncodeError::LabelsNotCanonical { id });
            }
            put_uvarint(out, ls.len() as u64);
            for l in ls {
                put_uvarint(out, l.name.len() as u64);
                out.extend_from_slice(l.name.as_bytes());
                put_uvarint(out, l.value.len() as u64);
                out.extend_from_slice(l.value.as_bytes());
            }
        }
        WalLabels::Encoded(bytes) => {
            // Names and values alternate; count the strings.
            let mut c = ByteCursor::new(bytes);
            let mut strings = 0u64;
            while !c.is_empty() {
                if c.len_bytes("label").is_err() {
                    out.truncate(start);
                    return Err(EncodeError::LabelsNotCanonical { id });
                }
                strings += 1;
            }
            put_uvarint(out, strings / 2);
            out.extend_from_slice(bytes);
        }
    }
    frame::finish(out, start).map_err(|err| EncodeError::TooLarge { id, err })
}

/// What [`encode_samples`] appended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EncodedSamples {
    pub records: u64,
    pub samples: u64,
    pub max_ts: Option<i64>,
}

/// Appends framed `Samples` records for every series with samples, splitting
/// into several records when large. On error `out` may hold partial output.
pub fn encode_samples(
    out: &mut Vec<u8>,
    series: &[WalSeries<'_>],
) -> Result<EncodedSamples, EncodeError> {
    let mut done = EncodedSamples::default();
    let mut max_ts = i64::MIN;
    // (record start, entry count) of the record being filled.
    let mut open: Option<(usize, u32)> = None;
    for s in series {
        if s.timestamps.len() != s.values.len() {
            return Err(EncodeError::LengthMismatch {
                id: s.id,
                timestamps: s.timestamps.len(),
                values: s.values.len(),
            });
        }
        for (ts, vs) in s
            .timestamps
            .chunks(MAX_ENTRY_SAMPLES)
            .zip(s.values.chunks(MAX_ENTRY_SAMPLES))
        {
            let (start, entries) = match open {
                Some((start, _)) if out.len() - start >= TARGET_SAMPLES_BODY => {
                    close_samples(out, open.take(), &mut done, s.id)?;
                    (begin_samples(out), 0)
                }
                Some(o) => o,
                None => (begin_samples(out), 0),
            };
            put_entry(out, s.id, ts, vs, &mut max_ts);
            done.samples += ts.len() as u64;
            open = Some((start, entries + 1));
        }
    }
    let last_id = series.last().map_or(0, |s| s.id);
    close_samples(out, open, &mut done, last_id)?;
    if done.samples > 0 {
        done.max_ts = Some(max_ts);
    }
    Ok(done)
}

fn begin_samples(out: &mut Vec<u8>) -> usize {
    let start = frame::begin(out, RecordType::Samples as u8);
    out.extend_from_slice(&0u32.to_le_bytes());
    start
}

fn close_samples(
    out: &mut Vec<u8>,
    open: Option<(usize, u32)>,
    done: &mut EncodedSamples,
    id: u32,
) -> Result<(), EncodeError> {
    let Some((start, entries)) = open else {
        return Ok(());
    };
    let at = start + frame::TYPE_OFFSET + 1;
    out[at..at + 4].copy_from_slice(&entries.to_le_bytes());
    frame::finish(out, start).map_err(|err| EncodeError::TooLarge { id, err })?;
    done.records += 1;
    Ok(())
}

fn put_entry(out: &mut Vec<u8>, id: u32, ts: &[i64], vs: &[f64], max_ts: &mut i64) {
    // Written into room made at once (the most an entry can take: id,
    // count, ten bytes per timestamp, eight per value) and cut to what was
    // used: a push per varint byte checked the capacity and stored the
    // length each time, and this loop runs for every sample written.
    let at = out.len();
    out.resize(at + 4 + 10 + ts.len() * 18, 0);
    let buf = &mut out[at..];
    buf[..4].copy_from_slice(&id.to_le_bytes());
    let mut n = write_uvarint(buf, 4, ts.len() as u64);
    let mut prev = 0i64;
    let mut max = *max_ts;
    for &t in ts {
        n = write_uvarint(buf, n, zigzag(t.wrapping_sub(prev)));
        prev = t;
        max = max.max(t);
    }
    *max_ts = max;
    let values = &mut buf[n..n + vs.len() * 8];
    if cfg!(target_endian = "little") {
        // the same bytes as the loop below, in one copy
        values.copy_from_slice(bytemuck::cast_slice(vs));
    } else {
        for (dst, v) in values.chunks_exact_mut(8).zip(vs) {
            dst.copy_from_slice(&v.to_bits().to_le_bytes());
        }
    }
    n += vs.len() * 8;
    out.truncate(at + n);
}

/// A bounds-checked reader over a payload.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n).ok_or(DecodeError::Truncated)?;
        let b = self.buf.get(self.pos..end).ok_or(DecodeError::Truncated)?;
        self.pos = end;
        Ok(b)
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, DecodeError> {
        let mut a = [0u8; 4];
        a.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(a))
    }

    #[inline]
    fn uvarint(&mut self) -> Result<u64, DecodeError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *self.buf.get(self.pos).ok_or(DecodeError::Truncated)?;
            self.pos += 1;
            if shift == 63 && b > 1 {
                return Err(DecodeError::VarintOverflow);
            }
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(DecodeError::VarintOverflow)
    }

    /// A count that must fit in the rest of the payload at `min_bytes` each.
    fn count(&mut self, raw: u64, min_bytes: usize) -> Result<usize, DecodeError> {
        if raw == 0 {
            return Err(DecodeError::Empty);
        }
        match usize::try_from(raw) {
            Ok(n) if n <= self.remaining() / min_bytes => Ok(n),
            _ => Err(DecodeError::CountTooLarge(raw)),
        }
    }

    fn str(&mut self) -> Result<String, DecodeError> {
        let len = usize::try_from(self.uvarint()?).map_err(|_| DecodeError::Truncated)?;
        let b = self.take(len)?;
        std::str::from_utf8(b)
            .map(str::to_owned)
            .map_err(|_| DecodeError::InvalidUtf8)
    }

    fn finish(&self) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            n => Err(DecodeError::TrailingBytes(n)),
        }
    }
}

/// Decodes the payload of a record of type `ty`. Allocations are bounded by
/// the payload length.
pub fn decode(ty: u8, payload: &[u8]) -> Result<WalRecord, DecodeError> {
    let mut c = Cursor {
        buf: payload,
        pos: 0,
    };
    let rec = match RecordType::try_from(ty) {
        Ok(RecordType::Series) => decode_series(&mut c)?,
        Ok(RecordType::Samples) => decode_samples(&mut c)?,
        Err(t) => return Err(DecodeError::UnknownType(t)),
    };
    c.finish()?;
    Ok(rec)
}

fn decode_series(c: &mut Cursor<'_>) -> Result<WalRecord, DecodeError> {
    let id = c.u32()?;
    let kind = SeriesKind::try_from(c.u8()?).map_err(DecodeError::UnknownKind)?;
    let raw = c.uvarint()?;
    let n = if raw == 0 {
        0
    } else {
        c.count(raw, MIN_LABEL_BYTES)?
    };
    let mut labels: Vec<Label> = Vec::with_capacity(n);
    for _ in 0..n {
        let name = c.str()?;
        let value = c.str()?;
        if value.is_empty() {
            return Err(DecodeError::EmptyLabelValue);
        }
        if labels.last().is_some_and(|p| p.name >= name) {
            return Err(DecodeError::LabelsOutOfOrder);
        }
        labels.push(Label { name, value });
    }
    Ok(WalRecord::Series {
        id,
        kind,
        labels: Labels::from_sorted(labels),
    })
}

fn decode_samples(c: &mut Cursor<'_>) -> Result<WalRecord, DecodeError> {
    let raw = u64::from(c.u32()?);
    let n_entries = c.count(raw, MIN_ENTRY_BYTES)?;
    let mut entries = Vec::with_capacity(n_entries);
    for _ in 0..n_entries {
        let id = c.u32()?;
        let raw = c.uvarint()?;
        let n = c.count(raw, 9)?;
        let mut timestamps = Vec::with_capacity(n);
        let mut prev = 0i64;
        for _ in 0..n {
            prev = prev.wrapping_add(unzigzag(c.uvarint()?));
            timestamps.push(prev);
        }
        let len = n.checked_mul(8).ok_or(DecodeError::Truncated)?;
        let values = c
            .take(len)?
            .chunks_exact(8)
            .map(|b| {
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                f64::from_bits(u64::from_le_bytes(a))
            })
            .collect();
        entries.push(WalSamples {
            id,
            timestamps,
            values,
        });
    }
    Ok(WalRecord::Samples(entries))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wal::frame::{parse_at, Frame};
    use proptest::prelude::*;

    fn frames(buf: &[u8]) -> Vec<WalRecord> {
        let mut out = Vec::new();
        let mut at = 0;
        while at < buf.len() {
            let Frame {
                ty, payload, end, ..
            } = parse_at(buf, at).unwrap();
            out.push(decode(ty, payload).unwrap());
            at = end;
        }
        out
    }

    fn label_strategy() -> impl Strategy<Value = Labels> {
        prop::collection::btree_map("\\PC{0,12}", "\\PC{1,20}", 0..6).prop_map(|m| {
            Labels::from_sorted(m.into_iter().map(|(n, v)| Label::new(n, v)).collect())
        })
    }

    fn series_strategy() -> impl Strategy<Value = (u32, Vec<i64>, Vec<u64>)> {
        (any::<u32>(), 0usize..40).prop_flat_map(|(id, n)| {
            (
                Just(id),
                prop::collection::vec(
                    // deltas of every varint length: 1 and 2 bytes
                    // between small times, 3 and 4 within a million
                    prop_oneof![
                        any::<i64>(),
                        0i64..200,
                        -1_000_000i64..1_000_000,
                        Just(i64::MIN),
                        Just(i64::MAX)
                    ],
                    n,
                ),
                prop::collection::vec(any::<u64>(), n),
            )
        })
    }

    proptest! {
        #[test]
        fn series_round_trips(id in any::<u32>(), k in 0u8..8, labels in label_strategy()) {
            let kind = SeriesKind::try_from(k).unwrap();
            let mut buf = Vec::new();
            encode_series(&mut buf, id, kind, (&labels).into()).unwrap();
            prop_assert_eq!(frames(&buf), vec![WalRecord::Series { id, kind, labels }]);
        }

        #[test]
        fn samples_round_trip_bit_exactly(batch in prop::collection::vec(series_strategy(), 0..8)) {
            let labels = Labels::default();
            let values: Vec<Vec<f64>> = batch
                .iter()
                .map(|(_, _, bits)| bits.iter().map(|&b| f64::from_bits(b)).collect())
                .collect();
            let series: Vec<WalSeries<'_>> = batch
                .iter()
                .zip(&values)
                .map(|((id, ts, _), vs)| WalSeries {
                    id: *id,
                    kind: SeriesKind::Gauge,
                    labels: (&labels).into(),
                    timestamps: ts,
                    values: vs,
                })
                .collect();
            let mut buf = Vec::new();
            let done = encode_samples(&mut buf, &series).unwrap();
            let mut got = Vec::new();
            for rec in frames(&buf) {
                let WalRecord::Samples(entries) = rec else { panic!("not samples") };
                got.extend(entries);
            }
            let want: Vec<_> = batch.iter().filter(|(_, ts, _)| !ts.is_empty()).collect();
            prop_assert_eq!(got.len(), want.len());
            for (g, (id, ts, bits)) in got.iter().zip(want) {
                prop_assert_eq!(g.id, *id);
                prop_assert_eq!(&g.timestamps, ts);
                let gb: Vec<u64> = g.values.iter().map(|v| v.to_bits()).collect();
                prop_assert_eq!(&gb, bits);
            }
            let n: usize = batch.iter().map(|(_, ts, _)| ts.len()).sum();
            prop_assert_eq!(done.samples, n as u64);
            let max = batch.iter().flat_map(|(_, ts, _)| ts.iter().copied()).max();
            prop_assert_eq!(done.max_ts, max);
        }

        #[test]
        fn decoding_arbitrary_payloads_never_panics(
            ty in 0u8..4,
            payload in prop::collection::vec(any::<u8>(), 0..256)
        ) {
            let _ = decode(ty, &payload);
        }
    }

    #[test]
    fn large_series_split_into_several_records() {
        let n = MAX_ENTRY_SAMPLES * 3 + 5;
        let ts: Vec<i64> = (0..n as i64).map(|i| i * 15_000).collect();
        let vs: Vec<f64> = (0..n).map(|i| i as f64).collect();
        let labels = Labels::default();
        let series: Vec<WalSeries<'_>> = (0..20)
            .map(|id| WalSeries {
                id,
                kind: SeriesKind::Counter,
                labels: (&labels).into(),
                timestamps: &ts,
                values: &vs,
            })
            .collect();
        let mut buf = Vec::new();
        let done = encode_samples(&mut buf, &series).unwrap();
        let recs = frames(&buf);
        assert!(recs.len() > 1 && done.records == recs.len() as u64);
        let mut per_id = vec![Vec::new(); 20];
        for r in recs {
            let WalRecord::Samples(entries) = r else {
                panic!()
            };
            for e in entries {
                assert_eq!(e.timestamps.len(), e.values.len());
                per_id[e.id as usize].extend(e.timestamps);
            }
        }
        assert!(per_id.iter().all(|t| *t == ts));
    }

    #[test]
    fn refuses_what_could_not_be_read_back() {
        let mut buf = Vec::new();
        let dup = Labels::new(vec![Label::new("a", "1"), Label::new("a", "2")]);
        assert_eq!(
            encode_series(&mut buf, 3, SeriesKind::Gauge, (&dup).into()),
            Err(EncodeError::LabelsNotCanonical { id: 3 })
        );
        let labels = Labels::default();
        let s = [WalSeries {
            id: 4,
            kind: SeriesKind::Gauge,
            labels: (&labels).into(),
            timestamps: &[1, 2],
            values: &[1.0],
        }];
        assert!(matches!(
            encode_samples(&mut buf, &s),
            Err(EncodeError::LengthMismatch { id: 4, .. })
        ));
    }

    #[test]
    fn decoder_names_the_broken_rule() {
        assert_eq!(decode(9, &[]), Err(DecodeError::UnknownType(9)));
        assert_eq!(decode(2, &[0, 0, 0, 0]), Err(DecodeError::Empty));
        assert_eq!(
            decode(2, &[0xff, 0xff, 0, 0]),
            Err(DecodeError::CountTooLarge(0xffff))
        );
        assert_eq!(
            decode(1, &[1, 0, 0, 0, 99, 0]),
            Err(DecodeError::UnknownKind(99))
        );
        assert_eq!(
            decode(1, &[1, 0, 0, 0, 1, 0, 7]),
            Err(DecodeError::TrailingBytes(1))
        );
        let mut c = Cursor {
            buf: &[0xff; 11],
            pos: 0,
        };
        assert_eq!(c.uvarint(), Err(DecodeError::VarintOverflow));
        // names out of order: "b" then "a"
        let p = [1, 0, 0, 0, 1, 2, 1, b'b', 1, b'x', 1, b'a', 1, b'y'];
        assert_eq!(decode(1, &p), Err(DecodeError::LabelsOutOfOrder));
    }

    #[test]
    fn zigzag_covers_the_extremes() {
        for v in [0, 1, -1, i64::MIN, i64::MAX, 15_000, -15_000] {
            assert_eq!(unzigzag(zigzag(v)), v);
        }
    }
}
