//! Engine behaviour end to end: append, flush, reopen, compaction, rollups,
//! retention, recovery from damaged files.

use std::path::Path;

use nines_engine::index::{MatchOp, Matcher};
use nines_engine::options::{DAY_MS, HOUR_MS, MINUTE_MS};
use nines_engine::read::{Piece, ReadScratch};
use nines_engine::rollup::{Counting, Summary};
use nines_engine::wal::SyncPolicy;
use nines_engine::{
    Engine, EngineOptions, Error, Labels, RejectReason, Retention, SeriesBatch, SeriesKind,
    WriteBatch,
};
use rand::{Rng, SeedableRng};

fn opts(dir: &Path) -> EngineOptions {
    EngineOptions::new(dir)
        .background(false)
        .sync(SyncPolicy::Never)
}

fn series(name: &str, job: &str, kind: SeriesKind, ts: Vec<i64>, vs: Vec<f64>) -> SeriesBatch {
    SeriesBatch {
        labels: Labels::from_pairs(&[("__name__", name), ("job", job)]),
        kind,
        timestamps: ts,
        values: vs,
        resolved: None,
    }
}

fn read(engine: &Engine, name: &str, mint: i64, maxt: i64) -> Vec<(String, Vec<i64>, Vec<u64>)> {
    let snap = engine.snapshot();
    let m = [Matcher::new(MatchOp::Equal, "__name__", name).unwrap()];
    let mut scratch = ReadScratch::default();
    snap.select(&m, mint, maxt)
        .unwrap()
        .into_iter()
        .map(|h| {
            let (mut ts, mut vs) = (Vec::new(), Vec::new());
            snap.read_samples(&h, mint, maxt, &mut scratch, &mut ts, &mut vs)
                .unwrap();
            (
                h.labels.to_string(),
                ts,
                vs.into_iter().map(f64::to_bits).collect(),
            )
        })
        .collect()
}

/// A counter with Poisson-ish increments, a reset and a gap, 15 s apart.
/// The summary of `(a, b]` computed from the raw samples written for the
/// series whose `job` label matches `labels`'.
fn raw_summary(all: &[(String, Vec<i64>, Vec<f64>)], labels: &Labels, a: i64, b: i64) -> Summary {
    let (_, ts, vs) = all
        .iter()
        .find(|s| Some(s.0.as_str()) == labels.get("job"))
        .unwrap();
    let lo = ts.partition_point(|&t| t <= a);
    let hi = ts.partition_point(|&t| t <= b);
    Summary::of(Counting::Cumulative, &ts[lo..hi], &vs[lo..hi])
}

fn counter(seed: u64, start: i64, n: usize) -> (Vec<i64>, Vec<f64>) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let (mut ts, mut vs) = (Vec::new(), Vec::new());
    let mut v = 0.0;
    let mut t = start;
    for i in 0..n {
        t += 15_000
            + if rng.gen_bool(0.05) {
                rng.gen_range(-3..4)
            } else {
                0
            };
        if rng.gen_bool(0.002) {
            t += rng.gen_range(1..200) * 60_000; // gap
        }
        v = if rng.gen_bool(0.001) || i == n / 2 {
            0.0
        } else {
            v + f64::from(rng.gen_range(0..40))
        };
        ts.push(t);
        vs.push(v);
    }
    (ts, vs)
}

