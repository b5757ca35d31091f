//! Differential test against a real Prometheus 2.42: the same data set is
//! backfilled into Prometheus (`promtool tsdb create-blocks-from
//! openmetrics`, then remote write for the stale-marker window) and loaded
//! into nines (the `nines import` reader, then `Engine::append`); every
//! query of `tests/cases/differential_queries.txt` runs through both, as an
//! instant query at each of `INSTANT_TIMES` and as a range query over each
//! of `RANGES`, and the answers
//! must agree (same result type and label sets, values within 1e-9
//! relative, NaN equal to NaN). Disagreements listed in
//! `docs/promql-compatibility.md` are reported but allowed.
//!
//! Needs `promtool` and `prometheus` on PATH (scripts/test installs the
//! Debian package); fails without them.

mod support;

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::Path;
use std::time::Instant;

use nines_engine::formats::openmetrics::{OpenMetricsReader, TextOptions};
use nines_engine::read::Snapshot;
use nines_engine::wal::SyncPolicy;
use nines_engine::{Engine, EngineOptions};
use nines_query::syntax::ast::ValueType;
use nines_query::{Cancel, QueryOptions};

use support::compare::{diff, Answer, Short};
use support::corpus::{deliberate_differences, ordered, read_queries};
use support::dataset::{self, END_MS, LIVE_START_MS, MINUTE_MS, START_MS};
use support::prometheus::{require_binaries, Server};

/// Instant query times: window edges of the backfill and of the live
/// window, on and off the scrape grid, inside and after the lookback.
const INSTANT_TIMES: [i64; 11] = [
    START_MS,
    START_MS + 3 * MINUTE_MS + 1,
    START_MS + 6 * 60 * MINUTE_MS,
    START_MS + 12 * 60 * MINUTE_MS + 7_250,
    START_MS + 17 * 60 * MINUTE_MS + 30_000,
    END_MS - 1_000,
    END_MS + 4 * MINUTE_MS,
    END_MS + 6 * MINUTE_MS,
    LIVE_START_MS + 13 * MINUTE_MS,
    LIVE_START_MS + 31 * MINUTE_MS,
    LIVE_START_MS + 45 * MINUTE_MS + 500,
];

/// Range queries: (start, end, step).
const RANGES: [(i64, i64, i64); 4] = [
    // The whole backfill and the live window, 15 m steps.
    (START_MS, LIVE_START_MS + 75 * MINUTE_MS, 15 * MINUTE_MS),
    // Across the end of the backfill into the live window, 1 m steps.
    (
        END_MS - 30 * MINUTE_MS,
        LIVE_START_MS + 70 * MINUTE_MS,
        MINUTE_MS,
    ),
    // An odd start and step.
    (
        START_MS + 17_000,
        START_MS + 6 * 60 * MINUTE_MS,
        7 * MINUTE_MS + 13_000,
    ),
    // One hour in 30 s steps, starting before the first sample.
    (START_MS - 20 * MINUTE_MS, START_MS + 40 * MINUTE_MS, 30_000),
];

#[derive(Clone, Copy, Debug)]
enum Mode {
    Instant(i64),
    Range(i64, i64, i64),
}

fn secs(ms: i64) -> String {
    format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000))
}

fn ask_prometheus(prom: &Server, query: &str, mode: Mode) -> Answer {
    let resp = match mode {
        Mode::Instant(t) => prom.api(
            "/api/v1/query",
            &[("query", query.to_string()), ("time", secs(t))],
        ),
        Mode::Range(s, e, step) => prom.api(
            "/api/v1/query_range",
            &[
                ("query", query.to_string()),
                ("start", secs(s)),
                ("end", secs(e)),
                ("step", secs(step)),
            ],
        ),
    };
    Answer::from_response(&resp)
}

fn ask_nines(snap: &Snapshot, query: &str, mode: Mode) -> Answer {
    let opts = QueryOptions::default();
    let cancel = Cancel::new();
    let result = match mode {
        Mode::Instant(t) => nines_query::instant_query(snap, query, t, &opts, &cancel),
        Mode::Range(s, e, step) => {
            nines_query::range_query(snap, query, s, e, step, &opts, &cancel)
        }
    };
    match result {
        Ok(v) => Answer::from_data(&v.to_json())
            .unwrap_or_else(|e| Answer::Error(format!("unreadable nines JSON: {e}"))),
        Err(e) => Answer::Error(format!("{}: {e}", e.error_type())),
    }
}

/// Loads the OpenMetrics file with the reader `nines import` uses, flushes
/// it to segments as the import does, then appends the live window to the
/// head.
fn load_nines(engine: &Engine, om: &Path) {
    let file = File::open(om).unwrap_or_else(|e| panic!("open {}: {e}", om.display()));
    let mut r =
        OpenMetricsReader::new(BufReader::new(file), TextOptions::default()).with_source(om);
    let mut accepted = 0;
    while let Some(chunk) = r.next_chunk().unwrap_or_else(|e| panic!("read: {e}")) {
        assert!(chunk.errors.is_empty(), "parse errors: {:?}", chunk.errors);
        let out = engine
            .append(&chunk.batch)
            .unwrap_or_else(|e| panic!("append: {e}"));
        assert!(out.rejected.is_empty(), "refused: {:?}", out.rejected);
        accepted += out.accepted;
    }
    assert_eq!(accepted, r.stats().samples, "every sample read is stored");
    engine.flush(true).unwrap_or_else(|e| panic!("flush: {e}"));
    let out = engine
        .append(&dataset::live_window())
        .unwrap_or_else(|e| panic!("append live window: {e}"));
    assert!(
        out.rejected.is_empty(),
        "live window refused: {:?}",
        out.rejected
    );
}

