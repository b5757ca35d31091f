//! Reads a segment through a memory map: checks the footer and index
//! sections on open, parses series entries on demand, checks each block's CRC
//! before decoding it.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use memmap2::Mmap;
use roaring::RoaringBitmap;

use super::directory::Directory;
use super::format::{self, ColumnType, Footer, Section, FOOTER_LEN, HEADER_LEN, SECTIONS};
use super::writer::BlockRef;
use crate::bytes::{Cursor, DecodeError};
use crate::codec::{self, DecodeScratch};
use crate::error::{Error, IoContext, Result};
use crate::index::LabelIndex;
use crate::read::LabelInterner;
use crate::types::{Label, Labels, SeriesKind};

/// An open, immutable segment file.
pub struct Segment {
    path: PathBuf,
    map: Mmap,
    footer: Footer,
    /// (offset, len) of each symbol's bytes in the map; symbol ids are ranks
    /// in sorted order, so comparing ids compares strings.
    symbols: Vec<(u32, u32)>,
    /// Postings index: per label name (sorted), its values (sorted) with the
    /// postings blob location relative to the postings section (version 3:
    /// to its decompressed bytes).
    names: Vec<NamePostings>,
    /// Format version of the file.
    version: u16,
    /// Version 3: the postings section, decompressed at open (earlier
    /// versions' postings are read in place).
    pub(super) postings: Vec<u8>,
    /// Parsed on first use: files never change once open.
    directory: OnceLock<std::result::Result<Directory, (u64, String)>>,
    /// Format version 2 on: each series entry's offset in the entries
    /// section and its chunk's offset in the file (version 2: of its
    /// metadata; version 3: of its first block, the metadata being in the
    /// entry), found by walking the entries at open (version 1 stores both).
    located: Vec<(u32, u64)>,
    /// Version 2: the series entries section, decompressed at open
    /// (version 1 entries are read in place).
    pub(super) entries: Vec<u8>,
}

struct NamePostings {
    name: u32,
    values: Vec<(u32, u64, u64)>,
}

/// A parsed series entry: labels, kind, and where its chunk is.
#[derive(Clone, Debug)]
pub struct SeriesEntry {
    pub ordinal: u32,
    pub labels: Labels,
    pub kind: SeriesKind,
    pub chunk: Chunk,
}

impl SeriesEntry {
    pub fn rows(&self) -> u64 {
        self.chunk.rows()
    }
    pub fn min_t(&self) -> Option<i64> {
        self.chunk.min_t()
    }
    pub fn max_t(&self) -> Option<i64> {
        self.chunk.max_t()
    }
}

/// Where a series' chunk is: its column metadata and its blocks.
#[derive(Clone, Debug)]
pub struct Chunk {
    /// Where the metadata starts: a file offset up to version 2, an offset
    /// in the decompressed series entries from version 3.
    pub(super) meta_off: u64,
    pub(super) meta_lens: Box<[u32]>,
    meta_crc: u32,
    pub blocks: Box<[BlockRef]>,
}

impl Chunk {
    pub fn rows(&self) -> u64 {
        self.blocks.iter().map(|b| u64::from(b.rows)).sum()
    }
    pub fn min_t(&self) -> Option<i64> {
        self.blocks.first().map(|b| b.min_t)
    }
    pub fn max_t(&self) -> Option<i64> {
        self.blocks.last().map(|b| b.max_t)
    }
    /// Whether some row may lie in `[mint, maxt]`.
    pub fn overlaps(&self, mint: i64, maxt: i64) -> bool {
        self.min_t().is_some_and(|t| t <= maxt) && self.max_t().is_some_and(|t| t >= mint)
    }
    /// Heap and inline bytes this takes in memory.
    pub(crate) fn mem_bytes(&self) -> usize {
        std::mem::size_of::<Chunk>()
            + 4 * self.meta_lens.len()
            + self
                .blocks
                .iter()
                .map(|b| std::mem::size_of::<BlockRef>() + 4 * b.page_lens.len())
                .sum::<usize>()
    }
}

/// A decoded column.
#[derive(Clone, Debug, PartialEq)]
pub enum ColumnBuf {
    I64(Vec<i64>),
    F64(Vec<f64>),
}

