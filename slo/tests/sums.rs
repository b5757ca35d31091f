//! Property: SLO totals answered through the shared per-selector sums
//! equal the totals read from the series, bit for bit (integer counts), as
//! data keeps arriving, the persisted cut moves on (the sums extend),
//! compaction writes rollups, older snapshots are still being read, and
//! retention removes the oldest files (the sums are built again).

use std::collections::BTreeMap;

use nines_engine::options::{DAY_MS, HOUR_MS, MINUTE_MS};
use nines_engine::types::STALE_NAN_BITS;
use nines_engine::wal::SyncPolicy;
use nines_engine::{Engine, EngineOptions, Labels, Retention, SeriesBatch, SeriesKind, WriteBatch};
use nines_slo::report::SloEval;
use nines_slo::sums::SumsCache;
use nines_slo::{Budgeting, Objective, RatioEvents, Selector, Sli, Slo, SloVersion, Window};
use proptest::prelude::*;
use rand::{Rng, SeedableRng};

const T0: i64 = 1_700_006_400_000; // a Thursday, 00:00 UTC

/// One series' samples over `days`: a scrape interval, resets, gaps and
/// stale markers, integer values.
fn series(rng: &mut rand::rngs::StdRng, days: i64, delta: bool) -> (Vec<i64>, Vec<f64>) {
    let interval = [15_000, 60_000, 37_000][rng.gen_range(0..3)];
    let (mut ts, mut vs) = (Vec::new(), Vec::new());
    let (mut t, mut v) = (T0 + rng.gen_range(0..interval), 0.0);
    while t < T0 + days * DAY_MS {
        match rng.gen_range(0..400) {
            0 => t += rng.gen_range(1..6) * HOUR_MS, // a gap
            1 => v = 0.0,                            // a reset
            2 => {
                ts.push(t);
                vs.push(f64::from_bits(STALE_NAN_BITS));
                t += interval;
                continue;
            }
            _ => {}
        }
        let inc = f64::from(rng.gen_range(0u32..50));
        if delta {
            v = inc;
        } else {
            v += inc;
        }
        ts.push(t);
        vs.push(v);
        t += interval;
    }
    (ts, vs)
}

struct World {
    engine: Engine,
    _dir: tempfile::TempDir,
    /// (labels, kind, ts, vs) of every series
    data: Vec<(Labels, SeriesKind, Vec<i64>, Vec<f64>)>,
    versions: Vec<SloVersion>,
}

