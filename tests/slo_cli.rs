//! End to end: the real server (`nines serve`, port 0), SLI counters
//! written over gRPC, the SLO applied, changed, excluded and retired with
//! the `nines slo` and `nines exclusion` commands, and the `slo_*`
//! operators queried over HTTP as Grafana sends them (form POSTs, instant
//! and range). Every number is checked against a reference computed here
//! from the written samples with plain loops, straight from
//! SLO_SEMANTICS.md.

#[path = "support/serve.rs"]
mod serve;

use std::process::{Command, Output};

use nines_proto::v1;
use serde_json::Value as Json;
use serve::Serve;

const STEP: i64 = 15_000;
const N: usize = 480;
const MIN: i64 = 60_000;
const NAME: &str = "checkout-avail";

/// A counter as written: its labels, whether the SLO counts it as bad,
/// and its samples.
struct Counter {
    code: &'static str,
    instance: &'static str,
    bad: bool,
    ts: Vec<i64>,
    vs: Vec<f64>,
}

/// Three counters over 2 h at 15 s: two good ones (one restarts at point
/// 300) and the 5xx one, which burns hard from point 200 to 259.
fn data(t0: i64) -> Vec<Counter> {
    let ts: Vec<i64> = (0..N as i64).map(|i| t0 + i * STEP).collect();
    let cumulative = |inc: &dyn Fn(usize) -> f64| -> Vec<f64> {
        let mut v = Vec::with_capacity(N);
        let mut x = 0.0;
        for i in 0..N {
            if i > 0 {
                x += inc(i);
            }
            v.push(x);
        }
        v
    };
    let a = cumulative(&|i| 5.0 + (i % 7) as f64);
    let mut b = cumulative(&|i| (i % 3) as f64);
    // a restart: from point 300 on the counter starts again from 2
    let at_reset = b[300] - 2.0;
    for x in &mut b[300..] {
        *x -= at_reset;
    }
    let bad = cumulative(&|i| {
        if (200..260).contains(&i) {
            4.0
        } else if i % 10 == 0 {
            1.0
        } else {
            0.0
        }
    });
    vec![
        Counter {
            code: "200",
            instance: "a",
            bad: false,
            ts: ts.clone(),
            vs: a,
        },
        Counter {
            code: "200",
            instance: "b",
            bad: false,
            ts: ts.clone(),
            vs: b,
        },
        Counter {
            code: "500",
            instance: "a",
            bad: true,
            ts,
            vs: bad,
        },
    ]
}

/// The reference: bad, total and allowed bad over `(a, b]`, with the
/// events whose time falls in a hole `[s, e)` left out and each event
/// weighed by the target of the version in force at its time (versions:
/// `(effective_from, target)`, oldest first; the first governs all time
/// before it).
fn reference(
    data: &[Counter],
    a: i64,
    b: i64,
    holes: &[(i64, i64)],
    versions: &[(i64, f64)],
) -> (f64, f64, f64) {
    let version_of = |t: i64| {
        versions
            .iter()
            .rposition(|(from, _)| *from <= t)
            .unwrap_or(0)
    };
    let mut bad = 0.0;
    let mut total = vec![0.0; versions.len()];
    for c in data {
        for i in 0..c.ts.len() - 1 {
            let t = c.ts[i + 1];
            if t <= a || t > b || holes.iter().any(|(s, e)| *s <= t && t < *e) {
                continue;
            }
            let d = if c.vs[i + 1] >= c.vs[i] {
                c.vs[i + 1] - c.vs[i]
            } else {
                c.vs[i + 1]
            };
            total[version_of(t)] += d;
            if c.bad {
                bad += d;
            }
        }
    }
    let allowed: f64 = versions
        .iter()
        .zip(&total)
        .map(|((_, target), tot)| (1.0 - target) * tot)
        .sum();
    (bad, total.iter().sum(), allowed)
}

