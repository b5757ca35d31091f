//! The store's state in memory and the rules by which a record changes it.
//! The same rules run before a record is written (to refuse a bad change)
//! and when the log is replayed, so a reopened store is the store that was
//! closed.
//!
//! Version rules (SLO_SEMANTICS.md, Version):
//! - applying a definition equal to the current version of an SLO that is
//!   not retired changes nothing;
//! - otherwise the SLO gets version `last + 1` effective from the record's
//!   time, or one millisecond after the last version's start if the clock
//!   is not past it (starts strictly increase per SLO); an explicit
//!   `effective_from` must lie after the last version's start and not after
//!   the record's time;
//! - the previous version's `effective_to` becomes the new start, unless
//!   it was retired earlier (its end stays);
//! - retiring sets the last version's `effective_to` (same clock rule).

use std::collections::BTreeMap;

use nines_engine::chainlog::Hash;
use nines_engine::TimestampMs;
use serde::Serialize;

use super::events::{AuditEvent, Change, VersionReason};
use super::record::Record;
use crate::error::SloError;
use crate::exclusion::{Exclusion, Scope};
use crate::gate::GateDecision;
use crate::model::{Slo, SloVersion};

/// A version with when and by whom it was recorded.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VersionInfo {
    #[serde(flatten)]
    pub version: SloVersion,
    pub applied_at: TimestampMs,
    pub author: Option<String>,
    /// The log record that created it.
    pub seq: u64,
}

/// An SLO: every version ever applied, oldest first (at least one).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SloInfo {
    pub name: String,
    pub versions: Vec<VersionInfo>,
    /// When it was retired (`None`: active).
    pub retired_at: Option<TimestampMs>,
}

impl SloInfo {
    /// The newest version (in force now, unless retired).
    pub fn current(&self) -> Option<&VersionInfo> {
        self.versions.last()
    }

    pub fn slo_versions(&self) -> Vec<SloVersion> {
        self.versions.iter().map(|v| v.version.clone()).collect()
    }
}

/// An exclusion with when it was added and, once deleted, when and by whom.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ExclusionInfo {
    #[serde(flatten)]
    pub exclusion: Exclusion,
    pub created_at: TimestampMs,
    pub seq: u64,
    pub deleted_at: Option<TimestampMs>,
    pub deleted_by: Option<String>,
}

/// What one SLO of an apply came to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Applied {
    pub name: String,
    /// The version in force after the apply.
    pub version: u32,
    /// `None`: the definition equalled the current version.
    pub reason: Option<VersionReason>,
}

/// The changes one record makes, computed before anything is written.
#[derive(Debug)]
pub(super) struct Plan {
    at: TimestampMs,
    author: Option<String>,
    steps: Vec<Step>,
    /// Per SLO of an apply, in file order.
    pub applied: Vec<Applied>,
}

impl Plan {
    /// Whether the record changes anything (an apply of unchanged
    /// definitions does not, and is not written).
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }
}

#[derive(Debug)]
enum Step {
    NewVersion {
        def: Box<Slo>,
        version: u32,
        effective_from: TimestampMs,
        reason: VersionReason,
        backdated: bool,
    },
    Retire {
        name: String,
        effective_to: TimestampMs,
    },
    AddExclusion(Exclusion),
    DeleteExclusion(usize),
    GateOverride {
        slo: String,
        approver: String,
        reason: String,
        decision: Box<GateDecision>,
    },
}

#[derive(Debug, Default)]
pub(super) struct State {
    pub slos: BTreeMap<String, SloInfo>,
    /// In the order they were added, deleted ones included.
    pub exclusions: Vec<ExclusionInfo>,
    /// Every change since the log began.
    pub events: Vec<AuditEvent>,
    /// One more than the largest numeric exclusion id seen.
    pub next_exclusion_id: u64,
    /// The newest record: sequence number and hash (0 and zeros when empty).
    pub seq: u64,
    pub head: Hash,
}

/// A start one past `prev` if the clock is not past it.
fn after(at: TimestampMs, prev: TimestampMs) -> TimestampMs {
    at.max(prev.saturating_add(1))
}

