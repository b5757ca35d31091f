//! Times the stages of the 30-day increase query of `benches/query.rs` on
//! the engine that bench leaves in `NINES_BENCH_DATA/counters-31d-live`:
//! series selection with rollups, the per-series summaries on one thread,
//! and the whole query; prints the best and the median of `N` runs (default
//! 30) at the newest sample and a day earlier, then what the series
//! directories and the rollup bucket cache hold.
//!
//! `NINES_BENCH_DATA=/tmp/nbd cargo run --release -p nines-benches --example window_probe [N]`

use std::time::{Duration, Instant};

use nines_engine::index::{MatchOp, Matcher};
use nines_engine::options::DAY_MS;
use nines_engine::read::ReadScratch;
use nines_engine::wal::SyncPolicy;
use nines_engine::{Engine, EngineOptions};
use nines_query::functions::lookup;
use nines_query::syntax::ast::{
    AggregateExpr, AggregateOp, Call, Expr, MatrixSelector, VectorSelector,
};
use nines_query::{eval_instant, Cancel, QueryOptions, Value};

fn stats(mut d: Vec<Duration>) -> String {
    d.sort();
    format!("best {:>9.3?}  median {:>9.3?}", d[0], d[d.len() / 2])
}

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(30);
    let dir = std::path::PathBuf::from(
        std::env::var_os("NINES_BENCH_DATA").expect("set NINES_BENCH_DATA"),
    )
    .join("counters-31d-live");
    assert!(dir.join("done").exists(), "run the query bench first");
    let engine = Engine::open(
        EngineOptions::new(&dir)
            .background(false)
            .sync(SyncPolicy::Never),
    )
    .unwrap();
    let snap = engine.snapshot();
    let newest = snap
        .version()
        .raw
        .iter()
        .map(|f| f.max_t())
        .chain(engine.head().max_time())
        .max()
        .unwrap();
    let matchers = vec![Matcher::new(MatchOp::Equal, "__name__", "c_total").unwrap()];
    let expr = Expr::Aggregate(AggregateExpr {
        op: AggregateOp::Sum,
        expr: Box::new(Expr::Call(Call {
            func: lookup("increase").unwrap(),
            args: vec![Expr::Matrix(MatrixSelector {
                selector: VectorSelector {
                    name: Some("c_total".into()),
                    matchers: matchers.clone(),
                    offset: None,
                    at: None,
                },
                range: 30 * DAY_MS,
            })],
        })),
        param: None,
        grouping: None,
    });
    let (opts, cancel) = (QueryOptions::default(), Cancel::new());
    for (name, t) in [("at newest", newest), ("a day earlier", newest - DAY_MS)] {
        let (a, b) = (t - 30 * DAY_MS - 1, t);
        let (mut sel, mut sum, mut all) = (Vec::new(), Vec::new(), Vec::new());
        let mut scratch = ReadScratch::default();
        for _ in 0..runs {
            let t0 = Instant::now();
            let hs = snap.select_for_windows(&matchers, &[(a, b)]).unwrap();
            sel.push(t0.elapsed());
            let t0 = Instant::now();
            for h in &hs {
                std::hint::black_box(snap.summarize(h, a, b, &mut scratch).unwrap());
            }
            sum.push(t0.elapsed());
            drop(hs);
            let t0 = Instant::now();
            let v = eval_instant(&snap, &expr, t, &opts, &cancel).unwrap();
            all.push(t0.elapsed());
            assert!(matches!(v, Value::Vector(ref v) if v.len() == 1));
        }
        println!("{name}: select_for_windows {}", stats(sel));
        println!("{name}: summarize x1000 (1 thread) {}", stats(sum));
        println!("{name}: whole query {}", stats(all));
    }
    let v = snap.version();
    println!("rollup bucket cache: {} bytes held", v.buckets.bytes());
    for (res, files) in std::iter::once((&0, &v.raw)).chain(&v.rollups) {
        let (mut bytes, mut series) = (0usize, 0usize);
        for f in files {
            let d = f.segment.directory(&v.labels).unwrap();
            bytes += d.mem_bytes();
            series += d.len();
        }
        println!(
            "series directories, resolution {res} s: {} files, {series} series entries, {} bytes each",
            files.len(),
            bytes / series.max(1)
        );
    }
}
