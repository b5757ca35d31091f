//! Whole-workload tests: determinism, consistency of jointly drawn series,
//! churn, scrape timing and the reference answers.

use std::collections::{BTreeMap, BTreeSet};

use nines_engine::{is_stale_marker, Labels, SeriesKind};

use super::*;

const HOUR_MS: i64 = 3_600_000;

/// Small enough for debug builds, busy enough to exercise every mechanism:
/// deploys every few hours, several restarts and incidents per pod and day.
fn tiny() -> WorkloadConfig {
    WorkloadConfig {
        seed: 42,
        duration_ms: 24 * HOUR_MS,
        services: 2,
        endpoints_per_service: 2,
        pods_per_service: 2,
        request_rate: (0.2, 200.0),
        restarts_per_pod_day: 4.0,
        incidents_per_week: 10.0,
        deploy_interval_ms: (4 * HOUR_MS, 9 * HOUR_MS),
        ..WorkloadConfig::small()
    }
}

/// Kind, timestamps and value bits of every series.
type Collected = BTreeMap<Labels, (SeriesKind, Vec<i64>, Vec<u64>)>;

fn collect_each(w: &Workload) -> Collected {
    let mut out = Collected::new();
    w.for_each_series(|s| {
        let bits = s.values.iter().map(|v| v.to_bits()).collect();
        let old = out.insert(s.labels, (s.kind, s.timestamps, bits));
        assert!(old.is_none(), "a series was emitted twice");
    });
    out
}

fn collect_batches(w: &Workload, max: usize) -> Collected {
    let mut out = Collected::new();
    let mut prev_max_ts = i64::MIN;
    let slack = w.config().scrape_interval_ms + w.config().jitter_max_ms;
    for batch in w.batches(max) {
        assert!(batch.sample_count() <= max && batch.sample_count() > 0);
        let mut seen = BTreeSet::new();
        let (mut lo, mut hi) = (i64::MAX, i64::MIN);
        for s in batch.series {
            assert!(seen.insert(s.labels.clone()), "series twice in a batch");
            assert_eq!(s.timestamps.len(), s.values.len());
            assert!(s.timestamps.windows(2).all(|w| w[0] < w[1]));
            lo = lo.min(s.timestamps[0]);
            hi = hi.max(s.timestamps[s.timestamps.len() - 1]);
            let e = out
                .entry(s.labels)
                .or_insert((s.kind, Vec::new(), Vec::new()));
            assert_eq!(e.0, s.kind);
            e.1.extend(s.timestamps);
            e.2.extend(s.values.iter().map(|v| v.to_bits()));
        }
        // Rounds come in order: a batch starts no earlier than one round
        // before the previous batch ended.
        assert!(
            lo >= prev_max_ts.saturating_sub(slack),
            "batch starts at {lo}, previous ended at {prev_max_ts}"
        );
        prev_max_ts = prev_max_ts.max(hi);
    }
    out
}

#[test]
fn same_config_gives_the_same_samples() {
    let a = collect_each(&Workload::new(tiny()).unwrap());
    let b = collect_each(&Workload::new(tiny()).unwrap());
    assert!(a == b);
    let c = collect_each(&Workload::new(tiny().with_seed(43)).unwrap());
    assert!(a != c);
}

#[test]
fn batches_and_for_each_series_agree() {
    let w = Workload::new(tiny()).unwrap();
    let each = collect_each(&w);
    let samples: usize = each.values().map(|s| s.1.len()).sum();
    assert_eq!(each.len() as u64, w.series_count());
    assert_eq!(samples as u64, w.sample_count());
    for max in [1, 37, 50_000] {
        let batched = collect_batches(&w, max);
        assert!(batched == each, "max_samples {max}");
    }
}

#[test]
fn kinds_and_labels_are_set() {
    let w = Workload::new(tiny()).unwrap();
    let each = collect_each(&w);
    for (labels, (kind, _, _)) in &each {
        let name = labels.metric_name().unwrap();
        let want = match name {
            "http_requests_total" => SeriesKind::Counter,
            "http_request_duration_seconds_bucket" => SeriesKind::HistogramBucket,
            "http_request_duration_seconds_count" => SeriesKind::HistogramCount,
            "http_request_duration_seconds_sum" => SeriesKind::HistogramSum,
            "up" | "process_resident_memory_bytes" | "process_open_fds" => SeriesKind::Gauge,
            other => panic!("unexpected metric {other}"),
        };
        assert_eq!(*kind, want, "{labels}");
        for l in ["namespace", "job", "service", "pod"] {
            assert!(labels.get(l).is_some(), "{labels} lacks {l}");
        }
        assert_eq!(labels.validate(&Default::default()), Ok(()));
    }
}

