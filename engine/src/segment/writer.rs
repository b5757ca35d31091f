//! Writes a segment file: series chunks in label order, then the symbol
//! table, series entries, postings and the footer. The file is written under
//! a temporary name, synced, and renamed into place, so a crash leaves either
//! no segment or a whole one; its SHA-256 is computed on the way out.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use roaring::RoaringBitmap;
use sha2::{Digest, Sha256};

use super::format::{self, ColumnType, Footer, Section, BLOCK_ROWS, MAX_COLUMNS, SECTIONS};
use super::{block_splits, SegmentInfo};
use crate::bytes::{put_bytes, put_u32, put_uvarint, put_varint};
use crate::codec;
use crate::error::{Error, IoContext, Result};
use crate::types::{Labels, SeriesKind};

/// One column of a series chunk handed to the writer.
#[derive(Clone, Copy, Debug)]
pub enum Column<'a> {
    I64(&'a [i64]),
    F64(&'a [f64]),
}

impl Column<'_> {
    fn len(&self) -> usize {
        match self {
            Column::I64(v) => v.len(),
            Column::F64(v) => v.len(),
        }
    }

    fn column_type(&self) -> ColumnType {
        match self {
            Column::I64(_) => ColumnType::I64,
            Column::F64(_) => ColumnType::F64,
        }
    }
}

/// Where one block of a series chunk lives and what it covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockRef {
    /// Absolute file offset of the block's first page.
    pub offset: u64,
    pub rows: u32,
    pub min_t: i64,
    pub max_t: i64,
    /// Encoded length of each column's page, in column order; the pages are
    /// contiguous.
    pub page_lens: Vec<u32>,
    /// CRC-32 over all pages of the block.
    pub crc: u32,
}

impl BlockRef {
    /// Encoded bytes of the block (all pages).
    pub fn byte_len(&self) -> u64 {
        self.page_lens.iter().map(|&l| u64::from(l)).sum()
    }
}

struct PendingSeries {
    labels: Labels,
    kind: SeriesKind,
    /// The chunk metadata of every column, concatenated; version 3 keeps
    /// it in the series entry (compressed with the entries), not in the
    /// data region.
    meta: Vec<u8>,
    meta_lens: Vec<u32>,
    meta_crc: u32,
    blocks: Vec<BlockRef>,
}

/// Builds one segment file. Call [`SegmentWriter::add_series`] in strictly
/// increasing label order, then [`SegmentWriter::finish`].
pub struct SegmentWriter {
    tmp_path: PathBuf,
    path: PathBuf,
    /// `None` once finished.
    out: Option<BufWriter<File>>,
    hasher: Sha256,
    pos: u64,
    resolution_s: u32,
    columns: Vec<ColumnType>,
    series: Vec<PendingSeries>,
    rows: u64,
    min_t: i64,
    max_t: i64,
}

impl SegmentWriter {
    /// Starts `path` (written as `path.tmp` until finished). Column 0 is the
    /// time column and must be `I64`.
    pub fn create(path: &Path, resolution_s: u32, columns: &[ColumnType]) -> Result<SegmentWriter> {
        if columns.is_empty() || columns.len() > MAX_COLUMNS || columns[0] != ColumnType::I64 {
            return Err(Error::InvalidArgument(format!(
                "a segment needs 1..={MAX_COLUMNS} columns, the first of type i64 (got {columns:?})"
            )));
        }
        let tmp_path = path.with_extension("seg.tmp");
        let file = File::create(&tmp_path).ctx("create segment", &tmp_path)?;
        let mut w = SegmentWriter {
            tmp_path,
            path: path.to_path_buf(),
            out: Some(BufWriter::with_capacity(1 << 20, file)),
            hasher: Sha256::new(),
            pos: 0,
            resolution_s,
            columns: columns.to_vec(),
            series: Vec::new(),
            rows: 0,
            min_t: i64::MAX,
            max_t: i64::MIN,
        };
        w.write(&format::header())?;
        Ok(w)
    }

    fn write(&mut self, b: &[u8]) -> Result<()> {
        let out = self.out.as_mut().ok_or(Error::Closed)?;
        out.write_all(b).ctx("write segment", &self.tmp_path)?;
        self.hasher.update(b);
        self.pos += b.len() as u64;
        Ok(())
    }

    pub fn series_count(&self) -> usize {
        self.series.len()
    }

