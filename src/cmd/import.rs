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
/// the data directory, then loaded in time order and written to a segment
/// per week, or sooner when `--memory-samples` are held: memory stays
/// bounded whatever the input's size or order. Run `nines compact`
/// afterwards for rollups and the best compression. To load into a running
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
    /// Samples held in memory before they are written to a segment (with
    /// the day being read, about 65 bytes each at the peak: 2,000,000 took
    /// 131 MB). Days are loaded in time order and written out at
    /// the end of each week (the last compaction window) or sooner once
    /// this many samples are held.
    #[arg(long, default_value_t = 1_000_000, value_name = "N")]
    pub memory_samples: u64,
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
    let ranges = &engine.options().compaction_ranges_ms;
    let window = ranges.first().copied().unwrap_or(DAY_MS);
    let week = ranges.last().copied().unwrap_or(window);
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
    let (mut written, mut held) = (0u64, 0u64);
    for (i, (end, file)) in windows.iter().enumerate() {
        pb.set_message(format!("day ending {}", day_text(*end)));
        read_spill(file, &mut |path, batch| {
            let out = engine.append(&batch)?;
            held += out.accepted;
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
        // Written out at a week's end (a segment per week, as compaction
        // would make) or once memory holds enough; every later window's
        // samples are after this cut.
        let last = i + 1 == windows.len();
        if last || end.rem_euclid(week) == 0 || held >= a.memory_samples {
            engine.flush(true)?;
            held = 0;
        }
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

    /// Window `k` is `(k * window, (k + 1) * window]`: the openness of the
    /// engine's compaction windows and rollup buckets.
    fn window_of(&self, t: i64) -> i64 {
        (t - 1).div_euclid(self.window)
    }

    /// Sorts one batch's samples into their windows.
    fn add(&mut self, path: u32, batch: &WriteBatch) -> anyhow::Result<()> {
        for s in &batch.series {
            let mut from = 0;
            while from < s.timestamps.len() {
                let w = self.window_of(s.timestamps[from]);
                let to = from
                    + s.timestamps[from..]
                        .iter()
                        .position(|&t| self.window_of(t) != w)
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
                e.insert(BufWriter::with_capacity(64 << 10, file))
            }
        };
        f.write_all(&self.buf).context("write the import spill")?;
        self.bytes += self.buf.len() as u64;
        Ok(())
    }

    /// Closes the writers; the windows' end times and files, in time
    /// order.
    fn finish(&mut self) -> anyhow::Result<Vec<(i64, PathBuf)>> {
        for (_, mut f) in self.open.drain() {
            f.flush().context("write the import spill")?;
        }
        Ok(self
            .files
            .iter()
            .map(|(w, p)| ((w + 1) * self.window, p.clone()))
            .collect())
    }
}

/// Samples per batch handed to the engine while replaying a spill file.
const REPLAY_BATCH: usize = 100_000;

/// Reads a window's spill file back as write batches, each from one input
/// file. A series' records from one input file are joined and sorted by
/// time, and a series from several files comes in the order of its first
/// samples: the head then sees each series in time order whatever the
/// order of the input (its out-of-order window would refuse older samples
/// after newer ones).
fn read_spill(
    path: &Path,
    on_batch: &mut dyn FnMut(u32, WriteBatch) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let file = File::open(path).with_context(|| format!("open {}", path.display()))?;
    let mut r = std::io::BufReader::with_capacity(256 << 10, file);
    let mut groups: Vec<(u32, SeriesBatch)> = Vec::new();
    let mut index: HashMap<(u32, Labels), usize> = HashMap::new();
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
        let labels = Labels::from_sorted(labels);
        let n = u32::from_le_bytes(take(&mut r)?) as usize;
        let mut timestamps = Vec::with_capacity(n);
        for _ in 0..n {
            timestamps.push(i64::from_le_bytes(take(&mut r)?));
        }
        let mut values = Vec::with_capacity(n);
        for _ in 0..n {
            values.push(f64::from_le_bytes(take(&mut r)?));
        }
        match index.entry((file, labels)) {
            Entry::Occupied(e) => {
                let s = &mut groups[*e.get()].1;
                s.timestamps.extend(timestamps);
                s.values.extend(values);
            }
            Entry::Vacant(e) => {
                let labels = e.key().1.clone();
                e.insert(groups.len());
                groups.push((
                    file,
                    SeriesBatch {
                        labels,
                        kind,
                        timestamps,
                        values,
                        resolved: None,
                    },
                ));
            }
        }
    }
    drop(index);
    for (_, s) in &mut groups {
        if !s.timestamps.is_sorted() {
            let mut pairs: Vec<(i64, f64)> = s
                .timestamps
                .iter()
                .copied()
                .zip(s.values.iter().copied())
                .collect();
            pairs.sort_by_key(|p| p.0);
            (s.timestamps, s.values) = pairs.into_iter().unzip();
        }
    }
    groups.sort_by(|a, b| {
        a.1.labels
            .cmp(&b.1.labels)
            .then(a.1.timestamps.first().cmp(&b.1.timestamps.first()))
    });
    let mut batch = WriteBatch::default();
    let (mut from, mut samples) = (None, 0);
    for (file, s) in groups {
        if from.is_some_and(|f| f != file) || samples >= REPLAY_BATCH {
            if let Some(f) = from {
                on_batch(f, std::mem::take(&mut batch))?;
            }
            samples = 0;
        }
        from = Some(file);
        samples += s.timestamps.len();
        batch.series.push(s);
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
