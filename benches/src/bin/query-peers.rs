//! Query latency of nines and Prometheus on the same data, in the same run,
//! through each one's HTTP API (issue 3's "at least 5x faster than
//! Prometheus on a 7-day range query").
//!
//! ```sh
//! cargo build --release
//! cargo run -p nines-benches --release --bin query-peers -- --preset small
//! ```
//!
//! 1. generates the seeded workload (preset, `--days`) into a nines data
//!    directory (in process) and compacts it;
//! 2. exports it as OpenMetrics with `nines export` and builds Prometheus
//!    blocks from it with `promtool tsdb create-blocks-from openmetrics`;
//! 3. starts `prometheus` on those blocks and `nines serve` on the data
//!    directory, both on loopback;
//! 4. asks both the same dashboard questions (POST form, as Grafana does):
//!    one warm-up, then `--runs` timed runs; prints median and best, the
//!    ratio Prometheus / nines, and whether the answers agree (every point,
//!    relative 1e-9);
//! 5. writes the figures as JSON (`--json`).
//!
//! Needs `promtool` and `prometheus` (Debian package `prometheus`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use clap::Parser;
use nines_benches::harness::spawn_nines;
use nines_benches::peer::{
    ask, differ, median, run_ok, settle, start_prometheus, wait_ready, Asker, Proc, Question,
};
use nines_benches::workload::{Workload, WorkloadConfig};
use nines_engine::wal::SyncPolicy;
use nines_engine::{Engine, EngineOptions};
use serde_json::json;

#[derive(Parser, Debug)]
#[command(about = "Dashboard query latency: nines vs Prometheus on the same data")]
struct Args {
    /// Workload preset: small or medium.
    #[arg(long, default_value = "small")]
    preset: String,
    /// Days of data (default: the preset's).
    #[arg(long)]
    days: Option<i64>,
    /// Scrape interval in seconds (default: the preset's). promtool's
    /// backfill is single-threaded and slow (about 1 M samples a minute on
    /// a 2-core machine), so a longer interval keeps the run short while
    /// keeping every series and the 7 days.
    #[arg(long)]
    scrape_interval: Option<i64>,
    /// Timed runs per query (after one warm-up).
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// The nines binary.
    #[arg(long, default_value = "target/release/nines")]
    nines: PathBuf,
    /// Where to write the figures as JSON.
    #[arg(long, default_value = "target/query-peers.json")]
    json: PathBuf,
    /// Keep the generated data here instead of a temporary directory (and
    /// reuse it when it is already there).
    #[arg(long)]
    keep: Option<PathBuf>,
}

/// Loads the workload into `dir` and compacts it, unless done before.
fn load_nines(dir: &Path, w: &Workload) {
    if dir.join("loaded").exists() {
        return;
    }
    let t = Instant::now();
    let engine = Engine::open(
        EngineOptions::new(dir)
            .background(false)
            .sync(SyncPolicy::Never),
    )
    .expect("open the nines data directory");
    for (i, b) in w.batches(100_000).enumerate() {
        let out = engine.append(&b).expect("append");
        assert_eq!(out.rejected_samples, 0, "{:?}", out.rejected.first());
        if i % 20 == 0 {
            engine.maintain().expect("maintain");
        }
    }
    engine.compact_all().expect("compact");
    engine.close().expect("close");
    std::fs::write(dir.join("loaded"), b"").expect("marker");
    println!(
        "nines: loaded and compacted in {:.1} s",
        t.elapsed().as_secs_f64()
    );
}

