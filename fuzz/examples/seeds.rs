//! Writes the seed corpora under `fuzz/corpus/<target>/`: a few small valid
//! inputs per target, so that the fuzzer starts from the formats' real shape
//! instead of discovering protobuf, snappy and zstd framing on its own.
//!
//! `scripts/fuzz --seeds` runs it; the output is committed. Files are named
//! by what they hold, so rerunning it only rewrites them.

// Built with the targets' instrumentation: the coverage hooks it calls live
// in libFuzzer, which this links.
extern crate libfuzzer_sys;

use std::fs;
use std::path::Path;

use nines_engine::formats::{Chunk, JsonlReader, OpenMetricsReader, ReadOptions, TextOptions};
use nines_proto::{prometheus as pw, v1};
use nines_server::decode::decode_write_request_fast;
use nines_server::http::decode_remote_write_body;
use prost::Message;

fn write(target: &str, name: &str, bytes: &[u8]) {
    check(target, name, bytes, true);
    save(target, name, bytes);
}

/// A seed that is accepted but holds no samples (a past crash, kept so
/// that every run tries it again).
fn write_empty(target: &str, name: &str, bytes: &[u8]) {
    check(target, name, bytes, false);
    save(target, name, bytes);
}

fn save(target: &str, name: &str, bytes: &[u8]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    fs::create_dir_all(&dir).expect("create the corpus directory");
    fs::write(dir.join(name), bytes).expect("write a seed");
}

/// A seed must be valid input, or it teaches the fuzzer nothing about the
/// format's shape: decoded without errors, with samples (or, for the
/// parser, parsed), unless `want_samples` is false.
fn check(target: &str, name: &str, bytes: &[u8], want_samples: bool) {
    let samples = match target {
        "grpc_batch" => decode_write_request_fast(bytes)
            .map(|b| b.sample_count())
            .map_err(|e| e.to_string()),
        "remote_write" => {
            let encoding = ["snappy", "zstd", "identity"][usize::from(bytes[0] % 3)];
            decode_remote_write_body(encoding, &bytes[1..], 1 << 20)
                .map(|r| r.series.iter().map(|s| s.timestamps.len()).sum())
        }
        "openmetrics" => {
            let options = TextOptions {
                default_timestamp: (bytes[0] & 4 != 0).then_some(0),
                ..TextOptions::default()
            };
            text_samples(OpenMetricsReader::new(&bytes[1..], options))
        }
        "jsonl" => text_samples(JsonlReader::new(&bytes[1..], ReadOptions::default())),
        "parse" => nines_query::syntax::parse(std::str::from_utf8(bytes).expect("UTF-8"))
            .map(|_| 1)
            .map_err(|e| e.to_string()),
        _ => unreachable!("no target {target}"),
    };
    match samples {
        Ok(n) if n > 0 || bytes.is_empty() || !want_samples => {}
        Ok(_) => panic!("seed {target}/{name} has no samples"),
        Err(e) => panic!("seed {target}/{name} is refused: {e}"),
    }
}

fn text_samples(
    chunks: impl Iterator<Item = nines_engine::Result<Chunk>>,
) -> Result<usize, String> {
    let mut n = 0;
    for chunk in chunks {
        let chunk = chunk.map_err(|e| e.to_string())?;
        if let Some(e) = chunk.errors.first() {
            return Err(e.to_string());
        }
        n += chunk.batch.sample_count();
    }
    Ok(n)
}

fn v1_label(name: &str, value: &str) -> v1::Label {
    v1::Label {
        name: name.into(),
        value: value.into(),
    }
}

fn pw_label(name: &str, value: &str) -> pw::Label {
    pw::Label {
        name: name.into(),
        value: value.into(),
    }
}

/// The stale marker Prometheus writes when a series disappears.
const STALE_NAN: f64 = f64::from_bits(0x7ff0_0000_0000_0002);

