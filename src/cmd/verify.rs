//! `nines verify`: check every CRC and hash; exit 1 naming each damaged file
//! and offset. Covers the engine's files and the SLO and audit logs.

use std::process::ExitCode;

use nines_engine::verify::VerifyOptions;
use nines_server::integrity::check;

use super::{progress_bar, DataDir, EXIT_FAILURE};

/// Check the manifest's hash chain, every file's SHA-256 and every CRC, and
/// the SLO and audit logs' chains and records.
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
    let out = check(
        &a.dir.data_dir,
        VerifyOptions { decode: a.decode },
        &mut |done, total| {
            pb.set_length(total);
            pb.set_position(done);
        },
    )?;
    pb.finish_and_clear();
    let report = &out.report;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&out)?);
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
        let logs: String = out
            .logs
            .iter()
            .map(|l| format!("; {} {} records, head {}", l.log, l.records, l.head))
            .collect();
        println!(
            "{}: {} files, {} bytes checked; manifest {} records, head {}{logs}",
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
