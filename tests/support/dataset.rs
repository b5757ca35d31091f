//! The differential data set: a seeded SLI workload plus hand-made series
//! for the edge cases a workload rarely hits (resets, gaps, NaN, ±Inf,
//! irregular timestamps), written as OpenMetrics for promtool and for the
//! nines reader; and a later *live window* with stale markers, which text
//! cannot carry and which both systems receive as samples (remote write
//! and `Engine::append`).
//!
//! Times are fixed (the workload's default start, 2026-01-05T00:00:00Z) so
//! that queries in `tests/cases/differential_queries.txt` can name them.

use std::io::Write;

use nines_benches::workload::{Workload, WorkloadConfig, DEFAULT_START_MS};
use nines_engine::formats::OpenMetricsWriter;
use nines_engine::{is_stale_marker, Labels, SeriesBatch, SeriesKind, WriteBatch, STALE_NAN_BITS};

pub const MINUTE_MS: i64 = 60_000;
pub const HOUR_MS: i64 = 60 * MINUTE_MS;

/// First sample of the backfilled data.
pub const START_MS: i64 = DEFAULT_START_MS;
/// Every backfilled sample is before this (one day after the start).
pub const END_MS: i64 = START_MS + 24 * HOUR_MS;
/// The live window with stale markers: one hour from here, after every
/// backfilled sample (Prometheus refuses appends older than its newest
/// block).
pub const LIVE_START_MS: i64 = END_MS + 15 * MINUTE_MS;

/// The seeded workload: 2 services x 2 endpoints x 2 pods at a time, one
/// scrape a minute, with frequent restarts (counter resets), deploys (pods
/// that end, with a stale marker, written as NaN in text) and incidents.
pub fn workload() -> Workload {
    let config = WorkloadConfig {
        seed: 42,
        duration_ms: END_MS - START_MS,
        scrape_interval_ms: MINUTE_MS,
        services: 2,
        endpoints_per_service: 2,
        pods_per_service: 2,
        restarts_per_pod_day: 2.0,
        incidents_per_week: 14.0,
        deploy_interval_ms: (6 * HOUR_MS, 12 * HOUR_MS),
        // Whole-second scrape times keep Prometheus's float parse of the
        // text timestamps exact; the hand-made series carry odd milliseconds.
        jitter_ratio: 0.0,
        miss_ratio: 0.002,
        ..WorkloadConfig::small()
    };
    match Workload::new(config) {
        Ok(w) => w,
        Err(e) => panic!("workload config: {e}"),
    }
}

fn series(pairs: &[(&str, &str)], kind: SeriesKind, points: Vec<(i64, f64)>) -> SeriesBatch {
    let (timestamps, values) = points.into_iter().unzip();
    SeriesBatch {
        labels: Labels::from_pairs(pairs),
        kind,
        timestamps,
        values,
        resolved: None,
    }
}

/// Minute grid of the backfilled day, `i` = minute index.
fn grid() -> impl Iterator<Item = (i64, i64)> {
    (0..24 * 60).map(|i| (i, START_MS + i * MINUTE_MS))
}

