//! What the peer harnesses (`src/bin/query-peers.rs`, `src/bin/peers.rs`)
//! share: peer processes on loopback, waiting for them, asking each the
//! same PromQL over its HTTP API and comparing the answers.

use std::io::BufReader;
use std::net::{TcpListener, TcpStream};
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

/// A minimal HTTP/1.1 client for timing queries: one keep-alive
/// connection per server, a request written in one `write`, the answer
/// read by its `Content-Length` or chunks. reqwest's blocking client hands
/// every request to a runtime thread and back, which costs ~0.13 ms per
/// round trip on the 2-core machine: more than nines takes to answer an
/// SLO question, and the same for every system, so it flattened the
/// ratios the harness exists to measure. The same client asks all three.
///
/// Answers are read into one buffer kept across requests: a 7-day panel's
/// ~150 KB went into a fresh allocation, zeroed and faulted in inside the
/// timed exchange on every answer (`latency_probe` on a panel: 227 page
/// faults a request before, 98 after, those left in the untimed JSON
/// parse).
#[derive(Default)]
pub struct Asker {
    conns: std::collections::HashMap<String, BufReader<TcpStream>>,
    body: Vec<u8>,
}

impl Asker {
    /// POSTs `form` to `base` + `path`; the status and the whole body
    /// (valid until the next request).
    pub fn post_form(&mut self, base: &str, path: &str, form: &[(&str, String)]) -> (u16, &[u8]) {
        let mut body = String::new();
        for (i, (k, v)) in form.iter().enumerate() {
            if i > 0 {
                body.push('&');
            }
            percent_encode(k, &mut body);
            body.push('=');
            percent_encode(v, &mut body);
        }
        let host = base.strip_prefix("http://").unwrap_or(base);
        let head = format!(
            "POST /{path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        let mut request = head.into_bytes();
        request.extend_from_slice(body.as_bytes());
        // a kept connection the server has closed fails on first use:
        // once more on a new one
        let mut retried = false;
        loop {
            let conn = match self.conns.entry(host.to_string()) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => {
                    let s =
                        TcpStream::connect(host).unwrap_or_else(|e| panic!("connect {host}: {e}"));
                    s.set_nodelay(true).expect("TCP_NODELAY");
                    e.insert(BufReader::with_capacity(1 << 16, s))
                }
            };
            match exchange(conn, &request, &mut self.body) {
                Ok((status, keep)) => {
                    if !keep {
                        self.conns.remove(host);
                    }
                    return (status, &self.body);
                }
                Err(e) => {
                    self.conns.remove(host);
                    assert!(!retried, "HTTP request to {host}/{path}: {e}");
                    retried = true;
                }
            }
        }
    }
}

fn percent_encode(s: &str, out: &mut String) {
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
}

/// One request and its answer on `conn`, the body into `body` (emptied
/// first, its room kept): (status, connection kept).
fn exchange(
    conn: &mut BufReader<TcpStream>,
    request: &[u8],
    body: &mut Vec<u8>,
) -> std::io::Result<(u16, bool)> {
    use std::io::{BufRead, Error, Read, Write};
    let bad = |what: String| Error::new(std::io::ErrorKind::InvalidData, what);
    conn.get_mut().write_all(request)?;
    let mut line = String::new();
    conn.read_line(&mut line)?;
    if line.is_empty() {
        return Err(bad("connection closed before the answer".into()));
    }
    let status: u16 = line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad(format!("status line {line:?}")))?;
    let (mut length, mut chunked, mut keep) = (None, false, true);
    loop {
        line.clear();
        conn.read_line(&mut line)?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let Some((k, v)) = l.split_once(':') else {
            return Err(bad(format!("header {l:?}")));
        };
        let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_ascii_lowercase());
        match k.as_str() {
            "content-length" => {
                length = Some(v.parse::<usize>().map_err(|_| bad(format!("length {v}")))?)
            }
            "transfer-encoding" => chunked = v.contains("chunked"),
            "connection" => keep = v != "close",
            _ => {}
        }
    }
    body.clear();
    if chunked {
        loop {
            line.clear();
            conn.read_line(&mut line)?;
            let size = line.trim_end().split(';').next().unwrap_or("");
            let n =
                usize::from_str_radix(size, 16).map_err(|_| bad(format!("chunk size {size:?}")))?;
            if n == 0 {
                // trailers end with an empty line
                loop {
                    line.clear();
                    conn.read_line(&mut line)?;
                    if line.trim_end().is_empty() {
                        break;
                    }
                }
                break;
            }
            read_n(conn, n, body)?;
            let mut crlf = [0u8; 2];
            conn.read_exact(&mut crlf)?;
        }
    } else if let Some(n) = length {
        read_n(conn, n, body)?;
    } else {
        conn.read_to_end(body)?;
        keep = false;
    }
    Ok((status, keep))
}

