//! The HTTP client the `--url` commands share: one request to a nines
//! server's JSON API, with the exit-code contract of those commands:
//! 0 done, 1 refused by the server, 2 server unreachable (or not a nines
//! API answering).

use std::process::ExitCode;
use std::time::Duration;

use serde_json::Value as Json;

use super::EXIT_FAILURE;

/// Exit code when the server cannot be reached or gives no API answer.
pub const EXIT_UNREACHABLE: u8 = 2;

/// Why a call gave no `success` answer.
pub enum Failure {
    /// The server answered with `{"status":"error",...}`: its message.
    Refused { status: u16, message: String },
    /// No answer, or not one from a nines/Prometheus-style API.
    Unreachable(String),
}

impl Failure {
    /// Prints the failure to stderr and gives the command's exit code.
    pub fn report(&self) -> ExitCode {
        match self {
            Failure::Refused { status, message } => {
                eprintln!("error: the server refused the request (HTTP {status}): {message}");
                ExitCode::from(EXIT_FAILURE)
            }
            Failure::Unreachable(why) => {
                eprintln!("error: {why}");
                ExitCode::from(EXIT_UNREACHABLE)
            }
        }
    }
}

/// How a request sends its parameters.
pub enum Body<'a> {
    None,
    Form(&'a [(&'a str, String)]),
}

/// Sends one request to `base` + `path` and returns the `data` of a
/// `{"status":"success","data":...}` answer.
pub fn call(
    method: reqwest::Method,
    base: &str,
    path: &str,
    query: &[(&str, String)],
    body: Body<'_>,
) -> Result<Json, Failure> {
    let target = format!(
        "{}/{}",
        base.trim_end_matches('/'),
        path.trim_start_matches('/')
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Unreachable(format!("cannot start the HTTP client: {e}")))?;
    let answer = rt.block_on(async {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(120))
            .build()?;
        let mut req = client.request(method, &target).query(query);
        req = match body {
            Body::None => req,
            Body::Form(f) => req.form(f),
        };
        let resp = req.send().await?;
        let status = resp.status();
        let bytes = resp.bytes().await?;
        Ok::<_, reqwest::Error>((status, bytes))
    });
    let (status, bytes) = answer
        .map_err(|e| Failure::Unreachable(format!("cannot reach the server at {base}: {e}")))?;
    let json: Json = match serde_json::from_slice(&bytes) {
        Ok(v @ Json::Object(_)) if v.get("status").is_some() => v,
        _ => {
            return Err(Failure::Unreachable(format!(
                "{target} answered HTTP {status} without a nines API response: {}",
                String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
            )))
        }
    };
    if json["status"] == "success" {
        Ok(json["data"].clone())
    } else {
        Err(Failure::Refused {
            status: status.as_u16(),
            message: json["error"].as_str().unwrap_or("(no message)").to_string(),
        })
    }
}

/// Milliseconds as the API takes times: unix seconds with a fraction.
pub fn secs(ms: i64) -> String {
    let sign = if ms < 0 { "-" } else { "" };
    let abs = ms.unsigned_abs();
    format!("{sign}{}.{:03}", abs / 1000, abs % 1000)
}
