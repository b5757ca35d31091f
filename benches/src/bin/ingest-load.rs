//! End-to-end ingest load generator (the server issue's harness): starts
//! `nines serve` (and, with `--peer`, VictoriaMetrics) as separate processes
//! on loopback with data in a temporary directory, encodes the seeded SLI
//! workload into write requests of about `--batch` samples BEFORE timing
//! starts, then pushes them at full speed with `--concurrency` connections
//! and reports samples/s with the CPU time the client and each server used.
//! With `--runs N` every system is measured N times in rounds and each
//! one's median run is reported (and written to `--json`, every run's rate
//! beside it).
//!
//! ```sh
//! cargo build --release && cargo run -p nines-benches --release --bin ingest-load -- \
//!     --nines target/release/nines --preset small --days 2 --peer victoria-metrics
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use nines_benches::harness::{
    cpu_seconds, grpc_body, remote_write_body, start_nines, PreEncoded, Server,
};
use nines_benches::workload::{Workload, WorkloadConfig};
use nines_engine::Labels;
use nines_proto::v1;
use nines_server::ingest::compact_request;
use prost::Message;
use std::collections::HashMap;

#[derive(Parser)]
#[command(
    about = "Ingest throughput of nines (gRPC and remote-write) and VictoriaMetrics (remote-write)"
)]
struct Args {
    /// The nines binary to start.
    #[arg(long, default_value = "target/release/nines")]
    nines: PathBuf,
    /// Also measure this VictoriaMetrics binary (remote-write) in the same run.
    #[arg(long)]
    peer: Option<PathBuf>,
    /// Also measure this Prometheus binary (its remote-write receiver) in
    /// the same run.
    #[arg(long)]
    prometheus: Option<PathBuf>,
    /// Write the figures as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    #[arg(long, default_value = "small")]
    preset: String,
    #[arg(long)]
    days: Option<i64>,
    /// Which gRPC forms of the same batches to measure, comma-separated:
    /// `session` (reported as "nines gRPC (native)": an agent's
    /// `WriteSession` stream, each series' labels sent once and numbered,
    /// each batch sent after the one before was answered), `compact`
    /// (unary `Write` calls of the compact form, labels in every request),
    /// `plain` (unary, the `series` field); `both` is compact and plain,
    /// `all` the three.
    #[arg(long, default_value = "all", value_delimiter = ',',
          value_parser = ["session", "compact", "plain", "both", "all"])]
    grpc_form: Vec<String>,
    /// Samples per write request.
    #[arg(long, default_value_t = 10_000)]
    batch: usize,
    /// Concurrent connections.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// nines's sync policy (the default, `always`, is the durable one).
    #[arg(long, default_value = "always")]
    sync: String,
    /// Bearer-token authentication on nines: `off`, `on` (a writer token
    /// configured and sent with every request), or `both` (each nines
    /// measurement without, then with, in the same run: the cost of
    /// authentication as a ratio).
    #[arg(long, default_value = "off", value_parser = ["off", "on", "both"])]
    auth: String,
    /// Measure every system this many times, in rounds (each round one
    /// of each, so the systems share the machine's quiet and busy spells),
    /// and report each system's median run: a run of a few hundred
    /// milliseconds moves by a third with one scheduler hiccup.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    runs: u32,
}

/// The token `--auth` configures and sends.
const TOKEN: &str = "nines_ingest_load_bench_token";

/// The server configuration for one auth mode.
fn auth_config(on: bool) -> String {
    if on {
        format!(
            "[[auth.tokens]]\nname = \"bench\"\nrole = \"writer\"\nsha256 = \"{}\"\n",
            {
                use sha2::Digest;
                sha2::Sha256::digest(TOKEN.as_bytes())
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<String>()
            }
        )
    } else {
        String::new()
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

async fn start_vm(bin: &PathBuf) -> Server {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let child = Command::new(bin)
        .arg(format!("-storageDataPath={}", dir.path().display()))
        .arg(format!("-httpListenAddr=127.0.0.1:{port}"))
        .arg("-retentionPeriod=100y")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
    peer_server(child, port, dir, "/health").await
}

/// Prometheus with its remote-write receiver on, data in a temporary
/// directory. Requests go out on several connections at once, so samples
/// of one series can arrive out of order: its out-of-order window (off by
/// default) is opened to a day, as nines and VictoriaMetrics accept them.
async fn start_prometheus_receiver(bin: &PathBuf) -> Server {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        "global:\n  scrape_interval: 1m\nscrape_configs: []\nstorage:\n  tsdb:\n    out_of_order_time_window: 1d\n",
    )
    .expect("prometheus.yml");
    let port = free_port();
    let child = Command::new(bin)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("tsdb").display()
        ))
        .arg("--storage.tsdb.retention.time=100y")
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--web.enable-remote-write-receiver")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
    peer_server(child, port, dir, "/-/ready").await
}

