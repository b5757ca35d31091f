//! Functions of range vectors, through the engine.

use super::*;
use crate::functions::over_time;
use crate::functions::rate::extrapolated_rate;

fn counter() -> Db {
    let db = Db::new();
    db.add(
        "c",
        &[("job", "a")],
        &[
            (60 * S, 100.0),
            (120 * S, 200.0),
            (180 * S, 50.0),
            (240 * S, 150.0),
        ],
    );
    db
}

fn f1(name: &str, e: Expr) -> Expr {
    call(name, vec![e])
}

#[test]
fn rate_increase_delta_with_a_reset() {
    let db = counter();
    let c4 = || mat(sel("c"), 4 * M);
    // delta 150 - 100 + 200 (the value before the reset) = 250; 60 s to the
    // window start (< 1.1 * 60 s: extrapolated; the zero point, 72 s away,
    // is farther), 0 s to the end.
    assert_eq!(
        db.vector(&f1("increase", c4()), 240 * S),
        owned(&[("{job=\"a\"}", 250.0 * (240.0 / 180.0))])
    );
    assert_eq!(
        db.vector(&f1("rate", c4()), 240 * S),
        owned(&[("{job=\"a\"}", 250.0 * (240.0 / 180.0 / 240.0))])
    );
    assert_eq!(
        db.vector(&f1("delta", c4()), 240 * S),
        owned(&[("{job=\"a\"}", 50.0 * (240.0 / 180.0))])
    );
    assert_eq!(
        db.vector(&f1("irate", c4()), 240 * S),
        owned(&[("{job=\"a\"}", 100.0 / 60.0)])
    );
    assert_eq!(
        db.vector(&f1("idelta", c4()), 240 * S),
        owned(&[("{job=\"a\"}", 100.0)])
    );
    assert_eq!(
        db.vector(&f1("resets", c4()), 240 * S),
        owned(&[("{job=\"a\"}", 1.0)])
    );
    assert_eq!(
        db.vector(&f1("changes", c4()), 240 * S),
        owned(&[("{job=\"a\"}", 3.0)])
    );
    // one sample in the window: no rate
    assert_eq!(
        db.vector(&f1("increase", mat(sel("c"), 30 * S)), 240 * S),
        owned(&[])
    );
    assert_eq!(
        db.vector(&f1("resets", mat(sel("c"), 30 * S)), 240 * S),
        owned(&[("{job=\"a\"}", 0.0)])
    );
}

#[test]
fn rate_steps_of_a_range_query_match_the_formula() {
    let db = Db::new();
    let mut samples = Vec::new();
    let mut v = 0.0;
    for i in 0..200i64 {
        v = if i % 53 == 52 {
            3.0
        } else {
            v + (i % 7) as f64
        };
        samples.push((i * 15 * S + (i % 3) * 7, v));
    }
    db.add("k", &[], &samples);
    let got = db.matrix(&f1("rate", mat(sel("k"), 2 * M)), 0, 50 * M, 20 * S);
    let (ts, vs): (Vec<i64>, Vec<f64>) = samples.iter().copied().unzip();
    let mut want = Vec::new();
    for t in (0..=50 * M).step_by(20_000) {
        let lo = ts.partition_point(|&x| x < t - 2 * M);
        let hi = ts.partition_point(|&x| x <= t);
        if let Some(r) =
            extrapolated_rate(&ts[lo..hi], &vs[lo..hi], t - 2 * M, t, 2 * M, true, true)
        {
            want.push((t, r));
        }
    }
    assert_eq!(got, vec![("{}".to_string(), want)]);
}

#[test]
fn over_time_functions() {
    let db = Db::new();
    let vals = [2.0, 4.0, 6.0, 8.0, 0.0];
    db.add("g", &[("i", "1")], &ramp(0, M, &vals));
    let w = || mat(sel("g"), 4 * M);
    let one = |name: &str| db.vector(&f1(name, w()), 4 * M);
    let l = "{i=\"1\"}";
    assert_eq!(one("sum_over_time"), owned(&[(l, 20.0)]));
    assert_eq!(one("avg_over_time"), owned(&[(l, 4.0)]));
    assert_eq!(one("min_over_time"), owned(&[(l, 0.0)]));
    assert_eq!(one("max_over_time"), owned(&[(l, 8.0)]));
    assert_eq!(one("count_over_time"), owned(&[(l, 5.0)]));
    assert_eq!(one("present_over_time"), owned(&[(l, 1.0)]));
    assert_eq!(
        one("stdvar_over_time"),
        owned(&[(l, over_time::stdvar(&vals))])
    );
    assert_eq!(
        one("stddev_over_time"),
        owned(&[(l, over_time::stddev(&vals))])
    );
    assert_eq!(over_time::stdvar(&vals), 8.0);
    // last_over_time keeps the metric name
    assert_eq!(one("last_over_time"), owned(&[("g{i=\"1\"}", 0.0)]));
    let q = call("quantile_over_time", vec![num(0.5), w()]);
    assert_eq!(db.vector(&q, 4 * M), owned(&[(l, 4.0)]));
    let q = call("quantile_over_time", vec![num(0.75), w()]);
    assert_eq!(db.vector(&q, 4 * M), owned(&[(l, 6.0)]));
    // the window [t - 1 m, t] at 2 m 30 s holds only the 2 m sample
    assert_eq!(
        db.vector(&f1("sum_over_time", mat(sel("g"), M)), 150 * S),
        owned(&[(l, 6.0)])
    );
}

#[test]
fn stale_markers_are_not_in_windows() {
    let db = Db::new();
    db.add("st", &[], &[(0, 1.0), (M, STALE), (2 * M, 3.0)]);
    let e = f1("count_over_time", mat(sel("st"), 5 * M));
    assert_eq!(db.vector(&e, 2 * M), owned(&[("{}", 2.0)]));
    let e = f1("last_over_time", mat(sel("st"), 30 * S));
    assert_eq!(db.vector(&e, M + 10 * S), owned(&[]));
}