/// The series of one pod+endpoint, by name and `le`/`code`.
struct Unit<'a> {
    codes: Vec<&'a Vec<u64>>,
    buckets: Vec<(f64, &'a Vec<u64>)>,
    count: &'a Vec<u64>,
    sum: &'a Vec<u64>,
    timestamps: &'a Vec<i64>,
}

fn units(each: &Collected) -> Vec<(String, Unit<'_>)> {
    type Member<'a> = (&'a Labels, &'a Vec<i64>, &'a Vec<u64>);
    let mut groups: BTreeMap<(String, String), Vec<Member<'_>>> = BTreeMap::new();
    for (l, (_, ts, vs)) in each {
        if let Some(e) = l.get("endpoint") {
            let pod = l.get("pod").unwrap().to_string();
            groups
                .entry((pod, e.to_string()))
                .or_default()
                .push((l, ts, vs));
        }
    }
    groups
        .into_iter()
        .map(|((pod, _), members)| {
            let find = |name: &str| {
                members
                    .iter()
                    .find(|m| m.0.metric_name() == Some(name))
                    .map(|m| m.2)
                    .unwrap()
            };
            let mut buckets: Vec<(f64, &Vec<u64>)> = members
                .iter()
                .filter_map(|m| {
                    let le = m.0.get("le")?;
                    let le = if le == "+Inf" {
                        f64::INFINITY
                    } else {
                        le.parse().unwrap()
                    };
                    Some((le, m.2))
                })
                .collect();
            buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
            let unit = Unit {
                codes: members
                    .iter()
                    .filter(|m| m.0.get("code").is_some())
                    .map(|m| m.2)
                    .collect(),
                buckets,
                count: find("http_request_duration_seconds_count"),
                sum: find("http_request_duration_seconds_sum"),
                timestamps: members[0].1,
            };
            for m in &members {
                assert_eq!(m.1, unit.timestamps, "a unit's series share timestamps");
            }
            (pod, unit)
        })
        .collect()
}

#[test]
fn histograms_are_consistent_and_counters_reset_only_at_restarts() {
    let w = Workload::new(tiny()).unwrap();
    let each = collect_each(&w);
    let f = f64::from_bits;
    let interval = w.config().scrape_interval_ms;
    let mut resets = 0;
    let mut exact_and_approx = [0usize; 2];
    for (pod_name, u) in units(&each) {
        let pod = w.plan.pods.iter().find(|p| p.name == pod_name).unwrap();
        let slot_of = |t: i64| ((t - w.plan.grid_ms(pod.phase_ms, 0)) / interval) as u64;
        assert_eq!(u.buckets.len(), w.config().buckets.len() + 1);
        assert_eq!(u.codes.len(), w.config().status_codes.len());
        for i in 0..u.timestamps.len() {
            if is_stale_marker(f(u.count[i])) {
                assert_eq!(i, u.timestamps.len() - 1, "stale marker is last");
                assert!(u.buckets.iter().all(|b| is_stale_marker(f(b.1[i]))));
                continue;
            }
            let count = f(u.count[i]);
            let mut prev = 0.0;
            for (le, b) in &u.buckets {
                assert!(f(b[i]) >= prev, "{pod_name} le={le} not cumulative");
                prev = f(b[i]);
            }
            assert_eq!(prev, count, "+Inf bucket == _count");
            let by_code: f64 = u.codes.iter().map(|c| f(c[i])).sum();
            assert_eq!(by_code, count, "sum over codes == _count");
            // A whole number of ms, written as ms / 1000.
            let sum_ms = (f(u.sum[i]) * 1000.0).round();
            assert_eq!(sum_ms / 1000.0, f(u.sum[i]));
            assert!(sum_ms >= count, "each request takes at least 1 ms");
            if i == 0 {
                continue;
            }
            let increase = count - f(u.count[i - 1]);
            exact_and_approx[usize::from(increase > 32.0)] += 1;
            // Every counter of the unit falls only after a restart.
            let restarted = pod.restarts.iter().any(|r| {
                slot_of(u.timestamps[i - 1]) < r.slot && r.slot <= slot_of(u.timestamps[i])
            });
            let all = u
                .codes
                .iter()
                .chain(u.buckets.iter().map(|b| &b.1))
                .chain([&u.count, &u.sum]);
            for s in all {
                if f(s[i]) < f(s[i - 1]) {
                    assert!(
                        restarted,
                        "{pod_name}: a counter fell at {} without a restart",
                        u.timestamps[i]
                    );
                    resets += 1;
                }
            }
        }
    }
    assert!(resets > 10, "restarts reset counters ({resets} falls seen)");
    // Both ways of drawing a slot's requests were used.
    assert!(
        exact_and_approx.iter().all(|&n| n > 1_000),
        "{exact_and_approx:?}"
    );
}

