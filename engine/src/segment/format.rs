//! The byte layout of a segment file, format version 3. The prose and the
//! diagram are in docs/format/segment.md; offsets here are built one from the
//! previous so the layout is stated once.
//!
//! ```text
//! [header 16 B][data region: series chunks][symbols][series entries]
//! [series offset table][postings blobs][postings index][footer FOOTER_LEN B]
//! ```

use crate::bytes::{put_i64, put_u16, put_u32, put_u64, Cursor, DecodeError};

pub const MAGIC: &[u8; 8] = b"NINESSEG";
/// Version 1: the first released layout. Version 2: series entries no
/// longer store the offsets of their chunk metadata and blocks (the data
/// region is laid out in entry order, so readers add the lengths up), the
/// series offset table is empty (readers find the entries by walking them
/// once at open), and the entries section is one zstd frame. Version 3:
/// each chunk's metadata moves from the data region into its series entry
/// (so it is compressed with the entries) and the postings section is one
/// zstd frame too; the data region holds only pages.
pub const VERSION: u16 = 3;
/// The oldest version this build reads.
pub const OLDEST_VERSION: u16 = 1;

// Header: magic, version, reserved.
pub const HEADER_VERSION_OFFSET: usize = MAGIC.len();
pub const HEADER_RESERVED_OFFSET: usize = HEADER_VERSION_OFFSET + 2;
pub const HEADER_LEN: usize = HEADER_RESERVED_OFFSET + 6;

/// Most columns a segment can carry (raw: 2, rollups: 8).
pub const MAX_COLUMNS: usize = 8;
/// Rows per block: large enough that the entropy coder's tables amortise,
/// small enough that a short read decodes little it does not need.
pub const BLOCK_ROWS: usize = 4096;

/// The most bytes the decompressed series entries of a file with
/// `n_series` series and `rows` rows may take: what a reader allocates at
/// most before decompressing. An entry without its metadata is tens of
/// bytes plus ~60 per block; chunk metadata (version 3) is a few KiB per
/// column (codec tables) plus, for the `integer`/`decimal` value codecs,
/// up to 18 bytes for each of the at most `rows / 32 + 1` exceptions of a
/// column. 1 MiB per series and 16 bytes per row cover all of it; the
/// entries' offsets are 32-bit, so never more than 4 GiB. The writer
/// refuses to write what a reader would refuse to read.
pub fn entries_limit(n_series: u64, rows: u64) -> u64 {
    n_series
        .saturating_add(1)
        .saturating_mul(1 << 20)
        .saturating_add(rows.saturating_mul(16))
        .min(u64::from(u32::MAX))
}

/// The sections that follow the data region, in file order. Each has an
/// offset and a CRC in the footer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(usize)]
pub enum Section {
    Symbols = 0,
    Series = 1,
    SeriesOffsets = 2,
    Postings = 3,
    PostingsIndex = 4,
}

pub const SECTIONS: [Section; 5] = [
    Section::Symbols,
    Section::Series,
    Section::SeriesOffsets,
    Section::Postings,
    Section::PostingsIndex,
];

impl Section {
    pub fn name(self) -> &'static str {
        match self {
            Section::Symbols => "symbols",
            Section::Series => "series entries",
            Section::SeriesOffsets => "series offset table",
            Section::Postings => "postings",
            Section::PostingsIndex => "postings index",
        }
    }
}

/// The type of a column's values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum ColumnType {
    I64 = 1,
    F64 = 2,
}

impl TryFrom<u8> for ColumnType {
    type Error = u8;
    fn try_from(v: u8) -> Result<Self, u8> {
        match v {
            1 => Ok(ColumnType::I64),
            2 => Ok(ColumnType::F64),
            x => Err(x),
        }
    }
}

// Footer fields, each offset from the previous.
const F_SECTION_OFFSETS: usize = 0;
const F_N_SERIES: usize = F_SECTION_OFFSETS + 8 * SECTIONS.len();
const F_ROWS: usize = F_N_SERIES + 4;
const F_MIN_T: usize = F_ROWS + 8;
const F_MAX_T: usize = F_MIN_T + 8;
const F_RESOLUTION: usize = F_MAX_T + 8;
const F_N_COLUMNS: usize = F_RESOLUTION + 4;
const F_COLUMN_TYPES: usize = F_N_COLUMNS + 1;
const F_FLAGS: usize = F_COLUMN_TYPES + MAX_COLUMNS;
const F_SECTION_CRCS: usize = F_FLAGS + 4;
const F_FOOTER_CRC: usize = F_SECTION_CRCS + 4 * SECTIONS.len();
const F_VERSION: usize = F_FOOTER_CRC + 4;
const F_MAGIC: usize = F_VERSION + 2;
pub const FOOTER_LEN: usize = F_MAGIC + MAGIC.len();

/// The fixed-size trailer that locates everything else.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Footer {
    /// Absolute file offsets of each section; a section ends where the next
    /// begins (the last one where the footer begins).
    pub section_offsets: [u64; 5],
    pub n_series: u32,
    pub rows: u64,
    pub min_t: i64,
    pub max_t: i64,
    /// Rollup bucket width in seconds; 0 for raw samples.
    pub resolution_s: u32,
    pub columns: Vec<ColumnType>,
    pub flags: u32,
    pub section_crcs: [u32; 5],
}

