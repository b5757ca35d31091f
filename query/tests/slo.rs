//! The SLO operators through the query language, instant and range.

use std::collections::BTreeMap;
use std::sync::Arc;

use nines_engine::wal::SyncPolicy;
use nines_engine::{Engine, EngineOptions, Labels, SeriesBatch, SeriesKind, WriteBatch};
use nines_query::eval::SloCatalogRef;
use nines_query::{instant_query, range_query, Cancel, QueryOptions, Value};
use nines_slo::catalog::MemCatalog;
use nines_slo::openslo::parse_file;
use nines_slo::SloVersion;

const M: i64 = 60_000;
const H: i64 = 60 * M;

const YAML: &str = r#"
apiVersion: openslo/v1
kind: SLO
metadata:
  name: checkout
spec:
  service: shop
  indicator:
    spec:
      ratioMetric:
        bad:
          metricSource:
            spec:
              query: req_total{code="500"}
        total:
          metricSource:
            spec:
              query: req_total
  timeWindow:
    - duration: 1d
      isRolling: true
  budgetingMethod: Occurrences
  objectives:
    - target: 0.99
"#;

/// Per minute: 10 requests, 1 of them an error, for 2 days; then an hour
/// with no traffic (the counters stay flat).
fn setup() -> (tempfile::TempDir, Engine, QueryOptions) {
    let dir = tempfile::tempdir().unwrap();
    let e = Engine::open(
        EngineOptions::new(dir.path())
            .background(false)
            .sync(SyncPolicy::Never),
    )
    .unwrap();
    let mut batch = WriteBatch::default();
    for (code, per_min) in [("200", 9.0), ("500", 1.0)] {
        let mut s = SeriesBatch {
            labels: Labels::from_pairs(&[("__name__", "req_total"), ("code", code)]),
            kind: SeriesKind::Counter,
            ..Default::default()
        };
        for i in 0..=(49 * 60) {
            s.timestamps.push(i * M);
            s.values.push(per_min * (i.min(48 * 60)) as f64);
        }
        batch.series.push(s);
    }
    e.append(&batch).unwrap();
    let def = parse_file("t.yaml", YAML).unwrap().remove(0);
    let mut v2 = def.clone();
    v2.objectives[0].target = 0.9;
    let cat = MemCatalog {
        slos: BTreeMap::from([(
            "checkout".to_string(),
            vec![
                SloVersion {
                    version: 1,
                    effective_from: 0,
                    effective_to: Some(30 * H),
                    def,
                },
                SloVersion {
                    version: 2,
                    effective_from: 30 * H,
                    effective_to: None,
                    def: v2,
                },
            ],
        )]),
        exclusions: vec![],
    };
    let opts = QueryOptions {
        slo_catalog: Some(SloCatalogRef(Arc::new(cat))),
        ..QueryOptions::default()
    };
    (dir, e, opts)
}

fn one(e: &Engine, q: &str, t: i64, opts: &QueryOptions) -> Option<(Labels, f64)> {
    match instant_query(&e.snapshot(), q, t, opts, &Cancel::new()).unwrap() {
        Value::Vector(v) => {
            assert!(v.len() <= 1, "{q}: {v:?}");
            v.into_iter().next().map(|s| (s.labels, s.v))
        }
        other => panic!("{q}: {other:?}"),
    }
}