#[test]
fn deploys_leave_stale_markers_and_new_pods() {
    let w = Workload::new(tiny()).unwrap();
    let each = collect_each(&w);
    let start = w.config().start_ms;
    let mut stale_series = 0;
    let mut pods_by_service: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let mut late_starters = BTreeSet::new();
    for (labels, (_, ts, vs)) in &each {
        assert!(
            ts.windows(2).all(|w| w[0] < w[1]),
            "{labels}: timestamps increase"
        );
        assert!(ts[ts.len() - 1] < w.end_ms() + w.config().jitter_max_ms);
        let stale: Vec<usize> = (0..vs.len())
            .filter(|&i| is_stale_marker(f64::from_bits(vs[i])))
            .collect();
        match stale.as_slice() {
            [] => {}
            [i] => {
                assert_eq!(*i, vs.len() - 1, "{labels}: stale marker ends the series");
                assert_eq!(vs[*i], nines_engine::STALE_NAN_BITS);
                stale_series += 1;
            }
            _ => panic!("{labels}: several stale markers"),
        }
        let (service, pod) = (labels.get("service").unwrap(), labels.get("pod").unwrap());
        pods_by_service.entry(service).or_default().insert(pod);
        if ts[0] > start + w.config().scrape_interval_ms {
            late_starters.insert(pod);
        }
    }
    let deploys = w
        .events()
        .iter()
        .filter(|e| matches!(e, Event::Deploy { .. }))
        .count();
    assert!(deploys >= 4, "{deploys} deploys");
    let per_pod = w.plan.series_per_pod();
    let pods = w.config().pods_per_service;
    // Every deploy ends `pods` pods (those whose stale slot is in the window).
    let stale_pods = w.plan.pods.iter().filter(|p| p.stale).count();
    assert_eq!(stale_series, stale_pods * per_pod);
    assert!(
        stale_pods + pods >= deploys * pods,
        "{stale_pods} pods ended for {deploys} deploys"
    );
    for (service, set) in &pods_by_service {
        assert!(set.len() > pods, "{service} has only {} pods", set.len());
    }
    assert!(late_starters.len() >= deploys * pods - pods);
}

#[test]
fn jitter_and_gaps_appear_at_about_the_configured_rates() {
    let cfg = WorkloadConfig {
        duration_ms: 48 * HOUR_MS,
        ..tiny()
    };
    let w = Workload::new(cfg).unwrap();
    let interval = w.config().scrape_interval_ms;
    let (mut scrapes, mut late, mut gaps) = (0u64, 0u64, 0u64);
    w.for_each_series_where(
        |l| l.metric_name() == Some("up"),
        |s| {
            let pod = w
                .plan
                .pods
                .iter()
                .find(|p| Some(p.name.as_str()) == s.labels.get("pod"))
                .unwrap();
            let grid0 = w.plan.grid_ms(pod.phase_ms, 0);
            for (i, &t) in s.timestamps.iter().enumerate() {
                let off = (t - grid0).rem_euclid(interval);
                assert!(
                    off <= w.config().jitter_max_ms,
                    "{t} is {off} ms off the grid"
                );
                if is_stale_marker(s.values[i]) {
                    continue;
                }
                scrapes += 1;
                late += u64::from(off > 0);
                if i > 0 {
                    let slots = (t - s.timestamps[i - 1] + interval / 2) / interval;
                    gaps += (slots - 1) as u64;
                }
            }
        },
    );
    let late_share = late as f64 / scrapes as f64;
    let gap_share = gaps as f64 / (scrapes + gaps) as f64;
    // About 46,000 scrapes: sd of the late share 0.001, of the gap share 0.0001.
    assert!((late_share - 0.05).abs() < 0.006, "late share {late_share}");
    assert!((gap_share - 0.0005).abs() < 0.0004, "gap share {gap_share}");
    assert!(gaps > 0);
}