fn world(seed: u64, days: i64, raw_days: i64) -> World {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let mut o = EngineOptions::new(dir.path())
        .background(false)
        .sync(SyncPolicy::Never)
        .retention(Retention {
            raw_ms: Some(raw_days * DAY_MS),
            rollups_ms: [(60, None), (3_600, None), (86_400, None)].into(),
        });
    o.rollup_delay_ms.clear();
    let engine = Engine::open(o).unwrap();
    let mut data = Vec::new();
    for (i, code) in ["200", "200", "500", "500", "200"].iter().enumerate() {
        let delta = i == 4;
        let (ts, vs) = series(&mut rng, days, delta);
        data.push((
            Labels::from_pairs(&[
                ("__name__", "req_total"),
                ("code", code),
                ("pod", &format!("p{i}")),
            ]),
            if delta {
                SeriesKind::DeltaCounter
            } else {
                SeriesKind::Counter
            },
            ts,
            vs,
        ));
    }
    let sel = |s: &str| Selector::parse(s).unwrap();
    let def = Slo {
        name: "s".into(),
        service: "svc".into(),
        description: None,
        sli: Sli::Ratio {
            events: RatioEvents::Bad(sel(r#"req_total{code="500"}"#)),
            total: sel("req_total"),
        },
        objectives: vec![Objective {
            display_name: None,
            target: 0.99,
        }],
        window: Window::Rolling { ms: 7 * DAY_MS },
        budgeting: Budgeting::Occurrences,
    };
    let mut v2 = def.clone();
    v2.objectives[0].target = 0.999;
    let versions = vec![
        SloVersion {
            version: 1,
            effective_from: T0,
            effective_to: None,
            def,
        },
        SloVersion {
            version: 2,
            effective_from: T0 + 2 * DAY_MS + 7 * HOUR_MS + 13_000,
            effective_to: None,
            def: v2,
        },
    ];
    World {
        engine,
        _dir: dir,
        data,
        versions,
    }
}

/// Writes every series' samples with `from <= t < to`.
fn write(w: &World, from: i64, to: i64) {
    let mut batch = WriteBatch::default();
    for (labels, kind, ts, vs) in &w.data {
        let (a, b) = (
            ts.partition_point(|&t| t < from),
            ts.partition_point(|&t| t < to),
        );
        batch.series.push(SeriesBatch {
            labels: labels.clone(),
            kind: *kind,
            timestamps: ts[a..b].to_vec(),
            values: vs[a..b].to_vec(),
            resolved: None,
        });
    }
    let out = w.engine.append(&batch).unwrap();
    assert_eq!(out.rejected_samples, 0, "{:?}", out.rejected.first());
}

fn windows(rng: &mut rand::rngs::StdRng, end: i64, n: usize) -> Vec<(i64, i64)> {
    (0..n)
        .map(|_| {
            let b = rng.gen_range(T0..end + HOUR_MS);
            let len = match rng.gen_range(0..4) {
                0 => rng.gen_range(1..2 * HOUR_MS),
                1 => rng.gen_range(1..3 * DAY_MS),
                2 => 7 * DAY_MS,
                // aligned to the minute, as range queries are
                _ => rng.gen_range(1..500) * MINUTE_MS,
            };
            let b = if rng.gen_bool(0.3) {
                b / MINUTE_MS * MINUTE_MS
            } else {
                b
            };
            // an exclusion's edges: `end - 1 ms` of hours and minutes, where
            // the sums take a whole unit less its last millisecond
            match rng.gen_range(0..6) {
                0 => (b - len, b / HOUR_MS * HOUR_MS - 1),
                1 => (b / HOUR_MS * HOUR_MS - 1 - len, b),
                2 => (
                    b / MINUTE_MS * MINUTE_MS - 1 - len,
                    b / MINUTE_MS * MINUTE_MS - 1,
                ),
                _ => (b - len, b),
            }
        })
        .collect()
}

/// Good and total events in `(a, b]` counted from the samples written
/// (those before `written`),
/// straight from SLO_SEMANTICS.md.
fn reference(w: &World, written: i64, a: i64, b: i64) -> (f64, f64) {
    let (mut good, mut total) = (0.0, 0.0);
    for (labels, kind, ts, vs) in &w.data {
        let mut prev: Option<f64> = None;
        let mut sum = 0.0;
        for (&t, &v) in ts.iter().zip(vs).take_while(|(&t, _)| t < written) {
            if v.to_bits() == STALE_NAN_BITS {
                continue;
            }
            if t > a && t <= b {
                sum += match (kind, prev) {
                    (SeriesKind::DeltaCounter, _) => v,
                    (_, Some(p)) if v >= p => v - p,
                    (_, Some(_)) => v,
                    (_, None) => 0.0,
                };
            }
            prev = Some(v);
        }
        total += sum;
        if labels.get("code") != Some("500") {
            good += sum;
        }
    }
    (good, total)
}

/// Checks each window against the reference, read from the series and
/// through the sums. Edges where raw samples are gone are moved to the
/// minute (from 1 m rollups only whole minutes are exact).
fn check(
    w: &World,
    written: i64,
    cache: &SumsCache,
    snap: &nines_engine::read::Snapshot,
    wins: &[(i64, i64)],
) {
    let raw_from = snap.version().raw.first().map_or(i64::MAX, |f| f.min_t());
    let in_raw = |t: i64| {
        if t <= raw_from {
            t / MINUTE_MS * MINUTE_MS
        } else {
            t
        }
    };
    for &(a, b) in wins {
        let (a, b) = (in_raw(a), in_raw(b));
        let (good, total) = reference(w, written, a, b);
        let read = SloEval::new(snap, &w.versions, &[])
            .unwrap()
            .totals(a, b)
            .unwrap();
        let cached = SloEval::new(snap, &w.versions, &[])
            .unwrap()
            .with_cache(Some(cache))
            .totals(a, b)
            .unwrap();
        // The version change inside a minute whose raw samples retention
        // removed cannot be split exactly: reading the series loses that
        // minute's increases, the sums keep them and place them at the
        // sample times the 1 m bucket records. Elsewhere all three agree.
        let vb = w.versions[1].effective_from;
        let inexact = vb <= raw_from && a < vb && vb <= b;
        assert_eq!(
            (cached.good, cached.total),
            (good, total),
            "cached ({a}, {b}]"
        );
        if !inexact {
            assert_eq!((read.good, read.total), (good, total), "read ({a}, {b}]");
            assert_eq!(cached, read, "cached ({a}, {b}]");
        }
        let steps = SloEval::new(snap, &w.versions, &[])
            .unwrap()
            .with_cache(Some(cache))
            .step_totals(a, (b - a).max(1), 1)
            .unwrap()
            .unwrap();
        assert_eq!(steps[0].total, total, "steps over ({a}, {b}]");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(6))]

    #[test]
    fn cached_sums_equal_reading_the_series(seed in any::<u64>()) {
        let days = 12;
        let w = world(seed, days, 5);
        let cache = SumsCache::default();
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ 0x5eed);
        let mut older = BTreeMap::new();
        // in steps of a few hours to a day and a half: the cut moves on
        let mut at = T0;
        let mut stage = 0;
        while at < T0 + days * DAY_MS {
            let next = at + rng.gen_range(3 * HOUR_MS..36 * HOUR_MS);
            write(&w, at, next);
            at = next;
            match stage % 3 {
                0 => { w.engine.flush(false).unwrap(); }
                1 => { w.engine.maintain().unwrap(); }
                _ => { w.engine.compact_all().unwrap(); }
            }
            stage += 1;
            let snap = w.engine.snapshot();
            check(&w, at, &cache, &snap, &windows(&mut rng, at, 12));
            older.insert(stage, (at, snap));
        }
        // a snapshot from before the cut moved on is still answered right
        // (it sees its own files and the head as it is now)
        for (written, snap) in older.values().take(3) {
            check(&w, at, &cache, snap, &windows(&mut rng, *written, 6));
        }
        // retention (run by `maintain` above too) has removed the oldest
        // raw files: the sums were built again from what is left
        w.engine.maintain().unwrap();
        let snap = w.engine.snapshot();
        prop_assert!(snap.version().raw.first().is_some_and(|f| f.min_t() > T0 + DAY_MS));
        check(&w, at, &cache, &snap, &windows(&mut rng, at, 12));
    }
}
