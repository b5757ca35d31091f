//! `nines audit log`: read the server's audit trail.

use std::process::ExitCode;

use reqwest::Method;
use serde_json::Value as Json;

use super::api::{self, query, s, secs, Body, Server};
use super::parse_time;

/// The audit trail: every SLO, exclusion, gate, lock, report and export
/// event and every failed authentication, hash-chained in
/// `DATA/meta/audit.log` (`nines verify` checks the chain).
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: AuditCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum AuditCommand {
    /// Print audit entries, oldest first.
    ///
    /// Text: one line per entry (time, sequence number, kind, actor, the
    /// particulars). `--json`: the API's answer, `{"head": {...},
    /// "entries": [...]}`, each entry with its hash in the chain.
    Log {
        #[command(flatten)]
        server: Server,
        /// Only entries at or after this time (RFC 3339 or unix seconds).
        #[arg(long, value_name = "T", value_parser = parse_time)]
        since: Option<i64>,
        /// Only entries of this kind (repeatable or comma separated), e.g.
        /// `slo_changed`, `exclusion_added`, `gate_override`,
        /// `auth_failure`.
        #[arg(long, value_name = "K")]
        kind: Vec<String>,
        /// Only the newest N matching entries.
        #[arg(long, value_name = "N")]
        limit: Option<usize>,
    },
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    match a.command {
        AuditCommand::Log {
            server,
            since,
            kind,
            limit,
        } => {
            let kinds = (!kind.is_empty()).then(|| kind.join(","));
            let q = query(&[
                ("since", since.map(secs)),
                ("kind", kinds),
                ("limit", limit.map(|n| n.to_string())),
            ]);
            api::run(
                &server,
                Method::GET,
                &format!("api/v1/audit{q}"),
                Body::None,
                |d| {
                    for e in d["entries"].as_array().into_iter().flatten() {
                        println!("{}", line(e));
                    }
                },
            )
        }
    }
}

/// `TIME  #SEQ  KIND  ACTOR  key=value ...` (scalar particulars only;
/// `--json` has them all).
fn line(e: &Json) -> String {
    let mut parts = Vec::new();
    flatten("", &e["detail"], &mut parts);
    format!(
        "{:<24}  #{:<5} {:<20} {:<16} {}",
        s(&e["at"]),
        s(&e["seq"]),
        s(&e["kind"]),
        s(&e["actor"]),
        parts.join(" ")
    )
}

/// `key=value` for the scalars of `v`, nested keys joined with dots;
/// hashes and arrays of objects are left to `--json`.
fn flatten(prefix: &str, v: &Json, out: &mut Vec<String>) {
    match v {
        Json::Object(m) => {
            for (k, v) in m {
                if k.ends_with("hash") || k == "checks" {
                    continue;
                }
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        Json::Null => {}
        Json::Array(a) if a.iter().all(|x| !x.is_object()) => {
            let items: Vec<String> = a.iter().map(s).collect();
            out.push(format!("{prefix}={}", items.join(",")));
        }
        Json::Array(_) => {}
        Json::String(t) if t.contains(' ') => out.push(format!("{prefix}={t:?}")),
        other => out.push(format!("{prefix}={}", s(other))),
    }
}
