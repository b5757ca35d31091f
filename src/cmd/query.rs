//! `nines query`: run a PromQL query and print the result as Prometheus's
//! HTTP API JSON, offline over a data directory (with the SLOs stored in
//! it) or through a running server's HTTP API (`--url`).

use std::process::ExitCode;
use std::time::Duration;

use std::sync::Arc;

use nines_engine::{Engine, EngineOptions};
use nines_query::eval::SloCatalogRef;
use nines_query::{instant_query, range_query, Cancel, QueryOptions};
use nines_slo::store::SloStore;

use super::api::{secs, EXIT_UNREACHABLE};
use super::{parse_time, DataDir, EXIT_FAILURE};

/// Evaluate a query, instant (`--time`, default now) or range (`--start`,
/// `--end`, `--step`), and print `{"status":"success","data":{...}}` as the
/// Prometheus HTTP API does; errors print `{"status":"error",...}` and exit 1.
///
/// With `--url` the query runs on that server (its /api/v1/query or
/// /api/v1/query_range) and prints the same JSON; a server that cannot be
/// reached exits 2.
///
/// Times are RFC 3339 or unix seconds; the step a duration (`30s`, `5m`) or
/// seconds.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub dir: DataDir,
    /// Query a running server instead of a data directory: the base URL of
    /// its HTTP API (`http://127.0.0.1:9090`). `--data-dir` is then unused
    /// (not refused: `$NINES_DATA_DIR` may well be set).
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// The query (PromQL).
    pub query: String,
    /// Evaluation time of an instant query (default: now).
    #[arg(long, value_name = "T", value_parser = parse_time, conflicts_with_all = ["start", "end", "step"])]
    pub time: Option<i64>,
    /// Start of a range query.
    #[arg(long, value_name = "T", value_parser = parse_time, requires_all = ["end", "step"])]
    pub start: Option<i64>,
    /// End of a range query.
    #[arg(long, value_name = "T", value_parser = parse_time, requires_all = ["start", "step"])]
    pub end: Option<i64>,
    /// Step of a range query.
    #[arg(long, value_name = "D", value_parser = parse_step, requires_all = ["start", "end"])]
    pub step: Option<i64>,
    /// Query timeout.
    #[arg(long, value_name = "D", value_parser = parse_step, default_value = "2m")]
    pub timeout: i64,
    #[command(flatten)]
    pub auth: super::client::Auth,
}

/// A duration (`30s`, `5m`, `1h30m`) or seconds (`15`, `0.5`), in ms.
pub fn parse_step(s: &str) -> Result<i64, String> {
    if let Ok(secs) = s.parse::<f64>() {
        if secs.is_finite() && secs > 0.0 {
            return Ok((secs * 1000.0).round() as i64);
        }
    }
    nines_query::syntax::parse_duration(s).map_err(|e| format!("invalid duration {s:?}: {e}"))
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    if let Some(url) = &a.url {
        return run_remote(url, &a);
    }
    if !a.dir.data_dir.exists() {
        anyhow::bail!("data directory {} does not exist", a.dir.data_dir.display());
    }
    let engine = Engine::open(EngineOptions::new(&a.dir.data_dir).background(false))?;
    // after the engine, whose lock guards the SLO log as it does for the server
    let slo_log = SloStore::path_in(&a.dir.data_dir);
    let slo_catalog = if slo_log.exists() {
        Some(SloCatalogRef(Arc::new(SloStore::open(&slo_log)?)))
    } else {
        None
    };
    let snap = engine.snapshot();
    let opts = QueryOptions {
        timeout: Duration::from_millis(a.timeout.max(1) as u64),
        slo_catalog,
        ..QueryOptions::default()
    };
    let cancel = Cancel::new();
    let result = match (a.start, a.end, a.step) {
        (Some(s), Some(e), Some(step)) => range_query(&snap, &a.query, s, e, step, &opts, &cancel),
        _ => {
            let t = a.time.unwrap_or_else(nines_engine::engine::now_ms);
            instant_query(&snap, &a.query, t, &opts, &cancel)
        }
    };
    drop(snap);
    engine.close()?;
    match result {
        Ok(v) => {
            println!("{}", v.to_response_json());
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            let body = serde_json::json!({"status": "error", "errorType": e.error_type(), "error": e.to_string()});
            println!("{body}");
            Ok(ExitCode::from(EXIT_FAILURE))
        }
    }
}

/// The form a query is POSTed with, and the endpoint.
fn remote_form(a: &Args) -> (&'static str, Vec<(&'static str, String)>) {
    let mut form = vec![("query", a.query.clone())];
    let endpoint = match (a.start, a.end, a.step) {
        (Some(s), Some(e), Some(step)) => {
            form.push(("start", secs(s)));
            form.push(("end", secs(e)));
            form.push(("step", secs(step)));
            "api/v1/query_range"
        }
        _ => {
            if let Some(t) = a.time {
                form.push(("time", secs(t)));
            }
            "api/v1/query"
        }
    };
    form.push(("timeout", secs(a.timeout.max(1))));
    (endpoint, form)
}

fn run_remote(url: &str, a: &Args) -> anyhow::Result<ExitCode> {
    let (endpoint, form) = remote_form(a);
    let target = format!("{}/{endpoint}", url.trim_end_matches('/'));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    // The client waits a little longer than the query may run, so the
    // server's own timeout error arrives rather than a client-side one.
    let wait = Duration::from_millis(a.timeout.max(1) as u64) + Duration::from_secs(10);
    let answer = rt.block_on(async {
        let client = a.auth.http_client(wait).map_err(|e| format!("{e:#}"))?;
        let resp = client
            .post(&target)
            .form(&form)
            .send()
            .await
            .map_err(|e| super::api::error_chain(&e))?;
        let status = resp.status();
        let body = resp
            .bytes()
            .await
            .map_err(|e| super::api::error_chain(&e))?;
        Ok::<_, String>((status, body))
    });
    let (status, body) = match answer {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: cannot reach the server at {url}: {e}");
            return Ok(ExitCode::from(EXIT_UNREACHABLE));
        }
    };
    let json: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(v @ serde_json::Value::Object(_)) if v.get("status").is_some() => v,
        _ => {
            eprintln!(
                "error: {target} answered HTTP {status} without a Prometheus API response: {}",
                String::from_utf8_lossy(&body[..body.len().min(200)])
            );
            return Ok(ExitCode::from(EXIT_UNREACHABLE));
        }
    };
    println!("{json}");
    if json["status"] == "success" {
        Ok(ExitCode::SUCCESS)
    } else {
        Ok(ExitCode::from(EXIT_FAILURE))
    }
}
