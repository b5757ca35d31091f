//! A real `nines serve` process on loopback ports for end-to-end tests,
//! killed when dropped. Include with `#[path = "support/serve.rs"] mod serve;`.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

pub struct Serve {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub http: String,
    /// `http://127.0.0.1:PORT` (gRPC)
    pub grpc: String,
    /// The data directory.
    pub data: PathBuf,
    /// The temporary directory holding `data`, when `start` made it.
    _tmp: Option<tempfile::TempDir>,
}

impl Serve {
    /// Starts the server on a fresh data directory with `extra` arguments.
    pub fn start(extra: &[&str]) -> Serve {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut s = Serve::on(tmp.path(), extra);
        s._tmp = Some(tmp);
        s
    }

    /// Starts the server on `data` (which may hold earlier data).
    pub fn on(data: &Path, extra: &[&str]) -> Serve {
        let mut child = Command::new(env!("CARGO_BIN_EXE_nines"))
            .args([
                "serve",
                "--http-listen",
                "127.0.0.1:0",
                "--grpc-listen",
                "127.0.0.1:0",
            ])
            .arg("--data-dir")
            .arg(data)
            .args(extra)
            .env_remove("NINES_DATA_DIR")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn nines serve");
        let (mut http, mut grpc) = (String::new(), String::new());
        let out = child.stdout.take().expect("stdout");
        for line in BufReader::new(out).lines() {
            let line = line.expect("read the server's address lines");
            if let Some(a) = line.strip_prefix("http: ") {
                http = a.into();
            } else if let Some(a) = line.strip_prefix("grpc: ") {
                grpc = a.into();
            } else if line.starts_with("data: ") {
                break;
            }
        }
        assert!(
            !http.is_empty() && !grpc.is_empty(),
            "the server printed its addresses"
        );
        Serve {
            child,
            http,
            grpc,
            data: data.to_path_buf(),
            _tmp: None,
        }
    }

    /// Stops the server with SIGKILL (as a crash would).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the `nines` binary with `args`.
pub fn nines(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nines"))
        .args(args)
        .env_remove("NINES_DATA_DIR")
        .env_remove("NINES_URL")
        .output()
        .expect("run nines")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// One GET to the server's HTTP API, parsed as JSON.
pub async fn get_json(url: &str) -> serde_json::Value {
    reqwest::get(url)
        .await
        .expect("GET")
        .json()
        .await
        .expect("JSON answer")
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64
}