impl State {
    /// The changes `rec` would make, or why it is refused.
    pub fn plan(&self, rec: &Record) -> Result<Plan, SloError> {
        let mut plan = Plan {
            at: rec.at(),
            author: None,
            steps: Vec::new(),
            applied: Vec::new(),
        };
        match rec {
            Record::Apply {
                at,
                author,
                effective_from,
                defs,
                ..
            } => {
                plan.author.clone_from(author);
                if let Some(e) = effective_from {
                    if e > at {
                        return Err(SloError::Invalid(format!(
                            "effective_from {e} is after the time of the change {at}; versions cannot start in the future"
                        )));
                    }
                }
                for (i, def) in defs.iter().enumerate() {
                    if defs[..i].iter().any(|d| d.name == def.name) {
                        return Err(SloError::Invalid(format!(
                            "SLO {:?} is given twice in one apply",
                            def.name
                        )));
                    }
                    plan.plan_version(self.slos.get(&def.name), def, *at, *effective_from)?;
                }
            }
            Record::Retire { name, at, author } => {
                plan.author.clone_from(author);
                let slo = self
                    .slos
                    .get(name)
                    .ok_or_else(|| SloError::UnknownSlo(name.clone()))?;
                let last = slo
                    .current()
                    .ok_or_else(|| SloError::Invalid(format!("SLO {name:?} has no version")))?;
                if slo.retired_at.is_some() {
                    return Err(SloError::Conflict(format!(
                        "SLO {name:?} is already retired"
                    )));
                }
                plan.steps.push(Step::Retire {
                    name: name.clone(),
                    effective_to: after(*at, last.version.effective_from),
                });
            }
            Record::ExclusionAdd { exclusion, .. } => {
                plan.author = Some(exclusion.author.clone()).filter(|a| !a.is_empty());
                exclusion.validate()?;
                if exclusion.id.is_empty() || self.exclusion_index(&exclusion.id).is_some() {
                    return Err(SloError::Conflict(format!(
                        "exclusion id {:?} is empty or taken",
                        exclusion.id
                    )));
                }
                if let Scope::Slos(names) = &exclusion.scope {
                    if let Some(n) = names.iter().find(|n| !self.slos.contains_key(*n)) {
                        return Err(SloError::UnknownSlo(n.clone()));
                    }
                }
                plan.steps.push(Step::AddExclusion(exclusion.clone()));
            }
            Record::ExclusionDelete { id, author, .. } => {
                plan.author.clone_from(author);
                let i = self
                    .exclusion_index(id)
                    .ok_or_else(|| SloError::UnknownExclusion(id.clone()))?;
                if self
                    .exclusions
                    .get(i)
                    .is_some_and(|e| e.deleted_at.is_some())
                {
                    return Err(SloError::Conflict(format!(
                        "exclusion {id:?} is already deleted"
                    )));
                }
                plan.steps.push(Step::DeleteExclusion(i));
            }
            Record::GateOverride {
                slo,
                approver,
                reason,
                decision,
                ..
            } => {
                if !self.slos.contains_key(slo) {
                    return Err(SloError::UnknownSlo(slo.clone()));
                }
                if approver.trim().is_empty() || reason.trim().is_empty() {
                    return Err(SloError::Invalid(
                        "a gate override needs an approver and a reason".into(),
                    ));
                }
                plan.author = Some(approver.clone());
                plan.steps.push(Step::GateOverride {
                    slo: slo.clone(),
                    approver: approver.clone(),
                    reason: reason.clone(),
                    decision: Box::new(decision.clone()),
                });
            }
        }
        Ok(plan)
    }

    pub fn exclusion_index(&self, id: &str) -> Option<usize> {
        self.exclusions.iter().position(|e| e.exclusion.id == id)
    }

