//! Deploy and incident annotations, stored as samples of the series
//! `nines_annotation{kind, service, version, env, commit, id, severity}`
//! (labels that were not given are left out) so that Grafana draws them
//! from an ordinary query and they share the WAL's durability:
//!
//! - value 1 at the annotation's time;
//! - an incident with an end also has value 0 at its end.
//!
//! Sending the same annotation again is a no-op (the engine drops a sample
//! identical to a stored one). Blocking: call from a blocking thread.

use nines_engine::index::Matcher;
use nines_engine::read::ReadScratch;
use nines_engine::{Engine, Labels, SeriesBatch, SeriesKind, WriteBatch};
use serde::{Deserialize, Serialize};

/// The metric name of annotation series.
pub const METRIC: &str = "nines_annotation";

/// Label names an annotation may carry, besides `__name__`.
const FIELDS: [&str; 7] = [
    "kind", "service", "version", "env", "commit", "id", "severity",
];

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Annotation {
    /// `deploy` or `incident`.
    pub kind: String,
    pub service: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    /// Milliseconds since the epoch.
    pub at: i64,
    /// End of an incident, milliseconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum AnnotationError {
    #[error("invalid annotation: {0}")]
    Invalid(String),
    #[error("annotation refused by storage: {0}")]
    Rejected(String),
    #[error(transparent)]
    Storage(#[from] nines_engine::Error),
}

impl Annotation {
    fn field(&self, name: &str) -> Option<&str> {
        match name {
            "kind" => Some(&self.kind),
            "service" => Some(&self.service),
            "version" => self.version.as_deref(),
            "env" => self.env.as_deref(),
            "commit" => self.commit.as_deref(),
            "id" => self.id.as_deref(),
            "severity" => self.severity.as_deref(),
            _ => None,
        }
    }

    pub fn validate(&self) -> Result<(), AnnotationError> {
        let bad = |m: String| Err(AnnotationError::Invalid(m));
        match self.kind.as_str() {
            "deploy" => {
                if self.version.as_deref().unwrap_or("").is_empty() {
                    return bad("a deploy needs a version".into());
                }
                if self.end.is_some() {
                    return bad("a deploy is a point in time; only incidents have an end".into());
                }
            }
            "incident" => {
                if self.id.as_deref().unwrap_or("").is_empty() {
                    return bad("an incident needs an id".into());
                }
            }
            other => {
                return bad(format!(
                    "unknown kind {other:?}: expected \"deploy\" or \"incident\""
                ))
            }
        }
        if self.service.is_empty() {
            return bad("the service must not be empty".into());
        }
        if let Some(end) = self.end {
            if end <= self.at {
                return bad(format!(
                    "the end ({end} ms) must be after the start ({} ms)",
                    self.at
                ));
            }
        }
        Ok(())
    }

    pub fn labels(&self) -> Labels {
        let mut pairs = vec![("__name__", METRIC)];
        for f in FIELDS {
            if let Some(v) = self.field(f).filter(|v| !v.is_empty()) {
                pairs.push((f, v));
            }
        }
        Labels::from_pairs(&pairs)
    }

    fn from_labels(l: &Labels, at: i64) -> Annotation {
        let get = |n: &str| l.get(n).map(str::to_string);
        Annotation {
            kind: get("kind").unwrap_or_default(),
            service: get("service").unwrap_or_default(),
            version: get("version"),
            env: get("env"),
            commit: get("commit"),
            id: get("id"),
            severity: get("severity"),
            at,
            end: None,
        }
    }
}

/// Stores `a` durably (under the engine's sync policy). Returns whether it
/// was new (false when the same annotation was already stored).
pub fn write(engine: &Engine, a: &Annotation) -> Result<bool, AnnotationError> {
    a.validate()?;
    let mut s = SeriesBatch {
        labels: a.labels(),
        kind: SeriesKind::Gauge,
        timestamps: vec![a.at],
        values: vec![1.0],
        resolved: None,
    };
    if let Some(end) = a.end {
        s.timestamps.push(end);
        s.values.push(0.0);
    }
    let out = engine.append(&WriteBatch { series: vec![s] })?;
    if let Some(r) = out.rejected.first() {
        return Err(AnnotationError::Rejected(format!(
            "{} (at {} ms)",
            r.reason,
            r.timestamp.unwrap_or(a.at)
        )));
    }
    Ok(out.accepted > 0)
}

/// Which annotations to list.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub kind: Option<String>,
    pub service: Option<String>,
    pub env: Option<String>,
    pub start: i64,
    pub end: i64,
}

