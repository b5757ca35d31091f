//! Byte and bit I/O shared by the encodings: LEB128 varints, zigzag, a byte
//! cursor and an LSB-first bit writer/reader. Every read is bounds-checked and
//! returns [`CodecError::Truncated`] instead of panicking.

use super::CodecError;

pub(crate) use crate::bytes::{put_uvarint as put_varint, unzigzag, zigzag};

pub(crate) fn put_zigzag(out: &mut Vec<u8>, v: i64) {
    put_varint(out, zigzag(v));
}

/// A cursor over a byte slice.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ByteReader<'a> {
    buf: &'a [u8],
}

impl<'a> ByteReader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        ByteReader { buf }
    }

    pub(crate) fn rest(&self) -> &'a [u8] {
        self.buf
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub(crate) fn u8(&mut self) -> Result<u8, CodecError> {
        let (&b, rest) = self.buf.split_first().ok_or(CodecError::Truncated)?;
        self.buf = rest;
        Ok(b)
    }

    pub(crate) fn u64_le(&mut self) -> Result<u64, CodecError> {
        let (head, rest) = self
            .buf
            .split_first_chunk::<8>()
            .ok_or(CodecError::Truncated)?;
        self.buf = rest;
        Ok(u64::from_le_bytes(*head))
    }

    /// An LEB128 varint of at most 10 bytes whose value fits in 64 bits.
    pub(crate) fn varint(&mut self) -> Result<u64, CodecError> {
        let mut v = 0u64;
        for i in 0..10 {
            let b = self.u8()?;
            let bits = u64::from(b & 0x7f);
            if i == 9 && bits > 1 {
                return Err(CodecError::Invalid("varint overflows 64 bits"));
            }
            v |= bits << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(CodecError::Invalid("varint longer than 10 bytes"))
    }

    pub(crate) fn zigzag(&mut self) -> Result<i64, CodecError> {
        self.varint().map(unzigzag)
    }

    /// A varint that must be a count no larger than `max`.
    pub(crate) fn count(&mut self, max: usize) -> Result<usize, CodecError> {
        let v = self.varint()?;
        usize::try_from(v)
            .ok()
            .filter(|&c| c <= max)
            .ok_or(CodecError::Invalid("count exceeds its bound"))
    }
}

/// Appends bits LSB-first: the first bit written is bit 0 of the first byte.
#[derive(Default, Debug)]
pub(crate) struct BitWriter {
    bytes: Vec<u8>,
    acc: u64,
    n: u32,
}

impl BitWriter {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Writes the low `n` bits of `v` (`n <= 64`; higher bits of `v` are ignored).
    #[inline]
    pub(crate) fn write(&mut self, v: u64, n: u32) {
        if n == 0 {
            return;
        }
        let v = if n == 64 { v } else { v & ((1u64 << n) - 1) };
        self.acc |= v << self.n;
        let total = self.n + n;
        if total >= 64 {
            self.bytes.extend_from_slice(&self.acc.to_le_bytes());
            let used = 64 - self.n; // bits of v that went into acc
            self.acc = if used == 64 { 0 } else { v >> used };
            self.n = total - 64;
        } else {
            self.n = total;
        }
    }

    #[inline]
    pub(crate) fn write_bit(&mut self, b: bool) {
        self.write(u64::from(b), 1);
    }

    /// Writes `count` one bits followed by a zero bit (`count < 64`).
    #[inline]
    pub(crate) fn write_unary(&mut self, count: u32) {
        self.write((1u64 << count) - 1, count + 1);
    }

    /// Pads the last byte with zeros and returns the bytes.
    pub(crate) fn finish(mut self) -> Vec<u8> {
        let nbytes = self.n.div_ceil(8) as usize;
        self.bytes
            .extend_from_slice(&self.acc.to_le_bytes()[..nbytes]);
        self.bytes
    }
}

/// Reads bits written by [`BitWriter`].
#[derive(Debug)]
pub(crate) struct BitReader<'a> {
    buf: &'a [u8],
    /// Position in bits from the start of `buf`.
    pos: usize,
}

