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
    let files: Vec<_> = state.files.values().collect();
    let total: u64 = files.iter().map(|f| f.info.bytes).sum();
    // Files are checked on every core (SHA-256 is the cost: one core does
    // about 1.5 GB/s with the SHA extensions); results are reported in
    // manifest order whatever order they finish in.
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8)
        .min(2 * files.len().max(1));
    // Two tasks per file, its SHA-256 and its own CRCs, so that one large
    // file still keeps two cores busy.
    let next = std::sync::atomic::AtomicUsize::new(0);
    let (tx, rx) = std::sync::mpsc::channel::<(usize, FileCheck)>();
    let mut checks: Vec<Option<FileCheck>> = (0..files.len()).map(|_| None).collect();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let tx = tx.clone();
            let (files, next, seg_root) = (&files, &next, &seg_root);
            scope.spawn(move || loop {
                let task = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(f) = files.get(task / 2) else { break };
                let path = seg_root.join(&f.path);
                let c = if task % 2 == 0 {
                    check_hash(&path, f.info.bytes, &f.info.sha256)
                } else {
                    check_structure(&path, opts)
                };
                if tx.send((task / 2, c)).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        let mut done = 0u64;
        for (i, c) in rx {
            match &mut checks[i] {
                Some(first) => {
                    // both halves in: the file is done
                    first.bytes = first.bytes.max(c.bytes);
                    first.problems.extend(c.problems);
                    done += files[i].info.bytes;
                    progress(done, total);
                }
                slot => *slot = Some(c),
            }
        }
    });
    for c in checks.into_iter().flatten() {
        r.files_checked += 1;
        r.bytes_checked += c.bytes;
        r.problems.extend(c.problems);
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

/// What checking one live file found.
struct FileCheck {
    bytes: u64,
    problems: Vec<Problem>,
}

/// Presence, size and SHA-256 against the manifest.
fn check_hash(path: &Path, bytes: u64, sha256: &[u8; 32]) -> FileCheck {
    let mut c = FileCheck {
        bytes: 0,
        problems: Vec::new(),
    };
    let Ok(meta) = std::fs::metadata(path) else {
        c.problems.push(problem(
            path,
            None,
            "file listed in the manifest is missing".into(),
        ));
        return c;
    };
    if meta.len() != bytes {
        c.problems.push(problem(
            path,
            None,
            format!("size {} != {bytes} recorded in the manifest", meta.len()),
        ));
    }
    match sha256_file(path) {
        Ok(h) if h != *sha256 => c.problems.push(problem(
            path,
            None,
            format!(
                "SHA-256 {} != {} recorded in the manifest",
                hex(&h),
                hex(sha256)
            ),
        )),
        Ok(_) => {}
        Err(e) => c.problems.push(from_error(path, e)),
    }
    c.bytes = meta.len();
    c
}

/// The file's own footer, index and block CRCs (and decoding, with
/// `opts.decode`); nothing for a missing file (its hash check says so).
fn check_structure(path: &Path, opts: VerifyOptions) -> FileCheck {
    let mut c = FileCheck {
        bytes: 0,
        problems: Vec::new(),
    };
    if !path.exists() {
        return c;
    }
    match Segment::open(path) {
        Ok(seg) => {
            for d in seg.verify(opts.decode) {
                c.problems.push(problem(path, Some(d.offset), d.rule));
            }
        }
        Err(e) => c.problems.push(from_error(path, e)),
    }
    c
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
