//! The records of the SLO log (`meta/slo.log`, docs/format/slo-log.md):
//! one JSON object per chained-log record, tagged by `type`.

use nines_engine::TimestampMs;
use serde::{Deserialize, Serialize};

use crate::error::SloError;
use crate::exclusion::Exclusion;
use crate::gate::GateDecision;
use crate::model::Slo;

/// One change, as written to the log. Replaying the records in order
/// rebuilds the store; they hold what was asked (`at`, the definitions),
/// and the versions follow from them by [`super::state::State`]'s rules.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Record {
    /// Definitions that each became a new version (unchanged ones are left
    /// out), and the YAML file they came from.
    Apply {
        at: TimestampMs,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        author: Option<String>,
        /// An explicit, earlier start of the new versions (an admin's
        /// correction); absent: `at`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        effective_from: Option<TimestampMs>,
        /// The name the file was applied as (`slos.yaml`).
        #[serde(default)]
        file: String,
        yaml: String,
        defs: Vec<Slo>,
    },
    /// The SLO stops counting events from `at` on; its versions stay.
    Retire {
        name: String,
        at: TimestampMs,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        author: Option<String>,
    },
    /// The exclusion, its id chosen by the store.
    ExclusionAdd {
        at: TimestampMs,
        exclusion: Exclusion,
    },
    ExclusionDelete {
        id: String,
        at: TimestampMs,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        author: Option<String>,
    },
    /// A deploy gate passed against its verdict: who approved it, why, and
    /// the decision (checks and numbers) it overrode.
    GateOverride {
        at: TimestampMs,
        slo: String,
        approver: String,
        reason: String,
        decision: GateDecision,
    },
}

impl Record {
    pub fn at(&self) -> TimestampMs {
        match self {
            Record::Apply { at, .. }
            | Record::Retire { at, .. }
            | Record::ExclusionAdd { at, .. }
            | Record::ExclusionDelete { at, .. }
            | Record::GateOverride { at, .. } => *at,
        }
    }

    /// The record's body, refused when it would not read back as the same
    /// record (a value JSON cannot hold, such as an infinite threshold):
    /// a record the store cannot replay must never reach the log.
    pub fn encode(&self) -> Result<Vec<u8>, SloError> {
        let body = serde_json::to_vec(self)
            .map_err(|e| SloError::Invalid(format!("cannot encode the change: {e}")))?;
        match serde_json::from_slice::<Record>(&body) {
            Ok(back) if &back == self => Ok(body),
            Ok(_) => Err(SloError::Invalid(
                "the change holds a value that cannot be stored exactly (an infinite or NaN number?)"
                    .into(),
            )),
            Err(e) => Err(SloError::Invalid(format!(
                "the change would not read back: {e}"
            ))),
        }
    }

    /// Parses a record body; the error says why, the caller adds where.
    pub fn decode(body: &[u8]) -> Result<Record, String> {
        serde_json::from_slice(body).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exclusion::{Category, Schedule, Scope};
    use crate::model::{Budgeting, Objective, RatioEvents, Selector, Sli, Window};

    fn slo(target: f64) -> Slo {
        Slo {
            name: "a".into(),
            service: "s".into(),
            description: None,
            sli: Sli::Ratio {
                events: RatioEvents::Bad(Selector::parse("e_total{c=\"5\"}").unwrap()),
                total: Selector::parse("e_total").unwrap(),
            },
            objectives: vec![Objective {
                display_name: None,
                target,
            }],
            window: Window::Rolling { ms: 3_600_000 },
            budgeting: Budgeting::Occurrences,
        }
    }

    #[test]
    fn records_round_trip_and_unstorable_values_are_refused() {
        let recs = [
            Record::Apply {
                at: 5,
                author: Some("ann".into()),
                effective_from: None,
                file: "f.yaml".into(),
                yaml: "x".into(),
                // a target whose shortest decimal form needs 17 digits
                defs: vec![slo(0.1 + 0.2 - 0.3 + 0.99)],
            },
            Record::Retire {
                name: "a".into(),
                at: 6,
                author: None,
            },
            Record::ExclusionAdd {
                at: 7,
                exclusion: Exclusion {
                    id: "1".into(),
                    scope: Scope::All,
                    schedule: Schedule::Once { start: 1, end: 2 },
                    category: Category::ThirdParty,
                    reason: "r".into(),
                    author: "b".into(),
                },
            },
            Record::ExclusionDelete {
                id: "1".into(),
                at: 8,
                author: Some("c".into()),
            },
        ];
        for r in &recs {
            let body = r.encode().unwrap();
            assert_eq!(&Record::decode(&body).unwrap(), r);
        }
        let mut bad = slo(0.9);
        bad.sli = Sli::ThresholdLatency {
            bucket: Selector::parse("h_bucket").unwrap(),
            threshold: f64::INFINITY,
        };
        let r = Record::Apply {
            at: 1,
            author: None,
            effective_from: None,
            file: String::new(),
            yaml: String::new(),
            defs: vec![bad],
        };
        assert!(matches!(r.encode(), Err(SloError::Invalid(_))));
        assert!(Record::decode(br#"{"type":"rename","at":1}"#).is_err());
    }
}
