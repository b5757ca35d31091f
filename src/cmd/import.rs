//! `nines import`: load OpenMetrics / Prometheus text and JSON-lines files
//! into a data directory.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use nines_engine::wal::SyncPolicy;
use nines_engine::{Engine, EngineOptions, Label, Labels, SeriesBatch, SeriesKind, WriteBatch};

use super::input::{check_files, read_file, InputArgs, Report};
use super::{progress_bar, DataDir, EXIT_FAILURE};

/// Load samples from files into a data directory.
///
/// Reads OpenMetrics 1.0 text (timestamps in seconds, ends with `# EOF`),
/// Prometheus text with millisecond timestamps, and VictoriaMetrics-style
/// JSON lines (`{"metric":{...},"values":[...],"timestamps":[...]}`). Bad
/// lines and refused samples are reported and counted; everything else is
/// loaded. The input is first sorted out by day into temporary files in
/// the data directory, then loaded a day at a time, each day flushed to a
/// segment: memory holds one day, not the whole input. Run `nines compact`
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
    // Bulk load: the WAL is not synced per batch; each day's flush and the
    // final close make everything durable.
    let engine = Engine::open(
        EngineOptions::new(&a.dir.data_dir)
            .background(false)
            .sync(SyncPolicy::Never),
    )?;
    let window = engine
        .options()
        .compaction_ranges_ms
        .first()
        .copied()
        .unwrap_or(DAY_MS);
    let mut spill = Spill::new(&a.dir.data_dir, window)?;
    let pb = progress_bar(total_bytes, "reading");
    let mut report = Report::new(a.input.max_errors);
    let mut done = 0u64;
    for (i, path) in a.input.files.iter().enumerate() {
        pb.set_message(path.display().to_string());
        let stats = read_file(path, &a.input, &mut |chunk, bytes| {
            report.note_chunk(path, &chunk);
            spill.add(i as u32, &chunk.batch)?;
            pb.set_position(done + bytes);
            Ok(())
        })?;
        done += path.metadata().map(|m| m.len()).unwrap_or(0);
        report.note_stats(path, &stats);
    }
    pb.finish_and_clear();
    let windows = spill.finish()?;
    let pb = progress_bar(spill.bytes, "importing");
    let mut written = 0u64;
    for (start, file) in &windows {
        pb.set_message(format!("day of {}", day_text(*start)));
        read_spill(file, &mut |path, batch| {
            let out = engine.append(&batch)?;
            report.note_outcome(
                &a.input.files[path as usize],
                out.accepted,
                out.duplicates,
                out.rejected_samples,
                out.rejected
                    .into_iter()
                    .map(|r| (r.labels, r.timestamp, r.samples, r.reason.to_string())),
            );
            Ok(())
        })?;
        // the window's samples become a segment and leave memory; the next
        // window's are all later than this cut
        engine.flush(true)?;
        written += file.metadata().map(|m| m.len()).unwrap_or(0);
        pb.set_position(written);
    }
    pb.finish_and_clear();
    drop(spill);
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

const DAY_MS: i64 = 86_400_000;

fn day_text(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%Y-%m-%d").to_string())
        .unwrap_or_else(|_| ms.to_string())
}

/// The input's samples sorted out by time window (a day: the engine's first
/// compaction range) into files in a temporary directory inside the data
/// directory, so that the import holds one window in memory instead of the
/// whole input, whatever the input's order (a JSON line holds a series'
/// whole history). The files are removed when the import ends; a directory
/// `.import-*` left by a killed import can be deleted.
///
/// Record layout (native to this process, never read by another): path
/// index u32, kind u8, label count u16, each name and value as u32 length
/// and bytes, sample count u32, the timestamps as i64 then the values as
/// f64, all little-endian.
struct Spill {
    dir: tempfile::TempDir,
    window: i64,
    files: BTreeMap<i64, PathBuf>,
    open: HashMap<i64, BufWriter<File>>,
    /// Bytes written.
    bytes: u64,
    buf: Vec<u8>,
}

/// Writers kept open at once; more windows are closed and reopened to
/// append (years of data are hundreds of days).
const MAX_OPEN: usize = 64;

