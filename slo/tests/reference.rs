//! Every SLO number from a real engine (rollups + raw edges + head) equals
//! an independent reference written straight from SLO_SEMANTICS.md: plain
//! loops over the raw samples, no rollups, no `summarize`.
//!
//! The generated data has counter resets, gaps, restarts, zero-traffic
//! hours, delta counters, a classic histogram, late and retried writes; the
//! SLOs have one-off and recurring exclusions, a version change mid-period,
//! a calendar month spanning a DST change (March 2024 in Berlin), time
//! slices and ratio time slices.

use std::sync::OnceLock;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::ToSpan;
use nines_engine::index::{matches_all, Matcher};
use nines_engine::options::MINUTE_MS;
use nines_engine::wal::SyncPolicy;
use nines_engine::{Engine, EngineOptions, Labels, Retention, SeriesBatch, SeriesKind, WriteBatch};
use nines_slo::calendar::CalendarUnit;
use nines_slo::exclusion::{Category, Exclusion, Recurrence, Schedule, Scope};
use nines_slo::numbers::Totals;
use nines_slo::report::SloEval;
use nines_slo::sums::SumsCache;
use nines_slo::{Budgeting, Objective, RatioEvents, Selector, Sli, Slo, SloVersion, Window};
use proptest::prelude::*;
use rand::{Rng, SeedableRng};

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

fn ms(s: &str) -> i64 {
    s.parse::<jiff::Timestamp>().unwrap().as_millisecond()
}

struct Raw {
    labels: Labels,
    kind: SeriesKind,
    ts: Vec<i64>,
    vs: Vec<f64>,
}

struct World {
    _dir: tempfile::TempDir,
    engine: Engine,
    raw: Vec<Raw>,
    /// `events(raw[i])`, computed once.
    events: Vec<Vec<(i64, f64)>>,
    start: i64,
    end: i64,
    slos: Vec<Vec<SloVersion>>,
    exclusions: Vec<Exclusion>,
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs)
}

/// Traffic per minute: zero in some hours, busier by day.
fn traffic(rng: &mut rand::rngs::StdRng, t: i64) -> u32 {
    let hour = t / HOUR;
    if hour % 37 == 5 {
        return 0;
    }
    let base = if (hour % 24) >= 8 && (hour % 24) < 20 {
        60
    } else {
        15
    };
    rng.gen_range(0..=base)
}

fn generate(start: i64, end: i64) -> Vec<Raw> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(20240331);
    let mut out: Vec<Raw> = Vec::new();
    let edges = ["0.1", "0.3", "1", "+Inf"];
    for (inst, kind) in [
        ("i1", SeriesKind::Counter),
        ("i2", SeriesKind::Unknown),
        ("otel", SeriesKind::DeltaCounter),
    ] {
        for code in ["200", "500"] {
            out.push(Raw {
                labels: labels(&[
                    ("__name__", "req_total"),
                    ("job", "api"),
                    ("instance", inst),
                    ("code", code),
                ]),
                kind,
                ts: vec![],
                vs: vec![],
            });
        }
    }
    for le in edges {
        out.push(Raw {
            labels: labels(&[("__name__", "lat_bucket"), ("job", "api"), ("le", le)]),
            kind: SeriesKind::HistogramBucket,
            ts: vec![],
            vs: vec![],
        });
    }
    out.push(Raw {
        labels: labels(&[("__name__", "lat_count"), ("job", "api")]),
        kind: SeriesKind::HistogramCount,
        ts: vec![],
        vs: vec![],
    });
    // cumulative state per counter series; the histogram restarts as one
    let mut val = vec![0.0f64; out.len()];
    let mut gap_until = [i64::MIN; 3];
    let mut t = start;
    while t < end {
        for (inst, gap) in gap_until.iter_mut().enumerate() {
            if t >= *gap && rng.gen_bool(0.0004) {
                *gap = t + rng.gen_range(30..180) * MINUTE_MS;
            }
            if t < *gap {
                continue;
            }
            let restart = inst != 2 && rng.gen_bool(0.0005);
            let n = traffic(&mut rng, t);
            let bad = if rng.gen_bool(0.02) { n / 2 } else { n / 40 };
            for (code, inc) in [(0, n - bad), (1, bad)] {
                let k = inst * 2 + code;
                let v = if inst == 2 {
                    f64::from(inc)
                } else if restart {
                    f64::from(inc % 3)
                } else {
                    val[k] + f64::from(inc)
                };
                val[k] = v;
                out[k].ts.push(t + inst as i64 * 7);
                out[k].vs.push(v);
            }
        }
        let hist_restart = rng.gen_bool(0.0005);
        let n = traffic(&mut rng, t);
        let mut cum = 0u32;
        let shares = [rng.gen_range(0..=n), 0, 0, 0];
        let rest = n - shares[0];
        let a = rng.gen_range(0..=rest);
        let b = rng.gen_range(0..=rest - a);
        let per = [shares[0], a, b, rest - a - b];
        for (j, inc) in per.iter().enumerate() {
            cum += inc;
            let k = 6 + j;
            let v = if hist_restart {
                0.0
            } else {
                val[k] + f64::from(cum)
            };
            val[k] = v;
            out[k].ts.push(t);
            out[k].vs.push(v);
        }
        let v = if hist_restart {
            0.0
        } else {
            val[10] + f64::from(n)
        };
        val[10] = v;
        out[10].ts.push(t);
        out[10].vs.push(v);
        t += MINUTE_MS;
    }
    out
}

