//! Little-endian fixed-width and LEB128 varint encoding, and a bounds-checked
//! cursor for decoding bytes read off disk: every read says where it failed
//! instead of panicking.

/// Appends `v` as an unsigned LEB128 varint.
#[inline]
pub fn put_uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Writes `v` as a varint into `buf` at `at` (room for ten bytes there);
/// returns the position after it. Up to three bytes (a timestamp delta
/// under 17 minutes) without a loop, behind one bounds check.
#[inline]
pub fn write_uvarint(buf: &mut [u8], at: usize, mut v: u64) -> usize {
    if let (true, Some(b)) = (v < 1 << 21, buf.get_mut(at..at + 3)) {
        if v < 0x80 {
            b[0] = v as u8;
            return at + 1;
        }
        b[0] = v as u8 | 0x80;
        if v < 1 << 14 {
            b[1] = (v >> 7) as u8;
            return at + 2;
        }
        b[1] = (v >> 7) as u8 | 0x80;
        b[2] = (v >> 14) as u8;
        return at + 3;
    }
    let mut i = at;
    while v >= 0x80 {
        buf[i] = (v as u8) | 0x80;
        v >>= 7;
        i += 1;
    }
    buf[i] = v as u8;
    i + 1
}

/// Maps signed to unsigned so that small magnitudes get small codes.
#[inline]
pub fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// The inverse of [`zigzag`].
#[inline]
pub fn unzigzag(u: u64) -> i64 {
    ((u >> 1) as i64) ^ -((u & 1) as i64)
}

/// Appends `v` zigzag-encoded as a varint (small magnitudes stay small).
pub fn put_varint(out: &mut Vec<u8>, v: i64) {
    put_uvarint(out, zigzag(v));
}

pub fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}

pub fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

pub fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

pub fn put_i64(out: &mut Vec<u8>, v: i64) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// Appends a length-prefixed byte string.
pub fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_uvarint(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// Why a decode stopped: the offset is relative to the start of the cursor's
/// buffer; callers add their base offset and path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeError {
    pub offset: usize,
    pub what: &'static str,
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at relative offset {}", self.what, self.offset)
    }
}

/// A forward cursor over a byte slice.
#[derive(Clone, Debug)]
pub struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(buf: &'a [u8]) -> Cursor<'a> {
        Cursor { buf, pos: 0 }
    }

    pub fn position(&self) -> usize {
        self.pos
    }

    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    fn err(&self, what: &'static str) -> DecodeError {
        DecodeError {
            offset: self.pos,
            what,
        }
    }

    pub fn bytes(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        if self.remaining() < n {
            return Err(self.err(what));
        }
        let b = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(b)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], DecodeError> {
        let b = self.bytes(N, what)?;
        let mut a = [0u8; N];
        a.copy_from_slice(b);
        Ok(a)
    }

    pub fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        Ok(self.array::<1>(what)?[0])
    }

    pub fn u16(&mut self, what: &'static str) -> Result<u16, DecodeError> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }

    pub fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    pub fn u64(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    pub fn i64(&mut self, what: &'static str) -> Result<i64, DecodeError> {
        Ok(i64::from_le_bytes(self.array(what)?))
    }

    pub fn uvarint(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.u8(what)?;
            if shift == 63 && b > 1 {
                return Err(self.err(what));
            }
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(self.err(what))
    }

    pub fn varint(&mut self, what: &'static str) -> Result<i64, DecodeError> {
        Ok(unzigzag(self.uvarint(what)?))
    }

    /// A varint that must fit `usize` and be at most `max` (a count or length
    /// read off disk never drives an unbounded allocation).
    pub fn len(&mut self, max: usize, what: &'static str) -> Result<usize, DecodeError> {
        let at = self.pos;
        let v = self.uvarint(what)?;
        if v > max as u64 {
            return Err(DecodeError { offset: at, what });
        }
        Ok(v as usize)
    }

    /// A length-prefixed byte string.
    pub fn len_bytes(&mut self, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let n = self.len(self.remaining(), what)?;
        self.bytes(n, what)
    }

    pub fn str(&mut self, what: &'static str) -> Result<&'a str, DecodeError> {
        let at = self.pos;
        let b = self.len_bytes(what)?;
        std::str::from_utf8(b).map_err(|_| DecodeError { offset: at, what })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn varints_round_trip(u in any::<u64>(), i in any::<i64>(), s in ".{0,40}") {
            let mut b = Vec::new();
            put_uvarint(&mut b, u);
            put_varint(&mut b, i);
            put_bytes(&mut b, s.as_bytes());
            let mut c = Cursor::new(&b);
            prop_assert_eq!(c.uvarint("u").unwrap(), u);
            prop_assert_eq!(c.varint("i").unwrap(), i);
            prop_assert_eq!(c.str("s").unwrap(), s.as_str());
            prop_assert!(c.is_empty());
        }

        /// `write_uvarint` writes the bytes `put_uvarint` appends, every
        /// length from one to ten bytes, at any position.
        #[test]
        fn written_varints_are_the_appended_ones(
            v in prop_oneof![any::<u64>(), (0u32..64).prop_map(|b| 1u64 << b), (0u32..64).prop_map(|b| (1u64 << b) - 1)],
            at in 0usize..4,
        ) {
            let mut want = Vec::new();
            put_uvarint(&mut want, v);
            let mut buf = vec![0xAAu8; at + 10];
            let end = write_uvarint(&mut buf, at, v);
            prop_assert_eq!(&buf[at..end], &want[..]);
            prop_assert!(buf[..at].iter().all(|&b| b == 0xAA));
        }

        #[test]
        fn garbage_never_panics(b in proptest::collection::vec(any::<u8>(), 0..32)) {
            let mut c = Cursor::new(&b);
            let _ = c.uvarint("a");
            let _ = c.len(1000, "b");
            let _ = c.str("c");
            let _ = c.u64("d");
        }
    }

    #[test]
    fn errors_name_the_field_and_offset() {
        let mut c = Cursor::new(&[1, 2]);
        c.u8("first").unwrap();
        assert_eq!(
            c.u32("count"),
            Err(DecodeError {
                offset: 1,
                what: "count"
            })
        );
        let mut c = Cursor::new(&[0xff; 11]);
        assert!(c.uvarint("v").is_err());
        let mut c = Cursor::new(&[5, b'a']);
        assert!(c.str("s").is_err());
    }
}
