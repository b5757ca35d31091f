//! In-memory [`WalStorage`] for tests: models the page cache (written bytes)
//! apart from the disk (synced bytes), so [`MemStorage::crash_image`] rebuilds
//! exactly what a power loss would leave, and injects faults: failing writes
//! after a byte budget, short writes, failing syncs.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::{Condvar, Mutex};

use super::file::{WalFile, WalStorage};

#[derive(Default)]
struct MemFile {
    data: Vec<u8>,
    /// Files are append-only, so the durable content is a prefix.
    durable: usize,
}

#[derive(Default)]
struct State {
    files: BTreeMap<PathBuf, MemFile>,
    /// Bytes that writes may still take before failing; `None` = unlimited.
    write_budget: Option<u64>,
    /// Largest prefix one write call takes (short writes).
    max_write: Option<usize>,
    fail_syncs: bool,
    syncs: u64,
}

/// Holds file syncs while closed, so a test can line writers up behind a
/// sync in flight without timing.
#[derive(Default)]
struct Gate {
    state: Mutex<GateState>,
    cv: Condvar,
}

#[derive(Default)]
struct GateState {
    closed: bool,
    waiting: usize,
}

/// Shared handle: clones see the same files.
#[derive(Clone, Default)]
pub struct MemStorage {
    state: Arc<Mutex<State>>,
    gate: Arc<Gate>,
}

fn injected(what: &str) -> io::Error {
    io::Error::other(format!("injected {what} failure"))
}

fn not_found(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("{} not found", path.display()),
    )
}

impl MemStorage {
    pub fn new() -> MemStorage {
        MemStorage::default()
    }

    /// Writes fail once `bytes` more bytes have been taken (the write that
    /// crosses the budget is short, the next one fails).
    pub fn fail_writes_after(&self, bytes: u64) {
        self.state.lock().write_budget = Some(bytes);
    }

    /// Every write call takes at most `n` bytes.
    pub fn short_writes(&self, n: usize) {
        self.state.lock().max_write = Some(n.max(1));
    }

    pub fn fail_syncs(&self, fail: bool) {
        self.state.lock().fail_syncs = fail;
    }

    /// Clears every injected fault (not the sync gate).
    pub fn clear_faults(&self) {
        let mut st = self.state.lock();
        st.write_budget = None;
        st.max_write = None;
        st.fail_syncs = false;
    }

    /// While held, file syncs block (before taking effect) until released.
    pub fn hold_syncs(&self, hold: bool) {
        self.gate.state.lock().closed = hold;
        self.gate.cv.notify_all();
    }

    /// File syncs currently blocked by [`MemStorage::hold_syncs`].
    pub fn held_syncs(&self) -> usize {
        self.gate.state.lock().waiting
    }

    /// Successful file syncs so far.
    pub fn syncs(&self) -> u64 {
        self.state.lock().syncs
    }

    /// What a power loss now would leave: each file cut to its synced prefix.
    /// Faults are not carried over.
    pub fn crash_image(&self) -> MemStorage {
        let st = self.state.lock();
        let files = st
            .files
            .iter()
            .map(|(p, f)| {
                let data = f.data[..f.durable].to_vec();
                let durable = data.len();
                (p.clone(), MemFile { data, durable })
            })
            .collect();
        MemStorage {
            state: Arc::new(Mutex::new(State {
                files,
                ..State::default()
            })),
            gate: Arc::default(),
        }
    }

    pub fn file(&self, path: &Path) -> Option<Vec<u8>> {
        self.state.lock().files.get(path).map(|f| f.data.clone())
    }

    /// Replaces a file's content (durably), e.g. to plant damage.
    pub fn put_file(&self, path: &Path, data: Vec<u8>) {
        let durable = data.len();
        self.state
            .lock()
            .files
            .insert(path.to_path_buf(), MemFile { data, durable });
    }

    pub fn paths(&self) -> Vec<PathBuf> {
        self.state.lock().files.keys().cloned().collect()
    }
}

struct MemHandle {
    storage: MemStorage,
    path: PathBuf,
}

