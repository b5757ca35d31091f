//! The SLO layer of nines: what SLO_SEMANTICS.md promises, computed
//! exactly from the engine's rollups and raw samples.
//!
//! Module map:
//! - [`model`]: SLOs and their versions.
//! - [`openslo`]: OpenSLO v1 YAML into [`model::Slo`]s.
//! - [`calendar`]: calendar periods and time slices in a time zone.
//! - [`duration`]: OpenSLO's duration shorthand.

pub mod calendar;
pub mod duration;
pub mod error;
pub mod model;
pub mod openslo;

pub use error::{Location, SloError};
pub use model::{Budgeting, Objective, RatioEvents, Selector, Sli, Slo, SloVersion, Window};
