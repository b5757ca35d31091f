//! `nines import`: load OpenMetrics / Prometheus text and JSON-lines files.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use nines_engine::formats::jsonl::JsonlReader;
use nines_engine::formats::openmetrics::{OpenMetricsReader, TextDialect, TextOptions};
use nines_engine::formats::{Chunk, ReadOptions, ReadStats};
use nines_engine::wal::SyncPolicy;
use nines_engine::{AppendOutcome, Engine, EngineOptions};

use super::{parse_time, progress_bar, DataDir, EXIT_FAILURE};

/// Load samples from files into a data directory.
///
/// Reads OpenMetrics 1.0 text (timestamps in seconds, ends with `# EOF`),
/// Prometheus text with millisecond timestamps, and VictoriaMetrics-style
/// JSON lines (`{"metric":{...},"values":[...],"timestamps":[...]}`). Bad
/// lines and refused samples are reported and counted; everything else is
/// loaded. At the end the head is flushed to segments; run `nines compact`
/// afterwards for the best compression and rollups.
///
/// Exits 0 when every sample was loaded, 1 when some line or sample was
/// refused (the rest is loaded), and 1 on an I/O error.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub dir: DataDir,
    /// Input format; `auto` chooses by extension (`.jsonl`, `.json`, `.ndjson`
    /// are JSON lines) and, for text, by content.
    #[arg(long, value_enum, default_value_t = Format::Auto)]
    pub format: Format,
    /// Timestamp for text samples written without one (RFC 3339 or unix
    /// seconds). Without it such samples are refused.
    #[arg(long, value_name = "T", value_parser = parse_time)]
    pub default_time: Option<i64>,
    /// How many parse errors and refusals to print (all are counted).
    #[arg(long, default_value_t = 20)]
    pub max_errors: usize,
    /// Files to load.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Auto,
    Openmetrics,
    Prometheus,
    Jsonl,
}

#[derive(Default)]
struct Totals {
    lines_rejected: u64,
    outcome: AppendOutcome,
    printed: usize,
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    for f in &a.files {
        if !f.is_file() {
            anyhow::bail!("{} is not a readable file", f.display());
        }
    }
    // Bulk load: the WAL is not synced per batch; the final flush and close
    // make everything durable.
    let engine = Engine::open(
        EngineOptions::new(&a.dir.data_dir)
            .background(false)
            .sync(SyncPolicy::Never),
    )?;
    let total_bytes: u64 = a
        .files
        .iter()
        .filter_map(|f| f.metadata().ok())
        .map(|m| m.len())
        .sum();
    let pb = progress_bar(total_bytes, "importing");
    let mut t = Totals::default();
    let mut done_bytes = 0u64;
    let mut series_seen = std::collections::HashSet::new();
    for path in &a.files {
        let len = path.metadata().map(|m| m.len()).unwrap_or(0);
        pb.set_message(path.display().to_string());
        let stats = import_file(&engine, path, &a, &mut t, &mut series_seen, &mut |bytes| {
            pb.set_position(done_bytes + bytes.min(len));
        })?;
        done_bytes += len;
        pb.set_position(done_bytes);
        t.lines_rejected += stats.rejected_lines;
        if stats.skipped_created > 0 {
            eprintln!(
                "{}: skipped {} OpenMetrics _created samples",
                path.display(),
                stats.skipped_created
            );
        }
        if stats.truncated_timestamps > 0 {
            eprintln!(
                "{}: {} timestamps had sub-millisecond digits and were truncated to whole milliseconds",
                path.display(),
                stats.truncated_timestamps
            );
        }
    }
    pb.finish_and_clear();
    engine.flush(true)?;
    engine.close()?;
    let o = &t.outcome;
    println!(
        "imported {} samples of {} series; {} duplicates skipped; {} samples refused; {} lines rejected",
        o.accepted,
        series_seen.len(),
        o.duplicates,
        o.rejected_samples,
        t.lines_rejected
    );
    Ok(if o.rejected_samples > 0 || t.lines_rejected > 0 {
        ExitCode::from(EXIT_FAILURE)
    } else {
        ExitCode::SUCCESS
    })
}

fn is_jsonl(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("jsonl" | "json" | "ndjson")
    )
}

fn import_file(
    engine: &Engine,
    path: &Path,
    a: &Args,
    t: &mut Totals,
    series_seen: &mut std::collections::HashSet<u64>,
    progress: &mut dyn FnMut(u64),
) -> anyhow::Result<ReadStats> {
    let file = File::open(path).map_err(|e| anyhow::anyhow!("open {}: {e}", path.display()))?;
    let read_bytes = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counted = CountingReader {
        inner: file,
        bytes: std::sync::Arc::clone(&read_bytes),
    };
    let bytes_now = || read_bytes.load(std::sync::atomic::Ordering::Relaxed);
    let input = BufReader::with_capacity(1 << 20, counted);
    let jsonl = match a.format {
        Format::Jsonl => true,
        Format::Auto => is_jsonl(path),
        _ => false,
    };
    let mut handle = |chunk: Chunk, bytes: u64| -> anyhow::Result<()> {
        for e in &chunk.errors {
            if t.printed < a.max_errors {
                eprintln!("{}: {e}", path.display());
                t.printed += 1;
            }
        }
        for s in &chunk.batch.series {
            series_seen.insert(s.labels.hash64());
        }
        let out = engine.append(&chunk.batch)?;
        for r in &out.rejected {
            if t.printed < a.max_errors {
                let at = r.timestamp.map(|t| format!(" at {t}")).unwrap_or_default();
                eprintln!(
                    "{}: refused {} samples of {}{at}: {}",
                    path.display(),
                    r.samples,
                    r.labels,
                    r.reason
                );
                t.printed += 1;
            }
        }
        t.outcome.accepted += out.accepted;
        t.outcome.duplicates += out.duplicates;
        t.outcome.rejected_samples += out.rejected_samples;
        progress(bytes);
        Ok(())
    };
    if jsonl {
        let mut r = JsonlReader::new(input, ReadOptions::default()).with_source(path);
        while let Some(chunk) = r.next_chunk()? {
            handle(chunk, bytes_now())?;
        }
        Ok(r.stats().clone())
    } else {
        let dialect = match a.format {
            Format::Openmetrics => TextDialect::OpenMetrics,
            Format::Prometheus => TextDialect::Prometheus,
            _ => TextDialect::Auto,
        };
        let opts = TextOptions {
            dialect,
            default_timestamp: a.default_time,
            ..TextOptions::default()
        };
        let mut r = OpenMetricsReader::new(input, opts).with_source(path);
        while let Some(chunk) = r.next_chunk()? {
            handle(chunk, bytes_now())?;
        }
        Ok(r.stats().clone())
    }
}

/// Counts bytes read, for the progress bar.
struct CountingReader<R> {
    inner: R,
    bytes: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl<R: std::io::Read> std::io::Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}
