//! The audit log (`DATA/meta/audit.log`, docs/format/audit-log.md): an
//! append-only, hash-chained record of every change an auditor asks about.
//!
//! What lands here:
//! - every SLO and exclusion change and every gate override, mirrored from
//!   the SLO store's own log as it happens (each entry names the SLO log
//!   record it mirrors, so the two chains vouch for each other); a change
//!   that reached the SLO log but not this one (a crash in between) is
//!   mirrored when the server opens again;
//! - gate decisions, retention-lock changes and refusals, reports and
//!   exports, and failed authentication (rate limited: past
//!   [`AUTH_FAILURES_PER_SECOND`] a second the rest are counted into one
//!   entry, so a flood of bad tokens cannot turn into a flood of fsyncs).
//!
//! Every entry is fsynced before the call that made it returns.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use nines_engine::chainlog::{hex, ChainLog, Entry, Hash};
use nines_engine::TimestampMs;
use nines_slo::store::{AuditEvent, ChangeObserver, SloStore};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value as Json};

pub const MAGIC: &[u8; 8] = b"NINESAUD";
const FILE_NAME: &str = "audit.log";
/// Failed authentications recorded one by one per second; the rest of the
/// second is summed into one `auth_failures_suppressed` entry.
pub const AUTH_FAILURES_PER_SECOND: u32 = 20;

/// One entry's body, as JSON in the log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// When it happened (ms since the epoch, the server's clock).
    pub at: TimestampMs,
    /// What happened: `slo_created`, `slo_changed`, `slo_reactivated`,
    /// `slo_retired`, `exclusion_added`, `exclusion_deleted`,
    /// `gate_decision`, `gate_override`, `lock_added`, `lock_extended`,
    /// `lock_refused`, `report`, `export`, `auth_failure`,
    /// `permission_denied`, `auth_failures_suppressed`.
    pub kind: String,
    /// Who: the author or approver given, or the token's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// The particulars, by kind (docs/format/audit-log.md).
    #[serde(default)]
    pub detail: Json,
}

/// An entry as read back: its place in the chain and its record.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditEntry {
    pub seq: u64,
    pub hash: Hash,
    pub record: AuditRecord,
}

impl AuditEntry {
    /// The entry as the API shows it.
    pub fn to_json(&self) -> Json {
        json!({
            "seq": self.seq,
            "hash": hex(&self.hash),
            "at": time_text(self.record.at),
            "kind": self.record.kind,
            "actor": self.record.actor,
            "detail": self.record.detail,
        })
    }
}

fn time_text(ms: TimestampMs) -> String {
    jiff::Timestamp::from_millisecond(ms).map_or_else(|_| ms.to_string(), |t| t.to_string())
}

/// What [`AuditLog::check`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditCheck {
    pub records: u64,
    pub head: Hash,
    pub torn_tail_at: Option<u64>,
    /// Damage: offset and the rule that broke.
    pub problems: Vec<(u64, String)>,
}

struct Inner {
    log: ChainLog,
    entries: Vec<AuditEntry>,
    /// The newest SLO log event mirrored: (SLO log record, index of the
    /// event within that record); (0, 0) before the first (records count
    /// from 1).
    slo_mirrored: (u64, u32),
    /// Failed authentications: the second being counted, entries written
    /// in it, and those only counted.
    auth_second: i64,
    auth_written: u32,
    auth_suppressed: u64,
}

pub struct AuditLog {
    path: PathBuf,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn decode(e: &Entry) -> Result<AuditEntry, String> {
    let record: AuditRecord = serde_json::from_slice(&e.body)
        .map_err(|err| format!("audit log record {} is not an audit entry: {err}", e.seq))?;
    Ok(AuditEntry {
        seq: e.seq,
        hash: e.hash,
        record,
    })
}

/// The SLO log position an entry mirrors, if it mirrors one.
fn mirrored(r: &AuditRecord) -> Option<(u64, u32)> {
    let seq = r.detail.get("slo_log_record")?.as_u64()?;
    let idx = r.detail.get("slo_log_event")?.as_u64()? as u32;
    Some((seq, idx))
}

impl AuditLog {
    /// `DATA/meta/audit.log`.
    pub fn path_in(data_dir: &Path) -> PathBuf {
        data_dir.join("meta").join(FILE_NAME)
    }

