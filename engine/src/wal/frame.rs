//! Record framing shared by every append-only log nines writes (the WAL, and
//! the metadata log that reuses it): each record is
//!
//! ```text
//! len: u32 LE | crc32: u32 LE | type: u8 | payload
//!               \_____________ body: `len` bytes, covered by crc32 __/
//! ```
//!
//! The scanner walks a whole file image, tells a torn tail (damage with no
//! valid record after it) from corruption in the middle (damage followed by a
//! valid record), and resynchronises after damage by looking for the next
//! offset where length and CRC validate. It never panics and never allocates:
//! it hands out slices of the image it was given.

use std::fmt;

const LEN_OFFSET: usize = 0;
const CRC_OFFSET: usize = LEN_OFFSET + 4;
/// Bytes before the body: length and CRC.
pub const PREFIX_LEN: usize = CRC_OFFSET + 4;
/// Offset of the type byte within a record (the first byte of the body).
pub const TYPE_OFFSET: usize = PREFIX_LEN;

/// Largest body a record may have. Bounds what a reader trusts a length field
/// for and how far a resync scan hashes per candidate offset; writers split
/// large batches well below it.
pub const MAX_BODY_LEN: usize = 16 << 20;

/// A record body larger than [`MAX_BODY_LEN`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameTooLarge(pub usize);

impl fmt::Display for FrameTooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "record body of {} bytes exceeds the limit of {MAX_BODY_LEN}",
            self.0
        )
    }
}

/// Starts a record of type `ty` at the end of `out`; append the payload to
/// `out`, then call [`finish`] with the returned start.
pub fn begin(out: &mut Vec<u8>, ty: u8) -> usize {
    let start = out.len();
    out.extend_from_slice(&[0u8; PREFIX_LEN]);
    out.push(ty);
    start
}

/// Fills in length and CRC of the record begun at `start`. On error the
/// record is removed from `out`.
pub fn finish(out: &mut Vec<u8>, start: usize) -> Result<(), FrameTooLarge> {
    let body_start = start + PREFIX_LEN;
    let body_len = out.len().saturating_sub(body_start);
    if body_len > MAX_BODY_LEN || out.len() < body_start {
        out.truncate(start);
        return Err(FrameTooLarge(body_len));
    }
    let crc = crc32fast::hash(&out[body_start..]);
    // body_len <= MAX_BODY_LEN, so it fits in u32.
    out[start + LEN_OFFSET..start + CRC_OFFSET].copy_from_slice(&(body_len as u32).to_le_bytes());
    out[start + CRC_OFFSET..start + PREFIX_LEN].copy_from_slice(&crc.to_le_bytes());
    Ok(())
}

/// Why the bytes at an offset are not a valid record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// Fewer than [`PREFIX_LEN`] bytes remain.
    ShortPrefix { available: usize },
    /// The length field is 0 or above [`MAX_BODY_LEN`].
    BadLength { len: u32 },
    /// The body runs past the end of the file.
    ShortBody { len: u32, available: usize },
    /// The stored CRC does not match the body.
    Crc { stored: u32, computed: u32 },
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            FrameError::ShortPrefix { available } => write!(
                f,
                "incomplete record header: {available} of {PREFIX_LEN} bytes"
            ),
            FrameError::BadLength { len } => {
                write!(f, "record length {len} outside 1..={MAX_BODY_LEN}")
            }
            FrameError::ShortBody { len, available } => write!(
                f,
                "incomplete record: length says {len} bytes, {available} remain"
            ),
            FrameError::Crc { stored, computed } => write!(
                f,
                "record crc32 {stored:#010x} != computed {computed:#010x}"
            ),
        }
    }
}

fn read_u32(buf: &[u8], at: usize) -> Option<u32> {
    let b = buf.get(at..at.checked_add(4)?)?;
    let mut a = [0u8; 4];
    a.copy_from_slice(b);
    Some(u32::from_le_bytes(a))
}

/// A valid record found in an image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    /// Offset of the record's length field.
    pub offset: usize,
    pub ty: u8,
    pub payload: &'a [u8],
    /// Offset just past the record.
    pub end: usize,
}

