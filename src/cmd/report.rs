//! `nines report`: a compliance report from a running server
//! (docs/reports.md), written as the server streams it.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use super::EXIT_FAILURE;

/// Write a compliance report: per SLO and calendar period, the objectives
/// and versions in force, good, total and bad events, the allowed bad
/// events, attainment, compliance, the budget left at the period's end,
/// the exclusions applied, breach intervals and deploys, with a trailer
/// line holding a SHA-256 digest an auditor can recompute.
///
/// The same request over the same data, versions and exclusions gives the
/// same bytes. Exit codes: 0 the whole report was written; 1 anything
/// else (bad arguments, the server refused or could not be reached, the
/// report was cut short).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Base URL of the server's HTTP API (`http://127.0.0.1:9090`).
    #[arg(long, value_name = "URL", env = "NINES_URL")]
    pub url: String,
    /// The SLO to report on.
    #[arg(
        long,
        value_name = "NAME",
        required_unless_present = "all",
        conflicts_with = "all"
    )]
    pub slo: Option<String>,
    /// Report on every SLO, sorted by name.
    #[arg(long)]
    pub all: bool,
    /// The periods: week, month or quarter (in each SLO's time zone).
    #[arg(long, value_name = "PERIOD", default_value = "month")]
    pub period: String,
    /// The first date, YYYY-MM-DD or YYYY-MM.
    #[arg(long, value_name = "DATE")]
    pub from: String,
    /// The last date, inclusive, YYYY-MM-DD or YYYY-MM (a month: to its
    /// last day).
    #[arg(long, value_name = "DATE")]
    pub to: String,
    /// csv or json.
    #[arg(long, value_name = "FORMAT", default_value = "csv")]
    pub format: String,
    /// Write to this file instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub auth: super::client::Auth,
}

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::from(EXIT_FAILURE)
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    if !matches!(a.format.as_str(), "csv" | "json") {
        return Ok(fail(format!(
            "--format {:?}: expected csv or json",
            a.format
        )));
    }
    if !matches!(a.period.as_str(), "week" | "month" | "quarter") {
        return Ok(fail(format!(
            "--period {:?}: expected week, month or quarter",
            a.period
        )));
    }
    let mut pairs = vec![
        ("period", a.period.clone()),
        ("from", a.from.clone()),
        ("to", a.to.clone()),
        ("format", a.format.clone()),
    ];
    match &a.slo {
        Some(s) => pairs.push(("slo", s.clone())),
        None => pairs.push(("all", "true".into())),
    }
    let query: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    let target = format!("{}/api/v1/report?{query}", a.url.trim_end_matches('/'));
    // a partial report is removed, never left looking whole
    let (mut out, tmp): (Box<dyn Write>, Option<PathBuf>) = match &a.output {
        Some(path) => {
            let mut tmp = path.clone().into_os_string();
            tmp.push(".partial");
            let tmp = PathBuf::from(tmp);
            match std::fs::File::create(&tmp) {
                Ok(f) => (Box::new(std::io::BufWriter::new(f)), Some(tmp)),
                Err(e) => return Ok(fail(format!("cannot create {}: {e}", tmp.display()))),
            }
        }
        None => (Box::new(std::io::stdout().lock()), None),
    };
    let result = fetch(&target, &a.auth, &mut out).and_then(|()| {
        out.flush()
            .map_err(|e| format!("cannot write the report: {e}"))
    });
    drop(out);
    match (result, tmp, &a.output) {
        (Ok(()), Some(tmp), Some(path)) => {
            if let Err(e) = std::fs::rename(&tmp, path) {
                return Ok(fail(format!("cannot write {}: {e}", path.display())));
            }
            Ok(ExitCode::SUCCESS)
        }
        (Ok(()), _, _) => Ok(ExitCode::SUCCESS),
        (Err(why), tmp, _) => {
            if let Some(tmp) = tmp {
                let _ = std::fs::remove_file(tmp);
            }
            Ok(fail(why))
        }
    }
}

/// Streams the report at `target` into `out`.
fn fetch(target: &str, auth: &super::client::Auth, out: &mut dyn Write) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async {
        // Long reports stream for a while: the limit is generous.
        let client = auth
            .http_client(Duration::from_secs(3600))
            .map_err(|e| format!("{e:#}"))?;
        let mut resp = client
            .get(target)
            .send()
            .await
            .map_err(|e| format!("cannot reach the server: {e}"))?;
        if !resp.status().is_success() {
            let status = resp.status();
            let body = resp.text().await.unwrap_or_default();
            let msg = serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|j| j["error"].as_str().map(str::to_string))
                .unwrap_or(body);
            return Err(format!("the server refused the report ({status}): {msg}"));
        }
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| format!("the report was cut short: {e}"))?
        {
            out.write_all(&chunk)
                .map_err(|e| format!("cannot write the report: {e}"))?;
        }
        Ok(())
    })
}
