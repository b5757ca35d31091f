//! Aggregations.

use super::*;
use AggregateOp::*;

fn data() -> Db {
    let db = Db::new();
    db.add("r", &[("job", "api"), ("inst", "1")], &[(0, 1.0)]);
    db.add("r", &[("job", "api"), ("inst", "2")], &[(0, 4.0)]);
    db.add("r", &[("job", "web"), ("inst", "1")], &[(0, 10.0)]);
    db.add("r", &[("job", "web"), ("inst", "2")], &[(0, 2.0)]);
    db
}

#[test]
fn sum_min_max_avg_count_group_stddev_stdvar() {
    let db = data();
    assert_eq!(db.vector(&agg(Sum, sel("r")), M), owned(&[("{}", 17.0)]));
    let by = |op| db.vector(&agg_by(op, &["job"], sel("r")), M);
    // groups come out in order of first appearance (input sorted by labels)
    assert_eq!(
        by(Sum),
        owned(&[("{job=\"api\"}", 5.0), ("{job=\"web\"}", 12.0)])
    );
    assert_eq!(
        by(Min),
        owned(&[("{job=\"api\"}", 1.0), ("{job=\"web\"}", 2.0)])
    );
    assert_eq!(
        by(Max),
        owned(&[("{job=\"api\"}", 4.0), ("{job=\"web\"}", 10.0)])
    );
    assert_eq!(
        by(Avg),
        owned(&[("{job=\"api\"}", 2.5), ("{job=\"web\"}", 6.0)])
    );
    assert_eq!(
        by(Count),
        owned(&[("{job=\"api\"}", 2.0), ("{job=\"web\"}", 2.0)])
    );
    assert_eq!(
        by(Group),
        owned(&[("{job=\"api\"}", 1.0), ("{job=\"web\"}", 1.0)])
    );
    assert_eq!(
        by(Stdvar),
        owned(&[("{job=\"api\"}", 2.25), ("{job=\"web\"}", 16.0)])
    );
    assert_eq!(
        by(Stddev),
        owned(&[("{job=\"api\"}", 1.5), ("{job=\"web\"}", 4.0)])
    );
    // without drops the metric name too; by keeps what it names
    assert_eq!(
        db.vector(&agg_without(Sum, &["inst"], sel("r")), M),
        owned(&[("{job=\"api\"}", 5.0), ("{job=\"web\"}", 12.0)])
    );
    assert_eq!(
        db.vector(&agg_by(Sum, &["__name__"], sel("r")), M),
        owned(&[("r{}", 17.0)])
    );
    assert_eq!(
        db.vector(&agg_without(Max, &[], sel("r")), M).len(),
        4,
        "without () keeps every series apart"
    );
    assert_eq!(
        db.vector(&agg_by(Sum, &["nope"], sel("r")), M),
        owned(&[("{}", 17.0)])
    );
    assert_eq!(db.vector(&agg(Sum, sel("none")), M), owned(&[]));
}

#[test]
fn nan_and_infinity() {
    let db = Db::new();
    db.add("n", &[("i", "1")], &[(0, f64::NAN)]);
    db.add("n", &[("i", "2")], &[(0, 1.0)]);
    db.add("n", &[("i", "3")], &[(0, 3.0)]);
    db.add("inf", &[("i", "1")], &[(0, f64::INFINITY)]);
    db.add("inf", &[("i", "2")], &[(0, 1.0)]);
    db.add("inf", &[("i", "3")], &[(0, f64::NEG_INFINITY)]);
    db.add("big", &[("i", "1")], &[(0, 1e308)]);
    db.add("big", &[("i", "2")], &[(0, 1e308)]);
    let one = |op, name| db.vector(&agg(op, sel(name)), M)[0].1;
    // max and min skip NaN unless every value is NaN
    assert_eq!(one(Max, "n"), 3.0);
    assert_eq!(one(Min, "n"), 1.0);
    assert!(one(Sum, "n").is_nan());
    assert!(one(Avg, "n").is_nan());
    let e = agg(Avg, sel_with("inf", &[("i", MatchOp::NotEqual, "3")]));
    assert_eq!(db.vector(&e, M)[0].1, f64::INFINITY);
    assert!(one(Avg, "inf").is_nan());
    assert!(one(Sum, "inf").is_nan());
    // the incremental mean does not overflow where the sum does
    assert_eq!(one(Avg, "big"), 1e308);
    assert_eq!(one(Sum, "big"), f64::INFINITY);
}

