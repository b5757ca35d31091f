//! `nines import`: load OpenMetrics / Prometheus text and JSON-lines files
//! into a data directory.

use std::process::ExitCode;

use nines_engine::wal::SyncPolicy;
use nines_engine::{Engine, EngineOptions};

use super::input::{check_files, read_file, InputArgs, Report};
use super::{progress_bar, DataDir, EXIT_FAILURE};

/// Load samples from files into a data directory.
///
/// Reads OpenMetrics 1.0 text (timestamps in seconds, ends with `# EOF`),
/// Prometheus text with millisecond timestamps, and VictoriaMetrics-style
/// JSON lines (`{"metric":{...},"values":[...],"timestamps":[...]}`). Bad
/// lines and refused samples are reported and counted; everything else is
/// loaded. At the end the head is flushed to segments; run `nines compact`
/// afterwards for the best compression and rollups. To load into a running
/// server, use `nines write --url`.
///
/// Exits 0 when every sample was loaded, 1 when some line or sample was
/// refused (the rest is loaded), and 1 on an I/O error.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub dir: DataDir,
    #[command(flatten)]
    pub input: InputArgs,
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let total_bytes = check_files(&a.input.files)?;
    // Bulk load: the WAL is not synced per batch; the final flush and close
    // make everything durable.
    let engine = Engine::open(
        EngineOptions::new(&a.dir.data_dir)
            .background(false)
            .sync(SyncPolicy::Never),
    )?;
    let pb = progress_bar(total_bytes, "importing");
    let mut report = Report::new(a.input.max_errors);
    let mut done = 0u64;
    for path in &a.input.files {
        pb.set_message(path.display().to_string());
        let stats = read_file(path, &a.input, &mut |chunk, bytes| {
            report.note_chunk(path, &chunk);
            let out = engine.append(&chunk.batch)?;
            report.note_outcome(
                path,
                out.accepted,
                out.duplicates,
                out.rejected_samples,
                out.rejected
                    .into_iter()
                    .map(|r| (r.labels, r.timestamp, r.samples, r.reason.to_string())),
            );
            pb.set_position(done + bytes);
            Ok(())
        })?;
        done += path.metadata().map(|m| m.len()).unwrap_or(0);
        report.note_stats(path, &stats);
    }
    pb.finish_and_clear();
    engine.flush(true)?;
    engine.close()?;
    println!(
        "imported {} samples of {} series; {} duplicates skipped; {} samples refused; {} lines rejected",
        report.accepted,
        report.series(),
        report.duplicates,
        report.rejected_samples,
        report.lines_rejected
    );
    Ok(if report.refused_any() {
        ExitCode::from(EXIT_FAILURE)
    } else {
        ExitCode::SUCCESS
    })
}
