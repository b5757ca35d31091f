//! The compliance report's target: a monthly report over 2 years for 50
//! SLOs (<= 200 ms), rows and CSV, as `GET /api/v1/report?all=true` makes
//! it (docs/reports.md):
//!
//! - `monthly_2y_50_slos`: with the server's shared per-selector sums
//!   warm (every report after the first);
//! - `first_monthly_2y_50_slos`: with empty sums, as the first report
//!   after a restart.
//!
//! Data: per SLO a good and a bad counter at 60 s over 730 days (100
//! series, about 105 M samples), compacted with rollups, the newest hour in
//! the head; a tenth of each SLO's budget goes in bad requests spread
//! evenly, and each burns for 6 hours every 45 days. SLOs: half on
//! calendar months in Europe/Berlin (periods off UTC days), half rolling
//! 28 days in UTC; every fifth has a second version a year in; a weekly
//! maintenance exclusion covers all; a deploy per service per week.
//! NINES_REPORT_BENCH_DAYS and NINES_REPORT_BENCH_SLOS shrink it;
//! NINES_REPORT_BENCH_BAD_EVERY=1 (a bad request every minute: every day
//! near the budget, read hour by hour) is the worst case.
//!
//! `cargo bench -p nines-benches --bench report`

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use jiff::civil::Date;
use nines_engine::wal::SyncPolicy;
use nines_engine::{Engine, EngineOptions, Labels, Retention, SeriesBatch, SeriesKind, WriteBatch};
use nines_slo::calendar::CalendarUnit;
use nines_slo::compliance::render::{Anchor, Format, Renderer};
use nines_slo::compliance::{slo_rows, ReportRange, SloInput};
use nines_slo::exclusion::{Category, Exclusion, Recurrence, Schedule, Scope};
use nines_slo::incidents::Deploy;
use nines_slo::sums::SumsCache;
use nines_slo::{Budgeting, Objective, RatioEvents, Selector, Sli, Slo, SloVersion, Window};