    /// Makes the planned changes (the record is durable at `seq`) and
    /// returns their events, which are also kept.
    pub fn commit(&mut self, plan: Plan, seq: u64, record_hash: Hash) -> Vec<AuditEvent> {
        let at = plan.at;
        let mut out = Vec::with_capacity(plan.steps.len());
        for step in plan.steps {
            let change = match step {
                Step::NewVersion {
                    def,
                    version,
                    effective_from,
                    reason,
                    backdated,
                } => {
                    let name = def.name.clone();
                    let slo = self.slos.entry(name.clone()).or_insert_with(|| SloInfo {
                        name: name.clone(),
                        versions: Vec::new(),
                        retired_at: None,
                    });
                    // a retired version keeps its earlier end: the gap
                    // until the new version counts for nothing
                    if let Some(last) = slo.versions.last_mut() {
                        let end = last
                            .version
                            .effective_to
                            .map_or(effective_from, |t| t.min(effective_from));
                        last.version.effective_to = Some(end);
                    }
                    slo.retired_at = None;
                    slo.versions.push(VersionInfo {
                        version: SloVersion {
                            version,
                            effective_from,
                            effective_to: None,
                            def: *def,
                        },
                        applied_at: at,
                        author: plan.author.clone(),
                        seq,
                    });
                    Change::SloVersion {
                        name,
                        version,
                        effective_from,
                        reason,
                        backdated,
                    }
                }
                Step::Retire { name, effective_to } => {
                    let mut version = 0;
                    if let Some(slo) = self.slos.get_mut(&name) {
                        slo.retired_at = Some(at);
                        if let Some(last) = slo.versions.last_mut() {
                            last.version.effective_to = Some(effective_to);
                            version = last.version.version;
                        }
                    }
                    Change::SloRetired {
                        name,
                        version,
                        effective_to,
                    }
                }
                Step::AddExclusion(exclusion) => {
                    if let Ok(n) = exclusion.id.parse::<u64>() {
                        self.next_exclusion_id = self.next_exclusion_id.max(n.saturating_add(1));
                    }
                    self.exclusions.push(ExclusionInfo {
                        exclusion: exclusion.clone(),
                        created_at: at,
                        seq,
                        deleted_at: None,
                        deleted_by: None,
                    });
                    Change::ExclusionAdded { exclusion }
                }
                Step::DeleteExclusion(i) => {
                    // `i` came from `plan` on this same state
                    let Some(e) = self.exclusions.get_mut(i) else {
                        continue;
                    };
                    e.deleted_at = Some(at);
                    e.deleted_by.clone_from(&plan.author);
                    Change::ExclusionDeleted {
                        exclusion: e.exclusion.clone(),
                    }
                }
                Step::GateOverride {
                    slo,
                    approver,
                    reason,
                    decision,
                } => Change::GateOverride {
                    slo,
                    approver,
                    reason,
                    decision: *decision,
                },
            };
            out.push(AuditEvent {
                seq,
                record_hash,
                at,
                author: plan.author.clone(),
                change,
            });
        }
        self.events.extend(out.iter().cloned());
        self.seq = seq;
        self.head = record_hash;
        out
    }
}

impl Plan {
    fn plan_version(
        &mut self,
        current: Option<&SloInfo>,
        def: &Slo,
        at: TimestampMs,
        explicit: Option<TimestampMs>,
    ) -> Result<(), SloError> {
        let last = current.and_then(SloInfo::current);
        let retired = current.is_some_and(|s| s.retired_at.is_some());
        let (version, effective_from, reason) = match last {
            None => (1, explicit.unwrap_or(at), VersionReason::Created),
            Some(l) if !retired && l.version.def == *def => {
                self.applied.push(Applied {
                    name: def.name.clone(),
                    version: l.version.version,
                    reason: None,
                });
                return Ok(());
            }
            Some(l) => {
                let prev = l.version.effective_from;
                let from = match explicit {
                    Some(e) if e <= prev => {
                        return Err(SloError::Invalid(format!(
                            "effective_from {e} of SLO {:?} must be after the start {prev} of its version {}",
                            def.name, l.version.version
                        )))
                    }
                    Some(e) => e,
                    None => after(at, prev),
                };
                let reason = if retired {
                    VersionReason::Reactivated
                } else {
                    VersionReason::Changed
                };
                (l.version.version.saturating_add(1), from, reason)
            }
        };
        self.applied.push(Applied {
            name: def.name.clone(),
            version,
            reason: Some(reason),
        });
        self.steps.push(Step::NewVersion {
            def: Box::new(def.clone()),
            version,
            effective_from,
            reason,
            backdated: explicit.is_some_and(|e| e < at),
        });
        Ok(())
    }
}
