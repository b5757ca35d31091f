//! The durable SLO store: definitions, their versions and exclusions, kept
//! in a hash-chained log (`DATA/meta/slo.log`, docs/format/slo-log.md) and
//! replayed into memory on open. It is the server's [`SloCatalog`].
//!
//! Order of one change: take the log lock → build the record from the
//! state → [`state::State::plan`] (refuse a bad change before anything is
//! written) → append and fsync the record → change the state → tell the
//! observers. A crash before the fsync loses the change and nothing else
//! (a torn final record is dropped on open); after it, replay redoes it.
//!
//! Open it after the engine: the engine's lock on the data directory is
//! what keeps two processes from appending to the same log.

mod events;
mod record;
mod state;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use nines_engine::chainlog::{ChainLog, Entry, Hash};
use nines_engine::error::{Error as EngineError, IoContext};
use nines_engine::TimestampMs;
use parking_lot::{Mutex, RwLock};

use crate::catalog::SloCatalog;
use crate::error::SloError;
use crate::exclusion::{Category, Exclusion, Schedule, Scope};
use crate::gate::GateDecision;
use crate::model::{Slo, SloVersion};

pub use events::{AuditEvent, Change, ChangeObserver, VersionReason};
pub use record::Record;
use state::State;
pub use state::{Applied, ExclusionInfo, SloInfo, VersionInfo};

/// The log's directory inside the data directory.
pub const DIR: &str = "meta";
pub const FILE_NAME: &str = "slo.log";
pub const MAGIC: &[u8; 8] = b"NINESSLO";

/// What an exclusion is to be, before the store gives it an id.
#[derive(Clone, Debug, PartialEq)]
pub struct NewExclusion {
    pub scope: Scope,
    pub schedule: Schedule,
    pub category: Category,
    pub reason: String,
    pub author: String,
}

/// Who made a change and when (ms since the epoch; the server's clock).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Origin {
    pub at: TimestampMs,
    pub author: Option<String>,
}

/// An apply request: an OpenSLO file and how to record it.
#[derive(Clone, Copy, Debug)]
pub struct ApplyRequest<'a> {
    /// The file's name, for errors and the record.
    pub file: &'a str,
    pub yaml: &'a str,
    /// An explicit, earlier start of the new versions (audited as
    /// backdated); `None`: the time of the change.
    pub effective_from: Option<TimestampMs>,
}

pub struct SloStore {
    path: PathBuf,
    /// Held for the whole of a change, so the log's order is the order in
    /// which changes were planned and observed.
    log: Mutex<ChainLog>,
    state: RwLock<State>,
    observers: RwLock<Vec<Arc<dyn ChangeObserver>>>,
}

impl std::fmt::Debug for SloStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SloStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SloStore {
    /// `DATA/meta/slo.log`.
    pub fn path_in(data_dir: &Path) -> PathBuf {
        data_dir.join(DIR).join(FILE_NAME)
    }

    /// Reads and replays the log at `path` without changing it (`nines
    /// verify`, safe beside a running server): every problem with its
    /// offset, where [`SloStore::open`] would stop at the first.
    pub fn check(path: &Path) -> Result<LogCheck, SloError> {
        let (entries, report) = ChainLog::verify(path, MAGIC)?;
        let mut problems = report.damaged.clone();
        problems.extend(report.broken_link.clone());
        let mut state = State::default();
        for e in &entries {
            if let Err(why) = replay(&mut state, e) {
                problems.push((e.offset, why));
            }
        }
        problems.sort();
        Ok(LogCheck {
            records: report.records,
            head: report.head,
            torn_tail_at: report.torn_tail_at,
            problems,
        })
    }