#[test]
fn deriv_and_predict_linear_at_the_evaluation_time() {
    let db = Db::new();
    // v = 2 per second
    let vals: Vec<f64> = (0..5).map(|i| f64::from(i * 120)).collect();
    db.add("l", &[], &ramp(0, M, &vals));
    assert_eq!(
        db.vector(&f1("deriv", mat(sel("l"), 4 * M)), 4 * M),
        owned(&[("{}", 2.0)])
    );
    let p = call("predict_linear", vec![mat(sel("l"), 4 * M), num(60.0)]);
    assert_eq!(db.vector(&p, 4 * M), owned(&[("{}", 600.0)]));
    // with an offset the regression is still anchored at the evaluation
    // time: the line at 5 m is 600, one minute later 720
    let p = call(
        "predict_linear",
        vec![offset(mat(sel("l"), 4 * M), M), num(60.0)],
    );
    assert_eq!(db.vector(&p, 5 * M), owned(&[("{}", 720.0)]));
}

#[test]
fn holt_winters_smooths_and_rejects_bad_factors() {
    let db = Db::new();
    db.add("hw", &[], &ramp(0, M, &[1.0, 2.0, 4.0]));
    let hw = |sf, tf| {
        call(
            "holt_winters",
            vec![mat(sel("hw"), 5 * M), num(sf), num(tf)],
        )
    };
    assert_eq!(db.vector(&hw(0.5, 0.5), 2 * M), owned(&[("{}", 3.5)]));
    assert_eq!(
        db.error(&hw(1.0, 0.5), 2 * M),
        "invalid smoothing factor. Expected: 0 < sf < 1, got: 1.000000"
    );
    // no series: nothing to complain about
    let none = call(
        "holt_winters",
        vec![mat(sel("none"), 5 * M), num(7.0), num(0.5)],
    );
    assert_eq!(db.vector(&none, 2 * M), owned(&[]));
}

#[test]
fn absent_and_present_over_time() {
    let db = Db::new();
    db.add("p", &[("job", "x")], &[(0, 1.0)]);
    let absent = f1(
        "absent_over_time",
        mat(
            sel_with(
                "nope",
                &[
                    ("job", MatchOp::Equal, "x"),
                    ("env", MatchOp::RegexMatch, "a.*"),
                ],
            ),
            M,
        ),
    );
    assert_eq!(db.vector(&absent, M), owned(&[("{job=\"x\"}", 1.0)]));
    assert_eq!(
        db.vector(&f1("absent_over_time", mat(sel("p"), M)), M),
        owned(&[])
    );
    // over a range: 1 where the window is empty
    assert_eq!(
        db.matrix(&f1("absent_over_time", mat(sel("p"), M)), 0, 3 * M, M),
        vec![("{}".to_string(), vec![(2 * M, 1.0), (3 * M, 1.0)])]
    );
    assert_eq!(
        db.matrix(&f1("present_over_time", mat(sel("p"), M)), 0, 3 * M, M),
        vec![("{job=\"x\"}".to_string(), vec![(0, 1.0), (M, 1.0)])]
    );
}

#[test]
fn dropping_the_name_must_leave_label_sets_unique() {
    let db = Db::new();
    db.add("c1", &[("k", "1")], &ramp(0, M, &[1.0, 2.0]));
    db.add("c2", &[("k", "1")], &ramp(10 * M, M, &[1.0, 2.0]));
    let both = mat(
        sel_matchers(&[("__name__", MatchOp::RegexMatch, "c1|c2")]),
        30 * M,
    );
    assert_eq!(
        db.error(&f1("rate", both.clone()), 11 * M),
        "vector cannot contain metrics with the same labelset"
    );
    // last_over_time keeps names, so no clash
    assert_eq!(db.vector(&f1("last_over_time", both), 11 * M).len(), 2);
}

#[test]
fn at_modifier_on_range_arguments() {
    let db = counter();
    let fixed = f1("increase", at(mat(sel("c"), 4 * M), At::Timestamp(240 * S)));
    let want = 250.0 * (240.0 / 180.0);
    assert_eq!(db.vector(&fixed, 10 * H), owned(&[("{job=\"a\"}", want)]));
    // step invariant: the same window at every step of a range query
    assert_eq!(
        db.matrix(&fixed, 0, 2 * M, M),
        vec![(
            "{job=\"a\"}".to_string(),
            vec![(0, want), (M, want), (2 * M, want)]
        )]
    );
}

#[test]
fn predict_linear_with_at_moves_with_the_step_as_in_prometheus() {
    // predict_linear is not step invariant: Prometheus turns the @ into an
    // offset from the first step, so later steps read later windows.
    let db = Db::new();
    let vals = [0.0, 0.0, 0.0, 0.0, 0.0, 60.0, 120.0, 180.0, 240.0, 300.0];
    db.add("l", &[], &ramp(0, M, &vals));
    let e = call(
        "predict_linear",
        vec![at(mat(sel("l"), 2 * M), At::Timestamp(4 * M)), num(0.0)],
    );
    // windows [2 m, 4 m] (all 0), [3 m, 5 m] (0, 0, 60: slope 0.5, at 11 m
    // 230), [4 m, 6 m] (0, 60, 120: slope 1, at 12 m 480); the intercept is
    // taken at each step's time
    assert_eq!(
        db.matrix(&e, 10 * M, 12 * M, M),
        vec![(
            "{}".to_string(),
            vec![(10 * M, 0.0), (11 * M, 230.0), (12 * M, 480.0)]
        )]
    );
}
