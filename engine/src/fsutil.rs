//! Small filesystem helpers for crash-safe file replacement.

use std::fs::File;
use std::path::Path;

use crate::error::{IoContext, Result};

/// Makes a rename or file creation in `dir` durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .ctx("open directory", dir)?
        .sync_all()
        .ctx("sync directory", dir)
}

/// Writes `bytes` to `path` atomically: a temporary file, fsync, rename,
/// directory fsync.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut f = File::create(&tmp).ctx("create", &tmp)?;
    f.write_all(bytes).ctx("write", &tmp)?;
    f.sync_all().ctx("sync", &tmp)?;
    drop(f);
    std::fs::rename(&tmp, path).ctx("rename into place", path)?;
    if let Some(dir) = path.parent() {
        sync_dir(dir)?;
    }
    Ok(())
}