#[test]
fn samples_survive_flush_compaction_and_reopen_bit_exact() {
    let dir = tempfile::tempdir().unwrap();
    let (ts, vs) = counter(1, 0, 3 * 24 * 240);
    let stale = f64::from_bits(nines_engine::STALE_NAN_BITS);
    let mut gauge_vs: Vec<f64> = ts.iter().map(|&t| (t % 1000) as f64 / 7.0).collect();
    gauge_vs[100] = stale;
    gauge_vs[101] = f64::NAN;
    gauge_vs[102] = -0.0;
    let expect = |e: &Engine| {
        let got = read(e, "req_total", i64::MIN, i64::MAX);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].1, ts);
        assert_eq!(got[0].2, vs.iter().map(|v| v.to_bits()).collect::<Vec<_>>());
        let got = read(e, "temp", i64::MIN, i64::MAX);
        assert_eq!(
            got[0].2,
            gauge_vs.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
    };
    {
        let e = Engine::open(opts(dir.path())).unwrap();
        for (chunk_t, (chunk_v, chunk_g)) in ts
            .chunks(1000)
            .zip(vs.chunks(1000).zip(gauge_vs.chunks(1000)))
        {
            let out = e
                .append(&WriteBatch {
                    series: vec![
                        series(
                            "req_total",
                            "api",
                            SeriesKind::Counter,
                            chunk_t.to_vec(),
                            chunk_v.to_vec(),
                        ),
                        series(
                            "temp",
                            "api",
                            SeriesKind::Gauge,
                            chunk_t.to_vec(),
                            chunk_g.to_vec(),
                        ),
                    ],
                })
                .unwrap();
            assert_eq!(out.accepted, 2 * chunk_t.len() as u64, "{:?}", out.rejected);
            e.maintain().unwrap();
        }
        expect(&e);
        e.close().unwrap();
    }
    {
        let e = Engine::open(opts(dir.path())).unwrap();
        expect(&e);
        let report = e.compact_all().unwrap();
        assert!(report.merges > 0);
        expect(&e);
        // partial ranges come back exactly
        let got = read(&e, "req_total", ts[500], ts[9000]);
        assert_eq!(got[0].1, ts[500..=9000].to_vec());
        e.close().unwrap();
    }
    let e = Engine::open(opts(dir.path())).unwrap();
    expect(&e);
}

#[test]
fn retried_samples_after_a_flush_are_duplicates_not_errors() {
    let dir = tempfile::tempdir().unwrap();
    let e = Engine::open(opts(dir.path())).unwrap();
    let batch = WriteBatch {
        series: vec![series(
            "x",
            "a",
            SeriesKind::Gauge,
            vec![1000, 2000, 3000],
            vec![1.0, 2.0, 3.0],
        )],
    };
    e.append(&batch).unwrap();
    e.flush(true).unwrap();
    let out = e.append(&batch).unwrap();
    assert_eq!(
        (out.accepted, out.duplicates, out.rejected_samples),
        (0, 3, 0)
    );
    let changed = WriteBatch {
        series: vec![series(
            "x",
            "a",
            SeriesKind::Gauge,
            vec![2000, 2500],
            vec![9.0, 1.0],
        )],
    };
    let out = e.append(&changed).unwrap();
    assert_eq!(out.rejected_samples, 2);
    let reasons: Vec<_> = out.rejected.iter().map(|r| r.reason.clone()).collect();
    assert!(
        reasons.iter().any(|r| matches!(
            r,
            RejectReason::Conflict {
                timestamp: 2000,
                ..
            }
        )),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| matches!(
            r,
            RejectReason::AlreadyPersisted {
                timestamp: 2500,
                ..
            }
        )),
        "{reasons:?}"
    );
    assert!(out.rejected[0]
        .to_string_for_test()
        .contains("x{job=\"a\"}"));
}

trait ForTest {
    fn to_string_for_test(&self) -> String;
}

impl ForTest for nines_engine::SeriesRejection {
    fn to_string_for_test(&self) -> String {
        format!("{} at {:?}: {}", self.labels, self.timestamp, self.reason)
    }
}

#[test]
fn second_open_of_a_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let _e = Engine::open(opts(dir.path())).unwrap();
    match Engine::open(opts(dir.path())) {
        Err(Error::Locked { .. }) => {}
        other => panic!("expected Locked, got {:?}", other.err()),
    }
}

