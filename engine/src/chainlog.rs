//! An append-only log of records, each framed with a length and a CRC and
//! chained to the previous one by SHA-256, so that changing, dropping or
//! reordering any record but the newest breaks a link that `verify` reports.
//! The manifest uses it; so will the metadata and audit logs.
//!
//! ```text
//! file:   [magic 8][version u16][reserved 6] record*
//! record: [len u32][crc32 u32][seq u64][prev_hash 32][body len-48]
//!          crc covers seq..body; hash(record) = SHA-256(seq || prev_hash || body)
//! ```
//! The first record's `prev_hash` is all zeros and its `seq` is 1.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{Error, IoContext, Result};

pub const VERSION: u16 = 1;
const HEADER_LEN: usize = 16;
const FRAME_LEN: usize = 8;
const SEQ_LEN: usize = 8;
const HASH_LEN: usize = 32;
const PREFIX_LEN: usize = SEQ_LEN + HASH_LEN;
/// A record body larger than this is refused (and a length field claiming
/// more is corruption): the logs hold metadata, not data.
pub const MAX_BODY: usize = 64 << 20;

pub type Hash = [u8; 32];

/// One record as read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub seq: u64,
    pub offset: u64,
    pub prev_hash: Hash,
    pub hash: Hash,
    pub body: Vec<u8>,
}

/// What opening or verifying a log found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogReport {
    pub records: u64,
    /// A torn final record that was (or would be) truncated: its offset.
    pub torn_tail_at: Option<u64>,
    /// Damaged records elsewhere: offset and the rule that broke.
    pub damaged: Vec<(u64, String)>,
    /// The first record whose `prev_hash` does not match its predecessor.
    pub broken_link: Option<(u64, String)>,
    /// Hash of the newest record (all zeros for an empty log).
    pub head: Hash,
}

fn entry_hash(seq: u64, prev: &Hash, body: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update(seq.to_le_bytes());
    h.update(prev);
    h.update(body);
    h.finalize().into()
}

/// An open log, positioned for appending.
#[derive(Debug)]
pub struct ChainLog {
    path: PathBuf,
    file: File,
    next_seq: u64,
    head: Hash,
    len: u64,
}

/// Reads every record; stops at a torn tail. Never panics on any bytes.
fn scan(path: &Path, magic: &[u8; 8], bytes: &[u8]) -> Result<(Vec<Entry>, LogReport)> {
    let mut report = LogReport::default();
    if bytes.len() < HEADER_LEN || &bytes[..8] != magic {
        return Err(Error::corrupted(
            path,
            0,
            format!("header is not {}", String::from_utf8_lossy(magic)),
        ));
    }
    let version = u16::from_le_bytes([bytes[8], bytes[9]]);
    if version != VERSION {
        return Err(Error::UnknownVersion {
            path: path.to_path_buf(),
            found: u32::from(version),
            supported: u32::from(VERSION),
        });
    }
    let mut entries: Vec<Entry> = Vec::new();
    let mut pos = HEADER_LEN;
    let mut prev: Hash = [0; 32];
    while pos < bytes.len() {
        let frame = read_frame(bytes, pos);
        let (len, body_ok) = match frame {
            Frame::Torn => {
                // A length that runs past the end: a torn final record, unless
                // whole records follow (a damaged length field mid-log).
                if let Some(q) = next_good_frame(bytes, pos + 1) {
                    report.damaged.push((
                        pos as u64,
                        format!("record frame unreadable (damaged length field); the next whole record is at offset {q}"),
                    ));
                    pos = q;
                    continue;
                }
                report.torn_tail_at = Some(pos as u64);
                break;
            }
            Frame::Bad { len, rule } => {
                // A record whose CRC fails but is followed by good records is
                // damage in the middle. At the very end it may be a write torn
                // by a power loss, whose unwritten blocks read back as zeros;
                // a whole record without that zero tail is damage too, so a
                // changed newest record is not mistaken for a crash.
                let next = pos + FRAME_LEN + len;
                let last =
                    next >= bytes.len() || !matches!(read_frame(bytes, next), Frame::Good { .. });
                if last && zero_tail(&bytes[pos + FRAME_LEN..next]) {
                    report.torn_tail_at = Some(pos as u64);
                    break;
                }
                report.damaged.push((pos as u64, rule));
                if last {
                    break;
                }
                (len, false)
            }
            Frame::Good { len } => (len, true),
        };
        if body_ok {
            let rec = &bytes[pos + FRAME_LEN..pos + FRAME_LEN + len];
            let seq = u64::from_le_bytes(rec[..8].try_into().unwrap_or_default());
            let mut prev_hash = [0u8; 32];
            prev_hash.copy_from_slice(&rec[SEQ_LEN..PREFIX_LEN]);
            let body = rec[PREFIX_LEN..].to_vec();
            let expect_seq = entries.last().map_or(1, |e| e.seq + 1);
            if report.broken_link.is_none() && report.damaged.is_empty() {
                if prev_hash != prev {
                    report.broken_link = Some((
                        pos as u64,
                        format!(
                            "record {seq} links to {} but the previous record hashes to {}",
                            hex(&prev_hash),
                            hex(&prev)
                        ),
                    ));
                } else if seq != expect_seq {
                    report.broken_link = Some((
                        pos as u64,
                        format!("record {seq} follows record {}", expect_seq - 1),
                    ));
                }
            }
            let hash = entry_hash(seq, &prev_hash, &body);
            prev = hash;
            entries.push(Entry {
                seq,
                offset: pos as u64,
                prev_hash,
                hash,
                body,
            });
        }
        pos += FRAME_LEN + len;
    }
    report.records = entries.len() as u64;
    report.head = entries.last().map_or([0; 32], |e| e.hash);
    Ok((entries, report))
}

