//! End to end: compliance reports from the real server (`nines serve`,
//! port 0). Counters written over gRPC, an SLO applied, a deploy annotated
//! and an exclusion added with the CLI; then `nines report` twice (the
//! same bytes), the same report over the gRPC stream (the same bytes
//! again), the figures against a plain loop over the written samples, and
//! after `nines compact` the report sealed by a manifest record whose
//! digest recomputes.

#[path = "support/serve.rs"]
mod serve;

use std::process::{Command, Output};

use nines_proto::v1;
use nines_slo::compliance::render::{recompute_digest, split_trailer};
use serde_json::Value as Json;
use serve::Serve;

const MIN: i64 = 60_000;
const STEP: i64 = 5 * MIN;
const NAME: &str = "checkout-avail";

fn ms(s: &str) -> i64 {
    s.parse::<jiff::Timestamp>().unwrap().as_millisecond()
}

fn nines(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nines"))
        .args(args)
        .env_remove("NINES_URL")
        .output()
        .expect("run nines")
}

#[track_caller]
fn ok(o: &Output) -> Vec<u8> {
    assert!(o.status.success(), "{o:?}");
    o.stdout.clone()
}

fn secs(ms: i64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

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
              query: req_total{job="checkout", code="500"}
        total:
          metricSource:
            spec:
              query: req_total{job="checkout"}
  timeWindow:
    - duration: 1M
      calendar:
        startTime: 2024-01-01 00:00:00
        timeZone: UTC
  budgetingMethod: Occurrences
  objectives:
    - target: 0.99
"#;

/// Good and bad counters at 5 minutes from August 1 to November 2 2026
/// (UTC); September burns: half of its requests fail on its 10th day.
fn series(t0: i64, t1: i64) -> (Vec<i64>, Vec<f64>, Vec<f64>) {
    let ts: Vec<i64> = (t0..t1).step_by(STEP as usize).collect();
    let (mut good, mut bad) = (vec![0.0], vec![0.0]);
    for (i, &t) in ts.iter().enumerate().skip(1) {
        let n = 100.0 + (i % 13) as f64;
        let burning = (ms("2026-09-10T00:00:00Z")..ms("2026-09-11T00:00:00Z")).contains(&t);
        let b = if burning {
            (n / 2.0).floor()
        } else {
            (i % 50 == 0) as u8 as f64
        };
        good.push(good[i - 1] + n - b);
        bad.push(bad[i - 1] + b);
    }
    (ts, good, bad)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_are_byte_identical_over_cli_and_grpc_and_seal() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let mut s = Serve::on(&data_dir, &[]);
    let url = s.http.clone();

    let (t0, t1) = (ms("2026-08-01T00:00:00Z"), ms("2026-11-02T00:00:00Z"));
    let (ts, good, bad) = series(t0, t1);
    let one = |code: &str, vs: &[f64]| v1::SeriesSamples {
        labels: [
            ("__name__", "req_total"),
            ("job", "checkout"),
            ("code", code),
        ]
        .iter()
        .map(|(n, v)| v1::Label {
            name: (*n).into(),
            value: (*v).into(),
        })
        .collect(),
        kind: v1::SeriesKind::Counter as i32,
        timestamps: ts.clone(),
        values: vs.to_vec(),
    };
    let w = v1::ingest_client::IngestClient::connect(s.grpc.clone())
        .await
        .unwrap()
        .write(v1::WriteRequest {
            series: vec![one("200", &good), one("500", &bad)],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(w.accepted, 2 * ts.len() as u64, "{w:?}");

    let file = dir.path().join("slo.yaml");
    std::fs::write(&file, YAML).unwrap();
    ok(&nines(&[
        "slo",
        "apply",
        "-f",
        file.to_str().unwrap(),
        "--url",
        &url,
    ]));
    let deploy_at = ms("2026-09-09T12:00:00Z");
    ok(&nines(&[
        "annotate",
        "deploy",
        "--url",
        &url,
        "--service",
        "checkout",
        "--version",
        "v2.0.0",
        "--id",
        "deploy-9",
        "--at",
        &secs(deploy_at),
    ]));
    // two hours of October excluded
    let hole = (ms("2026-10-05T10:00:00Z"), ms("2026-10-05T12:00:00Z"));
    ok(&nines(&[
        "exclusion",
        "add",
        "--url",
        &url,
        "--slo",
        NAME,
        "--start",
        &secs(hole.0),
        "--end",
        &secs(hole.1),
        "--category",
        "maintenance",
        "--reason",
        "db upgrade",
        "--author",
        "ann",
    ]));

    let report = |format: &str| {
        nines(&[
            "report",
            "--url",
            &url,
            "--slo",
            NAME,
            "--period",
            "month",
            "--from",
            "2026-08-01",
            "--to",
            "2026-10",
            "--format",
            format,
        ])
    };
    let csv = ok(&report("csv"));
    assert_eq!(ok(&report("csv")), csv, "the same request, the same bytes");
    let text = String::from_utf8(csv.clone()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5, "{text}");
    assert!(
        lines[0].starts_with("slo,service,period_start,period_end,partial,"),
        "{text}"
    );
    // the data is still in the head: not sealed, no anchor
    assert!(lines[4].starts_with("# nines-report/1 sha256="), "{text}");
    assert!(
        lines[4].ends_with("manifest_record=0 manifest_head="),
        "{text}"
    );

    // the figures, from a plain loop over the samples
    let json = ok(&report("json"));
    assert_eq!(ok(&report("json")), json);
    let (body, trailer) = split_trailer(&json);
    let doc: Json = serde_json::from_slice(body).unwrap();
    let trailer: Json = serde_json::from_slice(trailer).unwrap();
    assert_eq!(trailer["sha256"], recompute_digest(&json, ""));
    let rows = doc["rows"].as_array().unwrap();
    let months = [
        ("2026-08-01T00:00:00Z", "2026-09-01T00:00:00Z"),
        ("2026-09-01T00:00:00Z", "2026-10-01T00:00:00Z"),
        ("2026-10-01T00:00:00Z", "2026-11-01T00:00:00Z"),
    ];
    assert_eq!(rows.len(), 3);
    for (row, (a, b)) in rows.iter().zip(months) {
        let (a, b) = (ms(a), ms(b));
        let (mut g, mut t) = (0.0, 0.0);
        for i in 1..ts.len() {
            let in_hole = hole.0 <= ts[i] && ts[i] < hole.1;
            if a < ts[i] && ts[i] <= b && !in_hole {
                g += good[i] - good[i - 1];
                t += good[i] - good[i - 1] + bad[i] - bad[i - 1];
            }
        }
        assert_eq!(row["good"], g, "{row}");
        assert_eq!(row["total"], t, "{row}");
        assert_eq!(row["allowed_bad"], (1.0 - 0.99) * t, "{row}");
        assert_eq!(row["attainment"], g / t, "{row}");
        assert_eq!(row["compliant"], t - g <= (1.0 - 0.99) * t, "{row}");
        assert_eq!(row["partial"], true, "{row}");
        assert_eq!(row["versions"], serde_json::json!([1]));
    }
    assert_eq!(rows[1]["compliant"], false, "September burned");
    assert!(!rows[1]["breaches"].as_array().unwrap().is_empty());
    assert_eq!(rows[1]["deploys"][0]["id"], "deploy-9");
    assert_eq!(
        rows[2]["exclusions"],
        serde_json::json!([{"id": "1", "minutes": 120}])
    );

    // the same report over gRPC: the same bytes
    let mut stream = v1::reports_client::ReportsClient::connect(s.grpc.clone())
        .await
        .unwrap()
        .report(v1::ReportRequest {
            slo: NAME.into(),
            all: false,
            period: "month".into(),
            from: "2026-08-01".into(),
            to: "2026-10".into(),
            format: "json".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let mut got = Vec::new();
    while let Some(chunk) = stream.message().await.unwrap() {
        got.extend(chunk.data);
    }
    assert_eq!(got, json, "gRPC and HTTP give the same bytes");
    let err = v1::reports_client::ReportsClient::connect(s.grpc.clone())
        .await
        .unwrap()
        .report(v1::ReportRequest {
            slo: "nope".into(),
            period: "month".into(),
            from: "2026-08".into(),
            to: "2026-10".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound, "{err:?}");

    // --all and --output
    let out_file = dir.path().join("all.csv");
    let o = nines(&[
        "report",
        "--url",
        &url,
        "--all",
        "--period",
        "quarter",
        "--from",
        "2026-08",
        "--to",
        "2026-10",
        "--output",
        out_file.to_str().unwrap(),
    ]);
    assert!(o.status.success() && o.stdout.is_empty(), "{o:?}");
    let all = std::fs::read_to_string(&out_file).unwrap();
    assert_eq!(all.lines().count(), 4, "Q3 and Q4: {all}");

    // clear errors, exit 1
    for (args, says) in [
        (
            ["--slo", "nope", "--period", "month", "--to", "2026-10"],
            "no SLO named \"nope\"",
        ),
        (
            ["--slo", NAME, "--period", "year", "--to", "2026-10"],
            "expected week, month or quarter",
        ),
        (
            ["--slo", NAME, "--period", "month", "--to", "2026-13"],
            "expected a date YYYY-MM-DD or a month",
        ),
    ] {
        let mut a = vec!["report", "--url", &url, "--from", "2026-08"];
        a.extend(args);
        let o = nines(&a);
        assert_eq!(o.status.code(), Some(1), "{o:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(says), "{err}");
    }

    // sealed: the head flushed, the report anchored by the manifest record
    // that sealed it, its body the same figures
    s.kill();
    ok(&nines(&[
        "compact",
        "--data-dir",
        data_dir.to_str().unwrap(),
    ]));
    let s = Serve::on(&data_dir, &[]);
    let url = s.http.clone();
    let sealed_csv = ok(&nines(&[
        "report",
        "--url",
        &url,
        "--slo",
        NAME,
        "--period",
        "month",
        "--from",
        "2026-08-01",
        "--to",
        "2026-10",
        "--format",
        "csv",
    ]));
    let text = String::from_utf8(sealed_csv.clone()).unwrap();
    let trailer = text.lines().last().unwrap();
    let head = trailer.rsplit("manifest_head=").next().unwrap();
    assert_eq!(head.len(), 64, "{trailer}");
    assert!(!trailer.contains("manifest_record=0 "), "{trailer}");
    let digest = recompute_digest(&sealed_csv, head);
    assert!(trailer.contains(&format!("sha256={digest}")), "{trailer}");
    assert_eq!(
        text.replacen(",no,", ",yes,", 1).lines().nth(1),
        String::from_utf8(csv).unwrap().lines().nth(1),
        "only `partial` changed"
    );
}