#[test]
fn rollup_summaries_equal_raw_on_random_windows() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts(dir.path());
    o.rollup_delay_ms.clear(); // every width right away, to test them all
    let e = Engine::open(o).unwrap();
    let n_series = 6;
    let mut all = Vec::new();
    for s in 0..n_series {
        let (ts, vs) = counter(100 + s, 0, 5 * 24 * 240);
        all.push((format!("j{s}"), ts, vs));
    }
    for (job, ts, vs) in &all {
        for (ct, cv) in ts.chunks(5000).zip(vs.chunks(5000)) {
            let kind = if job == "j0" {
                SeriesKind::Unknown
            } else {
                SeriesKind::Counter
            };
            let name = if job == "j0" { "requests_total" } else { "req" };
            e.append(&WriteBatch {
                series: vec![series(name, job, kind, ct.to_vec(), cv.to_vec())],
            })
            .unwrap();
        }
    }
    e.compact_all().unwrap();
    let snap = e.snapshot();
    assert!(
        snap.version().rollups.len() == 3,
        "1m, 1h and 1d rollups written"
    );
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut scratch = ReadScratch::default();
    let handles = snap.select_with_rollups(&[], i64::MIN, i64::MAX).unwrap();
    assert_eq!(handles.len(), n_series as usize);
    let max_t = all.iter().map(|s| *s.1.last().unwrap()).max().unwrap();
    let mut used = std::collections::BTreeSet::new();
    for _ in 0..300 {
        let a = rng.gen_range(-HOUR_MS..max_t);
        let b = a + rng.gen_range(0..4 * DAY_MS);
        let h = &handles[rng.gen_range(0..handles.len())];
        let raw = raw_summary(&all, &h.labels, a, b);
        let got = snap.summarize(h, a, b, &mut scratch).unwrap();
        assert_eq!(got, raw, "window ({a}, {b}] of {}", h.labels);
        for p in snap.plan(h, a, b) {
            if let Piece::Buckets { res_s, .. } = p {
                used.insert(res_s);
            }
        }
    }
    assert_eq!(
        used,
        [60, 3_600, 86_400].into(),
        "windows were answered from every rollup width"
    );
    let two_days = snap.plan(&handles[1], DAY_MS - 1, 3 * DAY_MS);
    assert!(
        two_days.contains(&Piece::Buckets {
            res_s: 86_400,
            after: DAY_MS,
            through: 3 * DAY_MS
        }),
        "{two_days:?}"
    );
}

#[test]
fn retention_deletes_whole_expired_files_only_after_rollups() {
    let dir = tempfile::tempdir().unwrap();
    let o = opts(dir.path()).retention(Retention {
        raw_ms: Some(2 * DAY_MS),
        rollups_ms: [(60, Some(4 * DAY_MS)), (3_600, None), (86_400, None)].into(),
    });
    assert_eq!(
        o.rollup_delay_ms.get(&60),
        Some(&Some(DAY_MS)),
        "1 m rollups a day before raw expiry"
    );
    let e = Engine::open(o).unwrap();
    let (ts, vs) = counter(5, 0, 10 * 24 * 240);
    for (ct, cv) in ts.chunks(5000).zip(vs.chunks(5000)) {
        e.append(&WriteBatch {
            series: vec![series(
                "req",
                "a",
                SeriesKind::Counter,
                ct.to_vec(),
                cv.to_vec(),
            )],
        })
        .unwrap();
        e.maintain().unwrap();
    }
    e.compact_all().unwrap();
    let snap = e.snapshot();
    let v = snap.version();
    let newest = *ts.last().unwrap();
    assert!(
        v.raw
            .iter()
            .all(|f| f.max_t() > newest - 2 * DAY_MS - 7 * DAY_MS),
        "no raw file far past retention"
    );
    let oldest_raw = v.raw.iter().map(|f| f.min_t()).min().unwrap();
    assert!(oldest_raw > 0, "old raw files were deleted");
    let oldest_1m = v.rollups[&60].iter().map(|f| f.min_t()).min().unwrap();
    assert!(oldest_1m > 0 && oldest_1m < oldest_raw);
    // 1 m rollups were only written for data about to leave raw retention
    let newest_1m = v.rollups[&60].iter().map(|f| f.max_t()).max().unwrap();
    assert!(newest_1m <= newest - DAY_MS, "{newest_1m} vs {newest}");
    let oldest_1h = v.rollups[&3_600].iter().map(|f| f.min_t()).min().unwrap();
    assert!(oldest_1h <= HOUR_MS, "1 h rollups are kept forever here");
    // the whole-history increase is still exact from rollups
    let h = &snap.select_with_rollups(&[], i64::MIN, i64::MAX).unwrap()[0];
    let got = snap
        .summarize(h, -HOUR_MS, floor_hour(newest), &mut ReadScratch::default())
        .unwrap();
    let hi = ts.partition_point(|&t| t <= floor_hour(newest));
    assert_eq!(got, Summary::of(Counting::Cumulative, &ts[..hi], &vs[..hi]));
    let _ = MINUTE_MS;
}