/// A peer started on `port`, once `path` answers 2xx (at most a minute).
async fn peer_server(child: Child, port: u16, dir: tempfile::TempDir, path: &str) -> Server {
    let http: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(r) = reqwest::get(format!("http://{http}{path}")).await {
            if r.status().is_success() {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Server {
        child,
        http,
        grpc: None,
        dir,
    }
}

struct Encoded {
    samples: Vec<u64>,
    grpc: Vec<bytes::Bytes>,
    grpc_compact: Vec<bytes::Bytes>,
    /// Each request for a `WriteSession`, its series numbered the same on
    /// every session (by first appearance in the workload): with labels,
    /// for a session that has not named all of them yet, and without.
    session_named: Vec<bytes::Bytes>,
    session_bare: Vec<bytes::Bytes>,
    /// The numbers each request uses.
    session_numbers: Vec<Vec<u32>>,
    remote_write: Vec<bytes::Bytes>,
}

fn encode(workload: &Workload, batch: usize) -> Encoded {
    let mut e = Encoded {
        samples: Vec::new(),
        grpc: Vec::new(),
        grpc_compact: Vec::new(),
        session_named: Vec::new(),
        session_bare: Vec::new(),
        session_numbers: Vec::new(),
        remote_write: Vec::new(),
    };
    let mut numbers: HashMap<Labels, u32> = HashMap::new();
    for b in workload.batches(batch) {
        e.samples.push(b.sample_count() as u64);
        e.grpc.push(grpc_body(&b).into());
        let mut named = compact_request(&b.series);
        e.grpc_compact.push(named.encode_to_vec().into());
        let used: Vec<u32> = b
            .series
            .iter()
            .map(|s| {
                let next = numbers.len() as u32 + 1;
                *numbers.entry(s.labels.clone()).or_insert(next)
            })
            .collect();
        for (c, &n) in named.compact.iter_mut().zip(&used) {
            c.series_ref = n;
        }
        let mut bare = named.clone();
        bare.symbols.clear();
        for c in &mut bare.compact {
            c.label_refs.clear();
        }
        e.session_named.push(named.encode_to_vec().into());
        e.session_bare.push(bare.encode_to_vec().into());
        e.session_numbers.push(used);
        e.remote_write.push(remote_write_body(&b).into());
    }
    e
}

/// Sends every request with `concurrency` workers; returns the elapsed time.
/// Sends requests `0..n` with `concurrency` workers; `send(worker, i)`.
async fn push<F, Fut>(n: usize, concurrency: usize, send: F) -> Duration
where
    F: Fn(usize, usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let send = Arc::new(send);
    let t = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|w| {
            let next = Arc::clone(&next);
            let send = Arc::clone(&send);
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        return;
                    }
                    send(w, i).await;
                }
            })
        })
        .collect();
    for w in workers {
        w.await.expect("worker");
    }
    t.elapsed()
}

/// The figures of the run, for `--json`.
static RESULTS: std::sync::Mutex<Vec<serde_json::Value>> = std::sync::Mutex::new(Vec::new());

fn report(name: &str, samples: u64, elapsed: Duration, client_cpu: f64, server_cpu: f64) {
    let secs = elapsed.as_secs_f64();
    if let Ok(mut r) = RESULTS.lock() {
        r.push(serde_json::json!({
            "name": name, "samples": samples, "seconds": secs,
            "samples_per_s": samples as f64 / secs,
            "client_cpu_s": client_cpu, "server_cpu_s": server_cpu,
        }));
    }
    println!(
        "{name:<28} {:>8.2} M samples/s  ({samples} samples in {secs:.2} s; client CPU {client_cpu:.2} s, server CPU {server_cpu:.2} s)",
        samples as f64 / secs / 1e6
    );
}

