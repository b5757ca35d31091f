//! Results in one shape for both systems (parsed from Prometheus's API JSON,
//! which nines produces with `Value::to_json`), and the comparison rules.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value as Json;

type LabelSet = BTreeMap<String, String>;

/// A query's answer.
#[derive(Clone, Debug)]
pub enum Answer {
    Scalar(i64, f64),
    String(i64, String),
    /// In result order.
    Vector(Vec<(LabelSet, i64, f64)>),
    Matrix(Vec<(LabelSet, Vec<(i64, f64)>)>),
    Error(String),
}

fn time_ms(j: &Json) -> Result<i64, String> {
    let secs = j
        .as_f64()
        .ok_or_else(|| format!("time {j} is not a number"))?;
    Ok((secs * 1000.0).round() as i64)
}

fn value(j: &Json) -> Result<f64, String> {
    let s = j
        .as_str()
        .ok_or_else(|| format!("value {j} is not a string"))?;
    s.parse::<f64>().map_err(|e| format!("value {s:?}: {e}"))
}

fn point(j: &Json) -> Result<(i64, f64), String> {
    match j.as_array().map(Vec::as_slice) {
        Some([t, v]) => Ok((time_ms(t)?, value(v)?)),
        _ => Err(format!("point {j} is not [time, value]")),
    }
}

fn labels(j: &Json) -> Result<LabelSet, String> {
    let m = j
        .as_object()
        .ok_or_else(|| format!("metric {j} is not an object"))?;
    m.iter()
        .map(|(k, v)| {
            v.as_str()
                .map(|v| (k.clone(), v.to_string()))
                .ok_or_else(|| format!("label {k} is not a string"))
        })
        .collect()
}

impl Answer {
    /// From a whole API response (`{"status": ..., "data"|"error": ...}`).
    pub fn from_response(resp: &Json) -> Answer {
        match resp.get("status").and_then(Json::as_str) {
            Some("success") => match resp.get("data") {
                Some(data) => Answer::from_data(data)
                    .unwrap_or_else(|e| Answer::Error(format!("unreadable answer: {e}"))),
                None => Answer::Error("success without data".into()),
            },
            _ => Answer::Error(format!(
                "{}: {}",
                resp.get("errorType").and_then(Json::as_str).unwrap_or("?"),
                resp.get("error").and_then(Json::as_str).unwrap_or("?")
            )),
        }
    }

    /// From the `data` object (`{"resultType": ..., "result": ...}`).
    pub fn from_data(data: &Json) -> Result<Answer, String> {
        let result = data.get("result").ok_or("no result")?;
        let items = || result.as_array().ok_or("result is not an array");
        match data.get("resultType").and_then(Json::as_str) {
            Some("scalar") => point(result).map(|(t, v)| Answer::Scalar(t, v)),
            Some("string") => match result.as_array().map(Vec::as_slice) {
                Some([t, Json::String(s)]) => Ok(Answer::String(time_ms(t)?, s.clone())),
                _ => Err(format!("bad string result {result}")),
            },
            Some("vector") => items()?
                .iter()
                .map(|s| {
                    let (t, v) = point(s.get("value").ok_or("no value")?)?;
                    Ok((labels(s.get("metric").ok_or("no metric")?)?, t, v))
                })
                .collect::<Result<_, String>>()
                .map(Answer::Vector),
            Some("matrix") => items()?
                .iter()
                .map(|s| {
                    let pts = s
                        .get("values")
                        .and_then(Json::as_array)
                        .ok_or("no values")?
                        .iter()
                        .map(point)
                        .collect::<Result<_, _>>()?;
                    Ok((labels(s.get("metric").ok_or("no metric")?)?, pts))
                })
                .collect::<Result<_, String>>()
                .map(Answer::Matrix),
            other => Err(format!("unknown resultType {other:?}")),
        }
    }
}

/// Equal within 1e-9 relative; NaN equals NaN; infinities exactly.
pub fn close(a: f64, b: f64) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    if a == b {
        return true;
    }
    if a.is_infinite() || b.is_infinite() {
        return false;
    }
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

