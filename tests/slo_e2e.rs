//! The SLO layer end to end, as an SRE and a CD pipeline use it: OpenSLO
//! YAML applied with the CLI, SLI counters written over real gRPC, the
//! operators asked over HTTP as Grafana asks (instant and range), the deploy
//! gate against a healthy and a burning SLO (exit codes 0, 1, 2 and a
//! recorded override), breach intervals with the deploy before them, and a
//! burn-rate alert reaching a real Alertmanager.

#[path = "support/serve.rs"]
mod serve;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nines_proto::v1;
use serve::{get_json, nines, now_ms, stderr, stdout, Serve};

const MIN: i64 = 60_000;

const YAML: &str = r#"apiVersion: openslo/v1
kind: SLO
metadata:
  name: cart-availability
spec:
  service: cart
  indicator:
    spec:
      ratioMetric:
        counter: true
        bad:
          metricSource:
            spec:
              query: requests_total{service="cart", code="500"}
        total:
          metricSource:
            spec:
              query: requests_total{service="cart"}
  timeWindow:
    - duration: 28d
      isRolling: true
  budgetingMethod: Occurrences
  objectives:
    - target: 0.99
---
apiVersion: openslo/v1
kind: SLO
metadata:
  name: search-availability
spec:
  service: search
  indicator:
    spec:
      ratioMetric:
        counter: true
        bad:
          metricSource:
            spec:
              query: requests_total{service="search", code="500"}
        total:
          metricSource:
            spec:
              query: requests_total{service="search"}
  timeWindow:
    - duration: 28d
      isRolling: true
  budgetingMethod: Occurrences
  objectives:
    - target: 0.99
"#;

