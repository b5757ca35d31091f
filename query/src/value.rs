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

    /// The whole success response written straight out, byte for byte what
    /// `to_response_json().to_string()` prints, with `warnings` after `data`
    /// when there are any. A 7-day panel at 5-minute steps is thousands of
    /// points: building a `serde_json::Value` per point cost more than
    /// evaluating the query.
    pub fn write_response(&self, warnings: &[&str], out: &mut Vec<u8>) {
        out.extend_from_slice(br#"{"status":"success","data":"#);
        self.write_data(out);
        Value::write_warnings(warnings, out);
        out.push(b'}');
    }

    /// `,"warnings":[...]` when there are any.
    pub(crate) fn write_warnings(warnings: &[&str], out: &mut Vec<u8>) {
        if warnings.is_empty() {
            return;
        }
        out.extend_from_slice(br#","warnings":["#);
        for (i, w) in warnings.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_json_str(w, out);
        }
        out.push(b']');
    }

    /// The `data` object, as [`Value::to_json`] prints it.
    pub fn write_data(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(br#"{"resultType":""#);
        out.extend_from_slice(self.result_type().as_bytes());
        out.extend_from_slice(br#"","result":"#);
        match self {
            Value::Scalar { t, v } => write_point(*t, *v, out),
            Value::String { t, s } => {
                out.push(b'[');
                write_time(*t, out);
                out.push(b',');
                write_json_str(s, out);
                out.push(b']');
            }
            Value::Vector(samples) => {
                out.push(b'[');
                for (i, s) in samples.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    out.extend_from_slice(br#"{"metric":"#);
                    write_labels(&s.labels, out);
                    out.extend_from_slice(br#","value":"#);
                    write_point(s.t, s.v, out);
                    out.push(b'}');
                }
                out.push(b']');
            }
            Value::Matrix(series) => {
                out.push(b'[');
                for (i, s) in series.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    out.extend_from_slice(br#"{"metric":"#);
                    write_labels(&s.labels, out);
                    out.extend_from_slice(br#","values":["#);
                    for (j, &(t, v)) in s.points.iter().enumerate() {
                        if j > 0 {
                            out.push(b',');
                        }
                        write_point(t, v, out);
                    }
                    out.extend_from_slice(b"]}");
                }
                out.push(b']');
            }
        }
        out.push(b'}');
    }
}

/// A JSON string with serde_json's escaping.
fn write_json_str(s: &str, out: &mut Vec<u8>) {
    // Writing to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

pub(crate) fn write_labels(labels: &Labels, out: &mut Vec<u8>) {
    out.push(b'{');
    for (i, l) in labels.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_json_str(&l.name, out);
        out.push(b':');
        write_json_str(&l.value, out);
    }
    out.push(b'}');
}

/// `[time,"value"]`.
pub(crate) fn write_point(t: i64, v: f64, out: &mut Vec<u8>) {
    out.push(b'[');
    write_time(t, out);
    out.extend_from_slice(b",\"");
    write_value(v, out);
    out.extend_from_slice(b"\"]");
}

/// [`format_value`] into `out`: ryu's shortest round-trip digits, written
/// without an exponent.
fn write_value(v: f64, out: &mut Vec<u8>) {
    if v.is_nan() {
        out.extend_from_slice(b"NaN");
    } else if v == f64::INFINITY {
        out.extend_from_slice(b"+Inf");
    } else if v == f64::NEG_INFINITY {
        out.extend_from_slice(b"-Inf");
    } else {
        let mut buf = ryu::Buffer::new();
        write_plain(buf.format_finite(v).as_bytes(), out);
    }
}

/// Rewrites ryu's text (`1.0`, `0.001`, `1.5e-7`, `1e21`, `-0.0`) as a
/// plain decimal: no exponent, no `.0` on integers.
fn write_plain(text: &[u8], out: &mut Vec<u8>) {
    let (neg, text) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    if neg {
        out.push(b'-');
    }
    let Some(e) = text.iter().position(|&b| b == b'e') else {
        // already plain
        let text = text.strip_suffix(b".0").unwrap_or(text);
        out.extend_from_slice(text);
        return;
    };
    let (mantissa, exp) = (&text[..e], &text[e + 1..]);
    let exp: i64 = std::str::from_utf8(exp)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut digits = [0u8; 24];
    let mut n = 0;
    for &b in mantissa {
        if b != b'.' {
            digits[n] = b;
            n += 1;
        }
    }
    let digits = &digits[..n];
    // the decimal point falls after `point` digits
    let point = 1 + exp;
    if point <= 0 {
        out.extend_from_slice(b"0.");
        out.extend(std::iter::repeat_n(b'0', point.unsigned_abs() as usize));
        out.extend_from_slice(digits);
    } else if point as usize >= digits.len() {
        out.extend_from_slice(digits);
        out.extend(std::iter::repeat_n(b'0', point as usize - digits.len()));
    } else {
        out.extend_from_slice(&digits[..point as usize]);
        out.push(b'.');
        out.extend_from_slice(&digits[point as usize..]);
    }
}

/// [`format_time`] as text: seconds, and the milliseconds without their
/// trailing zeros.
fn write_time(ms: i64, out: &mut Vec<u8>) {
    let abs = ms.unsigned_abs();
    let (secs, frac) = (abs / 1000, abs % 1000);
    if ms < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(itoa::Buffer::new().format(secs).as_bytes());
    if frac != 0 {
        let digits = [
            b'0' + (frac / 100) as u8,
            b'0' + (frac / 10 % 10) as u8,
            b'0' + (frac % 10) as u8,
        ];
        let n = if digits[2] != b'0' {
            3
        } else if digits[1] != b'0' {
            2
        } else {
            1
        };
        out.push(b'.');
        out.extend_from_slice(&digits[..n]);
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
/// round-trips, without an exponent; `NaN`, `+Inf`, `-Inf`. Like Go's
/// `FormatFloat(v, 'f', -1, 64)`, an exact tie between two shortest
/// candidates goes to the even digit (core's `Display` rounds it up).
pub fn format_value(v: f64) -> String {
    let mut out = Vec::with_capacity(24);
    write_value(v, &mut out);
    String::from_utf8(out).expect("ASCII")
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
        assert_eq!(format_value(1.5e-7), "0.00000015");
        assert_eq!(format_value(1.25e300).len(), 301);
        // exactly halfway between ...62 and ...63: Go (and Prometheus)
        // print the even one
        assert_eq!(
            format_value(f64::from_bits(4_822_834_042_982_305_012)),
            "265188791351399.62"
        );
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
    fn written(v: &Value, warnings: &[&str]) -> String {
        let mut out = Vec::new();
        v.write_response(warnings, &mut out);
        String::from_utf8(out).expect("UTF-8")
    }

    #[test]
    fn written_response_keeps_warnings_after_data() {
        let v = Value::Matrix(vec![]);
        assert_eq!(
            written(&v, &["results truncated due to limit"]),
            r#"{"status":"success","data":{"resultType":"matrix","result":[]},"warnings":["results truncated due to limit"]}"#
        );
    }

    use proptest::prelude::*;

    fn any_value() -> impl Strategy<Value = f64> {
        prop_oneof![
            any::<f64>(),
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(-0.0),
            (-1_000_000i64..1_000_000).prop_map(|i| i as f64 / 1000.0),
        ]
    }

    fn any_labels() -> impl Strategy<Value = Labels> {
        // names and values with quotes, backslashes, control characters
        // and non-ASCII: the escaping must be serde_json's
        proptest::collection::btree_map("[a-z_\\\"\\\\\n\t\u{1}é]{1,6}", "\\PC{0,8}", 0..4)
            .prop_map(|m| {
                let pairs: Vec<(&str, &str)> =
                    m.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                Labels::from_pairs(&pairs)
            })
    }

    fn any_time() -> impl Strategy<Value = i64> {
        // within about ±30,000 years of 1970: beyond that the tree's f64
        // loses the milliseconds (below), the writer does not
        -1_000_000_000_000_000i64..1_000_000_000_000_000
    }

    proptest! {
        /// Plain decimals that read back as the same bits, as short as
        /// core's `Display` and with its digits but for ties, for any bit
        /// pattern and around ryu's switch to exponents.
        #[test]
        fn plain_shortest_round_trip(bits in any::<u64>(), e in -30i32..30, m in 1u32..100_000) {
            for v in [f64::from_bits(bits), f64::from(m) * 10f64.powi(e), -f64::from(m) * 10f64.powi(e)] {
                if !v.is_finite() {
                    continue;
                }
                let ours = format_value(v);
                let core = format!("{v}");
                prop_assert!(!ours.contains('e') && !ours.ends_with(".0"), "{}", ours);
                prop_assert_eq!(ours.parse::<f64>().unwrap().to_bits(), v.to_bits(), "{}", ours);
                prop_assert_eq!(ours.len(), core.len());
                // a tie differs in the last digit only
                prop_assert_eq!(&ours[..ours.len() - 1], &core[..core.len() - 1]);
            }
        }
    }

    #[test]
    fn far_times_keep_their_milliseconds() {
        let v = Value::Scalar {
            t: -9_114_110_389_665_319,
            v: 0.0,
        };
        assert_eq!(
            written(&v, &[]),
            r#"{"status":"success","data":{"resultType":"scalar","result":[-9114110389665.319,"0"]}}"#
        );
    }

    proptest! {
        /// The streaming writer prints what the `serde_json::Value` tree
        /// printed, for every shape.
        #[test]
        fn streaming_json_equals_the_value_tree(
            labels in proptest::collection::vec(any_labels(), 0..4),
            points in proptest::collection::vec((any_time(), any_value()), 0..20),
            s in "\\PC{0,10}",
            t in any_time(),
            v in any_value(),
        ) {
            let matrix = Value::Matrix(labels.iter().map(|l| Series {
                labels: l.clone(),
                points: points.clone(),
            }).collect());
            let vector = Value::Vector(labels.iter().zip(&points).map(|(l, &(t, v))| Sample {
                labels: l.clone(), t, v,
            }).collect());
            for value in [matrix, vector, Value::Scalar { t, v }, Value::String { t, s: s.clone() }] {
                prop_assert_eq!(written(&value, &[]), value.to_response_json().to_string());
            }
        }
    }
}
