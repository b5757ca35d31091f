//! nines beside Prometheus and VictoriaMetrics on the same machine, the
//! same data and the same questions (`benches/peers/run.sh`, which builds
//! this and installs the peers; docs/BENCHMARKS.md, "Peers").
//!
//! 1. generates the seeded SLI workload at `--scale` (30 days, so that the
//!    30-day SLO questions have their whole window) and writes it once as
//!    JSON lines and as OpenMetrics (`nines export`, stale markers left
//!    out: OpenMetrics cannot carry them);
//! 2. bulk load, each timed: nines by `nines import` then `nines compact`;
//!    Prometheus by `promtool tsdb create-blocks-from openmetrics`, then
//!    its own compaction at start (timed until it is idle); VictoriaMetrics
//!    by `/api/v1/import`, then `/internal/force_merge` (timed until idle);
//! 3. bytes on disk and per sample after that;
//! 4. the same questions through each one's HTTP API (POST form, as
//!    Grafana sends them): 7-day range panels, 30-day SLO questions in
//!    PromQL, and the same SLO questions through nines's native operators;
//!    a first run, then the median of `--runs`; answers compared with the
//!    generator's exact ones and nines's PromQL with Prometheus's;
//! 5. ingest: `ingest-load` pushes the same pre-encoded remote-write
//!    batches to each (and gRPC to nines: an agent's `WriteSession`, and
//!    unary compact `Write` calls), client CPU reported; `--ingest-rounds`
//!    rounds (5), each system's median run;
//! 6. peak RSS of each database's processes over load and queries;
//! 7. one table, and the figures as JSON (`--json`).
//!
//! Each database runs alone: the others are stopped while it loads and
//! answers, so the two cores are its own.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use nines_benches::harness::spawn_nines;
use nines_benches::peer::{
    ask, differ, free_port, median, run_ok, settle, start_prometheus, wait_http, wait_idle,
    wait_ready, Asker, Proc, Question,
};
use nines_benches::workload::{SeriesSelector, Workload, WorkloadConfig};
use nines_engine::types::is_stale_marker;
use nines_engine::wal::SyncPolicy;
use nines_engine::{Engine, EngineOptions};
use serde_json::{json, Value as Json};

const DAY_MS: i64 = 86_400_000;
/// The SLO questions' objective (99.9 %) and the latency threshold.
const TARGET: f64 = 0.999;
const LATENCY_LE: &str = "0.25";
const SERVICE: &str = "checkout";

#[derive(Parser, Debug)]
#[command(
    about = "nines vs Prometheus vs VictoriaMetrics: bulk load, ingest, queries, memory and disk on the same data"
)]
struct Args {
    /// `small` (2 services x 2 endpoints x 2 pods, 30 days at 120 s: 3.4 M
    /// samples, under 10 minutes on 2 cores) or `medium` (the small
    /// preset's 4 x 3 x 3, 30 days at 60 s: about 30 M samples; promtool
    /// alone takes about 20 minutes).
    #[arg(long, default_value = "small", value_parser = ["small", "medium"])]
    scale: String,
    /// Timed runs per question (after one first run); the median is kept.
    #[arg(long, default_value_t = 11)]
    runs: usize,
    #[arg(long, default_value = "target/release/nines")]
    nines: PathBuf,
    #[arg(long, default_value = "target/release/ingest-load")]
    ingest_load: PathBuf,
    #[arg(long, default_value = "victoria-metrics")]
    victoria_metrics: PathBuf,
    /// Days of data (30: the SLO questions' window; fewer only to try the
    /// harness out).
    #[arg(long, default_value_t = 30)]
    days: i64,
    /// Ingest rounds (each round one run of every system, so they share
    /// the machine's quiet and busy spells); each system's median run is
    /// kept. A burst of host contention lasting a few seconds can take two
    /// of three consecutive rounds of one system; five keep its median out
    /// of it.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    ingest_rounds: u32,
    /// Leave out the ingest comparison.
    #[arg(long)]
    no_ingest: bool,
    #[arg(long, default_value = "target/peers.json")]
    json: PathBuf,
    /// Work here instead of a temporary directory (kept afterwards).
    #[arg(long)]
    keep: Option<PathBuf>,
}

