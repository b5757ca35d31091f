//! Cases from Prometheus 2.42's own test files (`promql/testdata/
//! at_modifier.test` and `subquery.test`), built by hand: the same data,
//! expressions and expected values, compared as Prometheus's test harness
//! compares them (relative difference below 1e-6).

use super::*;
use BinaryOp::Add;

/// `a+bxn`: n+1 values from `a`, adding `b` each time.
pub(super) fn seq(a: f64, b: f64, n: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(n + 1);
    let mut v = a;
    for _ in 0..=n {
        out.push(v);
        v += b;
    }
    out
}

pub(super) fn load(db: &Db, name: &str, labels: &[(&str, &str)], interval: i64, vals: &[f64]) {
    db.add(name, labels, &ramp(0, interval, vals));
}

/// Prometheus's `almostEqual` with epsilon 1e-6.
fn almost_equal(a: f64, b: f64) -> bool {
    if a == b || (a.is_nan() && b.is_nan()) {
        return true;
    }
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || diff < f64::MIN_POSITIVE {
        return diff < 1e-6 * f64::MIN_POSITIVE;
    }
    diff / (a.abs() + b.abs()) < 1e-6
}

#[track_caller]
pub(super) fn expect(db: &Db, e: &Expr, t: i64, want: &[(&str, f64)]) {
    let got = db.vector_sorted(e, t);
    let mut want = owned(want);
    want.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        got.iter().map(|g| &g.0).collect::<Vec<_>>(),
        want.iter().map(|w| &w.0).collect::<Vec<_>>(),
        "labels of {e:?}"
    );
    for (g, w) in got.iter().zip(&want) {
        assert!(almost_equal(g.1, w.1), "{}: got {}, want {}", g.0, g.1, w.1);
    }
}

/// Like [`expect`], in result order.
#[track_caller]
pub(super) fn expect_ordered(db: &Db, e: &Expr, t: i64, want: &[(String, f64)]) {
    let got = db.vector(e, t);
    assert_eq!(
        got.iter().map(|g| &g.0).collect::<Vec<_>>(),
        want.iter().map(|w| &w.0).collect::<Vec<_>>(),
        "order of {e:?}"
    );
    for (g, w) in got.iter().zip(want) {
        assert!(almost_equal(g.1, w.1), "{}: got {}, want {}", g.0, g.1, w.1);
    }
}

fn job(j: &str) -> Expr {
    sel_with("metric", &[("job", MatchOp::Equal, j)])
}

fn f(name: &str, args: Vec<Expr>) -> Expr {
    call(name, args)
}

fn at_s(e: Expr, secs: f64) -> Expr {
    at(e, At::Timestamp((secs * 1000.0) as i64))
}

fn at_modifier_data() -> Db {
    let db = Db::new();
    load(&db, "metric", &[("job", "1")], 10 * S, &seq(0.0, 1.0, 1000));
    load(&db, "metric", &[("job", "2")], 10 * S, &seq(0.0, 2.0, 1000));
    load(&db, "metric_ms", &[], 1, &seq(0.0, 1.0, 10000));
    db
}

