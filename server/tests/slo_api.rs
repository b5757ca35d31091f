//! The SLO and exclusion API over HTTP: apply, list, get, history, retire,
//! exclusions, errors with file/line/field, durability across a restart,
//! and the `slo_*` operators over HTTP and gRPC seeing the store.

mod common;

use common::*;
use nines_proto::v1;
use serde_json::{json, Value};

fn slo_yaml(name: &str, target: f64) -> String {
    format!(
        r#"apiVersion: openslo/v1
kind: SLO
metadata:
  name: {name}
spec:
  service: api
  indicator:
    spec:
      ratioMetric:
        bad:
          metricSource:
            spec:
              query: http_requests_total{{job="api", code="500"}}
        total:
          metricSource:
            spec:
              query: http_requests_total{{job="api"}}
  timeWindow:
    - duration: 1h
      isRolling: true
  budgetingMethod: Occurrences
  objectives:
    - target: {target}
"#
    )
}

async fn send(
    s: &nines_server::RunningServer,
    method: reqwest::Method,
    path: &str,
    body: Option<String>,
) -> (u16, Value) {
    let mut r = reqwest::Client::new().request(method, format!("http://{}{path}", s.http_addr));
    if let Some(b) = body {
        r = r.body(b);
    }
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

async fn post(s: &nines_server::RunningServer, path: &str, body: String) -> (u16, Value) {
    send(s, reqwest::Method::POST, path, Some(body)).await
}

async fn delete(s: &nines_server::RunningServer, path: &str) -> (u16, Value) {
    send(s, reqwest::Method::DELETE, path, None).await
}

/// The one value of an instant query's vector (None when empty).
async fn instant(s: &nines_server::RunningServer, q: &str, t: i64) -> Option<(Value, f64)> {
    let (code, v) = post_form(s, "/api/v1/query", &[("query", q), ("time", &secs(t))]).await;
    assert_eq!(code, 200, "{v}");
    let r = v["data"]["result"].as_array().unwrap();
    assert!(r.len() <= 1, "{v}");
    r.first().map(|x| {
        (
            x["metric"].clone(),
            x["value"][1].as_str().unwrap().parse().unwrap(),
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slos_apply_list_get_history_retire_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let s = server_with(dir.path(), |_| {}).await;
    let t0 = load_dataset(&s).await;
    let t_last = t0 + (POINTS - 1) * 15_000;

    // no store entry yet: the operator says so
    let (code, v) = post_form(
        &s,
        "/api/v1/query",
        &[
            ("query", "slo_burn_rate(\"avail\", 1h)"),
            ("time", &secs(t_last)),
        ],
    )
    .await;
    assert_eq!(code, 422, "{v}");
    assert!(v["error"].as_str().unwrap().contains("no SLO named"), "{v}");

    let file = format!(
        "{}---\n{}",
        slo_yaml("avail", 0.9),
        slo_yaml("strict", 0.99)
    );
    let (code, v) = post(&s, "/api/v1/slos?file=team.yaml&author=ann", file.clone()).await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(
        v["data"]["applied"],
        json!([{"name": "avail", "version": 1, "change": "created"},
               {"name": "strict", "version": 1, "change": "created"}])
    );
    let (_, v) = post(&s, "/api/v1/slos", file).await;
    assert_eq!(v["data"]["applied"][0]["change"], "unchanged");

    // all 79 intervals: total 79 * 11, bad 79
    let (total, bad) = (79.0 * 11.0, 79.0);
    let (labels, br) = instant(&s, "slo_burn_rate(\"avail\", 1h)", t_last)
        .await
        .unwrap();
    assert_eq!(
        labels,
        json!({"slo": "avail", "service": "api", "slo_version": "1"})
    );
    assert!((br - (bad / total) / (1.0 - 0.9)).abs() < 1e-12, "{br}");

    // gRPC answers from the same store
    let r = query_client(&s)
        .await
        .instant(v1::InstantRequest {
            query: "slo_budget_remaining_events(\"avail\")".into(),
            time_ms: Some(t_last),
            timeout_ms: 0,
        })
        .await
        .unwrap()
        .into_inner();
    let Some(v1::query_response::Result::Vector(vec)) = r.result else {
        panic!("{r:?}")
    };
    let events = 0.1 * total - bad;
    assert!((vec.samples[0].value - events).abs() < 1e-9, "{vec:?}");

    // a change makes version 2
    let (code, v) = post(&s, "/api/v1/slos?author=bob", slo_yaml("avail", 0.95)).await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["data"]["applied"][0]["version"], 2);

    let (code, v) = get_json(&s, "/api/v1/slos").await;
    assert_eq!(code, 200);
    let list = v["data"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["name"], "avail");
    assert_eq!(list[0]["version"], 2);
    assert_eq!(list[0]["target"], 0.95);
    assert_eq!(list[0]["window"], "rolling 1h");
    assert_eq!(list[0]["retired_at"], Value::Null);

    let (code, v) = get_json(&s, "/api/v1/slos/avail").await;
    assert_eq!(code, 200, "{v}");
    let d = &v["data"];
    assert_eq!(d["current"]["version"], 2);
    assert_eq!(d["current"]["author"], "bob");
    assert_eq!(d["versions"].as_array().unwrap().len(), 2);
    assert_eq!(
        d["versions"][0]["effective_to"],
        d["versions"][1]["effective_from"]
    );
    assert_eq!(
        d["versions"][0]["definition"]["objectives"][0]["target"],
        0.9
    );

    let (code, v) = delete(&s, "/api/v1/slos/strict?author=cid").await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["data"]["change"], "retired");
    let (code, v) = delete(&s, "/api/v1/slos/strict").await;
    assert_eq!((code, v["errorType"].as_str()), (409, Some("conflict")));
    let (code, _) = delete(&s, "/api/v1/slos/nope").await;
    assert_eq!(code, 404);
    let (code, v) = get_json(&s, "/api/v1/slos/nope/history").await;
    assert_eq!((code, v["errorType"].as_str()), (404, Some("not_found")));

    let before_restart = get_json(&s, "/api/v1/slos/avail/history").await.1;
    s.shutdown().await.unwrap();

    let s = server_with(dir.path(), |_| {}).await;
    let (_, v) = get_json(&s, "/api/v1/slos/avail/history").await;
    assert_eq!(v, before_restart);
    let h = v["data"].as_array().unwrap();
    let changes: Vec<(&str, i64, &str)> = h
        .iter()
        .map(|e| {
            (
                e["change"].as_str().unwrap(),
                e["version"].as_i64().unwrap(),
                e["author"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(changes, [("created", 1, "ann"), ("changed", 2, "bob")]);
    assert_eq!(h[1]["record"], 2);
    assert_eq!(h[1]["record_hash"].as_str().unwrap().len(), 64);
    let (_, v) = get_json(&s, "/api/v1/slos/strict").await;
    assert!(v["data"]["retired_at"].is_string(), "{v}");
    s.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_file_is_refused_with_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let s = server_with(dir.path(), |_| {}).await;
    let bad = slo_yaml("bad", 0.9).replace(
        "    - target: 0.9\n",
        "    - target: 0.9\n      colour: red\n",
    );
    let file = format!("{}---\n{bad}", slo_yaml("ok", 0.9));
    let (code, v) = post(&s, "/api/v1/slos?file=team.yaml", file).await;
    assert_eq!(code, 400, "{v}");
    assert_eq!(v["errorType"], "bad_data");
    assert_eq!(v["location"]["file"], "team.yaml");
    assert_eq!(v["location"]["line"], 48, "{v}");
    assert!(
        v["location"]["field"]
            .as_str()
            .unwrap()
            .starts_with("spec.objectives[0]"),
        "{v}"
    );
    assert!(v["error"].as_str().unwrap().contains("colour"), "{v}");
    // nothing was applied
    let (_, v) = get_json(&s, "/api/v1/slos").await;
    assert_eq!(v["data"], json!([]));
    let (code, _) = post(&s, "/api/v1/slos", "\u{0}not yaml: [".into()).await;
    assert_eq!(code, 400);
    s.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exclusions_add_list_delete_and_change_the_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let s = server_with(dir.path(), |_| {}).await;
    let t0 = load_dataset(&s).await;
    let t_last = t0 + (POINTS - 1) * 15_000;
    post(&s, "/api/v1/slos", slo_yaml("avail", 0.9)).await;
    let q = "slo_budget_remaining_events(\"avail\")";
    let full = instant(&s, q, t_last).await.unwrap().1;
    assert!((full - (0.1 * 79.0 * 11.0 - 79.0)).abs() < 1e-9, "{full}");

    // events at t0 + 40 * 15 s .. t0 + 59 * 15 s are excluded: 20 intervals
    let body = json!({
        "slos": ["avail"],
        "start": secs(t0 + 40 * 15_000),
        "end": secs(t0 + 60 * 15_000),
        "category": "maintenance",
        "reason": "db upgrade",
        "author": "bob",
    });
    let (code, v) = post(&s, "/api/v1/exclusions", body.to_string()).await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["data"]["id"], "1");
    assert_eq!(v["data"]["category"], "maintenance");
    let excluded = instant(&s, q, t_last).await.unwrap().1;
    assert!(
        (excluded - (0.1 * 59.0 * 11.0 - 59.0)).abs() < 1e-9,
        "{excluded}"
    );

    let weekly = json!({"all": true, "rrule": "FREQ=WEEKLY;BYDAY=SU;BYHOUR=2",
                        "duration": "2h", "tz": "Europe/Berlin", "category": "third-party"});
    let (code, v) = post(&s, "/api/v1/exclusions", weekly.to_string()).await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(
        (
            v["data"]["id"].as_str(),
            v["data"]["rrule"].as_str(),
            v["data"]["duration"].as_str()
        ),
        (Some("2"), Some("FREQ=WEEKLY;BYDAY=SU;BYHOUR=2"), Some("2h"))
    );
    for bad in [
        json!({"slos": ["avail"], "all": true, "start": 1, "end": 2}),
        json!({"slos": ["avail"], "start": 2, "end": 1}),
        json!({"slos": ["avail"], "rrule": "FREQ=HOURLY", "duration": "1h"}),
        json!({"slos": ["avail"], "start": 1, "end": 2, "colour": "red"}),
    ] {
        let (code, v) = post(&s, "/api/v1/exclusions", bad.to_string()).await;
        assert_eq!(code, 400, "{bad} {v}");
    }
    let (code, _) = post(
        &s,
        "/api/v1/exclusions",
        json!({"slos": ["ghost"], "start": 1, "end": 2}).to_string(),
    )
    .await;
    assert_eq!(code, 404);

    let (_, v) = get_json(&s, "/api/v1/exclusions").await;
    assert_eq!(v["data"].as_array().unwrap().len(), 2);
    let (code, v) = delete(&s, "/api/v1/exclusions/1?author=cid").await;
    assert_eq!(code, 200, "{v}");
    let (code, _) = delete(&s, "/api/v1/exclusions/1").await;
    assert_eq!(code, 409);
    let (code, _) = delete(&s, "/api/v1/exclusions/77").await;
    assert_eq!(code, 404);
    let (_, v) = get_json(&s, "/api/v1/exclusions").await;
    assert_eq!(v["data"].as_array().unwrap().len(), 1);
    let (_, v) = get_json(&s, "/api/v1/exclusions?deleted=true&slo=avail").await;
    let all = v["data"].as_array().unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0]["deleted_by"], "cid");
    let back = instant(&s, q, t_last).await.unwrap().1;
    assert_eq!(back, full);

    let (_, v) = get_json(&s, "/api/v1/slos/avail/history").await;
    let kinds: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["change"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "created",
            "exclusion_added",
            "exclusion_added",
            "exclusion_deleted"
        ]
    );
    s.shutdown().await.unwrap();
}