fn config(scale: &str, days: i64) -> WorkloadConfig {
    let base = match scale {
        "medium" => WorkloadConfig::small(),
        _ => WorkloadConfig {
            services: 2,
            endpoints_per_service: 2,
            pods_per_service: 2,
            ..WorkloadConfig::small()
        },
    };
    let mut c = base.with_days(days);
    c.scrape_interval_ms = if scale == "medium" { 60_000 } else { 120_000 };
    c
}

/// Peak resident memory of a running process (VmHWM), in bytes.
fn peak_rss(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Runs `cmd` to completion, timing it and following its peak RSS.
fn timed(cmd: &mut Command, what: &str) -> (f64, u64) {
    let t = Instant::now();
    let child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let pid = child.id();
    let done = Arc::new(AtomicBool::new(false));
    let d2 = Arc::clone(&done);
    let watcher = std::thread::spawn(move || {
        let mut peak = 0;
        while !d2.load(Ordering::Relaxed) {
            peak = peak.max(peak_rss(pid));
            std::thread::sleep(Duration::from_millis(50));
        }
        peak
    });
    let out = child.wait_with_output().expect("wait");
    done.store(true, Ordering::Relaxed);
    let peak = watcher.join().unwrap_or(0);
    assert!(
        out.status.success(),
        "{what} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    (t.elapsed().as_secs_f64(), peak)
}

fn dir_bytes(p: &Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(p) else {
        return 0;
    };
    rd.filter_map(Result::ok)
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

fn start_vm(bin: &Path, dir: &Path) -> (Proc, String) {
    let addr = format!("127.0.0.1:{}", free_port());
    let child: Child = Command::new(bin)
        .arg(format!("-storageDataPath={}", dir.display()))
        .arg(format!("-httpListenAddr={addr}"))
        .arg("-retentionPeriod=100y")
        .arg("-search.maxSamplesPerQuery=1000000000")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "start {} (Debian package victoria-metrics): {e}",
                bin.display()
            )
        });
    (Proc(child), format!("http://{addr}"))
}

/// The availability and latency SLOs the native questions ask about.
fn slo_yaml() -> String {
    format!(
        r#"apiVersion: openslo/v1
kind: SLO
metadata:
  name: checkout-availability
spec:
  service: {SERVICE}
  indicator:
    spec:
      ratioMetric:
        counter: true
        bad:
          metricSource:
            spec:
              query: http_requests_total{{service="{SERVICE}", code=~"5.."}}
        total:
          metricSource:
            spec:
              query: http_requests_total{{service="{SERVICE}"}}
  timeWindow:
    - duration: 30d
      isRolling: true
  budgetingMethod: Occurrences
  objectives:
    - target: {TARGET}
---
apiVersion: openslo/v1
kind: SLO
metadata:
  name: checkout-latency
spec:
  service: {SERVICE}
  indicator:
    spec:
      ratioMetric:
        counter: true
        good:
          metricSource:
            spec:
              query: http_request_duration_seconds_bucket{{service="{SERVICE}", le="{LATENCY_LE}"}}
        total:
          metricSource:
            spec:
              query: http_request_duration_seconds_count{{service="{SERVICE}"}}
  timeWindow:
    - duration: 30d
      isRolling: true
  budgetingMethod: Occurrences
  objectives:
    - target: 0.95
"#
    )
}

/// The single value of an instant answer.
fn scalar(data: &Json) -> Option<f64> {
    data["result"]
        .as_array()?
        .first()?
        .get("value")?
        .get(1)?
        .as_str()?
        .parse()
        .ok()
}

struct Asked {
    name: &'static str,
    kind: &'static str,
    /// Exact answer from the generator (SLO questions).
    exact: Option<f64>,
    nines: Question,
    /// The same question in PromQL for the peers (None: nines only).
    promql: Option<Question>,
}

fn times(client: &mut Asker, base: &str, q: &Question, runs: usize) -> (f64, Json) {
    let (_, first) = ask(client, base, q);
    let mut t: Vec<f64> = (0..runs).map(|_| ask(client, base, q).0).collect();
    (median(&mut t), first)
}

