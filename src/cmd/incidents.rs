//! `nines incidents`: when an SLO was breached, how badly, and which
//! deploys came just before.

use std::process::ExitCode;

use reqwest::Method;

use super::annotate::parse_since;
use super::api::{query, secs, Answer, Body, Server};
use super::fmt_time;

/// List an SLO's breach intervals: the runs of time its burn-rate alerts
/// (of at least --severity) fired, with the peak burn rate, the budget
/// they consumed and the deploys of the SLO's service within
/// --deploy-window before each onset (marked as likely release-induced).
///
/// Exit codes: 0 listed, 1 refused (unknown SLO, bad range), 2 server
/// unreachable.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub server: Server,
    /// The SLO.
    #[arg(long)]
    pub slo: String,
    /// How far back: a duration (30d) or a time.
    #[arg(long, default_value = "30d")]
    pub since: String,
    /// Scan step: how finely onsets and ends are placed.
    #[arg(long, default_value = "5m")]
    pub step: String,
    /// Lowest alert severity that counts as a breach: page or ticket.
    #[arg(long, default_value = "page")]
    pub severity: String,
    /// How long before an onset a deploy counts as its likely cause.
    #[arg(long, default_value = "1h")]
    pub deploy_window: String,
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let now = nines_engine::engine::now_ms();
    let from = match parse_since(&a.since, now) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(super::EXIT_FAILURE));
        }
    };
    let q = query(&[
        ("slo", Some(a.slo.clone())),
        ("start", Some(secs(from))),
        ("end", Some(secs(now))),
        ("step", Some(a.step.clone())),
        ("severity", Some(a.severity.clone())),
        ("deploy_window", Some(a.deploy_window.clone())),
    ]);
    let d = match a
        .server
        .call(Method::GET, &format!("api/v1/incidents{q}"), Body::None)
    {
        Ok(Answer::Ok(d)) => d,
        Ok(Answer::Refused(code)) | Err(code) => return Ok(code),
    };
    if a.server.json {
        println!("{d}");
        return Ok(ExitCode::SUCCESS);
    }
    let list = d.as_array().cloned().unwrap_or_default();
    if list.is_empty() {
        println!(
            "no breaches of SLO {} since {}",
            a.slo,
            fmt_time(Some(from))
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<25} {:<25} {:<7} {:>10} {:>9}  DEPLOYS BEFORE ONSET",
        "START", "END", "SEVERITY", "PEAK BURN", "BUDGET"
    );
    for b in list {
        let end = match b["end"].as_i64() {
            Some(e) => fmt_time(Some(e)),
            None => "ongoing".into(),
        };
        let budget = b["budget_consumed"]
            .as_f64()
            .map_or("-".into(), |x| format!("{:.1} %", x * 100.0));
        let deploys: Vec<String> = b["deploys"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|d| {
                format!(
                    "{} {} at {}",
                    d["service"].as_str().unwrap_or(""),
                    d["version"].as_str().unwrap_or(""),
                    fmt_time(d["at"].as_i64())
                )
            })
            .collect();
        let mark = if b["likely_release_induced"].as_bool() == Some(true) {
            "LIKELY RELEASE-INDUCED: "
        } else {
            ""
        };
        println!(
            "{:<25} {:<25} {:<7} {:>10.2} {:>9}  {mark}{}",
            fmt_time(b["start"].as_i64()),
            end,
            b["severity"].as_str().unwrap_or(""),
            b["peak_burn"].as_f64().unwrap_or(f64::NAN),
            budget,
            if deploys.is_empty() {
                "-".into()
            } else {
                deploys.join(", ")
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}