/// Parses the record at `offset` of `buf`, checking length and CRC.
pub fn parse_at(buf: &[u8], offset: usize) -> Result<Frame<'_>, FrameError> {
    let available = buf.len().saturating_sub(offset);
    if available < PREFIX_LEN {
        return Err(FrameError::ShortPrefix { available });
    }
    let (Some(len), Some(stored)) = (read_u32(buf, offset), read_u32(buf, offset + CRC_OFFSET))
    else {
        return Err(FrameError::ShortPrefix { available });
    };
    let body_len = len as usize;
    if body_len == 0 || body_len > MAX_BODY_LEN {
        return Err(FrameError::BadLength { len });
    }
    let body_start = offset + PREFIX_LEN;
    let end = body_start + body_len;
    let Some(body) = buf.get(body_start..end) else {
        return Err(FrameError::ShortBody {
            len,
            available: available - PREFIX_LEN,
        });
    };
    let computed = crc32fast::hash(body);
    if computed != stored {
        return Err(FrameError::Crc { stored, computed });
    }
    Ok(Frame {
        offset,
        ty: body[0],
        payload: &body[1..],
        end,
    })
}

/// What the scanner found next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScanEvent<'a> {
    Record(Frame<'a>),
    /// Damage at `offset`; a valid record starts at `resume` and scanning
    /// continues there.
    Corrupt {
        offset: usize,
        resume: usize,
        error: FrameError,
    },
    /// Damage at `offset` with no valid record after it: the image ends here.
    /// In the last file of a log this is a torn write; elsewhere corruption.
    Tail {
        offset: usize,
        error: FrameError,
    },
}

/// Walks the records of an image from a start offset. `known_type` filters
/// resync candidates (a random byte run passing length + CRC is already a
/// 2^-32 event; the type check makes it rarer still and cheaper to reject).
pub struct Scanner<'a, F> {
    buf: &'a [u8],
    pos: usize,
    known_type: F,
}

impl<'a, F: Fn(u8) -> bool> Scanner<'a, F> {
    pub fn new(buf: &'a [u8], start: usize, known_type: F) -> Self {
        Scanner {
            buf,
            pos: start,
            known_type,
        }
    }

    fn valid_at(&self, offset: usize) -> Option<usize> {
        let len = read_u32(self.buf, offset)? as usize;
        if len == 0 || len > MAX_BODY_LEN {
            return None;
        }
        let ty = *self.buf.get(offset + TYPE_OFFSET)?;
        if !(self.known_type)(ty) || self.buf.len() - offset - PREFIX_LEN < len {
            return None;
        }
        parse_at(self.buf, offset).ok().map(|f| f.offset)
    }

    /// The first offset after `damaged` where a valid record starts. When
    /// the damaged record's length field looks intact, its end is tried first
    /// (a flipped payload byte then costs one CRC, not a byte-by-byte scan,
    /// and cannot resync onto a record-like run inside the damaged payload).
    fn resync(&self, damaged: usize, error: FrameError) -> Option<usize> {
        let hint = match error {
            FrameError::Crc { .. } => read_u32(self.buf, damaged)
                .map(|len| damaged + PREFIX_LEN + len as usize)
                .filter(|&h| h < self.buf.len()),
            _ => None,
        };
        if let Some(h) = hint.and_then(|h| self.valid_at(h)) {
            return Some(h);
        }
        let last = self.buf.len().checked_sub(PREFIX_LEN + 1)?;
        (damaged + 1..=last).find_map(|o| self.valid_at(o))
    }
}

impl<'a, F: Fn(u8) -> bool> Iterator for Scanner<'a, F> {
    type Item = ScanEvent<'a>;

