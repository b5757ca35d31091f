//! The SLO data model: definitions, their versions and exclusions. Times are
//! milliseconds since the Unix epoch (UTC), as everywhere in nines.

use nines_engine::index::{parse_selector, Matcher};
use nines_engine::TimestampMs;
use serde::{Deserialize, Serialize};

use crate::calendar::CalendarUnit;

/// A series selector as written (`http_requests_total{code=~"5.."}`) with
/// its parsed matchers. Serialised as its text.
#[derive(Clone, Debug)]
pub struct Selector {
    text: String,
    matchers: Vec<Matcher>,
}

impl Selector {
    /// Parses with the engine's selector parser.
    pub fn parse(text: &str) -> Result<Selector, String> {
        let matchers = parse_selector(text).map_err(|e| e.to_string())?;
        Ok(Selector {
            text: text.trim().to_string(),
            matchers,
        })
    }

    /// Wraps matchers already parsed (by the query parser); `text` is how
    /// they print.
    pub fn from_matchers(text: String, matchers: Vec<Matcher>) -> Selector {
        Selector { text, matchers }
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn matchers(&self) -> &[Matcher] {
        &self.matchers
    }
}

impl PartialEq for Selector {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Serialize for Selector {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Selector {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Selector, D::Error> {
        let text = String::deserialize(d)?;
        Selector::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Which events a ratio SLI's first selector counts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RatioEvents {
    Good(Selector),
    Bad(Selector),
}

/// The service level indicator.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sli {
    /// Good (or bad) events over total events, each a counter selector.
    Ratio {
        events: RatioEvents,
        total: Selector,
    },
    /// A classic histogram: good events are those in the bucket whose `le`
    /// edge equals `threshold`, total events its `_count`.
    ThresholdLatency {
        /// Selects the `_bucket` series (any `le`).
        bucket: Selector,
        /// The threshold, compared with each series' `le` parsed as a
        /// number (so `1`, `1.0` and `1e0` are the same edge).
        threshold: f64,
    },
    /// A gauge and a bound (`value <= 0.3`), windows-based only (time
    /// slices): each sample is an event, good when it meets the bound, so a
    /// slice's ratio is its good samples over its samples. Counted from raw
    /// samples, so answered within raw retention.
    GaugeThreshold {
        gauge: Selector,
        op: Comparison,
        value: f64,
    },
}

/// How a gauge sample is compared with a gauge threshold SLI's bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Comparison {
    Lt,
    Lte,
    Gt,
    Gte,
}

impl Comparison {
    /// OpenSLO's spelling: `lt`, `lte`, `gt`, `gte`.
    pub fn parse(op: &str) -> Option<Comparison> {
        Some(match op {
            "lt" => Comparison::Lt,
            "lte" => Comparison::Lte,
            "gt" => Comparison::Gt,
            "gte" => Comparison::Gte,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Comparison::Lt => "lt",
            Comparison::Lte => "lte",
            Comparison::Gt => "gt",
            Comparison::Gte => "gte",
        }
    }

    /// Whether sample `v` meets the bound (NaN never does).
    pub fn holds(self, v: f64, bound: f64) -> bool {
        match self {
            Comparison::Lt => v < bound,
            Comparison::Lte => v <= bound,
            Comparison::Gt => v > bound,
            Comparison::Gte => v >= bound,
        }
    }
}

/// The period a budget is measured over.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Window {
    /// The last `ms` milliseconds, ending at the evaluation time.
    Rolling { ms: i64 },
    /// The calendar period containing the evaluation time, in `tz` (an
    /// IANA zone name).
    Calendar { unit: CalendarUnit, tz: String },
}

/// How the budget is counted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Budgeting {
    /// Events: good and total are event counts.
    Occurrences,
    /// Slices of `slice_ms`: a slice is good when its ratio is at least
    /// `slice_target`; good and total count slices.
    Timeslices { slice_ms: i64, slice_target: f64 },
    /// Slices of `slice_ms`: the SLI is the mean of the slices' ratios.
    RatioTimeslices { slice_ms: i64 },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Objective {
    pub display_name: Option<String>,
    /// The objective `T`, in (0, 1).
    pub target: f64,
}

/// One SLO definition (what a version holds).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Slo {
    pub name: String,
    pub service: String,
    pub description: Option<String>,
    pub sli: Sli,
    /// Exactly one (the OpenSLO parser refuses more); kept a list to follow
    /// OpenSLO's shape.
    pub objectives: Vec<Objective>,
    pub window: Window,
    pub budgeting: Budgeting,
}

impl Slo {
    /// The objective `T`.
    pub fn target(&self) -> f64 {
        self.objectives.first().map_or(f64::NAN, |o| o.target)
    }

    /// The time zone that calendar periods and time slices align to: the
    /// calendar window's, or UTC for rolling windows.
    pub fn tz_name(&self) -> &str {
        match &self.window {
            Window::Calendar { tz, .. } => tz,
            Window::Rolling { .. } => "UTC",
        }
    }
}

/// An immutable version of an SLO. Versions of one SLO are ordered by
/// `effective_from`; each governs the event times from its `effective_from`
/// (the first also all time before it) up to the next one's, or up to its
/// own `effective_to` when that is earlier (set when the SLO is retired; a
/// retired SLO applied again leaves a gap that counts for nothing).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SloVersion {
    pub version: u32,
    pub effective_from: TimestampMs,
    pub effective_to: Option<TimestampMs>,
    pub def: Slo,
}
