//! Crash test: writers stream batches to a real `nines serve` process over
//! gRPC `WriteStream` (default sync policy: fsync before acknowledging)
//! while the process is killed with SIGKILL at random moments. After every
//! restart each acknowledged sample must be queryable exactly once;
//! unacknowledged ones may or may not be there, but nothing that was never
//! sent, and no sample twice.
//!
//! Writer `w` writes sample `i` of series `crash_total{writer="w"}` at
//! `base + i` ms with value `i`, so a stored point names its own index.

use std::io::{BufRead, BufReader};
use std::ops::Range;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nines_proto::v1;
use rand::{Rng, SeedableRng};

const WRITERS: usize = 3;
const BATCH: u64 = 400;
const ROUNDS: usize = 12;

struct Server {
    child: Child,
    http: String,
    grpc: String,
}

/// Starts `nines serve` on free ports and reads the addresses it prints.
fn spawn_server(dir: &std::path::Path, log: &std::path::Path) -> Server {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_nines"))
        .args([
            "serve",
            "--http-listen",
            "127.0.0.1:0",
            "--grpc-listen",
            "127.0.0.1:0",
        ])
        .arg("--data-dir")
        .arg(dir)
        .env_remove("NINES_CONFIG")
        .env_remove("NINES_SYNC")
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .expect("spawn nines serve");
    let stdout = child.stdout.take().unwrap();
    let (mut http, mut grpc) = (String::new(), String::new());
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some(a) = line.strip_prefix("http: ") {
            http = a.to_string();
        } else if let Some(a) = line.strip_prefix("grpc: ") {
            grpc = a.to_string();
        } else if line.starts_with("data: ") {
            break;
        }
    }
    assert!(
        !http.is_empty() && !grpc.is_empty(),
        "server printed no addresses"
    );
    Server { child, http, grpc }
}

/// What one writer sent and had acknowledged, as sample index ranges.
#[derive(Clone, Default)]
struct Ledger {
    /// Indices below this were sent (or attempted).
    next: u64,
    acked: Vec<Range<u64>>,
    /// Indices below this were checked after a restart, and the count and
    /// sum of the samples found there.
    checked: u64,
    checked_count_sum: (f64, f64),
}

/// Streams 1-4 batches per call, a few ms apart, until the server goes
/// away.
async fn writer(grpc: String, w: usize, base: i64, ledger: Arc<Mutex<Ledger>>, seed: u64) {
    let mut rng = rand::rngs::SmallRng::seed_from_u64(seed);
    let Ok(mut client) = v1::ingest_client::IngestClient::connect(grpc).await else {
        return;
    };
    loop {
        let batches = rng.gen_range(1..=4u64);
        let first = {
            let mut l = ledger.lock().unwrap();
            let f = l.next;
            l.next += batches * BATCH;
            f
        };
        let msgs: Vec<v1::WriteRequest> = (0..batches)
            .map(|b| {
                let idx = first + b * BATCH..first + (b + 1) * BATCH;
                v1::WriteRequest {
                    series: vec![v1::SeriesSamples {
                        labels: vec![
                            v1::Label {
                                name: "__name__".into(),
                                value: "crash_total".into(),
                            },
                            v1::Label {
                                name: "writer".into(),
                                value: w.to_string(),
                            },
                        ],
                        kind: v1::SeriesKind::Counter as i32,
                        timestamps: idx.clone().map(|i| base + i as i64).collect(),
                        values: idx.map(|i| i as f64).collect(),
                    }],
                    ..Default::default()
                }
            })
            .collect();
        match client.write_stream(tokio_stream::iter(msgs)).await {
            Ok(r) => {
                let r = r.into_inner();
                assert_eq!(r.accepted + r.duplicates, batches * BATCH, "{r:?}");
                assert_eq!(r.rejected_samples, 0, "{r:?}");
                ledger
                    .lock()
                    .unwrap()
                    .acked
                    .push(first..first + batches * BATCH);
            }
            Err(_) => return,
        }
        // Paced, so that the data (and the check after each restart) stays
        // small enough for the whole test to run in well under a minute.
        tokio::time::sleep(Duration::from_millis(rng.gen_range(0..10))).await;
    }
}

async fn query(http: &str, q: &str, at_ms: i64) -> serde_json::Value {
    let r: serde_json::Value = reqwest::Client::new()
        .post(format!("{http}/api/v1/query"))
        .form(&[
            ("query", q),
            ("time", &format!("{}", at_ms as f64 / 1000.0)),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["status"], "success", "{r}");
    r
}

/// The stored points of writer `w` with indices in `range`.
async fn stored(http: &str, w: usize, base: i64, range: Range<u64>) -> Vec<(i64, f64)> {
    // [T - len, T] (Prometheus 2's closed window) with T the range's last
    // sample: `range` and the sample before it, dropped below.
    let q = format!(
        "crash_total{{writer=\"{w}\"}}[{}ms]",
        range.end - range.start
    );
    let r = query(http, &q, base + range.end as i64 - 1).await;
    let Some(series) = r["data"]["result"].as_array().and_then(|a| a.first()) else {
        return Vec::new();
    };
    series["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let t = (p[0].as_f64().unwrap() * 1000.0).round() as i64;
            (t - base, p[1].as_str().unwrap().parse().unwrap())
        })
        .filter(|&(i, _)| i >= range.start as i64)
        .collect()
}