fn floor_hour(t: i64) -> i64 {
    t - t.rem_euclid(HOUR_MS)
}

#[test]
fn damaged_segment_is_set_aside_and_the_rest_is_served() {
    let dir = tempfile::tempdir().unwrap();
    let victim;
    {
        let e = Engine::open(opts(dir.path())).unwrap();
        for job in ["a", "b"] {
            e.append(&WriteBatch {
                series: vec![series("m", job, SeriesKind::Gauge, vec![1000], vec![1.0])],
            })
            .unwrap();
            e.flush(true).unwrap();
            e.append(&WriteBatch {
                series: vec![series("m", job, SeriesKind::Gauge, vec![5000], vec![2.0])],
            })
            .unwrap();
        }
        e.flush(true).unwrap();
        let snap = e.snapshot();
        victim = dir
            .path()
            .join("segments")
            .join(&snap.version().raw[0].entry.path);
        e.close().unwrap();
    }
    let mut bytes = std::fs::read(&victim).unwrap();
    let n = bytes.len();
    bytes[n - 30] ^= 0xff;
    std::fs::write(&victim, &bytes).unwrap();
    let e = Engine::open(opts(dir.path())).unwrap();
    assert_eq!(e.open_report.quarantined.len(), 1);
    assert!(e.open_report.quarantined[0].contains(&victim.display().to_string()));
    assert!(!victim.exists());
    assert_eq!(
        std::fs::read_dir(dir.path().join("quarantine"))
            .unwrap()
            .count(),
        1
    );
    let got = read(&e, "m", i64::MIN, i64::MAX);
    assert!(!got.is_empty(), "the other segments are still served");
}

#[test]
fn reads_during_concurrent_compaction_are_consistent() {
    let dir = tempfile::tempdir().unwrap();
    let e = std::sync::Arc::new(Engine::open(opts(dir.path())).unwrap());
    let (ts, vs) = counter(9, 0, 6 * 24 * 240);
    for (ct, cv) in ts.chunks(2000).zip(vs.chunks(2000)) {
        e.append(&WriteBatch {
            series: vec![series(
                "c",
                "a",
                SeriesKind::Counter,
                ct.to_vec(),
                cv.to_vec(),
            )],
        })
        .unwrap();
        e.flush(false).unwrap();
    }
    let flushed_through = e.head().persisted_through();
    let n_expected = ts.partition_point(|&t| t <= flushed_through);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let e = std::sync::Arc::clone(&e);
            let stop = std::sync::Arc::clone(&stop);
            let ts = ts.clone();
            std::thread::spawn(move || {
                let mut reads = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) || reads < 3 {
                    let got = read(&e, "c", i64::MIN, flushed_through);
                    assert_eq!(got[0].1.len(), n_expected);
                    assert_eq!(got[0].1, ts[..n_expected].to_vec());
                    reads += 1;
                }
                reads
            })
        })
        .collect();
    let report = e.compact_all().unwrap();
    assert!(report.merges >= 2);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for r in readers {
        assert!(r.join().unwrap() >= 3);
    }
}

