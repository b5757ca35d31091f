//! How the query evaluator (and later the server) finds SLO definitions:
//! a trait object, so the server can plug in its durable store.

use std::collections::BTreeMap;

use crate::exclusion::Exclusion;
use crate::model::SloVersion;

pub trait SloCatalog: Send + Sync {
    /// Names of the SLOs not retired, sorted.
    fn names(&self) -> Vec<String>;
    /// The SLO's versions ordered by `effective_from`; `None` when there is
    /// no SLO of that name.
    fn versions(&self, name: &str) -> Option<Vec<SloVersion>>;
    /// The exclusions that cover the SLO.
    fn exclusions(&self, name: &str) -> Vec<Exclusion>;
}

/// A catalog held in memory (tests, one-shot tools).
#[derive(Clone, Debug, Default)]
pub struct MemCatalog {
    pub slos: BTreeMap<String, Vec<SloVersion>>,
    pub exclusions: Vec<Exclusion>,
}

impl SloCatalog for MemCatalog {
    fn names(&self) -> Vec<String> {
        self.slos
            .iter()
            .filter(|(_, v)| v.last().is_some_and(|v| v.effective_to.is_none()))
            .map(|(k, _)| k.clone())
            .collect()
    }

    fn versions(&self, name: &str) -> Option<Vec<SloVersion>> {
        self.slos.get(name).cloned()
    }

    fn exclusions(&self, name: &str) -> Vec<Exclusion> {
        self.exclusions
            .iter()
            .filter(|e| e.covers(name))
            .cloned()
            .collect()
    }
}
