//! `nines slo`: manage the SLOs of a running server (`/api/v1/slos`).
//! Exit 0 when done, 1 when the server refused (the reason on stderr), 2
//! when it cannot be reached.

use std::io::Read;
use std::process::ExitCode;

use reqwest::Method;
use serde_json::Value as Json;

use super::api::{self, enc, query, s, secs, Body, Server};
use super::parse_time;

/// Apply, list, show and retire SLOs (OpenSLO v1) on a running server.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: SloCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum SloCommand {
    /// Apply an OpenSLO file: each new or changed SLO gets a new version,
    /// unchanged ones stay as they are. All SLOs of the file or none.
    Apply {
        #[command(flatten)]
        server: Server,
        /// The OpenSLO v1 YAML file (several SLOs separated by `---`), or
        /// `-` for standard input.
        #[arg(short = 'f', long = "file", value_name = "FILE")]
        file: String,
        /// Who applies it (recorded with the version).
        #[arg(long, value_name = "NAME", env = "NINES_AUTHOR")]
        author: Option<String>,
        /// Start the new versions at this earlier time instead of now (an
        /// admin's correction; recorded as backdated).
        #[arg(long, value_name = "T", value_parser = parse_time)]
        effective_from: Option<i64>,
    },
    /// List the SLOs, retired ones included.
    List {
        #[command(flatten)]
        server: Server,
    },
    /// Show an SLO's current definition and all its versions.
    Get {
        #[command(flatten)]
        server: Server,
        name: String,
    },
    /// Show the recorded changes of an SLO: versions, retirement,
    /// exclusions that cover it.
    History {
        #[command(flatten)]
        server: Server,
        name: String,
    },
    /// Retire an SLO: it stops counting from now on; its versions and
    /// history stay.
    Retire {
        #[command(flatten)]
        server: Server,
        name: String,
        /// Who retires it.
        #[arg(long, value_name = "NAME", env = "NINES_AUTHOR")]
        author: Option<String>,
    },
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    match a.command {
        SloCommand::Apply {
            server,
            file,
            author,
            effective_from,
        } => apply(&server, &file, author, effective_from),
        SloCommand::List { server } => {
            api::run(&server, Method::GET, "api/v1/slos", Body::None, print_list)
        }
        SloCommand::Get { server, name } => api::run(
            &server,
            Method::GET,
            &format!("api/v1/slos/{}", enc(&name)),
            Body::None,
            print_slo,
        ),
        SloCommand::History { server, name } => api::run(
            &server,
            Method::GET,
            &format!("api/v1/slos/{}/history", enc(&name)),
            Body::None,
            |d| {
                for e in d.as_array().into_iter().flatten() {
                    println!("{}", history_line(e));
                }
            },
        ),
        SloCommand::Retire {
            server,
            name,
            author,
        } => api::run(
            &server,
            Method::DELETE,
            &format!("api/v1/slos/{}{}", enc(&name), query(&[("author", author)])),
            Body::None,
            |e| println!("{}", history_line(e)),
        ),
    }
}

fn apply(
    server: &Server,
    file: &str,
    author: Option<String>,
    effective_from: Option<i64>,
) -> anyhow::Result<ExitCode> {
    let (name, text) = if file == "-" {
        let mut t = String::new();
        std::io::stdin()
            .read_to_string(&mut t)
            .map_err(|e| anyhow::anyhow!("cannot read standard input: {e}"))?;
        ("stdin".to_string(), t)
    } else {
        let t = std::fs::read_to_string(file)
            .map_err(|e| anyhow::anyhow!("cannot read {file}: {e}"))?;
        (file.to_string(), t)
    };
    let q = query(&[
        ("file", Some(name)),
        ("author", author),
        ("effective_from", effective_from.map(secs)),
    ]);
    api::run(
        server,
        Method::POST,
        &format!("api/v1/slos{q}"),
        Body::Text(text),
        |d| {
            for a in d["applied"].as_array().into_iter().flatten() {
                println!(
                    "{}: version {} ({})",
                    s(&a["name"]),
                    s(&a["version"]),
                    s(&a["change"])
                );
            }
        },
    )
}

fn status(slo: &Json) -> String {
    match &slo["retired_at"] {
        Json::Null => "active".into(),
        t => format!("retired {}", s(t)),
    }
}

fn print_list(d: &Json) {
    let rows: Vec<[String; 7]> = d
        .as_array()
        .into_iter()
        .flatten()
        .map(|x| {
            [
                s(&x["name"]),
                s(&x["service"]),
                s(&x["target"]),
                s(&x["window"]),
                s(&x["version"]),
                s(&x["effective_from"]),
                status(x),
            ]
        })
        .collect();
    let head = [
        "NAME", "SERVICE", "TARGET", "WINDOW", "VERSION", "SINCE", "STATUS",
    ]
    .map(String::from);
    print_table(&head, &rows);
}

/// Left-aligned columns two spaces apart.
pub fn print_table<const N: usize>(head: &[String; N], rows: &[[String; N]]) {
    let mut width = [0usize; N];
    for r in std::iter::once(head).chain(rows) {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    for r in std::iter::once(head).chain(rows) {
        let cells: Vec<String> = r
            .iter()
            .zip(width)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", cells.join("  ").trim_end());
    }
}

fn print_slo(d: &Json) {
    println!("name:        {}", s(&d["name"]));
    println!("service:     {}", s(&d["service"]));
    if !d["description"].is_null() {
        println!("description: {}", s(&d["description"]));
    }
    println!("target:      {}", s(&d["target"]));
    println!("window:      {}", s(&d["window"]));
    println!("budgeting:   {}", s(&d["budgeting"]));
    println!("status:      {}", status(d));
    println!("versions:");
    for v in d["versions"].as_array().into_iter().flatten() {
        let to = match &v["effective_to"] {
            Json::Null => "now".to_string(),
            t => s(t),
        };
        println!(
            "  v{:<3} {} .. {}  target {}  applied {} by {}",
            s(&v["version"]),
            s(&v["effective_from"]),
            to,
            s(&v["definition"]["objectives"][0]["target"]),
            s(&v["applied_at"]),
            s(&v["author"]),
        );
    }
}

/// One change as a line: when, which record, what, by whom.
fn history_line(e: &Json) -> String {
    let what = match e["change"].as_str().unwrap_or("") {
        c @ ("created" | "changed" | "reactivated") => {
            let back = if e["backdated"] == true {
                ", backdated"
            } else {
                ""
            };
            format!(
                "{c} {} version {} (from {}{back})",
                s(&e["slo"]),
                s(&e["version"]),
                s(&e["effective_from"])
            )
        }
        "retired" => format!(
            "retired {} version {} (to {})",
            s(&e["slo"]),
            s(&e["version"]),
            s(&e["effective_to"])
        ),
        "gate_override" => format!(
            "gate override for {}: the gate said {} ({}); reason: {}",
            s(&e["slo"]),
            s(&e["decision"]["verdict"]),
            e["decision"]["reasons"]
                .as_array()
                .map(|r| r.iter().map(s).collect::<Vec<_>>().join("; "))
                .unwrap_or_default(),
            s(&e["reason"])
        ),
        c => format!("{c} {}", s(&e["exclusion"]["id"])),
    };
    // times differ in length (fractional seconds are dropped when zero):
    // pad them so that the records line up
    format!(
        "{:<24}  record {:<4} {what}  by {}",
        s(&e["at"]),
        s(&e["record"]),
        s(&e["author"])
    )
}