#[test]
fn label_lookups_leave_out_the_head_outside_the_range() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(opts(dir.path())).unwrap();
    let t0 = 1_767_571_200_000;
    let ts: Vec<i64> = (0..10).map(|i| t0 + i * 15_000).collect();
    engine
        .append(&WriteBatch {
            series: vec![series("up", "api", SeriesKind::Gauge, ts, vec![1.0; 10])],
        })
        .unwrap();
    let snap = engine.snapshot();
    let last = t0 + 9 * 15_000;
    // Inside, overlapping either edge, and on both edges exactly.
    for (mint, maxt) in [(t0, last), (t0 - 1000, t0), (last, last + 1000)] {
        assert_eq!(
            snap.label_names(&[], mint, maxt).unwrap(),
            ["__name__", "job"],
            "[{mint}, {maxt}]"
        );
        assert_eq!(snap.label_values("job", &[], mint, maxt).unwrap(), ["api"]);
    }
    // Entirely before and entirely after the head's samples.
    for (mint, maxt) in [(t0 - 10_000, t0 - 1), (last + 1, last + 10_000)] {
        assert!(
            snap.label_names(&[], mint, maxt).unwrap().is_empty(),
            "[{mint}, {maxt}]"
        );
        assert!(snap
            .label_values("job", &[], mint, maxt)
            .unwrap()
            .is_empty());
    }
    drop(snap);
    engine.close().unwrap();

    // The bound survives a restart (the head is rebuilt from the WAL).
    let engine = Engine::open(opts(dir.path())).unwrap();
    let snap = engine.snapshot();
    assert!(snap
        .label_names(&[], t0 - 10_000, t0 - 1)
        .unwrap()
        .is_empty());
    assert_eq!(snap.label_names(&[], t0, t0).unwrap(), ["__name__", "job"]);
}

#[test]
fn daily_rollups_compact_into_years_and_answer_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts(dir.path()).retention(Retention {
        raw_ms: None,
        rollups_ms: [(60, None), (3_600, None), (86_400, None)].into(),
    });
    o.rollup_delay_ms.clear();
    let e = Engine::open(o).unwrap();
    // 400 days at 10-minute samples, a batch a week, compacted as it goes
    let t0 = 1_600_000_000_000 / DAY_MS * DAY_MS;
    let (ts, vs) = counter(3, t0, 400 * 144);
    let ts: Vec<i64> = ts
        .iter()
        .enumerate()
        .map(|(i, _)| t0 + i as i64 * 10 * MINUTE_MS)
        .collect();
    for (a, b) in (0..ts.len())
        .step_by(7 * 144)
        .map(|i| (i, (i + 7 * 144).min(ts.len())))
    {
        let batch = WriteBatch {
            series: vec![series(
                "c_total",
                "a",
                SeriesKind::Counter,
                ts[a..b].to_vec(),
                vs[a..b].to_vec(),
            )],
        };
        e.append(&batch).unwrap();
        e.maintain().unwrap();
    }
    e.compact_all().unwrap();
    let snap = e.snapshot();
    let v = snap.version();
    let files = |res: u32| v.rollups.get(&res).map_or(0, Vec::len);
    // 400 days: a 364-day window or two for 1 d (57 files before), weeks
    // for 1 h and 1 m; a rollup file written across a week boundary (the
    // range one maintenance round persisted) merges nowhere and stays on
    // its own
    assert!(files(86_400) <= 6, "1 d rollup files: {}", files(86_400));
    let show = |res: u32| {
        v.rollups[&res]
            .iter()
            .map(|f| {
                (
                    f.entry.level,
                    (f.min_t() - t0) / HOUR_MS,
                    (f.max_t() - t0) / HOUR_MS,
                )
            })
            .collect::<Vec<_>>()
    };
    assert!(files(3_600) >= 50, "1 h rollup files: {:?}", show(3_600));
    assert!(files(60) >= 50, "1 m rollup files: {}", files(60));
    let h = &snap.select_with_rollups(&[], i64::MIN, i64::MAX).unwrap()[0];
    let mut scratch = ReadScratch::default();
    let mut rng = rand::rngs::StdRng::seed_from_u64(9);
    for _ in 0..200 {
        let a = t0 + rng.gen_range(0..400 * DAY_MS);
        let b = a + rng.gen_range(0..200 * DAY_MS);
        let (lo, hi) = (
            ts.partition_point(|&t| t <= a),
            ts.partition_point(|&t| t <= b),
        );
        let raw = Summary::of(Counting::Cumulative, &ts[lo..hi], &vs[lo..hi]);
        assert_eq!(
            snap.summarize(h, a, b, &mut scratch).unwrap(),
            raw,
            "({a}, {b}]"
        );
    }
}

