//! Cases from Prometheus 2.42's `promql/testdata/aggregators.test`,
//! `staleness.test` and `collision.test`, built by hand.

use super::prometheus_cases::{expect, expect_ordered, load, seq};
use super::*;
use AggregateOp::*;

const NAN: f64 = f64::NAN;

fn hr_name(job: &str, inst: &str, group: &str) -> String {
    format!("http_requests{{group=\"{group}\", instance=\"{inst}\", job=\"{job}\"}}")
}

fn k(op: AggregateOp, n: f64, e: Expr) -> Expr {
    agg_full(op, Some(num(n)), None, e)
}

#[test]
fn topk_bottomk_order_as_prometheus() {
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
        ("group", "production"),
    ];
    load(&db, "http_requests", &l, 5 * M, &[NAN; 10]);
    load(&db, "foo", &[], 5 * M, &seq(3.0, 0.0, 10));
    let t = 50 * M;
    let w = |v: &[(&str, &str, &str, f64)]| -> Vec<(String, f64)> {
        v.iter()
            .map(|(j, i, g, x)| (hr_name(j, i, g), *x))
            .collect()
    };
    let hr = || sel("http_requests");
    let sel2 = |g: &'static str, j: &'static str| {
        sel_with(
            "http_requests",
            &[("group", MatchOp::Equal, g), ("job", MatchOp::Equal, j)],
        )
    };
    let top3 = w(&[
        ("app-server", "1", "canary", 800.0),
        ("app-server", "0", "canary", 700.0),
        ("app-server", "1", "production", 600.0),
    ]);
    expect_ordered(&db, &k(Topk, 3.0, hr()), t, &top3);
    expect_ordered(
        &db,
        &agg_full(Topk, Some(paren(num(3.0))), None, paren(hr())),
        t,
        &top3,
    );
    let scalar_foo = call("scalar", vec![sel("foo")]);
    expect_ordered(&db, &agg_full(Topk, Some(scalar_foo), None, hr()), t, &top3);
    let canary_app = w(&[
        ("app-server", "1", "canary", 800.0),
        ("app-server", "0", "canary", 700.0),
    ]);
    expect_ordered(
        &db,
        &k(Topk, 5.0, sel2("canary", "app-server")),
        t,
        &canary_app,
    );
    expect_ordered(
        &db,
        &k(Bottomk, 3.0, hr()),
        t,
        &w(&[
            ("api-server", "0", "production", 100.0),
            ("api-server", "1", "production", 200.0),
            ("api-server", "0", "canary", 300.0),
        ]),
    );
    let rev: Vec<(String, f64)> = canary_app.iter().rev().cloned().collect();
    expect_ordered(&db, &k(Bottomk, 5.0, sel2("canary", "app-server")), t, &rev);
    expect_ordered(
        &db,
        &k(Bottomk, 9_999_999_999.0, sel2("canary", "app-server")),
        t,
        &rev,
    );
    let by_group = |op, n| agg_full(op, Some(num(n)), grouping(false, &["group"]), hr());
    let got = db.vector_sorted(&by_group(Topk, 1.0), t);
    let mut want = w(&[
        ("app-server", "1", "production", 600.0),
        ("app-server", "1", "canary", 800.0),
    ]);
    want.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(got, want);
    assert_eq!(db.vector(&by_group(Bottomk, 2.0), t).len(), 4);
    let prod_api = || sel2("production", "api-server");
    let nan_last = w(&[
        ("api-server", "1", "production", 200.0),
        ("api-server", "0", "production", 100.0),
        ("api-server", "2", "production", NAN),
    ]);
    expect_ordered(&db, &k(Topk, 3.0, prod_api()), t, &nan_last);
    expect_ordered(&db, &k(Topk, 9_999_999_999.0, prod_api()), t, &nan_last);
    expect_ordered(
        &db,
        &k(Bottomk, 3.0, prod_api()),
        t,
        &w(&[
            ("api-server", "0", "production", 100.0),
            ("api-server", "1", "production", 200.0),
            ("api-server", "2", "production", NAN),
        ]),
    );
    let by = agg_full(
        Bottomk,
        Some(num(2.0)),
        grouping(false, &["group"]),
        sel_with("http_requests", &[("group", MatchOp::Equal, "production")]),
    );
    expect_ordered(
        &db,
        &by,
        t,
        &w(&[
            ("api-server", "0", "production", 100.0),
            ("api-server", "1", "production", 200.0),
        ]),
    );
}