#[test]
fn instant_operators() {
    let (_d, e, o) = setup();
    let t = 20 * H;
    let (labels, sli) = one(&e, r#"slo_sli("checkout", 1h)"#, t, &o).unwrap();
    assert_eq!(
        labels,
        Labels::from_pairs(&[
            ("slo", "checkout"),
            ("service", "shop"),
            ("slo_version", "1")
        ])
    );
    assert_eq!(sli, 540.0 / 600.0);
    let er = one(&e, r#"slo_error_ratio("checkout", 1h)"#, t, &o)
        .unwrap()
        .1;
    assert_eq!(er, 60.0 / 600.0);
    let allowed_1h = (1.0 - 0.99) * 600.0;
    let burn = one(&e, r#"slo_burn_rate("checkout", 1h)"#, t, &o)
        .unwrap()
        .1;
    assert_eq!(burn, 60.0 / allowed_1h);
    // the 1 d budget at 20 h: the window holds 20 h of traffic
    let (total, bad) = (20.0 * 600.0, 20.0 * 60.0);
    let allowed = (1.0 - 0.99) * total;
    let rem = one(&e, r#"slo_budget_remaining("checkout")"#, t, &o)
        .unwrap()
        .1;
    assert_eq!(rem, 1.0 - bad / allowed);
    let rem_ev = one(&e, r#"slo_budget_remaining_events("checkout")"#, t, &o)
        .unwrap()
        .1;
    assert_eq!(rem_ev, allowed - bad);
    let consumed = one(&e, r#"slo_budget_consumed("checkout", 1h)"#, t, &o)
        .unwrap()
        .1;
    assert_eq!(consumed, 60.0 / allowed);
    // overspent: exhausted now
    let tte = one(&e, r#"slo_time_to_exhaustion("checkout", 6h)"#, t, &o)
        .unwrap()
        .1;
    assert_eq!(tte, 0.0);
    // the ad-hoc form gives the stored SLO's number
    let adhoc = one(
        &e,
        r#"burn_rate(req_total{code="500"}, req_total, 0.99, 1h)"#,
        t,
        &o,
    )
    .unwrap();
    assert_eq!(adhoc, (Labels::default(), burn));
    let adhoc_sli = one(&e, r#"sli(req_total{code="200"}, req_total, 3600)"#, t, &o).unwrap();
    assert_eq!(adhoc_sli.1, sli);
    let adhoc_er = one(
        &e,
        r#"error_ratio(req_total{code="500"}, req_total, 1h)"#,
        t,
        &o,
    );
    assert_eq!(adhoc_er.unwrap().1, er);
    // compliance of the last closed day (UTC): day 1, all under version 2
    let c = one(&e, r#"slo_compliance("checkout", "day")"#, 49 * H, &o).unwrap();
    assert_eq!(c.1, 0.9);
    assert_eq!(c.0.get("slo_version"), Some("2"));
    // usable in expressions
    let v = one(&e, r#"slo_burn_rate("checkout", 1h) > 5"#, t, &o).unwrap();
    assert_eq!(v.1, burn);
}

#[test]
fn zero_traffic_is_absent() {
    let (_d, e, o) = setup();
    assert_eq!(
        one(&e, r#"slo_sli("checkout", 30m)"#, 48 * H + 45 * M, &o),
        None
    );
    assert_eq!(
        one(
            &e,
            r#"sli(req_total{code="200"}, req_total, 30m)"#,
            48 * H + 45 * M,
            &o
        ),
        None
    );
}

#[test]
fn range_query_follows_the_version_in_force() {
    let (_d, e, o) = setup();
    let v = range_query(
        &e.snapshot(),
        r#"slo_burn_rate("checkout", 1h)"#,
        28 * H,
        32 * H,
        H,
        &o,
        &Cancel::new(),
    )
    .unwrap();
    let Value::Matrix(series) = v else { panic!() };
    assert_eq!(series.len(), 2);
    assert_eq!(series[0].labels.get("slo_version"), Some("1"));
    assert_eq!(series[0].points.len(), 2); // 28 h and 29 h
    assert_eq!(series[1].labels.get("slo_version"), Some("2"));
    assert_eq!(series[1].points.len(), 3);
    assert_eq!(series[1].points[2].1, 60.0 / ((1.0 - 0.9) * 600.0));
}

#[test]
fn errors_say_what_is_wrong() {
    let (_d, e, o) = setup();
    let snap = e.snapshot();
    let err = instant_query(&snap, r#"slo_sli("nope", 1h)"#, H, &o, &Cancel::new()).unwrap_err();
    assert!(err.to_string().contains("no SLO named \"nope\""), "{err}");
    let none = QueryOptions::default();
    let err = instant_query(
        &snap,
        r#"slo_sli("checkout", 1h)"#,
        H,
        &none,
        &Cancel::new(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("no SLO store"), "{err}");
    let err = instant_query(
        &snap,
        r#"slo_compliance("checkout", "fortnight")"#,
        H,
        &o,
        &Cancel::new(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("fortnight"), "{err}");
    let err = instant_query(
        &snap,
        r#"burn_rate(rate(req_total[5m]), req_total, 0.99, 1h)"#,
        H,
        &o,
        &Cancel::new(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("plain series selectors"), "{err}");
}