fn grpc_batch() {
    let one = v1::WriteRequest {
        series: vec![v1::SeriesSamples {
            labels: vec![
                v1_label("__name__", "http_requests_total"),
                v1_label("code", "200"),
            ],
            kind: v1::SeriesKind::Counter as i32,
            timestamps: vec![1_700_000_000_000, 1_700_000_015_000, 1_700_000_030_000],
            values: vec![1.0, 2.5, STALE_NAN],
        }],
        ..Default::default()
    };
    write("grpc_batch", "one-series", &one.encode_to_vec());
    let kinds = v1::WriteRequest {
        series: (0..8)
            .map(|k| v1::SeriesSamples {
                labels: vec![v1_label("__name__", "m"), v1_label("kind", &k.to_string())],
                kind: k,
                timestamps: vec![-1, 0, i64::MAX],
                values: vec![f64::NAN, f64::INFINITY, -0.0],
            })
            .collect(),
        ..Default::default()
    };
    write("grpc_batch", "every-kind", &kinds.encode_to_vec());
    // The compact form: symbols, label references, deltas; one series with
    // integer values, one with doubles, and the plain series beside them.
    let compact = v1::WriteRequest {
        series: one.series.clone(),
        symbols: ["__name__", "http_requests_total", "code", "200", "500"]
            .map(String::from)
            .to_vec(),
        compact: vec![
            v1::CompactSeries {
                label_refs: vec![0, 1, 2, 3],
                kind: v1::SeriesKind::Counter as i32,
                timestamp_deltas: vec![1_700_000_000_000, 15_000, 15_000, -30_000],
                integer_deltas: vec![10, 3, 0, -13],
                ..Default::default()
            },
            v1::CompactSeries {
                label_refs: vec![0, 1, 2, 4],
                timestamp_deltas: vec![1_700_000_000_000, 15_000],
                values: vec![0.5, STALE_NAN],
                ..Default::default()
            },
        ],
    };
    write("grpc_batch", "compact", &compact.encode_to_vec());
    write("grpc_batch", "empty", &[]);
}

fn remote_write_request() -> pw::WriteRequest {
    pw::WriteRequest {
        timeseries: vec![
            pw::TimeSeries {
                labels: vec![
                    pw_label("__name__", "http_requests_total"),
                    pw_label("job", "api"),
                ],
                samples: vec![
                    pw::Sample {
                        value: 1027.0,
                        timestamp: 1_700_000_000_000,
                    },
                    pw::Sample {
                        value: STALE_NAN,
                        timestamp: 1_700_000_015_000,
                    },
                ],
                ..Default::default()
            },
            pw::TimeSeries {
                labels: vec![pw_label("__name__", "up")],
                samples: vec![pw::Sample {
                    value: 1.0,
                    timestamp: 1_700_000_000_000,
                }],
                ..Default::default()
            },
        ],
        metadata: vec![pw::MetricMetadata {
            r#type: pw::metric_metadata::MetricType::Counter as i32,
            metric_family_name: "http_requests_total".into(),
            help: "Requests.".into(),
            unit: String::new(),
        }],
    }
}

fn remote_write() {
    // The first byte picks the Content-Encoding: 0 snappy, 1 zstd, 2 identity.
    let raw = remote_write_request().encode_to_vec();
    let framed = |selector: u8, body: Vec<u8>| [vec![selector], body].concat();
    let snappy = snap::raw::Encoder::new()
        .compress_vec(&raw)
        .expect("snappy compresses");
    write("remote_write", "snappy", &framed(0, snappy));
    let zstd = zstd::bulk::compress(&raw, 3).expect("zstd compresses");
    write("remote_write", "zstd", &framed(1, zstd));
    // What a streaming encoder sends: no content size in the frame header.
    let mut streamed = Vec::new();
    {
        let mut enc = zstd::stream::Encoder::new(&mut streamed, 1).expect("zstd encoder");
        enc.include_contentsize(false).expect("zstd option");
        std::io::copy(&mut &raw[..], &mut enc).expect("zstd compresses");
        enc.finish().expect("zstd finishes");
    }
    write("remote_write", "zstd-streamed", &framed(1, streamed));
    write("remote_write", "identity", &framed(2, raw));
    // The first crash of this target (fuzz_targets/remote_write.rs): a zstd
    // frame whose header says 72 bytes and whose one block is empty, which
    // libzstd's streaming decoder accepts as no bytes.
    let lying = b"\x28\xb5\x2f\xfd\x30\x48\x01\x00\x00".to_vec();
    write_empty("remote_write", "zstd-empty-last-block", &framed(1, lying));
}