impl Footer {
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(FOOTER_LEN);
        for o in self.section_offsets {
            put_u64(&mut b, o);
        }
        debug_assert_eq!(b.len(), F_N_SERIES);
        put_u32(&mut b, self.n_series);
        put_u64(&mut b, self.rows);
        put_i64(&mut b, self.min_t);
        put_i64(&mut b, self.max_t);
        put_u32(&mut b, self.resolution_s);
        debug_assert_eq!(b.len(), F_N_COLUMNS);
        b.push(self.columns.len() as u8);
        let mut types = [0u8; MAX_COLUMNS];
        for (t, c) in types.iter_mut().zip(&self.columns) {
            *t = *c as u8;
        }
        b.extend_from_slice(&types);
        put_u32(&mut b, self.flags);
        for c in self.section_crcs {
            put_u32(&mut b, c);
        }
        debug_assert_eq!(b.len(), F_FOOTER_CRC);
        let crc = crc32fast::hash(&b);
        put_u32(&mut b, crc);
        put_u16(&mut b, VERSION);
        b.extend_from_slice(MAGIC);
        debug_assert_eq!(b.len(), FOOTER_LEN);
        b
    }

    /// Reads the version from a footer's bytes (checked before anything
    /// else, so an unknown version is reported as such, not as corruption).
    pub fn version(bytes: &[u8]) -> u16 {
        u16::from_le_bytes([bytes[F_VERSION], bytes[F_VERSION + 1]])
    }

    pub fn has_magic(bytes: &[u8]) -> bool {
        &bytes[F_MAGIC..] == MAGIC
    }

    /// Decodes and checks a footer of exactly FOOTER_LEN bytes whose magic
    /// and version were checked by the caller.
    pub fn decode(bytes: &[u8]) -> Result<Footer, FooterError> {
        let stored = u32::from_le_bytes([
            bytes[F_FOOTER_CRC],
            bytes[F_FOOTER_CRC + 1],
            bytes[F_FOOTER_CRC + 2],
            bytes[F_FOOTER_CRC + 3],
        ]);
        let computed = crc32fast::hash(&bytes[..F_FOOTER_CRC]);
        if stored != computed {
            return Err(FooterError::Crc { stored, computed });
        }
        let mut c = Cursor::new(&bytes[..F_FOOTER_CRC]);
        let mut section_offsets = [0u64; 5];
        for o in &mut section_offsets {
            *o = c.u64("section offset")?;
        }
        let n_series = c.u32("series count")?;
        let rows = c.u64("row count")?;
        let min_t = c.i64("min time")?;
        let max_t = c.i64("max time")?;
        let resolution_s = c.u32("resolution")?;
        let n_columns = usize::from(c.u8("column count")?);
        if n_columns == 0 || n_columns > MAX_COLUMNS {
            return Err(FooterError::Field("column count out of range"));
        }
        let types = c.bytes(MAX_COLUMNS, "column types")?;
        let columns = types[..n_columns]
            .iter()
            .map(|&t| ColumnType::try_from(t))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| FooterError::Field("unknown column type"))?;
        let flags = c.u32("flags")?;
        let mut section_crcs = [0u32; 5];
        for s in &mut section_crcs {
            *s = c.u32("section crc")?;
        }
        Ok(Footer {
            section_offsets,
            n_series,
            rows,
            min_t,
            max_t,
            resolution_s,
            columns,
            flags,
            section_crcs,
        })
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum FooterError {
    Crc { stored: u32, computed: u32 },
    Field(&'static str),
}

impl From<DecodeError> for FooterError {
    fn from(e: DecodeError) -> Self {
        FooterError::Field(e.what)
    }
}

impl std::fmt::Display for FooterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FooterError::Crc { stored, computed } => {
                write!(f, "footer crc {stored:#010x} != computed {computed:#010x}")
            }
            FooterError::Field(w) => write!(f, "footer field invalid: {w}"),
        }
    }
}

pub fn header() -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..MAGIC.len()].copy_from_slice(MAGIC);
    h[HEADER_VERSION_OFFSET..HEADER_RESERVED_OFFSET].copy_from_slice(&VERSION.to_le_bytes());
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn footer_round_trips_and_detects_flips() {
        let f = Footer {
            section_offsets: [16, 100, 200, 300, 400],
            n_series: 7,
            rows: 12345,
            min_t: -5,
            max_t: 1_700_000_000_000,
            resolution_s: 60,
            columns: vec![ColumnType::I64, ColumnType::F64],
            flags: 0,
            section_crcs: [1, 2, 3, 4, 5],
        };
        let b = f.encode();
        // docs/format/segment.md states this size
        assert_eq!(FOOTER_LEN, 119);
        assert_eq!(b.len(), FOOTER_LEN);
        assert!(Footer::has_magic(&b));
        assert_eq!(Footer::version(&b), VERSION);
        assert_eq!(Footer::decode(&b), Ok(f));
        for i in 0..F_FOOTER_CRC {
            let mut x = b.clone();
            x[i] ^= 0x10;
            assert!(
                matches!(Footer::decode(&x), Err(FooterError::Crc { .. })),
                "byte {i}"
            );
        }
    }
}