#[test]
fn reference_increase_is_additive_and_sums_the_selected_series() {
    let w = Workload::new(tiny()).unwrap();
    let each = collect_each(&w);
    let service = w.plan.services[0].name.clone();
    let sel = SeriesSelector::new("http_requests_total")
        .with("service", service.as_str())
        .with("code", "500");
    let (a, c) = (w.config().start_ms, w.end_ms() + 10);
    let cuts: Vec<i64> = (0..=24).map(|h| a + h * HOUR_MS - 7).collect();
    let windows: Vec<(i64, i64)> = cuts.windows(2).map(|p| (p[0], p[1])).collect();
    let parts = w.increases(&sel, &windows);
    let whole = w.increase(&sel, cuts[0], cuts[24]);
    // Whole request counts: the sum of parts is exact.
    assert_eq!(parts.iter().sum::<f64>(), whole);
    assert!(whole > 0.0);
    // The same by hand over the collected series.
    let mut by_hand = 0.0;
    let mut matched = 0;
    for (labels, (_, ts, vs)) in &each {
        if sel.matches(labels) {
            matched += 1;
            let vs: Vec<f64> = vs.iter().map(|v| f64::from_bits(*v)).collect();
            by_hand += contract_increase(ts, &vs, cuts[0], cuts[24]);
        }
    }
    assert_eq!(
        matched,
        w.plan.pods.iter().filter(|p| p.service == 0).count() * 2
    );
    assert_eq!(by_hand, whole);
    // Over the whole window: a 5xx share between the baseline and the worst
    // incident of all requests of the service.
    let total = w.increase(
        &SeriesSelector::new("http_request_duration_seconds_count")
            .with("service", service.as_str()),
        a,
        c,
    );
    let share = whole / total;
    assert!(share > 0.0 && share < 0.4, "5xx share {share}");
}

#[test]
fn events_are_sorted_and_match_the_plan() {
    let w = Workload::new(tiny()).unwrap();
    let events = w.events();
    assert!(events.windows(2).all(|p| p[0].at_ms() <= p[1].at_ms()));
    let restarts = events
        .iter()
        .filter(|e| matches!(e, Event::Restart { .. }))
        .count();
    assert_eq!(
        restarts,
        w.plan.pods.iter().map(|p| p.restarts.len()).sum::<usize>()
    );
    assert!(restarts > 5);
    assert!(events
        .iter()
        .any(|e| matches!(e, Event::Incident { slow: true, .. })));
    assert!(events.iter().all(|e| e.at_ms() < w.end_ms()));
}

#[test]
fn information_content_is_positive_and_complete() {
    let w = Workload::new(tiny()).unwrap();
    let info = information_content(&w);
    assert_eq!(info.total.series, w.series_count());
    assert_eq!(info.total.samples, w.sample_count());
    let by_kind_samples: u64 = info.by_kind.values().map(|k| k.samples).sum();
    assert_eq!(by_kind_samples, info.total.samples);
    // Counters carry information; timestamps little (mostly on the grid).
    let counters = info.by_kind[&SeriesKind::Counter];
    assert!(counters.value_bytes_per_sample() > 0.05);
    assert!(info.total.timestamp_bytes_per_sample() < 0.1);
    assert!(info.total.timestamp_bytes_per_sample() > 0.0);
    // `up` is constant: its symbols are one delta 1 (from zero), n - 1 - s
    // deltas 0 and s stale markers (s = 0 or 1).
    w.for_each_series_where(
        |l| l.metric_name() == Some("up"),
        |s| {
            let n = s.values.len() as f64;
            let stale = s.values.iter().filter(|v| is_stale_marker(**v)).count() as f64;
            let zeros = n - 1.0 - stale;
            let want = n.log2() + zeros * (n / zeros).log2() + stale * n.log2();
            let (bits, _) = info::series_bits(&s);
            assert!((bits - want).abs() < 1e-9, "{}: {bits} vs {want}", s.labels);
        },
    );
}
