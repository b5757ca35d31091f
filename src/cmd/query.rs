//! `nines query`: run a PromQL query and print the result as Prometheus's
//! HTTP API JSON.

use std::process::ExitCode;
use std::time::Duration;

use nines_engine::{Engine, EngineOptions};
use nines_query::{instant_query, range_query, Cancel, QueryOptions};

use super::{parse_time, DataDir, EXIT_FAILURE};

/// Evaluate a query, instant (`--time`, default now) or range (`--start`,
/// `--end`, `--step`), and print `{"status":"success","data":{...}}` as the
/// Prometheus HTTP API does; errors print `{"status":"error",...}` and exit 1.
///
/// Times are RFC 3339 or unix seconds; the step a duration (`30s`, `5m`) or
/// seconds.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub dir: DataDir,
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
    if !a.dir.data_dir.exists() {
        anyhow::bail!("data directory {} does not exist", a.dir.data_dir.display());
    }
    let engine = Engine::open(EngineOptions::new(&a.dir.data_dir).background(false))?;
    let snap = engine.snapshot();
    let opts = QueryOptions {
        timeout: Duration::from_millis(a.timeout.max(1) as u64),
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