struct Mismatch {
    query: String,
    mode: Mode,
    why: String,
    prom: String,
    nines: String,
}

#[test]
fn promql_agrees_with_prometheus() {
    require_binaries();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let queries = read_queries(&root.join("tests/cases/differential_queries.txt"));
    let deliberate = deliberate_differences(&root.join("docs/promql-compatibility.md"));
    assert!(
        queries.len() >= 300,
        "the corpus has {} queries, fewer than 300",
        queries.len()
    );

    let began = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let om = tmp.path().join("data.om");
    let (n_series, n_samples) =
        dataset::write_openmetrics(BufWriter::new(File::create(&om).unwrap()));
    println!(
        "data: {n_series} series, {n_samples} samples ({:?})",
        began.elapsed()
    );

    let tsdb = tmp.path().join("prometheus");
    std::fs::create_dir(&tsdb).unwrap();
    support::prometheus::create_blocks(&om, &tsdb);
    println!("promtool done ({:?})", began.elapsed());
    let prom = Server::start(&tsdb, tmp.path());
    prom.remote_write(&dataset::live_window());
    println!("prometheus ready ({:?})", began.elapsed());

    let engine = Engine::open(
        EngineOptions::new(tmp.path().join("nines"))
            .background(false)
            .sync(SyncPolicy::Never),
    )
    .unwrap();
    load_nines(&engine, &om);
    let snap = engine.snapshot();
    println!("nines loaded ({:?})", began.elapsed());

    // The stale markers arrived: demo_live{instance="w1"} ended with one at
    // +11m45s, so 75 s later only w2 and w3 remain (without the marker the
    // 5 m lookback would still find w1).
    let live_count = Mode::Instant(LIVE_START_MS + 13 * MINUTE_MS);
    for (who, a) in [
        (
            "Prometheus",
            ask_prometheus(&prom, "count(demo_live)", live_count),
        ),
        ("nines", ask_nines(&snap, "count(demo_live)", live_count)),
    ] {
        match a {
            Answer::Vector(v) => {
                assert_eq!(v.first().map(|s| s.2), Some(2.0), "{who}: count(demo_live)")
            }
            other => panic!("{who}: count(demo_live) gave {}", Short(&other)),
        }
    }

    let mut mismatches: Vec<Mismatch> = Vec::new();
    let mut evaluations = 0usize;
    let mut nonempty = 0usize;
    let mut failed_queries = Vec::new();
    let (mut t_prom, mut t_nines) = (std::time::Duration::ZERO, std::time::Duration::ZERO);
    for q in &queries {
        let parsed = nines_query::parse(q);
        let is_ordered = parsed.as_ref().is_ok_and(ordered);
        let rangeable = parsed.as_ref().map_or(true, |e| {
            matches!(e.value_type(), ValueType::Scalar | ValueType::Vector)
        });
        let mut modes: Vec<Mode> = INSTANT_TIMES.iter().map(|&t| Mode::Instant(t)).collect();
        if rangeable {
            modes.extend(RANGES.iter().map(|&(s, e, step)| Mode::Range(s, e, step)));
        }
        let mut ok = true;
        for mode in modes {
            evaluations += 1;
            let t0 = Instant::now();
            let p = ask_prometheus(&prom, q, mode);
            let t1 = Instant::now();
            let n = ask_nines(&snap, q, mode);
            t_nines += t1.elapsed();
            t_prom += t1 - t0;
            match &p {
                Answer::Vector(v) if !v.is_empty() => nonempty += 1,
                Answer::Matrix(m) if !m.is_empty() => nonempty += 1,
                Answer::Scalar(..) | Answer::String(..) => nonempty += 1,
                _ => {}
            }
            if let Some(why) = diff(&p, &n, is_ordered && matches!(mode, Mode::Instant(_))) {
                ok = false;
                mismatches.push(Mismatch {
                    query: q.clone(),
                    mode,
                    why,
                    prom: Short(&p).to_string(),
                    nines: Short(&n).to_string(),
                });
            }
        }
        if !ok {
            failed_queries.push(q.clone());
        }
    }
    drop(snap);
    engine.close().unwrap();

    for m in &mismatches {
        let known = if deliberate.contains(&m.query) {
            " (deliberate, docs/promql-compatibility.md)"
        } else {
            ""
        };
        println!(
            "MISMATCH{known}: {}\n  {:?}\n  diff: {}\n  prometheus: {}\n  nines:      {}",
            m.query, m.mode, m.why, m.prom, m.nines
        );
    }
    let agree = queries.len() - failed_queries.len();
    println!(
        "differential: {agree}/{} queries agree ({:.1} %); {} evaluations, {} with a non-empty Prometheus answer; \
         Prometheus {:?}, nines {:?}, total {:?}",
        queries.len(),
        100.0 * agree as f64 / queries.len() as f64,
        evaluations,
        nonempty,
        t_prom,
        t_nines,
        began.elapsed()
    );
    // An all-empty corpus would agree trivially.
    assert!(
        nonempty * 10 >= evaluations * 7,
        "too few non-empty answers: {nonempty}/{evaluations}"
    );
    let unexpected: Vec<&String> = failed_queries
        .iter()
        .filter(|q| !deliberate.contains(q))
        .collect();
    assert!(
        unexpected.is_empty(),
        "{} queries disagree with Prometheus and are not listed in docs/promql-compatibility.md:\n{}",
        unexpected.len(),
        unexpected.iter().map(|q| format!("  {q}")).collect::<Vec<_>>().join("\n")
    );
}