async fn remote_write(
    addr: SocketAddr,
    enc: &Arc<Encoded>,
    concurrency: usize,
    token: Option<&str>,
) -> Duration {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(t) = token {
        headers.insert(
            reqwest::header::AUTHORIZATION,
            format!("Bearer {t}").parse().expect("header"),
        );
    }
    let client = reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .expect("client");
    let enc2 = Arc::clone(enc);
    push(enc.remote_write.len(), concurrency, move |_, i| {
        let client = client.clone();
        let body = enc2.remote_write[i].clone();
        async move {
            let r = client
                .post(format!("http://{addr}/api/v1/write"))
                .header("Content-Encoding", "snappy")
                .header("Content-Type", "application/x-protobuf")
                .header("X-Prometheus-Remote-Write-Version", "0.1.0")
                .body(body)
                .send()
                .await
                .expect("remote-write request");
            let status = r.status();
            assert!(
                status.is_success(),
                "remote-write answered {status}: {:?}",
                r.text().await
            );
        }
    })
    .await
}

/// `n` connections to a gRPC server, one per worker, as the remote-write
/// client's pool has (a tonic channel is one HTTP/2 connection).
async fn connect(grpc: SocketAddr, n: usize) -> Vec<tonic::transport::Channel> {
    let mut channels = Vec::new();
    for _ in 0..n {
        channels.push(
            tonic::transport::Endpoint::from_shared(format!("http://{grpc}"))
                .expect("endpoint")
                .connect()
                .await
                .expect("connect"),
        );
    }
    channels
}

/// Pushes pre-encoded gRPC write requests to a fresh nines and reports them
/// as `name`.
async fn grpc(args: &Args, samples: &[u64], bodies: Vec<bytes::Bytes>, on: bool, name: &str) {
    let s = start_nines(&args.nines, &auth_config(on), &["--sync", &args.sync]);
    let pid = s.child.id().to_string();
    let grpc = s.grpc.expect("grpc address");
    let channels = connect(grpc, args.concurrency).await;
    let (c0, s0) = (cpu_seconds("self"), cpu_seconds(&pid));
    let total = samples.iter().sum();
    let samples = samples.to_vec();
    let elapsed = push(bodies.len(), args.concurrency, move |w, i| {
        let mut client =
            tonic::client::Grpc::new(channels[w].clone()).max_encoding_message_size(64 << 20);
        let body = PreEncoded(bodies[i].clone());
        let samples = samples[i];
        async move {
            client.ready().await.expect("ready");
            let codec = tonic_prost::ProstCodec::<PreEncoded, v1::WriteResponse>::default();
            let path =
                tonic::codegen::http::uri::PathAndQuery::from_static("/nines.v1.Ingest/Write");
            let mut req = tonic::Request::new(body);
            if on {
                req.metadata_mut().insert(
                    "authorization",
                    format!("Bearer {TOKEN}").parse().expect("metadata"),
                );
            }
            let r = client.unary(req, path, codec).await.expect("write");
            let r = r.into_inner();
            assert_eq!(
                r.accepted + r.duplicates,
                samples,
                "{:?}",
                r.rejected.first()
            );
        }
    })
    .await;
    report(
        name,
        total,
        elapsed,
        cpu_seconds("self") - c0,
        cpu_seconds(&pid) - s0,
    );
}

