//! The header at the start of every WAL file:
//!
//! ```text
//! 0        8         9       10            18          22
//! | magic  | version | flags | seq u64 LE  | crc32 LE  |
//! ```
//!
//! crc32 covers bytes 0..18. Flags are 0 in version 1; readers ignore flag
//! bits, so a flag may only mark something a version-1 reader can skip
//! safely. Anything else bumps the version.

use std::fmt;

pub const MAGIC: [u8; 8] = *b"NINESWAL";
/// The format version this build writes and the newest it reads.
pub const VERSION: u8 = 1;

const VERSION_OFFSET: usize = MAGIC.len();
const FLAGS_OFFSET: usize = VERSION_OFFSET + 1;
const SEQ_OFFSET: usize = FLAGS_OFFSET + 1;
const CRC_OFFSET: usize = SEQ_OFFSET + 8;
pub const HEADER_LEN: usize = CRC_OFFSET + 4;

pub fn encode(seq: u64) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..VERSION_OFFSET].copy_from_slice(&MAGIC);
    h[VERSION_OFFSET] = VERSION;
    h[FLAGS_OFFSET] = 0;
    h[SEQ_OFFSET..CRC_OFFSET].copy_from_slice(&seq.to_le_bytes());
    let crc = crc32fast::hash(&h[..CRC_OFFSET]);
    h[CRC_OFFSET..].copy_from_slice(&crc.to_le_bytes());
    h
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderError {
    Short {
        len: usize,
    },
    BadMagic,
    /// Checked before the CRC: a newer version may lay its header out
    /// differently.
    UnknownVersion(u8),
    Crc {
        stored: u32,
        computed: u32,
    },
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            HeaderError::Short { len } => {
                write!(f, "file header is {len} bytes, needs {HEADER_LEN}")
            }
            HeaderError::BadMagic => write!(f, "file does not start with magic NINESWAL"),
            HeaderError::UnknownVersion(v) => write!(f, "unknown format version {v}"),
            HeaderError::Crc { stored, computed } => write!(
                f,
                "header crc32 {stored:#010x} != computed {computed:#010x}"
            ),
        }
    }
}

/// Checks the header at the start of `file` and returns the file's seq.
pub fn decode(file: &[u8]) -> Result<u64, HeaderError> {
    let Some(h) = file.get(..HEADER_LEN) else {
        return Err(HeaderError::Short { len: file.len() });
    };
    if h[..VERSION_OFFSET] != MAGIC {
        return Err(HeaderError::BadMagic);
    }
    if h[VERSION_OFFSET] != VERSION {
        return Err(HeaderError::UnknownVersion(h[VERSION_OFFSET]));
    }
    let mut crc = [0u8; 4];
    crc.copy_from_slice(&h[CRC_OFFSET..]);
    let stored = u32::from_le_bytes(crc);
    let computed = crc32fast::hash(&h[..CRC_OFFSET]);
    if stored != computed {
        return Err(HeaderError::Crc { stored, computed });
    }
    let mut seq = [0u8; 8];
    seq.copy_from_slice(&h[SEQ_OFFSET..CRC_OFFSET]);
    Ok(u64::from_le_bytes(seq))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_checks_each_field() {
        let h = encode(42);
        assert_eq!(HEADER_LEN, 22);
        assert_eq!(decode(&h), Ok(42));
        assert_eq!(decode(&h[..21]), Err(HeaderError::Short { len: 21 }));
        let mut bad = h;
        bad[0] = b'X';
        assert_eq!(decode(&bad), Err(HeaderError::BadMagic));
        let mut bad = h;
        bad[VERSION_OFFSET] = 2;
        assert_eq!(decode(&bad), Err(HeaderError::UnknownVersion(2)));
        let mut bad = h;
        bad[SEQ_OFFSET] ^= 1;
        assert!(matches!(decode(&bad), Err(HeaderError::Crc { .. })));
    }
}