impl Spill {
    fn new(data_dir: &Path, window: i64) -> anyhow::Result<Spill> {
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("create {}", data_dir.display()))?;
        let dir = tempfile::Builder::new()
            .prefix(".import-")
            .tempdir_in(data_dir)
            .with_context(|| format!("create a spill directory in {}", data_dir.display()))?;
        Ok(Spill {
            dir,
            window,
            files: BTreeMap::new(),
            open: HashMap::new(),
            bytes: 0,
            buf: Vec::new(),
        })
    }

    /// Sorts one batch's samples into their windows.
    fn add(&mut self, path: u32, batch: &WriteBatch) -> anyhow::Result<()> {
        for s in &batch.series {
            let mut from = 0;
            while from < s.timestamps.len() {
                let w = s.timestamps[from].div_euclid(self.window);
                let to = from
                    + s.timestamps[from..]
                        .iter()
                        .position(|t| t.div_euclid(self.window) != w)
                        .unwrap_or(s.timestamps.len() - from);
                self.record(path, s, from..to);
                self.write(w)?;
                from = to;
            }
        }
        Ok(())
    }

    fn record(&mut self, path: u32, s: &SeriesBatch, r: std::ops::Range<usize>) {
        let b = &mut self.buf;
        b.clear();
        b.extend_from_slice(&path.to_le_bytes());
        b.push(s.kind as u8);
        b.extend_from_slice(&(s.labels.len() as u16).to_le_bytes());
        for l in s.labels.iter() {
            for text in [&l.name, &l.value] {
                b.extend_from_slice(&(text.len() as u32).to_le_bytes());
                b.extend_from_slice(text.as_bytes());
            }
        }
        b.extend_from_slice(&(r.len() as u32).to_le_bytes());
        for t in &s.timestamps[r.clone()] {
            b.extend_from_slice(&t.to_le_bytes());
        }
        for v in &s.values[r] {
            b.extend_from_slice(&v.to_le_bytes());
        }
    }

    fn write(&mut self, w: i64) -> anyhow::Result<()> {
        if !self.open.contains_key(&w) && self.open.len() >= MAX_OPEN {
            for (_, mut f) in self.open.drain() {
                f.flush().context("write the import spill")?;
            }
        }
        let f = match self.open.entry(w) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => {
                let path = self
                    .files
                    .entry(w)
                    .or_insert_with(|| self.dir.path().join(format!("{w}.spill")));
                let file = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&*path)
                    .with_context(|| format!("open {}", path.display()))?;
                e.insert(BufWriter::with_capacity(256 << 10, file))
            }
        };
        f.write_all(&self.buf).context("write the import spill")?;
        self.bytes += self.buf.len() as u64;
        Ok(())
    }

    /// Closes the writers; the windows' start times and files, in time
    /// order.
    fn finish(&mut self) -> anyhow::Result<Vec<(i64, PathBuf)>> {
        for (_, mut f) in self.open.drain() {
            f.flush().context("write the import spill")?;
        }
        Ok(self
            .files
            .iter()
            .map(|(w, p)| (w * self.window, p.clone()))
            .collect())
    }
}

/// Samples per batch handed to the engine while replaying a spill file.
const REPLAY_BATCH: usize = 100_000;

/// Reads a spill file back as write batches, each from one input file.
fn read_spill(
    path: &Path,
    on_batch: &mut dyn FnMut(u32, WriteBatch) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let file = File::open(path).with_context(|| format!("open {}", path.display()))?;
    let mut r = std::io::BufReader::with_capacity(256 << 10, file);
    let mut batch = WriteBatch::default();
    let (mut from, mut samples) = (None, 0);
    let mut head = [0u8; 4];
    loop {
        // a record starts with its input file's index, or the file ends
        match r.read(&mut head[..1]).context("read the import spill")? {
            0 => break,
            _ => r.read_exact(&mut head[1..]).context(TRUNCATED)?,
        }
        let file = u32::from_le_bytes(head);
        let kind = SeriesKind::ALL
            .get(usize::from(take::<1>(&mut r)?[0]))
            .copied()
            .context("import spill: bad series kind")?;
        let n_labels = u16::from_le_bytes(take(&mut r)?);
        let mut labels = Vec::with_capacity(usize::from(n_labels));
        for _ in 0..n_labels {
            let name = text(&mut r)?;
            let value = text(&mut r)?;
            labels.push(Label { name, value });
        }
        let n = u32::from_le_bytes(take(&mut r)?) as usize;
        let timestamps = (0..n)
            .map(|_| take(&mut r).map(i64::from_le_bytes))
            .collect::<anyhow::Result<_>>()?;
        let values = (0..n)
            .map(|_| take(&mut r).map(f64::from_le_bytes))
            .collect::<anyhow::Result<_>>()?;
        if from.is_some_and(|f| f != file) || samples >= REPLAY_BATCH {
            if let Some(f) = from {
                on_batch(f, std::mem::take(&mut batch))?;
            }
            samples = 0;
        }
        from = Some(file);
        samples += n;
        batch.series.push(SeriesBatch {
            labels: Labels::from_sorted(labels),
            kind,
            timestamps,
            values,
            resolved: None,
        });
    }
    if let Some(f) = from {
        if !batch.series.is_empty() {
            on_batch(f, batch)?;
        }
    }
    Ok(())
}

const TRUNCATED: &str = "import spill: truncated record";

fn take<const N: usize>(r: &mut impl Read) -> anyhow::Result<[u8; N]> {
    let mut b = [0u8; N];
    r.read_exact(&mut b).context(TRUNCATED)?;
    Ok(b)
}

fn text(r: &mut impl Read) -> anyhow::Result<String> {
    let n = u32::from_le_bytes(take(r)?) as usize;
    let mut b = vec![0u8; n];
    r.read_exact(&mut b).context(TRUNCATED)?;
    String::from_utf8(b).context("import spill: label not UTF-8")
}