    /// Opens (creating) the log at `path` and replays it. A damaged record,
    /// a broken chain or a record that does not replay is an error naming
    /// the file and the record's offset; a torn final record (a crash
    /// during an append) is dropped.
    pub fn open(path: &Path) -> Result<SloStore, SloError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).ctx("create directory", dir)?;
        }
        let (log, entries, report) = ChainLog::open(path, MAGIC)?;
        if let Some((offset, rule)) = report.damaged.first().or(report.broken_link.as_ref()) {
            return Err(EngineError::corrupted(path, *offset, rule.clone()).into());
        }
        let mut state = State::default();
        for e in &entries {
            replay(&mut state, e).map_err(|why| EngineError::corrupted(path, e.offset, why))?;
        }
        Ok(SloStore {
            path: path.to_path_buf(),
            log: Mutex::new(log),
            state: RwLock::new(state),
            observers: RwLock::new(Vec::new()),
        })
    }

    /// Calls `observer` for every later change, after it is durable.
    pub fn subscribe(&self, observer: Arc<dyn ChangeObserver>) {
        self.observers.write().push(observer);
    }

    /// Plans the record `build` makes from the current state, writes it and
    /// applies it; nothing is written when it changes nothing.
    fn change(
        &self,
        build: impl FnOnce(&State) -> Result<Record, SloError>,
    ) -> Result<(Vec<Applied>, Vec<AuditEvent>), SloError> {
        let mut log = self.log.lock();
        let (rec, mut plan) = {
            let st = self.state.read();
            let rec = build(&st)?;
            let plan = st.plan(&rec)?;
            (rec, plan)
        };
        let applied = std::mem::take(&mut plan.applied);
        if plan.is_empty() {
            return Ok((applied, Vec::new()));
        }
        let entry = log.append(&rec.encode()?)?;
        let events = self.state.write().commit(plan, entry.seq, entry.hash);
        for o in self.observers.read().iter() {
            for e in &events {
                o.on_change(e);
            }
        }
        drop(log);
        Ok((applied, events))
    }

    /// Applies every SLO of an OpenSLO file at once (all or none): each
    /// new or changed definition becomes a new version; unchanged ones are
    /// reported with `reason: None`.
    pub fn apply(&self, req: ApplyRequest<'_>, origin: Origin) -> Result<Vec<Applied>, SloError> {
        let defs = crate::openslo::parse_file(req.file, req.yaml)?;
        self.apply_defs(defs, req, origin)
    }

    /// [`SloStore::apply`] with the definitions already parsed from
    /// `req.yaml`.
    pub fn apply_defs(
        &self,
        defs: Vec<Slo>,
        req: ApplyRequest<'_>,
        origin: Origin,
    ) -> Result<Vec<Applied>, SloError> {
        let record = |defs: Vec<Slo>| Record::Apply {
            at: origin.at,
            author: origin.author.clone(),
            effective_from: req.effective_from,
            file: req.file.to_string(),
            yaml: req.yaml.to_string(),
            defs,
        };
        let mut applied = Vec::new();
        self.change(|st| {
            // The record keeps only the definitions that make versions.
            let all = record(defs);
            applied = st.plan(&all)?.applied;
            let Record::Apply { defs, .. } = all else {
                return Err(SloError::Invalid("not an apply".into()));
            };
            Ok(record(
                defs.into_iter()
                    .filter(|d| {
                        applied
                            .iter()
                            .any(|a| a.name == d.name && a.reason.is_some())
                    })
                    .collect(),
            ))
        })?;
        Ok(applied)
    }

    /// Retires the SLO: its last version stops counting events from now on.
    pub fn retire(&self, name: &str, origin: Origin) -> Result<AuditEvent, SloError> {
        let (_, events) = self.change(|_| {
            Ok(Record::Retire {
                name: name.to_string(),
                at: origin.at,
                author: origin.author.clone(),
            })
        })?;
        events
            .into_iter()
            .next()
            .ok_or_else(|| SloError::Invalid(format!("retiring {name:?} changed nothing")))
    }

    /// Adds an exclusion with the next free id (`1`, `2`, ...).
    pub fn add_exclusion(&self, new: NewExclusion, at: TimestampMs) -> Result<Exclusion, SloError> {
        let mut made = None;
        self.change(|st| {
            let e = Exclusion {
                id: st.next_exclusion_id.max(1).to_string(),
                scope: new.scope,
                schedule: new.schedule,
                category: new.category,
                reason: new.reason,
                author: new.author,
            };
            made = Some(e.clone());
            Ok(Record::ExclusionAdd { at, exclusion: e })
        })?;
        made.ok_or_else(|| SloError::Invalid("no exclusion was made".into()))
    }

    /// Deletes an exclusion: it stops applying (to all time); the log keeps
    /// it.
    pub fn delete_exclusion(&self, id: &str, origin: Origin) -> Result<Exclusion, SloError> {
        let (_, events) = self.change(|_| {
            Ok(Record::ExclusionDelete {
                id: id.to_string(),
                at: origin.at,
                author: origin.author.clone(),
            })
        })?;
        match events.into_iter().next().map(|e| e.change) {
            Some(Change::ExclusionDeleted { exclusion }) => Ok(exclusion),
            _ => Err(SloError::UnknownExclusion(id.to_string())),
        }
    }

    /// Records that a deploy gate was passed against `decision`, durably
    /// (the override and the numbers it overrode are part of the SLO's
    /// history and of the audit trail).
    pub fn record_gate_override(
        &self,
        decision: &GateDecision,
        approver: &str,
        reason: &str,
        at: TimestampMs,
    ) -> Result<AuditEvent, SloError> {
        let (_, events) = self.change(|_| {
            Ok(Record::GateOverride {
                at,
                slo: decision.slo.clone(),
                approver: approver.to_string(),
                reason: reason.to_string(),
                decision: decision.clone(),
            })
        })?;
        events
            .into_iter()
            .next()
            .ok_or_else(|| SloError::Invalid("the override was not recorded".into()))
    }

    /// Every SLO, retired ones included, by name.
    pub fn list(&self) -> Vec<SloInfo> {
        self.state.read().slos.values().cloned().collect()
    }

    pub fn get(&self, name: &str) -> Option<SloInfo> {
        self.state.read().slos.get(name).cloned()
    }

    /// The changes that concern the SLO (its versions, its retirement, the
    /// exclusions that cover it), oldest first; `None` for an unknown SLO.
    pub fn history(&self, name: &str) -> Option<Vec<AuditEvent>> {
        let st = self.state.read();
        st.slos.get(name)?;
        Some(
            st.events
                .iter()
                .filter(|e| e.change.concerns(name))
                .cloned()
                .collect(),
        )
    }

    /// Exclusions in the order they were added; deleted ones only when
    /// asked.
    pub fn exclusion_list(&self, include_deleted: bool) -> Vec<ExclusionInfo> {
        self.state
            .read()
            .exclusions
            .iter()
            .filter(|e| include_deleted || e.deleted_at.is_none())
            .cloned()
            .collect()
    }

    /// Every change since the log began, oldest first.
    pub fn events(&self) -> Vec<AuditEvent> {
        self.state.read().events.clone()
    }

    /// The newest record's sequence number and hash (0 and all zeros for
    /// an empty log): what a report anchors the log with.
    pub fn head(&self) -> (u64, Hash) {
        let st = self.state.read();
        (st.seq, st.head)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// What [`SloStore::check`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogCheck {
    pub records: u64,
    /// The newest record's hash.
    pub head: Hash,
    /// A torn final record (a crash during an append; not damage): its
    /// offset.
    pub torn_tail_at: Option<u64>,
    /// Damage: offset and the rule that broke, in file order.
    pub problems: Vec<(u64, String)>,
}

/// Applies one log record to the state being rebuilt; why not, if not.
fn replay(state: &mut State, e: &Entry) -> Result<(), String> {
    let rec = Record::decode(&e.body).map_err(|why| format!("SLO log record {}: {why}", e.seq))?;
    let plan = state
        .plan(&rec)
        .map_err(|err| format!("SLO log record {} does not replay: {err}", e.seq))?;
    state.commit(plan, e.seq, e.hash);
    Ok(())
}

impl SloCatalog for SloStore {
    fn names(&self) -> Vec<String> {
        self.state
            .read()
            .slos
            .values()
            .filter(|s| s.retired_at.is_none())
            .map(|s| s.name.clone())
            .collect()
    }

    fn versions(&self, name: &str) -> Option<Vec<SloVersion>> {
        self.state.read().slos.get(name).map(SloInfo::slo_versions)
    }

    fn exclusions(&self, name: &str) -> Vec<Exclusion> {
        self.state
            .read()
            .exclusions
            .iter()
            .filter(|e| e.deleted_at.is_none() && e.exclusion.covers(name))
            .map(|e| e.exclusion.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests;