#[test]
fn at_modifier_selectors() {
    let db = at_modifier_data();
    let both = [("metric{job=\"1\"}", 10.0), ("metric{job=\"2\"}", 20.0)];
    expect(&db, &at_s(sel("metric"), 100.0), 10 * S, &both);
    let half = [("metric{job=\"1\"}", 5.0), ("metric{job=\"2\"}", 10.0)];
    expect(
        &db,
        &offset(at_s(sel("metric"), 100.0), 50 * S),
        10 * S,
        &half,
    );
    expect(
        &db,
        &offset(at_s(sel("metric"), 0.0), -50 * S),
        10 * S,
        &half,
    );
    expect(
        &db,
        &neg(at_s(sel("metric"), 100.0)),
        10 * S,
        &[("{job=\"1\"}", -10.0), ("{job=\"2\"}", -20.0)],
    );
    expect(
        &db,
        &at(sel("metric_ms"), At::Timestamp(1234)),
        100 * S,
        &[("metric_ms{}", 1234.0)],
    );
    let sot = |e| f("sum_over_time", vec![e]);
    expect(
        &db,
        &sot(at_s(mat(job("1"), 100 * S), 100.0)),
        25 * S,
        &[("{job=\"1\"}", 55.0)],
    );
    expect(
        &db,
        &sot(offset(at_s(mat(job("1"), 100 * S), 100.0), 50 * S)),
        25 * S,
        &[("{job=\"1\"}", 15.0)],
    );
    expect(
        &db,
        &bin(Add, at_s(job("1"), 50.0), at_s(job("1"), 100.0)),
        25 * S,
        &[("{job=\"1\"}", 15.0)],
    );
    let relabel = |e| {
        f(
            "label_replace",
            vec![e, string("job"), string("1"), string(""), string("")],
        )
    };
    let e = bin(
        Add,
        f("rate", vec![at_s(mat(job("1"), 100 * S), 100.0)]),
        relabel(f("rate", vec![at_s(mat(job("2"), 123 * S), 200.0)])),
    );
    expect(&db, &e, 25 * S, &[("{job=\"1\"}", 0.3)]);
    let e = bin(
        Add,
        sot(at_s(mat(job("1"), 100 * S), 100.0)),
        relabel(sot(at_s(mat(job("2"), 100 * S), 100.0))),
    );
    expect(&db, &e, 25 * S, &[("{job=\"1\"}", 165.0)]);
}

#[test]
fn at_modifier_subqueries() {
    let db = at_modifier_data();
    let sot = |e| f("sum_over_time", vec![e]);
    let one = |v| [("{job=\"1\"}", v)];
    expect(
        &db,
        &sot(at_s(sq(job("1"), 100 * S, Some(S)), 100.0)),
        25 * S,
        &one(460.0),
    );
    expect(
        &db,
        &sot(offset(at_s(sq(job("1"), 100 * S, Some(S)), 100.0), 20 * S)),
        25 * S,
        &one(288.0),
    );
    let inner = || sot(at_s(mat(job("1"), 100 * S), 100.0));
    let mid = || sot(at_s(sq(inner(), 100 * S, Some(25 * S)), 50.0));
    expect(&db, &mid(), 100 * S, &one(275.0));
    expect(
        &db,
        &sot(at_s(sq(mid(), 3 * S, Some(S)), 3000.0)),
        0,
        &one(1100.0),
    );
    let inner10 = || sot(mat(job("1"), 10 * S));
    let nested = |a: f64, b: f64| {
        sot(at_s(
            sq(
                sot(at_s(sq(inner10(), 100 * S, Some(25 * S)), a)),
                3 * S,
                Some(S),
            ),
            b,
        ))
    };
    expect(&db, &nested(50.0, 200.0), 0, &one(44.0));
    expect(&db, &nested(200.0, 50.0), 0, &one(464.0));
    let inner20 = sot(mat(job("1"), 20 * S));
    let e = sot(at_s(
        sq(
            sot(offset(sq(inner20, 20 * S, Some(10 * S)), 10 * S)),
            100 * S,
            Some(25 * S),
        ),
        1000.0,
    ));
    expect(&db, &e, 0, &one(3588.0));
}

