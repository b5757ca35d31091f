//! The integrity check of a data directory as `nines verify`, the server's
//! start-up check and `POST /api/v1/verify` run it: the engine's files
//! (manifest chain, SHA-256 and CRCs of every segment and rollup, WAL
//! records) and the two metadata logs (SLO store, audit trail).

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering::Relaxed;

use nines_engine::chainlog::hex;
use nines_engine::verify::{verify_dir, Problem, VerifyOptions, VerifyReport};
use nines_slo::store::SloStore;
use serde::Serialize;

use crate::audit::AuditLog;
use crate::metrics::Metrics;

/// A metadata log's length and head.
#[derive(Clone, Debug, Serialize)]
pub struct LogHead {
    pub log: &'static str,
    pub path: PathBuf,
    pub records: u64,
    pub head: String,
}

/// Everything checked.
#[derive(Clone, Debug, Serialize)]
pub struct Integrity {
    #[serde(flatten)]
    pub report: VerifyReport,
    /// The metadata logs (SLO store, audit trail): records and head.
    pub logs: Vec<LogHead>,
}

impl Integrity {
    pub fn ok(&self) -> bool {
        self.report.ok()
    }
}

/// Checks `dir`; `progress(bytes_done, bytes_total)` as files are read.
/// Reads only and takes no lock.
pub fn check(
    dir: &Path,
    opts: VerifyOptions,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Integrity, nines_engine::Error> {
    let mut report = verify_dir(dir, opts, progress)?;
    let mut found = Vec::new();
    let slo_log = SloStore::path_in(dir);
    if slo_log.exists() {
        let c = SloStore::check(&slo_log).map_err(|e| match e {
            nines_slo::SloError::Engine(e) => e,
            other => nines_engine::Error::InvalidArgument(other.to_string()),
        })?;
        found.push((
            "SLO log",
            slo_log,
            c.records,
            c.head,
            c.torn_tail_at,
            c.problems,
        ));
    }
    let audit_log = AuditLog::path_in(dir);
    if audit_log.exists() {
        let c = AuditLog::check(&audit_log)?;
        found.push((
            "audit log",
            audit_log,
            c.records,
            c.head,
            c.torn_tail_at,
            c.problems,
        ));
    }
    let locks_log = nines_engine::locks::LockStore::path_in(dir);
    if locks_log.exists() {
        let c = nines_engine::locks::LockStore::check(&locks_log)?;
        found.push((
            "lock log",
            locks_log,
            c.records,
            c.head,
            c.torn_tail_at,
            c.problems,
        ));
    }
    let mut logs = Vec::new();
    for (what, path, records, head, torn, problems) in found {
        let at = |offset: u64, rule: String| Problem {
            path: path.clone(),
            offset: Some(offset),
            rule,
        };
        if let Some(o) = torn {
            report.notes.push(at(
                o,
                "torn final record (a crash during an append); the server drops it on open".into(),
            ));
        }
        report
            .problems
            .extend(problems.into_iter().map(|(o, r)| at(o, r)));
        logs.push(LogHead {
            log: what,
            path,
            records,
            head: hex(&head),
        });
    }
    Ok(Integrity { report, logs })
}

/// Runs [`check`] for the server: the outcome goes to its metrics and every
/// problem to the log.
pub fn check_for_server(dir: &Path, metrics: &Metrics) -> Result<Integrity, nines_engine::Error> {
    metrics.verify_finished_s.store(0, Relaxed);
    let out = check(dir, VerifyOptions { decode: false }, &mut |_, _| {})?;
    publish(&out, metrics);
    Ok(out)
}

/// Puts a check's outcome in the server's metrics and its problems in the
/// log.
pub fn publish(out: &Integrity, metrics: &Metrics) {
    for p in &out.report.problems {
        tracing::error!(path = %p.path.display(), offset = ?p.offset, rule = %p.rule, "integrity check: damaged");
    }
    metrics
        .verify_files
        .store(out.report.files_checked, Relaxed);
    metrics
        .verify_bytes
        .store(out.report.bytes_checked, Relaxed);
    metrics
        .verify_problems
        .store(out.report.problems.len() as u64, Relaxed);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    metrics.verify_finished_s.store(now.max(1), Relaxed);
}