/// Why two answers differ (the first difference found), or `None`.
/// `ordered`: the vector's order matters (sort, sort_desc, topk, bottomk);
/// then the values must come in the same order (labels of equal values may
/// come in any order, as Prometheus does not order ties).
pub fn diff(prom: &Answer, nines: &Answer, ordered: bool) -> Option<String> {
    match (prom, nines) {
        (Answer::Error(_), Answer::Error(_)) => None,
        (Answer::Scalar(t1, v1), Answer::Scalar(t2, v2)) => {
            (t1 != t2 || !close(*v1, *v2)).then(|| format!("scalar {v1:?}@{t1} vs {v2:?}@{t2}"))
        }
        (Answer::String(t1, s1), Answer::String(t2, s2)) => {
            (t1 != t2 || s1 != s2).then(|| format!("string {s1:?}@{t1} vs {s2:?}@{t2}"))
        }
        (Answer::Vector(a), Answer::Vector(b)) => {
            let ma: BTreeMap<_, _> = a.iter().map(|(l, t, v)| (l, (*t, *v))).collect();
            let mb: BTreeMap<_, _> = b.iter().map(|(l, t, v)| (l, (*t, *v))).collect();
            if ma.len() != a.len() || mb.len() != b.len() {
                return Some("duplicate label sets in a vector".into());
            }
            if let Some(d) = diff_sets(&ma, &mb, |(t1, v1), (t2, v2)| {
                (t1 != t2 || !close(*v1, *v2)).then(|| format!("{v1:?}@{t1} vs {v2:?}@{t2}"))
            }) {
                return Some(d);
            }
            if ordered {
                for (i, ((_, _, v1), (_, _, v2))) in a.iter().zip(b).enumerate() {
                    if !close(*v1, *v2) {
                        return Some(format!("order differs at {i}: {v1:?} vs {v2:?}"));
                    }
                }
            }
            None
        }
        (Answer::Matrix(a), Answer::Matrix(b)) => {
            let ma: BTreeMap<_, _> = a.iter().map(|(l, p)| (l, p)).collect();
            let mb: BTreeMap<_, _> = b.iter().map(|(l, p)| (l, p)).collect();
            if ma.len() != a.len() || mb.len() != b.len() {
                return Some("duplicate label sets in a matrix".into());
            }
            diff_sets(&ma, &mb, |pa, pb| {
                let ta: Vec<i64> = pa.iter().map(|p| p.0).collect();
                let tb: Vec<i64> = pb.iter().map(|p| p.0).collect();
                if ta != tb {
                    let first = ta
                        .iter()
                        .zip(&tb)
                        .position(|(x, y)| x != y)
                        .unwrap_or(ta.len().min(tb.len()));
                    return Some(format!(
                        "timestamps differ ({} vs {} points; first at index {first}: {:?} vs {:?})",
                        ta.len(),
                        tb.len(),
                        ta.get(first),
                        tb.get(first)
                    ));
                }
                pa.iter()
                    .zip(pb.iter())
                    .find(|(x, y)| !close(x.1, y.1))
                    .map(|(x, y)| format!("at {}: {:?} vs {:?}", x.0, x.1, y.1))
            })
        }
        (a, b) => Some(format!("{} vs {}", Short(a), Short(b))),
    }
}

fn diff_sets<V>(
    a: &BTreeMap<&LabelSet, V>,
    b: &BTreeMap<&LabelSet, V>,
    cmp: impl Fn(&V, &V) -> Option<String>,
) -> Option<String> {
    let only_a: Vec<_> = a.keys().filter(|k| !b.contains_key(*k)).collect();
    let only_b: Vec<_> = b.keys().filter(|k| !a.contains_key(*k)).collect();
    if !only_a.is_empty() || !only_b.is_empty() {
        return Some(format!(
            "label sets differ: {} series only in Prometheus (first {}), {} only in nines (first {})",
            only_a.len(),
            only_a.first().map(|l| fmt_labels(l)).unwrap_or_default(),
            only_b.len(),
            only_b.first().map(|l| fmt_labels(l)).unwrap_or_default(),
        ));
    }
    a.iter().find_map(|(l, va)| {
        let vb = b.get(l)?;
        cmp(va, vb).map(|d| format!("{}: {d}", fmt_labels(l)))
    })
}

