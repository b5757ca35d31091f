//! Prepares the shared SLO sums for compliance reports in the background
//! (`[reports] warm`, docs/reports.md).
//!
//! The sums (`nines_slo::sums`) live in memory: after a restart, or once
//! an SLO or exclusion changes, the first report over years of history
//! would fill them itself (the hours at every period edge, the events at
//! every exclusion edge) and take several times as long as the next one.
//! Here the server makes that monthly report for every SLO over all
//! retained history, discarding the output, at start and whenever the SLO
//! log or the engine's oldest data moves on; a report asked for later
//! finds the sums filled. A run stops at the next row when the server
//! shuts down.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use jiff::civil::Date;
use nines_engine::{Engine, TimestampMs};
use nines_slo::calendar::CalendarUnit;
use nines_slo::compliance::render::Format;
use nines_slo::compliance::ReportRange;
use nines_slo::store::SloStore;
use nines_slo::sums::{data_floors, SumsCache};
use tokio::sync::{watch, Notify};

use crate::report::{self, ReportQuery};
use crate::slo_ops::OpError;
use crate::state::AppState;

/// How often the loop looks for a change to warm for.
const POLL: Duration = Duration::from_secs(30);

/// What the sums were last warmed for: the SLO log's head and where the
/// engine's files begin.
type Stamp = ((u64, [u8; 32]), Vec<(u32, TimestampMs)>);

fn stamp(engine: &Engine, store: &SloStore) -> Stamp {
    (store.head(), data_floors(&engine.snapshot()))
}

/// Makes the monthly report of every SLO from the engine's oldest data to
/// `today` through `sums`, discarding it, unless `stop` says to stop.
/// Returns the SLOs covered.
pub fn warm(
    engine: &Engine,
    store: &SloStore,
    sums: &SumsCache,
    today: Date,
    stop: &dyn Fn() -> bool,
) -> Result<usize, OpError> {
    let floor = stamp(engine, store).1.iter().map(|&(_, t)| t).min();
    let Some(floor) = floor else {
        return Ok(0);
    };
    let from = jiff::Timestamp::from_millisecond(floor)
        .map_err(|e| OpError::Invalid(e.to_string()))?
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date();
    if from > today {
        return Ok(0);
    }
    let q = ReportQuery {
        slo: None,
        range: ReportRange {
            unit: CalendarUnit::Month,
            from,
            to: today,
        },
        format: Format::Csv,
    };
    let slos = report::slos_of(store, &q)?;
    report::run(engine, store, Some(sums), &q, &slos, &mut |_| !stop())?;
    Ok(slos.len())
}

/// The background loop: warms at start and after each change, until the
/// server stops. Holds the state only while a run is under way.
pub async fn run(state: Weak<AppState>, changed: Arc<Notify>, stopped: watch::Receiver<bool>) {
    let mut last: Option<Stamp> = None;
    let mut tick = tokio::time::interval(POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut wait = stopped.clone();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = changed.notified() => {}
            _ = wait.wait_for(|s| *s) => return,
        }
        let Some(st) = state.upgrade() else {
            return;
        };
        let now = stamp(&st.engine, &st.slos);
        if last.as_ref() == Some(&now) {
            continue;
        }
        let stop = stopped.clone();
        let ran = tokio::task::spawn_blocking(move || {
            let t = Instant::now();
            let today = jiff::Timestamp::now()
                .to_zoned(jiff::tz::TimeZone::UTC)
                .date();
            let out = warm(&st.engine, &st.slos, &st.slo_sums.0, today, &|| {
                *stop.borrow()
            });
            let ms = t.elapsed().as_millis() as u64;
            match &out {
                Ok(n) => {
                    st.metrics.report_warm_ms.store(ms, Relaxed);
                    st.metrics
                        .report_warm_finished_s
                        .store(crate::http::now_ms() as u64 / 1000, Relaxed);
                    tracing::info!(slos = n, ms, "report sums warmed");
                }
                Err(e) => tracing::warn!(error = %e, "warming report sums failed"),
            }
            out.is_ok()
        })
        .await;
        if matches!(ran, Ok(true)) {
            last = Some(now);
        }
    }
}