#[test]
fn retention_deletes_nothing_a_lock_holds() {
    use nines_engine::locks::RetentionLock;
    let dir = tempfile::tempdir().unwrap();
    let o = opts(dir.path()).retention(Retention {
        raw_ms: Some(2 * DAY_MS),
        rollups_ms: [(60, Some(4 * DAY_MS)), (3_600, None), (86_400, None)].into(),
    });
    let e = Engine::open(o).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let lock = |res: u32, keep: i64| RetentionLock {
        resolution_s: res,
        keep_ms: keep,
        until_ms: now + 365 * DAY_MS,
        at: now,
        author: "ops".into(),
        reason: "contract".into(),
        active: true,
    };
    // raw samples and 1 m rollups locked for longer than the data spans
    e.locks().set(lock(0, 30 * DAY_MS), now).unwrap();
    e.locks().set(lock(60, 30 * DAY_MS), now).unwrap();
    // a shorter lock is refused and changes nothing
    assert!(e.locks().set(lock(0, DAY_MS), now).is_err());
    let (ts, vs) = counter(5, 0, 10 * 24 * 240);
    for (ct, cv) in ts.chunks(5000).zip(vs.chunks(5000)) {
        e.append(&WriteBatch {
            series: vec![series(
                "req",
                "a",
                SeriesKind::Counter,
                ct.to_vec(),
                cv.to_vec(),
            )],
        })
        .unwrap();
        e.maintain().unwrap();
    }
    e.compact_all().unwrap();
    let snap = e.snapshot();
    let v = snap.version();
    let oldest_raw = v.raw.iter().map(|f| f.min_t()).min().unwrap();
    assert_eq!(oldest_raw, ts[0], "the locked raw history is all there");
    // every raw sample reads back
    let h = &snap.select(&[], i64::MIN, i64::MAX).unwrap()[0];
    let (mut got_t, mut got_v) = (Vec::new(), Vec::new());
    snap.read_samples(
        h,
        i64::MIN,
        i64::MAX,
        &mut ReadScratch::default(),
        &mut got_t,
        &mut got_v,
    )
    .unwrap();
    assert_eq!(got_t, ts);
    if let Some(m) = v.rollups.get(&60) {
        let oldest_1m = m.iter().map(|f| f.min_t()).min().unwrap();
        assert!(
            oldest_1m <= DAY_MS,
            "1 m rollups are locked too: {oldest_1m}"
        );
    }
}

#[test]
fn the_record_that_sealed_a_time_stays_its_anchor() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(opts(dir.path())).unwrap();
    let batch = |from: i64, to: i64| WriteBatch {
        series: vec![series(
            "c_total",
            "a",
            SeriesKind::Counter,
            (from..=to).step_by(1_000).collect(),
            (from..=to).step_by(1_000).map(|t| t as f64).collect(),
        )],
    };
    engine.append(&batch(1_000, 10_000)).unwrap();
    let before = engine.snapshot();
    assert_eq!(
        engine.sealing_record(&before, 5_000).unwrap(),
        None,
        "in the head"
    );
    engine.flush(true).unwrap();
    let first = engine.snapshot();
    let sealed = engine.sealing_record(&first, 5_000).unwrap().unwrap();
    assert_eq!(sealed, (first.version().seq, first.version().head_hash));
    assert_eq!(engine.sealing_record(&first, 20_000).unwrap(), None);

    engine.append(&batch(11_000, 30_000)).unwrap();
    engine.flush(true).unwrap();
    engine.compact_all().unwrap();
    let later = engine.snapshot();
    assert!(later.version().seq > first.version().seq);
    assert_eq!(
        engine.sealing_record(&later, 5_000).unwrap(),
        Some(sealed),
        "later flushes and compactions do not move the anchor"
    );
    let second = engine.sealing_record(&later, 20_000).unwrap().unwrap();
    assert!(second.0 > sealed.0);
    // an older snapshot does not see records written after it
    assert_eq!(engine.sealing_record(&first, 20_000).unwrap(), None);
}