#[test]
fn at_modifier_with_time_functions() {
    let db = at_modifier_data();
    let sot = |e| f("sum_over_time", vec![e]);
    expect(
        &db,
        &f("minute", vec![at_s(sel("metric"), 1500.0)]),
        10 * S,
        &[("{job=\"1\"}", 2.0), ("{job=\"2\"}", 5.0)],
    );
    let ts = |e| f("timestamp", vec![e]);
    expect(
        &db,
        &ts(at_s(job("1"), 10.0)),
        10 * M,
        &[("{job=\"1\"}", 10.0)],
    );
    expect(
        &db,
        &ts(ts(at_s(job("1"), 10.0))),
        10 * M,
        &[("{job=\"1\"}", 600.0)],
    );
    expect(
        &db,
        &ts(ts(at_s(job("1"), 10.0))),
        15 * M,
        &[("{job=\"1\"}", 900.0)],
    );
    let e = sot(sq(
        f("minute", vec![at_s(sel("metric"), 1500.0)]),
        100 * S,
        Some(10 * S),
    ));
    expect(&db, &e, 0, &[("{job=\"1\"}", 22.0), ("{job=\"2\"}", 55.0)]);
    let minutes = || sq(f("minute", vec![]), 50 * M, Some(M));
    expect(&db, &sot(at_s(minutes(), 6000.0)), 0, &[("{}", 1365.0)]);
    expect(
        &db,
        &sot(offset(at_s(minutes(), 6000.0), 5 * M)),
        0,
        &[("{}", 1410.0)],
    );
    let times = || sq(f("vector", vec![f("time", vec![])]), 100 * S, Some(S));
    expect(&db, &sot(at_s(times(), 3000.0)), 0, &[("{}", 297950.0)]);
    expect(
        &db,
        &sot(offset(at_s(times(), 3000.0), 600 * S)),
        0,
        &[("{}", 237350.0)],
    );
    let e = sot(at_s(
        sq(ts(at_s(job("1"), 10.0)), 100 * S, Some(10 * S)),
        3000.0,
    ));
    expect(&db, &e, 0, &[("{job=\"1\"}", 110.0)]);
    let e = sot(at_s(
        sq(ts(ts(at_s(job("1"), 999.0))), 10 * S, Some(S)),
        10.0,
    ));
    expect(&db, &e, 0, &[("{job=\"1\"}", 55.0)]);
}

#[test]
fn subquery_cases() {
    let db = Db::new();
    load(&db, "metric", &[], 10 * S, &[1.0, 2.0]);
    let sot = |e| f("sum_over_time", vec![e]);
    let m = || sel("metric");
    expect(
        &db,
        &sot(sq(m(), 50 * S, Some(10 * S))),
        10 * S,
        &[("{}", 3.0)],
    );
    expect(
        &db,
        &sot(sq(m(), 50 * S, Some(5 * S))),
        10 * S,
        &[("{}", 4.0)],
    );
    expect(
        &db,
        &sot(sq(m(), 50 * S, Some(10 * S))),
        5 * M,
        &[("{}", 12.0)],
    );
    expect(
        &db,
        &sot(sq(m(), 50 * S, Some(10 * S))),
        6 * M,
        &[("{}", 2.0)],
    );
    expect(
        &db,
        &f("rate", vec![sq(m(), 20 * S, Some(10 * S))]),
        10 * S,
        &[("{}", 0.1)],
    );
    expect(
        &db,
        &f("rate", vec![sq(m(), 20 * S, Some(5 * S))]),
        20 * S,
        &[("{}", 0.05)],
    );

    let db = Db::new();
    load(&db, "metric1", &[], 10 * S, &seq(0.0, 1.0, 1000));
    load(&db, "metric2", &[], 10 * S, &seq(0.0, 2.0, 1000));
    load(&db, "metric3", &[], 10 * S, &seq(0.0, 3.0, 1000));
    let s30 = |name: &str, step| sq(sel(name), 30 * S, Some(step));
    expect(
        &db,
        &sot(s30("metric1", 10 * S)),
        1000 * S,
        &[("{}", 394.0)],
    );
    expect(&db, &sot(s30("metric1", 5 * S)), 1000 * S, &[("{}", 688.0)]);
    expect(
        &db,
        &sot(offset(s30("metric1", 10 * S), 10 * S)),
        1010 * S,
        &[("{}", 394.0)],
    );
    for off in [9, 7, 5, 3] {
        expect(
            &db,
            &sot(offset(s30("metric1", 10 * S), off * S)),
            1010 * S,
            &[("{}", 297.0)],
        );
    }
    for (name, want) in [("metric1", 0.4), ("metric2", 0.8), ("metric3", 1.2)] {
        let e = f(
            "rate",
            vec![sq(sot(s30(name, 10 * S)), 50 * S, Some(10 * S))],
        );
        expect(&db, &e, 1000 * S, &[("{}", want)]);
    }
    let all = bin(
        Add,
        bin(Add, sel("metric1"), sel("metric2")),
        sel("metric3"),
    );
    let e = f(
        "rate",
        vec![sq(
            sot(sq(paren(all), 30 * S, Some(10 * S))),
            30 * S,
            Some(10 * S),
        )],
    );
    expect(&db, &e, 1000 * S, &[("{}", 2.4)]);
}

