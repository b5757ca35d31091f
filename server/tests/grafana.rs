//! The requests Grafana's built-in Prometheus data source (Grafana 10/11,
//! default HTTP method POST) sends, in its order, checked field by field
//! against the shapes Prometheus answers with:
//!
//! 1. "Save & test": `POST /api/v1/query` with `query=1+1&time=4`, then
//!    `GET /api/v1/status/buildinfo` (no `features`: a plain Prometheus).
//! 2. Metrics browser and query editor: `POST /api/v1/labels`,
//!    `GET /api/v1/label/__name__/values`, `GET /api/v1/label/job/values`
//!    with `match[]`, `POST /api/v1/series` with `match[]`, `GET
//!    /api/v1/metadata`, all with `start`/`end` as float seconds.
//! 3. A time-series panel: `POST /api/v1/query_range` (form body with
//!    `query`, `start`, `end`, `step`, `timeout`), exemplars, and a table
//!    panel's instant `POST /api/v1/query`.

mod common;

use common::*;
use serde_json::{json, Value};

/// The keys of a JSON object, sorted.
fn keys(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .map(String::as_str)
        .collect();
    k.sort_unstable();
    k
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap_or_else(|| panic!("not a string: {s}")))
        .collect()
}

/// `{"status":"success","data":...}` and nothing else (no `warnings`).
fn data(st: u16, v: &Value) -> &Value {
    assert_eq!(st, 200, "{v}");
    assert_eq!(keys(v), ["data", "status"], "{v}");
    assert_eq!(v["status"], "success");
    &v["data"]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grafana_prometheus_data_source_request_sequence() {
    let dir = tempfile::tempdir().unwrap();
    let s = server_with(dir.path(), |_| {}).await;
    let t0 = load_dataset(&s).await;
    // Grafana's dashboard range: the data set plus a little either side,
    // as float seconds (it sends millisecond fractions when it has them).
    let (start, end) = (secs(t0 - 60_500), secs(t0 + POINTS * 15_000 + 60_000));

    // 1. health check: the exact body Grafana's backend sends
    let (st, v) = post_form(&s, "/api/v1/query", &[("query", "1+1"), ("time", "4")]).await;
    assert_eq!(
        data(st, &v),
        &json!({"resultType": "scalar", "result": [4, "2"]})
    );
    let (st, v) = get_json(&s, "/api/v1/status/buildinfo").await;
    let d = data(st, &v);
    for k in [
        "version",
        "revision",
        "branch",
        "buildUser",
        "buildDate",
        "goVersion",
    ] {
        assert!(d[k].is_string(), "buildinfo.{k}: {d}");
    }
    assert!(
        d.get("features").is_none(),
        "Grafana would take us for Mimir: {d}"
    );

    // 2. metrics browser
    let (st, v) = post_form(&s, "/api/v1/labels", &[("start", &start), ("end", &end)]).await;
    assert_eq!(strings(data(st, &v)), ["__name__", "code", "job", "room"]);
    let (st, v) = get_json(
        &s,
        &format!("/api/v1/label/__name__/values?start={start}&end={end}"),
    )
    .await;
    assert_eq!(
        strings(data(st, &v)),
        ["http_requests_total", "temperature"]
    );
    let (st, v) = get_json(
        &s,
        &format!(
            "/api/v1/label/code/values?match%5B%5D=http_requests_total&start={start}&end={end}"
        ),
    )
    .await;
    assert_eq!(strings(data(st, &v)), ["200", "500"]);
    let (st, v) = post_form(
        &s,
        "/api/v1/series",
        &[
            (
                "match[]",
                "{__name__=\"http_requests_total\",code=~\"5..\"}",
            ),
            ("match[]", "temperature"),
            ("start", &start),
            ("end", &end),
        ],
    )
    .await;
    assert_eq!(
        data(st, &v),
        &json!([
            {"__name__": "http_requests_total", "code": "500", "job": "api"},
            {"__name__": "temperature", "room": "a"},
        ])
    );
    // a time range after all data: an empty array, not null
    let later = (secs(t0 + 3_600_000), secs(t0 + 7_200_000));
    let (st, v) = post_form(
        &s,
        "/api/v1/labels",
        &[("start", &later.0), ("end", &later.1)],
    )
    .await;
    assert_eq!(data(st, &v), &json!([]));
    let (st, v) = get_json(&s, "/api/v1/metadata?limit=10000").await;
    assert_eq!(data(st, &v), &json!({}));

    // 3. a time-series panel: sum(rate) per code, 15 s steps
    let step = "15";
    let (st, v) = post_form(
        &s,
        "/api/v1/query_range",
        &[
            ("query", "sum by (code) (rate(http_requests_total[1m]))"),
            ("start", &start),
            ("end", &end),
            ("step", step),
            ("timeout", "30s"),
        ],
    )
    .await;
    let d = data(st, &v);
    assert_eq!(keys(d), ["result", "resultType"]);
    assert_eq!(d["resultType"], "matrix");
    let series = d["result"].as_array().unwrap();
    assert_eq!(series.len(), 2, "{d}");
    let start_f: f64 = start.parse().unwrap();
    for (s, (code, per_sec)) in series
        .iter()
        .zip([("200", 10.0 / 15.0), ("500", 1.0 / 15.0)])
    {
        assert_eq!(keys(s), ["metric", "values"]);
        assert_eq!(s["metric"], json!({"code": code}));
        let values = s["values"].as_array().unwrap();
        assert!(values.len() > 60, "{s}");
        let mut last = f64::MIN;
        let mut inside = 0;
        for p in values {
            let p = p.as_array().unwrap();
            assert_eq!(p.len(), 2);
            // time: a JSON number on the step grid, increasing
            let t = p[0].as_f64().unwrap();
            assert!(t > last);
            last = t;
            let k = (t - start_f) / 15.0;
            assert!((k - k.round()).abs() < 1e-6, "{t} off the step grid");
            // value: a string holding the number
            let x: f64 = p[1].as_str().unwrap().parse().unwrap();
            // windows wholly inside the data: the exact slope (at the
            // edges Prometheus's extrapolation rules give less)
            let t_ms = (t * 1000.0).round() as i64;
            if t_ms - 60_000 > t0 && t_ms <= t0 + (POINTS - 1) * 15_000 {
                assert!((x - per_sec).abs() < 1e-9, "{code} at {t}: {x}");
                inside += 1;
            } else {
                assert!(x >= 0.0 && x <= per_sec * 1.5, "{code} at {t}: {x}");
            }
        }
        assert!(inside > 70, "{inside} steps inside the data");
    }
    let (st, v) = post_form(
        &s,
        "/api/v1/query_exemplars",
        &[
            ("query", "http_requests_total"),
            ("start", &start),
            ("end", &end),
        ],
    )
    .await;
    assert_eq!(data(st, &v), &json!([]));

    // a table panel: instant query at the range's end
    let (st, v) = post_form(
        &s,
        "/api/v1/query",
        &[("query", "temperature"), ("time", &end)],
    )
    .await;
    let d = data(st, &v);
    assert_eq!(d["resultType"], "vector");
    let r = &d["result"][0];
    assert_eq!(keys(r), ["metric", "value"]);
    assert_eq!(r["metric"], json!({"__name__": "temperature", "room": "a"}));
    assert_eq!(r["value"][0].as_f64().unwrap(), end.parse::<f64>().unwrap());
    assert_eq!(r["value"][1], "21.5");

    // a panel with a query error: Grafana shows `error`
    let (st, v) = post_form(
        &s,
        "/api/v1/query_range",
        &[
            ("query", "rate(http_requests_total)"),
            ("start", &start),
            ("end", &end),
            ("step", step),
        ],
    )
    .await;
    assert_eq!(st, 400);
    assert_eq!(keys(&v), ["error", "errorType", "status"]);
    assert_eq!(v["status"], "error");
    assert_eq!(v["errorType"], "bad_data");
    s.shutdown().await.unwrap();
}