impl<'a> BitReader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        BitReader { buf, pos: 0 }
    }

    /// The next 64 bits from the current position (zero past the end), not consumed.
    #[inline]
    fn window(&self) -> u64 {
        let byte = self.pos / 8;
        let shift = (self.pos % 8) as u32;
        let lo = match self.buf.get(byte..byte + 8) {
            Some(s) => {
                let mut a = [0u8; 8];
                a.copy_from_slice(s);
                u64::from_le_bytes(a)
            }
            None => {
                let mut a = [0u8; 8];
                let tail = self.buf.get(byte..).unwrap_or(&[]);
                a[..tail.len()].copy_from_slice(tail);
                u64::from_le_bytes(a)
            }
        };
        if shift == 0 {
            return lo;
        }
        let hi = u64::from(self.buf.get(byte + 8).copied().unwrap_or(0));
        (lo >> shift) | (hi << (64 - shift))
    }

    #[inline]
    fn check(&self, n: usize) -> Result<(), CodecError> {
        if self.pos + n > self.buf.len() * 8 {
            Err(CodecError::Truncated)
        } else {
            Ok(())
        }
    }

    /// Reads `n <= 64` bits.
    #[inline]
    pub(crate) fn read(&mut self, n: u32) -> Result<u64, CodecError> {
        if n == 0 {
            return Ok(0);
        }
        self.check(n as usize)?;
        let w = self.window();
        self.pos += n as usize;
        Ok(if n == 64 { w } else { w & ((1u64 << n) - 1) })
    }

    /// At least 56 bits from the current position in one unaligned load
    /// (bit `pos` is bit 0), not consumed; `None` within 8 bytes of the end,
    /// where the caller takes the checked reads instead. Every bit it holds
    /// is inside the buffer, so consuming up to 56 of them needs no check.
    #[inline(always)]
    pub(crate) fn peek56(&self) -> Option<u64> {
        let bytes = self.buf.get(self.pos / 8..)?.first_chunk::<8>()?;
        Some(u64::from_le_bytes(*bytes) >> (self.pos % 8))
    }

    /// Consumes `n <= 56` bits of a [`Self::peek56`] that returned `Some`.
    #[inline(always)]
    pub(crate) fn consume(&mut self, n: u32) {
        debug_assert!(n <= 56);
        self.pos += n as usize;
    }

    #[inline]
    pub(crate) fn read_bit(&mut self) -> Result<bool, CodecError> {
        Ok(self.read(1)? == 1)
    }

    /// Counts one bits up to `limit` (<= 64) and consumes them plus the
    /// terminating zero; returns `limit` (consuming only the ones) when
    /// `limit` ones are found.
    #[inline]
    pub(crate) fn read_unary(&mut self, limit: u32) -> Result<u32, CodecError> {
        let ones = self.window().trailing_ones().min(limit);
        let used = if ones == limit { ones } else { ones + 1 };
        self.check(used as usize)?;
        self.pos += used as usize;
        Ok(ones)
    }

    /// True when no unread bit is left except zero padding of the last byte.
    pub(crate) fn only_padding_left(&self) -> bool {
        self.pos.div_ceil(8) == self.buf.len() && self.window() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn zigzag_maps_small_magnitudes_to_small_codes() {
        assert_eq!(zigzag(0), 0);
        assert_eq!(zigzag(-1), 1);
        assert_eq!(zigzag(1), 2);
        assert_eq!(zigzag(i64::MIN), u64::MAX);
        assert_eq!(unzigzag(u64::MAX), i64::MIN);
    }

    #[test]
    fn varint_rejects_overlong_and_overflowing_input() {
        let mut r = ByteReader::new(&[0x80; 11]);
        assert_eq!(
            r.varint(),
            Err(CodecError::Invalid("varint longer than 10 bytes"))
        );
        let mut bytes = vec![0xff; 9];
        bytes.push(0x02);
        assert_eq!(
            ByteReader::new(&bytes).varint(),
            Err(CodecError::Invalid("varint overflows 64 bits"))
        );
        assert_eq!(
            ByteReader::new(&[0x80]).varint(),
            Err(CodecError::Truncated)
        );
    }

    proptest! {
        #[test]
        fn varints_round_trip(vs in proptest::collection::vec(any::<u64>(), 0..50)) {
            let mut out = Vec::new();
            for &v in &vs {
                put_varint(&mut out, v);
                put_zigzag(&mut out, v as i64);
            }
            let mut r = ByteReader::new(&out);
            for &v in &vs {
                prop_assert_eq!(r.varint()?, v);
                prop_assert_eq!(r.zigzag()?, v as i64);
            }
            prop_assert!(r.is_empty());
        }

        #[test]
        fn bits_round_trip(items in proptest::collection::vec((any::<u64>(), 0u32..=64), 0..200)) {
            let mut w = BitWriter::new();
            for &(v, n) in &items {
                w.write(v, n);
                w.write_unary(n % 20);
            }
            let bytes = w.finish();
            let total: usize = items.iter().map(|&(_, n)| n as usize + (n % 20) as usize + 1).sum();
            prop_assert_eq!(bytes.len(), total.div_ceil(8));
            let mut r = BitReader::new(&bytes);
            for &(v, n) in &items {
                let mask = if n == 64 { u64::MAX } else { (1u64 << n) - 1 };
                prop_assert_eq!(r.read(n)?, v & mask);
                prop_assert_eq!(r.read_unary(63)?, n % 20);
            }
            prop_assert!(r.only_padding_left());
            prop_assert_eq!(r.read(8), Err(CodecError::Truncated));
        }
    }

    #[test]
    fn unary_stops_at_the_limit() {
        let mut w = BitWriter::new();
        w.write(u64::MAX, 30);
        let bytes = w.finish();
        let mut r = BitReader::new(&bytes);
        assert_eq!(r.read_unary(20), Ok(20));
        assert_eq!(r.read(10), Ok(0x3ff));
    }
}
