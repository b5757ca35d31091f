//! The rollup path gives bit for bit what raw evaluation gives, and is
//! taken for long windows.

use std::sync::atomic::Ordering;

use nines_engine::read::Piece;
use rand::{Rng, SeedableRng};

use super::*;
use crate::eval::values::{Steps, Val};
use crate::eval::Evaluator;

const D: i64 = 24 * H;

/// A counter with random increments, resets, gaps and stale markers every
/// 15 s (give or take a few ms) over `days`; `step` scales the increments.
fn counter(seed: u64, days: i64, step: f64) -> Vec<(i64, f64)> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut out = Vec::new();
    let (mut t, mut v) = (0i64, 0.0f64);
    while t < days * D {
        t += 15 * S + rng.gen_range(-3..4);
        if rng.gen_bool(0.001) {
            t += rng.gen_range(1..120) * M; // a gap
        }
        if rng.gen_bool(0.0005) {
            out.push((t, STALE));
            t += rng.gen_range(1..30) * M;
            continue;
        }
        v = if rng.gen_bool(0.0007) {
            0.0 // a reset
        } else {
            v + f64::from(rng.gen_range(0..50u32)) * step
        };
        out.push((t, v));
    }
    out
}

fn db() -> Db {
    let db = Db::with(|o| o.rollup_delay_ms.clear());
    let days = 3;
    type Series = (String, SeriesKind, Vec<(i64, f64)>);
    let mut series: Vec<Series> = (0..6u64)
        .map(|s| {
            let kind = if s == 0 {
                SeriesKind::Unknown
            } else {
                SeriesKind::Counter
            };
            (s.to_string(), kind, counter(s, days, 1.0))
        })
        .collect();
    // not exact integers: answered raw
    series.push(("frac".into(), SeriesKind::Counter, counter(10, days, 0.1)));
    // delta temporality: Prometheus's increase is not the summed deltas
    series.push((
        "delta".into(),
        SeriesKind::DeltaCounter,
        counter(11, days, 1.0),
    ));
    // A day at a time, flushed and compacted as the background does it
    // (`compact_all` would merge the days into one file): long windows then
    // have raw files in the middle that a summary does not read but a raw
    // fallback must.
    for day in 0..days + 1 {
        for (s, kind, samples) in &series {
            let today: Vec<(i64, f64)> =
                samples.iter().filter(|p| p.0 / D == day).copied().collect();
            db.add_kind("req_total", &[("s", s)], *kind, &today);
        }
        db.engine.maintain().unwrap();
    }
    assert!(db.engine.snapshot().version().raw.len() >= 3);
    db
}

fn run(db: &Db, e: &Expr, steps: Steps, rollups: bool) -> (Val, u64) {
    let snap = db.engine.snapshot();
    let opts = QueryOptions::default();
    let cancel = Cancel::new();
    let mut ev = Evaluator::new(&snap, &opts, &cancel, steps.start, steps.end);
    ev.use_rollups = rollups;
    let v = ev.eval(e, steps).unwrap();
    (v, ev.rollup_series.load(Ordering::Relaxed))
}

fn bits(v: &Val) -> Vec<(String, Vec<(u32, u64)>)> {
    match v {
        Val::Vector(series) => series
            .iter()
            .map(|s| {
                (
                    s.labels.to_string(),
                    s.points.iter().map(|&(i, v)| (i, v.to_bits())).collect(),
                )
            })
            .collect(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn rollup_path_equals_raw_bit_for_bit() {
    let db = db();
    let snap = db.engine.snapshot();
    assert_eq!(snap.version().rollups.len(), 3, "1 m, 1 h and 1 d rollups");
    let mut rng = rand::rngs::StdRng::seed_from_u64(42);
    let mut from_rollups = 0;
    let mut compared = 0;
    for round in 0..40 {
        let f = ["increase", "rate", "count_over_time"][round % 3];
        let range = [2 * H, 3 * H + 17 * S, 6 * H, D, 2 * D + 5 * M + 1][rng.gen_range(0..5)];
        let e = call(f, vec![mat(sel("req_total"), range)]);
        let t = rng.gen_range(range..3 * D + H);
        let steps = if round % 4 == 0 {
            // a range query with little overlap between windows
            Steps {
                start: t - 3 * range,
                end: t,
                step: range / 2 + rng.gen_range(0..1000),
            }
        } else {
            Steps::single(t)
        };
        let (raw, n_raw) = run(&db, &e, steps, false);
        let (fast, n_fast) = run(&db, &e, steps, true);
        assert_eq!(n_raw, 0);
        assert_eq!(bits(&fast), bits(&raw), "{f} range {range} steps {steps:?}");
        compared += bits(&raw).iter().map(|s| s.1.len()).sum::<usize>();
        from_rollups += n_fast;
    }
    assert!(compared > 200, "{compared} values compared");
    assert!(from_rollups > 80, "only {from_rollups} series from rollups");
}

#[test]
fn rollups_answer_long_windows_and_not_the_odd_series() {
    let db = db();
    let e = call("increase", vec![mat(sel("req_total"), 2 * D)]);
    let t = 2 * D + 7 * H + 11 * S;
    let (_, n) = run(&db, &e, Steps::single(t), true);
    // six integer counters; the fractional and the delta one fall back
    assert_eq!(n, 6);
    let snap = db.engine.snapshot();
    let m = [nines_engine::index::Matcher::new(MatchOp::Equal, "s", "1").unwrap()];
    let h = &snap.select_with_rollups(&m, 0, t).unwrap()[0];
    let plan = snap.plan(h, t - 2 * D - 1, t);
    assert!(
        plan.iter()
            .any(|p| matches!(p, Piece::Buckets { res_s: 86_400, .. })),
        "{plan:?}"
    );
    // short windows are read raw
    let e = call("increase", vec![mat(sel("req_total"), H)]);
    assert_eq!(run(&db, &e, Steps::single(t), true).1, 0);
    // as are range queries whose windows overlap a lot
    let e = call("increase", vec![mat(sel("req_total"), 4 * H)]);
    let steps = Steps {
        start: t - H,
        end: t,
        step: 5 * M,
    };
    assert_eq!(run(&db, &e, steps, true).1, 0);
}