fn budget_remaining(r: (f64, f64, f64)) -> f64 {
    1.0 - r.0 / r.2
}

fn burn_rate(r: (f64, f64, f64)) -> f64 {
    r.0 / r.2
}

#[track_caller]
fn close(got: f64, want: f64, what: &str) {
    assert!(
        (got - want).abs() <= 1e-12 * want.abs().max(1.0),
        "{what}: got {got}, want {want}"
    );
}

fn yaml(target: f64) -> String {
    format!(
        r#"# the checkout team's SLOs
apiVersion: openslo/v1
kind: SLO
metadata:
  name: {NAME}
spec:
  service: checkout
  indicator:
    spec:
      ratioMetric:
        counter: true
        bad:
          metricSource:
            spec:
              query: req_total{{job="checkout", code="500"}}
        total:
          metricSource:
            spec:
              query: req_total{{job="checkout"}}
  timeWindow:
    - duration: 28d
      isRolling: true
  budgetingMethod: Occurrences
  objectives:
    - target: {target}
---
apiVersion: openslo/v1
kind: SLO
metadata:
  name: checkout-latency
spec:
  service: checkout
  indicator:
    spec:
      thresholdMetric:
        metricSource:
          spec:
            query: req_duration_seconds_bucket{{job="checkout"}}
  timeWindow:
    - duration: 1M
      calendar:
        startTime: 2024-01-01 00:00:00
        timeZone: Europe/Berlin
  budgetingMethod: Timeslices
  objectives:
    - op: lte
      value: 0.3
      target: 0.99
      timeSliceTarget: 0.95
      timeSliceWindow: 5m
"#
    )
}

/// Runs `nines` with `args`, then `--url URL` (none when `url` is empty).
fn nines(url: &str, args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_nines"));
    c.args(args)
        .env_remove("NINES_URL")
        .env_remove("NINES_AUTHOR");
    if !url.is_empty() {
        c.args(["--url", url]);
    }
    c.output().expect("run nines")
}

