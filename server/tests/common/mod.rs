//! Helpers shared by the server's end-to-end tests: a server on
//! port 0 with a temporary directory, clients, and a small data set.

#![allow(dead_code)]

use nines_proto::v1;
use nines_server::{start, Config, RunningServer};
use serde_json::Value;

/// Samples per series, 15 s apart: 20 minutes.
pub const POINTS: i64 = 80;

pub async fn server_with(dir: &std::path::Path, tweak: impl FnOnce(&mut Config)) -> RunningServer {
    let mut cfg = Config {
        data_dir: dir.to_path_buf(),
        http_listen: "127.0.0.1:0".parse().unwrap(),
        grpc_listen: "127.0.0.1:0".parse().unwrap(),
        ..Config::default()
    };
    tweak(&mut cfg);
    start(cfg).await.expect("server starts")
}

pub fn label(n: &str, v: &str) -> v1::Label {
    v1::Label {
        name: n.into(),
        value: v.into(),
    }
}

pub async fn ingest_client(
    s: &RunningServer,
) -> v1::ingest_client::IngestClient<tonic::transport::Channel> {
    v1::ingest_client::IngestClient::connect(format!("http://{}", s.grpc_addr))
        .await
        .unwrap()
}

pub async fn query_client(
    s: &RunningServer,
) -> v1::query_client::QueryClient<tonic::transport::Channel> {
    v1::query_client::QueryClient::connect(format!("http://{}", s.grpc_addr))
        .await
        .unwrap()
}

/// `http_requests_total{job="api",code="200"}` growing by 10 per 15 s and
/// `{code="500"}` by 1, plus the gauge `temperature{room="a"}` = 21.5,
/// for [`POINTS`] samples from the returned start (a whole minute, 30
/// minutes ago: inside retention and the out-of-order window's reach).
pub async fn load_dataset(s: &RunningServer) -> i64 {
    let now = nines_server::http::now_ms();
    let t0 = now - now % 60_000 - 30 * 60_000;
    let ts: Vec<i64> = (0..POINTS).map(|i| t0 + i * 15_000).collect();
    let counter = |code: &str, per_step: f64| v1::SeriesSamples {
        labels: vec![
            label("__name__", "http_requests_total"),
            label("job", "api"),
            label("code", code),
        ],
        kind: v1::SeriesKind::Counter as i32,
        timestamps: ts.clone(),
        values: (0..POINTS).map(|i| i as f64 * per_step).collect(),
    };
    let gauge = v1::SeriesSamples {
        labels: vec![label("__name__", "temperature"), label("room", "a")],
        kind: v1::SeriesKind::Gauge as i32,
        timestamps: ts.clone(),
        values: vec![21.5; ts.len()],
    };
    let r = ingest_client(s)
        .await
        .write(v1::WriteRequest {
            series: vec![counter("200", 10.0), counter("500", 1.0), gauge],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.accepted, 3 * POINTS as u64, "{r:?}");
    t0
}

pub async fn get_json(s: &RunningServer, path: &str) -> (u16, Value) {
    let r = reqwest::get(format!("http://{}{path}", s.http_addr))
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

/// A form-encoded POST, as Grafana sends queries.
pub async fn post_form(s: &RunningServer, path: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let body: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let r = reqwest::Client::new()
        .post(format!("http://{}{path}", s.http_addr))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

/// The text of `/metrics`.
pub async fn metrics_text(s: &RunningServer) -> String {
    reqwest::get(format!("http://{}/metrics", s.http_addr))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// Seconds as the query string wants them.
pub fn secs(ms: i64) -> String {
    format!("{}", ms as f64 / 1000.0)
}
