//! Cases from Prometheus 2.42's `promql/testdata/functions.test`, built by
//! hand (same data, expressions and expected values).

use super::prometheus_cases::{expect, expect_ordered, load, seq};
use super::*;
use BinaryOp::*;

const INF: f64 = f64::INFINITY;
const NAN: f64 = f64::NAN;

fn f(name: &str, args: Vec<Expr>) -> Expr {
    call(name, args)
}

fn f1(name: &str, e: Expr) -> Expr {
    call(name, vec![e])
}

fn path(p: &str) -> [(&str, &str); 1] {
    [("path", p)]
}

#[test]
fn resets_and_changes() {
    let db = Db::new();
    let hr = |p: &str, v: &[f64]| load(&db, "http_requests", &path(p), 5 * M, v);
    hr("/foo", &[1.0, 2.0, 3.0, 0.0, 1.0, 0.0, 0.0, 1.0, 2.0, 0.0]);
    hr("/bar", &[1.0, 2.0, 3.0, 4.0, 5.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
    hr("/biz", &[0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0]);
    let w = |r| mat(sel("http_requests"), r);
    let three = |a, b, c| {
        [
            ("{path=\"/foo\"}", a),
            ("{path=\"/bar\"}", b),
            ("{path=\"/biz\"}", c),
        ]
    };
    let t = 50 * M;
    expect(&db, &f1("resets", w(5 * M)), t, &three(0.0, 0.0, 0.0));
    expect(&db, &f1("resets", w(20 * M)), t, &three(1.0, 0.0, 0.0));
    expect(&db, &f1("resets", w(30 * M)), t, &three(2.0, 1.0, 0.0));
    expect(&db, &f1("resets", w(50 * M)), t, &three(3.0, 1.0, 0.0));
    expect(
        &db,
        &f1("resets", mat(sel("nonexistent_metric"), 50 * M)),
        t,
        &[],
    );
    expect(&db, &f1("changes", w(5 * M)), t, &three(0.0, 0.0, 0.0));
    expect(&db, &f1("changes", w(20 * M)), t, &three(3.0, 3.0, 0.0));
    expect(&db, &f1("changes", w(30 * M)), t, &three(4.0, 5.0, 1.0));
    expect(&db, &f1("changes", w(50 * M)), t, &three(8.0, 9.0, 1.0));
    expect(
        &db,
        &f1("changes", paren(w(50 * M))),
        t,
        &three(8.0, 9.0, 1.0),
    );

    let db = Db::new();
    load(&db, "x", &[("a", "b")], 5 * M, &[NAN, NAN, NAN]);
    load(&db, "x", &[("a", "c")], 5 * M, &[0.0, NAN, 0.0]);
    let e = f1("changes", mat(sel("x"), 15 * M));
    expect(&db, &e, 15 * M, &[("{a=\"b\"}", 0.0), ("{a=\"c\"}", 2.0)]);
}

#[test]
fn increase_rate_irate_delta_idelta() {
    let db = Db::new();
    load(
        &db,
        "http_requests",
        &path("/foo"),
        5 * M,
        &seq(0.0, 10.0, 10),
    );
    let bar: Vec<f64> = seq(0.0, 10.0, 5)
        .into_iter()
        .chain(seq(0.0, 10.0, 5))
        .collect();
    load(&db, "http_requests", &path("/bar"), 5 * M, &bar);
    let w = |r| mat(sel("http_requests"), r);
    let both = |a, b| [("{path=\"/foo\"}", a), ("{path=\"/bar\"}", b)];
    expect(&db, &f1("increase", w(50 * M)), 50 * M, &both(100.0, 90.0));
    expect(&db, &f1("increase", w(100 * M)), 50 * M, &both(100.0, 90.0));
    let q = 1.0 / 30.0;
    expect(&db, &f1("irate", w(50 * M)), 50 * M, &both(q, q));
    expect(&db, &f1("irate", w(50 * M)), 30 * M, &both(q, 0.0));

    let db = Db::new();
    load(
        &db,
        "http_requests",
        &path("/foo"),
        5 * M,
        &[0.0, 1.0, 2.0, 3.0, 2.0, 3.0, 4.0],
    );
    expect(
        &db,
        &f1("increase", mat(sel("http_requests"), 30 * M)),
        30 * M,
        &[("{path=\"/foo\"}", 7.0)],
    );

    let db = Db::new();
    let middle: Vec<f64> = seq(0.0, 10.0, 4)
        .into_iter()
        .chain(seq(0.0, 10.0, 5))
        .collect();
    load(&db, "testcounter_reset_middle", &[], 5 * M, &middle);
    let end: Vec<f64> = seq(0.0, 10.0, 9).into_iter().chain([0.0, 10.0]).collect();
    load(&db, "testcounter_reset_end", &[], 5 * M, &end);
    let r = |name, range| f1("rate", mat(sel(name), range));
    expect(
        &db,
        &r("testcounter_reset_middle", 50 * M),
        50 * M,
        &[("{}", 0.03)],
    );
    expect(
        &db,
        &r("testcounter_reset_end", 5 * M),
        50 * M,
        &[("{}", 0.0)],
    );

    let db = Db::new();
    load(
        &db,
        "calculate_rate_offset",
        &[("x", "a")],
        5 * M,
        &seq(0.0, 10.0, 10),
    );
    load(
        &db,
        "calculate_rate_offset",
        &[("x", "b")],
        5 * M,
        &seq(0.0, 20.0, 10),
    );
    load(
        &db,
        "calculate_rate_window",
        &[],
        5 * M,
        &seq(0.0, 80.0, 10),
    );
    expect(
        &db,
        &f1("rate", mat(sel("calculate_rate_window"), 50 * M)),
        50 * M,
        &[("{}", 0.26666666666666666)],
    );
    expect(
        &db,
        &f1(
            "rate",
            offset(mat(sel("calculate_rate_offset"), 10 * M), 5 * M),
        ),
        50 * M,
        &[
            ("{x=\"a\"}", 0.03333333333333333),
            ("{x=\"b\"}", 0.06666666666666667),
        ],
    );

    let db = Db::new();
    load(
        &db,
        "http_requests",
        &path("/foo"),
        5 * M,
        &[0.0, 50.0, 100.0, 150.0, 200.0],
    );
    load(
        &db,
        "http_requests",
        &path("/bar"),
        5 * M,
        &[200.0, 150.0, 100.0, 50.0, 0.0],
    );
    expect(
        &db,
        &f1("delta", mat(sel("http_requests"), 20 * M)),
        20 * M,
        &[("{path=\"/foo\"}", 200.0), ("{path=\"/bar\"}", -200.0)],
    );
    let db = Db::new();
    load(
        &db,
        "http_requests",
        &path("/foo"),
        5 * M,
        &[0.0, 50.0, 100.0, 150.0],
    );
    load(
        &db,
        "http_requests",
        &path("/bar"),
        5 * M,
        &[0.0, 50.0, 100.0, 50.0],
    );
    expect(
        &db,
        &f1("idelta", mat(sel("http_requests"), 20 * M)),
        20 * M,
        &[("{path=\"/foo\"}", 50.0), ("{path=\"/bar\"}", -50.0)],
    );
}

#[test]
fn rate_zero_cutoff() {
    let db = Db::new();
    for (i, start) in ["0m", "1m", "2m", "3m", "4m", "5m"].into_iter().enumerate() {
        let v = seq(60.0 * i as f64, 240.0, 10);
        load(
            &db,
            "testcounter_zero_cutoff",
            &[("start", start)],
            4 * M,
            &v,
        );
    }
    let e = f1("rate", mat(sel("testcounter_zero_cutoff"), 20 * M));
    let want = |v: [f64; 6]| {
        ["0m", "1m", "2m", "3m", "4m", "5m"]
            .iter()
            .zip(v)
            .map(|(s, v)| (format!("{{start=\"{s}\"}}"), v))
            .collect::<Vec<_>>()
    };
    let check = |t, v| {
        let w = want(v);
        let w: Vec<(&str, f64)> = w.iter().map(|(l, v)| (l.as_str(), *v)).collect();
        expect(&db, &e, t, &w);
    };
    check(10 * M, [0.5, 0.55, 0.6, 0.65, 0.7, 0.6]);
    check(50 * M, [0.6; 6]);
}

#[test]
fn deriv_and_predict_linear() {
    let db = Db::new();
    let middle: Vec<f64> = seq(0.0, 10.0, 4)
        .into_iter()
        .chain(seq(0.0, 10.0, 5))
        .collect();
    load(&db, "testcounter_reset_middle", &[], 5 * M, &middle);
    let l = [
        ("job", "app-server"),
        ("instance", "1"),
        ("group", "canary"),
    ];
    load(&db, "http_requests", &l, 5 * M, &seq(0.0, 80.0, 10));
    let lbl = "{group=\"canary\", instance=\"1\", job=\"app-server\"}";
    let hr = || mat(sel("http_requests"), 50 * M);
    expect(
        &db,
        &f1("rate", hr()),
        50 * M,
        &[(lbl, 0.26666666666666666)],
    );
    expect(
        &db,
        &f1("deriv", hr()),
        50 * M,
        &[(lbl, 0.26666666666666666)],
    );
    let tc = || mat(sel("testcounter_reset_middle"), 100 * M);
    expect(
        &db,
        &f1("deriv", tc()),
        50 * M,
        &[("{}", 0.010606060606060607)],
    );
    let pl = |e| f("predict_linear", vec![e, num(3600.0)]);
    expect(&db, &pl(tc()), 50 * M, &[("{}", 76.81818181818181)]);
    let at3000 = || at(tc(), At::Timestamp(3000 * S));
    expect(&db, &pl(at3000()), 50 * M, &[("{}", 76.81818181818181)]);
    expect(&db, &pl(at3000()), 10 * M, &[("{}", 51.36363636363637)]);
    expect(&db, &pl(at3000()), 70 * M, &[("{}", 89.54545454545455)]);
    let emulated = bin(
        Sub,
        f("predict_linear", vec![hr(), num(3600.0)]),
        bin(
            Add,
            sel("http_requests"),
            bin(Mul, f1("deriv", hr()), num(3600.0)),
        ),
    );
    expect(&db, &emulated, 50 * M, &[(lbl, 0.0)]);
}

#[test]
fn timestamp_clamp_sgn_and_sort() {
    let db = Db::new();
    load(&db, "metric", &[], 10 * S, &[1.0, 1.0]);
    for (t, want) in [(0, 0.0), (5 * S, 0.0), (10 * S, 10.0)] {
        expect(&db, &f1("timestamp", sel("metric")), t, &[("{}", want)]);
        expect(
            &db,
            &f1("timestamp", paren(paren(sel("metric")))),
            t,
            &[("{}", want)],
        );
    }
    let db = Db::new();
    for (s, v) in [("clamp-a", -50.0), ("clamp-b", 0.0), ("clamp-c", 100.0)] {
        load(&db, "test_clamp", &[("src", s)], 5 * M, &[v]);
    }
    let tc = || sel("test_clamp");
    let abc = |a, b, c| {
        [
            ("{src=\"clamp-a\"}", a),
            ("{src=\"clamp-b\"}", b),
            ("{src=\"clamp-c\"}", c),
        ]
    };
    expect(
        &db,
        &f("clamp_max", vec![tc(), num(75.0)]),
        0,
        &abc(-50.0, 0.0, 75.0),
    );
    expect(
        &db,
        &f("clamp_min", vec![tc(), num(-25.0)]),
        0,
        &abc(-25.0, 0.0, 100.0),
    );
    expect(
        &db,
        &f("clamp", vec![tc(), num(-25.0), num(75.0)]),
        0,
        &abc(-25.0, 0.0, 75.0),
    );
    expect(
        &db,
        &f("clamp", vec![tc(), num(0.0), num(NAN)]),
        0,
        &abc(NAN, NAN, NAN),
    );
    expect(
        &db,
        &f("clamp", vec![tc(), num(NAN), num(0.0)]),
        0,
        &abc(NAN, NAN, NAN),
    );
    expect(&db, &f("clamp", vec![tc(), num(5.0), num(-5.0)]), 0, &[]);

    let db = Db::new();
    for (s, v) in [
        ("a", -INF),
        ("b", INF),
        ("c", NAN),
        ("d", -50.0),
        ("e", 0.0),
        ("f", 100.0),
    ] {
        load(&db, "test_sgn", &[("src", s)], 5 * M, &[v]);
    }
    expect(
        &db,
        &f1("sgn", sel("test_sgn")),
        0,
        &[
            ("{src=\"a\"}", -1.0),
            ("{src=\"b\"}", 1.0),
            ("{src=\"c\"}", NAN),
            ("{src=\"d\"}", -1.0),
            ("{src=\"e\"}", 0.0),
            ("{src=\"f\"}", 1.0),
        ],
    );

    let db = Db::new();
    let rows = [
        ("api-server", "0", "production", 10.0),
        ("api-server", "1", "production", 20.0),
        ("api-server", "0", "canary", 30.0),
        ("api-server", "1", "canary", 40.0),
        ("app-server", "0", "production", 50.0),
        ("app-server", "1", "production", 60.0),
        ("app-server", "0", "canary", 70.0),
        ("app-server", "1", "canary", 80.0),
    ];
    for (job, inst, group, step) in rows {
        let l = [("job", job), ("instance", inst), ("group", group)];
        load(&db, "http_requests", &l, 5 * M, &seq(0.0, step, 10));
    }
    let l = [
        ("job", "api-server"),
        ("instance", "2"),
        ("group", "canary"),
    ];
    load(&db, "http_requests", &l, 5 * M, &[NAN; 10]);
    let name = |j: &str, i: &str, g: &str| {
        format!("http_requests{{group=\"{g}\", instance=\"{i}\", job=\"{j}\"}}")
    };
    let mut asc: Vec<(String, f64)> = rows
        .iter()
        .map(|(j, i, g, s)| (name(j, i, g), s * 10.0))
        .collect();
    asc.push((name("api-server", "2", "canary"), NAN));
    expect_ordered(&db, &f1("sort", sel("http_requests")), 50 * M, &asc);
    let mut desc: Vec<(String, f64)> = asc[..8].iter().rev().cloned().collect();
    desc.push(asc[8].clone());
    expect_ordered(&db, &f1("sort_desc", sel("http_requests")), 50 * M, &desc);
}

#[test]
fn holt_winters_trends() {
    for (specs, want) in [
        (
            [
                (seq(0.0, 10.0, 1000), seq(100.0, 30.0, 1000)),
                (seq(0.0, 20.0, 1000), seq(200.0, 30.0, 1000)),
                (seq(0.0, 30.0, 1000), seq(300.0, 80.0, 1000)),
                (seq(0.0, 40.0, 2000), Vec::new()),
            ],
            [8000.0, 16000.0, 24000.0, 32000.0],
        ),
        (
            [
                (seq(8000.0, -10.0, 1000), Vec::new()),
                (seq(0.0, -20.0, 1000), Vec::new()),
                (seq(0.0, 30.0, 1000), seq(300.0, -80.0, 1000)),
                (seq(0.0, -40.0, 1000), seq(0.0, 40.0, 1000)),
            ],
            [0.0, -16000.0, 24000.0, -32000.0],
        ),
    ] {
        let db = Db::new();
        let ids = [
            ("0", "production"),
            ("1", "production"),
            ("0", "canary"),
            ("1", "canary"),
        ];
        for ((inst, group), (a, b)) in ids.iter().zip(specs) {
            let l = [
                ("job", "api-server"),
                ("instance", *inst),
                ("group", *group),
            ];
            let v: Vec<f64> = a.into_iter().chain(b).collect();
            load(&db, "http_requests", &l, 10 * S, &v);
        }
        let e = f(
            "holt_winters",
            vec![mat(sel("http_requests"), M), num(0.01), num(0.1)],
        );
        let labels: Vec<String> = ids
            .iter()
            .map(|(i, g)| format!("{{group=\"{g}\", instance=\"{i}\", job=\"api-server\"}}"))
            .collect();
        let w: Vec<(&str, f64)> = labels.iter().map(String::as_str).zip(want).collect();
        expect(&db, &e, 8000 * S, &w);
    }
}

#[test]
fn avg_over_time_with_infinities() {
    let db = Db::new();
    let big: f64 = "9.988465674311579e+307".parse().unwrap();
    let cases: [(&str, Vec<f64>, f64, f64); 14] = [
        ("metric", vec![1.0, 2.0, 3.0, 4.0, 5.0], 3.0, 3.0),
        ("metric2", vec![1.0, 2.0, 3.0, 4.0, INF], INF, INF),
        ("metric3", vec![1.0, 2.0, 3.0, 4.0, -INF], -INF, -INF),
        ("metric4", vec![1.0, 2.0, 3.0, INF, -INF], NAN, NAN),
        ("metric5", vec![INF, 0.0, INF], INF, INF),
        ("metric5b", vec![INF, 0.0, INF], INF, INF),
        ("metric5c", vec![INF, INF, INF, -INF], NAN, NAN),
        ("metric6", vec![1.0, 2.0, 3.0, -INF, -INF], -INF, -INF),
        ("metric6b", vec![-INF, 0.0, -INF], -INF, -INF),
        ("metric6c", vec![-INF, -INF, -INF, INF], NAN, NAN),
        ("metric7", vec![1.0, 2.0, -INF, -INF, INF], NAN, NAN),
        ("metric8", vec![big, big], big, INF),
        ("metric9", vec![-big, -big, -big], -big, -INF),
        ("metric10", vec![-big, big], 0.0, 0.0),
    ];
    for (name, vals, _, _) in &cases {
        load(&db, name, &[], 10 * S, vals);
    }
    for (name, _, avg, ratio) in cases {
        let w = || mat(sel(name), M);
        expect(&db, &f1("avg_over_time", w()), M, &[("{}", avg)]);
        let e = bin(Div, f1("sum_over_time", w()), f1("count_over_time", w()));
        expect(&db, &e, M, &[("{}", ratio)]);
    }
}

#[test]
fn deviation_quantile_and_nan_over_time() {
    let db = Db::new();
    load(&db, "metric", &[], 10 * S, &[0.0, 8.0, 8.0, 2.0, 3.0]);
    load(&db, "flat", &[], 10 * S, &[1.5990505637277868; 3]);
    expect(
        &db,
        &f1("stdvar_over_time", mat(sel("metric"), M)),
        M,
        &[("{}", 10.56)],
    );
    expect(
        &db,
        &f1("stddev_over_time", mat(sel("metric"), M)),
        M,
        &[("{}", 3.249615)],
    );
    expect(
        &db,
        &f1("stdvar_over_time", mat(sel("flat"), M)),
        M,
        &[("{}", 0.0)],
    );
    expect(
        &db,
        &f1("stddev_over_time", mat(sel("flat"), M)),
        M,
        &[("{}", 0.0)],
    );

    let db = Db::new();
    load(&db, "data", &[("test", "two samples")], 10 * S, &[0.0, 1.0]);
    load(
        &db,
        "data",
        &[("test", "three samples")],
        10 * S,
        &[0.0, 1.0, 2.0],
    );
    load(
        &db,
        "data",
        &[("test", "uneven samples")],
        10 * S,
        &[0.0, 1.0, 4.0],
    );
    for (q, a, b, c) in [
        (0.0, 0.0, 0.0, 0.0),
        (0.5, 0.5, 1.0, 1.0),
        (0.75, 0.75, 1.5, 2.5),
        (0.8, 0.8, 1.6, 2.8),
        (1.0, 1.0, 2.0, 4.0),
        (-1.0, -INF, -INF, -INF),
        (2.0, INF, INF, INF),
    ] {
        let e = f("quantile_over_time", vec![num(q), mat(sel("data"), M)]);
        let want = [
            ("{test=\"two samples\"}", a),
            ("{test=\"three samples\"}", b),
            ("{test=\"uneven samples\"}", c),
        ];
        expect(&db, &e, M, &want);
    }

    let db = Db::new();
    for (ty, v) in [
        ("numbers", [2.0, 0.0, 3.0]),
        ("some_nan", [2.0, 0.0, NAN]),
        ("some_nan2", [2.0, NAN, 1.0]),
        ("some_nan3", [NAN, 0.0, 1.0]),
        ("only_nan", [NAN, NAN, NAN]),
    ] {
        load(&db, "data", &[("type", ty)], 10 * S, &v);
    }
    let t = |ty: &str| format!("{{type=\"{ty}\"}}");
    let names = ["numbers", "some_nan", "some_nan2", "some_nan3", "only_nan"];
    let check = |func: &str, prefix: &str, v: [f64; 5]| {
        let labels: Vec<String> = names.iter().map(|n| format!("{prefix}{}", t(n))).collect();
        let w: Vec<(&str, f64)> = labels.iter().map(String::as_str).zip(v).collect();
        expect(&db, &f1(func, mat(sel("data"), M)), M, &w);
    };
    check("min_over_time", "", [0.0, 0.0, 1.0, 0.0, NAN]);
    check("max_over_time", "", [3.0, 2.0, 2.0, 1.0, NAN]);
    check("last_over_time", "data", [3.0, NAN, 1.0, 1.0, NAN]);
}

#[test]
fn date_functions() {
    let db = Db::new();
    let v = |secs: f64| f1("vector", num(secs));
    let one = |e: Expr, want: f64| expect(&db, &e, 0, &[("{}", want)]);
    one(f("year", vec![]), 1970.0);
    assert_eq!(db.scalar(&f("time", vec![]), 1), 0.001);
    assert_eq!(db.scalar(&f("time", vec![]), 50 * M), 3000.0);
    let t = 1_136_239_445.0;
    for (name, none, some) in [
        ("year", 1970.0, 2006.0),
        ("month", 1.0, 1.0),
        ("day_of_month", 1.0, 2.0),
        ("day_of_year", 1.0, 2.0),
        ("day_of_week", 4.0, 1.0),
        ("hour", 0.0, 22.0),
        ("minute", 0.0, 4.0),
    ] {
        one(f(name, vec![]), none);
        one(f1(name, v(t)), some);
    }
    one(f1("year", v(1_230_767_999.0)), 2008.0);
    one(f1("year", v(1_230_768_000.0)), 2009.0);
    let md = |s| {
        bin(
            Add,
            f1("month", v(s)),
            bin(Div, f1("day_of_month", v(s)), num(100.0)),
        )
    };
    one(md(1_456_790_399.0), 2.29);
    one(md(1_456_790_400.0), 3.01);
    one(f1("day_of_year", v(1_483_191_420.0)), 366.0);
    one(f1("day_of_year", v(1_672_493_820.0)), 365.0);
    one(f1("days_in_month", v(1_454_284_800.0)), 29.0);
    one(f1("days_in_month", v(1_485_907_200.0)), 28.0);
}

#[test]
fn absent_and_absent_over_time() {
    let db = Db::new();
    let eq = |n: &'static str, v: &'static str| (n, MatchOp::Equal, v);
    let t = 50 * M;
    expect(&db, &f1("absent", sel("nonexistent")), t, &[("{}", 1.0)]);
    let e = sel_with(
        "nonexistent",
        &[
            eq("job", "testjob"),
            eq("instance", "testinstance"),
            ("method", MatchOp::RegexMatch, ".x"),
        ],
    );
    expect(
        &db,
        &f1("absent", e),
        t,
        &[("{instance=\"testinstance\", job=\"testjob\"}", 1.0)],
    );
    let e = sel_with(
        "nonexistent",
        &[
            eq("job", "testjob"),
            eq("job", "testjob2"),
            eq("foo", "bar"),
        ],
    );
    expect(&db, &f1("absent", e), t, &[("{foo=\"bar\"}", 1.0)]);
    let e = sel_with(
        "nonexistent",
        &[
            eq("job", "testjob"),
            ("job", MatchOp::RegexMatch, "testjob2"),
            eq("foo", "bar"),
        ],
    );
    expect(&db, &f1("absent", e), t, &[("{foo=\"bar\"}", 1.0)]);
    let summed = agg(
        AggregateOp::Sum,
        sel_with("nonexistent", &[eq("job", "testjob")]),
    );
    expect(&db, &f1("absent", summed), t, &[("{}", 1.0)]);
    expect(
        &db,
        &f1("absent", bin(Gt, sel("nonexistant"), num(1.0))),
        t,
        &[("{}", 1.0)],
    );
    expect(
        &db,
        &f1("absent", bin(And, sel("a"), sel("b"))),
        t,
        &[("{}", 1.0)],
    );
    let r = f1("rate", mat(sel("nonexistant"), 5 * M));
    expect(&db, &f1("absent", r), t, &[("{}", 1.0)]);

    let aot = |e| f1("absent_over_time", e);
    let hr =
        |ms: &[(&'static str, MatchOp, &'static str)]| mat(sel_with("http_requests", ms), 5 * M);
    expect(&db, &aot(hr(&[])), M, &[("{}", 1.0)]);
    expect(
        &db,
        &aot(hr(&[eq("handler", "/foo")])),
        M,
        &[("{handler=\"/foo\"}", 1.0)],
    );
    expect(
        &db,
        &aot(hr(&[("handler", MatchOp::NotEqual, "/foo")])),
        M,
        &[("{}", 1.0)],
    );
    let e = hr(&[
        eq("handler", "/foo"),
        eq("handler", "/bar"),
        eq("instance", "127.0.0.1"),
    ]);
    expect(&db, &aot(e), M, &[("{instance=\"127.0.0.1\"}", 1.0)]);
    let sub = sq(f1("rate", mat(sel("nonexistant"), 5 * M)), 5 * M, None);
    expect(&db, &aot(sub), M, &[("{}", 1.0)]);

    let db = Db::new();
    let l = |p| [("path", p), ("instance", "127.0.0.1"), ("job", "httpd")];
    load(&db, "http_requests", &l("/foo"), M, &seq(1.0, 1.0, 10));
    load(&db, "http_requests", &l("/bar"), M, &seq(1.0, 1.0, 10));
    let node = [("instance", "127.0.0.1"), ("job", "node")];
    load(
        &db,
        "httpd_handshake_failures_total",
        &node,
        M,
        &seq(1.0, 1.0, 15),
    );
    load(&db, "httpd_log_lines_total", &node, M, &[1.0]);
    load(
        &db,
        "ssl_certificate_expiry_seconds",
        &[("job", "ingress")],
        M,
        &[NAN; 5],
    );
    let inst = |range| mat(sel_matchers(&[eq("instance", "127.0.0.1")]), range);
    let ingress = || mat(sel_matchers(&[eq("job", "ingress")]), 4 * M);
    expect(&db, &aot(mat(sel("http_requests"), 5 * M)), 5 * M, &[]);
    let sub = sq(f1("rate", mat(sel("http_requests"), 5 * M)), 5 * M, Some(M));
    expect(&db, &aot(sub), 5 * M, &[]);
    expect(&db, &aot(mat(sel("httpd_log_lines_total"), 30 * S)), 0, &[]);
    expect(
        &db,
        &aot(mat(sel("httpd_log_lines_total"), 30 * S)),
        M,
        &[("{}", 1.0)],
    );
    expect(&db, &aot(mat(sel("http_requests"), 5 * M)), 15 * M, &[]);
    expect(
        &db,
        &aot(mat(sel("http_requests"), 5 * M)),
        16 * M,
        &[("{}", 1.0)],
    );
    expect(&db, &aot(mat(sel("http_requests"), 6 * M)), 16 * M, &[]);
    expect(
        &db,
        &aot(mat(sel("httpd_handshake_failures_total"), M)),
        16 * M,
        &[],
    );
    expect(&db, &aot(inst(5 * M)), 16 * M, &[]);
    expect(
        &db,
        &aot(inst(5 * M)),
        21 * M,
        &[("{instance=\"127.0.0.1\"}", 1.0)],
    );
    expect(&db, &aot(inst(20 * M)), 21 * M, &[]);
    let grok = mat(sel_matchers(&[eq("job", "grok")]), 20 * M);
    expect(&db, &aot(grok), 21 * M, &[("{job=\"grok\"}", 1.0)]);
    let sub = sq(
        sel_matchers(&[eq("instance", "127.0.0.1")]),
        5 * M,
        Some(5 * S),
    );
    expect(&db, &aot(sub), 30 * M, &[("{}", 1.0)]);
    expect(&db, &aot(ingress()), 5 * M, &[]);
    expect(&db, &aot(ingress()), 10 * M, &[("{job=\"ingress\"}", 1.0)]);

    let pot = |e| f1("present_over_time", e);
    let both = [
        (
            "{instance=\"127.0.0.1\", job=\"httpd\", path=\"/bar\"}",
            1.0,
        ),
        (
            "{instance=\"127.0.0.1\", job=\"httpd\", path=\"/foo\"}",
            1.0,
        ),
    ];
    expect(&db, &pot(mat(sel("http_requests"), 5 * M)), 5 * M, &both);
    expect(&db, &pot(mat(sel("http_requests"), 5 * M)), 16 * M, &[]);
    expect(&db, &pot(mat(sel("http_requests"), 6 * M)), 16 * M, &both);
    expect(
        &db,
        &pot(inst(5 * M)),
        16 * M,
        &[("{instance=\"127.0.0.1\", job=\"node\"}", 1.0)],
    );
    expect(&db, &pot(ingress()), 5 * M, &[("{job=\"ingress\"}", 1.0)]);
    expect(&db, &pot(ingress()), 10 * M, &[]);
}