/// Hand-made series over the backfilled day. Each is named `demo_*`.
pub fn handmade() -> Vec<SeriesBatch> {
    let mut out = Vec::new();
    for (inst, phase) in [("a", 0.0), ("b", 1.0), ("c", 2.5)] {
        for (group, scale) in [("x", 1.0), ("y", -3.0)] {
            let pts = grid()
                .map(|(i, t)| {
                    let x = i as f64 / 37.0 + phase;
                    (t, scale * (10.0 * x.sin() + (i % 7) as f64 * 0.25))
                })
                .collect();
            out.push(series(
                &[
                    ("__name__", "demo_gauge"),
                    ("instance", inst),
                    ("group", group),
                ],
                SeriesKind::Gauge,
                pts,
            ));
        }
    }
    // Counters: steady, with resets, and with a 20 minute gap.
    for (inst, reset_every) in [("a", 0i64), ("b", 173), ("c", 401)] {
        let mut v = 0.0;
        let mut pts = Vec::new();
        for (i, t) in grid() {
            if inst == "c" && (600..620).contains(&i) {
                continue;
            }
            if reset_every > 0 && i > 0 && i % reset_every == 0 {
                v = (i % 3) as f64;
            } else {
                v += 1.0 + ((i * 7919) % 13) as f64;
            }
            pts.push((t, v));
        }
        out.push(series(
            &[("__name__", "demo_counter_total"), ("instance", inst)],
            SeriesKind::Counter,
            pts,
        ));
    }
    // Special values: NaN every 10th minute, ±Inf runs.
    let special = |f: &dyn Fn(i64) -> f64| grid().map(|(i, t)| (t, f(i))).collect::<Vec<_>>();
    out.push(series(
        &[("__name__", "demo_special"), ("kind", "nan")],
        SeriesKind::Gauge,
        special(&|i| {
            if i % 10 == 3 {
                f64::NAN
            } else {
                i as f64 * 0.5
            }
        }),
    ));
    out.push(series(
        &[("__name__", "demo_special"), ("kind", "inf")],
        SeriesKind::Gauge,
        special(&|i| {
            if (300..330).contains(&i) || i % 97 == 0 {
                f64::INFINITY
            } else {
                (i % 17) as f64
            }
        }),
    ));
    out.push(series(
        &[("__name__", "demo_special"), ("kind", "neginf")],
        SeriesKind::Gauge,
        special(&|i| {
            if i % 50 < 5 {
                f64::NEG_INFINITY
            } else {
                -((i % 11) as f64)
            }
        }),
    ));
    // Gaps: samples only in some hours; irregular millisecond timestamps.
    out.push(series(
        &[("__name__", "demo_gappy"), ("instance", "a")],
        SeriesKind::Gauge,
        grid()
            .filter(|(i, _)| (i / 60) % 3 != 1 && !(700..712).contains(i))
            .map(|(i, t)| (t, (i % 23) as f64 + 0.5))
            .collect(),
    ));
    out.push(series(
        &[("__name__", "demo_irregular"), ("instance", "a")],
        SeriesKind::Gauge,
        (0..24 * 60 * 2)
            .map(|i: i64| {
                let t = START_MS + i * 30_000 + (i * 7_717) % 29_000 + 1;
                (t, ((i * 31) % 101) as f64 / 4.0)
            })
            .collect(),
    ));
    // A classic histogram with the awkward cases of histogram_quantile:
    // minutes 200..260 have no observations (all buckets flat), 400..430 a
    // NaN sample in every bucket, 600..640 a NaN only in the +Inf bucket,
    // 800..860 a bucket above the next one (not monotonic).
    let les = ["0.1", "0.5", "1", "+Inf"];
    let mut counts = [0.0f64; 4];
    let mut buckets: Vec<Vec<(i64, f64)>> = vec![Vec::new(); 4];
    for (i, t) in grid() {
        if !(200..260).contains(&i) {
            let n = [(i % 5) as f64, 3.0 + (i % 3) as f64, 1.0, (i % 2) as f64];
            let mut cum = 0.0;
            for (c, add) in counts.iter_mut().zip(n) {
                cum += add;
                *c += cum;
            }
        }
        for (b, col) in buckets.iter_mut().enumerate() {
            let mut v = counts[b];
            if (400..430).contains(&i) || (b == 3 && (600..640).contains(&i)) {
                v = f64::NAN;
            }
            if b == 1 && (800..860).contains(&i) {
                v = counts[2] + 50.0;
            }
            col.push((t, v));
        }
    }
    for (le, pts) in les.iter().zip(buckets) {
        out.push(series(
            &[("__name__", "demo_latency_seconds_bucket"), ("le", le)],
            SeriesKind::HistogramBucket,
            pts,
        ));
    }
    // Info-style series for joins and label functions.
    for (inst, version) in [("a", "1.2.3"), ("b", "1.3.0"), ("c", "2.0.0-rc.1")] {
        out.push(series(
            &[
                ("__name__", "demo_info"),
                ("instance", inst),
                ("version", version),
                ("owner", "team-x"),
            ],
            SeriesKind::Gauge,
            grid().map(|(_, t)| (t, 1.0)).collect(),
        ));
    }
    out
}