/// The annotations that start in `[f.start, f.end]`, oldest first.
pub fn list(engine: &Engine, f: &Filter) -> Result<Vec<Annotation>, AnnotationError> {
    let mut m = vec![Matcher::equal("__name__", METRIC)];
    for (name, v) in [("kind", &f.kind), ("service", &f.service), ("env", &f.env)] {
        if let Some(v) = v {
            m.push(Matcher::equal(name, v.as_str()));
        }
    }
    let snap = engine.snapshot();
    let mut scratch = ReadScratch::default();
    let mut out = Vec::new();
    let (mut ts, mut vs) = (Vec::new(), Vec::new());
    for h in snap.select(&m, f.start, i64::MAX)? {
        ts.clear();
        vs.clear();
        snap.read_samples(&h, f.start, i64::MAX, &mut scratch, &mut ts, &mut vs)?;
        let mut open: Option<usize> = None;
        for (&t, &v) in ts.iter().zip(&vs) {
            if v == 1.0 {
                if t > f.end {
                    break;
                }
                out.push(Annotation::from_labels(&h.labels, t));
                open = Some(out.len() - 1);
            } else if v == 0.0 {
                if let Some(i) = open.take() {
                    out[i].end = Some(t);
                }
            }
        }
    }
    out.sort_by(|a, b| (a.at, &a.service, &a.id).cmp(&(b.at, &b.service, &b.id)));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use nines_engine::wal::SyncPolicy;
    use nines_engine::EngineOptions;

    fn deploy(service: &str, version: &str, at: i64) -> Annotation {
        Annotation {
            kind: "deploy".into(),
            service: service.into(),
            version: Some(version.into()),
            at,
            ..Default::default()
        }
    }

    #[test]
    fn annotations_round_trip_and_repeat_as_no_ops() {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::open(
            EngineOptions::new(dir.path())
                .background(false)
                .sync(SyncPolicy::Never),
        )
        .unwrap();
        let now = 1_800_000_000_000;
        let mut d = deploy("checkout", "v1.2.3", now - 60_000);
        d.env = Some("prod".into());
        d.commit = Some("abc123".into());
        assert!(write(&engine, &d).unwrap());
        assert!(
            !write(&engine, &d).unwrap(),
            "the same deploy again stores nothing"
        );
        write(&engine, &deploy("search", "v9", now - 30_000)).unwrap();
        let inc = Annotation {
            kind: "incident".into(),
            service: "checkout".into(),
            id: Some("INC-7".into()),
            severity: Some("sev2".into()),
            at: now - 20_000,
            end: Some(now),
            ..Default::default()
        };
        write(&engine, &inc).unwrap();

        let all = list(
            &engine,
            &Filter {
                start: now - 3_600_000,
                end: now,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(all[0], d);
        assert_eq!(all[2], inc);
        let only = list(
            &engine,
            &Filter {
                kind: Some("deploy".into()),
                service: Some("checkout".into()),
                start: now - 3_600_000,
                end: now,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(only, vec![d.clone()]);
        assert_eq!(
            d.labels().to_string(),
            r#"nines_annotation{commit="abc123", env="prod", kind="deploy", service="checkout", version="v1.2.3"}"#
        );
    }

    #[test]
    fn bad_annotations_say_what_is_wrong() {
        let mut d = deploy("checkout", "", 1);
        assert!(d
            .validate()
            .unwrap_err()
            .to_string()
            .contains("needs a version"));
        d.version = Some("v1".into());
        d.kind = "release".into();
        assert!(d
            .validate()
            .unwrap_err()
            .to_string()
            .contains("unknown kind"));
        let inc = Annotation {
            kind: "incident".into(),
            service: "s".into(),
            id: Some("I".into()),
            at: 10,
            end: Some(5),
            ..Default::default()
        };
        assert!(inc
            .validate()
            .unwrap_err()
            .to_string()
            .contains("must be after"));
    }
}