/// Pushes pre-encoded requests to a fresh nines on `concurrency`
/// `WriteSession` streams, one per connection; each worker takes the next
/// request as the unary forms' workers do, sends it once its session's
/// batch before was answered, without labels when its session has named
/// every series of it already; reports them as `name`.
async fn grpc_session(args: &Args, enc: &Arc<Encoded>, on: bool, name: &str) {
    let s = start_nines(&args.nines, &auth_config(on), &["--sync", &args.sync]);
    let pid = s.child.id().to_string();
    let grpc = s.grpc.expect("grpc address");
    let channels = connect(grpc, args.concurrency).await;
    let (c0, s0) = (cpu_seconds("self"), cpu_seconds(&pid));
    let total: u64 = enc.samples.iter().sum();
    let next = Arc::new(AtomicUsize::new(0));
    let t = Instant::now();
    let workers: Vec<_> = channels
        .into_iter()
        .map(|channel| {
            let (enc, next) = (Arc::clone(enc), Arc::clone(&next));
            tokio::spawn(async move {
                let take = || {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    (i < enc.samples.len()).then_some(i)
                };
                let mut named: Vec<bool> = Vec::new();
                // The body for request i on this session.
                let mut body = |i: usize| {
                    let used = &enc.session_numbers[i];
                    if used.iter().all(|&n| named.get(n as usize) == Some(&true)) {
                        return enc.session_bare[i].clone();
                    }
                    for &n in used {
                        if named.len() <= n as usize {
                            named.resize(n as usize + 1, false);
                        }
                        named[n as usize] = true;
                    }
                    enc.session_named[i].clone()
                };
                let Some(mut i) = take() else {
                    return;
                };
                let mut client =
                    tonic::client::Grpc::new(channel).max_encoding_message_size(64 << 20);
                client.ready().await.expect("ready");
                let (tx, rx) = tokio::sync::mpsc::channel::<PreEncoded>(1);
                let mut req = tonic::Request::new(tokio_stream::wrappers::ReceiverStream::new(rx));
                if on {
                    req.metadata_mut().insert(
                        "authorization",
                        format!("Bearer {TOKEN}").parse().expect("metadata"),
                    );
                }
                tx.send(PreEncoded(body(i))).await.expect("send");
                let codec = tonic_prost::ProstCodec::<PreEncoded, v1::WriteResponse>::default();
                let path = tonic::codegen::http::uri::PathAndQuery::from_static(
                    "/nines.v1.Ingest/WriteSession",
                );
                let mut answers = client
                    .streaming(req, path, codec)
                    .await
                    .expect("session")
                    .into_inner();
                loop {
                    let r = answers
                        .message()
                        .await
                        .expect("answer")
                        .expect("an answer per batch");
                    assert_eq!(
                        r.accepted + r.duplicates,
                        enc.samples[i],
                        "{:?}",
                        r.rejected.first()
                    );
                    let Some(n) = take() else {
                        break;
                    };
                    i = n;
                    tx.send(PreEncoded(body(i))).await.expect("send");
                }
            })
        })
        .collect();
    for w in workers {
        w.await.expect("session worker");
    }
    report(
        name,
        total,
        t.elapsed(),
        cpu_seconds("self") - c0,
        cpu_seconds(&pid) - s0,
    );
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let args = Args::parse();
    let mut config = WorkloadConfig::preset(&args.preset).expect("preset small or medium");
    if let Some(d) = args.days {
        config = config.with_days(d);
    }
    let workload = Workload::new(config).expect("workload");
    let t = Instant::now();
    let enc = Arc::new(encode(&workload, args.batch));
    let total: u64 = enc.samples.iter().sum();
    let grpc_bytes: usize = enc.grpc.iter().map(|b| b.len()).sum();
    let compact_bytes: usize = enc.grpc_compact.iter().map(|b| b.len()).sum();
    let rw_bytes: usize = enc.remote_write.iter().map(|b| b.len()).sum();
    println!(
        "workload: {} series, {total} samples in {} requests of ~{} samples; encoded in {:.1} s (gRPC compact {:.1} B/sample, plain {:.1}; remote-write snappy {:.1} B/sample)",
        workload.series_count(),
        enc.samples.len(),
        args.batch,
        t.elapsed().as_secs_f64(),
        compact_bytes as f64 / total as f64,
        grpc_bytes as f64 / total as f64,
        rw_bytes as f64 / total as f64
    );
    println!("concurrency {}, nines sync={}", args.concurrency, args.sync);

    for round in 1..=args.runs {
        if args.runs > 1 {
            println!("round {round} of {}", args.runs);
        }
        measure_all(&args, &enc, total).await;
    }
    let rows = medians(&RESULTS.lock().map(|r| r.clone()).unwrap_or_default());
    if args.runs > 1 {
        println!("median of {} runs each:", args.runs);
        for r in &rows {
            println!(
                "{:<28} {:>8.2} M samples/s  (runs: {})",
                r["name"].as_str().unwrap_or_default(),
                r["samples_per_s"].as_f64().unwrap_or(f64::NAN) / 1e6,
                r["runs_samples_per_s"]
                    .as_array()
                    .map(|v| v
                        .iter()
                        .map(|x| format!("{:.2}", x.as_f64().unwrap_or(f64::NAN) / 1e6))
                        .collect::<Vec<_>>()
                        .join(", "))
                    .unwrap_or_default()
            );
        }
    }
    if let Some(path) = &args.json {
        let out = serde_json::json!({
            "preset": args.preset,
            "batch": args.batch,
            "concurrency": args.concurrency,
            "sync": args.sync,
            "samples": total,
            "runs": args.runs,
            "results": rows,
        });
        std::fs::write(path, serde_json::to_string_pretty(&out).unwrap_or_default())
            .expect("write the JSON figures");
    }
}