fn openmetrics() {
    // The first byte holds the options (fuzz_targets/openmetrics.rs); 0 is
    // Auto with the default limits and a chunk of 1 sample.
    let prometheus = "\
# HELP http_requests_total Requests.
# TYPE http_requests_total counter
http_requests_total{code=\"200\",path=\"/a\\\"b\"} 1027 1700000000000
http_requests_total{code=\"500\"} 3 1700000000000
# TYPE latency_seconds histogram
latency_seconds_bucket{le=\"0.1\"} 10 1700000000000
latency_seconds_bucket{le=\"+Inf\"} 12 1700000000000
latency_seconds_sum 1.5e0 1700000000000
latency_seconds_count 12 1700000000000
up NaN 1700000015000
";
    write(
        "openmetrics",
        "prometheus",
        &[b"\x00", prometheus.as_bytes()].concat(),
    );
    let om = "\
# TYPE requests counter
# UNIT requests requests
requests_total{job=\"a\"} 1 1700000000.123 # {trace_id=\"x\"} 1 1700000000.1
requests_created{job=\"a\"} 1699999999
requests_total{job=\"a\"} 2 1700000015.0004
# TYPE temp gauge
temp{room=\"k\"} -Inf 17e8
# EOF
";
    write(
        "openmetrics",
        "openmetrics",
        &[b"\x02", om.as_bytes()].concat(),
    );
    // No timestamps, read with a default one (bit 2) and chunks of 8.
    let scrape = "go_goroutines 42\nprocess_open_fds{} 7\r\n";
    write(
        "openmetrics",
        "scrape",
        &[b"\x3c", scrape.as_bytes()].concat(),
    );
}

fn jsonl() {
    // The first byte holds the options (fuzz_targets/jsonl.rs).
    let lines = r#"{"metric":{"__name__":"up","job":"a"},"values":[1,"StaleNaN"],"timestamps":[1700000000000,1700000015000],"kind":"gauge"}
{"metric":{"__name__":"http_requests_total","code":"200"},"values":[1.5e3,"NaN","+Inf","-Inf","NaN:0x7ff8000000000000"],"timestamps":[1,2,3,4,5],"kind":"counter"}
{"metric":{"__name__":"esc\u00e9\"\n"},"values":[-0.0],"timestamps":[-1]}
"#;
    write("jsonl", "export", &[b"\x00", lines.as_bytes()].concat());
    write("jsonl", "split", &[b"\x0a", lines.as_bytes()].concat());
}

fn parse() {
    let queries = [
        (
            "rate",
            "sum by (job) (rate(http_requests_total{code=~\"5..\"}[5m]))",
        ),
        (
            "burn",
            "(1 - sum(rate(ok[1h] offset 5m)) / sum(rate(total[1h]))) / (1 - 0.999) > 14.4",
        ),
        (
            "histogram",
            "histogram_quantile(0.99, sum without (pod) (rate(latency_bucket[5m] @ 1700000000)))",
        ),
        (
            "subquery",
            "max_over_time(deriv(up[10m])[1h:1m]) or on(job) vector(1)",
        ),
    ];
    for (name, q) in queries {
        write("parse", name, q.as_bytes());
    }
}

fn main() {
    grpc_batch();
    remote_write();
    openmetrics();
    jsonl();
    parse();
}