fn topk_data() -> Db {
    let db = Db::new();
    db.add("t", &[("i", "1")], &[(0, 5.0)]);
    db.add("t", &[("i", "2")], &[(0, f64::NAN)]);
    db.add("t", &[("i", "3")], &[(0, 9.0)]);
    db.add("t", &[("i", "4")], &[(0, 1.0)]);
    db.add("t", &[("i", "5")], &[(0, 9.0)]);
    db
}

#[test]
fn topk_and_bottomk_order_and_nan() {
    let db = topk_data();
    let k = |op, k: f64| db.vector(&agg_full(op, Some(num(k)), None, sel("t")), M);
    assert_eq!(
        k(Topk, 2.0),
        owned(&[("t{i=\"3\"}", 9.0), ("t{i=\"5\"}", 9.0)])
    );
    assert_eq!(
        k(Bottomk, 2.0),
        owned(&[("t{i=\"4\"}", 1.0), ("t{i=\"1\"}", 5.0)])
    );
    assert_eq!(k(Topk, 1.0), owned(&[("t{i=\"3\"}", 9.0)]));
    assert_eq!(k(Topk, 0.0), owned(&[]));
    assert_eq!(k(Topk, -3.0), owned(&[]));
    assert_eq!(k(Topk, 1.9), owned(&[("t{i=\"3\"}", 9.0)]));
    // more than there are: all, NaN last
    let all = k(Topk, 10.0);
    let labels: Vec<&str> = all.iter().map(|s| s.0.as_str()).collect();
    assert_eq!(
        labels,
        vec![
            "t{i=\"3\"}",
            "t{i=\"5\"}",
            "t{i=\"1\"}",
            "t{i=\"4\"}",
            "t{i=\"2\"}"
        ]
    );
    assert!(all[4].1.is_nan());
    let all = k(Bottomk, 10.0);
    let labels: Vec<&str> = all.iter().map(|s| s.0.as_str()).collect();
    assert_eq!(
        labels,
        // Go's heap and insertion sort order the ties differently here
        vec![
            "t{i=\"4\"}",
            "t{i=\"1\"}",
            "t{i=\"5\"}",
            "t{i=\"3\"}",
            "t{i=\"2\"}"
        ]
    );
    let e = agg_full(Topk, Some(num(1e19)), None, sel("t"));
    assert_eq!(db.error(&e, M), "Scalar value 1e+19 overflows int64");
    let e = agg_full(Topk, Some(num(f64::NAN)), None, sel("t"));
    assert_eq!(db.error(&e, M), "Scalar value NaN overflows int64");
}

#[test]
fn topk_by_group_keeps_group_order() {
    let db = data();
    let e = agg_full(Topk, Some(num(1.0)), grouping(false, &["job"]), sel("r"));
    assert_eq!(
        db.vector(&e, M),
        owned(&[
            ("r{inst=\"2\", job=\"api\"}", 4.0),
            ("r{inst=\"1\", job=\"web\"}", 10.0)
        ])
    );
}

#[test]
fn quantile_interpolates() {
    let db = data();
    let q = |p: f64| {
        db.vector(
            &agg_full(Quantile, Some(num(p)), grouping(false, &["job"]), sel("r")),
            M,
        )
    };
    assert_eq!(
        q(0.5),
        owned(&[("{job=\"api\"}", 2.5), ("{job=\"web\"}", 6.0)])
    );
    assert_eq!(
        q(0.0),
        owned(&[("{job=\"api\"}", 1.0), ("{job=\"web\"}", 2.0)])
    );
    assert_eq!(q(2.0)[0].1, f64::INFINITY);
    assert_eq!(q(-1.0)[0].1, f64::NEG_INFINITY);
    assert!(q(f64::NAN)[0].1.is_nan());
}

