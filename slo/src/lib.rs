//! The SLO layer of nines: what SLO_SEMANTICS.md promises, computed
//! exactly from the engine's rollups and raw samples.
//!
//! Module map:
//! - [`model`]: SLOs and their versions.
//! - [`openslo`]: OpenSLO v1 YAML into [`model::Slo`]s.
//! - [`calendar`]: calendar periods and time slices in a time zone.
//! - [`duration`]: OpenSLO's duration shorthand.
//! - [`exclusion`]: maintenance windows and corrections, one-off or
//!   recurring.
//! - [`count`]: exact good/total events over windows with holes, from
//!   `Snapshot::summarize`.
//! - [`numbers`]: the pure functions from counts to SLI, burn rate,
//!   budget, compliance.
//! - [`sums`]: per-selector event sums of sealed time, shared by every
//!   query, so long windows cost a few hundred additions.
//! - [`report`]: the operators' answers for one SLO (versions and
//!   exclusions applied).
//! - [`catalog`]: how the query evaluator finds SLO definitions.
//! - [`alerting`]: multi-window, multi-burn-rate rules and their state.
//! - [`incidents`]: breach intervals and the deploys before them.
//! - [`gate`]: the deploy gate's checks and verdict.
//! - [`compliance`]: compliance reports per SLO and calendar period, and
//!   their deterministic CSV/JSON with a digest.
//! - [`store`]: the durable store of definitions, versions and exclusions
//!   (a hash-chained log), the server's catalog; its changes are what the
//!   audit log hears about.
//!
//! Data path: `report::SloEval::totals` → per version, the included pieces
//! of the window → `count::Counter::count` → `Snapshot::summarize` per
//! series and piece → `numbers`.

pub mod alerting;
pub mod calendar;
pub mod catalog;
pub mod compliance;
pub mod count;
pub mod duration;
pub mod error;
pub mod exclusion;
pub mod gate;
pub mod incidents;
pub mod model;
pub mod numbers;
pub mod openslo;
pub mod report;
pub mod store;
pub mod sums;

pub use error::{Location, SloError};
pub use model::{Budgeting, Objective, RatioEvents, Selector, Sli, Slo, SloVersion, Window};
