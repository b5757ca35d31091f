//! Offline verification of a data directory (`nines verify`): the manifest's
//! record CRCs and hash chain, every live file's presence, size, SHA-256 and
//! CRCs, and the WAL's record CRCs. It only reads, takes no lock, and so also
//! runs beside a live server (a file replaced by a concurrent compaction may
//! then be reported missing; run it again).

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::chainlog::{hex, ChainLog};
use crate::engine::{SEGMENTS_DIR, WAL_DIR};
use crate::error::{Error, IoContext, Result};
use crate::manifest::{self, decode_edit, ManifestState};
use crate::segment::Segment;

/// One problem found: the file, where in it, and the check that failed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub path: PathBuf,
    pub offset: Option<u64>,
    pub rule: String,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct VerifyReport {
    pub files_checked: u64,
    pub bytes_checked: u64,
    pub manifest_records: u64,
    /// SHA-256 of the newest manifest record, hex.
    pub manifest_head: String,
    /// Damage: `nines verify` exits 1 when this is not empty.
    pub problems: Vec<Problem>,
    /// Findings that are not damage (a torn final record from a crash, a
    /// file no record lists): reported, not failed on.
    pub notes: Vec<Problem>,
}

impl VerifyReport {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

#[derive(Clone, Copy, Debug)]
pub struct VerifyOptions {
    /// Also decode every block (slower; CRCs already cover the bytes).
    pub decode: bool,
}

/// Verifies `dir`; `progress(bytes_done, bytes_total)` is called as files are
/// checked.
pub fn verify_dir(
    dir: &Path,
    opts: VerifyOptions,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<VerifyReport> {
    if !dir.join(manifest::FILE_NAME).exists() {
        return Err(Error::InvalidArgument(format!(
            "{} has no {} file: not a nines data directory",
            dir.display(),
            manifest::FILE_NAME
        )));
    }
    let mut r = VerifyReport::default();
    let mpath = dir.join(manifest::FILE_NAME);
    let mut state = ManifestState::default();
    match ChainLog::verify(&mpath, manifest::MAGIC) {
        Ok((entries, log)) => {
            r.manifest_records = log.records;
            r.manifest_head = hex(&log.head);
            for (offset, rule) in log.damaged {
                r.problems.push(problem(&mpath, Some(offset), rule));
            }
            if let Some((offset, rule)) = log.broken_link {
                r.problems.push(problem(
                    &mpath,
                    Some(offset),
                    format!("hash chain broken: {rule}"),
                ));
            }
            if let Some(at) = log.torn_tail_at {
                r.notes.push(problem(
                    &mpath,
                    Some(at),
                    "torn final record (an interrupted commit; discarded at next open)".into(),
                ));
            }
            for e in &entries {
                match decode_edit(&mpath, e) {
                    Ok(edit) => state.apply(&edit),
                    Err(err) => r.problems.push(from_error(&mpath, err)),
                }
            }
        }
        Err(e) => r.problems.push(from_error(&mpath, e)),
    }
    r.files_checked += 1;

    let seg_root = dir.join(SEGMENTS_DIR);
    let total: u64 = state.files.values().map(|f| f.info.bytes).sum();
    let mut done = 0u64;
    for f in state.files.values() {
        let path = seg_root.join(&f.path);
        r.files_checked += 1;
        let Ok(meta) = std::fs::metadata(&path) else {
            r.problems.push(problem(
                &path,
                None,
                "file listed in the manifest is missing".into(),
            ));
            continue;
        };
        if meta.len() != f.info.bytes {
            r.problems.push(problem(
                &path,
                None,
                format!(
                    "size {} != {} recorded in the manifest",
                    meta.len(),
                    f.info.bytes
                ),
            ));
        }
        match sha256_file(&path) {
            Ok(h) if h != f.info.sha256 => r.problems.push(problem(
                &path,
                None,
                format!(
                    "SHA-256 {} != {} recorded in the manifest",
                    hex(&h),
                    hex(&f.info.sha256)
                ),
            )),
            Ok(_) => {}
            Err(e) => r.problems.push(from_error(&path, e)),
        }
        match Segment::open(&path) {
            Ok(seg) => {
                for d in seg.verify(opts.decode) {
                    r.problems.push(problem(&path, Some(d.offset), d.rule));
                }
            }
            Err(e) => r.problems.push(from_error(&path, e)),
        }
        r.bytes_checked += meta.len();
        done += f.info.bytes;
        progress(done, total);
    }

    let live: BTreeSet<PathBuf> = state
        .files
        .values()
        .map(|f| seg_root.join(&f.path))
        .collect();
    for p in list_files(&seg_root) {
        if !live.contains(&p) {
            r.notes.push(problem(&p, None, "not listed in the manifest (left by an interrupted flush or compaction; removed at next open)".into()));
        }
    }

    let wal_files = list_files(&dir.join(WAL_DIR));
    for (i, p) in wal_files.iter().enumerate() {
        let p = p.as_path();
        let newest = i + 1 == wal_files.len();
        r.files_checked += 1;
        r.bytes_checked += std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        match crate::wal::verify_file(p) {
            Ok(check) => {
                for (offset, rule) in check.damaged {
                    r.problems.push(problem(p, Some(offset), rule));
                }
                match check.torn_tail_at {
                    Some(at) if newest => r.notes.push(problem(
                        p,
                        Some(at),
                        "torn final record (an interrupted write; truncated at next open)".into(),
                    )),
                    Some(at) => r.problems.push(problem(
                        p,
                        Some(at),
                        "records end early in a closed WAL file".into(),
                    )),
                    None => {}
                }
            }
            Err(e) => r.problems.push(from_error(p, e)),
        }
    }
    Ok(r)
}

fn list_files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(root) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(list_files(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

fn problem(path: &Path, offset: Option<u64>, rule: String) -> Problem {
    Problem {
        path: path.to_path_buf(),
        offset,
        rule,
    }
}

fn from_error(path: &Path, e: Error) -> Problem {
    match e {
        Error::Corrupted { path, offset, rule } => problem(&path, Some(offset), rule),
        other => problem(path, None, other.to_string()),
    }
}

pub fn sha256_file(path: &Path) -> Result<[u8; 32]> {
    let mut f = std::fs::File::open(path).ctx("open", path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).ctx("read", path)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().into())
}
