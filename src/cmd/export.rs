//! `nines export`: write series back out as JSON lines or OpenMetrics.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use nines_engine::formats::jsonl::JsonlWriter;
use nines_engine::formats::openmetrics::{family_of, OpenMetricsWriter};
use nines_engine::index::parse_selector;
use nines_engine::read::ReadScratch;
use nines_engine::{Engine, EngineOptions, STALE_NAN_BITS};
use nines_server::audit::AuditLog;

use super::{parse_time, DataDir};

/// Write the samples of the series a selector matches.
///
/// `jsonl` is lossless: `nines import` of the output gives back the same
/// samples bit for bit (NaN payloads and stale markers included).
/// `openmetrics` is what `promtool tsdb create-blocks-from openmetrics`
/// reads (families kept together, timestamps in seconds, `# EOF`).
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub dir: DataDir,
    /// Series selector, e.g. `http_requests_total{job="api"}` or
    /// `{__name__=~".+"}` for everything.
    #[arg(long = "match", value_name = "SELECTOR")]
    pub selector: String,
    /// Start of the time range, inclusive (RFC 3339 or unix seconds).
    #[arg(long, value_name = "T", value_parser = parse_time)]
    pub start: Option<i64>,
    /// End of the time range, inclusive (RFC 3339 or unix seconds).
    #[arg(long, value_name = "T", value_parser = parse_time)]
    pub end: Option<i64>,
    #[arg(long, value_enum, default_value_t = ExportFormat::Jsonl)]
    pub format: ExportFormat,
    /// Write to this file instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Leave out Prometheus stale markers. OpenMetrics text cannot carry
    /// them: written as `NaN` they become ordinary NaN samples in a
    /// Prometheus backfill and turn `rate()` over them into NaN. Range
    /// functions treat a dropped marker and a kept one alike.
    #[arg(long)]
    pub drop_stale_markers: bool,
}

enum Writer<W: Write> {
    Jsonl(JsonlWriter<W>),
    OpenMetrics(OpenMetricsWriter<W>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    Jsonl,
    Openmetrics,
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let matchers = parse_selector(&a.selector)?;
    let (start, end) = (a.start.unwrap_or(i64::MIN), a.end.unwrap_or(i64::MAX));
    if start > end {
        anyhow::bail!("--start is after --end");
    }
    if !a.dir.data_dir.exists() {
        anyhow::bail!("data directory {} does not exist", a.dir.data_dir.display());
    }
    let engine = Engine::open(EngineOptions::new(&a.dir.data_dir).background(false))?;
    let snap = engine.snapshot();
    let mut series = snap.select(&matchers, start, end)?;
    if a.format == ExportFormat::Openmetrics {
        // All series of a metric family together, as OpenMetrics wants.
        series.sort_by(|x, y| {
            let fx = family_of(x.labels.metric_name().unwrap_or(""), x.kind).0;
            let fy = family_of(y.labels.metric_name().unwrap_or(""), y.kind).0;
            fx.cmp(fy).then_with(|| x.labels.cmp(&y.labels))
        });
    }
    let (out, out_name): (Box<dyn Write>, PathBuf) = match &a.output {
        Some(p) => (
            Box::new(File::create(p).map_err(|e| anyhow::anyhow!("create {}: {e}", p.display()))?),
            p.clone(),
        ),
        None => (
            Box::new(std::io::stdout().lock()),
            PathBuf::from("<stdout>"),
        ),
    };
    let out = BufWriter::with_capacity(1 << 20, out);
    let pb = super::progress_bar(series.len() as u64, "exporting");
    pb.set_style(
        indicatif::ProgressStyle::with_template(
            "exporting {bar:40} {pos}/{len} series ({per_sec}, {eta} left)",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut writer = match a.format {
        ExportFormat::Jsonl => Writer::Jsonl(JsonlWriter::new(out, &out_name)),
        ExportFormat::Openmetrics => Writer::OpenMetrics(OpenMetricsWriter::new(out, &out_name)),
    };
    let mut scratch = ReadScratch::default();
    let (mut ts, mut vs) = (Vec::new(), Vec::new());
    let mut samples = 0u64;
    for h in &series {
        ts.clear();
        vs.clear();
        snap.read_samples(h, start, end, &mut scratch, &mut ts, &mut vs)?;
        if a.drop_stale_markers {
            let mut keep = 0;
            for i in 0..ts.len() {
                if vs[i].to_bits() != STALE_NAN_BITS {
                    ts[keep] = ts[i];
                    vs[keep] = vs[i];
                    keep += 1;
                }
            }
            ts.truncate(keep);
            vs.truncate(keep);
            if ts.is_empty() {
                pb.inc(1);
                continue;
            }
        }
        samples += ts.len() as u64;
        match &mut writer {
            Writer::Jsonl(w) => w.write_series(&h.labels, h.kind, &ts, &vs)?,
            Writer::OpenMetrics(w) => w.write_series(&h.labels, h.kind, &ts, &vs)?,
        }
        pb.inc(1);
    }
    match writer {
        Writer::Jsonl(w) => w.finish()?.flush()?,
        Writer::OpenMetrics(w) => w.finish()?.flush()?,
    }
    pb.finish_and_clear();
    eprintln!("exported {samples} samples of {} series", series.len());
    // The export goes to the data directory's audit trail: the engine's
    // lock on the directory means no server is writing to it now.
    let audit = AuditLog::open(&AuditLog::path_in(&a.dir.data_dir))?;
    let actor = std::env::var("USER").ok();
    audit.record(
        "export",
        actor.as_deref(),
        jiff::Timestamp::now().as_millisecond(),
        serde_json::json!({
            "selector": a.selector,
            "start": a.start,
            "end": a.end,
            "format": format!("{:?}", a.format).to_lowercase(),
            "output": out_name.display().to_string(),
            "series": series.len(),
            "samples": samples,
            "stale_markers_dropped": a.drop_stale_markers,
        }),
    );
    drop(snap);
    engine.close()?;
    Ok(ExitCode::SUCCESS)
}