#[test]
fn sums_deviations_min_max() {
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
    load(
        &db,
        "foo",
        &[
            ("job", "api-server"),
            ("instance", "0"),
            ("region", "europe"),
        ],
        5 * M,
        &seq(0.0, 90.0, 10),
    );
    load(
        &db,
        "foo",
        &[("job", "api-server")],
        5 * M,
        &seq(0.0, 100.0, 10),
    );
    let t = 50 * M;
    let api = || sel_with("http_requests", &[("job", MatchOp::Equal, "api-server")]);
    expect(
        &db,
        &agg_by(Sum, &["group"], api()),
        t,
        &[
            ("{group=\"canary\"}", 700.0),
            ("{group=\"production\"}", 300.0),
        ],
    );
    expect(
        &db,
        &agg_by(Avg, &["group"], api()),
        t,
        &[
            ("{group=\"canary\"}", 350.0),
            ("{group=\"production\"}", 150.0),
        ],
    );
    expect(&db, &agg_by(Sum, &[], api()), t, &[("{}", 1000.0)]);
    let mixed = bin(BinaryOp::Or, api(), sel("foo"));
    expect(
        &db,
        &agg_without(Sum, &["instance"], mixed),
        t,
        &[
            ("{group=\"canary\", job=\"api-server\"}", 700.0),
            ("{group=\"production\", job=\"api-server\"}", 300.0),
            ("{job=\"api-server\", region=\"europe\"}", 900.0),
            ("{job=\"api-server\"}", 1000.0),
        ],
    );
    let hr = || sel("http_requests");
    expect(
        &db,
        &agg_by(Sum, &["job", "nonexistent"], hr()),
        t,
        &[
            ("{job=\"api-server\"}", 1000.0),
            ("{job=\"app-server\"}", 2600.0),
        ],
    );
    expect(&db, &agg(Stddev, hr()), t, &[("{}", 229.12878474779)]);
    expect(&db, &agg(Stdvar, hr()), t, &[("{}", 52500.0)]);
    expect(
        &db,
        &agg_by(Stddev, &["instance"], hr()),
        t,
        &[
            ("{instance=\"0\"}", 223.60679774998),
            ("{instance=\"1\"}", 223.60679774998),
        ],
    );

    let db = Db::new();
    for (inst, group) in [("0", "production"), ("1", "production"), ("0", "canary")] {
        let l = [("job", "api-server"), ("instance", inst), ("group", group)];
        load(&db, "http_requests", &l, 5 * M, &seq(0.0, 1.33, 10));
    }
    expect(&db, &agg(Stddev, sel("http_requests")), t, &[("{}", 0.0)]);
    expect(&db, &agg(Stdvar, sel("http_requests")), t, &[("{}", 0.0)]);

    let db = Db::new();
    load(
        &db,
        "label_grouping_test",
        &[("a", "aa"), ("b", "bb")],
        5 * M,
        &seq(0.0, 10.0, 10),
    );
    load(
        &db,
        "label_grouping_test",
        &[("a", "a"), ("b", "abb")],
        5 * M,
        &seq(0.0, 20.0, 10),
    );
    expect(
        &db,
        &agg_by(Sum, &["a", "b"], sel("label_grouping_test")),
        t,
        &[
            ("{a=\"a\", b=\"abb\"}", 200.0),
            ("{a=\"aa\", b=\"bb\"}", 100.0),
        ],
    );

    let db = Db::new();
    for (inst, group, v) in [
        ("0", "production", 1.0),
        ("1", "production", 2.0),
        ("0", "canary", NAN),
        ("1", "canary", 3.0),
        ("2", "canary", 4.0),
    ] {
        let l = [("job", "api-server"), ("instance", inst), ("group", group)];
        load(&db, "http_requests", &l, 5 * M, &[v]);
    }
    expect(&db, &agg(Max, sel("http_requests")), 0, &[("{}", 4.0)]);
    expect(&db, &agg(Min, sel("http_requests")), 0, &[("{}", 1.0)]);
    expect(
        &db,
        &agg_by(Max, &["group"], sel("http_requests")),
        0,
        &[("{group=\"production\"}", 2.0), ("{group=\"canary\"}", 4.0)],
    );
    expect(
        &db,
        &agg_by(Min, &["group"], sel("http_requests")),
        0,
        &[("{group=\"production\"}", 1.0), ("{group=\"canary\"}", 3.0)],
    );
}

