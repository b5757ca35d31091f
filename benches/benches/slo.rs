//! The SLO layer's targets on counter series with 60 s samples, the newest
//! hour still in the head, the rest compacted with rollups:
//!
//! - `budget_remaining_28d`: `slo_budget_remaining` of a 28-day rolling SLO
//!   at a time off the minute (target <= 1 ms), answered through the
//!   server's shared per-selector sums (`nines_slo::sums`);
//! - `first_budget_remaining`: the same with empty sums, as the first
//!   question after an SLO is applied (target <= 100 ms);
//! - `read_budget_remaining`: the same without sums, reading the series;
//! - `budget_panel_365d_1h`: the Grafana panel "28-day budget remaining
//!   over the last 365 days at a 1 h step" as a range query (<= 50 ms);
//! - `compliance_13_months_10_slos`: `slo_compliance(.., "month")` in each
//!   of the last 13 months for 10 SLOs (<= 20 ms in all).
//!
//! The issue's size is 1,000 series over 400 days (NINES_SLO_BENCH_SERIES=1000
//! NINES_SLO_BENCH_DAYS=400, about ten minutes to build); the default, 100
//! series over 60 days, builds in a minute. Shorter histories shorten the
//! panel and the months to what they hold; the bench names say so.
//!
//! `cargo bench -p nines-benches --bench slo`

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use nines_engine::wal::SyncPolicy;
use nines_engine::{Engine, EngineOptions, Labels, Retention, SeriesBatch, SeriesKind, WriteBatch};
use nines_query::eval::{SloCatalogRef, SloSumsRef};
use nines_query::{instant_query, range_query, Cancel, QueryOptions};
use nines_slo::catalog::MemCatalog;
use nines_slo::sums::SumsCache;
use nines_slo::{Budgeting, Objective, RatioEvents, Selector, Sli, Slo, SloVersion, Window};

const MIN: i64 = 60_000;
const DAY: i64 = 1_440 * MIN;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn slo(name: &str, bad: &str, total: &str, t0: i64) -> (String, Vec<SloVersion>) {
    let sel = |s: &str| Selector::parse(s).expect("selector");
    let def = Slo {
        name: name.into(),
        service: "shop".into(),
        description: None,
        sli: Sli::Ratio {
            events: RatioEvents::Bad(sel(bad)),
            total: sel(total),
        },
        objectives: vec![Objective {
            display_name: None,
            target: 0.999,
        }],
        window: Window::Rolling { ms: 28 * DAY },
        budgeting: Budgeting::Occurrences,
    };
    (
        name.to_string(),
        vec![SloVersion {
            version: 1,
            effective_from: t0,
            effective_to: None,
            def,
        }],
    )
}

fn batch(series: usize, from: i64, to: i64, t0: i64) -> WriteBatch {
    let mut batch = WriteBatch::default();
    for s in 0..series {
        let code = if s % 10 == 0 { "500" } else { "200" };
        let k0 = (from - t0) / MIN;
        let ts: Vec<i64> = (from..to).step_by(MIN as usize).collect();
        let vs: Vec<f64> = (0..ts.len() as i64)
            .map(|k| ((k0 + k) * (1 + s as i64 % 7)) as f64)
            .collect();
        batch.series.push(SeriesBatch {
            labels: Labels::from_pairs(&[
                ("__name__", "http_requests_total"),
                ("code", code),
                ("pod", &format!("pod-{s:04}")),
                ("shard", &format!("{}", s / 10 % 10)),
            ]),
            kind: SeriesKind::Counter,
            timestamps: ts,
            values: vs,
            resolved: None,
        });
    }
    batch
}