/// Appends exactly `n` bytes from `conn` to `body`, into its spare room
/// (no zeroing first).
fn read_n(conn: &mut BufReader<TcpStream>, n: usize, body: &mut Vec<u8>) -> std::io::Result<()> {
    use std::io::Read;
    body.reserve(n);
    let got = conn.by_ref().take(n as u64).read_to_end(body)?;
    if got < n {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            format!("answer cut short: {got} of {n} bytes"),
        ));
    }
    Ok(())
}

/// Asks `base` the question through its HTTP API: the time in ms until the
/// whole answer was in, and the answer's `data`.
pub fn ask(client: &mut Asker, base: &str, q: &Question) -> (f64, Json) {
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
    let (status, bytes) = client.post_form(base, path, &form);
    let ms = t.elapsed().as_secs_f64() * 1e3;
    let body: Json = serde_json::from_slice(bytes).unwrap_or_else(|e| {
        panic!(
            "{} on {base}: HTTP {status}, not JSON ({e}): {}",
            q.name,
            String::from_utf8_lossy(&bytes[..bytes.len().min(400)])
        )
    });
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, Read, Write};

    /// Serves `answers` in turn on one kept connection, each after reading
    /// one whole request (head and `Content-Length` body).
    fn serve(answers: Vec<&'static str>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (s, _) = listener.accept().unwrap();
            let mut r = BufReader::new(s);
            for a in answers {
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    r.read_line(&mut line).unwrap();
                    if line == "\r\n" {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap();
                    }
                }
                let mut body = vec![0; length];
                r.read_exact(&mut body).unwrap();
                r.get_mut().write_all(a.as_bytes()).unwrap();
            }
        });
        format!("http://{addr}")
    }

    #[test]
    fn answers_by_length_and_by_chunks_on_one_connection() {
        let base = serve(vec![
            "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello world",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab,cd\r\n3;x=y\r\nefg\r\n0\r\nTrailer: t\r\n\r\n",
            "HTTP/1.1 422 Unprocessable Entity\r\nContent-Length: 2\r\n\r\nno",
        ]);
        let mut a = Asker::default();
        let form = [("query", "up{a=\"b c\"}".to_string())];
        let (status, body) = a.post_form(&base, "api/v1/query", &form);
        assert_eq!((status, body), (200, &b"hello world"[..]));
        let (status, body) = a.post_form(&base, "api/v1/query", &form);
        assert_eq!((status, body), (200, &b"ab,cdefg"[..]));
        // the kept buffer holds the shorter answer alone
        let (status, body) = a.post_form(&base, "api/v1/query", &form);
        assert_eq!((status, body), (422, &b"no"[..]));
    }

    #[test]
    fn a_cut_answer_is_an_error_not_a_short_body() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf).unwrap();
            s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
                .unwrap();
        });
        let s = TcpStream::connect(addr).unwrap();
        let mut conn = BufReader::new(s);
        let mut body = Vec::new();
        let e = exchange(&mut conn, b"GET / HTTP/1.1\r\n\r\n", &mut body).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof, "{e}");
        assert!(e.to_string().contains("3 of 10 bytes"), "{e}");
    }
}
