//! A real Prometheus for the differential test: blocks from promtool, a
//! server on a loopback port (killed on drop, also when the test panics),
//! queries over its HTTP API and samples pushed by remote write.
//!
//! The HTTP client is a few lines over `TcpStream`: HTTP/1.0 requests, so
//! that Go answers without chunked encoding and closes the connection.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nines_engine::WriteBatch;
use prost::Message;

pub const PROMTOOL: &str = "promtool";
pub const PROMETHEUS: &str = "prometheus";

/// Panics (the test fails, it does not skip) when a binary is missing.
pub fn require_binaries() {
    for bin in [PROMTOOL, PROMETHEUS] {
        let found = Command::new(bin)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            found,
            "`{bin}` was not found on PATH: the differential test needs Prometheus 2.42 \
             (Debian package `prometheus`); scripts/test installs it when missing"
        );
    }
}

/// `promtool tsdb create-blocks-from openmetrics <file> <dir>`.
pub fn create_blocks(openmetrics: &Path, dir: &Path) {
    let out = Command::new(PROMTOOL)
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(openmetrics)
        .arg(dir)
        .output()
        .unwrap_or_else(|e| panic!("running {PROMTOOL}: {e}"));
    assert!(
        out.status.success(),
        "promtool failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A running Prometheus; dropping it kills the process.
pub struct Server {
    child: Child,
    pub addr: String,
    log: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind a port: {e}"));
    l.local_addr()
        .unwrap_or_else(|e| panic!("local address: {e}"))
        .port()
}

impl Server {
    /// Starts Prometheus over the blocks in `tsdb`, with no scrape jobs and
    /// the remote-write receiver on, and waits until it is ready.
    pub fn start(tsdb: &Path, work: &Path) -> Server {
        let config = work.join("prometheus.yml");
        std::fs::write(
            &config,
            "global:\n  scrape_interval: 1m\nscrape_configs: []\n",
        )
        .unwrap_or_else(|e| panic!("write {}: {e}", config.display()));
        let log = work.join("prometheus.log");
        let log_file =
            std::fs::File::create(&log).unwrap_or_else(|e| panic!("create {}: {e}", log.display()));
        let err_file = log_file
            .try_clone()
            .unwrap_or_else(|e| panic!("clone log handle: {e}"));
        let addr = format!("127.0.0.1:{}", free_port());
        let child = Command::new(PROMETHEUS)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", tsdb.display()))
            .arg("--storage.tsdb.retention.time=100y")
            .arg(format!("--web.listen-address={addr}"))
            .arg("--web.enable-remote-write-receiver")
            .stdin(Stdio::null())
            .stdout(log_file)
            .stderr(err_file)
            .spawn()
            .unwrap_or_else(|e| panic!("start {PROMETHEUS}: {e}"));
        let server = Server { child, addr, log };
        server.wait_ready(Duration::from_secs(120));
        server
    }

    fn wait_ready(&self, limit: Duration) {
        let began = Instant::now();
        loop {
            if let Ok((200, _)) = self.request("GET", "/-/ready", None, &[]) {
                return;
            }
            assert!(
                began.elapsed() < limit,
                "Prometheus not ready after {limit:?}; its log:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// One HTTP/1.0 request; returns the status and the body.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<(&str, &[u8])>,
        headers: &[(&str, &str)],
    ) -> std::io::Result<(u16, Vec<u8>)> {
        let mut s = TcpStream::connect(&self.addr)?;
        s.set_read_timeout(Some(Duration::from_secs(120)))?;
        let mut req = format!("{method} {path} HTTP/1.0\r\nHost: {}\r\n", self.addr);
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        if let Some((ctype, b)) = body {
            req.push_str(&format!(
                "Content-Type: {ctype}\r\nContent-Length: {}\r\n",
                b.len()
            ));
        }
        req.push_str("\r\n");
        s.write_all(req.as_bytes())?;
        if let Some((_, b)) = body {
            s.write_all(b)?;
        }
        let mut resp = Vec::new();
        s.read_to_end(&mut resp)?;
        let split = resp
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or_else(|| std::io::Error::other("no end of headers"))?;
        let head = String::from_utf8_lossy(&resp[..split]).into_owned();
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("bad status line: {head}")))?;
        Ok((status, resp[split + 4..].to_vec()))
    }

    /// POSTs a form to the query API and returns the parsed JSON body
    /// (success or error; Prometheus answers errors with 4xx/5xx and JSON).
    pub fn api(&self, path: &str, form: &[(&str, String)]) -> serde_json::Value {
        let body: Vec<String> = form
            .iter()
            .map(|(k, v)| format!("{k}={}", urlencode(v)))
            .collect();
        let body = body.join("&");
        let (status, bytes) = self
            .request(
                "POST",
                path,
                Some(("application/x-www-form-urlencoded", body.as_bytes())),
                &[],
            )
            .unwrap_or_else(|e| panic!("POST {path}: {e}"));
        serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            panic!(
                "POST {path} ({status}): not JSON ({e}): {}",
                String::from_utf8_lossy(&bytes)
            )
        })
    }

    /// Pushes the batch with remote write (protobuf, snappy block format).
    pub fn remote_write(&self, batch: &WriteBatch) {
        let req = WriteRequest {
            timeseries: batch
                .series
                .iter()
                .map(|s| TimeSeries {
                    labels: s
                        .labels
                        .iter()
                        .map(|l| Label {
                            name: l.name.clone(),
                            value: l.value.clone(),
                        })
                        .collect(),
                    samples: s
                        .timestamps
                        .iter()
                        .zip(&s.values)
                        .map(|(&timestamp, &value)| Sample { value, timestamp })
                        .collect(),
                })
                .collect(),
        };
        let body = snap::raw::Encoder::new()
            .compress_vec(&req.encode_to_vec())
            .unwrap_or_else(|e| panic!("snappy: {e}"));
        let (status, resp) = self
            .request(
                "POST",
                "/api/v1/write",
                Some(("application/x-protobuf", &body)),
                &[
                    ("Content-Encoding", "snappy"),
                    ("X-Prometheus-Remote-Write-Version", "0.1.0"),
                ],
            )
            .unwrap_or_else(|e| panic!("remote write: {e}"));
        assert!(
            (200..300).contains(&status),
            "remote write refused ({status}): {}\nlog:\n{}",
            String::from_utf8_lossy(&resp),
            self.log_text()
        );
    }
}

/// Percent-encodes everything but unreserved characters.
fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

// Prometheus remote-write 1.0 messages (prompb/remote.proto, types.proto),
// only the fields the test sends. Labels must be sorted by name, which
// `Labels` guarantees (`__name__` sorts before lower-case names).

#[derive(Clone, PartialEq, prost::Message)]
struct WriteRequest {
    #[prost(message, repeated, tag = "1")]
    timeseries: Vec<TimeSeries>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct TimeSeries {
    #[prost(message, repeated, tag = "1")]
    labels: Vec<Label>,
    #[prost(message, repeated, tag = "2")]
    samples: Vec<Sample>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Label {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(string, tag = "2")]
    value: String,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Sample {
    #[prost(double, tag = "1")]
    value: f64,
    #[prost(int64, tag = "2")]
    timestamp: i64,
}
