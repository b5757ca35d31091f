//! OpenSLO v1 YAML (`apiVersion: openslo/v1`, `kind: SLO`) into [`Slo`]s.
//!
//! Supported: an inline indicator (`spec.indicator.spec`) with a
//! `ratioMetric` (`good` or `bad`, and `total`, each a
//! `metricSource.spec.query` holding a series selector) or a
//! `thresholdMetric` (a histogram `_bucket` selector, the threshold in
//! `objectives[0].value` with `op: lte`; or any other selector, a gauge,
//! with `op` `lt`, `lte`, `gt` or `gte` and `Timeslices` or
//! `RatioTimeslices` budgeting); exactly one objective; exactly one
//! `timeWindow` (rolling `duration`, or `calendar` with `startTime` and
//! `timeZone` and a duration of `1d`, `1w`, `1M`, `1Q` or `1Y`);
//! `budgetingMethod` `Occurrences`, `Timeslices` or `RatioTimeslices`.
//! Several documents per file, separated by `---` lines. Unknown fields are
//! errors; every error names the file, the line and the field.

use serde::Deserialize;

use crate::calendar::{self, CalendarUnit};
use crate::duration::{self, Shorthand};
use crate::error::{Location, SloError};
use crate::model::{Budgeting, Comparison, Objective, RatioEvents, Selector, Sli, Slo, Window};

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Doc {
    api_version: String,
    kind: String,
    metadata: Metadata,
    spec: Spec,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Metadata {
    name: String,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    labels: Option<serde_yaml::Value>,
    #[serde(default)]
    annotations: Option<serde_yaml::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Spec {
    #[serde(default)]
    description: Option<String>,
    service: String,
    #[serde(default)]
    indicator: Option<Indicator>,
    #[serde(default)]
    indicator_ref: Option<String>,
    budgeting_method: String,
    time_window: Vec<TimeWindow>,
    objectives: Vec<ObjectiveDoc>,
    #[serde(default)]
    alert_policies: Option<serde_yaml::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Indicator {
    #[serde(default)]
    metadata: Option<Metadata>,
    spec: IndicatorSpec,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct IndicatorSpec {
    #[serde(default)]
    ratio_metric: Option<RatioMetric>,
    #[serde(default)]
    threshold_metric: Option<MetricSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RatioMetric {
    #[serde(default)]
    counter: Option<bool>,
    #[serde(default)]
    good: Option<MetricSpec>,
    #[serde(default)]
    bad: Option<MetricSpec>,
    #[serde(default)]
    total: Option<MetricSpec>,
    #[serde(default)]
    raw_type: Option<String>,
    #[serde(default)]
    raw: Option<MetricSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct MetricSpec {
    metric_source: MetricSource,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct MetricSource {
    #[serde(default)]
    metric_source_ref: Option<String>,
    #[serde(default, rename = "type")]
    source_type: Option<String>,
    spec: SourceSpec,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SourceSpec {
    query: Selector,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct TimeWindow {
    duration: String,
    #[serde(default)]
    is_rolling: Option<bool>,
    #[serde(default)]
    calendar: Option<CalendarDoc>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct CalendarDoc {
    start_time: String,
    time_zone: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ObjectiveDoc {
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    op: Option<String>,
    #[serde(default)]
    value: Option<f64>,
    #[serde(default)]
    target: Option<f64>,
    #[serde(default)]
    time_slice_target: Option<f64>,
    #[serde(default)]
    time_slice_window: Option<String>,
}

/// One document's text and the 1-based line it starts on in the file.
struct DocText<'a> {
    first_line: usize,
    text: &'a str,
}

/// Splits a YAML stream at `---` lines, dropping documents that hold only
/// comments and blank lines.
fn split_docs(text: &str) -> Vec<DocText<'_>> {
    let mut bounds: Vec<(usize, usize, usize)> = Vec::new();
    let (mut start, mut start_line, mut offset) = (0usize, 1usize, 0usize);
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let l = line.trim_end();
        if l == "---" || l.starts_with("--- ") || l == "..." {
            bounds.push((start, offset, start_line));
            start = offset + line.len();
            start_line = i + 2;
        }
        offset += line.len();
    }
    bounds.push((start, text.len(), start_line));
    bounds
        .into_iter()
        .map(|(from, to, first_line)| DocText {
            first_line,
            text: &text[from..to],
        })
        .filter(|d| {
            !d.text
                .lines()
                .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
        })
        .collect()
}

/// Parses every `kind: SLO` document of an OpenSLO v1 file. `file` names
/// the file in errors.
pub fn parse_file(file: &str, text: &str) -> Result<Vec<Slo>, SloError> {
    let mut out: Vec<Slo> = Vec::new();
    for doc in split_docs(text) {
        let slo = parse_doc(file, &doc)?;
        if out.iter().any(|s| s.name == slo.name) {
            return Err(SloError::Parse {
                at: locate(file, &doc, "metadata.name", &["name"]),
                message: format!("SLO {:?} is defined twice in this file", slo.name),
            });
        }
        out.push(slo);
    }
    Ok(out)
}

/// The location of a serde_yaml error: its line within the document and
/// the field path it prefixes its message with (`spec.objectives[0]: ...`).
fn yaml_error(file: &str, doc: &DocText<'_>, e: &serde_yaml::Error) -> SloError {
    let msg = e.to_string();
    let (field, message) = match msg.split_once(": ") {
        Some((path, rest))
            if !path.contains(' ') && !path.is_empty() && !path.starts_with("invalid") =>
        {
            (path.to_string(), rest.to_string())
        }
        _ => (String::new(), msg.clone()),
    };
    // serde_yaml appends " at line L column C"; the location says it.
    let message = match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message,
    };
    let (line, column) = e.location().map_or((doc.first_line, 0), |l| {
        (doc.first_line + l.line() - 1, l.column())
    });
    SloError::Parse {
        at: Location {
            file: file.to_string(),
            line,
            column,
            field,
        },
        message,
    }
}

/// The line of the first `key:` in the document (for errors found after
/// deserialising), else the document's first line.
fn locate(file: &str, doc: &DocText<'_>, field: &str, keys: &[&str]) -> Location {
    let mut line = doc.first_line;
    let mut from = 0usize;
    // follow the keys in order so that `spec.objectives` finds the spec's
    for key in keys {
        let pat = format!("{key}:");
        if let Some((i, _)) = doc
            .text
            .lines()
            .enumerate()
            .skip(from)
            .find(|(_, l)| l.trim_start().trim_start_matches("- ").starts_with(&pat))
        {
            line = doc.first_line + i;
            from = i;
        }
    }
    Location {
        file: file.to_string(),
        line,
        column: 0,
        field: field.to_string(),
    }
}

fn parse_doc(file: &str, doc: &DocText<'_>) -> Result<Slo, SloError> {
    let d: Doc = serde_yaml::from_str(doc.text).map_err(|e| yaml_error(file, doc, &e))?;
    let fail = |field: &str, keys: &[&str], message: String| SloError::Parse {
        at: locate(file, doc, field, keys),
        message,
    };
    if d.api_version != "openslo/v1" {
        return Err(fail(
            "apiVersion",
            &["apiVersion"],
            format!(
                "apiVersion {:?} is not supported; use openslo/v1",
                d.api_version
            ),
        ));
    }
    if d.kind != "SLO" {
        return Err(fail(
            "kind",
            &["kind"],
            format!("kind {:?} is not supported; only kind: SLO", d.kind),
        ));
    }
    let _ = (
        &d.metadata.display_name,
        &d.metadata.labels,
        &d.metadata.annotations,
    );
    let name = d.metadata.name;
    if name.is_empty()
        || name.len() > 63
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        || name.starts_with('-')
        || name.ends_with('-')
    {
        return Err(fail(
            "metadata.name",
            &["metadata", "name"],
            format!("name {name:?} must be 1 to 63 lowercase letters, digits or '-', starting and ending with a letter or digit"),
        ));
    }
    let spec = d.spec;
    let _ = &spec.alert_policies;
    if spec.indicator_ref.is_some() {
        return Err(fail(
            "spec.indicatorRef",
            &["spec", "indicatorRef"],
            "indicatorRef is not supported; give the indicator inline (spec.indicator)".into(),
        ));
    }
    let Some(indicator) = spec.indicator else {
        return Err(fail(
            "spec.indicator",
            &["spec"],
            "missing field `indicator`".into(),
        ));
    };
    let _ = &indicator.metadata;
    let [objective] = <[ObjectiveDoc; 1]>::try_from(spec.objectives).map_err(|v| {
        fail(
            "spec.objectives",
            &["spec", "objectives"],
            format!("exactly one objective is supported, found {}", v.len()),
        )
    })?;
    let target = objective.target.ok_or_else(|| {
        fail(
            "spec.objectives[0].target",
            &["spec", "objectives"],
            "missing field `target`".into(),
        )
    })?;
    if !(target > 0.0 && target < 1.0) {
        return Err(fail(
            "spec.objectives[0].target",
            &["spec", "objectives", "target"],
            format!("target {target} must be in (0, 1), e.g. 0.999"),
        ));
    }
    let sli = match (indicator.spec.ratio_metric, indicator.spec.threshold_metric) {
        (Some(r), None) => ratio_sli(r, &fail)?,
        (None, Some(t)) => {
            let sel = t.metric_source.spec.query;
            let _ = (
                &t.metric_source.metric_source_ref,
                &t.metric_source.source_type,
            );
            let histogram = sel
                .matchers()
                .iter()
                .any(|m| m.name == "__name__" && m.value.ends_with("_bucket"));
            let value = objective.value.filter(|v| !v.is_nan()).ok_or_else(|| {
                fail(
                    "spec.objectives[0].value",
                    &["spec", "objectives"],
                    "a thresholdMetric needs the threshold in objectives[0].value".into(),
                )
            })?;
            if histogram {
                match objective.op.as_deref() {
                    None | Some("lte") => {}
                    Some(op) => {
                        return Err(fail(
                            "spec.objectives[0].op",
                            &["spec", "objectives", "op"],
                            format!("op {op:?} is not supported for a histogram threshold; buckets count values <= le, so use lte"),
                        ))
                    }
                }
                Sli::ThresholdLatency {
                    bucket: sel,
                    threshold: value,
                }
            } else {
                // a gauge: each sample is good when it meets the bound
                let op = objective.op.as_deref().ok_or_else(|| {
                    fail(
                        "spec.objectives[0].op",
                        &["spec", "objectives"],
                        "a gauge thresholdMetric needs op (lt, lte, gt or gte)".into(),
                    )
                })?;
                let op = Comparison::parse(op).ok_or_else(|| {
                    fail(
                        "spec.objectives[0].op",
                        &["spec", "objectives", "op"],
                        format!("op {op:?} is not one of lt, lte, gt, gte"),
                    )
                })?;
                if spec.budgeting_method == "Occurrences" {
                    return Err(fail(
                        "spec.budgetingMethod",
                        &["spec", "budgetingMethod"],
                        format!(
                            "{} selects a gauge (not name_bucket{{...}}): a gauge threshold is windows-based, so budgetingMethod must be Timeslices or RatioTimeslices",
                            sel.text()
                        ),
                    ));
                }
                Sli::GaugeThreshold {
                    gauge: sel,
                    op,
                    value,
                }
            }
        }
        _ => {
            return Err(fail(
                "spec.indicator.spec",
                &["spec", "indicator", "spec"],
                "the indicator needs exactly one of ratioMetric and thresholdMetric".into(),
            ))
        }
    };
    let [tw] = <[TimeWindow; 1]>::try_from(spec.time_window).map_err(|v| {
        fail(
            "spec.timeWindow",
            &["spec", "timeWindow"],
            format!("exactly one time window is supported, found {}", v.len()),
        )
    })?;
    let window = time_window(tw, &fail)?;
    let slice = |name: &str| -> Result<i64, SloError> {
        let text = objective.time_slice_window.as_deref().ok_or_else(|| {
            fail(
                "spec.objectives[0].timeSliceWindow",
                &["spec", "objectives"],
                format!("{name} budgeting needs timeSliceWindow"),
            )
        })?;
        let ms = duration::parse_fixed(text).map_err(|m| {
            fail(
                "spec.objectives[0].timeSliceWindow",
                &["spec", "objectives", "timeSliceWindow"],
                m,
            )
        })?;
        if !calendar::valid_slice(ms) {
            return Err(fail(
                "spec.objectives[0].timeSliceWindow",
                &["spec", "objectives", "timeSliceWindow"],
                format!("time slice {text:?} must divide a day (1m, 5m, 1h, 1d, ...)"),
            ));
        }
        Ok(ms)
    };
    let budgeting = match spec.budgeting_method.as_str() {
        "Occurrences" => Budgeting::Occurrences,
        "Timeslices" => {
            let slice_ms = slice("Timeslices")?;
            let slice_target = objective.time_slice_target.ok_or_else(|| {
                fail(
                    "spec.objectives[0].timeSliceTarget",
                    &["spec", "objectives"],
                    "Timeslices budgeting needs timeSliceTarget".into(),
                )
            })?;
            if !(slice_target > 0.0 && slice_target <= 1.0) {
                return Err(fail(
                    "spec.objectives[0].timeSliceTarget",
                    &["spec", "objectives", "timeSliceTarget"],
                    format!("timeSliceTarget {slice_target} must be in (0, 1]"),
                ));
            }
            Budgeting::Timeslices {
                slice_ms,
                slice_target,
            }
        }
        "RatioTimeslices" => Budgeting::RatioTimeslices {
            slice_ms: slice("RatioTimeslices")?,
        },
        other => {
            return Err(fail(
                "spec.budgetingMethod",
                &["spec", "budgetingMethod"],
                format!(
                "budgetingMethod {other:?} is not one of Occurrences, Timeslices, RatioTimeslices"
            ),
            ))
        }
    };
    Ok(Slo {
        name,
        service: spec.service,
        description: spec.description,
        sli,
        objectives: vec![Objective {
            display_name: objective.display_name,
            target,
        }],
        window,
        budgeting,
    })
}

fn ratio_sli(
    r: RatioMetric,
    fail: &dyn Fn(&str, &[&str], String) -> SloError,
) -> Result<Sli, SloError> {
    const AT: &str = "spec.indicator.spec.ratioMetric";
    if r.counter == Some(false) {
        return Err(fail(
            &format!("{AT}.counter"),
            &["ratioMetric", "counter"],
            "counter: false (gauge ratios) is not supported; good, bad and total must be counters"
                .into(),
        ));
    }
    if r.raw.is_some() || r.raw_type.is_some() {
        return Err(fail(
            &format!("{AT}.raw"),
            &["ratioMetric", "raw"],
            "raw ratio metrics are not supported; give good or bad, and total".into(),
        ));
    }
    let query = |m: MetricSpec| {
        let _ = (
            &m.metric_source.metric_source_ref,
            &m.metric_source.source_type,
        );
        m.metric_source.spec.query
    };
    let events = match (r.good, r.bad) {
        (Some(g), None) => RatioEvents::Good(query(g)),
        (None, Some(b)) => RatioEvents::Bad(query(b)),
        _ => {
            return Err(fail(
                AT,
                &["ratioMetric"],
                "ratioMetric needs exactly one of good and bad".into(),
            ))
        }
    };
    let total = r.total.map(query).ok_or_else(|| {
        fail(
            &format!("{AT}.total"),
            &["ratioMetric"],
            "missing field `total`".into(),
        )
    })?;
    Ok(Sli::Ratio { events, total })
}

fn time_window(
    tw: TimeWindow,
    fail: &dyn Fn(&str, &[&str], String) -> SloError,
) -> Result<Window, SloError> {
    const AT: &str = "spec.timeWindow[0]";
    let dur = duration::parse(&tw.duration)
        .map_err(|m| fail(&format!("{AT}.duration"), &["timeWindow", "duration"], m))?;
    match (tw.is_rolling.unwrap_or(tw.calendar.is_none()), tw.calendar) {
        (true, None) => match dur {
            Shorthand::Fixed(ms) => Ok(Window::Rolling { ms }),
            Shorthand::Calendar(..) => Err(fail(
                &format!("{AT}.duration"),
                &["timeWindow", "duration"],
                format!(
                    "a rolling window needs a fixed length (s, m, h, d, w), not {:?}; months are calendar windows",
                    tw.duration
                ),
            )),
        },
        (false, Some(cal)) => {
            let unit = match dur {
                Shorthand::Fixed(86_400_000) => CalendarUnit::Day,
                Shorthand::Fixed(604_800_000) => CalendarUnit::Week,
                Shorthand::Calendar(1, u) => u,
                _ => {
                    return Err(fail(
                        &format!("{AT}.duration"),
                        &["timeWindow", "duration"],
                        format!(
                            "a calendar window is one of 1d, 1w, 1M, 1Q, 1Y, not {:?}",
                            tw.duration
                        ),
                    ))
                }
            };
            calendar::zone(&cal.time_zone).map_err(|e| {
                fail(
                    &format!("{AT}.calendar.timeZone"),
                    &["timeWindow", "calendar", "timeZone"],
                    e.to_string(),
                )
            })?;
            let st = cal.start_time.trim();
            if st.parse::<jiff::civil::DateTime>().is_err()
                && st.replacen(' ', "T", 1).parse::<jiff::civil::DateTime>().is_err()
            {
                return Err(fail(
                    &format!("{AT}.calendar.startTime"),
                    &["timeWindow", "calendar", "startTime"],
                    format!("startTime {st:?} is not a date and time like 2024-01-01 00:00:00"),
                ));
            }
            Ok(Window::Calendar {
                unit,
                tz: cal.time_zone,
            })
        }
        (true, Some(_)) => Err(fail(
            &format!("{AT}.isRolling"),
            &["timeWindow", "isRolling"],
            "a window with a calendar cannot be rolling".into(),
        )),
        (false, None) => Err(fail(
            &format!("{AT}.calendar"),
            &["timeWindow"],
            "a window that is not rolling needs calendar (startTime, timeZone)".into(),
        )),
    }
}

#[cfg(test)]
mod tests;
