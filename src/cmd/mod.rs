//! Command-line commands and what they share: argument types, time parsing,
//! progress bars, logging.

mod annotate;
mod api;
mod audit;
mod client;
mod compact;
mod exclusion;
mod export;
mod gate;
mod import;
mod incidents;
mod input;
mod inspect;
mod lock;
mod query;
mod report;
mod serve;
mod slo;
mod token;
mod verify;
mod write;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit code for a failed command (bad input, damage found, I/O error).
pub const EXIT_FAILURE: u8 = 1;

/// nines: a time-series database built for service level objectives.
#[derive(Debug, Parser)]
#[command(name = "nines", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Log level or filter (error, warn, info, debug, trace, or a
    /// tracing-subscriber filter like `nines_engine=debug`).
    #[arg(long, global = true, env = "NINES_LOG")]
    pub log_level: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Serve(serve::Args),
    Import(import::Args),
    Export(export::Args),
    Query(query::Args),
    Inspect(inspect::Args),
    Compact(compact::Args),
    Verify(verify::Args),
    Write(write::Args),
    Annotate(annotate::Args),
    Gate(gate::Args),
    Incidents(incidents::Args),
    Slo(slo::Args),
    Exclusion(exclusion::Args),
    Audit(audit::Args),
    Token(token::Args),
    Lock(lock::Args),
    Report(report::Args),
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve(a) => serve::run(a),
        Command::Import(a) => import::run(a),
        Command::Export(a) => export::run(a),
        Command::Query(a) => query::run(a),
        Command::Inspect(a) => inspect::run(a),
        Command::Compact(a) => compact::run(a),
        Command::Verify(a) => verify::run(a),
        Command::Write(a) => write::run(a),
        Command::Annotate(a) => annotate::run(a),
        Command::Gate(a) => gate::run(a),
        Command::Incidents(a) => incidents::run(a),
        Command::Slo(a) => slo::run(a),
        Command::Exclusion(a) => exclusion::run(a),
        Command::Audit(a) => audit::run(a),
        Command::Token(a) => token::run(a),
        Command::Lock(a) => lock::run(a),
        Command::Report(a) => report::run(a),
    }
}

/// `--data-dir`, shared by the offline commands.
#[derive(Debug, Clone, clap::Args)]
pub struct DataDir {
    /// The data directory (created if missing by commands that write).
    #[arg(
        long,
        value_name = "DIR",
        default_value = "./data",
        env = "NINES_DATA_DIR"
    )]
    pub data_dir: PathBuf,
}

pub fn init_logging(level: Option<&str>) {
    let filter = tracing_subscriber::EnvFilter::try_new(level.unwrap_or("warn"))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

/// A progress bar on stderr when it is a terminal, hidden otherwise.
pub fn progress_bar(len: u64, what: &str) -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let pb = indicatif::ProgressBar::new(len);
    let style = indicatif::ProgressStyle::with_template(&format!(
        "{what} {{bar:40}} {{bytes}}/{{total_bytes}} ({{bytes_per_sec}}, {{eta}} left) {{msg}}"
    ))
    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    pb.set_style(style);
    pb
}

/// Formats a millisecond timestamp as RFC 3339 (UTC).
pub fn fmt_time(ms: Option<i64>) -> String {
    match ms.and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok()) {
        Some(t) => t.to_string(),
        None => "-".into(),
    }
}

/// Parses a time given as RFC 3339 (`2026-01-05T00:00:00Z`) or unix seconds
/// (`1767571200`, fractions allowed) into milliseconds.
pub fn parse_time(s: &str) -> Result<i64, String> {
    let s = s.trim();
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Ok(t.as_millisecond());
    }
    if let Some(ms) = parse_unix_seconds(s) {
        return Ok(ms);
    }
    Err(format!(
        "invalid time {s:?}: expected RFC 3339 (2026-01-05T00:00:00Z) or unix seconds (1767571200.5)"
    ))
}

/// Unix seconds with up to millisecond precision, parsed exactly (no float
/// rounding).
fn parse_unix_seconds(s: &str) -> Option<i64> {
    let (neg, digits) = match s.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, s),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty()
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let secs: i64 = int.parse().ok()?;
    let mut ms_digits: String = frac.chars().take(3).collect();
    while ms_digits.len() < 3 {
        ms_digits.push('0');
    }
    let ms = secs
        .checked_mul(1000)?
        .checked_add(ms_digits.parse::<i64>().ok()?)?;
    Some(if neg { -ms } else { ms })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_exactly() {
        assert_eq!(parse_time("1767571200"), Ok(1_767_571_200_000));
        assert_eq!(parse_time("1767571200.123"), Ok(1_767_571_200_123));
        assert_eq!(parse_time("1767571200.1"), Ok(1_767_571_200_100));
        assert_eq!(parse_time("2026-01-05T00:00:00Z"), Ok(1_767_571_200_000));
        assert_eq!(
            parse_time("2026-01-05T01:00:00+01:00"),
            Ok(1_767_571_200_000)
        );
        assert!(parse_time("yesterday").unwrap_err().contains("RFC 3339"));
        assert_eq!(fmt_time(Some(1_767_571_200_000)), "2026-01-05T00:00:00Z");
    }
}
