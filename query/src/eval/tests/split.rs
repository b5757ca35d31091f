//! A range query's points do not depend on where the range starts or
//! ends: evaluating `[a, s]` and `[s + step, b]` and joining them gives bit
//! for bit what `[a, b]` gives. The range-result cache stands on this
//! (`crate::range_cache`), so it is checked here over the functions a
//! dashboard uses, on data with resets, gaps, stale markers, series that
//! come and go, files flushed a day at a time with rollups, and a head.

use rand::{Rng, SeedableRng};

use super::*;
use crate::range_cache::{start_independent, RangeCache};
use crate::value::Series;

const D: i64 = 24 * H;
const DAYS: i64 = 3;

/// Every 15 s give or take, with gaps and stale markers; a counter when
/// `inc` (with resets), a gauge otherwise.
fn samples(seed: u64, from: i64, to: i64, inc: f64) -> Vec<(i64, f64)> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut out = Vec::new();
    let (mut t, mut v) = (from, 0.0f64);
    while t < to {
        t += 15 * S + rng.gen_range(-3..4);
        if rng.gen_bool(0.002) {
            t += rng.gen_range(1..90) * M; // a gap
        }
        if rng.gen_bool(0.001) {
            out.push((t, STALE));
            t += rng.gen_range(1..20) * M;
            continue;
        }
        v = if inc == 0.0 {
            rng.gen_range(-5.0..100.0)
        } else if rng.gen_bool(0.001) {
            0.0 // a reset
        } else {
            v + f64::from(rng.gen_range(0..40u32)) * inc
        };
        out.push((t, v));
    }
    out
}

fn db() -> Db {
    let db = Db::with(|o| o.rollup_delay_ms.clear());
    type One = (&'static str, Vec<(&'static str, String)>, Vec<(i64, f64)>);
    let mut all: Vec<One> = Vec::new();
    for i in 0..4u64 {
        let g = if i % 2 == 0 { "a" } else { "b" };
        // some series start late or stop early
        let (from, to) = match i {
            1 => (D / 2, DAYS * D),
            2 => (0, 2 * D + 5 * H),
            _ => (0, DAYS * D),
        };
        all.push((
            "req_total",
            vec![("g", g.into()), ("i", i.to_string())],
            samples(i, from, to, 1.0),
        ));
        all.push((
            "temp",
            vec![("g", g.into()), ("i", i.to_string())],
            samples(100 + i, from, to, 0.0),
        ));
    }
    for (j, le) in ["0.1", "0.5", "1", "+Inf"].iter().enumerate() {
        for g in ["a", "b"] {
            all.push((
                "lat_bucket",
                vec![("g", g.into()), ("le", (*le).into())],
                samples(200 + j as u64, 0, DAYS * D, 1.0 + j as f64),
            ));
        }
    }
    // a day at a time, maintained as the background does (files per day,
    // rollups); the last day stays partly in the head
    for day in 0..DAYS {
        for (name, pairs, s) in &all {
            let today: Vec<(i64, f64)> = s.iter().filter(|p| p.0 / D == day).copied().collect();
            let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
            db.add(name, &pairs, &today);
        }
        db.engine.maintain().unwrap();
    }
    db
}

const QUERIES: &[&str] = &[
    "rate(req_total[5m])",
    "sum by (g) (rate(req_total[5m]))",
    r#"sum by (g) (rate(req_total{i=~"1|2"}[1h])) / sum by (g) (rate(req_total[1h]))"#,
    "histogram_quantile(0.9, sum by (le, g) (rate(lat_bucket[10m])))",
    "increase(req_total[1d])",
    "increase(req_total[3h])",
    "irate(req_total[2m]) + idelta(temp[2m])",
    "resets(req_total[2h])",
    "avg_over_time(temp[30m])",
    "max_over_time(temp[1h]) - min_over_time(temp[1h])",
    "quantile_over_time(0.5, temp[1h])",
    "stddev_over_time(temp[20m])",
    "sum_over_time(temp[1d])",
    "count_over_time(temp[7h])",
    "last_over_time(temp[10m])",
    "changes(temp[1h])",
    "deriv(temp[15m])",
    "predict_linear(temp[1h], 600)",
    "delta(temp[1h])",
    "holt_winters(temp[30m], 0.5, 0.5)",
    "topk(2, temp)",
    "bottomk by (g) (1, temp)",
    r#"count_values("v", round(temp / 20))"#,
    "quantile by (g) (0.3, temp)",
    "stddev(temp)",
    "temp > 50",
    "temp offset 10m",
    "rate(req_total[5m] offset 1h)",
    "max_over_time(rate(req_total[5m])[30m:1m])",
    "avg_over_time(sum(temp)[1h:7m])",
    "scalar(sum(temp)) * temp",
    "temp / on (g) group_left sum by (g) (temp)",
    "temp and on (i) req_total",
    "absent(nothing)",
    "time() - timestamp(temp)",
    r#"label_replace(temp, "x", "$1", "i", "(.*)")"#,
    "vector(1) + 1",
];

fn bits(v: &[Series]) -> Vec<(String, Vec<(i64, u64)>)> {
    v.iter()
        .map(|s| {
            (
                s.labels.to_string(),
                s.points.iter().map(|&(t, v)| (t, v.to_bits())).collect(),
            )
        })
        .collect()
}

fn range(db: &Db, q: &str, start: i64, end: i64, step: i64) -> Vec<Series> {
    let e = crate::parse(q).unwrap();
    match db.range(&e, start, end, step) {
        Ok(Value::Matrix(m)) => m,
        other => panic!("{q}: {other:?}"),
    }
}

