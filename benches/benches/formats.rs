//! Throughput of the text import/export formats on generated input.
//!
//! `cargo bench -p nines-benches --bench formats`
//!
//! Inputs: 1,000 series of 100 samples each, with five realistic labels.
//! "series-major" is what the writers produce (all samples of a series
//! together, so the readers decode each label set once); "scrape-major" is
//! what a saved scrape looks like (every line a different series).
//!
//! `query_json`: the query API's answer for a 7-day panel at 5-minute steps
//! (2 series x 2,016 points of rate-like values), written by
//! `Value::write_response` and, for comparison, through the
//! `serde_json::Value` tree the API built before 2026-12-07.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use nines_engine::formats::{
    JsonlReader, JsonlWriter, OpenMetricsReader, OpenMetricsWriter, ReadOptions, TextDialect,
    TextOptions,
};
use nines_engine::{Labels, SeriesKind};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

const SERIES: usize = 1_000;
const SAMPLES: usize = 100;
const START: i64 = 1_700_000_000_000;
const STEP: i64 = 15_000;

struct Series {
    labels: Labels,
    kind: SeriesKind,
    timestamps: Vec<i64>,
    values: Vec<f64>,
}

fn generate() -> Vec<Series> {
    let mut rng = SmallRng::seed_from_u64(9);
    let methods = ["GET", "POST", "PUT", "DELETE"];
    let codes = ["200", "201", "404", "500", "503"];
    (0..SERIES)
        .map(|i| {
            let labels = Labels::from_pairs(&[
                ("__name__", "http_requests_total"),
                ("job", "api-server"),
                ("instance", &format!("10.0.{}.{}:9100", i / 250, i % 250)),
                ("method", methods[i % methods.len()]),
                ("code", codes[(i / 4) % codes.len()]),
                ("path", &format!("/api/v1/items/{}", i % 37)),
            ]);
            let mut v = 0.0f64;
            let values = (0..SAMPLES)
                .map(|_| {
                    v += f64::from(rng.gen_range(0u32..500));
                    if rng.gen_bool(0.5) {
                        v
                    } else {
                        // Fractional values exercise the float paths.
                        v + rng.gen::<f64>()
                    }
                })
                .collect();
            let timestamps = (0..SAMPLES as i64).map(|j| START + j * STEP).collect();
            Series {
                labels,
                kind: SeriesKind::Counter,
                timestamps,
                values,
            }
        })
        .collect()
}

fn openmetrics_text(data: &[Series]) -> Vec<u8> {
    let mut w = OpenMetricsWriter::new(Vec::new(), "bench.om");
    for s in data {
        w.write_series(&s.labels, s.kind, &s.timestamps, &s.values)
            .expect("generated series are valid");
    }
    w.finish().expect("writing to a Vec cannot fail")
}

/// The same samples with every line a different series: a time-major dump.
fn scrape_major_text(data: &[Series]) -> Vec<u8> {
    let series_major = String::from_utf8(openmetrics_text(data)).expect("utf-8");
    let lines: Vec<&str> = series_major
        .lines()
        .filter(|l| !l.starts_with('#'))
        .collect();
    let mut out = String::from("# TYPE http_requests counter\n");
    for j in 0..SAMPLES {
        for i in 0..SERIES {
            out.push_str(lines[i * SAMPLES + j]);
            out.push('\n');
        }
    }
    out.push_str("# EOF\n");
    out.into_bytes()
}

fn jsonl_text(data: &[Series]) -> Vec<u8> {
    let mut w = JsonlWriter::new(Vec::new(), "bench.jsonl");
    for s in data {
        w.write_series(&s.labels, s.kind, &s.timestamps, &s.values)
            .expect("generated series are valid");
    }
    w.finish().expect("writing to a Vec cannot fail")
}

fn read_openmetrics(input: &[u8]) -> u64 {
    let options = TextOptions {
        dialect: TextDialect::OpenMetrics,
        ..TextOptions::default()
    };
    let mut n = 0;
    for chunk in OpenMetricsReader::new(input, options) {
        let chunk = chunk.expect("no I/O errors from a slice");
        assert!(chunk.errors.is_empty());
        n += chunk.batch.sample_count() as u64;
        black_box(chunk);
    }
    n
}

fn read_jsonl(input: &[u8]) -> u64 {
    let mut n = 0;
    for chunk in JsonlReader::new(input, ReadOptions::default()) {
        let chunk = chunk.expect("no I/O errors from a slice");
        assert!(chunk.errors.is_empty());
        n += chunk.batch.sample_count() as u64;
        black_box(chunk);
    }
    n
}

fn formats(c: &mut Criterion) {
    let data = generate();
    let total = (SERIES * SAMPLES) as u64;
    let om = openmetrics_text(&data);
    let scrape = scrape_major_text(&data);
    let jsonl = jsonl_text(&data);
    assert_eq!(read_openmetrics(&om), total);
    assert_eq!(read_openmetrics(&scrape), total);
    assert_eq!(read_jsonl(&jsonl), total);
    eprintln!(
        "input sizes: openmetrics {} bytes, scrape-major {} bytes, jsonl {} bytes ({} samples)",
        om.len(),
        scrape.len(),
        jsonl.len(),
        total
    );

    let mut g = c.benchmark_group("formats");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(total));
    g.bench_function("parse_openmetrics_series_major", |b| {
        b.iter(|| read_openmetrics(black_box(&om)))
    });
    g.bench_function("parse_openmetrics_scrape_major", |b| {
        b.iter(|| read_openmetrics(black_box(&scrape)))
    });
    g.bench_function("parse_jsonl", |b| b.iter(|| read_jsonl(black_box(&jsonl))));
    g.bench_function("write_openmetrics", |b| {
        b.iter(|| openmetrics_text(black_box(&data)).len())
    });
    g.bench_function("write_jsonl", |b| {
        b.iter(|| jsonl_text(black_box(&data)).len())
    });
    g.finish();
}

/// A panel's matrix: rates like `10.587499999999999` (full-precision
/// floats, the costly case for formatting) at 5-minute steps.
fn panel() -> nines_query::Value {
    let mut rng = SmallRng::seed_from_u64(5);
    nines_query::Value::Matrix(
        ["cart", "checkout"]
            .iter()
            .map(|svc| nines_query::Series {
                labels: Labels::from_pairs(&[("service", *svc)]),
                points: (0..2016)
                    .map(|i| {
                        let t = START + 651 + i * 300_000;
                        (t, rng.gen_range(0.0..100.0) / 24.0)
                    })
                    .collect(),
            })
            .collect(),
    )
}

fn query_json(c: &mut Criterion) {
    let v = panel();
    let mut out = Vec::new();
    v.write_response(&[], &mut out);
    assert_eq!(out, v.to_response_json().to_string().into_bytes());
    let mut g = c.benchmark_group("query_json");
    g.sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(2 * 2016));
    g.bench_function("write_response", |b| {
        b.iter(|| {
            let mut out = Vec::new();
            black_box(&v).write_response(&[], &mut out);
            out.len()
        })
    });
    g.bench_function("value_tree", |b| {
        b.iter(|| black_box(&v).to_response_json().to_string().len())
    });
    g.finish();
}

criterion_group!(benches, formats, query_json);
criterion_main!(benches);
