//! Crash test: a child process appends under `sync=always` (with flushes,
//! rollups and compactions running) and prints each acknowledged batch; the
//! parent kills it with SIGKILL at random moments, reopens the data
//! directory, and checks that every acknowledged sample is there, exactly
//! once, with the value written, and that nothing else is wrong.
//!
//! The child is this same test binary re-run with `NINES_CRASH_CHILD` set.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nines_engine::index::{MatchOp, Matcher};
use nines_engine::read::ReadScratch;
use nines_engine::verify::{verify_dir, VerifyOptions};
use nines_engine::wal::SyncPolicy;
use nines_engine::{Engine, EngineOptions, Labels, SeriesBatch, SeriesKind, WriteBatch};
use rand::{Rng, SeedableRng};

const SERIES: usize = 20;
const PER_BATCH: usize = 25;
const STEP_MS: i64 = 1_000;

fn options(dir: &Path) -> EngineOptions {
    let mut o = EngineOptions::new(dir)
        .sync(SyncPolicy::Always)
        .background(false);
    // Small ranges so that flushes, rollups and compactions happen within
    // the few seconds a child lives.
    o.block_range_ms = 60_000;
    o.compaction_ranges_ms = vec![5 * 60_000, 30 * 60_000];
    o.head.ooo_window_ms = 10_000;
    o
}

fn labels(s: usize) -> Labels {
    Labels::from_pairs(&[("__name__", "crash_total"), ("series", &format!("{s:02}"))])
}

/// The value written at a timestamp: a pure function, so the parent knows
/// what every sample must hold.
fn value_at(s: usize, t: i64) -> f64 {
    (t / STEP_MS) as f64 * (s + 1) as f64
}

/// Child: resume after the newest stored sample, append batches forever,
/// print `ack <last timestamp>` after each acknowledged one.
fn child(dir: &Path) {
    let engine = Engine::open(options(dir)).expect("child open");
    let start = engine
        .snapshot()
        .select(
            &[Matcher::new(MatchOp::Equal, "__name__", "crash_total").unwrap()],
            i64::MIN,
            i64::MAX,
        )
        .unwrap()
        .iter()
        .map(|h| {
            let (mut ts, mut vs) = (Vec::new(), Vec::new());
            engine
                .snapshot()
                .read_samples(
                    h,
                    i64::MIN,
                    i64::MAX,
                    &mut ReadScratch::default(),
                    &mut ts,
                    &mut vs,
                )
                .unwrap();
            ts.last().copied().unwrap_or(0)
        })
        .max()
        .unwrap_or(0);
    let mut t = start + STEP_MS;
    let mut n = 0u64;
    loop {
        let ts: Vec<i64> = (0..PER_BATCH as i64).map(|i| t + i * STEP_MS).collect();
        let batch = WriteBatch {
            series: (0..SERIES)
                .map(|s| SeriesBatch {
                    labels: labels(s),
                    kind: SeriesKind::Counter,
                    timestamps: ts.clone(),
                    values: ts.iter().map(|&t| value_at(s, t)).collect(),
                    resolved: None,
                })
                .collect(),
        };
        let out = engine.append(&batch).expect("append");
        assert_eq!(out.rejected_samples, 0, "{:?}", out.rejected);
        println!("ack {}", ts[PER_BATCH - 1]);
        t += PER_BATCH as i64 * STEP_MS;
        n += 1;
        if n.is_multiple_of(3) {
            engine.maintain().expect("maintenance");
        }
        if n.is_multiple_of(17) {
            engine.compact_all().expect("compaction");
        }
    }
}

#[test]
fn acknowledged_writes_survive_sigkill() {
    if let Ok(dir) = std::env::var("NINES_CRASH_CHILD") {
        child(Path::new(&dir));
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed);
    let mut acked: i64 = 0;
    let rounds = 20;
    for round in 0..rounds {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "acknowledged_writes_survive_sigkill",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("NINES_CRASH_CHILD", dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(t) = line.strip_prefix("ack ") {
                    if tx.send(t.parse::<i64>().unwrap()).is_err() {
                        return;
                    }
                }
            }
        });
        // Wait for the child to make progress, then kill it at a random moment.
        let first = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("child acknowledged nothing");
        acked = acked.max(first);
        let deadline = Instant::now() + Duration::from_millis(rng.gen_range(20..600));
        while Instant::now() < deadline {
            if let Ok(t) = rx.recv_timeout(Duration::from_millis(5)) {
                acked = acked.max(t);
            }
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        reader.join().unwrap();
        while let Ok(t) = rx.try_recv() {
            acked = acked.max(t);
        }

        let engine = Engine::open(options(dir.path())).unwrap();
        let snap = engine.snapshot();
        let handles = snap
            .select(
                &[Matcher::new(MatchOp::Equal, "__name__", "crash_total").unwrap()],
                i64::MIN,
                i64::MAX,
            )
            .unwrap();
        assert_eq!(
            handles.len(),
            SERIES,
            "round {round}: every series is there"
        );
        let mut lengths = BTreeMap::new();
        for (s, h) in handles.iter().enumerate() {
            assert_eq!(*h.labels, labels(s));
            let (mut ts, mut vs) = (Vec::new(), Vec::new());
            snap.read_samples(
                h,
                i64::MIN,
                i64::MAX,
                &mut ReadScratch::default(),
                &mut ts,
                &mut vs,
            )
            .unwrap();
            // contiguous from the first timestamp: no holes, no duplicates
            for (i, (&t, &v)) in ts.iter().zip(&vs).enumerate() {
                assert_eq!(
                    t,
                    STEP_MS * (i as i64 + 1),
                    "round {round}, series {s}: hole or duplicate at {i}"
                );
                assert_eq!(
                    v,
                    value_at(s, t),
                    "round {round}, series {s}: wrong value at {t}"
                );
            }
            let last = ts.last().copied().unwrap_or(0);
            assert!(
                last >= acked,
                "round {round}, series {s}: acknowledged up to {acked}, found up to {last}"
            );
            lengths.insert(s, ts.len());
        }
        drop(snap);
        engine.close().unwrap();
        let report =
            verify_dir(dir.path(), VerifyOptions { decode: true }, &mut |_, _| {}).unwrap();
        assert!(
            report.ok(),
            "round {round}: verify found {:?}",
            report.problems
        );
    }
    assert!(acked > 0);
}
