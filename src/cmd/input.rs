//! Reading sample files for `import` and `write`: OpenMetrics / Prometheus
//! text and JSON lines, in chunks, with byte progress, parse errors and
//! refusals reported the same way by both commands.

use std::collections::HashSet;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use nines_engine::formats::jsonl::JsonlReader;
use nines_engine::formats::openmetrics::{OpenMetricsReader, TextDialect, TextOptions};
use nines_engine::formats::{Chunk, ReadOptions, ReadStats};
use nines_engine::{Labels, TimestampMs};

use super::parse_time;

/// Which files to read and how.
#[derive(Debug, Clone, clap::Args)]
pub struct InputArgs {
    /// Input format; `auto` chooses by extension (`.jsonl`, `.json`, `.ndjson`
    /// are JSON lines) and, for text, by content (`# EOF` or decimal-second
    /// timestamps mean OpenMetrics, else Prometheus text with ms timestamps).
    #[arg(long, value_enum, default_value_t = Format::Auto)]
    pub format: Format,
    /// Timestamp for text samples written without one (RFC 3339 or unix
    /// seconds). Without it such samples are refused.
    #[arg(long, value_name = "T", value_parser = parse_time)]
    pub default_time: Option<TimestampMs>,
    /// How many parse errors and refusals to print (all are counted).
    #[arg(long, default_value_t = 20)]
    pub max_errors: usize,
    /// Files to read.
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

/// What reading and storing found, over all files.
#[derive(Default)]
pub struct Report {
    pub max_errors: usize,
    printed: usize,
    pub lines_rejected: u64,
    pub accepted: u64,
    pub duplicates: u64,
    pub rejected_samples: u64,
    series: HashSet<u64>,
}

impl Report {
    pub fn new(max_errors: usize) -> Report {
        Report {
            max_errors,
            ..Report::default()
        }
    }

    /// Adds what another report (of a reader thread) counted.
    pub fn merge(&mut self, other: Report) {
        self.lines_rejected += other.lines_rejected;
        self.series.extend(other.series);
        self.printed += other.printed;
    }

    pub fn series(&self) -> usize {
        self.series.len()
    }

    pub fn note_chunk(&mut self, path: &Path, chunk: &Chunk) {
        for e in &chunk.errors {
            self.print(format!("{}: {e}", path.display()));
        }
        for s in &chunk.batch.series {
            self.series.insert(s.labels.hash64());
        }
    }

    /// Adds one write's counts and prints its refusals.
    pub fn note_outcome(
        &mut self,
        path: &Path,
        accepted: u64,
        duplicates: u64,
        rejected: u64,
        refusals: impl Iterator<Item = (Labels, Option<i64>, u64, String)>,
    ) {
        self.accepted += accepted;
        self.duplicates += duplicates;
        self.rejected_samples += rejected;
        for (labels, t, n, reason) in refusals {
            let at = t.map(|t| format!(" at {t}")).unwrap_or_default();
            self.print(format!(
                "{}: refused {n} samples of {labels}{at}: {reason}",
                path.display()
            ));
        }
    }

    pub fn note_stats(&mut self, path: &Path, stats: &ReadStats) {
        self.lines_rejected += stats.rejected_lines;
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

    fn print(&mut self, line: String) {
        if self.printed < self.max_errors {
            eprintln!("{line}");
            self.printed += 1;
        }
    }

    /// True when something was refused (exit code 1).
    pub fn refused_any(&self) -> bool {
        self.rejected_samples > 0 || self.lines_rejected > 0
    }
}

pub fn check_files(files: &[PathBuf]) -> anyhow::Result<u64> {
    let mut total = 0;
    for f in files {
        let m = f
            .metadata()
            .map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))?;
        if !m.is_file() {
            anyhow::bail!("{} is not a regular file", f.display());
        }
        total += m.len();
    }
    Ok(total)
}

fn is_jsonl(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("jsonl" | "json" | "ndjson")
    )
}

/// Reads one file chunk by chunk; `on_chunk` gets each chunk and the bytes
/// of the file read so far.
pub fn read_file(
    path: &Path,
    args: &InputArgs,
    on_chunk: &mut dyn FnMut(Chunk, u64) -> anyhow::Result<()>,
) -> anyhow::Result<ReadStats> {
    let file = File::open(path).map_err(|e| anyhow::anyhow!("open {}: {e}", path.display()))?;
    let read_bytes = Arc::new(AtomicU64::new(0));
    let counted = CountingReader {
        inner: file,
        bytes: Arc::clone(&read_bytes),
    };
    let bytes_now = || read_bytes.load(Ordering::Relaxed);
    let input = BufReader::with_capacity(1 << 20, counted);
    let jsonl = match args.format {
        Format::Jsonl => true,
        Format::Auto => is_jsonl(path),
        _ => false,
    };
    if jsonl {
        let mut r = JsonlReader::new(input, ReadOptions::default()).with_source(path);
        while let Some(chunk) = r.next_chunk()? {
            on_chunk(chunk, bytes_now())?;
        }
        Ok(r.stats().clone())
    } else {
        let dialect = match args.format {
            Format::Openmetrics => TextDialect::OpenMetrics,
            Format::Prometheus => TextDialect::Prometheus,
            _ => TextDialect::Auto,
        };
        let opts = TextOptions {
            dialect,
            default_timestamp: args.default_time,
            ..TextOptions::default()
        };
        let mut r = OpenMetricsReader::new(input, opts).with_source(path);
        while let Some(chunk) = r.next_chunk()? {
            on_chunk(chunk, bytes_now())?;
        }
        Ok(r.stats().clone())
    }
}

/// Counts bytes read, for the progress bar.
struct CountingReader<R> {
    inner: R,
    bytes: Arc<AtomicU64>,
}

impl<R: std::io::Read> std::io::Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}