/// Each system's median run (by samples/s; the upper one of two middles)
/// with every run's rate in `runs_samples_per_s`, in first-measured order.
fn medians(rows: &[serde_json::Value]) -> Vec<serde_json::Value> {
    let mut names: Vec<&str> = Vec::new();
    for r in rows {
        let n = r["name"].as_str().unwrap_or_default();
        if !names.contains(&n) {
            names.push(n);
        }
    }
    names
        .iter()
        .map(|n| {
            let mut runs: Vec<&serde_json::Value> =
                rows.iter().filter(|r| r["name"] == *n).collect();
            let rate = |r: &serde_json::Value| r["samples_per_s"].as_f64().unwrap_or(f64::NAN);
            let all: Vec<f64> = runs.iter().map(|r| rate(r)).collect();
            runs.sort_by(|a, b| rate(a).total_cmp(&rate(b)));
            let mut m = runs[runs.len() / 2].clone();
            m["runs_samples_per_s"] = serde_json::json!(all);
            m
        })
        .collect()
}

/// One round: every system once.
async fn measure_all(args: &Args, enc: &Arc<Encoded>, total: u64) {
    let modes: &[bool] = match args.auth.as_str() {
        "on" => &[true],
        "both" => &[false, true],
        _ => &[false],
    };
    for &on in modes {
        let tag = if args.auth == "off" {
            ""
        } else if on {
            ", auth on"
        } else {
            ", auth off"
        };
        let asked = |form: &str| {
            args.grpc_form.iter().any(|f| {
                f == form || f == "all" || (f == "both" && (form == "compact" || form == "plain"))
            })
        };
        if asked("session") {
            grpc_session(args, enc, on, &format!("nines gRPC (native){tag}")).await;
        }
        for (form, bodies) in [("compact", &enc.grpc_compact), ("plain", &enc.grpc)] {
            if asked(form) {
                let name = format!("nines gRPC ({form}){tag}");
                grpc(args, &enc.samples, bodies.clone(), on, &name).await;
            }
        }
        // nines, remote-write
        {
            let s = start_nines(&args.nines, &auth_config(on), &["--sync", &args.sync]);
            let pid = s.child.id().to_string();
            let (c0, s0) = (cpu_seconds("self"), cpu_seconds(&pid));
            let elapsed = remote_write(s.http, enc, args.concurrency, on.then_some(TOKEN)).await;
            report(
                &format!("nines remote-write{tag}"),
                total,
                elapsed,
                cpu_seconds("self") - c0,
                cpu_seconds(&pid) - s0,
            );
        }
    }
    if let Some(bin) = &args.prometheus {
        let s = start_prometheus_receiver(bin).await;
        let pid = s.child.id().to_string();
        let (c0, s0) = (cpu_seconds("self"), cpu_seconds(&pid));
        let elapsed = remote_write(s.http, enc, args.concurrency, None).await;
        report(
            "Prometheus remote-write",
            total,
            elapsed,
            cpu_seconds("self") - c0,
            cpu_seconds(&pid) - s0,
        );
    }
    if let Some(vm) = &args.peer {
        let s = start_vm(vm).await;
        let pid = s.child.id().to_string();
        let (c0, s0) = (cpu_seconds("self"), cpu_seconds(&pid));
        let elapsed = remote_write(s.http, enc, args.concurrency, None).await;
        report(
            "VictoriaMetrics remote-write",
            total,
            elapsed,
            cpu_seconds("self") - c0,
            cpu_seconds(&pid) - s0,
        );
    }
}