fn fmt_labels(l: &LabelSet) -> String {
    let inner: Vec<String> = l.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", inner.join(", "))
}

/// A one-line summary of an answer for reports.
pub struct Short<'a>(pub &'a Answer);

impl fmt::Display for Short<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Answer::Scalar(t, v) => write!(f, "scalar {v:?} @{t}"),
            Answer::String(t, s) => write!(f, "string {s:?} @{t}"),
            Answer::Vector(v) => {
                write!(f, "vector of {}", v.len())?;
                for (l, t, x) in v.iter().take(3) {
                    write!(f, "; {} {x:?} @{t}", fmt_labels(l))?;
                }
                Ok(())
            }
            Answer::Matrix(m) => {
                let pts: usize = m.iter().map(|s| s.1.len()).sum();
                write!(f, "matrix of {} series, {pts} points", m.len())?;
                if let Some((l, p)) = m.first() {
                    write!(
                        f,
                        "; {} first {:?}",
                        fmt_labels(l),
                        p.iter().take(3).collect::<Vec<_>>()
                    )?;
                }
                Ok(())
            }
            Answer::Error(e) => write!(f, "error: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vector(items: &[(&str, f64)]) -> Answer {
        Answer::Vector(
            items
                .iter()
                .map(|(inst, v)| {
                    (
                        BTreeMap::from([("instance".to_string(), inst.to_string())]),
                        1000,
                        *v,
                    )
                })
                .collect(),
        )
    }

    #[test]
    fn values_compare_within_1e9_relative() {
        assert!(close(f64::NAN, f64::NAN));
        assert!(close(1.0, 1.0 + 1e-12));
        assert!(close(f64::INFINITY, f64::INFINITY));
        assert!(!close(1.0, 1.0 + 1e-8));
        assert!(!close(f64::NAN, 0.0));
        assert!(!close(f64::INFINITY, f64::MAX));
        assert!(!close(0.0, 1e-300));
    }

    #[test]
    fn vectors_compare_as_sets_unless_ordered() {
        let a = vector(&[("a", 1.0), ("b", 2.0)]);
        let b = vector(&[("b", 2.0), ("a", 1.0)]);
        assert!(diff(&a, &b, false).is_none());
        assert!(diff(&a, &b, true).is_some());
        assert!(diff(&a, &vector(&[("a", 1.0)]), false).is_some());
        assert!(diff(&a, &vector(&[("a", 1.0), ("c", 2.0)]), false).is_some());
        assert!(diff(&a, &vector(&[("a", 1.0), ("b", 2.5)]), false).is_some());
        assert!(diff(&a, &Answer::Error("x".into()), false).is_some());
        assert!(diff(
            &Answer::Error("x".into()),
            &Answer::Error("y".into()),
            false
        )
        .is_none());
    }

    #[test]
    fn api_json_is_read() {
        let resp = json!({"status": "success", "data": {"resultType": "matrix", "result": [
            {"metric": {"a": "b"}, "values": [[1767571200.5, "NaN"], [1767571201, "+Inf"]]}
        ]}});
        match Answer::from_response(&resp) {
            Answer::Matrix(m) => {
                assert_eq!(m[0].1[0].0, 1_767_571_200_500);
                assert!(m[0].1[0].1.is_nan());
                assert_eq!(m[0].1[1], (1_767_571_201_000, f64::INFINITY));
            }
            other => panic!("{}", Short(&other)),
        }
        let err = json!({"status": "error", "errorType": "bad_data", "error": "parse error"});
        assert!(matches!(Answer::from_response(&err), Answer::Error(_)));
    }
}