#[test]
fn count_values_and_quantile() {
    let db = Db::new();
    let rows = [
        ("api-server", "0", "production", 6.0),
        ("api-server", "1", "production", 6.0),
        ("api-server", "2", "production", 6.0),
        ("api-server", "0", "canary", 8.0),
        ("api-server", "1", "canary", 8.0),
        ("app-server", "0", "production", 6.0),
        ("app-server", "1", "production", 6.0),
        ("app-server", "0", "canary", 7.0),
        ("app-server", "1", "canary", 7.0),
    ];
    for (job, inst, group, v) in rows {
        let l = [("job", job), ("instance", inst), ("group", group)];
        load(&db, "version", &l, 5 * M, &[v]);
    }
    let cv = |label: &str, g| agg_full(CountValues, Some(string(label)), g, sel("version"));
    let t = 5 * M;
    expect(
        &db,
        &cv("version", None),
        t,
        &[
            ("{version=\"6\"}", 5.0),
            ("{version=\"7\"}", 2.0),
            ("{version=\"8\"}", 2.0),
        ],
    );
    expect(
        &db,
        &cv("version", grouping(true, &["instance"])),
        t,
        &[
            (
                "{group=\"production\", job=\"api-server\", version=\"6\"}",
                3.0,
            ),
            ("{group=\"canary\", job=\"api-server\", version=\"8\"}", 2.0),
            (
                "{group=\"production\", job=\"app-server\", version=\"6\"}",
                2.0,
            ),
            ("{group=\"canary\", job=\"app-server\", version=\"7\"}", 2.0),
        ],
    );
    let overwrite = [
        ("{group=\"production\", job=\"6\"}", 5.0),
        ("{group=\"canary\", job=\"8\"}", 2.0),
        ("{group=\"canary\", job=\"7\"}", 2.0),
    ];
    expect(
        &db,
        &cv("job", grouping(true, &["instance"])),
        t,
        &overwrite,
    );
    expect(
        &db,
        &cv("job", grouping(false, &["job", "group"])),
        t,
        &overwrite,
    );

    let db = Db::new();
    for (test, points) in [
        ("two samples", vec![0.0, 1.0]),
        ("three samples", vec![0.0, 1.0, 2.0]),
        ("uneven samples", vec![0.0, 1.0, 4.0]),
    ] {
        for (p, v) in ["a", "b", "c"].iter().zip(points) {
            load(&db, "data", &[("test", test), ("point", p)], 10 * S, &[v]);
        }
    }
    load(&db, "foo", &[], 10 * S, &[0.8]);
    let q = |p: Expr| agg_full(Quantile, Some(p), grouping(true, &["point"]), sel("data"));
    let want = [
        ("{test=\"two samples\"}", 0.8),
        ("{test=\"three samples\"}", 1.6),
        ("{test=\"uneven samples\"}", 2.8),
    ];
    expect(&db, &q(num(0.8)), M, &want);
    expect(&db, &q(call("scalar", vec![sel("foo")])), M, &want);
    expect(&db, &q(paren(call("scalar", vec![sel("foo")]))), M, &want);
    let nan = [
        ("{test=\"two samples\"}", NAN),
        ("{test=\"three samples\"}", NAN),
        ("{test=\"uneven samples\"}", NAN),
    ];
    expect(&db, &q(num(NAN)), M, &nan);
}