    fn next(&mut self) -> Option<ScanEvent<'a>> {
        if self.pos >= self.buf.len() {
            return None;
        }
        let offset = self.pos;
        match parse_at(self.buf, offset) {
            Ok(frame) => {
                self.pos = frame.end;
                Some(ScanEvent::Record(frame))
            }
            Err(error) => match self.resync(offset, error) {
                Some(resume) => {
                    self.pos = resume;
                    Some(ScanEvent::Corrupt {
                        offset,
                        resume,
                        error,
                    })
                }
                None => {
                    self.pos = self.buf.len();
                    Some(ScanEvent::Tail { offset, error })
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(out: &mut Vec<u8>, ty: u8, payload: &[u8]) {
        let s = begin(out, ty);
        out.extend_from_slice(payload);
        finish(out, s).unwrap();
    }

    fn events(buf: &[u8]) -> Vec<ScanEvent<'_>> {
        Scanner::new(buf, 0, |t| t == 1 || t == 2).collect()
    }

    #[test]
    fn round_trips_records() {
        let mut buf = Vec::new();
        record(&mut buf, 1, b"hello");
        record(&mut buf, 2, b"");
        let ev = events(&buf);
        assert_eq!(ev.len(), 2);
        let ScanEvent::Record(f) = ev[0] else {
            panic!("{ev:?}")
        };
        assert_eq!((f.ty, f.payload, f.end), (1, &b"hello"[..], 14));
        assert!(matches!(
            ev[1],
            ScanEvent::Record(Frame {
                ty: 2,
                payload: b"",
                ..
            })
        ));
    }

    #[test]
    fn flipped_payload_byte_resyncs_at_next_record() {
        let mut buf = Vec::new();
        record(&mut buf, 1, b"first");
        let second = buf.len();
        record(&mut buf, 1, b"second");
        let third = buf.len();
        record(&mut buf, 2, b"third");
        buf[second + PREFIX_LEN + 2] ^= 0x40;
        let ev = events(&buf);
        assert_eq!(ev.len(), 3, "{ev:?}");
        assert!(matches!(
            ev[1],
            ScanEvent::Corrupt { offset, resume, error: FrameError::Crc { .. } }
                if offset == second && resume == third
        ));
        assert!(matches!(
            ev[2],
            ScanEvent::Record(Frame {
                payload: b"third",
                ..
            })
        ));
    }

    #[test]
    fn damaged_length_resyncs_by_scanning() {
        let mut buf = Vec::new();
        record(&mut buf, 1, b"first");
        let second = buf.len();
        record(&mut buf, 1, b"second");
        let third = buf.len();
        record(&mut buf, 2, b"third");
        buf[second + 3] = 0xff;
        let ev = events(&buf);
        assert!(matches!(
            ev[1],
            ScanEvent::Corrupt { offset, resume, error: FrameError::BadLength { .. } }
                if offset == second && resume == third
        ));
    }

    #[test]
    fn every_truncation_of_the_last_record_is_a_tail() {
        let mut buf = Vec::new();
        record(&mut buf, 1, b"keep me");
        let last = buf.len();
        record(&mut buf, 2, b"torn away");
        for cut in last + 1..buf.len() {
            let ev = events(&buf[..cut]);
            assert_eq!(ev.len(), 2, "cut {cut}: {ev:?}");
            assert!(matches!(ev[0], ScanEvent::Record(_)));
            assert!(
                matches!(ev[1], ScanEvent::Tail { offset, .. } if offset == last),
                "cut {cut}: {ev:?}"
            );
        }
    }

    #[test]
    fn zero_fill_is_a_tail_and_oversize_is_refused() {
        let mut buf = Vec::new();
        record(&mut buf, 1, b"x");
        let end = buf.len();
        buf.resize(end + 100, 0);
        let ev = events(&buf);
        assert!(matches!(
            ev[1],
            ScanEvent::Tail { offset, error: FrameError::BadLength { len: 0 } } if offset == end
        ));

        let mut out = vec![7u8];
        let s = begin(&mut out, 1);
        out.resize(s + PREFIX_LEN + MAX_BODY_LEN + 1, 0);
        assert_eq!(finish(&mut out, s), Err(FrameTooLarge(MAX_BODY_LEN + 1)));
        assert_eq!(out, vec![7u8]);
    }

    #[test]
    fn unknown_types_are_not_resync_targets() {
        let mut buf = vec![0xAAu8; 3];
        record(&mut buf, 9, b"unknown type");
        let ev = events(&buf);
        assert_eq!(ev.len(), 1);
        assert!(matches!(ev[0], ScanEvent::Tail { offset: 0, .. }));
    }

    proptest::proptest! {
        #[test]
        fn scanning_arbitrary_bytes_terminates_without_panic(
            bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)
        ) {
            let mut last = 0usize;
            for ev in Scanner::new(&bytes, 0, |_| true) {
                let at = match ev {
                    ScanEvent::Record(f) => f.end,
                    ScanEvent::Corrupt { resume, .. } => resume,
                    ScanEvent::Tail { .. } => bytes.len(),
                };
                proptest::prop_assert!(at > last);
                last = at;
            }
        }
    }
}