#[test]
fn bucket_cache_holds_its_budget_while_evicting_and_answers_stay_exact() {
    let dir = tempfile::tempdir().unwrap();
    let budget = 48 << 10;
    let mut o = opts(dir.path()).rollup_cache_bytes(budget);
    o.rollup_delay_ms.clear();
    // daily files, so a series has a 1 h source per day
    o.compaction_ranges_ms = vec![DAY_MS];
    let e = Engine::open(o).unwrap();
    let n_series = 40u64;
    let mut all = Vec::new();
    for s in 0..n_series {
        let (ts, vs) = counter(300 + s, 0, 4 * 24 * 240);
        all.push((format!("j{s}"), ts, vs));
    }
    for day in 0..6 {
        for (job, ts, vs) in &all {
            let lo = ts.partition_point(|&t| t < day * DAY_MS);
            let hi = ts.partition_point(|&t| t < (day + 1) * DAY_MS);
            if hi > lo {
                e.append(&WriteBatch {
                    series: vec![series(
                        "req",
                        job,
                        SeriesKind::Counter,
                        ts[lo..hi].to_vec(),
                        vs[lo..hi].to_vec(),
                    )],
                })
                .unwrap();
            }
        }
        e.maintain().unwrap();
    }
    let snap = e.snapshot();
    assert!(snap.version().rollups[&3_600].len() >= 3);
    let handles = snap.select_with_rollups(&[], i64::MIN, i64::MAX).unwrap();
    let mut scratch = ReadScratch::default();
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    // each 1 h source is at most a day: 24 buckets
    let biggest = 24 * std::mem::size_of::<nines_engine::rollup::Bucket>() + 64;
    let mut peak = 0;
    for round in 0..2_000 {
        // one series asked about all the time, the others at random
        let h = if round % 2 == 0 {
            &handles[0]
        } else {
            &handles[rng.gen_range(0..handles.len())]
        };
        let a = rng.gen_range(0..2 * DAY_MS);
        let b = a + rng.gen_range(3 * HOUR_MS..2 * DAY_MS);
        let raw = raw_summary(&all, &h.labels, a, b);
        assert_eq!(snap.summarize(h, a, b, &mut scratch).unwrap(), raw);
        let held = snap.version().buckets.bytes();
        assert!(
            held <= budget + biggest,
            "{held} bytes held, budget {budget}"
        );
        peak = peak.max(held);
    }
    // the budget was reached, so entries were evicted along the way
    assert!(peak > budget / 2, "peak {peak}");
    // files that go give their entries' bytes back
    drop(handles);
    drop(snap);
    e.compact_all().unwrap();
    let after = e.snapshot().version().buckets.bytes();
    assert!(after < peak, "{after} bytes still held");
}

#[test]
fn samples_written_by_resolved_handle_replay_from_the_wal_under_their_labels() {
    let dir = tempfile::tempdir().unwrap();
    let labels = Labels::from_pairs(&[("__name__", "req_total"), ("job", "api")]);
    {
        let e = Engine::open(opts(dir.path())).unwrap();
        let r = e.resolve(&labels).unwrap();
        for k in 0..3 {
            let out = e
                .append(&WriteBatch {
                    series: vec![SeriesBatch {
                        labels: Labels::default(),
                        kind: SeriesKind::Counter,
                        timestamps: vec![k * 1000, k * 1000 + 500],
                        values: vec![k as f64, k as f64 + 0.5],
                        resolved: Some(r.clone()),
                    }],
                })
                .unwrap();
            assert_eq!(out.accepted, 2);
        }
        // Dropped without close: only the WAL has these samples.
        e.wal().sync().unwrap();
    }
    let e = Engine::open(opts(dir.path())).unwrap();
    let got = read(&e, "req_total", i64::MIN, i64::MAX);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, labels.to_string());
    assert_eq!(got[0].1, vec![0, 500, 1000, 1500, 2000, 2500]);
}