#[track_caller]
fn ok(o: &Output) -> String {
    assert!(o.status.success(), "{o:?}");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn secs(ms: i64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// A form POST as Grafana sends queries; the `result` array.
async fn grafana(url: &str, path: &str, form: &[(&str, String)]) -> Vec<Json> {
    let r = reqwest::Client::new()
        .post(format!("{url}{path}"))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let v: Json = r.json().await.unwrap();
    assert_eq!(status, 200, "{v}");
    v["data"]["result"].as_array().unwrap().clone()
}

/// An instant query's one value and its `slo_version` label.
async fn instant(url: &str, q: &str, t: i64) -> (f64, String) {
    let r = grafana(
        url,
        "/api/v1/query",
        &[("query", q.into()), ("time", secs(t))],
    )
    .await;
    assert_eq!(r.len(), 1, "{q} at {t}: {r:?}");
    let v = r[0]["value"][1].as_str().unwrap().parse().unwrap();
    let labels = &r[0]["metric"];
    assert_eq!(labels["slo"], NAME);
    assert_eq!(labels["service"], "checkout");
    (v, labels["slo_version"].as_str().unwrap().to_string())
}

/// A range query: (time, value, slo_version) for every point of every
/// series, in time order.
async fn range(url: &str, q: &str, start: i64, end: i64, step: i64) -> Vec<(i64, f64, String)> {
    let r = grafana(
        url,
        "/api/v1/query_range",
        &[
            ("query", q.into()),
            ("start", secs(start)),
            ("end", secs(end)),
            ("step", secs(step)),
        ],
    )
    .await;
    let mut out = Vec::new();
    for s in &r {
        let version = s["metric"]["slo_version"].as_str().unwrap().to_string();
        for p in s["values"].as_array().unwrap() {
            let t = (p[0].as_f64().unwrap() * 1000.0).round() as i64;
            out.push((t, p[1].as_str().unwrap().parse().unwrap(), version.clone()));
        }
    }
    out.sort_by_key(|p| p.0);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slos_applied_over_the_cli_answer_grafana_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let s = Serve::on(&data_dir, &[]);
    let url_owned = s.http.clone();
    let url = url_owned.as_str();

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let t0 = now - now % MIN - 130 * MIN;
    let t_end = t0 + (N as i64 - 1) * STEP;
    let t_burn = t0 + 65 * MIN;
    let counters = data(t0);
    let series = counters
        .iter()
        .map(|c| v1::SeriesSamples {
            labels: [
                ("__name__", "req_total"),
                ("job", "checkout"),
                ("code", c.code),
                ("instance", c.instance),
            ]
            .iter()
            .map(|(n, v)| v1::Label {
                name: (*n).into(),
                value: (*v).into(),
            })
            .collect(),
            kind: v1::SeriesKind::Counter as i32,
            timestamps: c.ts.clone(),
            values: c.vs.clone(),
        })
        .collect();
    let w = v1::ingest_client::IngestClient::connect(s.grpc.clone())
        .await
        .unwrap()
        .write(v1::WriteRequest {
            series,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(w.accepted, 3 * N as u64, "{w:?}");

    // v1, declared in force since before the data
    let file = dir.path().join("checkout.yaml");
    std::fs::write(&file, yaml(0.99)).unwrap();
    let file = file.to_str().unwrap();
    let since = secs(t0 - 60 * MIN);
    let out = ok(&nines(
        url,
        &[
            "slo",
            "apply",
            "-f",
            file,
            "--author",
            "ann",
            "--effective-from",
            &since,
        ],
    ));
    assert!(out.contains("checkout-avail: version 1 (created)"), "{out}");
    assert!(
        out.contains("checkout-latency: version 1 (created)"),
        "{out}"
    );
    let out = ok(&nines(url, &["slo", "apply", "-f", file]));
    assert!(
        out.contains("checkout-avail: version 1 (unchanged)"),
        "{out}"
    );

    let mut versions = vec![(t0 - 60 * MIN, 0.99)];
    let mut holes: Vec<(i64, i64)> = Vec::new();
    let budget_q = format!("slo_budget_remaining(\"{NAME}\")");
    let burn_q = format!("slo_burn_rate(\"{NAME}\", 1h)");
    let all = |holes: &[(i64, i64)], versions: &[(i64, f64)]| {
        reference(&counters, t_end - 28 * 1440 * MIN, t_end, holes, versions)
    };
    let (v, ver) = instant(url, &budget_q, t_end).await;
    close(v, budget_remaining(all(&holes, &versions)), "budget v1");
    assert_eq!(ver, "1");
    assert!(v < 0.0, "the burst overspends a 99 % budget: {v}");
    for t in [t_burn, t_end] {
        let (v, _) = instant(url, &burn_q, t).await;
        let want = burn_rate(reference(&counters, t - 60 * MIN, t, &holes, &versions));
        close(v, want, "burn rate v1");
    }
    let (start, step) = (t0 + 60 * MIN, 5 * MIN);
    let points = range(url, &burn_q, start, t_end, step).await;
    assert_eq!(points.len(), ((t_end - start) / step + 1) as usize);
    for (t, v, ver) in &points {
        let want = burn_rate(reference(&counters, t - 60 * MIN, *t, &holes, &versions));
        close(*v, want, &format!("range burn rate at {t}"));
        assert_eq!(ver, "1");
    }

    // v2: a looser target from the 90th minute on
    std::fs::write(file, yaml(0.95)).unwrap();
    let eff2 = t0 + 90 * MIN;
    let out = ok(&nines(
        url,
        &[
            "slo",
            "apply",
            "-f",
            file,
            "--author",
            "bob",
            "--effective-from",
            &secs(eff2),
        ],
    ));
    assert!(out.contains("checkout-avail: version 2 (changed)"), "{out}");
    assert!(
        out.contains("checkout-latency: version 1 (unchanged)"),
        "{out}"
    );
    versions.push((eff2, 0.95));
    let (v, ver) = instant(url, &budget_q, t_end).await;
    close(v, budget_remaining(all(&holes, &versions)), "budget v1+v2");
    assert_eq!(ver, "2");
    let points = range(url, &budget_q, start, t_end, step).await;
    assert_eq!(points.len(), ((t_end - start) / step + 1) as usize);
    for (t, v, ver) in &points {
        let want = budget_remaining(reference(
            &counters,
            t - 28 * 1440 * MIN,
            *t,
            &holes,
            &versions,
        ));
        close(*v, want, &format!("range budget at {t}"));
        assert_eq!(ver, if *t >= eff2 { "2" } else { "1" }, "at {t}");
    }

    let history: Json =
        serde_json::from_str(&ok(&nines(url, &["slo", "history", NAME, "--json"]))).unwrap();
    let h = history.as_array().unwrap();
    assert_eq!(h.len(), 2, "{history}");
    assert_eq!(
        (&h[0]["change"], &h[0]["author"], &h[0]["backdated"]),
        (
            &Json::from("created"),
            &Json::from("ann"),
            &Json::from(true)
        )
    );
    assert_eq!(
        (&h[1]["change"], &h[1]["version"], &h[1]["author"]),
        (&Json::from("changed"), &Json::from(2), &Json::from("bob"))
    );
    let text = ok(&nines(url, &["slo", "get", NAME]));
    assert!(
        text.contains("v1") && text.contains("v2") && text.contains("target 0.95"),
        "{text}"
    );
    let text = ok(&nines(url, &["slo", "history", NAME]));
    assert_eq!(text.lines().count(), 2, "{text}");

    // a one-off exclusion over the burst, and a recurring 10-minute one
    // at a Berlin wall-clock time inside the data
    let burst = (t0 + 50 * MIN, t0 + 65 * MIN);
    let out = ok(&nines(
        url,
        &[
            "exclusion",
            "add",
            "--slo",
            NAME,
            "--start",
            &secs(burst.0),
            "--end",
            &secs(burst.1),
            "--category",
            "maintenance",
            "--reason",
            "db failover drill",
            "--author",
            "cid",
        ],
    ));
    assert!(out.starts_with("exclusion 1 added"), "{out}");
    holes.push(burst);
    let (v, _) = instant(url, &budget_q, t_end).await;
    close(
        v,
        budget_remaining(all(&holes, &versions)),
        "budget, burst excluded",
    );
    assert!(v > 0.0, "without the burst the budget is not spent: {v}");
    let (v, _) = instant(url, &burn_q, t_burn).await;
    let want = burn_rate(reference(
        &counters,
        t_burn - 60 * MIN,
        t_burn,
        &holes,
        &versions,
    ));
    close(v, want, "burn rate, burst excluded");

    let x = t0 + 20 * MIN;
    let local = jiff::Timestamp::from_millisecond(x)
        .unwrap()
        .in_tz("Europe/Berlin")
        .unwrap();
    let rule = format!(
        "FREQ=DAILY;BYHOUR={};BYMINUTE={}",
        local.hour(),
        local.minute()
    );
    let out = ok(&nines(
        url,
        &[
            "exclusion",
            "add",
            "--all",
            "--rrule",
            &rule,
            "--duration",
            "10m",
            "--tz",
            "Europe/Berlin",
            "--category",
            "third-party",
        ],
    ));
    assert!(out.starts_with("exclusion 2 added"), "{out}");
    holes.push((x, x + 10 * MIN));
    let (v, _) = instant(url, &budget_q, t_end).await;
    close(
        v,
        budget_remaining(all(&holes, &versions)),
        "budget, two holes",
    );

    let listed: Json =
        serde_json::from_str(&ok(&nines(url, &["exclusion", "list", "--json"]))).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");
    assert_eq!(listed[0]["reason"], "db failover drill");
    assert_eq!(listed[1]["rrule"], Json::from(rule.as_str()));
    let text = ok(&nines(url, &["exclusion", "list"]));
    assert_eq!(text.lines().count(), 3, "{text}");

    ok(&nines(
        url,
        &["exclusion", "delete", "1", "--author", "cid"],
    ));
    holes.remove(0);
    let (v, _) = instant(url, &budget_q, t_end).await;
    close(
        v,
        budget_remaining(all(&holes, &versions)),
        "budget, burst back",
    );
    let history: Json =
        serde_json::from_str(&ok(&nines(url, &["slo", "history", NAME, "--json"]))).unwrap();
    let changes: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["change"].as_str().unwrap())
        .collect();
    assert_eq!(
        changes,
        [
            "created",
            "changed",
            "exclusion_added",
            "exclusion_added",
            "exclusion_deleted"
        ]
    );

    // refusals exit 1 with the reason; an unreachable server exits 2
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, yaml(0.99).replace("target: 0.99", "target: 99")).unwrap();
    let o = nines(url, &["slo", "apply", "-f", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("bad.yaml:25") && err.contains("spec.objectives[0].target"),
        "{err}"
    );
    let o = nines(url, &["slo", "get", "nope"]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let o = nines(url, &["exclusion", "delete", "1"]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");

    ok(&nines(url, &["slo", "retire", NAME, "--author", "dee"]));
    let o = nines(url, &["slo", "retire", NAME]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let list: Json = serde_json::from_str(&ok(&nines(url, &["slo", "list", "--json"]))).unwrap();
    assert_eq!(list[0]["name"], "checkout-avail");
    assert!(list[0]["retired_at"].is_string(), "{list}");
    let text = ok(&nines(url, &["slo", "list"]));
    assert!(text.lines().nth(1).unwrap().contains("retired"), "{text}");
    // a retired SLO still answers for the time its versions were in force
    let (v, _) = instant(url, &budget_q, t_end).await;
    close(
        v,
        budget_remaining(all(&holes, &versions)),
        "budget, retired",
    );

    drop(s);
    for args in [&["slo", "list"][..], &["exclusion", "list"][..]] {
        let o = nines(url, args);
        assert_eq!(o.status.code(), Some(2), "{o:?}");
        assert!(String::from_utf8_lossy(&o.stderr).contains("cannot reach"));
    }

    // the offline query reads the same store and gives the same number
    let data = data_dir.to_str().unwrap();
    let out = ok(&nines(
        "",
        &[
            "query",
            &budget_q,
            "--time",
            &secs(t_end),
            "--data-dir",
            data,
        ],
    ));
    let v: Json = serde_json::from_str(&out).unwrap();
    let offline: f64 = v["data"]["result"][0]["value"][1]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    close(
        offline,
        budget_remaining(all(&holes, &versions)),
        "offline budget",
    );

    // `nines verify` checks the SLO log; a damaged byte stops the server
    // from starting, naming the file and the record's offset
    let out = ok(&nines("", &["verify", "--data-dir", data]));
    assert!(out.contains("SLO log 6 records"), "{out}");
    let log = data_dir.join("meta/slo.log");
    let mut bytes = std::fs::read(&log).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x01;
    std::fs::write(&log, &bytes).unwrap();
    let o = nines("", &["verify", "--data-dir", data]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains(&format!("DAMAGED {}: offset", log.display())),
        "{out}"
    );
    let o = Command::new(env!("CARGO_BIN_EXE_nines"))
        .args([
            "serve",
            "--http-listen",
            "127.0.0.1:0",
            "--grpc-listen",
            "127.0.0.1:0",
        ])
        .args(["--data-dir", data])
        .output()
        .unwrap();
    assert!(!o.status.success(), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!("{} is corrupted at byte offset", log.display())),
        "{err}"
    );
}
