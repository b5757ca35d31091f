//! Property: a summary answered from rollups plus raw edges (and the caches
//! behind them) equals the summary of the raw samples, bit for bit, for
//! random windows over random counters with resets, gaps, stale markers,
//! late samples and a head that still holds the newest ones; and the
//! summaries of consecutive steps read in one pass equal one summary per
//! step.

use nines_engine::options::{DAY_MS, HOUR_MS, MINUTE_MS};
use nines_engine::read::ReadScratch;
use nines_engine::rollup::{Counting, Summary};
use nines_engine::types::STALE_NAN_BITS;
use nines_engine::wal::SyncPolicy;
use nines_engine::{Engine, EngineOptions, Labels, SeriesBatch, SeriesKind, WriteBatch};
use proptest::prelude::*;

/// Samples of one counter: (interval ms, event) steps over about two days.
fn counter(steps: &[(i64, u8, u32)]) -> (Vec<i64>, Vec<f64>) {
    let (mut ts, mut vs) = (Vec::new(), Vec::new());
    let (mut t, mut v) = (0i64, 0.0f64);
    for &(dt, event, inc) in steps {
        t += dt;
        match event {
            0 => t += 3 * HOUR_MS, // a gap
            1 => v = 0.0,          // a reset
            2 => {
                ts.push(t);
                vs.push(f64::from_bits(STALE_NAN_BITS));
                continue;
            }
            _ => v += f64::from(inc),
        }
        ts.push(t);
        vs.push(v);
    }
    (ts, vs)
}

fn batch(job: &str, ts: &[i64], vs: &[f64]) -> WriteBatch {
    WriteBatch {
        series: vec![SeriesBatch {
            labels: Labels::from_pairs(&[("__name__", "c_total"), ("job", job)]),
            kind: SeriesKind::Counter,
            timestamps: ts.to_vec(),
            values: vs.to_vec(),
            resolved: None,
        }],
    }
}

