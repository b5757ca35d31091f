//! Burn-rate alerts, breach intervals and the deploy gate on a real engine:
//! ten days of one service at 1 000 requests a minute, healthy but for one
//! two-hour burst of 30 % errors, with a deploy ten minutes before it.

use nines_engine::options::MINUTE_MS;
use nines_engine::wal::SyncPolicy;
use nines_engine::{Engine, EngineOptions, Labels, Retention, SeriesBatch, SeriesKind, WriteBatch};
use nines_slo::alerting::{evaluate, scan, BurnPolicy, Severity};
use nines_slo::exclusion::Exclusion;
use nines_slo::gate::{decide, GatePolicy, NoData, Verdict};
use nines_slo::incidents::{breaches, Deploy, Scan};
use nines_slo::report::SloEval;
use nines_slo::{Budgeting, Objective, RatioEvents, Selector, Sli, Slo, SloVersion, Window};

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;
const START: i64 = 1_700_000_000_000 - 1_700_000_000_000 % DAY;
const BURST: i64 = START + 8 * DAY + 10 * HOUR;
const BURST_END: i64 = BURST + 2 * HOUR;
const END: i64 = START + 10 * DAY;

struct World {
    _dir: tempfile::TempDir,
    engine: Engine,
    versions: Vec<SloVersion>,
}