/// The first offset at or after `from` holding a whole record with a good
/// CRC. Metadata logs are small, and most offsets fail on their length.
fn next_good_frame(bytes: &[u8], from: usize) -> Option<usize> {
    (from..bytes.len().saturating_sub(FRAME_LEN))
        .find(|&q| matches!(read_frame(bytes, q), Frame::Good { .. }))
}

/// Whether a record ends in zeros, as one whose last blocks never reached
/// the disk does (no record written whole ends so: every log's bodies are
/// JSON).
fn zero_tail(rec: &[u8]) -> bool {
    rec.len() >= 8 && rec[rec.len() - 8..].iter().all(|&b| b == 0)
}

enum Frame {
    Good { len: usize },
    Bad { len: usize, rule: String },
    Torn,
}

fn read_frame(bytes: &[u8], pos: usize) -> Frame {
    if bytes.len() - pos < FRAME_LEN {
        return Frame::Torn;
    }
    let len =
        u32::from_le_bytes([bytes[pos], bytes[pos + 1], bytes[pos + 2], bytes[pos + 3]]) as usize;
    let stored = u32::from_le_bytes([
        bytes[pos + 4],
        bytes[pos + 5],
        bytes[pos + 6],
        bytes[pos + 7],
    ]);
    if !(PREFIX_LEN..=PREFIX_LEN + MAX_BODY).contains(&len) || bytes.len() - pos - FRAME_LEN < len {
        return Frame::Torn;
    }
    let computed = crc32fast::hash(&bytes[pos + FRAME_LEN..pos + FRAME_LEN + len]);
    if computed != stored {
        return Frame::Bad {
            len,
            rule: format!("record crc {stored:#010x} != computed {computed:#010x}"),
        };
    }
    Frame::Good { len }
}

pub fn hex(h: &[u8]) -> String {
    h.iter().map(|b| format!("{b:02x}")).collect()
}

impl ChainLog {
    /// Opens (creating) the log, truncating a torn final record, and returns
    /// every readable record in order with what was found.
    pub fn open(path: &Path, magic: &[u8; 8]) -> Result<(ChainLog, Vec<Entry>, LogReport)> {
        let exists = path.exists();
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .ctx("open log", path)?;
        if !exists || file.metadata().ctx("stat log", path)?.len() == 0 {
            let mut h = [0u8; HEADER_LEN];
            h[..8].copy_from_slice(magic);
            h[8..10].copy_from_slice(&VERSION.to_le_bytes());
            file.write_all(&h).ctx("write log header", path)?;
            file.sync_all().ctx("sync log", path)?;
            if let Some(dir) = path.parent() {
                crate::fsutil::sync_dir(dir)?;
            }
        }
        let mut bytes = Vec::new();
        file.seek(SeekFrom::Start(0)).ctx("seek log", path)?;
        file.read_to_end(&mut bytes).ctx("read log", path)?;
        let (entries, report) = scan(path, magic, &bytes)?;
        let mut len = bytes.len() as u64;
        if let Some(at) = report.torn_tail_at {
            tracing::warn!(path = %path.display(), offset = at, "truncating torn final record of log");
            file.set_len(at).ctx("truncate torn log tail", path)?;
            file.sync_all().ctx("sync log", path)?;
            len = at;
        }
        file.seek(SeekFrom::Start(len)).ctx("seek log", path)?;
        let log = ChainLog {
            path: path.to_path_buf(),
            file,
            next_seq: entries.last().map_or(1, |e| e.seq + 1),
            head: report.head,
            len,
        };
        Ok((log, entries, report))
    }

    /// Reads and checks a log without changing it.
    pub fn verify(path: &Path, magic: &[u8; 8]) -> Result<(Vec<Entry>, LogReport)> {
        let bytes = std::fs::read(path).ctx("read log", path)?;
        scan(path, magic, &bytes)
    }

