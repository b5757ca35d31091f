//! What the peer harnesses (`src/bin/query-peers.rs`, `src/bin/peers.rs`)
//! share: peer processes on loopback, waiting for them, asking each the
//! same PromQL over its HTTP API and comparing the answers.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value as Json;

pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

pub fn run_ok(cmd: &mut Command, what: &str) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Waits until `url` answers `/-/ready` with 2xx (Prometheus, nines).
pub fn wait_ready(client: &reqwest::blocking::Client, url: &str, what: &str) {
    wait_http(client, url, "/-/ready", what);
}

/// Waits until `url` + `path` answers 2xx, at most 300 s.
pub fn wait_http(client: &reqwest::blocking::Client, url: &str, path: &str, what: &str) {
    let began = Instant::now();
    while began.elapsed() < Duration::from_secs(300) {
        if client
            .get(format!("{url}{path}"))
            .send()
            .is_ok_and(|r| r.status().is_success())
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("{what} was not ready after 300 s");
}

pub fn start_prometheus(tsdb: &Path, work: &Path) -> (Proc, String) {
    let config = work.join("prometheus.yml");
    std::fs::write(
        &config,
        "global:\n  scrape_interval: 1m\nscrape_configs: []\n",
    )
    .expect("prometheus.yml");
    let addr = format!("127.0.0.1:{}", free_port());
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", tsdb.display()))
        .arg("--storage.tsdb.retention.time=100y")
        .arg(format!("--web.listen-address={addr}"))
        .arg("--query.max-samples=500000000")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start prometheus (Debian package `prometheus`)");
    (Proc(child), format!("http://{addr}"))
}

/// Waits until the process is idle (under 5 % of a core over 3 s), so
/// that its start-up work (Prometheus compacts the 2 h blocks promtool
/// wrote, from its first background run a minute after start) is not timed
/// with the queries; at most 10 minutes.
pub fn settle(pid: u32, what: &str) {
    std::thread::sleep(Duration::from_secs(75));
    match wait_idle(pid, Duration::from_secs(600)) {
        Some(s) => println!("{what}: idle after {s:.0} s"),
        None => println!("{what}: still busy after 600 s; timing anyway"),
    }
}

/// Waits until the process uses under 5 % of a core over 3 s; the
/// seconds waited, or `None` when it is still busy after `max`.
pub fn wait_idle(pid: u32, max: Duration) -> Option<f64> {
    let began = Instant::now();
    let mut last = crate::harness::cpu_seconds(&pid.to_string());
    while began.elapsed() < max {
        std::thread::sleep(Duration::from_secs(3));
        let now = crate::harness::cpu_seconds(&pid.to_string());
        if now - last < 0.15 {
            return Some(began.elapsed().as_secs_f64());
        }
        last = now;
    }
    None
}

pub struct Question {
    pub name: &'static str,
    pub query: String,
    /// Range (start, end, step) in ms; `None`: instant at `end`.
    pub range: Option<(i64, i64, i64)>,
    pub at: i64,
}

pub fn secs(ms: i64) -> String {
    format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000))
}

pub fn ask(client: &reqwest::blocking::Client, base: &str, q: &Question) -> (f64, Json) {
    let mut form = vec![("query", q.query.clone()), ("timeout", "300".to_string())];
    let path = match q.range {
        Some((s, e, step)) => {
            form.push(("start", secs(s)));
            form.push(("end", secs(e)));
            form.push(("step", secs(step)));
            "api/v1/query_range"
        }
        None => {
            form.push(("time", secs(q.at)));
            "api/v1/query"
        }
    };
    // timed until the whole body is in: the database's answer, not the
    // client's JSON parsing (a 7-day panel is ~150 KB, which serde_json
    // takes ~0.7 ms to parse into a tree, the same for every system)
    let t = Instant::now();
    let resp = client
        .post(format!("{base}/{path}"))
        .form(&form)
        .send()
        .expect("query request");
    let bytes = resp.bytes().expect("query answer");
    let ms = t.elapsed().as_secs_f64() * 1e3;
    let body: Json = serde_json::from_slice(&bytes).expect("JSON answer");
    assert_eq!(body["status"], "success", "{} on {base}: {body}", q.name);
    (ms, body["data"].clone())
}

/// Points of an answer keyed by its label set, as (time, value) pairs.
pub fn points(data: &Json) -> Vec<(String, Vec<(f64, f64)>)> {
    let mut out: Vec<(String, Vec<(f64, f64)>)> = data["result"]
        .as_array()
        .map(|r| {
            r.iter()
                .map(|s| {
                    let key = s["metric"].to_string();
                    let vals: Vec<&Json> = match s.get("values") {
                        Some(v) => v.as_array().map(|a| a.iter().collect()).unwrap_or_default(),
                        None => vec![&s["value"]],
                    };
                    let pts = vals
                        .iter()
                        .map(|p| {
                            (
                                p[0].as_f64().unwrap_or(f64::NAN),
                                p[1].as_str()
                                    .and_then(|v| v.parse().ok())
                                    .unwrap_or(f64::NAN),
                            )
                        })
                        .collect();
                    (key, pts)
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// The first difference between two answers, if any.
pub fn differ(a: &Json, b: &Json) -> Option<String> {
    let (pa, pb) = (points(a), points(b));
    if pa.len() != pb.len() {
        return Some(format!("{} series vs {}", pa.len(), pb.len()));
    }
    for ((ka, va), (kb, vb)) in pa.iter().zip(&pb) {
        if ka != kb {
            return Some(format!("series {ka} vs {kb}"));
        }
        if va.len() != vb.len() {
            return Some(format!("{ka}: {} points vs {}", va.len(), vb.len()));
        }
        for (x, y) in va.iter().zip(vb) {
            let same = x.0 == y.0
                && (x.1 == y.1
                    || (x.1.is_nan() && y.1.is_nan())
                    || (x.1 - y.1).abs() <= 1e-9 * x.1.abs().max(y.1.abs()));
            if !same {
                return Some(format!("{ka} at {}: {} vs {}", x.0, x.1, y.1));
            }
        }
    }
    None
}

pub fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}