/// count_over_time and sum_over_time of writer `w`'s samples with indices
/// below `end`, as the evaluator computes them (the window's first
/// millisecond is index -1: no sample).
async fn count_and_sum(http: &str, w: usize, base: i64, end: u64) -> (f64, f64) {
    if end == 0 {
        return (0.0, 0.0);
    }
    let mut out = [0.0; 2];
    for (i, f) in ["count_over_time", "sum_over_time"].iter().enumerate() {
        let q = format!("{f}(crash_total{{writer=\"{w}\"}}[{end}ms])");
        let r = query(http, &q, base + end as i64 - 1).await;
        out[i] = r["data"]["result"][0]["value"][1]
            .as_str()
            .map_or(0.0, |s| s.parse().unwrap());
    }
    (out[0], out[1])
}

/// Every acknowledged sample is there once; nothing else but what was
/// sent; what an earlier check saw is unchanged. Each check reads the raw
/// points written since the previous one and compares count and sum of
/// the older ones with what that check found. Returns the samples
/// acknowledged so far.
async fn verify(http: &str, base: i64, ledgers: &[Arc<Mutex<Ledger>>]) -> u64 {
    let mut acked_total = 0;
    for (w, ledger) in ledgers.iter().enumerate() {
        let mut l = ledger.lock().unwrap().clone();
        let (count, sum) = count_and_sum(http, w, base, l.checked).await;
        assert_eq!(
            (count, sum),
            l.checked_count_sum,
            "writer {w}: samples checked before changed"
        );
        let new = l.checked..l.next;
        let points = if new.is_empty() {
            Vec::new()
        } else {
            stored(http, w, base, new.clone()).await
        };
        let mut prev = l.checked as i64 - 1;
        for &(i, v) in &points {
            assert!(
                i > prev,
                "writer {w}: sample {i} stored twice or out of order"
            );
            prev = i;
            assert!(
                new.contains(&(i as u64)),
                "writer {w}: sample {i} never sent"
            );
            assert_eq!(v, i as f64, "writer {w}: sample {i} has value {v}");
        }
        for r in &l.acked {
            acked_total += r.end - r.start;
            if r.start < l.checked {
                continue;
            }
            for i in r.clone() {
                assert!(
                    points.binary_search_by_key(&(i as i64), |p| p.0).is_ok(),
                    "writer {w}: acknowledged sample {i} lost ({} stored of {new:?})",
                    points.len()
                );
            }
        }
        l.checked = l.next;
        l.checked_count_sum.0 += points.len() as f64;
        l.checked_count_sum.1 += points.iter().map(|p| p.1).sum::<f64>();
        let (count, sum) = count_and_sum(http, w, base, l.checked).await;
        assert_eq!(
            (count, sum),
            l.checked_count_sum,
            "writer {w}: count and sum of all samples"
        );
        *ledger.lock().unwrap() = l;
    }
    acked_total
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_samples_survive_sigkill() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("server.log");
    let seed: u64 = std::env::var("NINES_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::thread_rng().gen());
    eprintln!("crash test seed {seed} (NINES_CRASH_SEED to replay)");
    let mut rng = rand::rngs::SmallRng::seed_from_u64(seed);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let base = now - 40 * 60_000;
    let ledgers: Vec<Arc<Mutex<Ledger>>> = (0..WRITERS).map(|_| Arc::default()).collect();

    let mut kills = 0;
    let mut last_acked = 0;
    for round in 0..=ROUNDS {
        let mut server = spawn_server(&data, &log);
        let acked = verify(&server.http, base, &ledgers).await;
        assert!(acked >= last_acked);
        last_acked = acked;
        if round == ROUNDS {
            server.child.kill().unwrap();
            server.child.wait().unwrap();
            break;
        }
        let tasks: Vec<_> = ledgers
            .iter()
            .enumerate()
            .map(|(w, l)| {
                tokio::spawn(writer(
                    server.grpc.clone(),
                    w,
                    base,
                    Arc::clone(l),
                    rng.gen(),
                ))
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(rng.gen_range(20..400))).await;
        server.child.kill().unwrap();
        server.child.wait().unwrap();
        kills += 1;
        for t in tasks {
            t.await.unwrap();
        }
    }
    assert!(kills >= 10);
    assert!(last_acked > 0, "nothing was acknowledged in {kills} rounds");
    let log = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(!log.contains("panicked"), "{log}");
    eprintln!(
        "{kills} kills, {last_acked} acknowledged samples verified in {:?}",
        started.elapsed()
    );
}
