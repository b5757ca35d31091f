//! Query results and their Prometheus HTTP API JSON encoding
//! (`{"resultType": ..., "result": ...}`), shared by the CLI and the server.

use nines_engine::Labels;
use serde_json::{json, Map, Value as Json};

/// One element of an instant vector.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub labels: Labels,
    /// Milliseconds.
    pub t: i64,
    pub v: f64,
}

/// One series of a range vector or a range query result.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub labels: Labels,
    /// (milliseconds, value), in time order.
    pub points: Vec<(i64, f64)>,
}

/// A query's result.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Scalar { t: i64, v: f64 },
    String { t: i64, s: String },
    Vector(Vec<Sample>),
    Matrix(Vec<Series>),
}

impl Value {
    /// Prometheus's `resultType`.
    pub fn result_type(&self) -> &'static str {
        match self {
            Value::Scalar { .. } => "scalar",
            Value::String { .. } => "string",
            Value::Vector(_) => "vector",
            Value::Matrix(_) => "matrix",
        }
    }

    /// The `data` object of a Prometheus query response.
    pub fn to_json(&self) -> Json {
        let result = match self {
            Value::Scalar { t, v } => json!([format_time(*t), format_value(*v)]),
            Value::String { t, s } => json!([format_time(*t), s]),
            Value::Vector(samples) => Json::Array(
                samples
                    .iter()
                    .map(|s| json!({"metric": labels_json(&s.labels), "value": [format_time(s.t), format_value(s.v)]}))
                    .collect(),
            ),
            Value::Matrix(series) => Json::Array(
                series
                    .iter()
                    .map(|s| {
                        json!({
                            "metric": labels_json(&s.labels),
                            "values": s.points.iter().map(|(t, v)| json!([format_time(*t), format_value(*v)])).collect::<Vec<_>>(),
                        })
                    })
                    .collect(),
            ),
        };
        json!({"resultType": self.result_type(), "result": result})
    }

    /// The whole success response: `{"status":"success","data":{...}}`.
    pub fn to_response_json(&self) -> Json {
        json!({"status": "success", "data": self.to_json()})
    }
}

pub fn labels_json(labels: &Labels) -> Json {
    let mut m = Map::new();
    for l in labels.iter() {
        m.insert(l.name.clone(), Json::String(l.value.clone()));
    }
    Json::Object(m)
}

/// A sample value as Prometheus writes it: the shortest decimal that
/// round-trips, without an exponent; `NaN`, `+Inf`, `-Inf`.
pub fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        // Rust's Display is the shortest round-trip decimal, never
        // exponential: the same digits as Go's FormatFloat(v, 'f', -1, 64).
        format!("{v}")
    }
}

/// A timestamp as a JSON number of seconds with up to millisecond digits
/// (`1700000000.123`), as Prometheus writes it.
pub fn format_time(ms: i64) -> Json {
    let sign = if ms < 0 { "-" } else { "" };
    let abs = ms.unsigned_abs();
    let (secs, frac) = (abs / 1000, abs % 1000);
    let text = if frac == 0 {
        format!("{sign}{secs}")
    } else {
        let digits = format!("{frac:03}");
        format!("{sign}{secs}.{}", digits.trim_end_matches('0'))
    };
    serde_json::from_str(&text).unwrap_or(Json::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_and_times_print_like_prometheus() {
        assert_eq!(format_value(1.0), "1");
        assert_eq!(format_value(0.1), "0.1");
        assert_eq!(format_value(1e21), "1000000000000000000000");
        assert_eq!(format_value(1e-7), "0.0000001");
        assert_eq!(format_value(-0.0), "-0");
        assert_eq!(format_value(f64::NAN), "NaN");
        assert_eq!(format_value(f64::NEG_INFINITY), "-Inf");
        assert_eq!(format_time(1_700_000_000_123).to_string(), "1700000000.123");
        assert_eq!(format_time(1_700_000_000_100).to_string(), "1700000000.1");
        assert_eq!(format_time(1_700_000_000_000).to_string(), "1700000000");
        assert_eq!(format_time(-1500).to_string(), "-1.5");
        assert_eq!(format_time(-500).to_string(), "-0.5");
    }

    #[test]
    fn json_shapes() {
        let v = Value::Vector(vec![Sample {
            labels: Labels::from_pairs(&[("__name__", "up"), ("job", "a")]),
            t: 1000,
            v: 1.0,
        }]);
        assert_eq!(
            v.to_response_json().to_string(),
            r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"up","job":"a"},"value":[1,"1"]}]}}"#
        );
        let s = Value::Scalar { t: 1500, v: 2.5 };
        assert_eq!(
            s.to_json().to_string(),
            r#"{"resultType":"scalar","result":[1.5,"2.5"]}"#
        );
    }
}