fn rel(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if a == b => Some(0.0),
        (Some(a), Some(b)) => Some((a - b).abs() / b.abs().max(f64::MIN_POSITIVE)),
        _ => None,
    }
}

/// Bytes free to an unprivileged writer on `dir`'s file system, from
/// POSIX `df -Pk` (None when it cannot say).
fn free_bytes(dir: &Path) -> Option<u64> {
    let out = Command::new("df").arg("-Pk").arg(dir).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let kib: u64 = text
        .lines()
        .nth(1)?
        .split_whitespace()
        .nth(3)?
        .parse()
        .ok()?;
    Some(kib * 1024)
}

fn main() {
    let args = Args::parse();
    let w = Workload::new(config(&args.scale, args.days)).expect("workload");
    let tmp = tempfile::tempdir().expect("tempdir");
    let work = args
        .keep
        .clone()
        .unwrap_or_else(|| tmp.path().to_path_buf());
    std::fs::create_dir_all(&work).expect("work dir");
    let began = Instant::now();
    let (start, end) = (w.config().start_ms, w.end_ms());
    println!(
        "peers: scale {}, {} series, {} days, scrape every {} s, work in {}",
        args.scale,
        w.series_count(),
        args.days,
        w.config().scrape_interval_ms / 1000,
        work.display()
    );

    // 1. the data, once, in both formats
    let gen = work.join("gen");
    let _ = std::fs::remove_dir_all(&gen);
    let mut samples = 0u64;
    {
        let engine = Engine::open(
            EngineOptions::new(&gen)
                .background(false)
                .sync(SyncPolicy::Never),
        )
        .expect("open a scratch engine");
        for b in w.batches(100_000) {
            samples += b
                .series
                .iter()
                .flat_map(|s| &s.values)
                .filter(|v| !is_stale_marker(**v))
                .count() as u64;
            let out = engine.append(&b).expect("append");
            assert_eq!(out.rejected_samples, 0, "{:?}", out.rejected.first());
        }
        engine.close().expect("close");
    }
    // The text forms take most of the disk the run needs: OpenMetrics
    // ~166 bytes a sample, JSON lines ~21, then promtool's blocks and the
    // three databases' data (medium: 6.2 GB at the peak). Said now rather
    // than as promtool's "no space left on device" minutes later.
    let need = samples * 220;
    if let Some(free) = free_bytes(&work) {
        if free < need {
            eprintln!(
                "peers: {} samples need about {:.1} GB free in {}; {:.1} GB are \
                 (TMPDIR, or --keep DIR, puts the work on another file system)",
                samples,
                need as f64 / 1e9,
                work.display(),
                free as f64 / 1e9
            );
            std::process::exit(1);
        }
    }
    // OpenMetrics one file per day: promtool reads its whole input once
    // for every 2-hour block it writes, so 30 days in one file would be
    // read 360 times (about 12 minutes at the small scale); per day, each
    // file is read 12 times
    let jsonl = work.join("data.jsonl");
    let om_dir = work.join("openmetrics");
    let _ = std::fs::remove_dir_all(&om_dir);
    std::fs::create_dir_all(&om_dir).expect("openmetrics dir");
    let export = |format: &str, out: &Path, range: Option<(i64, i64)>| {
        let mut cmd = Command::new(&args.nines);
        cmd.arg("export")
            .arg("--data-dir")
            .arg(&gen)
            .args(["--match", r#"{__name__=~".+"}"#, "--format", format])
            .arg("--drop-stale-markers")
            .arg("--output")
            .arg(out);
        if let Some((a, b)) = range {
            // inclusive bounds in seconds: (a, b] as whole milliseconds
            cmd.arg("--start")
                .arg(format!("{}.{:03}", (a + 1) / 1000, (a + 1) % 1000))
                .arg("--end")
                .arg(format!("{}.{:03}", b / 1000, b % 1000));
        }
        run_ok(&mut cmd, "nines export");
    };
    export("jsonl", &jsonl, None);
    let mut om_files = Vec::new();
    let mut day = start - 1;
    while day < end {
        let f = om_dir.join(format!("day-{:03}.om", om_files.len()));
        export("openmetrics", &f, Some((day, (day + DAY_MS).min(end))));
        om_files.push(f);
        day += DAY_MS;
    }
    let _ = std::fs::remove_dir_all(&gen);
    println!(
        "data: {samples} samples; JSON lines {:.0} MB, OpenMetrics {:.0} MB in {} files ({:.0} s)",
        dir_bytes_file(&jsonl) as f64 / 1e6,
        dir_bytes(&om_dir) as f64 / 1e6,
        om_files.len(),
        began.elapsed().as_secs_f64()
    );
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(900))
        .build()
        .expect("client");
    let mut asker = Asker::default();

    // the questions: 7-day panels at 5 minutes, 30-day SLO questions
    let at = end - 60_000;
    let range = Some((at - 7 * DAY_MS, at, 300_000));
    let q = |name: &'static str, query: String, range: Option<(i64, i64, i64)>| Question {
        name,
        query,
        range,
        at,
    };
    let bad = format!(r#"http_requests_total{{service="{SERVICE}", code=~"5.."}}"#);
    let total = format!(r#"http_requests_total{{service="{SERVICE}"}}"#);
    let good_lat = format!(
        r#"http_request_duration_seconds_bucket{{service="{SERVICE}", le="{LATENCY_LE}"}}"#
    );
    let total_lat = format!(r#"http_request_duration_seconds_count{{service="{SERVICE}"}}"#);
    let exact = |sel: Vec<SeriesSelector>, a: i64, b: i64| -> f64 {
        sel.iter().map(|s| w.increase(s, a, b)).sum()
    };
    let sel = |name: &str, extra: &[(&str, &str)]| {
        let mut s = SeriesSelector::new(name).with("service", SERVICE);
        for (k, v) in extra {
            s = s.with(*k, *v);
        }
        s
    };
    let bad_sel = || {
        vec![
            sel("http_requests_total", &[("code", "500")]),
            sel("http_requests_total", &[("code", "503")]),
        ]
    };
    let tot_sel = || vec![sel("http_requests_total", &[])];
    let (b30, t30) = (
        exact(bad_sel(), at - 30 * DAY_MS, at),
        exact(tot_sel(), at - 30 * DAY_MS, at),
    );
    let (b1, t1) = (
        exact(bad_sel(), at - 3_600_000, at),
        exact(tot_sel(), at - 3_600_000, at),
    );
    let (g30l, t30l) = (
        exact(
            vec![sel(
                "http_request_duration_seconds_bucket",
                &[("le", LATENCY_LE)],
            )],
            at - 30 * DAY_MS,
            at,
        ),
        exact(
            vec![sel("http_request_duration_seconds_count", &[])],
            at - 30 * DAY_MS,
            at,
        ),
    );
    let budget = 1.0 - TARGET;
    let asked = [
        Asked {
            name: "7d panel: requests/s by service (rate 5m)",
            kind: "panel",
            exact: None,
            nines: q("", "sum by (service) (rate(http_requests_total[5m]))".into(), range),
            promql: None,
        },
        Asked {
            name: "7d panel: error ratio by service (1h)",
            kind: "panel",
            exact: None,
            nines: q("", r#"sum by (service) (rate(http_requests_total{code=~"5.."}[1h])) / sum by (service) (rate(http_requests_total[1h]))"#.into(), range),
            promql: None,
        },
        Asked {
            name: "7d panel: p99 latency by service (5m)",
            kind: "panel",
            exact: None,
            nines: q("", "histogram_quantile(0.99, sum by (le, service) (rate(http_request_duration_seconds_bucket[5m])))".into(), range),
            promql: None,
        },
        Asked {
            name: "SLO: 30d budget remaining",
            kind: "slo",
            exact: Some(1.0 - b30 / (budget * t30)),
            nines: q("", r#"slo_budget_remaining("checkout-availability")"#.into(), None),
            promql: Some(q("", format!("1 - (sum(increase({bad}[30d])) / sum(increase({total}[30d]))) / {budget}"), None)),
        },
        Asked {
            name: "SLO: 30d burn rate",
            kind: "slo",
            exact: Some(b30 / (budget * t30)),
            nines: q("", r#"slo_burn_rate("checkout-availability", 30d)"#.into(), None),
            promql: Some(q("", format!("(sum(increase({bad}[30d])) / sum(increase({total}[30d]))) / {budget}"), None)),
        },
        Asked {
            name: "SLO: 1h burn rate",
            kind: "slo",
            exact: Some(b1 / (budget * t1)),
            nines: q("", r#"slo_burn_rate("checkout-availability", 1h)"#.into(), None),
            promql: Some(q("", format!("(sum(increase({bad}[1h])) / sum(increase({total}[1h]))) / {budget}"), None)),
        },
        Asked {
            name: "SLO: 30d latency SLI (<= 250 ms)",
            kind: "slo",
            exact: Some(g30l / t30l),
            nines: q("", r#"slo_sli("checkout-latency", 30d)"#.into(), None),
            promql: Some(q("", format!("sum(increase({good_lat}[30d])) / sum(increase({total_lat}[30d]))"), None)),
        },
    ];

    let mut systems = serde_json::Map::new();
    let mut answers: Vec<serde_json::Map<String, Json>> = vec![serde_json::Map::new(); asked.len()];
    // PromQL form of each question for every system
    let promql_of = |a: &Asked| -> Question {
        let p = a.promql.as_ref().unwrap_or(&a.nines);
        Question {
            name: a.name,
            query: p.query.clone(),
            range: p.range,
            at: p.at,
        }
    };
    let mut prom_answers: Vec<Option<Json>> = vec![None; asked.len()];

    // 2-4. Prometheus
    {
        let tsdb = work.join("prometheus");
        let _ = std::fs::remove_dir_all(&tsdb);
        std::fs::create_dir_all(&tsdb).expect("tsdb dir");
        // two promtool processes at a time: the other databases load on
        // both cores too
        let t = Instant::now();
        let mut load_rss = 0;
        for pair in om_files.chunks(2) {
            let handles: Vec<_> = pair
                .iter()
                .map(|f| {
                    let (f, tsdb) = (f.clone(), tsdb.clone());
                    std::thread::spawn(move || {
                        timed(
                            Command::new("promtool")
                                .args(["tsdb", "create-blocks-from", "openmetrics"])
                                .arg(&f)
                                .arg(&tsdb),
                            "promtool tsdb create-blocks-from openmetrics",
                        )
                        .1
                    })
                })
                .collect();
            for h in handles {
                load_rss = load_rss.max(h.join().expect("promtool thread"));
            }
        }
        let load_s = t.elapsed().as_secs_f64();
        println!("prometheus: promtool blocks in {load_s:.1} s");
        let t = Instant::now();
        let (proc_, base) = start_prometheus(&tsdb, &work);
        wait_ready(&client, &base, "prometheus");
        settle(proc_.0.id(), "prometheus");
        let merge_s = t.elapsed().as_secs_f64();
        let disk = dir_bytes(&tsdb);
        let mut rows = Vec::new();
        for (i, a) in asked.iter().enumerate() {
            let (ms, first) = times(&mut asker, &base, &promql_of(a), args.runs);
            prom_answers[i] = Some(first.clone());
            answers[i].insert("prometheus_ms".into(), json!(ms));
            answers[i].insert(
                "prometheus_error_vs_exact".into(),
                json!(a.exact.and_then(|x| rel(scalar(&first), Some(x)))),
            );
            rows.push(ms);
        }
        let rss = load_rss.max(peak_rss(proc_.0.id()));
        systems.insert(
            "prometheus".into(),
            json!({"load_s": load_s, "merge_s": merge_s, "disk_bytes": disk,
                   "bytes_per_sample": disk as f64 / samples as f64, "peak_rss_bytes": rss}),
        );
        println!("prometheus: settled {merge_s:.0} s after start, {disk} bytes, peak RSS {rss}");
    }

    // VictoriaMetrics
    {
        let dir = work.join("victoria-metrics");
        let _ = std::fs::remove_dir_all(&dir);
        let (proc_, base) = start_vm(&args.victoria_metrics, &dir);
        wait_http(&client, &base, "/health", "VictoriaMetrics");
        let t = Instant::now();
        let file = std::fs::File::open(&jsonl).expect("data.jsonl");
        let r = client
            .post(format!("{base}/api/v1/import"))
            .body(reqwest::blocking::Body::new(file))
            .send()
            .expect("VictoriaMetrics import");
        assert!(r.status().is_success(), "import: {}", r.status());
        let load_s = t.elapsed().as_secs_f64();
        let t = Instant::now();
        // every monthly partition the data touches
        let mut month = start;
        let mut prefixes = std::collections::BTreeSet::new();
        while month <= end {
            let (y, m) = year_month(month);
            prefixes.insert(format!("{y:04}_{m:02}"));
            month += DAY_MS;
        }
        // imported rows reach the disk from in-memory parts a few seconds
        // later: flush, wait until the directory stops growing, then merge
        // every monthly partition and wait again
        let _ = client.get(format!("{base}/internal/force_flush")).send();
        wait_still(&dir, &t);
        for p in &prefixes {
            let _ = client
                .get(format!("{base}/internal/force_merge?partition_prefix={p}"))
                .send();
        }
        wait_still(&dir, &t);
        let _ = wait_idle(proc_.0.id(), Duration::from_secs(300));
        let merge_s = t.elapsed().as_secs_f64();
        let disk = dir_bytes(&dir);
        for (i, a) in asked.iter().enumerate() {
            let (ms, first) = times(&mut asker, &base, &promql_of(a), args.runs);
            answers[i].insert("victoriametrics_ms".into(), json!(ms));
            answers[i].insert(
                "victoriametrics_error_vs_exact".into(),
                json!(a.exact.and_then(|x| rel(scalar(&first), Some(x)))),
            );
        }
        let rss = peak_rss(proc_.0.id());
        systems.insert(
            "victoriametrics".into(),
            json!({"load_s": load_s, "merge_s": merge_s, "disk_bytes": disk,
                   "bytes_per_sample": disk as f64 / samples as f64, "peak_rss_bytes": rss}),
        );
        println!("victoriametrics: import {load_s:.1} s, merge {merge_s:.0} s, {disk} bytes, peak RSS {rss}");
    }

    // nines
    {
        let data = work.join("nines");
        let _ = std::fs::remove_dir_all(&data);
        let (import_s, import_rss) = timed(
            Command::new(&args.nines)
                .arg("import")
                .arg("--data-dir")
                .arg(&data)
                .arg(&jsonl),
            "nines import",
        );
        let (merge_s, compact_rss) = timed(
            Command::new(&args.nines)
                .arg("compact")
                .arg("--data-dir")
                .arg(&data),
            "nines compact",
        );
        let disk = dir_bytes(&data);
        let (child, http, _) = spawn_nines(&args.nines, &data, &[]);
        let server = Proc(child);
        let base = format!("http://{http}");
        wait_ready(&client, &base, "nines");
        let yaml = work.join("slos.yaml");
        std::fs::write(&yaml, slo_yaml()).expect("slos.yaml");
        run_ok(
            Command::new(&args.nines)
                .args(["slo", "apply", "--url", &base, "--effective-from"])
                .arg(format!("{}", start / 1000))
                .arg("--file")
                .arg(&yaml),
            "nines slo apply",
        );
        for (i, a) in asked.iter().enumerate() {
            let (ms, first) = times(&mut asker, &base, &promql_of(a), args.runs);
            answers[i].insert("nines_ms".into(), json!(ms));
            answers[i].insert(
                "nines_error_vs_exact".into(),
                json!(a.exact.and_then(|x| rel(scalar(&first), Some(x)))),
            );
            let same = prom_answers[i].as_ref().map(|p| differ(&first, p));
            answers[i].insert(
                "nines_vs_prometheus".into(),
                json!(match same {
                    Some(None) => "agree".to_string(),
                    Some(Some(d)) => format!("differ: {d}"),
                    None => "-".to_string(),
                }),
            );
            if a.promql.is_some() {
                let (ms, first) = times(&mut asker, &base, &a.nines, args.runs);
                answers[i].insert("nines_native_ms".into(), json!(ms));
                answers[i].insert(
                    "nines_native_error_vs_exact".into(),
                    json!(a.exact.and_then(|x| rel(scalar(&first), Some(x)))),
                );
            }
        }
        let server_rss = peak_rss(server.0.id());
        let rss = import_rss.max(compact_rss).max(server_rss);
        systems.insert(
            "nines".into(),
            json!({"load_s": import_s, "merge_s": merge_s, "disk_bytes": disk,
                   "bytes_per_sample": disk as f64 / samples as f64, "peak_rss_bytes": rss,
                   "peak_rss_by_process": {"import": import_rss, "compact": compact_rss,
                                           "server": server_rss}}),
        );
        println!(
            "nines: import {import_s:.1} s, compact {merge_s:.1} s, {disk} bytes, peak RSS {rss} \
             (import {import_rss}, compact {compact_rss}, server {server_rss})"
        );
    }

    // 5. ingest
    let ingest = if args.no_ingest {
        Json::Null
    } else {
        let out = work.join("ingest.json");
        let preset = if args.scale == "medium" {
            "medium"
        } else {
            "small"
        };
        run_ok(
            Command::new(&args.ingest_load)
                .env("RUST_BACKTRACE", "0")
                .arg("--nines")
                .arg(&args.nines)
                // rounds, each system's median: one run of the small
                // scale lasts a quarter of a second
                .args(["--preset", preset, "--days", "1", "--runs"])
                .arg(args.ingest_rounds.to_string())
                // native: an agent's WriteSession (each series' labels
                // once per stream); compact: unary Write calls, labels in
                // every request
                .args(["--grpc-form", "session,compact", "--peer"])
                .arg(&args.victoria_metrics)
                .arg("--prometheus")
                .arg("prometheus")
                .arg("--json")
                .arg(&out),
            "ingest-load",
        );
        serde_json::from_slice(&std::fs::read(&out).expect("ingest.json")).expect("ingest JSON")
    };

    // 7. the table
    let sys = |s: &str, k: &str| systems[s][k].as_f64().unwrap_or(f64::NAN);
    println!(
        "\n{:<44} {:>11} {:>11} {:>11} {:>9} {:>9}",
        "figure", "nines", "Prometheus", "Victoria", "n/Prom", "n/VM"
    );
    let line = |name: &str, n: f64, p: f64, v: f64, unit: &str| {
        println!(
            "{name:<44} {:>9.2}{unit:<2} {:>9.2}{unit:<2} {:>9.2}{unit:<2} {:>9.3} {:>9.3}",
            n,
            p,
            v,
            n / p,
            n / v
        );
    };
    line(
        "bulk load (s)",
        sys("nines", "load_s"),
        sys("prometheus", "load_s"),
        sys("victoriametrics", "load_s"),
        "s",
    );
    line(
        "compaction / merge (s)",
        sys("nines", "merge_s"),
        sys("prometheus", "merge_s"),
        sys("victoriametrics", "merge_s"),
        "s",
    );
    line(
        "bytes per sample",
        sys("nines", "bytes_per_sample"),
        sys("prometheus", "bytes_per_sample"),
        sys("victoriametrics", "bytes_per_sample"),
        "B",
    );
    line(
        "peak RSS (MB)",
        sys("nines", "peak_rss_bytes") / 1e6,
        sys("prometheus", "peak_rss_bytes") / 1e6,
        sys("victoriametrics", "peak_rss_bytes") / 1e6,
        "MB",
    );
    let f = |m: &serde_json::Map<String, Json>, k: &str| {
        m.get(k).and_then(Json::as_f64).unwrap_or(f64::NAN)
    };
    for (a, m) in asked.iter().zip(&answers) {
        line(
            &format!("{} (ms)", a.name),
            f(m, "nines_ms"),
            f(m, "prometheus_ms"),
            f(m, "victoriametrics_ms"),
            "ms",
        );
        if a.promql.is_some() {
            line(
                "  same, nines native SLO operator (ms)",
                f(m, "nines_native_ms"),
                f(m, "prometheus_ms"),
                f(m, "victoriametrics_ms"),
                "ms",
            );
        }
    }
    if let Some(rows) = ingest.get("results").and_then(Json::as_array) {
        let rate = |name: &str| {
            rows.iter()
                .find(|r| r["name"] == name)
                .and_then(|r| r["samples_per_s"].as_f64())
                .unwrap_or(f64::NAN)
                / 1e6
        };
        let (rw_n, grpc_n) = (rate("nines remote-write"), rate("nines gRPC (native)"));
        let (rw_p, rw_v) = (
            rate("Prometheus remote-write"),
            rate("VictoriaMetrics remote-write"),
        );
        line(
            "remote-write ingest (M samples/s, higher is better)",
            rw_n,
            rw_p,
            rw_v,
            "M",
        );
        line(
            "native gRPC ingest vs their remote-write (M/s)",
            grpc_n,
            rw_p,
            rw_v,
            "M",
        );
        line(
            "  same, unary Write, labels in every request",
            rate("nines gRPC (compact)"),
            rw_p,
            rw_v,
            "M",
        );
    }
    println!("\nanswers (relative error against the generator's exact value; nines PromQL vs Prometheus):");
    for (a, m) in asked.iter().zip(&answers) {
        println!(
            "  {:<44} nines {:>10} native {:>10} prom {:>10} vm {:>10}  {}",
            a.name,
            err(m.get("nines_error_vs_exact")),
            err(m.get("nines_native_error_vs_exact")),
            err(m.get("prometheus_error_vs_exact")),
            err(m.get("victoriametrics_error_vs_exact")),
            m.get("nines_vs_prometheus")
                .and_then(Json::as_str)
                .unwrap_or("-"),
        );
    }
    let report = json!({
        "scale": args.scale,
        "series": w.series_count(),
        "samples": samples,
        "days": args.days,
        "scrape_interval_s": w.config().scrape_interval_ms / 1000,
        "runs": args.runs,
        "nproc": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "systems": systems,
        "questions": asked.iter().zip(&answers).map(|(a, m)| {
            let mut m = m.clone();
            m.insert("question".into(), json!(a.name));
            m.insert("kind".into(), json!(a.kind));
            m.insert("promql".into(), json!(promql_of(a).query));
            m.insert("native".into(), json!(a.promql.as_ref().map(|_| a.nines.query.clone())));
            m.insert("exact".into(), json!(a.exact));
            Json::Object(m)
        }).collect::<Vec<_>>(),
        "ingest": ingest,
        "elapsed_s": began.elapsed().as_secs_f64(),
    });
    if let Some(dir) = args.json.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    std::fs::write(
        &args.json,
        serde_json::to_string_pretty(&report).unwrap_or_default(),
    )
    .expect("write the JSON report");
    println!(
        "\nwrote {} ({:.0} s in all)",
        args.json.display(),
        began.elapsed().as_secs_f64()
    );
    let _ = std::io::stdout().flush();
}

fn err(v: Option<&Json>) -> String {
    match v.and_then(Json::as_f64) {
        Some(x) => format!("{x:.1e}"),
        None => "-".into(),
    }
}

fn dir_bytes_file(p: &Path) -> u64 {
    std::fs::metadata(p).map_or(0, |m| m.len())
}

/// Waits until the size of `dir` has not changed for 3 s (at most 5
/// minutes after `t`).
fn wait_still(dir: &Path, t: &Instant) {
    let (mut last, mut still) = (u64::MAX, 0);
    while still < 3 && t.elapsed() < Duration::from_secs(300) {
        std::thread::sleep(Duration::from_secs(1));
        let now = dir_bytes(dir);
        still = if now == last { still + 1 } else { 0 };
        last = now;
    }
}

/// The UTC year and month of `ms` (days to civil date, proleptic
/// Gregorian).
fn year_month(ms: i64) -> (i64, i64) {
    let z = ms.div_euclid(DAY_MS) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m)
}