impl ColumnBuf {
    pub fn new(t: ColumnType) -> ColumnBuf {
        match t {
            ColumnType::I64 => ColumnBuf::I64(Vec::new()),
            ColumnType::F64 => ColumnBuf::F64(Vec::new()),
        }
    }
    pub fn len(&self) -> usize {
        match self {
            ColumnBuf::I64(v) => v.len(),
            ColumnBuf::F64(v) => v.len(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn clear(&mut self) {
        self.truncate(0);
    }
    fn truncate(&mut self, n: usize) {
        match self {
            ColumnBuf::I64(v) => v.truncate(n),
            ColumnBuf::F64(v) => v.truncate(n),
        }
    }
    fn drain_range(&mut self, r: std::ops::Range<usize>) {
        match self {
            ColumnBuf::I64(v) => drop(v.drain(r)),
            ColumnBuf::F64(v) => drop(v.drain(r)),
        }
    }
}

/// One damaged place found by [`Segment::verify`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Damage {
    pub offset: u64,
    pub rule: String,
}

enum Decoder {
    I64(codec::I64Decoder),
    F64(codec::F64Decoder),
}

impl Segment {
    /// Format version 3 on: chunk metadata lives in the series entries
    /// (inside their zstd frame), not before each chunk's blocks.
    fn meta_in_entries(&self) -> bool {
        self.version >= 3
    }

    /// Format version 3 on: the postings section is one zstd frame,
    /// decompressed into `postings` at open.
    fn postings_compressed(&self) -> bool {
        self.version >= 3
    }

    /// Opens and checks a segment: magic, version, footer CRC and every
    /// index section's CRC. Blocks are checked when read (or by `verify`).
    pub fn open(path: &Path) -> Result<Segment> {
        let file = File::open(path).ctx("open segment", path)?;
        let map = super::mmap::map_readonly(&file).ctx("map segment", path)?;
        let len = map.len();
        let corrupt = |offset: usize, rule: String| Error::corrupted(path, offset as u64, rule);
        if len < HEADER_LEN + FOOTER_LEN {
            return Err(corrupt(
                0,
                format!("file is {len} bytes, shorter than header and footer"),
            ));
        }
        if &map[..format::MAGIC.len()] != format::MAGIC {
            return Err(corrupt(0, "header magic is not NINESSEG".into()));
        }
        let fb = &map[len - FOOTER_LEN..];
        if !Footer::has_magic(fb) {
            return Err(corrupt(
                len - format::MAGIC.len(),
                "footer magic is not NINESSEG (truncated file?)".into(),
            ));
        }
        let version = Footer::version(fb);
        if !(format::OLDEST_VERSION..=format::VERSION).contains(&version) {
            return Err(Error::UnknownVersion {
                path: path.to_path_buf(),
                found: u32::from(version),
                supported: u32::from(format::VERSION),
            });
        }
        let hv = &map[format::HEADER_VERSION_OFFSET..format::HEADER_RESERVED_OFFSET];
        if hv != version.to_le_bytes() {
            return Err(corrupt(
                format::HEADER_VERSION_OFFSET,
                format!("header version {:?} != footer version {version}", hv),
            ));
        }
        let footer = Footer::decode(fb).map_err(|e| corrupt(len - FOOTER_LEN, e.to_string()))?;
        let mut seg = Segment {
            path: path.to_path_buf(),
            map,
            footer,
            symbols: Vec::new(),
            names: Vec::new(),
            version,
            postings: Vec::new(),
            directory: OnceLock::new(),
            located: Vec::new(),
            entries: Vec::new(),
        };
        for s in SECTIONS {
            let (a, b) = seg.section_range(s)?;
            let computed = crc32fast::hash(&seg.map[a..b]);
            let stored = seg.footer.section_crcs[s as usize];
            if computed != stored {
                return Err(corrupt(
                    a,
                    format!(
                        "{} crc {stored:#010x} != computed {computed:#010x}",
                        s.name()
                    ),
                ));
            }
        }
        seg.symbols = seg.parse_symbols()?;
        if seg.postings_compressed() {
            // the index says how long the decompressed postings are: the
            // frame must declare exactly that before it is decompressed
            let declared = seg.frame_size(Section::Postings, "postings")?;
            let (names, covered) = seg.parse_postings_index(declared)?;
            if covered != declared {
                let base = seg.footer.section_offsets[Section::Postings as usize];
                return Err(Error::corrupted(
                    &seg.path,
                    base,
                    format!(
                        "the postings index covers {covered} bytes but the postings frame declares {declared}"
                    ),
                ));
            }
            seg.names = names;
            seg.postings = seg.decompress_section(Section::Postings, declared, "postings")?;
        } else {
            let plen = seg.section(Section::Postings)?.0.len() as u64;
            seg.names = seg.parse_postings_index(plen)?.0;
        }
        if version >= 2 {
            let size = seg.frame_size(Section::Series, "series entries")?;
            let limit = format::entries_limit(u64::from(seg.footer.n_series), seg.footer.rows);
            if size > limit {
                let base = seg.footer.section_offsets[Section::Series as usize];
                return Err(Error::corrupted(
                    &seg.path,
                    base,
                    format!(
                        "series entries claim {size} bytes for {} series",
                        seg.footer.n_series
                    ),
                ));
            }
            seg.entries = seg.decompress_section(Section::Series, size, "series entries")?;
            seg.located = seg.locate_entries()?;
        }
        Ok(seg)
    }

    /// The content size a compressed section's zstd frame declares.
    fn frame_size(&self, s: Section, what: &str) -> Result<u64> {
        let (buf, base) = self.section(s)?;
        zstd::zstd_safe::get_frame_content_size(buf)
            .ok()
            .flatten()
            .ok_or_else(|| {
                Error::corrupted(
                    &self.path,
                    base as u64,
                    format!("{what} are not a zstd frame with its size"),
                )
            })
    }

    /// A compressed section (one zstd frame) whose declared `size` the
    /// caller has bounded: decompressed, its size and checksum checked.
    fn decompress_section(&self, s: Section, size: u64, what: &str) -> Result<Vec<u8>> {
        let (buf, base) = self.section(s)?;
        let bad = |rule: String| Error::corrupted(&self.path, base as u64, rule);
        let out = zstd::bulk::decompress(buf, size as usize)
            .map_err(|e| bad(format!("cannot decompress the {what}: {e}")))?;
        if out.len() as u64 != size {
            return Err(bad(format!(
                "{what} decompress to {} bytes, not the declared {size}",
                out.len()
            )));
        }
        Ok(out)
    }

    /// An error in the decompressed series entries: the section's offset,
    /// and where in the decompressed bytes.
    fn entries_err(&self, e: DecodeError) -> Error {
        let base = self.footer.section_offsets[Section::Series as usize];
        Error::corrupted(
            &self.path,
            base,
            format!(
                "cannot decode {} at byte {} of the decompressed series entries",
                e.what, e.offset
            ),
        )
    }

    /// Walks the series entries once (version 2 on): where each starts, and
    /// where its chunk starts, the chunks (version 3: their blocks) lying
    /// back to back from the end of the header in entry order. The entries
    /// must fill their section and the chunks the data region exactly.
    fn locate_entries(&self) -> Result<Vec<(u32, u64)>> {
        let buf = &self.entries[..];
        let base = self.footer.section_offsets[Section::Series as usize];
        let ncols = self.footer.columns.len();
        let n = self.footer.n_series as usize;
        let mut out = Vec::with_capacity(n);
        let mut c = Cursor::new(buf);
        let mut data_at = HEADER_LEN as u64;
        let err = |e| self.entries_err(e);
        for _ in 0..n {
            let at = c.position();
            let rel = u32::try_from(at)
                .map_err(|_| Error::corrupted(&self.path, base, "series entries exceed 4 GiB"))?;
            out.push((rel, data_at));
            let labels = c.len(64 * 1024, "label count").map_err(err)?;
            for _ in 0..2 * labels {
                c.uvarint("label symbol").map_err(err)?;
            }
            c.u8("series kind").map_err(err)?;
            let mut meta = 0u64;
            for _ in 0..ncols {
                meta = meta.saturating_add(c.uvarint("chunk metadata length").map_err(err)?);
            }
            c.u32("chunk metadata crc").map_err(err)?;
            if self.meta_in_entries() {
                let n = usize::try_from(meta).unwrap_or(usize::MAX);
                c.bytes(n, "chunk metadata").map_err(err)?;
            } else {
                data_at = data_at.saturating_add(meta);
            }
            let nb = c.len(c.remaining(), "block count").map_err(err)?;
            for _ in 0..nb {
                c.uvarint("block rows").map_err(err)?;
                c.varint("block min time").map_err(err)?;
                c.uvarint("block time span").map_err(err)?;
                for _ in 0..ncols {
                    data_at = data_at.saturating_add(c.uvarint("page length").map_err(err)?);
                }
                c.u32("block crc").map_err(err)?;
            }
        }
        let data_end = self.footer.section_offsets[Section::Symbols as usize];
        if c.position() != buf.len() || data_at != data_end {
            return Err(Error::corrupted(
                &self.path,
                base,
                format!(
                    "{n} series entries end at byte {} of {} and their chunks at {data_at} of a {data_end}-byte data region",
                    c.position(),
                    buf.len()
                ),
            ));
        }
        Ok(out)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The parsed series directory, built on the first call (label sets
    /// interned in `interner`; later calls return the same directory).
    pub fn directory(&self, interner: &LabelInterner) -> Result<&Directory> {
        let d = self.directory.get_or_init(|| {
            Directory::build(self, interner).map_err(|e| {
                let d = damage_of(e);
                (d.offset, d.rule)
            })
        });
        d.as_ref()
            .map_err(|(offset, rule)| Error::corrupted(&self.path, *offset, rule.clone()))
    }

    /// The series directory if a read has built it.
    pub fn built_directory(&self) -> Option<&Directory> {
        self.directory.get()?.as_ref().ok()
    }

    pub fn footer(&self) -> &Footer {
        &self.footer
    }

    pub fn file_len(&self) -> u64 {
        self.map.len() as u64
    }

    pub fn series_count(&self) -> u32 {
        self.footer.n_series
    }

    fn section_range(&self, s: Section) -> Result<(usize, usize)> {
        let i = s as usize;
        let start = self.footer.section_offsets[i];
        let end = if i + 1 < SECTIONS.len() {
            self.footer.section_offsets[i + 1]
        } else {
            (self.map.len() - FOOTER_LEN) as u64
        };
        if start < HEADER_LEN as u64 || start > end || end > (self.map.len() - FOOTER_LEN) as u64 {
            return Err(Error::corrupted(
                &self.path,
                start,
                format!(
                    "{} section bounds {start}..{end} are outside the file",
                    s.name()
                ),
            ));
        }
        Ok((start as usize, end as usize))
    }

    fn section(&self, s: Section) -> Result<(&[u8], usize)> {
        let (a, b) = self.section_range(s)?;
        Ok((&self.map[a..b], a))
    }

    fn decode_err(&self, base: usize, e: DecodeError) -> Error {
        Error::corrupted(
            &self.path,
            (base + e.offset) as u64,
            format!("cannot decode {}", e.what),
        )
    }

    fn parse_symbols(&self) -> Result<Vec<(u32, u32)>> {
        let (buf, base) = self.section(Section::Symbols)?;
        let mut c = Cursor::new(buf);
        let n = c
            .len(buf.len(), "symbol count")
            .map_err(|e| self.decode_err(base, e))?;
        let mut out = Vec::with_capacity(n);
        let mut prev: Option<&str> = None;
        for _ in 0..n {
            let at = c.position();
            let s = c.str("symbol").map_err(|e| self.decode_err(base, e))?;
            if prev.is_some_and(|p| p >= s) {
                return Err(Error::corrupted(
                    &self.path,
                    (base + at) as u64,
                    "symbols are not sorted and unique",
                ));
            }
            prev = Some(s);
            let start = base + c.position() - s.len();
            out.push((start as u32, s.len() as u32));
        }
        Ok(out)
    }

    /// The postings index, its blobs within `plen` bytes of postings, and
    /// how many bytes the blobs cover in all.
    fn parse_postings_index(&self, plen: u64) -> Result<(Vec<NamePostings>, u64)> {
        let (buf, base) = self.section(Section::PostingsIndex)?;
        // the largest portable roaring bitmap of ordinals below n_series:
        // a header, and per 65,536 ordinals a container header and at most
        // 8 KiB of container
        let containers = u64::from(self.footer.n_series).div_ceil(65_536).max(1);
        let max_blob = 16 + containers * (8 + 8192);
        let mut covered = 0u64;
        let nsym = self.symbols.len() as u64;
        let mut c = Cursor::new(buf);
        let err = |e| self.decode_err(base, e);
        let n = c.len(buf.len(), "label name count").map_err(err)?;
        let mut names = Vec::with_capacity(n);
        for _ in 0..n {
            let at = c.position();
            let name = c.uvarint("label name symbol").map_err(err)?;
            let nv = c.len(buf.len(), "label value count").map_err(err)?;
            let mut values = Vec::with_capacity(nv);
            for _ in 0..nv {
                let v = c.uvarint("label value symbol").map_err(err)?;
                let off = c.uvarint("postings offset").map_err(err)?;
                let len = c.uvarint("postings length").map_err(err)?;
                if v >= nsym || len > max_blob || off.checked_add(len).is_none_or(|e| e > plen) {
                    return Err(Error::corrupted(
                        &self.path,
                        (base + at) as u64,
                        "postings index entry out of range",
                    ));
                }
                covered += len;
                values.push((v as u32, off, len));
            }
            if name >= nsym {
                return Err(Error::corrupted(
                    &self.path,
                    (base + at) as u64,
                    "label name symbol out of range",
                ));
            }
            names.push(NamePostings {
                name: name as u32,
                values,
            });
        }
        Ok((names, covered))
    }

    /// The symbol with id `id`. Symbols were checked to be UTF-8 on open.
    fn sym(&self, id: u32) -> &str {
        let Some(&(off, len)) = self.symbols.get(id as usize) else {
            return "";
        };
        std::str::from_utf8(&self.map[off as usize..(off + len) as usize]).unwrap_or("")
    }

    fn find_sym(&self, s: &str) -> Option<u32> {
        self.symbols
            .binary_search_by(|&(off, len)| {
                self.map[off as usize..(off + len) as usize].cmp(s.as_bytes())
            })
            .ok()
            .map(|i| i as u32)
    }

    fn name_postings(&self, name: &str) -> Option<&NamePostings> {
        let id = self.find_sym(name)?;
        self.names
            .binary_search_by_key(&id, |n| n.name)
            .ok()
            .map(|i| &self.names[i])
    }

    fn read_postings(&self, off: u64, len: u64) -> RoaringBitmap {
        let buf = if self.postings_compressed() {
            &self.postings[..]
        } else {
            let Ok((buf, _)) = self.section(Section::Postings) else {
                return RoaringBitmap::new();
            };
            buf
        };
        // Bounds were checked when the index was parsed and the section's CRC
        // on open; a blob that still fails to parse selects nothing.
        RoaringBitmap::deserialize_from(&buf[off as usize..(off + len) as usize])
            .unwrap_or_default()
    }

    /// Label names present in this segment.
    pub fn label_names(&self) -> Vec<&str> {
        self.names.iter().map(|n| self.sym(n.name)).collect()
    }

    /// Values of label `name` present in this segment, sorted.
    pub fn label_values(&self, name: &str) -> Vec<&str> {
        self.name_postings(name)
            .map(|n| n.values.iter().map(|v| self.sym(v.0)).collect())
            .unwrap_or_default()
    }

    /// The entry of the series with exactly these labels (series are stored
    /// in label order, so this is a binary search).
    pub fn find_series(&self, labels: &Labels) -> Result<Option<SeriesEntry>> {
        let (mut lo, mut hi) = (0u32, self.footer.n_series);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let e = self.series(mid)?;
            match e.labels.cmp(labels) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Ok(Some(e)),
            }
        }
        Ok(None)
    }

    /// Parses the entry of series number `ordinal`.
    pub fn series(&self, ordinal: u32) -> Result<SeriesEntry> {
        if ordinal >= self.footer.n_series {
            return Err(Error::InvalidArgument(format!(
                "series {ordinal} of a segment with {}",
                self.footer.n_series
            )));
        }
        if let Some(&(rel, chunk_off)) = self.located.get(ordinal as usize) {
            return self
                .parse_entry(
                    ordinal,
                    &self.entries[rel as usize..],
                    Some((rel, chunk_off)),
                )
                .map_err(|e| {
                    self.entries_err(DecodeError {
                        offset: e.offset + rel as usize,
                        what: e.what,
                    })
                });
        }
        let (entries, base) = self.section(Section::Series)?;
        let (offsets, obase) = self.section(Section::SeriesOffsets)?;
        let mut c = Cursor::new(offsets);
        c.bytes(8 * ordinal as usize, "series offset")
            .map_err(|e| self.decode_err(obase, e))?;
        let rel = c
            .u64("series offset")
            .map_err(|e| self.decode_err(obase, e))?;
        if rel >= entries.len() as u64 {
            return Err(Error::corrupted(
                &self.path,
                obase as u64,
                "series offset out of range",
            ));
        }
        let base = base + rel as usize;
        self.parse_entry(ordinal, &entries[rel as usize..], None)
            .map_err(|e| self.decode_err(base, e))
    }

    /// Parses one entry; `located` is, from version 2, the entry's offset
    /// in the decompressed entries and its chunk's offset in the file
    /// (version 1 entries store the chunk's and every block's offset).
    fn parse_entry(
        &self,
        ordinal: u32,
        buf: &[u8],
        located: Option<(u32, u64)>,
    ) -> Result<SeriesEntry, DecodeError> {
        let mut c = Cursor::new(buf);
        let ncols = self.footer.columns.len();
        let nsym = self.symbols.len();
        let n = c.len(64 * 1024, "label count")?;
        let mut labels = Vec::with_capacity(n);
        for _ in 0..n {
            let at = c.position();
            let name = c.len(nsym.saturating_sub(1), "label name symbol")?;
            let value = c.len(nsym.saturating_sub(1), "label value symbol")?;
            let l = Label::new(self.sym(name as u32), self.sym(value as u32));
            if labels.last().is_some_and(|p: &Label| p.name >= l.name) {
                return Err(DecodeError {
                    offset: at,
                    what: "labels are not sorted",
                });
            }
            labels.push(l);
        }
        let at = c.position();
        let kind = SeriesKind::try_from(c.u8("series kind")?).map_err(|_| DecodeError {
            offset: at,
            what: "series kind",
        })?;
        let chunk_off = match located {
            Some((_, at)) => at,
            None => c.uvarint("chunk metadata offset")?,
        };
        let mut meta_lens = Vec::with_capacity(ncols);
        for _ in 0..ncols {
            meta_lens.push(c.len(u32::MAX as usize, "chunk metadata length")? as u32);
        }
        let meta_total: u64 = meta_lens.iter().map(|&l| u64::from(l)).sum();
        let meta_crc = c.u32("chunk metadata crc")?;
        // version 3: the metadata is here, its offset one in the entries;
        // version 2: blocks follow the metadata back to back
        let (meta_off, mut next) = match located {
            Some((rel, _)) if self.meta_in_entries() => {
                let at = u64::from(rel) + c.position() as u64;
                c.bytes(meta_total as usize, "chunk metadata")?;
                (at, chunk_off)
            }
            _ => (chunk_off, chunk_off + meta_total),
        };
        let nb = c.len(c.remaining(), "block count")?;
        let mut blocks = Vec::with_capacity(nb);
        for _ in 0..nb {
            let offset = match located {
                Some(_) => next,
                None => c.uvarint("block offset")?,
            };
            let rows = c.len(u32::MAX as usize, "block rows")? as u32;
            let min_t = c.varint("block min time")?;
            let span = c.uvarint("block time span")?;
            let mut page_lens = Vec::with_capacity(ncols);
            for _ in 0..ncols {
                page_lens.push(c.len(u32::MAX as usize, "page length")? as u32);
            }
            next = offset + page_lens.iter().map(|&l| u64::from(l)).sum::<u64>();
            let crc = c.u32("block crc")?;
            blocks.push(BlockRef {
                offset,
                rows,
                min_t,
                max_t: min_t.wrapping_add(span as i64),
                page_lens,
                crc,
            });
        }
        Ok(SeriesEntry {
            ordinal,
            labels: Labels::from_sorted(labels),
            kind,
            chunk: Chunk {
                meta_off,
                meta_lens: meta_lens.into_boxed_slice(),
                meta_crc,
                blocks: blocks.into_boxed_slice(),
            },
        })
    }

    fn data_slice(&self, off: u64, len: u64, what: &str) -> Result<&[u8]> {
        let end = off.checked_add(len);
        let data_end = self.footer.section_offsets[Section::Symbols as usize];
        match end {
            Some(e) if off >= HEADER_LEN as u64 && e <= data_end => {
                Ok(&self.map[off as usize..e as usize])
            }
            _ => Err(Error::corrupted(
                &self.path,
                off,
                format!("{what} of {len} bytes lies outside the data region"),
            )),
        }
    }

    /// The chunk metadata's bytes, checked against their CRC.
    fn checked_meta(&self, e: &Chunk, labels: &Labels) -> Result<&[u8]> {
        let total: u64 = e.meta_lens.iter().map(|&l| u64::from(l)).sum();
        let metas = if self.meta_in_entries() {
            let end = e.meta_off.checked_add(total);
            match end {
                Some(end) if end <= self.entries.len() as u64 => {
                    &self.entries[e.meta_off as usize..end as usize]
                }
                _ => {
                    return Err(self.meta_err(
                        e,
                        0,
                        "chunk metadata lies outside the series entries".into(),
                    ))
                }
            }
        } else {
            self.data_slice(e.meta_off, total, "chunk metadata")?
        };
        let crc = crc32fast::hash(metas);
        if crc != e.meta_crc {
            return Err(self.meta_err(
                e,
                0,
                format!(
                    "chunk metadata crc {:#010x} != computed {crc:#010x} (series {labels})",
                    e.meta_crc
                ),
            ));
        }
        Ok(metas)
    }

    /// An error `at` bytes into a chunk's metadata: at its file offset up to
    /// version 2; version 3 keeps it in the compressed series entries, so
    /// the error names the section and the place in its decompressed bytes.
    fn meta_err(&self, e: &Chunk, at: u64, rule: String) -> Error {
        if self.meta_in_entries() {
            let base = self.footer.section_offsets[Section::Series as usize];
            Error::corrupted(
                &self.path,
                base,
                format!(
                    "{rule} (chunk metadata at byte {} of the decompressed series entries)",
                    e.meta_off + at
                ),
            )
        } else {
            Error::corrupted(&self.path, e.meta_off + at, rule)
        }
    }

    fn meta_crc(&self, e: &Chunk, labels: &Labels) -> Result<()> {
        self.checked_meta(e, labels).map(|_| ())
    }

    fn decoders(&self, e: &Chunk, labels: &Labels) -> Result<Vec<Decoder>> {
        let metas = self.checked_meta(e, labels)?;
        let mut at = 0usize;
        let mut out = Vec::with_capacity(e.meta_lens.len());
        for (&len, t) in e.meta_lens.iter().zip(&self.footer.columns) {
            let m = &metas[at..at + len as usize];
            let bad = |err: codec::CodecError| {
                self.meta_err(e, at as u64, format!("chunk metadata: {err}"))
            };
            out.push(match t {
                ColumnType::I64 => Decoder::I64(codec::I64Decoder::new(m).map_err(bad)?),
                ColumnType::F64 => Decoder::F64(codec::F64Decoder::new(m).map_err(bad)?),
            });
            at += len as usize;
        }
        Ok(out)
    }

    fn block_bytes(&self, b: &BlockRef, labels: &Labels) -> Result<&[u8]> {
        let bytes = self.data_slice(b.offset, b.byte_len(), "block")?;
        let crc = crc32fast::hash(bytes);
        if crc != b.crc {
            return Err(Error::corrupted(
                &self.path,
                b.offset,
                format!(
                    "block crc {:#010x} != computed {crc:#010x} (series {labels})",
                    b.crc
                ),
            ));
        }
        Ok(bytes)
    }

    /// Appends the rows of `e` with `mint <= time <= maxt` to `out` (one
    /// buffer per column, matching the segment's column types).
    pub fn read_columns(
        &self,
        e: &SeriesEntry,
        mint: i64,
        maxt: i64,
        scratch: &mut DecodeScratch,
        out: &mut [ColumnBuf],
    ) -> Result<()> {
        self.read_chunk(&e.chunk, &e.labels, mint, maxt, scratch, out)
    }

    /// [`Segment::read_columns`] for a chunk of this segment's directory;
    /// `labels` name the series in errors.
    pub fn read_chunk(
        &self,
        e: &Chunk,
        labels: &Labels,
        mint: i64,
        maxt: i64,
        scratch: &mut DecodeScratch,
        out: &mut [ColumnBuf],
    ) -> Result<()> {
        if out.len() != self.footer.columns.len() {
            return Err(Error::InvalidArgument(
                "column buffers do not match the segment".into(),
            ));
        }
        let first = e.blocks.partition_point(|b| b.max_t < mint);
        if first == e.blocks.len() || e.blocks[first].min_t > maxt {
            return Ok(());
        }
        let decoders = self.decoders(e, labels)?;
        let base = out[0].len();
        let mut row: usize = e.blocks[..first].iter().map(|b| b.rows as usize).sum();
        for b in &e.blocks[first..] {
            if b.min_t > maxt {
                break;
            }
            let bytes = self.block_bytes(b, labels)?;
            let mut at = 0usize;
            for ((d, col), &plen) in decoders.iter().zip(out.iter_mut()).zip(&b.page_lens) {
                let page = &bytes[at..at + plen as usize];
                let n = b.rows as usize;
                let res = match (d, col) {
                    (Decoder::I64(d), ColumnBuf::I64(v)) => {
                        let s = v.len();
                        v.resize(s + n, 0);
                        d.decode_page(scratch, row, page, &mut v[s..])
                    }
                    (Decoder::F64(d), ColumnBuf::F64(v)) => {
                        d.decode_page_append(scratch, row, page, n, v)
                    }
                    _ => return Err(Error::InvalidArgument("column buffer type mismatch".into())),
                };
                res.map_err(|err| {
                    Error::corrupted(
                        &self.path,
                        b.offset + at as u64,
                        format!("page of series {labels}: {err}"),
                    )
                })?;
                at += plen as usize;
            }
            row += b.rows as usize;
        }
        // Trim rows outside [mint, maxt]; only the edge blocks have any.
        let ColumnBuf::I64(times) = &out[0] else {
            return Err(Error::InvalidArgument("column 0 must be i64".into()));
        };
        let got = &times[base..];
        let lo = got.partition_point(|&t| t < mint);
        let hi = got.partition_point(|&t| t <= maxt);
        for col in out.iter_mut() {
            col.truncate(base + hi);
            if lo > 0 {
                col.drain_range(base..base + lo);
            }
        }
        Ok(())
    }

    /// Checks every CRC in the file and parses every series entry; with
    /// `decode`, also decodes every block. Returns each damaged place (empty
    /// when the file is sound).
    pub fn verify(&self, decode: bool) -> Vec<Damage> {
        let mut damage = Vec::new();
        let mut scratch = DecodeScratch::default();
        for ord in 0..self.footer.n_series {
            let before = damage.len();
            let e = match self.series(ord) {
                Ok(e) => e,
                Err(err) => {
                    damage.push(damage_of(err));
                    continue;
                }
            };
            // The CRCs cover every byte; building the codecs' tables from
            // the chunk metadata is decoding, left to `decode`.
            let meta = if decode {
                self.decoders(&e.chunk, &e.labels).map(|_| ())
            } else {
                self.meta_crc(&e.chunk, &e.labels)
            };
            if let Err(err) = meta {
                damage.push(damage_of(err));
            }
            for b in &e.chunk.blocks {
                if let Err(err) = self.block_bytes(b, &e.labels) {
                    damage.push(damage_of(err));
                }
            }
            if decode && damage.len() == before {
                let mut cols: Vec<ColumnBuf> = self
                    .footer
                    .columns
                    .iter()
                    .map(|&t| ColumnBuf::new(t))
                    .collect();
                if let Err(err) = self.read_columns(&e, i64::MIN, i64::MAX, &mut scratch, &mut cols)
                {
                    damage.push(damage_of(err));
                }
            }
        }
        damage
    }
}

fn damage_of(e: Error) -> Damage {
    match e {
        Error::Corrupted { offset, rule, .. } => Damage { offset, rule },
        other => Damage {
            offset: 0,
            rule: other.to_string(),
        },
    }
}

impl LabelIndex for Segment {
    fn all_postings(&self) -> RoaringBitmap {
        (0..self.footer.n_series).collect()
    }

    fn postings(&self, name: &str, value: &str) -> RoaringBitmap {
        let Some(np) = self.name_postings(name) else {
            return RoaringBitmap::new();
        };
        let Some(vid) = self.find_sym(value) else {
            return RoaringBitmap::new();
        };
        match np.values.binary_search_by_key(&vid, |v| v.0) {
            Ok(i) => self.read_postings(np.values[i].1, np.values[i].2),
            Err(_) => RoaringBitmap::new(),
        }
    }

    fn postings_where(&self, name: &str, pred: &dyn Fn(&str) -> bool) -> RoaringBitmap {
        let mut acc = RoaringBitmap::new();
        if let Some(np) = self.name_postings(name) {
            for &(v, off, len) in &np.values {
                if pred(self.sym(v)) {
                    acc |= self.read_postings(off, len);
                }
            }
        }
        acc
    }
}
