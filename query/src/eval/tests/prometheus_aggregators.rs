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