/// Two series lists sorted by labels whose points do not interleave.
fn join(early: Vec<Series>, late: Vec<Series>) -> Vec<Series> {
    let mut out: Vec<Series> = early;
    for s in late {
        match out.iter_mut().find(|o| o.labels == s.labels) {
            Some(o) => o.points.extend(s.points),
            None => out.push(s),
        }
    }
    out.sort_by(|a, b| a.labels.cmp(&b.labels));
    out
}

#[test]
fn every_dashboard_query_is_start_independent() {
    for q in QUERIES {
        assert!(start_independent(&crate::parse(q).unwrap()), "{q}");
    }
    for q in [
        "temp @ 1000",
        "rate(req_total[5m] @ end())",
        "temp offset -5m",
        "max_over_time(temp[1h:1m] offset -1m)",
        r#"slo_burn_rate("x", 1h)"#,
        "sli(temp, temp, 3600)",
    ] {
        assert!(!start_independent(&crate::parse(q).unwrap()), "{q}");
    }
}

#[test]
fn split_ranges_join_to_the_whole_bit_for_bit() {
    let db = db();
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut points = 0;
    for (n, q) in QUERIES.iter().enumerate() {
        for _ in 0..3 {
            let step = [M, 5 * M, 7 * M + 13, 20 * M][rng.gen_range(0..4)];
            let start = rng.gen_range(0..2 * D);
            let steps = rng.gen_range(4..150);
            let end = start + steps * step + rng.gen_range(0..step);
            let cut = start + rng.gen_range(0..steps) * step;
            let whole = range(&db, q, start, end, step);
            let early = range(&db, q, start, cut, step);
            let late = range(&db, q, cut + step, end, step);
            assert_eq!(
                bits(&join(early, late)),
                bits(&whole),
                "query {n} {q}: [{start}, {end}] step {step} split after {cut}"
            );
            points += whole.iter().map(|s| s.points.len()).sum::<usize>();
        }
    }
    assert!(points > 20_000, "only {points} points compared");
}

/// A dashboard moving forward over data that is partly flushed, partly
/// in the head: every answer through the cache equals a fresh evaluation
/// bit for bit, and the cache did serve steps.
#[test]
fn cached_answers_equal_fresh_ones() {
    let db = db();
    let snap = db.engine.snapshot();
    let cut = snap.version().persisted_through.expect("flushed");
    assert!(cut > D && cut < DAYS * D, "the last day partly in the head");
    let (opts, cancel) = (QueryOptions::default(), Cancel::new());
    // at a 1-minute step a 12-hour series' cached text passes
    // SHARED_TEXT_MIN and goes out as a piece of the cache entry
    for step in [5 * M, M] {
        let (cache, shared) = (RangeCache::new(64 << 20), &mut 0);
        cached_rounds(&db, &cache, cut, step, &opts, &cancel, shared);
        let st = cache.stats();
        let n = QUERIES.len() as u64;
        // rounds 0 and 3 miss (new grids), 1 and 2 reuse earlier steps, 4
        // and 5 are all cached, 6 too unless the cut is a millisecond
        // before a step
        assert_eq!((st.misses, st.uncacheable), (2 * n, 0));
        assert_eq!(st.partial_hits + st.hits, 5 * n);
        assert!(st.hits >= 2 * n, "{st:?}");
        assert!(st.entries > 0 && st.bytes > 0);
        if step == M {
            assert!(*shared > 0, "no cached text was sent as its own piece");
        }
    }
}

/// The rounds of [`cached_answers_equal_fresh_ones`] at one step; counts
/// in `shared` the answers that sent cached text as its own piece.
fn cached_rounds(
    db: &Db,
    cache: &RangeCache,
    cut: i64,
    step: i64,
    opts: &QueryOptions,
    cancel: &Cancel,
    shared: &mut usize,
) {
    for q in QUERIES {
        // a 12-hour panel over the cut, refreshed every few minutes, and
        // a second viewer whose grid is offset by a minute
        let first = cut - 10 * H;
        for (round, start, end) in [
            // before the cut: all cached
            (0, first, cut - 2 * H),
            // over the cut: the cached steps, the rest computed and the
            // newly fixed ones added to the entry
            (1, first + 5 * M, first + 12 * H + 5 * M),
            // the same but nothing new to add
            (2, first + 15 * M, first + 12 * H + 15 * M),
            (3, first + M, first + 12 * H + M),
            // inside what round 2 left: from the cache alone
            (4, first + 20 * M, cut - H),
            // the same with an end between two steps
            (5, first + 20 * M, cut - H + 2 * M),
            // just past the cut, before the step after it
            (6, first + 20 * M, cut + 1),
        ] {
            let snap = db.engine.snapshot();
            let answer = cache
                .range_query(&snap, q, start, end, step, opts, cancel)
                .unwrap_or_else(|e| panic!("{q}: {e}"));
            let pieces = answer.response_pieces(&[]);
            *shared += usize::from(pieces.len() > 1);
            let json = pieces.concat();
            let Value::Matrix(got) = answer.into_value() else {
                panic!("{q}: not a matrix");
            };
            let want = range(db, q, start, end, step);
            assert_eq!(bits(&got), bits(&want), "{q} round {round}");
            // the cached text is what the API writes for a fresh answer
            let mut fresh = Vec::new();
            Value::Matrix(want).write_response(&[], &mut fresh);
            assert!(json == fresh, "{q} round {round} step {step}: JSON differs");
        }
    }
}
