//! Query evaluation on the seeded workload (small preset, 7 days, compacted):
//! `sum by (service) (rate(http_requests_total[5m]))` as a range query over
//! the 7 days at a 5 m step; and `sum(increase(c_total[30d]))` over 1,000
//! integer counters (one sample a minute for 31 days, loaded as a running
//! server holds them: the newest hours still in the head), which the rollup
//! path answers, at the newest sample and one day earlier (where the
//! window's newest edge is read from segments).
//!
//! `cargo bench -p nines-benches --bench query`
//!
//! Loading takes a while (about 20 s for the workload, 30 s for the
//! counters). With `NINES_BENCH_DATA=/some/dir` the engines are kept there
//! and reopened by later runs.

use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use nines_benches::workload::{Workload, WorkloadConfig};
use nines_engine::index::{MatchOp, Matcher};
use nines_engine::options::{DAY_MS, MINUTE_MS};
use nines_engine::wal::SyncPolicy;
use nines_engine::{Engine, EngineOptions, Labels, SeriesBatch, SeriesKind, WriteBatch};
use nines_query::functions::lookup;
use nines_query::syntax::ast::{
    AggregateExpr, AggregateOp, Call, Expr, Grouping, MatrixSelector, VectorSelector,
};
use nines_query::{eval_instant, eval_range, Cancel, QueryOptions, Value};

/// An engine in `NINES_BENCH_DATA/<name>` (kept) or a temporary directory,
/// filled by `load` unless it was already.
struct Data {
    engine: Engine,
    _tmp: Option<tempfile::TempDir>,
}

fn open(name: &str, compact: bool, load: impl FnOnce(&Engine)) -> Data {
    let (dir, tmp): (PathBuf, _) = match std::env::var_os("NINES_BENCH_DATA") {
        Some(d) => (Path::new(&d).join(name), None),
        None => {
            let t = tempfile::tempdir().unwrap();
            (t.path().join(name), Some(t))
        }
    };
    let fresh = !dir.join("done").exists();
    let engine = Engine::open(
        EngineOptions::new(&dir)
            .background(false)
            .sync(SyncPolicy::Never),
    )
    .unwrap();
    if fresh {
        load(&engine);
        if compact {
            engine.compact_all().unwrap();
        }
        std::fs::write(dir.join("done"), b"").unwrap();
    }
    Data { engine, _tmp: tmp }
}

fn load_workload(engine: &Engine, w: &Workload) {
    for (i, b) in w.batches(100_000).enumerate() {
        let out = engine.append(&b).unwrap();
        assert_eq!(out.rejected_samples, 0);
        if i % 20 == 0 {
            engine.maintain().unwrap();
        }
    }
}

/// 1,000 counters over 31 days, one sample a minute, integer increments, a
/// reset now and then; maintained as the background thread would.
fn load_counters(engine: &Engine, start: i64) {
    let n = 1_000usize;
    let minutes = COUNTER_MINUTES;
    let labels: Vec<Labels> = (0..n)
        .map(|i| {
            Labels::from_pairs(&[
                ("__name__", "c_total"),
                ("service", &format!("svc-{}", i % 20)),
                ("pod", &format!("pod-{i:04}")),
            ])
        })
        .collect();
    let mut values = vec![0.0f64; n];
    let chunk = 240; // minutes per batch
    for from in (0..minutes).step_by(chunk) {
        let to = (from + chunk).min(minutes);
        let ts: Vec<i64> = (from..to).map(|m| start + m as i64 * MINUTE_MS).collect();
        let series = labels
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let vs = (from..to)
                    .map(|m| {
                        let h = (i * 7919 + m * 104_729) % 1_000_003;
                        values[i] = if h % 20_000 == 0 {
                            0.0
                        } else {
                            values[i] + (h % 50) as f64
                        };
                        values[i]
                    })
                    .collect();
                SeriesBatch {
                    labels: l.clone(),
                    kind: SeriesKind::Counter,
                    timestamps: ts.clone(),
                    values: vs,
                    resolved: None,
                }
            })
            .collect();
        let out = engine.append(&WriteBatch { series }).unwrap();
        assert_eq!(out.rejected_samples, 0);
        engine.maintain().unwrap();
    }
}

const COUNTER_MINUTES: usize = 31 * 24 * 60;

fn selector(name: &str) -> VectorSelector {
    VectorSelector {
        name: Some(name.into()),
        matchers: vec![Matcher::new(MatchOp::Equal, "__name__", name).unwrap()],
        offset: None,
        at: None,
    }
}

fn call(name: &str, arg: Expr) -> Expr {
    Expr::Call(Call {
        func: lookup(name).unwrap(),
        args: vec![arg],
    })
}

fn sum(by: &[&str], e: Expr) -> Expr {
    Expr::Aggregate(AggregateExpr {
        op: AggregateOp::Sum,
        expr: Box::new(e),
        param: None,
        grouping: (!by.is_empty()).then(|| Grouping {
            without: false,
            labels: by.iter().map(|s| s.to_string()).collect(),
        }),
    })
}

fn range_fn(f: &str, metric: &str, range: i64) -> Expr {
    call(
        f,
        Expr::Matrix(MatrixSelector {
            selector: selector(metric),
            range,
        }),
    )
}

fn queries(c: &mut Criterion) {
    let opts = QueryOptions::default();
    let cancel = Cancel::new();

    let workload = Workload::new(WorkloadConfig::small()).unwrap();
    let (start, end) = (workload.config().start_ms, workload.end_ms());
    let small = open("small-7d", true, |e| load_workload(e, &workload));
    let snap = small.engine.snapshot();
    let rate = sum(
        &["service"],
        range_fn("rate", "http_requests_total", 5 * MINUTE_MS),
    );
    let mut g = c.benchmark_group("query");
    g.sample_size(20);
    g.measurement_time(Duration::from_secs(10));
    g.bench_function("sum_by_service_rate_5m_range_7d_step_5m", |b| {
        b.iter(|| {
            let v = eval_range(&snap, &rate, start, end, 5 * MINUTE_MS, &opts, &cancel).unwrap();
            assert!(matches!(v, Value::Matrix(ref m) if m.len() == 4));
        })
    });

    let counters = open("counters-31d-live", false, |e| load_counters(e, start));
    let snap = counters.engine.snapshot();
    let newest = start + (COUNTER_MINUTES as i64 - 1) * MINUTE_MS;
    let inc = sum(&[], range_fn("increase", "c_total", 30 * DAY_MS));
    for (name, t) in [
        ("sum_increase_30d_1000_series_at_newest", newest),
        (
            "sum_increase_30d_1000_series_a_day_earlier",
            newest - DAY_MS,
        ),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| {
                let v = eval_instant(&snap, &inc, t, &opts, &cancel).unwrap();
                assert!(matches!(v, Value::Vector(ref v) if v.len() == 1));
            })
        });
    }
    g.finish();
}

criterion_group!(benches, queries);
criterion_main!(benches);