    /// Reads and checks the log without changing it (`nines verify`).
    pub fn check(path: &Path) -> Result<AuditCheck, nines_engine::Error> {
        let (entries, report) = ChainLog::verify(path, MAGIC)?;
        let mut problems = report.damaged.clone();
        problems.extend(report.broken_link.clone());
        for e in &entries {
            if let Err(why) = decode(e) {
                problems.push((e.offset, why));
            }
        }
        problems.sort();
        Ok(AuditCheck {
            records: report.records,
            head: report.head,
            torn_tail_at: report.torn_tail_at,
            problems,
        })
    }

    /// Opens (creating) the log. Damage is an error naming the file and
    /// offset (the server does not start on a damaged audit trail); a torn
    /// final record from a crash is dropped.
    pub fn open(path: &Path) -> Result<AuditLog, nines_engine::Error> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| nines_engine::Error::io("create directory", dir, e))?;
        }
        let (log, raw, report) = ChainLog::open(path, MAGIC)?;
        if let Some((offset, rule)) = report.damaged.first().or(report.broken_link.as_ref()) {
            return Err(nines_engine::Error::corrupted(path, *offset, rule.clone()));
        }
        let mut entries = Vec::with_capacity(raw.len());
        let mut slo_mirrored = (0, 0);
        for e in &raw {
            let entry =
                decode(e).map_err(|why| nines_engine::Error::corrupted(path, e.offset, why))?;
            if let Some(m) = mirrored(&entry.record) {
                slo_mirrored = slo_mirrored.max(m);
            }
            entries.push(entry);
        }
        Ok(AuditLog {
            path: path.to_path_buf(),
            inner: Mutex::new(Inner {
                log,
                entries,
                slo_mirrored,
                auth_second: 0,
                auth_written: 0,
                auth_suppressed: 0,
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one entry, durable when this returns.
    pub fn append(&self, record: AuditRecord) -> Result<AuditEntry, nines_engine::Error> {
        let mut inner = self.inner.lock();
        append_locked(&mut inner, record)
    }

    /// Appends an entry, logging (not returning) a failure: for events
    /// whose own operation has already succeeded or failed on its merits.
    pub fn record(&self, kind: &str, actor: Option<&str>, at: TimestampMs, detail: Json) {
        let rec = AuditRecord {
            at,
            kind: kind.to_string(),
            actor: actor.map(str::to_string),
            detail,
        };
        if let Err(e) = self.append(rec) {
            tracing::error!(error = %e, kind, "cannot write to the audit log");
        }
    }

    /// Records a failed authentication or authorization, rate limited.
    pub fn record_auth_failure(&self, kind: &str, at: TimestampMs, detail: Json) {
        let mut inner = self.inner.lock();
        let second = at.div_euclid(1000);
        if second != inner.auth_second {
            if inner.auth_suppressed > 0 {
                let n = std::mem::take(&mut inner.auth_suppressed);
                let rec = AuditRecord {
                    at: inner.auth_second * 1000 + 999,
                    kind: "auth_failures_suppressed".into(),
                    actor: None,
                    detail: json!({ "count": n }),
                };
                if let Err(e) = append_locked(&mut inner, rec) {
                    tracing::error!(error = %e, "cannot write to the audit log");
                }
            }
            inner.auth_second = second;
            inner.auth_written = 0;
        }
        if inner.auth_written >= AUTH_FAILURES_PER_SECOND {
            inner.auth_suppressed += 1;
            return;
        }
        inner.auth_written += 1;
        let rec = AuditRecord {
            at,
            kind: kind.to_string(),
            actor: None,
            detail,
        };
        if let Err(e) = append_locked(&mut inner, rec) {
            tracing::error!(error = %e, "cannot write to the audit log");
        }
    }

    /// Records the retention the server starts with when it differs from
    /// the one recorded last (`retention_changed`, with the previous), so a
    /// shortened retention between two runs is on the record.
    pub fn note_retention(&self, r: &nines_engine::options::Retention) {
        let res = |ms: Option<i64>| ms.map_or(Json::Null, |v| json!(v));
        let mut rollups = serde_json::Map::new();
        for (k, v) in &r.rollups_ms {
            rollups.insert(nines_engine::locks::resolution_name(*k), res(*v));
        }
        let now = json!({"raw_ms": res(r.raw_ms), "rollups_ms": rollups});
        let previous = self
            .inner
            .lock()
            .entries
            .iter()
            .rev()
            .find(|e| e.record.kind == "retention_changed")
            .map(|e| e.record.detail["retention"].clone());
        if previous.as_ref() != Some(&now) {
            let at = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64);
            self.record(
                "retention_changed",
                None,
                at,
                json!({"retention": now, "previous": previous}),
            );
        }
    }

    /// Entries at or after `since`, of one of `kinds` (all when empty), in
    /// log order.
    pub fn entries(&self, since: Option<TimestampMs>, kinds: &[String]) -> Vec<AuditEntry> {
        self.inner
            .lock()
            .entries
            .iter()
            .filter(|e| since.is_none_or(|s| e.record.at >= s))
            .filter(|e| kinds.is_empty() || kinds.contains(&e.record.kind))
            .cloned()
            .collect()
    }

    /// The newest entry's sequence number and hash.
    pub fn head(&self) -> (u64, Hash) {
        let inner = self.inner.lock();
        (inner.entries.last().map_or(0, |e| e.seq), inner.log.head())
    }

    /// Mirrors the SLO store's changes: those it holds that this log has
    /// not mirrored yet (a crash between the two appends), then every later
    /// one as it happens. Call before the store takes changes (at start-up):
    /// one made between the catch-up and the subscription would wait for
    /// the next start.
    pub fn follow(self: &Arc<Self>, store: &SloStore) -> Result<(), nines_engine::Error> {
        let mut last: Option<(u64, u32)> = None;
        for ev in store.events() {
            let idx = match last {
                Some((seq, i)) if seq == ev.seq => i + 1,
                _ => 0,
            };
            last = Some((ev.seq, idx));
            let mut inner = self.inner.lock();
            if (ev.seq, idx) > inner.slo_mirrored {
                mirror_locked(&mut inner, &ev, idx)?;
            }
        }
        let me = Arc::clone(self);
        store.subscribe(Arc::new(Mirror(me)));
        Ok(())
    }
}

fn append_locked(
    inner: &mut Inner,
    record: AuditRecord,
) -> Result<AuditEntry, nines_engine::Error> {
    let body = serde_json::to_vec(&record).map_err(|e| {
        nines_engine::Error::InvalidArgument(format!("cannot encode an audit entry: {e}"))
    })?;
    let e = inner.log.append(&body)?;
    let entry = AuditEntry {
        seq: e.seq,
        hash: e.hash,
        record,
    };
    inner.entries.push(entry.clone());
    Ok(entry)
}

struct Mirror(Arc<AuditLog>);

impl ChangeObserver for Mirror {
    fn on_change(&self, ev: &AuditEvent) {
        let mut inner = self.0.inner.lock();
        let idx = if inner.slo_mirrored.0 == ev.seq {
            inner.slo_mirrored.1 + 1
        } else {
            0
        };
        if let Err(e) = mirror_locked(&mut inner, ev, idx) {
            tracing::error!(error = %e, "cannot write an SLO change to the audit log; it is mirrored when the server next opens");
        }
    }
}

fn mirror_locked(inner: &mut Inner, ev: &AuditEvent, idx: u32) -> Result<(), nines_engine::Error> {
    let mut detail = match serde_json::to_value(&ev.change) {
        Ok(Json::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    let kind = kind_of(&detail);
    detail.remove("change");
    detail.insert("slo_log_record".into(), json!(ev.seq));
    detail.insert("slo_log_event".into(), json!(idx));
    detail.insert("slo_log_hash".into(), json!(hex(&ev.record_hash)));
    let rec = AuditRecord {
        at: ev.at,
        kind,
        actor: ev.author.clone(),
        detail: Json::Object(detail),
    };
    append_locked(inner, rec)?;
    inner.slo_mirrored = (ev.seq, idx);
    Ok(())
}

/// The audit kind of an SLO store change (its `change` tag, the version
/// reason spelled out for new versions).
fn kind_of(change: &serde_json::Map<String, Json>) -> String {
    let tag = change.get("change").and_then(Json::as_str).unwrap_or("");
    match tag {
        "slo_version" => match change.get("reason").and_then(Json::as_str) {
            Some("created") => "slo_created".into(),
            Some("reactivated") => "slo_reactivated".into(),
            _ => "slo_changed".into(),
        },
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nines_slo::store::{ApplyRequest, Origin};

    fn yaml(names: &[&str], target: f64) -> String {
        names
            .iter()
            .map(|n| {
                format!(
                    "apiVersion: openslo/v1\nkind: SLO\nmetadata:\n  name: {n}\nspec:\n  service: s\n  indicator:\n    spec:\n      ratioMetric:\n        counter: true\n        bad:\n          metricSource:\n            spec:\n              query: e_total\n        total:\n          metricSource:\n            spec:\n              query: t_total\n  timeWindow:\n    - duration: 28d\n      isRolling: true\n  budgetingMethod: Occurrences\n  objectives:\n    - target: {target}\n"
                )
            })
            .collect::<Vec<_>>()
            .join("---\n")
    }

    fn apply(store: &SloStore, names: &[&str], target: f64, at: i64) {
        let y = yaml(names, target);
        let req = ApplyRequest {
            file: "f.yaml",
            yaml: &y,
            effective_from: None,
        };
        let origin = Origin {
            at,
            author: Some("ann".into()),
        };
        store.apply(req, origin).unwrap();
    }

    fn kinds(log: &AuditLog) -> Vec<(String, Option<String>)> {
        log.entries(None, &[])
            .into_iter()
            .map(|e| {
                let name = e.record.detail["name"].as_str().map(str::to_string);
                (e.record.kind, name)
            })
            .collect()
    }

    #[test]
    fn slo_changes_are_mirrored_once_even_across_a_crash() {
        let dir = tempfile::tempdir().unwrap();
        let slo_path = SloStore::path_in(dir.path());
        let audit_path = AuditLog::path_in(dir.path());
        {
            let store = SloStore::open(&slo_path).unwrap();
            // one record, two events
            apply(&store, &["a", "b"], 0.99, 1_000);
        }
        {
            // the audit log opens after the changes: it catches up
            let store = SloStore::open(&slo_path).unwrap();
            let audit = Arc::new(AuditLog::open(&audit_path).unwrap());
            audit.follow(&store).unwrap();
            assert_eq!(
                kinds(&audit),
                [
                    ("slo_created".into(), Some("a".into())),
                    ("slo_created".into(), Some("b".into()))
                ]
            );
            // and mirrors what follows as it happens
            apply(&store, &["a"], 0.999, 2_000);
            assert_eq!(audit.entries(None, &[]).len(), 3);
            assert_eq!(audit.entries(None, &["slo_changed".into()]).len(), 1);
        }
        {
            // a change the audit log missed (a crash between the two logs)
            let store = SloStore::open(&slo_path).unwrap();
            store
                .retire(
                    "b",
                    Origin {
                        at: 3_000,
                        author: None,
                    },
                )
                .unwrap();
        }
        let store = SloStore::open(&slo_path).unwrap();
        let audit = Arc::new(AuditLog::open(&audit_path).unwrap());
        audit.follow(&store).unwrap();
        let k = kinds(&audit);
        assert_eq!(k.len(), 4, "{k:?}");
        assert_eq!(k[3], ("slo_retired".into(), Some("b".into())));
        // every entry names the SLO log record it mirrors
        let e = audit.entries(None, &[]);
        let links: Vec<(u64, u64)> = e
            .iter()
            .map(|e| {
                (
                    e.record.detail["slo_log_record"].as_u64().unwrap(),
                    e.record.detail["slo_log_event"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(links, [(1, 0), (1, 1), (2, 0), (3, 0)]);
        assert_eq!(audit.entries(Some(2_000), &[]).len(), 2);
        // the chain checks out, and a flipped byte is found
        let c = AuditLog::check(&audit_path).unwrap();
        assert!(c.problems.is_empty(), "{:?}", c.problems);
        assert_eq!(c.records, 4);
        drop(audit);
        let mut bytes = std::fs::read(&audit_path).unwrap();
        let at = bytes.len() / 2;
        bytes[at] ^= 1;
        std::fs::write(&audit_path, &bytes).unwrap();
        assert!(!AuditLog::check(&audit_path).unwrap().problems.is_empty());
        let err = AuditLog::open(&audit_path).unwrap_err().to_string();
        assert!(err.contains("audit.log"), "{err}");
    }

    #[test]
    fn auth_failures_are_rate_limited_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        let audit = AuditLog::open(&AuditLog::path_in(dir.path())).unwrap();
        for i in 0..50 {
            audit.record_auth_failure("auth_failure", 10_000 + i, json!({"i": i}));
        }
        // the next second writes the summary of the one before
        audit.record_auth_failure("auth_failure", 11_000, json!({}));
        let all = audit.entries(None, &[]);
        assert_eq!(all.len(), AUTH_FAILURES_PER_SECOND as usize + 2);
        let summary = &all[AUTH_FAILURES_PER_SECOND as usize];
        assert_eq!(summary.record.kind, "auth_failures_suppressed");
        assert_eq!(summary.record.detail["count"], 30);
    }
}