const MIN: i64 = 60_000;
const DAY: i64 = 1_440 * MIN;
/// One bad request in this many minutes besides bursts (0.1 % of 100 a
/// minute, a tenth of a 99 % budget); NINES_REPORT_BENCH_BAD_EVERY=1 is
/// the worst case for breach checks (always near the budget).
static BAD_EVERY_ENV: std::sync::OnceLock<f64> = std::sync::OnceLock::new();

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn versions(i: usize, t0: i64) -> Vec<SloVersion> {
    let sel = |s: String| Selector::parse(&s).expect("selector");
    let svc = format!("svc-{i:02}");
    let def = Slo {
        name: format!("slo-{i:02}"),
        service: svc.clone(),
        description: None,
        sli: Sli::Ratio {
            events: RatioEvents::Bad(sel(format!(r#"req_total{{service="{svc}", code="500"}}"#))),
            total: sel(format!(r#"req_total{{service="{svc}"}}"#)),
        },
        objectives: vec![Objective {
            display_name: None,
            target: 0.99,
        }],
        window: if i.is_multiple_of(2) {
            Window::Calendar {
                unit: CalendarUnit::Month,
                tz: "Europe/Berlin".into(),
            }
        } else {
            Window::Rolling { ms: 28 * DAY }
        },
        budgeting: Budgeting::Occurrences,
    };
    let mut out = vec![SloVersion {
        version: 1,
        effective_from: t0,
        effective_to: None,
        def: def.clone(),
    }];
    if i.is_multiple_of(5) {
        let change = t0 + 365 * DAY;
        out[0].effective_to = Some(change);
        let mut v2 = def;
        v2.objectives[0].target = 0.995;
        out.push(SloVersion {
            version: 2,
            effective_from: change,
            effective_to: None,
            def: v2,
        });
    }
    out
}

/// One day of every series; `state` carries the bad counters' burst
/// events from day to day.
fn bad_every() -> f64 {
    *BAD_EVERY_ENV.get_or_init(|| env("NINES_REPORT_BENCH_BAD_EVERY", 10) as f64)
}

fn day_batch(slos: usize, day: i64, from: i64, to: i64, t0: i64, state: &mut [f64]) -> WriteBatch {
    let bad_every = bad_every();
    let mut batch = WriteBatch::default();
    for (i, extra) in state.iter_mut().enumerate().take(slos) {
        let svc = format!("svc-{i:02}");
        let ts: Vec<i64> = (from..to).step_by(MIN as usize).collect();
        let mut good = Vec::with_capacity(ts.len());
        let mut bad = Vec::with_capacity(ts.len());
        for &t in &ts {
            let k = ((t - t0) / MIN) as f64;
            let minute_of_day = (t - t0) % DAY / MIN;
            if day % 45 == i as i64 % 45 && (600..960).contains(&minute_of_day) {
                *extra += 20.0;
            }
            good.push(k * 100.0);
            bad.push((k / bad_every).floor() + *extra);
        }
        for (code, vs) in [("200", good), ("500", bad)] {
            batch.series.push(SeriesBatch {
                labels: Labels::from_pairs(&[
                    ("__name__", "req_total"),
                    ("service", &svc),
                    ("code", code),
                ]),
                kind: SeriesKind::Counter,
                timestamps: ts.clone(),
                values: vs,
                resolved: None,
            });
        }
    }
    batch
}

fn bench(c: &mut Criterion) {
    let n_slos = env("NINES_REPORT_BENCH_SLOS", 50);
    let days = env("NINES_REPORT_BENCH_DAYS", 730) as i64;
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
    // 2024-11-01T00:00:00Z: the two years end on 2026-11-01
    let end = 1_793_491_200_000;
    let t0 = end - days * DAY;
    let built = Instant::now();
    let mut state = vec![0.0; n_slos];
    for d in 0..days {
        let to = (t0 + (d + 1) * DAY).min(end - 3_600_000);
        engine
            .append(&day_batch(n_slos, d, t0 + d * DAY, to, t0, &mut state))
            .expect("append");
        if d % 7 == 6 {
            engine.compact_all().expect("compact");
        }
    }
    engine.compact_all().expect("compact");
    let mut last = state.clone();
    engine
        .append(&day_batch(
            n_slos,
            days - 1,
            end - 3_600_000,
            end,
            t0,
            &mut last,
        ))
        .expect("append");
    eprintln!("built {days} days x {n_slos} SLOs in {:?}", built.elapsed());

    let slos: Vec<Vec<SloVersion>> = (0..n_slos).map(|i| versions(i, t0)).collect();
    let exclusions = vec![Exclusion {
        id: "1".into(),
        scope: Scope::All,
        schedule: Schedule::Recurring(
            Recurrence::parse(
                "FREQ=WEEKLY;BYDAY=SU;BYHOUR=2",
                2 * 3_600_000,
                "Europe/Berlin",
            )
            .expect("rule"),
        ),
        category: Category::Maintenance,
        reason: "weekly maintenance".into(),
        author: "ops".into(),
    }];
    let deploys: Vec<Deploy> = (0..n_slos)
        .flat_map(|i| {
            (0..days / 7).map(move |w| Deploy {
                at: t0 + w * 7 * DAY + DAY / 2 + i as i64 * MIN,
                service: format!("svc-{i:02}"),
                version: format!("v{w}"),
                env: Some("prod".into()),
                id: Some(format!("d-{i}-{w}")),
                commit: None,
            })
        })
        .collect();
    let first = jiff::Timestamp::from_millisecond(t0)
        .expect("t0")
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date();
    let last_day = Date::new(2026, 10, 31).expect("date");
    let range = ReportRange {
        unit: CalendarUnit::Month,
        from: first,
        to: last_day,
    };
    let snap = engine.snapshot();
    let report = |sums: &SumsCache| -> Vec<u8> {
        let mut r = Renderer::new(Format::Csv);
        let mut out = r.header(&range, None);
        for vs in &slos {
            let input = SloInput {
                versions: vs,
                exclusions: &exclusions,
                deploys: &deploys,
            };
            for row in slo_rows(&snap, Some(sums), &input, &range).expect("rows") {
                out.extend(r.row(&row).expect("row"));
            }
        }
        out.extend(r.finish(&Anchor::default()));
        out
    };
    let warm = SumsCache::default();
    let once = report(&warm);
    assert_eq!(report(&warm), once, "byte-identical");
    let cold = SumsCache::default();
    assert_eq!(report(&cold), once, "cold = warm");
    eprintln!(
        "a first report fills {} selectors' sums in {} passes over stored series",
        cold.len(),
        cold.reads()
    );
    let rows = String::from_utf8_lossy(&once).lines().count() - 2;
    eprintln!("{rows} rows, {} bytes", once.len());
    let size = format!("{n_slos}_slos_{days}d");
    let mut g = c.benchmark_group("report");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    g.bench_function(format!("monthly_{size}"), |b| b.iter(|| report(&warm)));
    g.bench_function(format!("first_monthly_{size}"), |b| {
        b.iter_batched(
            SumsCache::default,
            |fresh| report(&fresh),
            criterion::BatchSize::PerIteration,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