/// `nines export` as OpenMetrics, then `promtool` blocks, unless done.
fn load_prometheus(nines: &Path, data: &Path, tsdb: &Path, work: &Path) {
    if tsdb.join("loaded").exists() {
        return;
    }
    let om = work.join("export.om");
    let t = Instant::now();
    run_ok(
        Command::new(nines)
            .arg("export")
            .arg("--data-dir")
            .arg(data)
            .args(["--match", r#"{__name__=~".+"}"#, "--format", "openmetrics"])
            // stale markers would become NaN samples in Prometheus
            .arg("--drop-stale-markers")
            .arg("--output")
            .arg(&om),
        "nines export",
    );
    let t_export = t.elapsed().as_secs_f64();
    let t = Instant::now();
    std::fs::create_dir_all(tsdb).expect("tsdb dir");
    run_ok(
        Command::new("promtool")
            .args(["tsdb", "create-blocks-from", "openmetrics"])
            .arg(&om)
            .arg(tsdb),
        "promtool tsdb create-blocks-from openmetrics",
    );
    let _ = std::fs::remove_file(&om);
    std::fs::write(tsdb.join("loaded"), b"").expect("marker");
    println!(
        "prometheus: OpenMetrics export {t_export:.1} s, promtool blocks {:.1} s",
        t.elapsed().as_secs_f64()
    );
}

fn start_nines(bin: &Path, data: &Path) -> (Proc, String) {
    let (child, http, _) = spawn_nines(bin, data, &[]);
    (Proc(child), format!("http://{http}"))
}

fn main() {
    let args = Args::parse();
    let mut config = WorkloadConfig::preset(&args.preset).expect("preset small or medium");
    if let Some(d) = args.days {
        config = config.with_days(d);
    }
    if let Some(s) = args.scrape_interval {
        config.scrape_interval_ms = s * 1000;
    }
    let w = Workload::new(config).expect("workload");
    let tmp = tempfile::tempdir().expect("tempdir");
    let work = args
        .keep
        .clone()
        .unwrap_or_else(|| tmp.path().to_path_buf());
    std::fs::create_dir_all(&work).expect("work dir");
    let (data, tsdb) = (work.join("nines"), work.join("prometheus"));
    println!(
        "workload: preset {}, {} series, {} days, scrape every {} s",
        args.preset,
        w.series_count(),
        (w.end_ms() - w.config().start_ms) / 86_400_000,
        w.config().scrape_interval_ms / 1000
    );
    load_nines(&data, &w);
    load_prometheus(&args.nines, &data, &tsdb, &work);

    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(600))
        .build()
        .expect("client");
    let (prom_proc, prom) = start_prometheus(&tsdb, &work);
    wait_ready(&client, &prom, "prometheus");
    settle(prom_proc.0.id(), "prometheus");
    let (_nines, nines) = start_nines(&args.nines, &data);
    wait_ready(&client, &nines, "nines");

    let (start, end) = (w.config().start_ms, w.end_ms() - 60_000);
    let step = 300_000;
    let range = Some((start + 3_600_000, end, step));
    let questions = vec![
        Question {
            name: "7d range: sum by service (rate 5m)",
            query: "sum by (service) (rate(http_requests_total[5m]))".into(),
            range,
            at: end,
        },
        Question {
            name: "7d range: error ratio 1h by service",
            query: r#"sum by (service) (rate(http_requests_total{code=~"5.."}[1h])) / sum by (service) (rate(http_requests_total[1h]))"#.into(),
            range,
            at: end,
        },
        Question {
            name: "7d range: p99 latency 5m by service",
            query: "histogram_quantile(0.99, sum by (le, service) (rate(http_request_duration_seconds_bucket[5m])))".into(),
            range,
            at: end,
        },
        Question {
            name: "instant: increase over all data",
            query: "sum(increase(http_requests_total[30d]))".into(),
            range: None,
            at: end,
        },
        Question {
            name: "instant: error ratio 7d by service",
            query: r#"sum by (service) (increase(http_requests_total{code=~"5.."}[7d])) / sum by (service) (increase(http_requests_total[7d]))"#.into(),
            range: None,
            at: end,
        },
    ];

    let mut asker = Asker::default();
    let mut rows = Vec::new();
    println!(
        "\n{:<42} {:>11} {:>11} {:>11} {:>11} {:>8}  answers",
        "question", "nines med", "nines best", "prom med", "prom best", "prom/n"
    );
    for q in &questions {
        let (_, a_n) = ask(&mut asker, &nines, q);
        let (_, a_p) = ask(&mut asker, &prom, q);
        let diff = differ(&a_n, &a_p);
        let (mut tn, mut tp) = (Vec::new(), Vec::new());
        for _ in 0..args.runs {
            tn.push(ask(&mut asker, &nines, q).0);
            tp.push(ask(&mut asker, &prom, q).0);
        }
        let (bn, bp) = (
            tn.iter().copied().fold(f64::MAX, f64::min),
            tp.iter().copied().fold(f64::MAX, f64::min),
        );
        let (mn, mp) = (median(&mut tn), median(&mut tp));
        let agree = match &diff {
            None => "agree".to_string(),
            Some(d) => format!("DIFFER: {d}"),
        };
        println!(
            "{:<42} {:>9.1}ms {:>9.1}ms {:>9.1}ms {:>9.1}ms {:>7.1}x  {agree}",
            q.name,
            mn,
            bn,
            mp,
            bp,
            mp / mn
        );
        let _ = std::io::stdout().flush();
        rows.push(json!({
            "question": q.name, "query": q.query, "range": q.range.is_some(),
            "nines_median_ms": mn, "nines_best_ms": bn,
            "prometheus_median_ms": mp, "prometheus_best_ms": bp,
            "ratio_prometheus_over_nines": mp / mn,
            "agree": diff.is_none(), "difference": diff,
        }));
    }
    let report = json!({
        "preset": args.preset,
        "series": w.series_count(),
        "days": (w.end_ms() - w.config().start_ms) / 86_400_000,
        "scrape_interval_s": w.config().scrape_interval_ms / 1000,
        "runs": args.runs,
        "nproc": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "results": rows,
    });
    if let Some(dir) = args.json.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    std::fs::write(
        &args.json,
        serde_json::to_string_pretty(&report).unwrap_or_default(),
    )
    .expect("write the JSON report");
    println!("\nwrote {}", args.json.display());
}