impl WalFile for MemHandle {
    fn write(&self, buf: &[u8]) -> io::Result<usize> {
        let mut guard = self.storage.state.lock();
        let st = &mut *guard;
        let mut n = buf.len();
        if let Some(max) = st.max_write {
            n = n.min(max);
        }
        if let Some(budget) = st.write_budget.as_mut() {
            if *budget == 0 {
                return Err(injected("write"));
            }
            n = n.min(usize::try_from(*budget).unwrap_or(usize::MAX));
            *budget -= n as u64;
        }
        let f = st
            .files
            .get_mut(&self.path)
            .ok_or_else(|| not_found(&self.path))?;
        f.data.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    /// Makes durable what was written before the call, no more: bytes
    /// written while the sync is held may or may not be durable on a real
    /// disk, so the model takes the pessimistic answer.
    fn sync_data(&self) -> io::Result<()> {
        let covered = self
            .storage
            .state
            .lock()
            .files
            .get(&self.path)
            .map(|f| f.data.len())
            .ok_or_else(|| not_found(&self.path))?;
        {
            let gate = &self.storage.gate;
            let mut g = gate.state.lock();
            g.waiting += 1;
            while g.closed {
                gate.cv.wait(&mut g);
            }
            g.waiting -= 1;
        }
        let mut st = self.storage.state.lock();
        if st.fail_syncs {
            return Err(injected("sync"));
        }
        let f = st
            .files
            .get_mut(&self.path)
            .ok_or_else(|| not_found(&self.path))?;
        f.durable = f.durable.max(covered.min(f.data.len()));
        st.syncs += 1;
        Ok(())
    }
}

impl WalStorage for MemStorage {
    fn create_dir_all(&self, _dir: &Path) -> io::Result<()> {
        Ok(())
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let st = self.state.lock();
        Ok(st
            .files
            .keys()
            .filter(|p| p.parent() == Some(dir))
            .filter_map(|p| p.file_name()?.to_str().map(str::to_owned))
            .collect())
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.file(path).ok_or_else(|| not_found(path))
    }

    fn create_new(&self, path: &Path) -> io::Result<Arc<dyn WalFile>> {
        let mut st = self.state.lock();
        if st.files.contains_key(path) {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} exists", path.display()),
            ));
        }
        st.files.insert(path.to_path_buf(), MemFile::default());
        Ok(Arc::new(MemHandle {
            storage: self.clone(),
            path: path.to_path_buf(),
        }))
    }

    fn truncate(&self, path: &Path, len: u64) -> io::Result<()> {
        let mut st = self.state.lock();
        let f = st.files.get_mut(path).ok_or_else(|| not_found(path))?;
        f.data.truncate(usize::try_from(len).unwrap_or(usize::MAX));
        f.durable = f.data.len();
        Ok(())
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        let mut st = self.state.lock();
        st.files
            .remove(path)
            .map(|_| ())
            .ok_or_else(|| not_found(path))
    }

    fn copy(&self, from: &Path, to: &Path) -> io::Result<()> {
        let data = self.read(from)?;
        self.put_file(to, data);
        Ok(())
    }

    fn sync_dir(&self, _dir: &Path) -> io::Result<()> {
        let st = self.state.lock();
        if st.fail_syncs {
            return Err(injected("directory sync"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::file::write_all;
    use super::*;

    #[test]
    fn crash_image_keeps_only_synced_bytes() {
        let s = MemStorage::new();
        let p = Path::new("/w/a");
        let f = s.create_new(p).unwrap();
        write_all(&*f, b"durable").unwrap();
        f.sync_data().unwrap();
        write_all(&*f, b" lost").unwrap();
        assert_eq!(s.file(p).unwrap(), b"durable lost");
        assert_eq!(s.crash_image().file(p).unwrap(), b"durable");
        assert_eq!(s.syncs(), 1);
    }

    #[test]
    fn faults_fire() {
        let s = MemStorage::new();
        let f = s.create_new(Path::new("/w/a")).unwrap();
        s.short_writes(3);
        assert_eq!(f.write(b"abcdef").unwrap(), 3);
        write_all(&*f, b"abcdef").unwrap();
        s.fail_writes_after(4);
        assert!(write_all(&*f, b"123456").is_err());
        assert_eq!(s.file(Path::new("/w/a")).unwrap(), b"abcabcdef1234");
        s.fail_syncs(true);
        assert!(f.sync_data().is_err());
    }
}