/// Three hours of one request counter pair per service at 1 minute: cart
/// is healthy; search answers 20 % errors for the last hour.
fn traffic(t0: i64) -> v1::WriteRequest {
    let series = |service: &str, code: &str, values: Vec<f64>| v1::SeriesSamples {
        labels: [
            ("__name__", "requests_total"),
            ("service", service),
            ("code", code),
        ]
        .iter()
        .map(|(n, v)| v1::Label {
            name: (*n).into(),
            value: (*v).into(),
        })
        .collect(),
        kind: v1::SeriesKind::Counter as i32,
        timestamps: (0..=180).map(|m| t0 + m * MIN).collect(),
        values,
    };
    let counts = |bad_from: i64| {
        let (mut ok, mut bad) = (Vec::new(), Vec::new());
        let (mut o, mut b) = (0.0, 0.0);
        for m in 0..=180 {
            let errors = if m > bad_from { 20.0 } else { 0.0 };
            o += 100.0 - errors;
            b += errors;
            ok.push(o);
            bad.push(b);
        }
        (ok, bad)
    };
    let (cart_ok, cart_bad) = counts(i64::MAX);
    let (search_ok, search_bad) = counts(120);
    v1::WriteRequest {
        series: vec![
            series("cart", "200", cart_ok),
            series("cart", "500", cart_bad),
            series("search", "200", search_ok),
            series("search", "500", search_bad),
        ],
        ..Default::default()
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Alertmanager {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn alertmanager() -> Alertmanager {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("alertmanager.yml");
    std::fs::write(
        &cfg,
        "route:\n  receiver: blackhole\nreceivers:\n  - name: blackhole\n",
    )
    .unwrap();
    let port = free_port();
    let child = Command::new("prometheus-alertmanager")
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!("--storage.path={}", dir.path().join("data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--cluster.listen-address=")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus-alertmanager (Debian package prometheus-alertmanager; scripts/test installs it)");
    Alertmanager {
        child,
        url: format!("http://127.0.0.1:{port}"),
        _dir: dir,
    }
}

async fn wait_for<F, Fut>(what: &str, mut f: F) -> serde_json::Value
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<serde_json::Value>>,
{
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slos_from_yaml_to_gate_alert_and_incident() {
    let am = alertmanager();
    let s = Serve::start(&["--alertmanager-url", &am.url, "--alert-interval", "1s"]);
    let now = now_ms() / MIN * MIN;
    let t0 = now - 180 * MIN;
    let yaml = s.data.join("slos.yaml");
    std::fs::write(&yaml, YAML).unwrap();

    // apply over the CLI
    let o = nines(&[
        "slo",
        "apply",
        "--url",
        &s.http,
        "-f",
        yaml.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = nines(&["slo", "list", "--url", &s.http, "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("search-availability"), "{}", stdout(&o));

    // a deploy of search ten minutes before its errors start, then traffic
    let at = format!("{}", (t0 + 110 * MIN) / 1000);
    let o = nines(&[
        "annotate",
        "deploy",
        "--url",
        &s.http,
        "--service",
        "search",
        "--version",
        "v2.0.0",
        "--at",
        &at,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut ingest = v1::ingest_client::IngestClient::connect(s.grpc.clone())
        .await
        .unwrap();
    let r = ingest.write(traffic(t0)).await.unwrap().into_inner();
    assert_eq!(r.accepted, 4 * 181);

    // the operators over HTTP, as Grafana asks them
    let q = |query: &str, time: i64| {
        format!(
            "{}/api/v1/query?query={}&time={}",
            s.http,
            query
                .replace('"', "%22")
                .replace(' ', "%20")
                .replace(',', "%2C"),
            time / 1000
        )
    };
    let j = get_json(&q(r#"slo_burn_rate("search-availability", 1h)"#, now)).await;
    assert_eq!(j["status"], "success", "{j}");
    let burn: f64 = j["data"]["result"][0]["value"][1]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    // 20 % errors at a 99 % objective
    assert!((burn - 20.0).abs() < 1e-9, "{burn}");
    let j = get_json(&q(r#"slo_budget_remaining("cart-availability")"#, now)).await;
    assert_eq!(j["data"]["result"][0]["value"][1], "1", "{j}");
    // search: 60 minutes x 20 bad of 180 x 100 events at 1 % allowed
    let j = get_json(&q(r#"slo_budget_remaining("search-availability")"#, now)).await;
    let left: f64 = j["data"]["result"][0]["value"][1]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((left - (1.0 - 1200.0 / 180.0)).abs() < 1e-9, "{left}");
    let range = format!(
        "{}/api/v1/query_range?query=slo_burn_rate(%22search-availability%22%2C%205m)&start={}&end={}&step=600",
        s.http,
        (t0 + 60 * MIN) / 1000,
        now / 1000
    );
    let j = get_json(&range).await;
    let points = j["data"]["result"][0]["values"].as_array().unwrap().clone();
    assert_eq!(points.len(), 13, "{j}");
    let value = |p: &serde_json::Value| p[1].as_str().unwrap().parse::<f64>().unwrap();
    assert_eq!(value(&points[0]), 0.0);
    // 0.2 / (1 - 0.99): twenty, up to the rounding of 1 - 0.99
    assert!((value(&points[12]) - 20.0).abs() < 1e-9, "{}", points[12]);

    // the gate: healthy promotes, burning blocks, unreachable cannot decide
    let o = nines(&["gate", "--url", &s.http, "--slo", "cart-availability"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).starts_with("PROMOTE"), "{}", stdout(&o));
    let o = nines(&[
        "gate",
        "--url",
        &s.http,
        "--slo",
        "search-availability",
        "--max-burn",
        "1h:2",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    let d: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(d["verdict"], "block");
    assert!(
        d["reasons"]
            .to_string()
            .contains("burn rate over 1h is 20.000"),
        "{d}"
    );
    let o = nines(&[
        "gate",
        "--url",
        "http://127.0.0.1:9",
        "--slo",
        "cart-availability",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let o = nines(&["gate", "--url", &s.http, "--slo", "no-such-slo"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    // an override passes and is kept with the numbers it overrode
    let o = nines(&[
        "gate",
        "--url",
        &s.http,
        "--slo",
        "search-availability",
        "--override",
        "--reason",
        "hotfix for the outage",
        "--approver",
        "alice",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let d: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(d["override"]["approver"], "alice");
    assert_eq!(d["override"]["overridden_verdict"], "block");
    let o = nines(&[
        "slo",
        "history",
        "search-availability",
        "--url",
        &s.http,
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("hotfix for the outage"),
        "{}",
        stdout(&o)
    );

    // the same store and gate over gRPC
    let mut slos = v1::slos_client::SlosClient::connect(s.grpc.clone())
        .await
        .unwrap();
    let list = slos
        .list(v1::ListSlosRequest {})
        .await
        .unwrap()
        .into_inner();
    let list: serde_json::Value = serde_json::from_str(&list.json).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2, "{list}");
    let missing = slos
        .get(v1::SloRequest {
            name: "no-such-slo".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), tonic::Code::NotFound, "{missing:?}");
    let bad = slos
        .apply(v1::ApplySlosRequest {
            yaml: "apiVersion: openslo/v1\nkind: SLO\nmetadata:\n  name: x\n  colour: red\n".into(),
            file: "bad.yaml".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), tonic::Code::InvalidArgument);
    assert!(bad.message().contains("bad.yaml"), "{}", bad.message());
    let g = slos
        .gate(v1::GateRequest {
            slo: "cart-availability".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let g: serde_json::Value = serde_json::from_str(&g.json).unwrap();
    assert_eq!(g["verdict"], "promote", "{g}");

    // the burn alert reaches Alertmanager, and Grafana's endpoints list it
    let am_url = format!("{}/api/v2/alerts", am.url);
    let alert = wait_for("the alert in Alertmanager", || {
        let url = am_url.clone();
        async move {
            let got: serde_json::Value = reqwest::get(&url).await.ok()?.json().await.ok()?;
            got.as_array()?
                .iter()
                .find(|a| a["labels"]["slo"] == "search-availability")
                .cloned()
        }
    })
    .await;
    assert_eq!(alert["labels"]["alertname"], "SLOErrorBudgetBurn");
    assert_eq!(alert["labels"]["severity"], "page");
    let j = get_json(&format!("{}/api/v1/alerts", s.http)).await;
    let firing = j["data"]["alerts"].as_array().unwrap();
    assert!(
        firing
            .iter()
            .all(|a| a["labels"]["slo"] == "search-availability"),
        "{j}"
    );
    assert!(!firing.is_empty());
    let j = get_json(&format!("{}/api/v1/rules", s.http)).await;
    assert_eq!(j["data"]["groups"].as_array().unwrap().len(), 2, "{j}");

    // the breach, with the deploy just before it
    let o = nines(&[
        "incidents",
        "--url",
        &s.http,
        "--slo",
        "search-availability",
        "--since",
        "4h",
        "--step",
        "1m",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let list: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let b = &list[0];
    assert!(b["end"].is_null(), "still burning: {b}");
    assert_eq!(b["likely_release_induced"], true, "{b}");
    assert_eq!(b["deploys"][0]["version"], "v2.0.0");
}
