//! Gauge threshold SLIs (SLO_SEMANTICS.md: windows-based only): every
//! sample is an event, good when it meets the bound; a slice's ratio is its
//! good samples over its samples. Compared with a plain loop over the
//! samples written, for time slices and ratio time slices, over windows
//! with ragged edges, NaN readings, stale markers and a gap.

use nines_engine::options::{HOUR_MS, MINUTE_MS};
use nines_engine::types::STALE_NAN_BITS;
use nines_engine::wal::SyncPolicy;
use nines_engine::{Engine, EngineOptions, Labels, SeriesBatch, SeriesKind, WriteBatch};
use nines_slo::model::Comparison;
use nines_slo::numbers::Totals;
use nines_slo::report::SloEval;
use nines_slo::sums::SumsCache;
use nines_slo::{Budgeting, Objective, Selector, Sli, Slo, SloVersion, Window};
use rand::{Rng, SeedableRng};

const T0: i64 = 1_700_006_400_000;
const SLICE: i64 = 5 * MINUTE_MS;

fn slo(budgeting: Budgeting) -> Vec<SloVersion> {
    vec![SloVersion {
        version: 1,
        effective_from: T0,
        effective_to: None,
        def: Slo {
            name: "lag".into(),
            service: "queue".into(),
            description: None,
            sli: Sli::GaugeThreshold {
                gauge: Selector::parse(r#"queue_lag_seconds{job="q"}"#).unwrap(),
                op: Comparison::Lte,
                value: 0.3,
            },
            objectives: vec![Objective {
                display_name: None,
                target: 0.95,
            }],
            window: Window::Rolling { ms: 24 * HOUR_MS },
            budgeting,
        },
    }]
}

/// Per-slice (good, total) samples in `(a, b]` from the written samples.
fn reference(samples: &[(i64, f64)], a: i64, b: i64, budgeting: &Budgeting, target: f64) -> Totals {
    let mut out = Totals::default();
    let first = (a + SLICE - 1).div_euclid(SLICE) * SLICE;
    let mut s = first;
    while s + SLICE <= b {
        let (mut good, mut total) = (0.0, 0.0);
        for &(t, v) in samples {
            if t > s && t <= s + SLICE && v.to_bits() != STALE_NAN_BITS {
                total += 1.0;
                if v <= 0.3 {
                    good += 1.0;
                }
            }
        }
        if total > 0.0 {
            out.total += 1.0;
            out.allowed_bad += 1.0 - target;
            out.good += match budgeting {
                Budgeting::Timeslices { slice_target, .. } => {
                    f64::from(u8::from(good / total >= *slice_target))
                }
                _ => good / total,
            };
        }
        s += SLICE;
    }
    out
}

#[test]
fn gauge_slices_equal_the_reference() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(
        EngineOptions::new(dir.path())
            .background(false)
            .sync(SyncPolicy::Never),
    )
    .unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut series = Vec::new();
    for pod in ["a", "b"] {
        let mut samples = Vec::new();
        let mut t = T0 + rng.gen_range(0..15_000);
        while t < T0 + 30 * HOUR_MS {
            if (T0 + 5 * HOUR_MS..T0 + 6 * HOUR_MS).contains(&t) && pod == "a" {
                t += 15_000; // a gap
                continue;
            }
            let v = match rng.gen_range(0..100) {
                0 => f64::NAN,
                1 => f64::from_bits(STALE_NAN_BITS),
                n if n < 80 => rng.gen_range(0.0..0.3),
                _ => rng.gen_range(0.3..2.0),
            };
            samples.push((t, v));
            t += 15_000;
        }
        series.push((pod, samples));
    }
    // the first 20 hours in segments, the rest in the head
    for (from, to) in [(0, T0 + 20 * HOUR_MS), (T0 + 20 * HOUR_MS, i64::MAX)] {
        let mut batch = WriteBatch::default();
        for (pod, samples) in &series {
            let part: Vec<&(i64, f64)> =
                samples.iter().filter(|s| s.0 >= from && s.0 < to).collect();
            batch.series.push(SeriesBatch {
                labels: Labels::from_pairs(&[
                    ("__name__", "queue_lag_seconds"),
                    ("job", "q"),
                    ("pod", pod),
                ]),
                kind: SeriesKind::Gauge,
                timestamps: part.iter().map(|s| s.0).collect(),
                values: part.iter().map(|s| s.1).collect(),
                resolved: None,
            });
        }
        let out = engine.append(&batch).unwrap();
        assert_eq!(out.rejected_samples, 0);
        if from == 0 {
            engine.flush(true).unwrap();
        }
    }
    let all: Vec<(i64, f64)> = series.iter().flat_map(|s| s.1.clone()).collect();
    let snap = engine.snapshot();
    let sums = SumsCache::default();
    for budgeting in [
        Budgeting::Timeslices {
            slice_ms: SLICE,
            slice_target: 0.75,
        },
        Budgeting::RatioTimeslices { slice_ms: SLICE },
    ] {
        let versions = slo(budgeting.clone());
        for (a, b) in [
            (T0, T0 + 30 * HOUR_MS),
            (T0 + 4 * HOUR_MS + 17_000, T0 + 7 * HOUR_MS + 59_999),
            (T0 + 29 * HOUR_MS, T0 + 31 * HOUR_MS),
        ] {
            let want = reference(&all, a, b, &budgeting, 0.95);
            assert!(want.total > 0.0);
            for cache in [None, Some(&sums)] {
                let got = SloEval::new(&snap, &versions, &[])
                    .unwrap()
                    .with_cache(cache)
                    .totals(a, b)
                    .unwrap();
                assert_eq!(got, want, "{budgeting:?} over ({a}, {b}]");
            }
        }
        let mut ev = SloEval::new(&snap, &versions, &[]).unwrap();
        let now = T0 + 30 * HOUR_MS;
        let p = reference(&all, now - 24 * HOUR_MS, now, &budgeting, 0.95);
        assert_eq!(
            ev.budget_remaining(now).unwrap(),
            Some(1.0 - (p.total - p.good) / p.allowed_bad)
        );
    }
}
