//! `nines gate`: may this release be promoted? For CI/CD pipelines.

use std::process::ExitCode;

use reqwest::Method;
use serde_json::Value as Json;

use super::api::{Answer, Body};
use super::fmt_time;

/// Exit code when the gate could not decide.
const UNDECIDED: u8 = 2;

/// Ask the deploy gate whether a release may be promoted, from the SLO's
/// error budget and burn rates.
///
/// Exit codes (scripts depend on them): 0 promote; 1 blocked (the reasons
/// and the numbers are printed); 2 could not decide: the server is
/// unreachable, the SLO unknown, the request refused, or the SLO had no
/// events to judge by. The gate never passes when it cannot decide.
///
/// Defaults: the budget must not be exhausted (--min-budget 0) and the 1 h
/// burn rate must not exceed the page threshold (--max-burn 1h:14.4).
///
/// An override passes a blocked gate and is recorded durably with the
/// numbers it overrode: --override --reason TEXT --approver NAME.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Base URL of the server's HTTP API (`http://127.0.0.1:9090`).
    #[arg(long, value_name = "URL", env = "NINES_URL")]
    pub url: String,
    /// The SLO to judge by.
    #[arg(long)]
    pub slo: String,
    /// Smallest fraction of the error budget that must remain (0.1 = 10 %).
    #[arg(long, value_name = "FRACTION")]
    pub min_budget: Option<f64>,
    /// Highest burn rate allowed over a window, WINDOW:MAX (`1h:2`);
    /// repeatable. Given at all, it replaces the default 1h:14.4.
    #[arg(long, value_name = "WINDOW:MAX")]
    pub max_burn: Vec<String>,
    /// What to do when the SLO had no events in its budget period:
    /// undecided (exit 2), promote or block.
    #[arg(long, value_name = "WHAT", default_value = "undecided")]
    pub no_data: String,
    /// Pass the gate whatever the numbers say (needs --reason and
    /// --approver; recorded durably).
    #[arg(long = "override", requires_all = ["reason", "approver"])]
    pub override_: bool,
    /// Why the override is justified.
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    /// Who approved the override.
    #[arg(long, value_name = "NAME")]
    pub approver: Option<String>,
    /// Print the decision as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub auth: super::client::Auth,
}

fn undecided() -> ExitCode {
    eprintln!("gate: could not decide (exit 2)");
    ExitCode::from(UNDECIDED)
}

fn print(d: &Json) {
    let verdict = d["verdict"].as_str().unwrap_or("undecided");
    let word = match verdict {
        "promote" => "PROMOTE",
        "block" => "BLOCKED",
        _ => "UNDECIDED",
    };
    println!(
        "{word}: SLO {} (version {}) at {}",
        d["slo"].as_str().unwrap_or("?"),
        d["version"],
        fmt_time(d["at"].as_i64())
    );
    for c in d["checks"].as_array().into_iter().flatten() {
        let name = match c["window"].as_str() {
            Some(w) => format!("burn rate {w}"),
            None => "budget remaining".into(),
        };
        let budget = c["window"].is_null();
        let value = match c["value"].as_f64() {
            Some(v) if budget => format!("{:.2} %", v * 100.0),
            Some(v) => format!("{v:.3}"),
            None => "unknown".into(),
        };
        let limit = c["limit"].as_f64().unwrap_or(f64::NAN);
        let bound = if budget {
            format!(">= {:.2} %", limit * 100.0)
        } else {
            format!("<= {limit}")
        };
        let status = match c["passed"].as_bool() {
            Some(true) => "ok",
            Some(false) => "FAIL",
            None => "?",
        };
        println!("  {name:<20} {value:>12}  {bound:<12} {status}");
    }
    for r in d["reasons"].as_array().into_iter().flatten() {
        println!("  reason: {}", r.as_str().unwrap_or(""));
    }
    if let Some(o) = d.get("override").filter(|o| !o.is_null()) {
        println!(
            "  OVERRIDDEN by {} ({}): the gate said {}; recorded",
            o["approver"].as_str().unwrap_or("?"),
            o["reason"].as_str().unwrap_or(""),
            o["overridden_verdict"].as_str().unwrap_or("?")
        );
    }
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let mut form = vec![("slo", a.slo.clone()), ("no_data", a.no_data.clone())];
    if let Some(m) = a.min_budget {
        form.push(("min_budget", m.to_string()));
    }
    for b in &a.max_burn {
        form.push(("max_burn", b.clone()));
    }
    if a.override_ {
        form.push(("override", "true".into()));
        form.push(("reason", a.reason.clone().unwrap_or_default()));
        form.push(("approver", a.approver.clone().unwrap_or_default()));
    }
    let server = super::api::Server {
        url: a.url.clone(),
        json: false,
        auth: a.auth.clone(),
    };
    let d = match server.call(Method::POST, "api/v1/gate", Body::Form(form)) {
        Ok(Answer::Ok(d)) => d,
        Ok(Answer::Refused(_)) | Err(_) => return Ok(undecided()),
    };
    if a.json {
        println!("{d}");
    } else {
        print(&d);
    }
    Ok(match d["verdict"].as_str() {
        Some("promote") => ExitCode::SUCCESS,
        Some("block") => ExitCode::from(1),
        _ => ExitCode::from(UNDECIDED),
    })
}
