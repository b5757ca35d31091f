//! `nines exclusion`: maintenance windows and corrections on a running
//! server (`/api/v1/exclusions`). Events in an exclusion count in neither
//! good nor total, for all time (SLO_SEMANTICS.md). Exit 0 when done, 1
//! when the server refused, 2 when it cannot be reached.

use std::process::ExitCode;

use reqwest::Method;
use serde_json::{json, Value as Json};

use super::api::{self, enc, query, s, secs, Body, Server};
use super::parse_time;
use super::query::parse_step;
use super::slo::print_table;

/// Add, list and delete SLO exclusions on a running server.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: ExclusionCommand,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Category {
    Maintenance,
    Deployment,
    ThirdParty,
    Other,
}

impl Category {
    fn as_str(self) -> &'static str {
        match self {
            Category::Maintenance => "maintenance",
            Category::Deployment => "deployment",
            Category::ThirdParty => "third-party",
            Category::Other => "other",
        }
    }
}

#[derive(Debug, clap::Subcommand)]
pub enum ExclusionCommand {
    /// Exclude an interval (`--start`, `--end`) or a recurring window
    /// (`--rrule`, `--duration`, `--tz`) from one or more SLOs, or all.
    #[command(group(clap::ArgGroup::new("scope").required(true).args(["slo", "all"])))]
    #[command(group(clap::ArgGroup::new("when").required(true).args(["start", "rrule"])))]
    Add {
        #[command(flatten)]
        server: Server,
        /// An SLO it covers (repeat for several).
        #[arg(long, value_name = "NAME")]
        slo: Vec<String>,
        /// It covers every SLO.
        #[arg(long)]
        all: bool,
        /// Start of a one-off exclusion (RFC 3339 or unix seconds).
        #[arg(long, value_name = "T", value_parser = parse_time, requires = "end")]
        start: Option<i64>,
        /// End of a one-off exclusion (exclusive).
        #[arg(long, value_name = "T", value_parser = parse_time, requires = "start")]
        end: Option<i64>,
        /// A recurring rule: `FREQ=DAILY|WEEKLY;BYDAY=MO,..;BYHOUR=2;BYMINUTE=30`.
        #[arg(
            long,
            value_name = "RULE",
            requires = "duration",
            conflicts_with = "start"
        )]
        rrule: Option<String>,
        /// How long each occurrence lasts (`2h`, `90m`).
        #[arg(long, value_name = "D", value_parser = parse_step, requires = "rrule")]
        duration: Option<i64>,
        /// The time zone the rule's days and hours are in (IANA name).
        #[arg(long, value_name = "ZONE", requires = "rrule")]
        tz: Option<String>,
        /// What kind of exclusion it is.
        #[arg(long, value_enum, default_value = "other")]
        category: Category,
        /// Why (free text).
        #[arg(long, value_name = "TEXT", default_value = "")]
        reason: String,
        /// Who adds it.
        #[arg(long, value_name = "NAME", env = "NINES_AUTHOR", default_value = "")]
        author: String,
    },
    /// List the exclusions in force (`--deleted`: deleted ones too).
    List {
        #[command(flatten)]
        server: Server,
        /// Only those covering this SLO.
        #[arg(long, value_name = "NAME")]
        slo: Option<String>,
        #[arg(long)]
        deleted: bool,
    },
    /// Delete an exclusion: it stops applying, to all time. The log keeps
    /// it.
    Delete {
        #[command(flatten)]
        server: Server,
        id: String,
        /// Who deletes it.
        #[arg(long, value_name = "NAME", env = "NINES_AUTHOR")]
        author: Option<String>,
    },
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    match a.command {
        ExclusionCommand::Add {
            server,
            slo,
            all,
            start,
            end,
            rrule,
            duration,
            tz,
            category,
            reason,
            author,
        } => {
            let mut body = json!({
                "category": category.as_str(),
                "reason": reason,
                "author": author,
            });
            if all {
                body["all"] = json!(true);
            } else {
                body["slos"] = json!(slo);
            }
            match (start, end, rrule, duration) {
                (Some(s), Some(e), None, None) => {
                    body["start"] = json!(secs(s));
                    body["end"] = json!(secs(e));
                }
                (None, None, Some(r), Some(d)) => {
                    body["rrule"] = json!(r);
                    body["duration"] = json!(secs(d));
                    body["tz"] = json!(tz.unwrap_or_else(|| "UTC".into()));
                }
                _ => anyhow::bail!("give --start and --end, or --rrule and --duration (and --tz)"),
            }
            api::run(
                &server,
                Method::POST,
                "api/v1/exclusions",
                Body::Json(body),
                |e| println!("exclusion {} added: {}", s(&e["id"]), describe(e)),
            )
        }
        ExclusionCommand::List {
            server,
            slo,
            deleted,
        } => {
            let q = query(&[
                ("slo", slo),
                ("deleted", deleted.then(|| "true".to_string())),
            ]);
            api::run(
                &server,
                Method::GET,
                &format!("api/v1/exclusions{q}"),
                Body::None,
                print_list,
            )
        }
        ExclusionCommand::Delete { server, id, author } => api::run(
            &server,
            Method::DELETE,
            &format!(
                "api/v1/exclusions/{}{}",
                enc(&id),
                query(&[("author", author)])
            ),
            Body::None,
            |e| println!("exclusion {} deleted", s(&e["id"])),
        ),
    }
}

fn scope(e: &Json) -> String {
    if e["all"] == true {
        return "all".into();
    }
    let names: Vec<String> = e["slos"].as_array().into_iter().flatten().map(s).collect();
    names.join(",")
}

fn when(e: &Json) -> String {
    if e["rrule"].is_string() {
        format!(
            "{} for {} ({})",
            s(&e["rrule"]),
            s(&e["duration"]),
            s(&e["tz"])
        )
    } else {
        format!("{} .. {}", s(&e["start"]), s(&e["end"]))
    }
}

fn describe(e: &Json) -> String {
    format!("{} {} [{}]", scope(e), when(e), s(&e["category"]))
}

fn print_list(d: &Json) {
    let rows: Vec<[String; 7]> = d
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            [
                s(&e["id"]),
                scope(e),
                when(e),
                s(&e["category"]),
                s(&e["reason"]),
                s(&e["author"]),
                match &e["deleted_at"] {
                    Json::Null => "in force".into(),
                    t => format!("deleted {}", s(t)),
                },
            ]
        })
        .collect();
    let head = [
        "ID", "SLOS", "WHEN", "CATEGORY", "REASON", "AUTHOR", "STATUS",
    ]
    .map(String::from);
    print_table(&head, &rows);
}