fn write(engine: &Engine, raw: &[Raw], from: i64, to: i64, rng: &mut rand::rngs::StdRng) {
    // one day per batch; samples of the last 30 minutes of a day arrive
    // late (after the rest), every fifth batch is sent twice
    let mut day = from;
    let mut n = 0;
    while day < to {
        let hi = (day + DAY).min(to);
        let mut on_time = WriteBatch::default();
        let mut late = WriteBatch::default();
        for s in raw {
            let lo_i = s.ts.partition_point(|&t| t < day);
            let hi_i = s.ts.partition_point(|&t| t < hi);
            let mut a = SeriesBatch {
                labels: s.labels.clone(),
                kind: s.kind,
                ..Default::default()
            };
            let mut b = a.clone();
            for i in lo_i..hi_i {
                let target = if s.ts[i] >= hi - 30 * MINUTE_MS && rng.gen_bool(0.3) {
                    &mut b
                } else {
                    &mut a
                };
                target.timestamps.push(s.ts[i]);
                target.values.push(s.vs[i]);
            }
            on_time.series.push(a);
            late.series.push(b);
        }
        for batch in [&on_time, &late] {
            let r = engine.append(batch).unwrap();
            assert_eq!(r.rejected_samples, 0, "{:?}", r.rejected.first());
        }
        if n % 5 == 0 {
            let r = engine.append(&on_time).unwrap();
            assert_eq!(r.accepted, 0, "a retried batch is all duplicates");
        }
        n += 1;
        day = hi;
    }
}

fn sel(s: &str) -> Selector {
    Selector::parse(s).unwrap()
}