/// Drops the stale markers the workload writes when a pod ends: text would
/// turn them into plain NaN samples, which make every rate over a pod's
/// end NaN for hours of the day. NaN samples are covered by `demo_special`
/// and `demo_latency_seconds`; stale markers by the live window.
fn strip_stale_markers(s: &mut SeriesBatch) {
    let keep: Vec<bool> = s.values.iter().map(|&v| !is_stale_marker(v)).collect();
    let mut k = keep.iter();
    s.timestamps.retain(|_| k.next().copied().unwrap_or(true));
    let mut k = keep.iter();
    s.values.retain(|_| k.next().copied().unwrap_or(true));
}

/// Writes the workload and the hand-made series as OpenMetrics text.
/// Returns the number of series and samples written.
pub fn write_openmetrics(out: impl Write) -> (u64, u64) {
    let mut w = OpenMetricsWriter::new(out, "differential.om");
    let mut failed = None;
    workload().for_each_series(|mut s| {
        strip_stale_markers(&mut s);
        if failed.is_none() {
            if let Err(e) = w.write_series(&s.labels, s.kind, &s.timestamps, &s.values) {
                failed = Some(e);
            }
        }
    });
    if let Some(e) = failed {
        panic!("writing the workload: {e}");
    }
    for s in handmade() {
        if let Err(e) = w.write_series(&s.labels, s.kind, &s.timestamps, &s.values) {
            panic!("writing {}: {e}", s.labels);
        }
    }
    let stats = w.stats().clone();
    if let Err(e) = w.finish() {
        panic!("finishing the OpenMetrics file: {e}");
    }
    (stats.series, stats.samples)
}

/// The live window: series that continue, end with a stale marker, come
/// back, or exist only here. Every value here is sent to Prometheus by
/// remote write and to nines by `Engine::append`, bit for bit.
pub fn live_window() -> WriteBatch {
    let stale = f64::from_bits(STALE_NAN_BITS);
    let minutes = |from: i64, to: i64| (from..to).map(|m| LIVE_START_MS + m * MINUTE_MS);
    let mut out = Vec::new();
    // A backfilled gauge continues, goes stale at +30m30s, resumes at +40m.
    let mut pts: Vec<(i64, f64)> = minutes(0, 31).map(|t| (t, 5.0)).collect();
    pts.push((LIVE_START_MS + 30 * MINUTE_MS + 30_000, stale));
    pts.extend(minutes(40, 61).map(|t| (t, 7.0)));
    out.push(series(
        &[
            ("__name__", "demo_gauge"),
            ("instance", "a"),
            ("group", "x"),
        ],
        SeriesKind::Gauge,
        pts,
    ));
    // A counter that goes stale and restarts from zero.
    let mut pts: Vec<(i64, f64)> = minutes(0, 20)
        .map(|t| (t, 1000.0 + 3.0 * (t - LIVE_START_MS) as f64 / 60_000.0))
        .collect();
    pts.push((LIVE_START_MS + 20 * MINUTE_MS, stale));
    pts.extend(minutes(25, 61).map(|t| {
        (
            t,
            2.0 * (t - LIVE_START_MS - 25 * MINUTE_MS) as f64 / 60_000.0,
        )
    }));
    out.push(series(
        &[("__name__", "demo_counter_total"), ("instance", "a")],
        SeriesKind::Counter,
        pts,
    ));
    // Series that exist only in the window and end with a stale marker at
    // different times; one has a NaN (not stale) sample.
    for (inst, end_min) in [("w1", 12), ("w2", 33), ("w3", 58)] {
        let mut pts: Vec<(i64, f64)> = minutes(0, end_min)
            .map(|t| {
                let m = (t - LIVE_START_MS) / MINUTE_MS;
                (
                    t,
                    if inst == "w2" && m == 5 {
                        f64::NAN
                    } else {
                        (m * m % 17) as f64
                    },
                )
            })
            .collect();
        pts.push((LIVE_START_MS + end_min * MINUTE_MS - 15_000, stale));
        out.push(series(
            &[("__name__", "demo_live"), ("instance", inst)],
            SeriesKind::Gauge,
            pts,
        ));
    }
    WriteBatch { series: out }
}
