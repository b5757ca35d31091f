//! The SLO store's costs: what a query pays to read an SLO's versions and
//! exclusions from it (the catalog lookup, per `slo_*` call), what an
//! apply costs (one fsynced log record), and how long opening replays a log
//! of many changes.
//!
//! `cargo bench -p nines-benches --bench slo_store`

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use nines_slo::catalog::SloCatalog;
use nines_slo::exclusion::{Category, Schedule, Scope};
use nines_slo::store::{ApplyRequest, NewExclusion, Origin, SloStore};

/// 100 SLOs, each with 5 versions, and 50 exclusions (half cover one SLO,
/// half all): a large installation's catalog.
const SLOS: usize = 100;
const VERSIONS: usize = 5;
const EXCLUSIONS: usize = 50;

fn yaml(name: &str, target: f64) -> String {
    format!(
        r#"apiVersion: openslo/v1
kind: SLO
metadata:
  name: {name}
spec:
  service: api
  indicator:
    spec:
      ratioMetric:
        bad:
          metricSource:
            spec:
              query: http_requests_total{{job="{name}", code=~"5.."}}
        total:
          metricSource:
            spec:
              query: http_requests_total{{job="{name}"}}
  timeWindow:
    - duration: 28d
      isRolling: true
  budgetingMethod: Occurrences
  objectives:
    - target: {target}
"#
    )
}

fn origin(at: i64) -> Origin {
    Origin {
        at,
        author: Some("bench".into()),
    }
}

/// Fills a store with [`SLOS`] x [`VERSIONS`] versions (one apply record
/// per version) and [`EXCLUSIONS`] exclusions; returns the records written.
fn fill(store: &SloStore) -> u64 {
    let mut at = 1_700_000_000_000;
    for v in 0..VERSIONS {
        for s in 0..SLOS {
            at += 1;
            let text = yaml(&format!("slo-{s}"), 0.99 + v as f64 / 1000.0);
            let req = ApplyRequest {
                file: "bench.yaml",
                yaml: &text,
                effective_from: None,
            };
            store.apply(req, origin(at)).expect("apply");
        }
    }
    for e in 0..EXCLUSIONS {
        at += 1;
        let scope = if e % 2 == 0 {
            Scope::All
        } else {
            Scope::Slos(vec![format!("slo-{}", e % SLOS)])
        };
        let new = NewExclusion {
            scope,
            schedule: Schedule::Once {
                start: at,
                end: at + 60_000,
            },
            category: Category::Maintenance,
            reason: "bench".into(),
            author: "bench".into(),
        };
        store.add_exclusion(new, at).expect("exclusion");
    }
    store.head().0
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = SloStore::path_in(dir.path());
    let store = SloStore::open(&path).expect("open");
    let records = fill(&store);
    let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    eprintln!("slo_store: {records} records, {bytes} bytes in the log");

    let mut g = c.benchmark_group("slo_store");
    g.measurement_time(Duration::from_secs(3));
    g.bench_function("catalog_lookup", |b| {
        b.iter(|| {
            let v = store.versions(black_box("slo-41")).expect("known");
            let e = store.exclusions(black_box("slo-41"));
            black_box((v.len(), e.len()))
        })
    });
    g.bench_function(format!("open_replay_{records}_records"), |b| {
        b.iter(|| black_box(SloStore::open(&path).expect("reopen").head()))
    });
    drop(store);

    // each iteration writes one fsynced record: a changed definition
    let dir2 = tempfile::tempdir().expect("tempdir");
    let store = SloStore::open(&SloStore::path_in(dir2.path())).expect("open");
    let mut n = 0u64;
    g.sample_size(20);
    g.bench_function("apply_one_change_fsynced", |b| {
        b.iter(|| {
            n += 1;
            let text = yaml("changing", 0.9 + (n % 90) as f64 / 1000.0 + 0.0001);
            let req = ApplyRequest {
                file: "bench.yaml",
                yaml: &text,
                effective_from: None,
            };
            black_box(store.apply(req, origin(1_700_000_000_000 + n as i64)))
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