fn steps() -> impl Strategy<Value = Vec<(i64, u8, u32)>> {
    let interval = prop_oneof![Just(MINUTE_MS), Just(15_000i64), 1_000i64..5 * MINUTE_MS];
    prop::collection::vec((interval, 0u8..200, 0u32..100), 200..1500)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn summaries_from_rollups_equal_raw(
        a in steps(),
        b in steps(),
        windows in prop::collection::vec((0i64..4 * DAY_MS, 0i64..3 * DAY_MS, any::<bool>()), 40),
        late_every in 2usize..5,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut o = EngineOptions::new(dir.path())
            .background(false)
            .sync(SyncPolicy::Never)
            .rollup_cache_bytes(1 << 16); // small: entries get evicted
        o.rollup_delay_ms.clear();
        let e = Engine::open(o).unwrap();
        let series: Vec<(&str, Vec<i64>, Vec<f64>)> = [("a", &a), ("b", &b)]
            .into_iter()
            .map(|(job, steps)| {
                let (ts, vs) = counter(steps);
                (job, ts, vs)
            })
            .collect();
        // the newest tenth of each stays in the head
        let head_from: Vec<usize> = series.iter().map(|s| s.1.len() * 9 / 10).collect();
        for ((job, ts, vs), &end) in series.iter().zip(&head_from) {
            // in chunks, every `late_every`-th chunk sent after the next
            // one (late samples)
            let chunks: Vec<(usize, usize)> = (0..end)
                .step_by(50)
                .map(|i| (i, (i + 50).min(end)))
                .collect();
            let mut order: Vec<usize> = (0..chunks.len()).collect();
            for i in (0..order.len().saturating_sub(1)).step_by(late_every) {
                order.swap(i, i + 1);
            }
            for i in order {
                let (x, y) = chunks[i];
                e.append(&batch(job, &ts[x..y], &vs[x..y])).unwrap();
            }
        }
        e.maintain().unwrap();
        e.compact_all().unwrap();
        for ((job, ts, vs), &from) in series.iter().zip(&head_from) {
            e.append(&batch(job, &ts[from..], &vs[from..])).unwrap();
        }
        let snap = e.snapshot();
        let handles = snap.select_with_rollups(&[], i64::MIN, i64::MAX).unwrap();
        prop_assert_eq!(handles.len(), 2);
        let mut scratch = ReadScratch::default();
        let (mut ts, mut vs) = (Vec::new(), Vec::new());
        let sample_times = &series[0].1;
        let bounds: Vec<(i64, i64)> = windows
            .iter()
            .map(|&(start, len, on_sample)| {
                let (mut lo, hi) = (start - HOUR_MS, start + len);
                if on_sample {
                    // a window opening exactly at a sample: that one is out
                    let i = sample_times.partition_point(|&t| t <= lo);
                    lo = sample_times[i.saturating_sub(1)];
                }
                (lo, hi)
            })
            .collect();
        // handles that know only the files summaries of all windows read
        let all_windows = snap.select_for_windows(&[], &bounds).unwrap();
        for &(lo, hi) in &bounds {
            // and of this window alone
            let one_window = snap.select_for_windows(&[], &[(lo, hi)]).unwrap();
            for h in &handles {
                ts.clear();
                vs.clear();
                snap.read_samples(h, lo + 1, hi, &mut scratch, &mut ts, &mut vs).unwrap();
                // the samples of the window (an edge block may come from
                // the cache) are those of a read of everything, which
                // decodes every block whole
                let (mut all_ts, mut all_vs) = (Vec::new(), Vec::new());
                snap.read_samples(h, i64::MIN, i64::MAX, &mut scratch, &mut all_ts, &mut all_vs).unwrap();
                let (x, y) = (all_ts.partition_point(|&t| t <= lo), all_ts.partition_point(|&t| t <= hi));
                prop_assert_eq!(&ts[..], &all_ts[x..y], "times of ({}, {}] of {}", lo, hi, &h.labels);
                let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<u64>>();
                prop_assert_eq!(bits(&vs), bits(&all_vs[x..y]), "values of ({}, {}] of {}", lo, hi, &h.labels);
                let raw = Summary::of(Counting::Cumulative, &ts, &vs);
                for pass in 0..2 {
                    let got = snap.summarize(h, lo, hi, &mut scratch).unwrap();
                    prop_assert_eq!(got, raw, "pass {} window ({}, {}] of {}", pass, lo, hi, &h.labels);
                }
                for narrow in [&one_window, &all_windows] {
                    match narrow.iter().find(|x| x.labels == h.labels) {
                        Some(hn) => {
                            let got = snap.summarize(hn, lo, hi, &mut scratch).unwrap();
                            prop_assert_eq!(got, raw, "narrow select, window ({}, {}] of {}", lo, hi, &h.labels);
                        }
                        // not found: it has no sample in the window
                        None => prop_assert_eq!(raw, Summary::EMPTY),
                    }
                }
            }
        }
        // step summaries, one pass per series, equal one summary per step
        let mut steps_out = Vec::new();
        for &(start, len, _) in windows.iter().take(8) {
            for step in [MINUTE_MS, 5 * MINUTE_MS, HOUR_MS, DAY_MS] {
                let first = start / step * step - step;
                let n = (len / step + 2).min(400) as usize;
                // handles that know only the files aligned steps read
                let narrow = snap.select_for_steps(&[], first, i64::MAX, step).unwrap();
                for h in &handles {
                    match narrow.iter().find(|x| x.labels == h.labels) {
                        Some(hn) => snap.summarize_steps(hn, first, step, n, &mut scratch, &mut steps_out).unwrap(),
                        // not found: it has no sample in the steps
                        None => steps_out = vec![Summary::EMPTY; n],
                    }
                    prop_assert_eq!(steps_out.len(), n);
                    for (k, got) in steps_out.iter().enumerate() {
                        let (x, y) = (first + k as i64 * step, first + (k as i64 + 1) * step);
                        let want = snap.summarize(h, x, y, &mut scratch).unwrap();
                        prop_assert_eq!(*got, want, "step {} of {} ms from {} of {}", k, step, first, &h.labels);
                    }
                }
            }
        }
    }
}