fn bench(c: &mut Criterion) {
    let series = env("NINES_SLO_BENCH_SERIES", 100);
    let days = env("NINES_SLO_BENCH_DAYS", 60) as i64;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut o = EngineOptions::new(dir.path())
        .background(false)
        .sync(SyncPolicy::Never)
        .retention(Retention {
            raw_ms: Some(30 * DAY),
            rollups_ms: [(60, Some(400 * DAY)), (3_600, None), (86_400, None)].into(),
        });
    o.rollup_delay_ms.clear();
    let engine = Engine::open(o).expect("open");
    let t0 = 1_700_000_000_000 / DAY * DAY;
    let end = t0 + days * DAY;
    // a day per batch; the newest hour stays in the head
    for d in 0..days {
        let to = (t0 + (d + 1) * DAY).min(end - 3_600_000);
        engine
            .append(&batch(series, t0 + d * DAY, to, t0))
            .expect("append");
        if d % 7 == 6 {
            engine.compact_all().expect("compact");
        }
    }
    engine.compact_all().expect("compact");
    engine
        .append(&batch(series, end - 3_600_000, end, t0))
        .expect("append");
    let mut slos = BTreeMap::from([slo(
        "checkout",
        r#"http_requests_total{code="500"}"#,
        "http_requests_total",
        t0,
    )]);
    for shard in 0..10 {
        slos.insert(
            format!("shard-{shard}").clone(),
            slo(
                &format!("shard-{shard}"),
                &format!(r#"http_requests_total{{shard="{shard}", code="500"}}"#),
                &format!(r#"http_requests_total{{shard="{shard}"}}"#),
                t0,
            )
            .1,
        );
    }
    let cat = SloCatalogRef(Arc::new(MemCatalog {
        slos,
        exclusions: vec![],
    }));
    let sums = SloSumsRef(Arc::new(SumsCache::default()));
    let opts = QueryOptions {
        slo_catalog: Some(cat.clone()),
        slo_sums: Some(sums.clone()),
        ..QueryOptions::default()
    };
    let uncached = QueryOptions {
        slo_catalog: Some(cat),
        ..QueryOptions::default()
    };
    let snap = engine.snapshot();
    // a time in the newest hour, off the minute, so edges fall inside
    // minutes
    let now = end - 1_200_000 + 17_500;
    let remaining = r#"slo_budget_remaining("checkout")"#;
    let instant = |o: &QueryOptions, q: &str, t: i64| {
        instant_query(&snap, q, t, o, &Cancel::new()).expect("query")
    };
    // the sums give the answer read from the series
    let (cached, read) = (
        instant(&opts, remaining, now),
        instant(&uncached, remaining, now),
    );
    assert_eq!(format!("{cached:?}"), format!("{read:?}"));
    assert!(format!("{cached:?}").contains("checkout"), "{cached:?}");
    let size = format!("{series}x{days}d");
    let mut g = c.benchmark_group("slo");
    g.sample_size(20).measurement_time(Duration::from_secs(10));
    g.bench_function(format!("budget_remaining_28d_{size}"), |b| {
        b.iter(|| instant(&opts, remaining, now))
    });
    g.bench_function(format!("first_budget_remaining_28d_{size}"), |b| {
        b.iter_batched(
            || QueryOptions {
                slo_sums: Some(SloSumsRef(Arc::new(SumsCache::default()))),
                ..opts.clone()
            },
            |fresh| instant(&fresh, remaining, now),
            criterion::BatchSize::PerIteration,
        )
    });
    g.bench_function(format!("read_budget_remaining_28d_{size}"), |b| {
        b.iter(|| instant(&uncached, remaining, now))
    });
    // the panel: hour-aligned, as Grafana sends it
    let panel_days = (days - 29).clamp(1, 365);
    let p_end = now / 3_600_000 * 3_600_000;
    let p_start = p_end - panel_days * DAY;
    g.bench_function(format!("budget_panel_{panel_days}d_1h_{size}"), |b| {
        b.iter(|| {
            range_query(
                &snap,
                remaining,
                p_start,
                p_end,
                3_600_000,
                &opts,
                &Cancel::new(),
            )
            .expect("range query")
        })
    });
    // a time in each of the last closed months: each asks for the month
    // before it
    let months = (days / 30).clamp(1, 13);
    let times: Vec<i64> = (0..months).map(|m| now - m * 31 * DAY).collect();
    g.bench_function(format!("compliance_{months}_months_10_slos_{size}"), |b| {
        b.iter(|| {
            for shard in 0..10 {
                let q = format!(r#"slo_compliance("shard-{shard}", "month")"#);
                for &t in &times {
                    instant(&opts, &q, t);
                }
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
