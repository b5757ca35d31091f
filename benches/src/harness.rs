//! Pieces the end-to-end harnesses share: a server process started on
//! loopback ports, its CPU time, and requests encoded before timing.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use nines_engine::WriteBatch;
use nines_proto::{prometheus as pw, v1};
use prost::Message;

/// A message whose protobuf encoding was done beforehand: sent verbatim.
#[derive(Clone, Default, PartialEq)]
pub struct PreEncoded(pub bytes::Bytes);

impl std::fmt::Debug for PreEncoded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PreEncoded({} bytes)", self.0.len())
    }
}

impl Message for PreEncoded {
    fn encode_raw(&self, buf: &mut impl bytes::BufMut) {
        buf.put_slice(&self.0);
    }
    /// Send-only: nothing is ever decoded into it.
    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: prost::encoding::WireType,
        buf: &mut impl bytes::Buf,
        ctx: prost::encoding::DecodeContext,
    ) -> Result<(), prost::DecodeError> {
        prost::encoding::skip_field(wire_type, tag, buf, ctx)
    }
    fn encoded_len(&self) -> usize {
        self.0.len()
    }
    fn clear(&mut self) {
        self.0 = bytes::Bytes::new();
    }
}

/// utime + stime of a process (`"self"` or a pid), in seconds (clock ticks
/// of 1/100 s); 0 where /proc cannot tell.
pub fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after_comm = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after_comm.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// A database process, killed when dropped, with its temporary data.
pub struct Server {
    pub child: Child,
    pub http: SocketAddr,
    pub grpc: Option<SocketAddr>,
    pub dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `nines serve` on loopback ports chosen by the OS, with a fresh
/// data directory, `config` (TOML) as its configuration file and `extra`
/// flags; returns once it has printed its addresses.
pub fn start_nines(bin: &Path, config: &str, extra: &[&str]) -> Server {
    let dir = tempfile::tempdir().expect("tempdir");
    let config_path = dir.path().join("nines.toml");
    std::fs::write(&config_path, config).expect("config");
    let config_arg = config_path.to_string_lossy().into_owned();
    let mut args = extra.to_vec();
    args.extend(["--config", config_arg.as_str()]);
    let (child, http, grpc) = spawn_nines(bin, &dir.path().join("data"), &args);
    Server {
        child,
        http,
        grpc,
        dir,
    }
}

/// Starts `nines serve` on `data_dir` (which may hold data) on loopback
/// ports chosen by the OS, with `extra` flags; returns the process and its
/// HTTP and gRPC addresses once it has printed them. The caller kills it.
pub fn spawn_nines(
    bin: &Path,
    data_dir: &Path,
    extra: &[&str],
) -> (Child, SocketAddr, Option<SocketAddr>) {
    let mut child = Command::new(bin)
        .args([
            "serve",
            "--http-listen",
            "127.0.0.1:0",
            "--grpc-listen",
            "127.0.0.1:0",
        ])
        .args(extra)
        .arg("--data-dir")
        .arg(data_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
    let out = BufReader::new(child.stdout.take().expect("stdout"));
    let (mut http, mut grpc) = (None, None);
    for line in out.lines().map_while(Result::ok) {
        if let Some(a) = line.strip_prefix("http: http://") {
            http = a.parse().ok();
        }
        if let Some(a) = line.strip_prefix("grpc: http://") {
            grpc = a.parse().ok();
        }
        if line.starts_with("data: ") {
            break;
        }
    }
    (child, http.expect("nines printed its HTTP address"), grpc)
}

/// The batch as a compact nines gRPC `WriteRequest` (`symbols` and
/// `compact`, as `nines write` sends it), protobuf-encoded.
pub fn grpc_compact_body(b: &WriteBatch) -> Vec<u8> {
    nines_server::ingest::compact_request(&b.series).encode_to_vec()
}

/// The batch as a plain nines gRPC `WriteRequest` (`series`),
/// protobuf-encoded.
pub fn grpc_body(b: &WriteBatch) -> Vec<u8> {
    v1::WriteRequest {
        series: b
            .series
            .iter()
            .map(|s| v1::SeriesSamples {
                labels: s
                    .labels
                    .iter()
                    .map(|l| v1::Label {
                        name: l.name.clone(),
                        value: l.value.clone(),
                    })
                    .collect(),
                kind: s.kind as i32,
                timestamps: s.timestamps.clone(),
                values: s.values.clone(),
            })
            .collect(),
        ..Default::default()
    }
    .encode_to_vec()
}

/// The batch as a Prometheus remote-write body: protobuf, then snappy.
pub fn remote_write_body(b: &WriteBatch) -> Vec<u8> {
    let req = pw::WriteRequest {
        timeseries: b
            .series
            .iter()
            .map(|s| pw::TimeSeries {
                labels: s
                    .labels
                    .iter()
                    .map(|l| pw::Label {
                        name: l.name.clone(),
                        value: l.value.clone(),
                    })
                    .collect(),
                samples: s
                    .timestamps
                    .iter()
                    .zip(&s.values)
                    .map(|(t, v)| pw::Sample {
                        value: *v,
                        timestamp: *t,
                    })
                    .collect(),
                exemplars: vec![],
            })
            .collect(),
        metadata: vec![],
    };
    snap::raw::Encoder::new()
        .compress_vec(&req.encode_to_vec())
        .unwrap_or_else(|e| panic!("snappy compressing a remote-write body: {e}"))
}
