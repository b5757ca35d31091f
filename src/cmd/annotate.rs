//! `nines annotate`: record deploys and incidents on a running server, and
//! list them. They are stored as `nines_annotation{kind=...}` series, so
//! Grafana can draw them and `nines incidents` can relate breaches to the
//! deploys before them.

use std::process::ExitCode;

use reqwest::Method;

use super::api::{query, secs, Answer, Body, Server};
use super::{fmt_time, parse_time};

/// Record a deploy or an incident, or list annotations.
///
/// Exit codes: 0 recorded (or listed), 1 refused by the server (the reason
/// is printed), 2 the server could not be reached.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub what: What,
}

#[derive(Debug, clap::Subcommand)]
pub enum What {
    /// Record a deploy of a service (a release reaching an environment).
    // `--version` is the deployed version here, not nines's own.
    #[command(disable_version_flag = true)]
    Deploy(Deploy),
    /// Record an incident (with an end once it is resolved).
    Incident(Incident),
    /// List annotations.
    List(List),
}

#[derive(Debug, clap::Args)]
pub struct Deploy {
    #[command(flatten)]
    pub server: Server,
    /// The service deployed.
    #[arg(long)]
    pub service: String,
    /// The version deployed.
    #[arg(long)]
    pub version: String,
    /// The environment (prod, staging, ...).
    #[arg(long)]
    pub env: Option<String>,
    /// The source commit.
    #[arg(long)]
    pub commit: Option<String>,
    /// The deploy's id in your CD system.
    #[arg(long)]
    pub id: Option<String>,
    /// When it happened (RFC 3339 or unix seconds; default now).
    #[arg(long, value_name = "T", value_parser = parse_time)]
    pub at: Option<i64>,
}

#[derive(Debug, clap::Args)]
pub struct Incident {
    #[command(flatten)]
    pub server: Server,
    /// The service affected.
    #[arg(long)]
    pub service: String,
    /// The incident's id.
    #[arg(long)]
    pub id: String,
    /// Its severity (sev1, sev2, ...).
    #[arg(long)]
    pub severity: Option<String>,
    /// When it started (RFC 3339 or unix seconds; default now).
    #[arg(long, value_name = "T", value_parser = parse_time)]
    pub at: Option<i64>,
    /// When it ended.
    #[arg(long, value_name = "T", value_parser = parse_time)]
    pub end: Option<i64>,
}

#[derive(Debug, clap::Args)]
pub struct List {
    #[command(flatten)]
    pub server: Server,
    /// Only this kind (deploy or incident).
    #[arg(long)]
    pub kind: Option<String>,
    /// Only this service.
    #[arg(long)]
    pub service: Option<String>,
    /// Only this environment.
    #[arg(long)]
    pub env: Option<String>,
    /// How far back (a duration such as 7d, or a time).
    #[arg(long, default_value = "30d")]
    pub since: String,
}

/// `--since`: a duration back from now (`30d`) or a time.
pub fn parse_since(s: &str, now_ms: i64) -> Result<i64, String> {
    match super::query::parse_step(s) {
        Ok(d) => Ok(now_ms - d),
        Err(_) => parse_time(s).map_err(|_| {
            format!("invalid --since {s:?}: expected a duration (30d, 12h) or a time (RFC 3339 or unix seconds)")
        }),
    }
}

fn push(form: &mut Vec<(&'static str, String)>, key: &'static str, v: &Option<String>) {
    if let Some(v) = v {
        form.push((key, v.clone()));
    }
}

fn record(server: &Server, form: Vec<(&'static str, String)>) -> anyhow::Result<ExitCode> {
    match server.call(Method::POST, "api/v1/annotations", Body::Form(form)) {
        Ok(Answer::Ok(data)) => {
            if server.json {
                println!("{data}");
            } else {
                let created = data["created"].as_bool().unwrap_or(false);
                let at = data["annotation"]["at"].as_i64();
                println!(
                    "{} {} at {}",
                    if created {
                        "recorded"
                    } else {
                        "already recorded:"
                    },
                    data["labels"].as_str().unwrap_or(""),
                    fmt_time(at)
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Ok(Answer::Refused(code)) | Err(code) => Ok(code),
    }
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    match a.what {
        What::Deploy(d) => {
            let mut form = vec![
                ("kind", "deploy".to_string()),
                ("service", d.service),
                ("version", d.version),
            ];
            push(&mut form, "env", &d.env);
            push(&mut form, "commit", &d.commit);
            push(&mut form, "id", &d.id);
            if let Some(at) = d.at {
                form.push(("at", secs(at)));
            }
            record(&d.server, form)
        }
        What::Incident(i) => {
            let mut form = vec![
                ("kind", "incident".to_string()),
                ("service", i.service),
                ("id", i.id),
            ];
            push(&mut form, "severity", &i.severity);
            if let Some(at) = i.at {
                form.push(("at", secs(at)));
            }
            if let Some(end) = i.end {
                form.push(("end", secs(end)));
            }
            record(&i.server, form)
        }
        What::List(l) => {
            let now = nines_engine::engine::now_ms();
            let start = match parse_since(&l.since, now) {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("error: {e}");
                    return Ok(ExitCode::from(super::EXIT_FAILURE));
                }
            };
            let q = query(&[
                ("start", Some(secs(start))),
                ("end", Some(secs(now))),
                ("kind", l.kind.clone()),
                ("service", l.service.clone()),
                ("env", l.env.clone()),
            ]);
            let path = format!("api/v1/annotations{q}");
            let data = match l.server.call(Method::GET, &path, Body::None) {
                Ok(Answer::Ok(d)) => d,
                Ok(Answer::Refused(code)) | Err(code) => return Ok(code),
            };
            if l.server.json {
                println!("{data}");
                return Ok(ExitCode::SUCCESS);
            }
            println!(
                "{:<25} {:<9} {:<16} {:<14} {:<8} {:<10} ID",
                "AT", "KIND", "SERVICE", "VERSION", "ENV", "COMMIT"
            );
            for a in data.as_array().into_iter().flatten() {
                let s = |k: &str| a[k].as_str().unwrap_or("-").to_string();
                let mut id = s("id");
                if let Some(end) = a["end"].as_i64() {
                    id.push_str(&format!(" (until {})", fmt_time(Some(end))));
                }
                println!(
                    "{:<25} {:<9} {:<16} {:<14} {:<8} {:<10} {id}",
                    fmt_time(a["at"].as_i64()),
                    s("kind"),
                    s("service"),
                    s("version"),
                    s("env"),
                    s("commit"),
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