#[test]
fn staleness() {
    let db = Db::new();
    load(&db, "metric", &[], 10 * S, &[0.0, 1.0, STALE, 2.0]);
    let m = || sel("metric");
    expect(&db, &m(), 10 * S, &[("metric{}", 1.0)]);
    expect(&db, &m(), 20 * S, &[]);
    expect(&db, &m(), 30 * S, &[("metric{}", 2.0)]);
    expect(&db, &m(), 330 * S, &[("metric{}", 2.0)]);
    expect(&db, &m(), 331 * S, &[]);
    let cot = |r| call("count_over_time", vec![mat(m(), r)]);
    expect(&db, &cot(M), 30 * S, &[("{}", 3.0)]);
    expect(&db, &cot(S), 10 * S, &[("{}", 1.0)]);
    expect(&db, &cot(S), 20 * S, &[]);
    expect(&db, &cot(10 * S), 20 * S, &[("{}", 1.0)]);
}

#[test]
fn collisions() {
    let db = Db::new();
    let long = "gke-search-infra-custom-96-253440-fli-d135b119-jx00";
    let pod = [
        ("namespace", "observability"),
        ("node", long),
        ("pod", "node-exporter-l454v"),
    ];
    load(&db, "node_namespace_pod:kube_pod_info:", &pod, S, &[1.0]);
    for cpu in ["10", "35", "89"] {
        let l = [
            ("cpu", cpu),
            ("endpoint", "https"),
            ("instance", "10.253.57.87:9100"),
            ("job", "node-exporter"),
            ("mode", "idle"),
            ("namespace", "observability"),
            ("pod", "node-exporter-l454v"),
            ("service", "node-exporter"),
        ];
        load(&db, "node_cpu_seconds_total", &l, S, &[449.0]);
    }
    let eq = |n: &'static str, v: &'static str| (n, MatchOp::Equal, v);
    let cpus = sel_with(
        "node_cpu_seconds_total",
        &[
            ("cpu", MatchOp::RegexMatch, ".*"),
            eq("job", "node-exporter"),
            eq("mode", "idle"),
            eq("namespace", "observability"),
            eq("pod", "node-exporter-l454v"),
        ],
    );
    let info = sel_with(
        "node_namespace_pod:kube_pod_info:",
        &[
            eq("namespace", "observability"),
            eq("pod", "node-exporter-l454v"),
        ],
    );
    let e = bin_m(
        BinaryOp::Mul,
        agg_by(Count, &["namespace", "pod", "cpu"], cpus),
        info,
        Cardinality::ManyToOne,
        true,
        &["namespace", "pod"],
        &["node"],
    );
    let labels: Vec<String> = ["10", "35", "89"]
        .iter()
        .map(|c| format!("{{cpu=\"{c}\", namespace=\"observability\", node=\"{long}\", pod=\"node-exporter-l454v\"}}"))
        .collect();
    let want: Vec<(&str, f64)> = labels.iter().map(|l| (l.as_str(), 1.0)).collect();
    expect(&db, &e, 4 * S, &want);

    let db = Db::new();
    load(
        &db,
        "testmetric1",
        &[("src", "a"), ("dst", "b")],
        5 * M,
        &[0.0],
    );
    load(
        &db,
        "testmetric2",
        &[("src", "a"), ("dst", "b")],
        5 * M,
        &[1.0],
    );
    let both = sel_matchers(&[("__name__", MatchOp::RegexMatch, "testmetric1|testmetric2")]);
    assert!(db.instant(&call("ceil", vec![both.clone()]), 0).is_err());
    assert!(db
        .instant(&call("changes", vec![mat(both, 5 * M)]), 0)
        .is_err());
}