    /// Adds one series chunk. The columns have equal length (at least one
    /// row) and the time column is strictly increasing.
    pub fn add_series(
        &mut self,
        labels: &Labels,
        kind: SeriesKind,
        cols: &[Column<'_>],
    ) -> Result<()> {
        let bad = |msg: String| {
            Err(Error::InvalidArgument(format!(
                "segment series {labels}: {msg}"
            )))
        };
        if cols.len() != self.columns.len()
            || cols
                .iter()
                .zip(&self.columns)
                .any(|(c, t)| c.column_type() != *t)
        {
            return bad(format!(
                "columns do not match the segment's {:?}",
                self.columns
            ));
        }
        let n = cols[0].len();
        if n == 0 || cols.iter().any(|c| c.len() != n) {
            return bad("columns must have the same, non-zero length".into());
        }
        let Column::I64(times) = cols[0] else {
            return bad("column 0 must be the i64 time column".into());
        };
        if times.windows(2).any(|w| w[0] >= w[1]) {
            return bad("time column is not strictly increasing".into());
        }
        if let Some(prev) = self.series.last() {
            if prev.labels >= *labels {
                return bad(format!(
                    "added after {} (series must be added in label order)",
                    prev.labels
                ));
            }
        }
        let splits = block_splits(n, BLOCK_ROWS);
        let encoded: Vec<codec::EncodedColumn> = cols
            .iter()
            .map(|c| match c {
                Column::I64(v) => codec::encode_i64(v, &splits),
                Column::F64(v) => codec::encode_f64(v, &splits),
            })
            .collect::<Result<_, _>>()
            .map_err(|e| {
                Error::InvalidArgument(format!("segment series {labels}: cannot encode: {e}"))
            })?;

        let mut meta = Vec::with_capacity(encoded.iter().map(|e| e.meta.len()).sum());
        let mut meta_lens = Vec::with_capacity(encoded.len());
        for e in &encoded {
            meta_lens.push(len_u32(e.meta.len())?);
            meta.extend_from_slice(&e.meta);
        }
        let meta_crc = crc32fast::hash(&meta);

        let mut blocks = Vec::with_capacity(splits.len());
        let mut row = 0;
        for (b, &rows) in splits.iter().enumerate() {
            let offset = self.pos;
            let mut crc = crc32fast::Hasher::new();
            let mut page_lens = Vec::with_capacity(encoded.len());
            for e in &encoded {
                let page = &e.pages[b];
                crc.update(page);
                page_lens.push(len_u32(page.len())?);
                self.write(page)?;
            }
            blocks.push(BlockRef {
                offset,
                rows: rows as u32,
                min_t: times[row],
                max_t: times[row + rows - 1],
                page_lens,
                crc: crc.finalize(),
            });
            row += rows;
        }
        self.rows += n as u64;
        self.min_t = self.min_t.min(times[0]);
        self.max_t = self.max_t.max(times[n - 1]);
        self.series.push(PendingSeries {
            labels: labels.clone(),
            kind,
            meta,
            meta_lens,
            meta_crc,
            blocks,
        });
        Ok(())
    }

    /// Writes the index sections and footer, syncs, and renames the file into
    /// place. Returns what the manifest records about it.
    pub fn finish(mut self) -> Result<SegmentInfo> {
        let mut section_offsets = [0u64; 5];
        let mut section_crcs = [0u32; 5];
        let sections = self.build_sections()?;
        for (s, bytes) in SECTIONS.iter().zip(&sections) {
            section_offsets[*s as usize] = self.pos;
            section_crcs[*s as usize] = crc32fast::hash(bytes);
            self.write(bytes)?;
        }
        let (min_t, max_t) = if self.rows == 0 {
            (0, 0)
        } else {
            (self.min_t, self.max_t)
        };
        let footer = Footer {
            section_offsets,
            n_series: len_u32(self.series.len())?,
            rows: self.rows,
            min_t,
            max_t,
            resolution_s: self.resolution_s,
            columns: self.columns.clone(),
            flags: 0,
            section_crcs,
        };
        self.write(&footer.encode())?;
        let out = self.out.take().ok_or(Error::Closed)?;
        let file = out
            .into_inner()
            .map_err(|e| Error::io("flush segment", &self.tmp_path, e.into_error()))?;
        file.sync_all().ctx("sync segment", &self.tmp_path)?;
        drop(file);
        std::fs::rename(&self.tmp_path, &self.path).ctx("rename segment into place", &self.path)?;
        if let Some(dir) = self.path.parent() {
            crate::fsutil::sync_dir(dir)?;
        }
        Ok(SegmentInfo {
            file_name: self
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            resolution_s: self.resolution_s,
            min_t,
            max_t,
            series: self.series.len() as u64,
            rows: self.rows,
            bytes: self.pos,
            sha256: std::mem::take(&mut self.hasher).finalize().into(),
        })
    }

    /// Symbols, series entries, series offsets, postings, postings index.
    fn build_sections(&self) -> Result<[Vec<u8>; 5]> {
        let mut symset: BTreeSet<&str> = BTreeSet::new();
        for s in &self.series {
            for l in s.labels.iter() {
                symset.insert(&l.name);
                symset.insert(&l.value);
            }
        }
        let symbols: Vec<&str> = symset.into_iter().collect();
        let sym_id: HashMap<&str, u64> = symbols
            .iter()
            .enumerate()
            .map(|(i, s)| (*s, i as u64))
            .collect();
        let sym = |s: &str| sym_id.get(s).copied().unwrap_or_default();

        let mut sym_bytes = Vec::new();
        put_uvarint(&mut sym_bytes, symbols.len() as u64);
        for s in &symbols {
            put_bytes(&mut sym_bytes, s.as_bytes());
        }

        let mut entries = Vec::new();
        let mut postings: BTreeMap<(u64, u64), RoaringBitmap> = BTreeMap::new();
        // The data region holds the series' blocks back to back in entry
        // order, so no offset is stored; readers add lengths up.
        let mut data_at = format::HEADER_LEN as u64;
        for (ord, s) in self.series.iter().enumerate() {
            put_uvarint(&mut entries, s.labels.len() as u64);
            for l in s.labels.iter() {
                let (n, v) = (sym(&l.name), sym(&l.value));
                put_uvarint(&mut entries, n);
                put_uvarint(&mut entries, v);
                postings.entry((n, v)).or_default().insert(ord as u32);
            }
            entries.push(s.kind as u8);
            for &l in &s.meta_lens {
                put_uvarint(&mut entries, u64::from(l));
            }
            put_u32(&mut entries, s.meta_crc);
            entries.extend_from_slice(&s.meta);
            put_uvarint(&mut entries, s.blocks.len() as u64);
            for b in &s.blocks {
                debug_assert_eq!(b.offset, data_at, "blocks are written in entry order");
                data_at = b.offset + b.page_lens.iter().map(|&l| u64::from(l)).sum::<u64>();
                put_uvarint(&mut entries, u64::from(b.rows));
                put_varint(&mut entries, b.min_t);
                put_uvarint(&mut entries, b.max_t.abs_diff(b.min_t));
                for &l in &b.page_lens {
                    put_uvarint(&mut entries, u64::from(l));
                }
                put_u32(&mut entries, b.crc);
            }
        }

        let mut blobs = Vec::new();
        let mut pindex = Vec::new();
        let mut by_name: BTreeMap<u64, Vec<(u64, u64, u64)>> = BTreeMap::new();
        for ((n, v), bitmap) in &postings {
            let off = blobs.len() as u64;
            // Serialising into a Vec cannot fail.
            let _ = bitmap.serialize_into(&mut blobs);
            by_name
                .entry(*n)
                .or_default()
                .push((*v, off, blobs.len() as u64 - off));
        }
        put_uvarint(&mut pindex, by_name.len() as u64);
        for (n, values) in &by_name {
            put_uvarint(&mut pindex, *n);
            put_uvarint(&mut pindex, values.len() as u64);
            for (v, off, len) in values {
                put_uvarint(&mut pindex, *v);
                put_uvarint(&mut pindex, *off);
                put_uvarint(&mut pindex, *len);
            }
        }
        debug_assert_eq!(
            SECTIONS[Section::PostingsIndex as usize],
            Section::PostingsIndex
        );
        // The entries (with the chunk metadata, version 3) and the postings
        // (version 3) are one zstd frame each: neighbouring entries repeat
        // label symbols, lengths, times and codec parameters, and postings
        // of a few hundred series are mostly small sorted arrays. The
        // series offset table stays, empty. Each frame carries its size
        // and a checksum, so damage that the section CRC misses (a bad
        // write under a good CRC) still fails.
        let limit = format::entries_limit(self.series.len() as u64, self.rows);
        if entries.len() as u64 > limit {
            return Err(Error::InvalidArgument(format!(
                "series entries of {} bytes exceed the {limit} a reader accepts for {} series of {} rows",
                entries.len(),
                self.series.len(),
                self.rows
            )));
        }
        let entries = compress_section(&entries, "series entries")?;
        let blobs = compress_section(&blobs, "postings")?;
        Ok([sym_bytes, entries, Vec::new(), blobs, pindex])
    }
}

impl Drop for SegmentWriter {
    /// An unfinished segment leaves no file behind.
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.tmp_path);
    }
}

/// zstd level of the series entries and postings sections: within a few
/// per cent of the maximum on them, about a millisecond per 100 KB.
const SECTION_ZSTD_LEVEL: i32 = 9;

/// One zstd frame with its content size and a content checksum.
fn compress_section(bytes: &[u8], what: &str) -> Result<Vec<u8>> {
    (|| {
        let mut z = zstd::bulk::Compressor::new(SECTION_ZSTD_LEVEL)?;
        z.set_parameter(zstd::zstd_safe::CParameter::ChecksumFlag(true))?;
        z.compress(bytes)
    })()
    .map_err(|e| Error::InvalidArgument(format!("cannot compress the {what}: {e}")))
}

fn len_u32(n: usize) -> Result<u32> {
    u32::try_from(n)
        .map_err(|_| Error::InvalidArgument(format!("segment piece of {n} bytes exceeds 4 GiB")))
}