fn world(compact: bool) -> World {
    let dir = tempfile::tempdir().unwrap();
    let mut o = EngineOptions::new(dir.path())
        .background(false)
        .sync(SyncPolicy::Never)
        .retention(Retention {
            raw_ms: None,
            rollups_ms: [(60, None), (3_600, None), (86_400, None)].into(),
        });
    o.rollup_delay_ms.clear();
    let engine = Engine::open(o).unwrap();
    let series = |code: &str| SeriesBatch {
        labels: Labels::from_pairs(&[("__name__", "req_total"), ("code", code)]),
        kind: SeriesKind::Counter,
        ..Default::default()
    };
    let (mut ok, mut err) = (series("200"), series("500"));
    let (mut vo, mut ve) = (0.0, 0.0);
    let mut t = START;
    while t <= END {
        let bad = if t > BURST && t <= BURST_END {
            300.0
        } else {
            0.0
        };
        vo += 1000.0 - bad;
        ve += bad;
        ok.timestamps.push(t);
        ok.values.push(vo);
        err.timestamps.push(t);
        err.values.push(ve);
        t += MINUTE_MS;
    }
    let r = engine
        .append(&WriteBatch {
            series: vec![ok, err],
        })
        .unwrap();
    assert_eq!(r.rejected_samples, 0);
    if compact {
        engine.compact_all().unwrap();
    }
    let def = Slo {
        name: "checkout".into(),
        service: "shop".into(),
        description: None,
        sli: Sli::Ratio {
            events: RatioEvents::Bad(Selector::parse(r#"req_total{code="500"}"#).unwrap()),
            total: Selector::parse("req_total").unwrap(),
        },
        objectives: vec![Objective {
            display_name: None,
            target: 0.999,
        }],
        window: Window::Rolling { ms: 28 * DAY },
        budgeting: Budgeting::Occurrences,
    };
    World {
        _dir: dir,
        engine,
        versions: vec![SloVersion {
            version: 1,
            effective_from: START,
            effective_to: None,
            def,
        }],
    }
}

const NO_EXCLUSIONS: &[Exclusion] = &[];

#[test]
fn the_scan_equals_evaluating_each_time() {
    for compact in [false, true] {
        let w = world(compact);
        let snap = w.engine.snapshot();
        let mut eval = SloEval::new(&snap, &w.versions, NO_EXCLUSIONS).unwrap();
        let policy = BurnPolicy::default();
        let from = BURST - 3 * HOUR;
        let steps = scan(
            &mut eval,
            &policy,
            from,
            BURST_END + 8 * HOUR,
            5 * MINUTE_MS,
        )
        .unwrap();
        assert_eq!(steps.len(), 13 * 12 + 1);
        for (t, states) in steps.iter().step_by(7) {
            let direct = evaluate(&mut eval, &policy, *t).unwrap();
            assert_eq!(states.len(), direct.len());
            for (a, b) in states.iter().zip(&direct) {
                assert_eq!(a.firing, b.firing, "at {t}");
                for (x, y) in [(a.long_burn, b.long_burn), (a.short_burn, b.short_burn)] {
                    match (x, y) {
                        (Some(x), Some(y)) => assert!((x - y).abs() <= 1e-9 * y.abs().max(1.0)),
                        (x, y) => assert_eq!(x, y, "at {t}"),
                    }
                }
            }
        }
    }
}

#[test]
fn alerts_fire_during_the_burst_only() {
    let w = world(true);
    let snap = w.engine.snapshot();
    let mut eval = SloEval::new(&snap, &w.versions, NO_EXCLUSIONS).unwrap();
    let policy = BurnPolicy::default();
    let quiet = evaluate(&mut eval, &policy, BURST - HOUR).unwrap();
    assert!(quiet.iter().all(|s| !s.firing));
    let hot = evaluate(&mut eval, &policy, BURST + 30 * MINUTE_MS).unwrap();
    // 30 % errors at 99.9 % burn at 300 in the 5 m window
    let page = &hot[0];
    assert_eq!(page.severity, Severity::Page);
    assert!(page.firing);
    assert!((page.short_burn.unwrap() - 300.0).abs() < 1e-9);
    // 30 minutes of burst in the last hour: 150
    assert!((page.long_burn.unwrap() - 150.0).abs() < 1e-9);
}

#[test]
fn the_breach_spans_the_burst_and_names_the_deploy() {
    let w = world(true);
    let snap = w.engine.snapshot();
    let mut eval = SloEval::new(&snap, &w.versions, NO_EXCLUSIONS).unwrap();
    let deploy = |at, version: &str| Deploy {
        at,
        service: "shop".into(),
        version: version.into(),
        env: None,
        id: None,
        commit: None,
    };
    let deploys = [
        deploy(BURST - 10 * MINUTE_MS, "v2"),
        deploy(BURST - 5 * DAY, "v1"),
    ];
    let how = Scan {
        from: START + 4 * DAY,
        to: END,
        step_ms: 5 * MINUTE_MS,
        min_severity: Severity::Page,
        deploy_lead_ms: HOUR,
    };
    let found = breaches(&mut eval, &BurnPolicy::default(), &how, &deploys).unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    let b = &found[0];
    // first 5-minute step inside the burst
    assert_eq!(b.start, BURST + 5 * MINUTE_MS);
    // the 6h/30m rule keeps firing until 30 minutes of clean traffic
    assert_eq!(b.end, Some(BURST_END + 30 * MINUTE_MS));
    assert_eq!(b.severity, Severity::Page);
    assert!(b.likely_release_induced);
    assert_eq!(b.deploys.len(), 1);
    assert_eq!(b.deploys[0].version, "v2");
    // every bad event of the burst: 120 minutes x 300
    assert_eq!(b.bad_events, 36_000.0);
    // over the budget of the 28-day window at the breach's end (all traffic
    // so far x 0.1 %)
    let total = 1000.0 * (BURST_END + 30 * MINUTE_MS - START) as f64 / MINUTE_MS as f64;
    let consumed = b.budget_consumed.unwrap();
    assert!(
        (consumed - 36_000.0 / (0.001 * total)).abs() < 1e-9,
        "{consumed}"
    );
    // the 6h long window peaks after 2 hours of burst: 300 * 2 / 6
    assert!(b.peak_burn >= 100.0 - 1e-9, "{}", b.peak_burn);
}

#[test]
fn the_gate_promotes_blocks_and_cannot_decide_without_data() {
    let w = world(true);
    let snap = w.engine.snapshot();
    let mut eval = SloEval::new(&snap, &w.versions, NO_EXCLUSIONS).unwrap();
    let policy = GatePolicy::default();
    let healthy = decide(&mut eval, &policy, START + 3 * DAY).unwrap();
    assert_eq!(healthy.verdict, Verdict::Promote, "{healthy:?}");
    assert!(healthy.reasons.is_empty());
    assert_eq!(healthy.checks[0].value, Some(1.0));

    let burning = decide(&mut eval, &policy, BURST + HOUR).unwrap();
    assert_eq!(burning.verdict, Verdict::Block);
    assert!(
        burning
            .reasons
            .iter()
            .any(|r| r == "burn rate over 1h is 300.000, above the maximum 14.4"),
        "{:?}",
        burning.reasons
    );

    // after the burst the 1 h burn is back to 0 but the budget is spent:
    // 36 000 bad of 0.1 % x 10 days x 1 000 a minute = 14 400 allowed
    let after = decide(&mut eval, &policy, END).unwrap();
    assert_eq!(after.verdict, Verdict::Block);
    let budget = after.checks[0].value.unwrap();
    assert!(
        (budget - (1.0 - 36_000.0 / 14_400.0)).abs() < 1e-9,
        "{budget}"
    );
    assert!(
        after.reasons[0].starts_with("budget remaining -150.00 %"),
        "{:?}",
        after.reasons
    );

    let before = decide(&mut eval, &policy, START - DAY).unwrap();
    assert_eq!(before.verdict, Verdict::Undecided);
    let lenient = GatePolicy {
        no_data: NoData::Promote,
        ..GatePolicy::default()
    };
    assert_eq!(
        decide(&mut eval, &lenient, START - DAY).unwrap().verdict,
        Verdict::Promote
    );
}