    /// Appends one record and syncs it. Returns the record's hash.
    pub fn append(&mut self, body: &[u8]) -> Result<Entry> {
        if body.len() > MAX_BODY {
            return Err(Error::InvalidArgument(format!(
                "log record of {} bytes exceeds {MAX_BODY}",
                body.len()
            )));
        }
        let seq = self.next_seq;
        let mut rec = Vec::with_capacity(FRAME_LEN + PREFIX_LEN + body.len());
        rec.extend_from_slice(&((PREFIX_LEN + body.len()) as u32).to_le_bytes());
        rec.extend_from_slice(&[0; 4]);
        rec.extend_from_slice(&seq.to_le_bytes());
        rec.extend_from_slice(&self.head);
        rec.extend_from_slice(body);
        let crc = crc32fast::hash(&rec[FRAME_LEN..]);
        rec[4..8].copy_from_slice(&crc.to_le_bytes());
        let offset = self.len;
        if let Err(e) = self
            .file
            .write_all(&rec)
            .and_then(|_| self.file.sync_data())
        {
            // Leave no partial record behind for the next append to follow.
            let _ = self.file.set_len(offset);
            let _ = self.file.seek(SeekFrom::Start(offset));
            return Err(Error::io("append to log", &self.path, e));
        }
        let prev_hash = self.head;
        let hash = entry_hash(seq, &prev_hash, body);
        self.head = hash;
        self.next_seq += 1;
        self.len += rec.len() as u64;
        Ok(Entry {
            seq,
            offset,
            prev_hash,
            hash,
            body: body.to_vec(),
        })
    }

    pub fn head(&self) -> Hash {
        self.head
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAGIC: &[u8; 8] = b"NINESTST";

    fn fill(path: &Path, n: usize) -> Vec<Entry> {
        let (mut log, _, _) = ChainLog::open(path, MAGIC).unwrap();
        (0..n)
            .map(|i| log.append(format!("record {i}").as_bytes()).unwrap())
            .collect()
    }

    #[test]
    fn reopen_returns_every_record_and_chains() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("log");
        let written = fill(&p, 5);
        let (mut log, entries, report) = ChainLog::open(&p, MAGIC).unwrap();
        assert_eq!(entries, written);
        assert_eq!(report.head, written[4].hash);
        assert!(report.broken_link.is_none() && report.damaged.is_empty());
        let e = log.append(b"more").unwrap();
        assert_eq!((e.seq, e.prev_hash), (6, written[4].hash));
    }

    #[test]
    fn torn_tail_is_truncated_at_every_cut() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("log");
        let written = fill(&p, 3);
        let full = std::fs::read(&p).unwrap();
        let last = written[2].offset as usize;
        for cut in last + 1..full.len() {
            std::fs::write(&p, &full[..cut]).unwrap();
            let (_, entries, report) = ChainLog::open(&p, MAGIC).unwrap();
            assert_eq!(entries.len(), 2, "cut {cut}");
            assert_eq!(report.torn_tail_at, Some(last as u64));
            assert_eq!(std::fs::metadata(&p).unwrap().len(), last as u64);
        }
    }

    #[test]
    fn damage_in_the_middle_is_reported_not_truncated() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("log");
        let written = fill(&p, 3);
        let mut bytes = std::fs::read(&p).unwrap();
        bytes[written[1].offset as usize + 20] ^= 1;
        std::fs::write(&p, &bytes).unwrap();
        let (entries, report) = ChainLog::verify(&p, MAGIC).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(report.damaged.len(), 1);
        assert_eq!(report.damaged[0].0, written[1].offset);
        assert!(report.torn_tail_at.is_none());
    }

    #[test]
    fn rewritten_record_with_fixed_crc_breaks_the_chain() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("log");
        let written = fill(&p, 3);
        let mut bytes = std::fs::read(&p).unwrap();
        // Change record 2's body and recompute its CRC, as a forger would.
        let off = written[1].offset as usize;
        let len = u32::from_le_bytes(bytes[off..off + 4].try_into().unwrap()) as usize;
        bytes[off + FRAME_LEN + PREFIX_LEN] = b'X';
        let crc = crc32fast::hash(&bytes[off + FRAME_LEN..off + FRAME_LEN + len]);
        bytes[off + 4..off + 8].copy_from_slice(&crc.to_le_bytes());
        std::fs::write(&p, &bytes).unwrap();
        let (_, report) = ChainLog::verify(&p, MAGIC).unwrap();
        let (at, rule) = report.broken_link.unwrap();
        assert_eq!(at, written[2].offset);
        assert!(rule.contains("record 3 links to"), "{rule}");
    }

    #[test]
    fn wrong_magic_and_version_are_typed_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("log");
        fill(&p, 1);
        assert!(matches!(
            ChainLog::verify(&p, b"NINESXXX"),
            Err(Error::Corrupted { .. })
        ));
        let mut b = std::fs::read(&p).unwrap();
        b[8] = 9;
        std::fs::write(&p, &b).unwrap();
        assert!(matches!(
            ChainLog::verify(&p, MAGIC),
            Err(Error::UnknownVersion { found: 9, .. })
        ));
    }
}
