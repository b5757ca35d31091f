//! The client side of nines's own HTTP API (`/api/v1/slos`,
//! `/api/v1/exclusions`) for the commands that manage a running server:
//! one request, and what its answer means for the exit code.

use std::process::ExitCode;
use std::time::Duration;

use serde_json::Value as Json;

use super::EXIT_FAILURE;

/// Exit code when the server cannot be reached or does not answer with a
/// nines (Prometheus-style) API response.
pub const EXIT_UNREACHABLE: u8 = 2;

/// `--url`, shared by the commands that talk to a server.
#[derive(Debug, Clone, clap::Args)]
pub struct Server {
    /// Base URL of the server's HTTP API.
    #[arg(
        long,
        value_name = "URL",
        env = "NINES_URL",
        default_value = "http://127.0.0.1:9090"
    )]
    pub url: String,
    /// Print the server's answer (the `data` of its JSON) instead of text.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub auth: super::client::Auth,
}

/// How a request ended.
pub enum Answer {
    /// `status: success`: its `data`.
    Ok(Json),
    /// The server refused (an API error): exit 1.
    Refused(ExitCode),
}

/// A request body and its content type.
pub enum Body {
    None,
    Text(String),
    Json(Json),
    /// `application/x-www-form-urlencoded`, as the Prometheus-style
    /// endpoints take parameters.
    Form(Vec<(&'static str, String)>),
}

impl Server {
    /// Sends one request; prints why when the server refuses it (exit 1) or
    /// cannot be reached or is not a nines server (exit 2, as an `Err` of
    /// the exit code so callers can `?` it).
    pub fn call(
        &self,
        method: reqwest::Method,
        path_and_query: &str,
        body: Body,
    ) -> Result<Answer, ExitCode> {
        let target = format!("{}/{path_and_query}", self.url.trim_end_matches('/'));
        let unreachable = |why: String| {
            eprintln!("error: cannot reach the server at {}: {why}", self.url);
            ExitCode::from(EXIT_UNREACHABLE)
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| unreachable(e.to_string()))?;
        let answer = rt.block_on(async {
            let client = self
                .auth
                .http_client(Duration::from_secs(60))
                .map_err(|e| format!("{e:#}"))?;
            let mut req = client.request(method, &target);
            req = match body {
                Body::None => req,
                Body::Text(t) => req.header("Content-Type", "application/yaml").body(t),
                Body::Json(j) => req
                    .header("Content-Type", "application/json")
                    .body(j.to_string()),
                Body::Form(f) => req.form(&f),
            };
            let resp = req.send().await.map_err(|e| error_chain(&e))?;
            let status = resp.status();
            let bytes = resp.bytes().await.map_err(|e| error_chain(&e))?;
            Ok::<_, String>((status, bytes))
        });
        let (status, bytes) = answer.map_err(unreachable)?;
        let json: Json = match serde_json::from_slice(&bytes) {
            Ok(v @ Json::Object(_)) if v.get("status").is_some() => v,
            _ => {
                eprintln!(
                    "error: {target} answered HTTP {status} without a nines API response: {}",
                    String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
                );
                return Err(ExitCode::from(EXIT_UNREACHABLE));
            }
        };
        if json["status"] == "success" {
            return Ok(Answer::Ok(json["data"].clone()));
        }
        if self.json {
            println!("{json}");
        }
        eprintln!(
            "error: the server refused the request (HTTP {}): {}",
            status.as_u16(),
            json["error"].as_str().unwrap_or("no reason given")
        );
        Ok(Answer::Refused(ExitCode::from(EXIT_FAILURE)))
    }

    /// Prints `data` as JSON when `--json` was given, else as `text` says.
    pub fn show(&self, data: &Json, text: impl FnOnce(&Json)) {
        if self.json {
            println!("{data}");
        } else {
            text(data);
        }
    }
}

/// An error with its causes (reqwest's own message hides the TLS or
/// connection reason in its source).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s
}

/// Runs one request and, on success, prints its answer.
pub fn run(
    server: &Server,
    method: reqwest::Method,
    path_and_query: &str,
    body: Body,
    text: impl FnOnce(&Json),
) -> anyhow::Result<ExitCode> {
    match server.call(method, path_and_query, body) {
        Ok(Answer::Ok(data)) => {
            server.show(&data, text);
            Ok(ExitCode::SUCCESS)
        }
        Ok(Answer::Refused(code)) | Err(code) => Ok(code),
    }
}

/// A path segment or query value, percent-encoded.
pub fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A query string from the pairs whose value is present (`?a=1&b=2`, or
/// empty).
pub fn query(pairs: &[(&str, Option<String>)]) -> String {
    let parts: Vec<String> = pairs
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={}", enc(v))))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

/// Milliseconds as the API's time parameters take them: unix seconds.
pub fn secs(ms: i64) -> String {
    let sign = if ms < 0 { "-" } else { "" };
    let abs = ms.unsigned_abs();
    format!("{sign}{}.{:03}", abs / 1000, abs % 1000)
}

/// A JSON string field, or `-`.
pub fn s(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        Json::Null => "-".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings_encode_and_skip_absent_values() {
        assert_eq!(
            query(&[
                ("file", Some("my slos.yaml".into())),
                ("author", None),
                ("t", Some("1.5".into()))
            ]),
            "?file=my+slos.yaml&t=1.5"
        );
        assert_eq!(query(&[("a", None)]), "");
        assert_eq!(enc("a/b"), "a%2Fb");
        assert_eq!(secs(-1_500), "-1.500");
        assert_eq!(s(&Json::Null), "-");
    }
}
