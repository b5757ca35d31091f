//! The engine's error type. Corruption carries the path, the byte offset and
//! the rule that broke, so an operator can find the damage with `nines verify`.

use std::path::{Path, PathBuf};

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{path} is corrupted at byte offset {offset}: {rule}")]
    Corrupted {
        path: PathBuf,
        offset: u64,
        rule: String,
    },

    #[error(
        "{path} has format version {found}, this build reads versions up to {supported}; \
         upgrade nines to read it"
    )]
    UnknownVersion {
        path: PathBuf,
        found: u32,
        supported: u32,
    },

    #[error(
        "data directory {path} is in use by another process (lock file {lock} is held); \
         stop the other nines process or choose another --data-dir"
    )]
    Locked { path: PathBuf, lock: PathBuf },

    #[error("invalid argument: {0}")]
    InvalidArgument(String),

    #[error(
        "the write-ahead log failed earlier ({0}); the engine refuses writes until it is \
         reopened, so that nothing acknowledged can be lost"
    )]
    WalFailed(String),

    #[error("the engine is closed")]
    Closed,
}

impl Error {
    pub fn io(op: &'static str, path: impl AsRef<Path>, source: std::io::Error) -> Error {
        Error::Io {
            op,
            path: path.as_ref().to_path_buf(),
            source,
        }
    }

    pub fn corrupted(path: impl AsRef<Path>, offset: u64, rule: impl Into<String>) -> Error {
        Error::Corrupted {
            path: path.as_ref().to_path_buf(),
            offset,
            rule: rule.into(),
        }
    }
}

/// Adds the operation and path to an `io::Result`.
pub trait IoContext<T> {
    fn ctx(self, op: &'static str, path: impl AsRef<Path>) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn ctx(self, op: &'static str, path: impl AsRef<Path>) -> Result<T> {
        self.map_err(|e| Error::io(op, path, e))
    }
}
