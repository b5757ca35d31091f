//! What the store tells others about its changes: one [`AuditEvent`] per
//! new version, retirement, exclusion added or deleted, each naming the log
//! record that made it durable. The audit log subscribes through
//! [`ChangeObserver`]; the store also keeps every event since the log began
//! (replayed on open), so a late subscriber can catch up.

use nines_engine::chainlog::Hash;
use nines_engine::TimestampMs;
use serde::Serialize;

use crate::exclusion::Exclusion;
use crate::gate::GateDecision;

/// Why an SLO got a new version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VersionReason {
    /// The SLO's first version.
    Created,
    /// The definition changed.
    Changed,
    /// The SLO had been retired and was applied again.
    Reactivated,
}

/// One recorded change.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum Change {
    SloVersion {
        name: String,
        version: u32,
        effective_from: TimestampMs,
        reason: VersionReason,
        /// `effective_from` was given explicitly and is before the change
        /// was recorded.
        backdated: bool,
    },
    SloRetired {
        name: String,
        version: u32,
        effective_to: TimestampMs,
    },
    ExclusionAdded {
        exclusion: Exclusion,
    },
    ExclusionDeleted {
        exclusion: Exclusion,
    },
    /// A blocked (or undecided) deploy gate was passed by an approver.
    GateOverride {
        slo: String,
        approver: String,
        reason: String,
        decision: GateDecision,
    },
}

impl Change {
    /// Whether the change concerns the SLO `name` (its versions, or an
    /// exclusion that covers it).
    pub fn concerns(&self, name: &str) -> bool {
        match self {
            Change::SloVersion { name: n, .. } | Change::SloRetired { name: n, .. } => n == name,
            Change::ExclusionAdded { exclusion } | Change::ExclusionDeleted { exclusion } => {
                exclusion.covers(name)
            }
            Change::GateOverride { slo, .. } => slo == name,
        }
    }
}

/// A change with when, by whom and which log record holds it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AuditEvent {
    /// The log record's sequence number (1, 2, ...); several events may
    /// share one record (an apply of several SLOs).
    pub seq: u64,
    /// SHA-256 of that record in the chain, hex in JSON.
    #[serde(serialize_with = "hex_hash")]
    pub record_hash: Hash,
    /// When the change was recorded (ms since the epoch).
    pub at: TimestampMs,
    pub author: Option<String>,
    #[serde(flatten)]
    pub change: Change,
}

fn hex_hash<S: serde::Serializer>(h: &Hash, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&nines_engine::chainlog::hex(h))
}

/// Receives every change after its record is durable, in log order.
/// Called with the store's write lock held (reads of the store work,
/// changes would deadlock): do little, hand off to a queue if it is slow.
pub trait ChangeObserver: Send + Sync {
    fn on_change(&self, event: &AuditEvent);
}

impl<F: Fn(&AuditEvent) + Send + Sync> ChangeObserver for F {
    fn on_change(&self, event: &AuditEvent) {
        self(event)
    }
}
