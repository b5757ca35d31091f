//! Running case files on nines: each `load` appends to a fresh engine
//! (`clear` starts another), each `eval` runs through the crate-root query
//! functions and is compared with its expectation.

use std::path::Path;

use nines_engine::wal::SyncPolicy;
use nines_engine::{Engine, EngineOptions, SeriesBatch, SeriesKind, WriteBatch};
use nines_query::{instant_query, range_query, Cancel, QueryOptions, Value};

use super::script::{parse_script, Command, Eval, Expected, LoadSeries, Slot, When};
use super::{expected_text, matches, Answer, Failure};

/// A loaded series with the interval of its `load` block.
#[derive(Clone, Debug)]
pub struct Loaded {
    pub interval_ms: i64,
    pub series: LoadSeries,
}

impl Loaded {
    /// `(ms, value)` of each sample.
    pub fn samples(&self) -> impl Iterator<Item = (i64, f64)> + '_ {
        let step = self.interval_ms;
        self.series
            .slots
            .iter()
            .enumerate()
            .filter_map(move |(i, s)| s.map(|v| (i as i64 * step, v)))
    }
}

/// A case file: its name, and each eval with the series loaded before it.
pub struct File {
    pub path: std::path::PathBuf,
    pub name: String,
    pub evals: Vec<(Eval, Vec<Loaded>)>,
}

pub fn read_file(path: &Path) -> Result<File, String> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("read {}: {e}", path.display()))?;
    let commands = parse_script(&text).map_err(|e| format!("{name}:{}: {}", e.line, e.msg))?;
    let mut loaded: Vec<Loaded> = Vec::new();
    let mut evals = Vec::new();
    for (_, cmd) in commands {
        match cmd {
            Command::Load {
                interval_ms,
                series,
            } => loaded.extend(series.into_iter().map(|series| Loaded {
                interval_ms,
                series,
            })),
            Command::Clear => loaded.clear(),
            Command::Eval(e) => evals.push((e, loaded.clone())),
        }
    }
    Ok(File {
        path: path.to_path_buf(),
        name,
        evals,
    })
}

/// An engine holding exactly `loaded`, in a temporary directory.
struct Db {
    engine: Engine,
    _dir: tempfile::TempDir,
}

fn open(loaded: &[Loaded]) -> Result<Db, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let opts = EngineOptions::new(dir.path())
        .background(false)
        .sync(SyncPolicy::Never);
    let engine = Engine::open(opts).map_err(|e| e.to_string())?;
    let batch = WriteBatch {
        series: loaded
            .iter()
            .map(|l| {
                let (timestamps, values) = l.samples().unzip();
                SeriesBatch {
                    labels: l.series.labels.clone(),
                    kind: SeriesKind::Unknown,
                    timestamps,
                    values,
                    resolved: None,
                }
            })
            .collect(),
    };
    let out = engine.append(&batch).map_err(|e| e.to_string())?;
    if out.rejected_samples > 0 {
        return Err(format!("engine refused samples: {:?}", out.rejected));
    }
    Ok(Db { engine, _dir: dir })
}

/// The number of steps of a range evaluation.
pub fn step_count(start: i64, end: i64, step: i64) -> usize {
    if step <= 0 || end < start {
        return 0;
    }
    usize::try_from((end - start) / step + 1).unwrap_or(0)
}

/// The expectation with range series padded with `_` to every step.
pub fn padded(e: &Eval) -> Expected {
    match (&e.expected, e.when) {
        (
            Expected::Matrix(m),
            When::Range {
                start_ms,
                end_ms,
                step_ms,
            },
        ) => {
            let n = step_count(start_ms, end_ms, step_ms);
            Expected::Matrix(
                m.iter()
                    .map(|(l, s)| {
                        let mut s = s.clone();
                        if s.len() < n {
                            s.resize(n, None);
                        }
                        (l.clone(), s)
                    })
                    .collect(),
            )
        }
        (other, _) => other.clone(),
    }
}

fn answer_of(v: Value, when: When) -> Answer {
    match (v, when) {
        (Value::Vector(v), _) => Answer::Vector(v.into_iter().map(|s| (s.labels, s.v)).collect()),
        (Value::Scalar { v, .. }, _) => Answer::Scalar(v),
        (Value::String { s, .. }, _) => Answer::String(s),
        (
            Value::Matrix(m),
            When::Range {
                start_ms,
                end_ms,
                step_ms,
            },
        ) => {
            let n = step_count(start_ms, end_ms, step_ms);
            Answer::Matrix(
                m.into_iter()
                    .map(|s| {
                        let mut slots: Vec<Slot> = vec![None; n];
                        for (t, v) in s.points {
                            let i = usize::try_from((t - start_ms) / step_ms).unwrap_or(n);
                            if let Some(slot) = slots.get_mut(i) {
                                *slot = Some(v);
                            }
                        }
                        (s.labels, slots)
                    })
                    .collect(),
            )
        }
        (Value::Matrix(_), When::Instant { .. }) => {
            Answer::Error("the golden format has no notation for a range vector result".into())
        }
    }
}

/// Evaluates one case on nines.
pub fn eval_on_nines(db_loaded: &[Loaded], e: &Eval) -> Answer {
    let db = match open(db_loaded) {
        Ok(db) => db,
        Err(err) => return Answer::Error(format!("loading the data failed: {err}")),
    };
    let snap = db.engine.snapshot();
    let (opts, cancel) = (QueryOptions::default(), Cancel::new());
    let res = match e.when {
        When::Instant { at_ms } => instant_query(&snap, &e.query, at_ms, &opts, &cancel),
        When::Range {
            start_ms,
            end_ms,
            step_ms,
        } => range_query(&snap, &e.query, start_ms, end_ms, step_ms, &opts, &cancel),
    };
    match res {
        Ok(v) => answer_of(v, e.when),
        Err(err) => Answer::Error(err.to_string()),
    }
}

/// Runs every case of a file on nines; returns (cases, failures).
pub fn run_file_on_nines(file: &File) -> (usize, Vec<Failure>) {
    let mut failures = Vec::new();
    for (e, loaded) in &file.evals {
        let want = padded(e);
        let got = eval_on_nines(loaded, e);
        if !matches(&want, &got, e.ordered) {
            failures.push(Failure {
                file: file.name.clone(),
                line: e.line,
                query: e.query.clone(),
                expected: expected_text(&want),
                got: got.to_case_text(),
            });
        }
    }
    (file.evals.len(), failures)
}