#[test]
fn histogram_quantile_cases() {
    let db = Db::new();
    let le = |name: &str, extra: &[(&str, &str)], le: &str, step: f64| {
        let mut l = extra.to_vec();
        l.push(("le", le));
        load(&db, name, &l, 5 * M, &seq(0.0, step, 10));
    };
    let pos = [("start", "positive")];
    let negs = [("start", "negative")];
    for (b, s) in [("0.1", 5.0), (".2", 7.0), ("1e0", 11.0), ("+Inf", 12.0)] {
        le("testhistogram_bucket", &pos, b, s);
    }
    for (b, s) in [("-.2", 1.0), ("-0.1", 2.0), ("0.3", 2.0), ("+Inf", 3.0)] {
        le("testhistogram_bucket", &negs, b, s);
    }
    for (b, s) in [
        ("0", 0.0),
        ("2", 1.0),
        ("4", 2.0),
        ("6", 3.0),
        ("+Inf", 3.0),
    ] {
        le("testhistogram2_bucket", &[], b, s);
    }
    for (job, inst, a, b, c) in [
        ("job1", "ins1", 1.0, 3.0, 4.0),
        ("job1", "ins2", 2.0, 5.0, 6.0),
        ("job2", "ins1", 3.0, 4.0, 6.0),
        ("job2", "ins2", 4.0, 7.0, 9.0),
    ] {
        let l = [("job", job), ("instance", inst)];
        for (bound, s) in [("0.1", a), ("0.2", b), ("+Inf", c)] {
            le("request_duration_seconds_bucket", &l, bound, s);
        }
    }
    let i1 = [("job", "job1"), ("instance", "ins1")];
    for (bound, s) in [
        ("0.1", 1.0),
        ("0.2", 1.0),
        ("2e-1", 1.0),
        ("2.0e-1", 1.0),
        ("+Inf", 4.0),
    ] {
        le("mixed_bucket", &i1, bound, s);
    }
    let i2 = [("job", "job1"), ("instance", "ins2")];
    le("mixed_bucket", &i2, "+inf", 0.0);
    le("mixed_bucket", &i2, "+Inf", 0.0);
    for (b, s) in [
        ("0.1", 2.0),
        ("1", 1.0),
        ("10", 5.0),
        ("100", 4.0),
        ("1000", 9.0),
        ("+Inf", 8.0),
    ] {
        le("nonmonotonic_bucket", &[], b, s);
    }
    for b in ["0.1", "0.2", "+Inf"] {
        le("empty_bucket", &i1, b, 0.0);
    }

    let hq = |q: f64, e: Expr| call("histogram_quantile", vec![num(q), e]);
    let th = || sel("testhistogram_bucket");
    let rate5 = |name: &str| call("rate", vec![mat(sel(name), 5 * M)]);
    let t = 50 * M;
    let pn = |p, n| [("{start=\"positive\"}", p), ("{start=\"negative\"}", n)];
    expect(
        &db,
        &hq(-0.1, th()),
        t,
        &pn(f64::NEG_INFINITY, f64::NEG_INFINITY),
    );
    expect(&db, &hq(1.01, th()), t, &pn(f64::INFINITY, f64::INFINITY));
    expect(&db, &hq(NAN, th()), t, &pn(NAN, NAN));
    let only = |s: &'static str| sel_with("testhistogram_bucket", &[("start", MatchOp::Equal, s)]);
    expect(
        &db,
        &hq(0.0, only("positive")),
        t,
        &[("{start=\"positive\"}", 0.0)],
    );
    expect(
        &db,
        &hq(0.0, only("negative")),
        t,
        &[("{start=\"negative\"}", -0.2)],
    );
    expect(&db, &hq(1.0, th()), t, &pn(1.0, 0.3));
    for (q, p, n) in [(0.2, 0.048, -0.2), (0.5, 0.15, -0.15), (0.8, 0.72, 0.3)] {
        expect(&db, &hq(q, th()), t, &pn(p, n));
        expect(&db, &hq(q, rate5("testhistogram_bucket")), t, &pn(p, n));
    }
    for (q, want) in [(1.0 / 6.0, 1.0), (0.5, 3.0), (5.0 / 6.0, 5.0)] {
        expect(
            &db,
            &hq(q, sel("testhistogram2_bucket")),
            7 * M,
            &[("{}", want)],
        );
        let r = call("rate", vec![mat(sel("testhistogram2_bucket"), 15 * M)]);
        expect(&db, &hq(q, r), 47 * M, &[("{}", want)]);
    }
    let rd = || rate5("request_duration_seconds_bucket");
    let by = |op, l: &[&str]| agg_by(op, l, rd());
    expect(&db, &hq(0.3, by(Sum, &["le"])), t, &[("{}", 0.075)]);
    expect(
        &db,
        &hq(0.5, by(Sum, &["le"])),
        t,
        &[("{}", 0.1277777777777778)],
    );
    expect(
        &db,
        &hq(0.5, by(Avg, &["le"])),
        t,
        &[("{}", 0.12777777777777778)],
    );
    expect(
        &db,
        &hq(0.5, by(Sum, &["le", "instance"])),
        t,
        &[
            ("{instance=\"ins1\"}", 0.1333333333),
            ("{instance=\"ins2\"}", 0.125),
        ],
    );
    expect(
        &db,
        &hq(0.3, by(Sum, &["le", "job"])),
        t,
        &[
            ("{job=\"job1\"}", 0.1),
            ("{job=\"job2\"}", 0.0642857142857143),
        ],
    );
    let ji = |a, b, c, d| {
        [
            ("{instance=\"ins1\", job=\"job1\"}", a),
            ("{instance=\"ins2\", job=\"job1\"}", b),
            ("{instance=\"ins1\", job=\"job2\"}", c),
            ("{instance=\"ins2\", job=\"job2\"}", d),
        ]
    };
    expect(
        &db,
        &hq(0.3, by(Sum, &["le", "job", "instance"])),
        t,
        &ji(0.11, 0.09, 0.06, 0.0675),
    );
    expect(&db, &hq(0.3, rd()), t, &ji(0.11, 0.09, 0.06, 0.0675));
    expect(
        &db,
        &hq(0.5, rd()),
        t,
        &ji(0.15, 0.13333333333333333, 0.1, 0.11666666666666667),
    );
    for (q, want) in [(0.01, 0.0045), (0.5, 8.5), (0.99, 979.75)] {
        expect(&db, &hq(q, sel("nonmonotonic_bucket")), t, &[("{}", want)]);
    }
    for (q, want) in [(0.5, 0.15), (0.75, 0.2), (1.0, 0.2)] {
        let w = [
            ("{instance=\"ins1\", job=\"job1\"}", want),
            ("{instance=\"ins2\", job=\"job1\"}", NAN),
        ];
        expect(&db, &hq(q, rate5("mixed_bucket")), t, &w);
    }
    expect(
        &db,
        &hq(0.2, rate5("empty_bucket")),
        t,
        &[("{instance=\"ins1\", job=\"job1\"}", NAN)],
    );

    for (b, s) in [("0.1", 1.0), ("0.2", 3.0), ("+Inf", 4.0)] {
        le("request_duration_seconds2_bucket", &i1, b, s);
    }
    let both = sel_matchers(&[("__name__", MatchOp::RegexMatch, "request_duration.*")]);
    assert!(db.instant(&hq(0.99, both), t).is_err());
}