/// Starts the loop when `[reports] warm` is on: it runs at once, on every
/// change to the SLO log and every [`POLL`] if the engine's oldest data
/// moved on.
pub fn spawn(
    state: &Arc<AppState>,
    stopped: watch::Receiver<bool>,
) -> Option<tokio::task::JoinHandle<()>> {
    if !state.config.reports.warm {
        return None;
    }
    let changed = Arc::new(Notify::new());
    let wake = Arc::clone(&changed);
    state
        .slos
        .subscribe(Arc::new(move |_: &nines_slo::store::AuditEvent| {
            wake.notify_one()
        }));
    Some(tokio::spawn(run(Arc::downgrade(state), changed, stopped)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use nines_engine::wal::SyncPolicy;
    use nines_engine::{EngineOptions, Labels, SeriesBatch, SeriesKind, WriteBatch};
    use nines_slo::exclusion::{Category, Recurrence, Schedule, Scope};
    use nines_slo::store::{ApplyRequest, NewExclusion, Origin};

    const MIN: i64 = 60_000;

    const YAML: &str = r#"apiVersion: openslo/v1
kind: SLO
metadata:
  name: checkout-avail
spec:
  service: checkout
  indicator:
    spec:
      ratioMetric:
        counter: true
        bad:
          metricSource:
            spec:
              query: req_total{code="500"}
        total:
          metricSource:
            spec:
              query: req_total
  timeWindow:
    - duration: 1M
      calendar:
        startTime: 2024-01-01 00:00:00
        timeZone: Europe/Berlin
  budgetingMethod: Occurrences
  objectives:
    - target: 0.99
"#;

    /// After a warm-up, the monthly report it stands for reads nothing
    /// more from storage, and gives the bytes a report on empty sums gives.
    #[test]
    fn a_report_after_the_warm_up_reads_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut o = EngineOptions::new(dir.path().join("data"))
            .background(false)
            .sync(SyncPolicy::Never);
        o.rollup_delay_ms.clear();
        let engine = Engine::open(o).unwrap();
        // 2026-08-01 .. 2026-10-10 at one minute, a bad request every 50
        let t0 = 1_785_542_400_000;
        let days = 70;
        let ts: Vec<i64> = (0..days * 1_440).map(|k| t0 + k * MIN).collect();
        let good: Vec<f64> = (0..ts.len()).map(|k| k as f64 * 10.0).collect();
        let bad: Vec<f64> = (0..ts.len()).map(|k| (k / 50) as f64).collect();
        let mut batch = WriteBatch::default();
        for (code, vs) in [("200", good), ("500", bad)] {
            batch.series.push(SeriesBatch {
                labels: Labels::from_pairs(&[("__name__", "req_total"), ("code", code)]),
                kind: SeriesKind::Counter,
                timestamps: ts.clone(),
                values: vs,
                resolved: None,
            });
        }
        engine.append(&batch).unwrap();
        engine.compact_all().unwrap();

        let store = SloStore::open(&dir.path().join("slo.log")).unwrap();
        let origin = Origin {
            at: t0,
            author: Some("test".into()),
        };
        store
            .apply(
                ApplyRequest {
                    file: "slo.yaml",
                    yaml: YAML,
                    effective_from: Some(t0),
                },
                origin,
            )
            .unwrap();
        store
            .add_exclusion(
                NewExclusion {
                    scope: Scope::All,
                    schedule: Schedule::Recurring(
                        Recurrence::parse(
                            "FREQ=WEEKLY;BYDAY=SU;BYHOUR=2",
                            2 * 3_600_000,
                            "Europe/Berlin",
                        )
                        .unwrap(),
                    ),
                    category: Category::Maintenance,
                    reason: "weekly maintenance".into(),
                    author: "ops".into(),
                },
                t0,
            )
            .unwrap();

        let today = Date::new(2026, 10, 10).unwrap();
        let q = ReportQuery {
            slo: None,
            range: ReportRange {
                unit: CalendarUnit::Month,
                from: Date::new(2026, 8, 1).unwrap(),
                to: today,
            },
            format: Format::Json,
        };
        let slos = report::slos_of(&store, &q).unwrap();
        let report_with = |sums: Option<&SumsCache>| {
            let mut out = Vec::new();
            report::run(&engine, &store, sums, &q, &slos, &mut |b| {
                out.extend(b);
                true
            })
            .unwrap();
            out
        };
        let sums = SumsCache::default();
        assert_eq!(warm(&engine, &store, &sums, today, &|| false).unwrap(), 1);
        let filled = sums.reads();
        assert!(filled > 0, "the warm-up filled nothing");
        let warm_report = report_with(Some(&sums));
        assert_eq!(sums.reads(), filled, "the report read storage again");
        assert_eq!(
            warm_report,
            report_with(None),
            "warm sums change the report"
        );
        assert!(String::from_utf8_lossy(&warm_report).contains("checkout-avail"));
        // weeks and quarters start on hours the month's sums hold
        for unit in [CalendarUnit::Week, CalendarUnit::Quarter] {
            let q = ReportQuery {
                range: ReportRange { unit, ..q.range },
                ..q.clone()
            };
            report::run(&engine, &store, Some(&sums), &q, &slos, &mut |_| true).unwrap();
            assert_eq!(sums.reads(), filled, "a {unit:?} report read storage again");
        }
        // a run told to stop (the server shutting down) reads nothing more
        let other = SumsCache::default();
        warm(&engine, &store, &other, today, &|| true).unwrap();
        assert_eq!(other.reads(), 0);
    }
}
