//! The WAL's view of storage: a small trait so tests can swap in an in-memory
//! store with injected faults and rebuild the image a crash would leave
//! ([`super::mem::MemStorage`]). [`FsStorage`] is the real thing.
//!
//! Methods return plain `io::Result`; the WAL adds path and operation.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// An open WAL file, append-only. Shared between the writer (which appends
/// under its lock) and a group-commit leader (which syncs without it).
pub trait WalFile: Send + Sync {
    /// Appends a prefix of `buf` and returns its length; may be short.
    fn write(&self, buf: &[u8]) -> io::Result<usize>;
    /// Makes every byte written so far durable (fdatasync).
    fn sync_data(&self) -> io::Result<()>;
}

pub trait WalStorage: Send + Sync {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;
    /// Names of the regular files directly in `dir`.
    fn list(&self, dir: &Path) -> io::Result<Vec<String>>;
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// Creates a file that must not exist yet, open for appending.
    fn create_new(&self, path: &Path) -> io::Result<Arc<dyn WalFile>>;
    /// Cuts `path` to `len` bytes, durably.
    fn truncate(&self, path: &Path, len: u64) -> io::Result<()>;
    fn remove(&self, path: &Path) -> io::Result<()>;
    /// Copies `from` to `to`, replacing `to`.
    fn copy(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Makes creations and removals in `dir` durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
}

/// Writes all of `buf`, retrying short writes and interrupts.
pub fn write_all(file: &dyn WalFile, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        match file.write(buf) {
            Ok(0) => return Err(io::Error::new(io::ErrorKind::WriteZero, "wrote 0 bytes")),
            Ok(n) => buf = buf.get(n..).unwrap_or_default(),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The local filesystem.
#[derive(Clone, Copy, Debug, Default)]
pub struct FsStorage;

struct FsFile(File);

impl WalFile for FsFile {
    fn write(&self, buf: &[u8]) -> io::Result<usize> {
        (&self.0).write(buf)
    }

    fn sync_data(&self) -> io::Result<()> {
        self.0.sync_data()
    }
}

impl WalStorage for FsStorage {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        std::fs::create_dir_all(dir)
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                if let Ok(name) = entry.file_name().into_string() {
                    names.push(name);
                }
            }
        }
        Ok(names)
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        std::fs::read(path)
    }

    fn create_new(&self, path: &Path) -> io::Result<Arc<dyn WalFile>> {
        let f = OpenOptions::new()
            .append(true)
            .create_new(true)
            .open(path)?;
        Ok(Arc::new(FsFile(f)))
    }

    fn truncate(&self, path: &Path, len: u64) -> io::Result<()> {
        let f = OpenOptions::new().write(true).open(path)?;
        f.set_len(len)?;
        f.sync_all()
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }

    fn copy(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::copy(from, to).map(|_| ())
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        #[cfg(unix)]
        {
            File::open(dir)?.sync_all()
        }
        #[cfg(not(unix))]
        {
            let _ = dir;
            Ok(())
        }
    }
}

/// `<dir>/<seq:08>.wal`
pub fn file_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("{seq:08}.wal"))
}

/// The seq of a WAL file name (`00000042.wal` → 42); `None` for other files
/// and for names [`file_path`] would not produce (`000000042.wal`), so two
/// names never map to one seq.
pub fn parse_file_name(name: &str) -> Option<u64> {
    let stem = name.strip_suffix(".wal")?;
    if !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let seq: u64 = stem.parse().ok()?;
    (format!("{seq:08}") == stem).then_some(seq)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        let p = file_path(Path::new("/w"), 42);
        assert_eq!(p, Path::new("/w/00000042.wal"));
        assert_eq!(parse_file_name("00000042.wal"), Some(42));
        assert_eq!(parse_file_name("123456789.wal"), Some(123_456_789));
        assert_eq!(parse_file_name("42.wal"), None);
        assert_eq!(parse_file_name("000000042.wal"), None);
        assert_eq!(parse_file_name("+0000042.wal"), None);
        assert_eq!(parse_file_name("0000004x.wal"), None);
        assert_eq!(parse_file_name("00000042.tmp"), None);
    }

    #[test]
    fn fs_storage_appends_and_truncates() {
        let dir = tempfile::tempdir().unwrap();
        let s = FsStorage;
        let p = dir.path().join("a");
        let f = s.create_new(&p).unwrap();
        write_all(&*f, b"hello ").unwrap();
        write_all(&*f, b"world").unwrap();
        f.sync_data().unwrap();
        assert!(s.create_new(&p).is_err(), "create_new must not clobber");
        assert_eq!(s.read(&p).unwrap(), b"hello world");
        s.truncate(&p, 5).unwrap();
        assert_eq!(s.read(&p).unwrap(), b"hello");
        assert_eq!(s.list(dir.path()).unwrap(), vec!["a".to_string()]);
        s.sync_dir(dir.path()).unwrap();
        s.remove(&p).unwrap();
        assert!(s.list(dir.path()).unwrap().is_empty());
    }
}
