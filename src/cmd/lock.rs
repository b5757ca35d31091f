//! `nines lock`: retention locks on a running server.

use std::process::ExitCode;

use reqwest::Method;
use serde_json::Value as Json;

use super::api::{self, enc, query, s, secs, Body, Server};
use super::parse_time;

/// Retention locks: a floor under one resolution's retention, held until a
/// date, that can only be lengthened (admin) and never shortened or removed
/// before it expires; retention never deletes what a lock holds. Every
/// change and refusal goes to the audit trail.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: LockCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum LockCommand {
    /// Set a lock, or lengthen the one in force (a shorter keep or an
    /// earlier until is refused, exit 1).
    Set {
        #[command(flatten)]
        server: Server,
        /// raw, 1m, 1h or 1d.
        #[arg(long, value_name = "RES")]
        resolution: String,
        /// Keep this much history of that resolution (`7y`, `400d`).
        #[arg(long, value_name = "D")]
        keep: String,
        /// The lock holds until then (RFC 3339 or unix seconds).
        #[arg(long, value_name = "T", value_parser = parse_time)]
        until: i64,
        /// Why (the contract, the regulation).
        #[arg(long, value_name = "TEXT")]
        reason: String,
        /// Who sets it (default: the token's name).
        #[arg(long, value_name = "NAME", env = "NINES_AUTHOR")]
        author: Option<String>,
    },
    /// List each resolution's lock.
    List {
        #[command(flatten)]
        server: Server,
    },
    /// Remove a lock that has expired (one in force is refused, exit 1).
    Remove {
        #[command(flatten)]
        server: Server,
        /// raw, 1m, 1h or 1d.
        resolution: String,
        #[arg(long, value_name = "TEXT", default_value = "")]
        reason: String,
        #[arg(long, value_name = "NAME", env = "NINES_AUTHOR")]
        author: Option<String>,
    },
}

fn line(l: &Json) -> String {
    format!(
        "{:<4} keep {:<6} until {:<24} {:<9} set {} by {}: {}",
        s(&l["resolution"]),
        s(&l["keep"]),
        s(&l["until"]),
        if l["in_force"] == true {
            "in force"
        } else if l["active"] == true {
            "expired"
        } else {
            "removed"
        },
        s(&l["set_at"]),
        s(&l["author"]),
        s(&l["reason"]),
    )
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    match a.command {
        LockCommand::Set {
            server,
            resolution,
            keep,
            until,
            reason,
            author,
        } => {
            let form = vec![
                ("resolution", resolution),
                ("keep", keep),
                ("until", secs(until)),
                ("reason", reason),
                ("author", author.unwrap_or_default()),
            ];
            api::run(
                &server,
                Method::POST,
                "api/v1/locks",
                Body::Form(form),
                |l| println!("{}", line(l)),
            )
        }
        LockCommand::List { server } => {
            api::run(&server, Method::GET, "api/v1/locks", Body::None, |d| {
                for l in d["locks"].as_array().into_iter().flatten() {
                    println!("{}", line(l));
                }
            })
        }
        LockCommand::Remove {
            server,
            resolution,
            reason,
            author,
        } => {
            let q = query(&[("reason", Some(reason)), ("author", author)]);
            api::run(
                &server,
                Method::DELETE,
                &format!("api/v1/locks/{}{q}", enc(&resolution)),
                Body::None,
                |l| println!("removed: {}", line(l)),
            )
        }
    }
}