#[test]
fn count_values_formats_like_go() {
    let db = Db::new();
    db.add("cv", &[("i", "1")], &[(0, 1.5)]);
    db.add("cv", &[("i", "2")], &[(0, 1.5)]);
    db.add("cv", &[("i", "3")], &[(0, 2.0)]);
    db.add("cv", &[("i", "4")], &[(0, 1e21)]);
    db.add("cv", &[("i", "5")], &[(0, f64::INFINITY)]);
    let cv = |g| db.vector(&agg_full(CountValues, Some(string("v")), g, sel("cv")), M);
    assert_eq!(
        cv(None),
        owned(&[
            ("{v=\"1.5\"}", 2.0),
            ("{v=\"2\"}", 1.0),
            ("{v=\"1000000000000000000000\"}", 1.0),
            ("{v=\"+Inf\"}", 1.0)
        ])
    );
    assert_eq!(cv(grouping(false, &["i"])).len(), 5);
    assert_eq!(cv(grouping(false, &["i"]))[0].0, "{i=\"1\", v=\"1.5\"}");
    assert_eq!(cv(grouping(true, &["i"])).len(), 4);
    let e = agg_full(CountValues, Some(string("1bad")), None, sel("cv"));
    assert_eq!(db.error(&e, M), "invalid label name \"1bad\"");
}

#[test]
fn aggregation_over_a_range() {
    let db = Db::new();
    db.add("s", &[("i", "1")], &ramp(0, M, &[1.0, 2.0, 3.0]));
    db.add("s", &[("i", "2")], &ramp(2 * M, M, &[10.0, 20.0]));
    assert_eq!(
        db.matrix(&agg(Sum, sel("s")), 0, 3 * M, M),
        vec![(
            "{}".to_string(),
            vec![(0, 1.0), (M, 2.0), (2 * M, 13.0), (3 * M, 23.0)]
        )]
    );
    let top = agg_full(Topk, Some(num(1.0)), None, sel("s"));
    assert_eq!(
        db.matrix(&top, 0, 3 * M, M),
        vec![
            ("s{i=\"1\"}".to_string(), vec![(0, 1.0), (M, 2.0)]),
            ("s{i=\"2\"}".to_string(), vec![(2 * M, 10.0), (3 * M, 20.0)]),
        ]
    );
}

/// `sum` series by series gives what the step-major loop gives, bit for
/// bit and in the same output order: gaps, NaN, infinities and magnitudes
/// where the order of additions shows.
#[test]
fn sum_series_by_series_equals_the_step_major_loop() {
    use crate::eval::values::{Steps, Val};
    use crate::eval::Evaluator;
    use rand::{Rng, SeedableRng};

    let db = Db::new();
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let values = [1.0, 1e16, -1e16, 0.1, f64::NAN, f64::INFINITY, -3.5, 2.0];
    for i in 0..40 {
        let job = ["a", "b", "c"][i % 3];
        let zone = ["x", "y"][rng.gen_range(0..2)];
        let inst = i.to_string();
        // each series starts late and has holes: groups first appear at
        // different steps, and not in series order
        let mut samples: Vec<(i64, f64)> = Vec::new();
        for k in (i as i64 * 7) % 23..60 {
            if rng.gen_bool(0.8) {
                samples.push((k * M, values[rng.gen_range(0..values.len())]));
            }
        }
        db.add(
            "r",
            &[("job", job), ("zone", zone), ("inst", &inst)],
            &samples,
        );
    }
    let steps = Steps {
        start: 0,
        end: 59 * M,
        step: M,
    };
    let exprs = [
        agg(Sum, sel("r")),
        agg_by(Sum, &["job"], sel("r")),
        agg_by(Sum, &["zone", "job"], sel("r")),
        agg_without(Sum, &["zone"], sel("r")),
    ];
    let snap = db.engine.snapshot();
    let opts = QueryOptions::default();
    let cancel = Cancel::new();
    for e in &exprs {
        let run = |series_major| {
            let mut ev = Evaluator::new(&snap, &opts, &cancel, steps.start, steps.end);
            ev.sum_series_major = series_major;
            match ev.eval(e, steps).unwrap() {
                Val::Vector(series) => series
                    .iter()
                    .map(|s| {
                        let points: Vec<(u32, u64)> =
                            s.points.iter().map(|&(i, v)| (i, v.to_bits())).collect();
                        (s.labels.to_string(), points)
                    })
                    .collect::<Vec<_>>(),
                other => panic!("{other:?}"),
            }
        };
        let (fast, slow) = (run(true), run(false));
        assert!(!slow.is_empty());
        assert_eq!(fast, slow, "{e}");
    }
}
