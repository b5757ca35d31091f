//! `nines verify`: check every CRC and hash; exit 1 naming each damaged file
//! and offset. Covers the engine's files and the SLO log.

use std::process::ExitCode;

use nines_engine::chainlog::hex;
use nines_engine::verify::{verify_dir, Problem, VerifyOptions};
use nines_slo::store::SloStore;

use super::{progress_bar, DataDir, EXIT_FAILURE};

/// Check the manifest's hash chain, every file's SHA-256 and every CRC, and
/// the SLO log's chain and records.
///
/// Reads only and takes no lock, so it can run beside a live server. Exits 0
/// when everything is sound, 1 when anything is damaged (each problem is
/// printed as `path: offset N: what failed`).
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub dir: DataDir,
    /// Also decode every block (slower; the CRCs already cover every byte).
    #[arg(long)]
    pub decode: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let pb = progress_bar(0, "verifying");
    let mut report = verify_dir(
        &a.dir.data_dir,
        VerifyOptions { decode: a.decode },
        &mut |done, total| {
            pb.set_length(total);
            pb.set_position(done);
        },
    )?;
    pb.finish_and_clear();
    let slo_log = SloStore::path_in(&a.dir.data_dir);
    let mut slo_summary = String::new();
    if slo_log.exists() {
        let check = SloStore::check(&slo_log)?;
        let at = |offset: u64, rule: String| Problem {
            path: slo_log.clone(),
            offset: Some(offset),
            rule,
        };
        if let Some(o) = check.torn_tail_at {
            report.notes.push(at(
                o,
                "torn final record (a crash during an append); the server drops it on open".into(),
            ));
        }
        report
            .problems
            .extend(check.problems.into_iter().map(|(o, r)| at(o, r)));
        slo_summary = format!(
            "; SLO log {} records, head {}",
            check.records,
            hex(&check.head)
        );
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        for p in &report.problems {
            match p.offset {
                Some(o) => println!("DAMAGED {}: offset {o}: {}", p.path.display(), p.rule),
                None => println!("DAMAGED {}: {}", p.path.display(), p.rule),
            }
        }
        for p in &report.notes {
            match p.offset {
                Some(o) => println!("note    {}: offset {o}: {}", p.path.display(), p.rule),
                None => println!("note    {}: {}", p.path.display(), p.rule),
            }
        }
        println!(
            "{}: {} files, {} bytes checked; manifest {} records, head {}{slo_summary}",
            if report.ok() { "OK" } else { "DAMAGED" },
            report.files_checked,
            report.bytes_checked,
            report.manifest_records,
            report.manifest_head
        );
    }
    Ok(if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FAILURE)
    })
}