fn slo(name: &str, sli: Sli, target: f64, window: Window, budgeting: Budgeting) -> Slo {
    Slo {
        name: name.into(),
        service: "api".into(),
        description: None,
        sli,
        objectives: vec![Objective {
            display_name: None,
            target,
        }],
        window,
        budgeting,
    }
}

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| {
        let start = ms("2024-02-26T00:00:00Z");
        let end = ms("2024-04-04T00:00:00Z");
        let raw = generate(start, end);
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
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        let cut = end - 3 * HOUR;
        write(&engine, &raw, start, cut, &mut rng);
        engine.compact_all().unwrap();
        assert_eq!(engine.snapshot().version().rollups.len(), 3);
        // the newest hours stay in the head
        write(&engine, &raw, cut, end, &mut rng);

        let avail_v1 = slo(
            "avail",
            Sli::Ratio {
                events: RatioEvents::Bad(sel(r#"req_total{job="api", code="500"}"#)),
                total: sel(r#"req_total{job="api"}"#),
            },
            0.99,
            Window::Rolling { ms: 28 * DAY },
            Budgeting::Occurrences,
        );
        let mut avail_v2 = avail_v1.clone();
        avail_v2.objectives[0].target = 0.995;
        avail_v2.sli = Sli::Ratio {
            events: RatioEvents::Bad(sel(r#"req_total{code="500", instance!="otel"}"#)),
            total: sel(r#"req_total{instance!="otel"}"#),
        };
        let change = ms("2024-03-15T12:00:00Z");
        let lat = slo(
            "lat",
            Sli::ThresholdLatency {
                bucket: sel(r#"lat_bucket{job="api"}"#),
                threshold: 0.3,
            },
            0.95,
            Window::Calendar {
                unit: CalendarUnit::Month,
                tz: "Europe/Berlin".into(),
            },
            Budgeting::Timeslices {
                slice_ms: HOUR,
                slice_target: 0.5,
            },
        );
        let rts = slo(
            "rts",
            Sli::Ratio {
                events: RatioEvents::Good(sel(r#"req_total{code="200"}"#)),
                total: sel("req_total"),
            },
            0.97,
            Window::Rolling { ms: 7 * DAY },
            Budgeting::RatioTimeslices {
                slice_ms: 15 * MINUTE_MS,
            },
        );
        let v = |version, from, to, def| SloVersion {
            version,
            effective_from: from,
            effective_to: to,
            def,
        };
        let slos = vec![
            // v1 was applied on the 20th with an explicit earlier
            // effective_from; it also governs all time before it
            vec![
                v(1, ms("2024-03-01T00:00:00Z"), Some(change), avail_v1),
                v(2, change, None, avail_v2),
            ],
            vec![v(1, end, None, lat)],
            vec![v(1, end, None, rts)],
        ];
        let ex = |id: &str, scope, schedule| Exclusion {
            id: id.into(),
            scope,
            schedule,
            category: Category::Maintenance,
            reason: "test".into(),
            author: "t".into(),
        };
        let exclusions = vec![
            ex(
                "once",
                Scope::Slos(vec!["avail".into(), "rts".into()]),
                Schedule::Once {
                    start: ms("2024-03-10T10:00:00Z"),
                    end: ms("2024-03-10T14:30:00Z"),
                },
            ),
            ex(
                "sunday",
                Scope::All,
                Schedule::Recurring(
                    Recurrence::parse("FREQ=WEEKLY;BYDAY=SU;BYHOUR=2", 2 * HOUR, "Europe/Berlin")
                        .unwrap(),
                ),
            ),
            ex(
                "lat-only",
                Scope::Slos(vec!["lat".into()]),
                Schedule::Once {
                    start: ms("2024-03-20T06:00:00Z"),
                    end: ms("2024-03-20T09:17:00Z"),
                },
            ),
        ];
        World {
            _dir: dir,
            engine,
            events: raw.iter().map(events).collect(),
            raw,
            start,
            end,
            slos,
            exclusions,
        }
    })
}

// ---- the reference: plain loops over raw samples ----

/// `(time, amount)` of every event of a series, per the contract.
fn events(s: &Raw) -> Vec<(i64, f64)> {
    let mut out = Vec::new();
    if s.kind == SeriesKind::DeltaCounter {
        for (t, v) in s.ts.iter().zip(&s.vs) {
            out.push((*t, *v));
        }
        return out;
    }
    for i in 1..s.ts.len() {
        let (prev, next) = (s.vs[i - 1], s.vs[i]);
        out.push((s.ts[i], if next >= prev { next - prev } else { next }));
    }
    out
}

fn berlin() -> TimeZone {
    TimeZone::get("Europe/Berlin").unwrap()
}

/// Whether an event at `t` is excluded for `slo`, from the exclusions as
/// the test wrote them.
fn excluded(slo: &str, t: i64) -> bool {
    if (slo == "avail" || slo == "rts")
        && ms("2024-03-10T10:00:00Z") <= t
        && t < ms("2024-03-10T14:30:00Z")
    {
        return true;
    }
    if slo == "lat" && ms("2024-03-20T06:00:00Z") <= t && t < ms("2024-03-20T09:17:00Z") {
        return true;
    }
    sundays().iter().any(|&(s, e)| s <= t && t < e)
}

/// Sundays 02:00 Berlin time for 2 hours, over the months the reports cover.
fn sundays() -> &'static [(i64, i64)] {
    static S: OnceLock<Vec<(i64, i64)>> = OnceLock::new();
    S.get_or_init(|| {
        let tz = berlin();
        let mut out = Vec::new();
        let mut day = jiff::civil::date(2024, 1, 28);
        while day < jiff::civil::date(2024, 5, 6) {
            if day.weekday() == jiff::civil::Weekday::Sunday {
                let s = day
                    .at(2, 0, 0, 0)
                    .to_zoned(tz.clone())
                    .unwrap()
                    .timestamp()
                    .as_millisecond();
                out.push((s, s + 2 * HOUR));
            }
            day = day.tomorrow().unwrap();
        }
        out
    })
}

fn version_at(vs: &[SloVersion], t: i64) -> &SloVersion {
    vs.iter()
        .rev()
        .find(|v| v.effective_from <= t)
        .unwrap_or(&vs[0])
}

fn matches(sel: &Selector, l: &Labels) -> bool {
    let m: &[Matcher] = sel.matchers();
    matches_all(m, l)
}

/// (good, total) of one definition's events in `(a, b]`, restricted to
/// events `keep` accepts.
fn ref_events(w: &World, def: &Slo, a: i64, b: i64, keep: &dyn Fn(i64) -> bool) -> (f64, f64) {
    let (mut good, mut total, mut bad) = (0.0, 0.0, 0.0);
    for (s, evs) in w.raw.iter().zip(&w.events) {
        let (is_good, is_bad, is_total) = match &def.sli {
            Sli::Ratio { events, total } => {
                let (g, b) = match events {
                    RatioEvents::Good(x) => (matches(x, &s.labels), false),
                    RatioEvents::Bad(x) => (false, matches(x, &s.labels)),
                };
                (g, b, matches(total, &s.labels))
            }
            Sli::ThresholdLatency { bucket, threshold } => {
                let le_ok =
                    s.labels.get("le").and_then(|x| x.parse::<f64>().ok()) == Some(*threshold);
                let is_count = s.labels.metric_name() == Some("lat_count");
                (matches(bucket, &s.labels) && le_ok, false, is_count)
            }
            Sli::GaugeThreshold { .. } => unreachable!("gauge SLIs: slo/tests/gauge.rs"),
        };
        // events are in time order: only those in (a, b] are looked at
        let lo = evs.partition_point(|e| e.0 <= a);
        let hi = evs.partition_point(|e| e.0 <= b);
        for &(t, d) in &evs[lo..hi] {
            if a < t && t <= b && !excluded(&def.name, t) && keep(t) {
                if is_good {
                    good += d;
                }
                if is_bad {
                    bad += d;
                }
                if is_total {
                    total += d;
                }
            }
        }
    }
    if matches!(
        &def.sli,
        Sli::Ratio {
            events: RatioEvents::Bad(_),
            ..
        }
    ) {
        good = total - bad;
    }
    (good, total)
}

/// Slices of `len` in `tz`, from each local midnight, wholly in `(a, b]`.
fn ref_slices(a: i64, b: i64, len: i64, tz: &TimeZone) -> Vec<(i64, i64)> {
    let mut out = Vec::new();
    let day0: Date = jiff::Timestamp::from_millisecond(a)
        .unwrap()
        .to_zoned(tz.clone())
        .date();
    let mut day = day0;
    loop {
        let s0 = day
            .to_zoned(tz.clone())
            .unwrap()
            .timestamp()
            .as_millisecond();
        if s0 >= b {
            break;
        }
        let next = day.checked_add(1.day()).unwrap();
        let s1 = next
            .to_zoned(tz.clone())
            .unwrap()
            .timestamp()
            .as_millisecond();
        let mut s = s0;
        while s < s1 {
            let e = if len == DAY { s1 } else { (s + len).min(s1) };
            if a <= s && e <= b {
                out.push((s, e));
            }
            s = e;
        }
        day = next;
    }
    out
}

fn ref_totals(w: &World, vs: &[SloVersion], a: i64, b: i64) -> Totals {
    let mut out = Totals::default();
    if a >= b {
        return out;
    }
    let at_end = version_at(vs, b);
    match at_end.def.budgeting {
        Budgeting::Occurrences => {
            for v in vs {
                let (g, t) = ref_events(w, &v.def, a, b, &|t| std::ptr::eq(version_at(vs, t), v));
                out.good += g;
                out.total += t;
                out.allowed_bad += (1.0 - v.def.target()) * t;
            }
        }
        Budgeting::Timeslices {
            slice_ms,
            slice_target,
        } => {
            let tz = TimeZone::get(at_end.def.tz_name()).unwrap();
            for (s, e) in ref_slices(a, b, slice_ms, &tz) {
                let v = version_at(vs, e);
                let (g, t) = ref_events(w, &v.def, s, e, &|_| true);
                if t > 0.0 {
                    out.good += if g / t >= slice_target { 1.0 } else { 0.0 };
                    out.total += 1.0;
                    out.allowed_bad += 1.0 - v.def.target();
                }
            }
        }
        Budgeting::RatioTimeslices { slice_ms } => {
            let tz = TimeZone::get(at_end.def.tz_name()).unwrap();
            for (s, e) in ref_slices(a, b, slice_ms, &tz) {
                let v = version_at(vs, e);
                let (g, t) = ref_events(w, &v.def, s, e, &|_| true);
                if t > 0.0 {
                    out.good += g / t;
                    out.total += 1.0;
                    out.allowed_bad += 1.0 - v.def.target();
                }
            }
        }
    }
    out
}

/// The per-selector sums every cached evaluation here shares.
fn sums() -> &'static SumsCache {
    static SUMS: OnceLock<SumsCache> = OnceLock::new();
    SUMS.get_or_init(SumsCache::default)
}

/// The totals read from the series, after checking that the shared sums
/// give the same.
fn eval_totals(w: &World, i: usize, a: i64, b: i64) -> Totals {
    let snap = w.engine.snapshot();
    let mut ev = SloEval::new(&snap, &w.slos[i], &w.exclusions).unwrap();
    let read = ev.totals(a, b).unwrap();
    let mut ev = SloEval::new(&snap, &w.slos[i], &w.exclusions)
        .unwrap()
        .with_cache(Some(sums()));
    let cached = ev.totals(a, b).unwrap();
    assert_eq!(cached, read, "cached sums over ({a}, {b}]");
    read
}

#[test]
fn fixed_windows_equal_the_reference() {
    let w = world();
    let windows = [
        (w.start - DAY, w.end + DAY),
        (ms("2024-02-29T23:00:00Z"), ms("2024-03-31T22:00:00Z")), // March in Berlin
        (ms("2024-03-10T09:13:07Z"), ms("2024-03-10T15:00:00Z")), // across the one-off
        (ms("2024-03-14T00:00:00Z"), ms("2024-03-17T05:00:01Z")), // across the version change
        (ms("2024-03-30T20:00:00Z"), ms("2024-03-31T06:00:00Z")), // the DST night
        (w.end - 5 * HOUR, w.end),                                // the head
    ];
    for (a, b) in windows {
        for i in 0..w.slos.len() {
            let got = eval_totals(w, i, a, b);
            let want = ref_totals(w, &w.slos[i], a, b);
            assert_eq!(got, want, "SLO {} over ({a}, {b}]", w.slos[i][0].def.name);
            assert!(want.total > 0.0);
        }
    }
}

#[test]
fn operators_equal_the_reference() {
    let w = world();
    let snap = w.engine.snapshot();
    let now = ms("2024-04-03T17:42:00Z");
    for (vs, cached) in w.slos.iter().flat_map(|v| [(v, false), (v, true)]) {
        let mut ev = SloEval::new(&snap, vs, &w.exclusions)
            .unwrap()
            .with_cache(cached.then(sums));
        let (pa, pb) = match &vs[vs.len() - 1].def.window {
            Window::Rolling { ms } => (now - ms, now),
            // April in Berlin begins at 22:00Z on March 31
            Window::Calendar { .. } => (ms("2024-03-31T22:00:00Z"), now),
        };
        let p = ref_totals(w, vs, pa, pb);
        let h = ref_totals(w, vs, now - HOUR, now);
        let d = ref_totals(w, vs, now - DAY, now);
        let name = &vs[0].def.name;
        assert_eq!(
            ev.sli(now, HOUR).unwrap(),
            (h.total > 0.0).then(|| h.good / h.total),
            "{name}"
        );
        assert_eq!(
            ev.error_ratio(now, DAY).unwrap(),
            Some((d.total - d.good) / d.total),
            "{name}"
        );
        assert_eq!(
            ev.burn_rate(now, DAY).unwrap(),
            Some((d.total - d.good) / d.allowed_bad),
            "{name}"
        );
        assert_eq!(
            ev.budget_remaining(now).unwrap(),
            Some(1.0 - (p.total - p.good) / p.allowed_bad),
            "{name}"
        );
        assert_eq!(
            ev.budget_remaining_events(now).unwrap(),
            Some(p.allowed_bad - (p.total - p.good)),
            "{name}"
        );
        assert_eq!(
            ev.budget_consumed(now, DAY).unwrap(),
            Some((d.total - d.good) / p.allowed_bad),
            "{name}"
        );
        let left = p.allowed_bad - (p.total - p.good);
        let rate = (d.total - d.good) / 86_400.0;
        let tte = if left <= 0.0 {
            0.0
        } else if rate <= 0.0 {
            f64::INFINITY
        } else {
            left / rate
        };
        assert_eq!(
            ev.time_to_exhaustion(now, DAY).unwrap(),
            Some(tte),
            "{name}"
        );
        // March 2024 in Berlin (743 hours: DST began on the 31st)
        let (period, c) = ev.compliance(now, CalendarUnit::Month).unwrap();
        let tz_name = vs[0].def.tz_name();
        let (ma, mb) = if tz_name == "Europe/Berlin" {
            (ms("2024-02-29T23:00:00Z"), ms("2024-03-31T22:00:00Z"))
        } else {
            (ms("2024-03-01T00:00:00Z"), ms("2024-04-01T00:00:00Z"))
        };
        assert_eq!((period.start, period.end), (ma, mb), "{name}");
        let m = ref_totals(w, vs, ma, mb);
        let c = c.unwrap();
        assert_eq!(c.attainment, m.good / m.total, "{name}");
        assert_eq!(c.compliant, m.total - m.good <= m.allowed_bad, "{name}");
    }
}

#[test]
fn a_threshold_off_the_edges_lists_them() {
    let w = world();
    let snap = w.engine.snapshot();
    let mut vs = w.slos[1].clone();
    if let Sli::ThresholdLatency { threshold, .. } = &mut vs[0].def.sli {
        *threshold = 0.25;
    }
    let mut ev = SloEval::new(&snap, &vs, &[]).unwrap();
    let e = ev.totals(w.start, w.end).unwrap_err().to_string();
    assert!(e.contains("0.1, 0.3, 1, +Inf"), "{e}");
    // `le="1"` is the edge 1.0
    if let Sli::ThresholdLatency { threshold, .. } = &mut vs[0].def.sli {
        *threshold = 1.0;
    }
    let mut ev = SloEval::new(&snap, &vs, &[]).unwrap();
    assert!(ev.totals(w.start, w.end).unwrap().good > 0.0);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]
    #[test]
    fn random_windows_rollup_answer_equals_raw_answer(
        a_off in 0i64..(40 * DAY), len in 0i64..(10 * DAY), i in 0usize..3
    ) {
        let w = world();
        let a = w.start - DAY + a_off;
        let b = a + len;
        prop_assert_eq!(eval_totals(w, i, a, b), ref_totals(w, &w.slos[i], a, b));
    }
}

// ---- compliance reports ----

use nines_slo::compliance::render::{self, Anchor, Format};
use nines_slo::compliance::{breach_runs, slo_rows, ReportRange, Row, SloInput};
use nines_slo::incidents::Deploy;

fn deploy(service: &str, at: i64) -> Deploy {
    Deploy {
        at,
        service: service.into(),
        version: format!("v{at}"),
        env: None,
        id: Some("d;1".into()),
        commit: None,
    }
}

fn report_rows(w: &World, exclusions: &[Exclusion], cached: bool) -> Vec<Row> {
    let snap = w.engine.snapshot();
    let range = ReportRange::parse("month", "2024-02", "2024-04").unwrap();
    let deploys = [
        deploy("api", ms("2024-03-05T12:00:00Z")),
        deploy("web", ms("2024-03-06T12:00:00Z")),
        // at the instant March ends in Berlin: March's, not April's
        deploy("api", ms("2024-03-31T22:00:00Z")),
    ];
    let mut names: Vec<usize> = (0..w.slos.len()).collect();
    names.sort_by_key(|&i| w.slos[i][0].def.name.clone());
    let mut rows = Vec::new();
    for i in names {
        let vs = &w.slos[i];
        let mine: Vec<Exclusion> = exclusions
            .iter()
            .filter(|e| e.covers(&vs[0].def.name))
            .cloned()
            .collect();
        let input = SloInput {
            versions: vs,
            exclusions: &mine,
            deploys: &deploys,
        };
        let cache = SumsCache::default();
        rows.extend(slo_rows(&snap, cached.then_some(&cache), &input, &range).unwrap());
    }
    rows
}

/// Milliseconds of the exclusion `[s, e)` whose event times fall in `(a, b]`.
fn overlap_ms((s, e): (i64, i64), a: i64, b: i64) -> i64 {
    ((b + 1).min(e) - (a + 1).max(s)).max(0)
}

#[test]
fn compliance_report_equals_the_reference() {
    let w = world();
    let rows = report_rows(w, &w.exclusions, true);
    assert_eq!(rows, report_rows(w, &w.exclusions, false), "cached = read");
    // three SLOs x February, March and April
    assert_eq!(rows.len(), 9);
    let cut = w.engine.snapshot().version().persisted_through.unwrap();
    let mut breached = 0;
    for r in &rows {
        let vs = &w.slos[w.slos.iter().position(|v| v[0].def.name == r.slo).unwrap()];
        let (a, b) = (r.period.start, r.period.end);
        let what = format!("{} ({a}, {b}]", r.slo);
        let want = ref_totals(w, vs, a, b);
        assert_eq!(r.totals, want, "{what}");
        assert_eq!(
            r.compliance.map(|c| (c.attainment, c.compliant)),
            (want.total > 0.0).then(|| (want.good / want.total, want.bad() <= want.allowed_bad)),
            "{what}"
        );
        // the SLO's own budget period ending at the period's end
        let pa = match &vs[vs.len() - 1].def.window {
            Window::Rolling { ms } => b - ms,
            Window::Calendar { .. } => a,
        };
        let p = ref_totals(w, vs, pa, b);
        assert_eq!(
            r.budget_remaining,
            (p.total > 0.0).then(|| 1.0 - p.bad() / p.allowed_bad),
            "{what}"
        );
        assert_eq!(
            r.budget_remaining_events,
            (p.total > 0.0).then(|| p.allowed_bad - p.bad()),
            "{what}"
        );
        assert_eq!(r.partial, b > cut, "{what}");
        // versions in force: avail changed on March 15
        let want_versions: Vec<u32> = vs
            .iter()
            .filter(|v| {
                let from = if v.version == 1 {
                    i64::MIN
                } else {
                    v.effective_from
                };
                let to = vs
                    .iter()
                    .find(|n| n.version == v.version + 1)
                    .map_or(i64::MAX, |n| n.effective_from);
                from <= b && to > a + 1
            })
            .map(|v| v.version)
            .collect();
        assert_eq!(r.versions, want_versions, "{what}");
        // exclusion minutes, from the exclusions as the test wrote them
        let mut want_ex = Vec::new();
        let once = (ms("2024-03-10T10:00:00Z"), ms("2024-03-10T14:30:00Z"));
        let lat_only = (ms("2024-03-20T06:00:00Z"), ms("2024-03-20T09:17:00Z"));
        let m = overlap_ms(once, a, b);
        if r.slo != "lat" && m > 0 {
            want_ex.push(("once".to_string(), m as f64 / 60_000.0));
        }
        let sun: i64 = sundays().iter().map(|&x| overlap_ms(x, a, b)).sum();
        if sun > 0 {
            want_ex.push(("sunday".to_string(), sun as f64 / 60_000.0));
        }
        let m = overlap_ms(lat_only, a, b);
        if r.slo == "lat" && m > 0 {
            want_ex.push(("lat-only".to_string(), m as f64 / 60_000.0));
        }
        let got: Vec<(String, f64)> = r
            .exclusions
            .iter()
            .map(|e| (e.id.clone(), e.minutes))
            .collect();
        assert_eq!(got, want_ex, "{what}");
        // none of the test's exclusions overlap one another
        let union: f64 = want_ex.iter().map(|(_, m)| m).sum();
        assert_eq!(r.excluded_minutes, union, "{what}");
        // breach checks: every counted slice, or every hour from the start
        let steps: Vec<(i64, Totals)> = match vs[vs.len() - 1].def.budgeting {
            Budgeting::Occurrences => {
                let mut edges: Vec<i64> =
                    (0..).map(|k| a + k * HOUR).take_while(|t| *t < b).collect();
                edges.push(b);
                edges
                    .windows(2)
                    .map(|e| (e[1], ref_totals(w, vs, e[0], e[1])))
                    .collect()
            }
            Budgeting::Timeslices { slice_ms, .. } | Budgeting::RatioTimeslices { slice_ms } => {
                let tz = TimeZone::get(vs[0].def.tz_name()).unwrap();
                ref_slices(a, b, slice_ms, &tz)
                    .into_iter()
                    .map(|(s, e)| (e, ref_totals(w, vs, s, e)))
                    .filter(|(_, t)| t.total > 0.0)
                    .collect()
            }
        };
        assert_eq!(r.breaches, breach_runs(&steps, b), "{what}");
        breached += r.breaches.len();
        let deploys: Vec<i64> = r.deploys.iter().map(|d| d.at).collect();
        if r.period.start < ms("2024-03-05T12:00:00Z") && ms("2024-03-31T22:00:00Z") <= b {
            assert_eq!(
                deploys,
                vec![ms("2024-03-05T12:00:00Z"), ms("2024-03-31T22:00:00Z")],
                "{what}"
            );
        } else {
            assert_eq!(deploys, Vec::<i64>::new(), "{what}");
        }
    }
    assert!(
        breached > 0,
        "the data has bad hours; some period must breach"
    );
}

#[test]
fn a_report_is_byte_identical_and_an_exclusion_changes_it() {
    let w = world();
    let range = ReportRange::parse("month", "2024-02", "2024-04").unwrap();
    let anchor = Anchor(Some((7, [0xab; 32])));
    for format in [Format::Csv, Format::Json] {
        let once = render::render(
            format,
            &range,
            None,
            &report_rows(w, &w.exclusions, true),
            &anchor,
        )
        .unwrap();
        let twice = render::render(
            format,
            &range,
            None,
            &report_rows(w, &w.exclusions, false),
            &anchor,
        )
        .unwrap();
        assert_eq!(once, twice, "{format:?}");
        let text = String::from_utf8(once.clone()).unwrap();
        let (_, trailer) = render::split_trailer(&once);
        let trailer = String::from_utf8(trailer.to_vec()).unwrap();
        let digest = render::recompute_digest(&once, &"ab".repeat(32));
        assert!(trailer.contains(&digest), "{trailer}");
        assert!(trailer.contains("\"manifest_record\":7") || trailer.contains("manifest_record=7"));
        assert!(text.contains("once"), "{text}");
        if format == Format::Json {
            let (body, _) = render::split_trailer(&once);
            let doc: serde_json::Value = serde_json::from_slice(body).unwrap();
            assert_eq!(doc["rows"].as_array().unwrap().len(), 9);
            assert_eq!(doc["rows"][1]["period_start"], "2024-03-01T00:00:00+00:00");
            assert_eq!(doc["rows"][4]["period_start"], "2024-03-01T00:00:00+01:00");
        }

        // the one-off exclusion is deleted afterwards: avail and rts change
        let fewer: Vec<Exclusion> = w
            .exclusions
            .iter()
            .filter(|e| e.id != "once")
            .cloned()
            .collect();
        let after =
            render::render(format, &range, None, &report_rows(w, &fewer, true), &anchor).unwrap();
        assert_ne!(after, once);
        let after_text = String::from_utf8(after.clone()).unwrap();
        assert!(!after_text.contains("once"), "{after_text}");
        let (before_rows, after_rows) = (
            report_rows(w, &w.exclusions, true),
            report_rows(w, &fewer, true),
        );
        let changed: Vec<&str> = before_rows
            .iter()
            .zip(&after_rows)
            .filter(|(x, y)| x.totals != y.totals)
            .map(|(x, _)| x.slo.as_str())
            .collect();
        assert_eq!(
            changed,
            ["avail", "rts"],
            "only March of the SLOs it covered"
        );
        assert_ne!(
            render::split_trailer(&after).1,
            render::split_trailer(&once).1,
            "a new digest"
        );
    }
}
