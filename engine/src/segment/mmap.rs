//! The one place segments are memory-mapped.

use std::fs::File;

use memmap2::Mmap;

/// Maps a segment file read-only.
pub(crate) fn map_readonly(file: &File) -> std::io::Result<Mmap> {
    // SAFETY: segment files are immutable: they are written under a temporary
    // name and renamed into place, and nines never opens them for writing
    // again (compaction and retention only unlink them, which keeps an
    // existing mapping valid). A third party truncating the file under us
    // would make reads fault; that is outside what any mmap-based store can
    // defend against, and `nines verify` reports such damage.
    unsafe { Mmap::map(file) }
}