#[test]
fn subqueries_over_rates() {
    let db = Db::new();
    let series = [
        (
            "1",
            "production",
            seq(0.0, 20.0, 1000),
            seq(200.0, 30.0, 1000),
        ),
        (
            "0",
            "production",
            seq(0.0, 10.0, 1000),
            seq(100.0, 30.0, 1000),
        ),
        ("0", "canary", seq(0.0, 30.0, 1000), seq(300.0, 80.0, 1000)),
    ];
    for (inst, group, a, b) in series {
        let vals: Vec<f64> = a.into_iter().chain(b).collect();
        let l = [("job", "api-server"), ("instance", inst), ("group", group)];
        load(&db, "http_requests", &l, 10 * S, &vals);
    }
    let l = [
        ("job", "api-server"),
        ("instance", "1"),
        ("group", "canary"),
    ];
    load(&db, "http_requests", &l, 10 * S, &seq(0.0, 40.0, 2000));
    let prod = sel_with("http_requests", &[("group", MatchOp::RegexMatch, "pro.*")]);
    expect(
        &db,
        &f("rate", vec![sq(prod, M, Some(10 * S))]),
        8000 * S,
        &[
            (
                "{group=\"production\", instance=\"0\", job=\"api-server\"}",
                1.0,
            ),
            (
                "{group=\"production\", instance=\"1\", job=\"api-server\"}",
                2.0,
            ),
        ],
    );
    let e = f(
        "avg_over_time",
        vec![sq(
            f("rate", vec![mat(sel("http_requests"), M)]),
            M,
            Some(S),
        )],
    );
    expect(
        &db,
        &e,
        20000 * S,
        &[
            (
                "{group=\"canary\", instance=\"0\", job=\"api-server\"}",
                8.0,
            ),
            (
                "{group=\"canary\", instance=\"1\", job=\"api-server\"}",
                4.0,
            ),
            (
                "{group=\"production\", instance=\"1\", job=\"api-server\"}",
                3.0,
            ),
            (
                "{group=\"production\", instance=\"0\", job=\"api-server\"}",
                3.0,
            ),
        ],
    );
}

#[test]
fn fibonacci_rates() {
    let db = Db::new();
    let mut fib = vec![1.0f64, 1.0];
    while fib.len() < 180 {
        let n = fib.len();
        fib.push(fib[n - 1] + fib[n - 2]);
    }
    load(&db, "metric", &[], 7 * S, &fib);
    let m = || sel("metric");
    expect(
        &db,
        &f("rate", vec![mat(m(), M)]),
        80 * S,
        &[("{}", 2.517857143)],
    );
    expect(
        &db,
        &f("rate", vec![sq(m(), M, Some(10 * S))]),
        80 * S,
        &[("{}", 2.366666667)],
    );
    expect(
        &db,
        &f("min_over_time", vec![mat(m(), 10 * S)]),
        20 * S,
        &[("{}", 2.0)],
    );
    expect(
        &db,
        &f("min_over_time", vec![sq(m(), 10 * S, Some(10 * S))]),
        20 * S,
        &[("{}", 1.0)],
    );
    let e = f(
        "min_over_time",
        vec![sq(f("rate", vec![mat(m(), 5 * M)]), 20 * M, Some(M))],
    );
    expect(&db, &e, 20 * M, &[("{}", 0.12119047619047618)]);
}
