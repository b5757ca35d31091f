//! The server end to end: started on port 0 with a temporary data directory,
//! spoken to with a real tonic client, a real HTTP client, and a
//! remote-write client that builds protobuf + snappy (or zstd) bodies.

use std::time::Duration;

mod common;

use common::{ingest_client, label, metrics_text, query_client, server_with};
use nines_proto::prometheus as pw;
use nines_proto::v1;
use nines_server::RunningServer;
use prost::Message;
use serde_json::Value;

async fn server(dir: &std::path::Path) -> RunningServer {
    server_with(dir, |_| {}).await
}

fn series(name: &str, job: &str, ts: Vec<i64>, vs: Vec<f64>) -> v1::SeriesSamples {
    v1::SeriesSamples {
        labels: vec![label("__name__", name), label("job", job)],
        kind: v1::SeriesKind::Counter as i32,
        timestamps: ts,
        values: vs,
    }
}

/// Every stored sample of one series: (timestamps, values).
fn samples(
    snap: &nines_engine::read::Snapshot,
    h: &nines_engine::read::SeriesHandle,
) -> (Vec<i64>, Vec<f64>) {
    let (mut ts, mut vs) = (vec![], vec![]);
    snap.read_samples(
        h,
        i64::MIN,
        i64::MAX,
        &mut Default::default(),
        &mut ts,
        &mut vs,
    )
    .unwrap();
    (ts, vs)
}

/// (labels, samples) of one remote-write series.
type RwSeries<'a> = (&'a [(&'a str, &'a str)], &'a [(i64, f64)]);

fn remote_write_body(series: &[RwSeries<'_>]) -> Vec<u8> {
    let req = pw::WriteRequest {
        timeseries: series
            .iter()
            .map(|(labels, samples)| pw::TimeSeries {
                labels: labels
                    .iter()
                    .map(|(n, v)| pw::Label {
                        name: n.to_string(),
                        value: v.to_string(),
                    })
                    .collect(),
                samples: samples
                    .iter()
                    .map(|(t, v)| pw::Sample {
                        value: *v,
                        timestamp: *t,
                    })
                    .collect(),
                exemplars: vec![],
            })
            .collect(),
        metadata: vec![],
    };
    req.encode_to_vec()
}

async fn post_remote_write(s: &RunningServer, raw: &[u8], encoding: &str) -> reqwest::Response {
    let body = match encoding {
        "snappy" => snap::raw::Encoder::new().compress_vec(raw).unwrap(),
        "zstd" => zstd::encode_all(raw, 3).unwrap(),
        _ => raw.to_vec(),
    };
    reqwest::Client::new()
        .post(format!("http://{}/api/v1/write", s.http_addr))
        .header("Content-Encoding", encoding)
        .header("Content-Type", "application/x-protobuf")
        .header("X-Prometheus-Remote-Write-Version", "0.1.0")
        .body(body)
        .send()
        .await
        .unwrap()
}

async fn get_json(s: &RunningServer, path: &str) -> (u16, Value) {
    let r = reqwest::get(format!("http://{}{path}", s.http_addr))
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_write_and_stream_report_accepted_and_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path()).await;
    let mut c = ingest_client(&s).await;
    let reply = c
        .write(v1::WriteRequest {
            series: vec![
                series(
                    "req_total",
                    "api",
                    vec![1000, 2000, 3000],
                    vec![1.0, 2.0, 3.0],
                ),
                v1::SeriesSamples {
                    labels: vec![label("__name__", "bad-name")],
                    kind: 0,
                    timestamps: vec![1000],
                    values: vec![1.0],
                },
                series("req_total", "web", vec![1000, 2000], vec![1.0]),
            ],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reply.accepted, 3);
    assert_eq!(reply.rejected_samples, 3);
    let codes: Vec<i32> = reply.rejected.iter().map(|r| r.code).collect();
    assert!(
        codes.contains(&(v1::RejectCode::InvalidLabels as i32)),
        "{reply:?}"
    );
    assert!(
        codes.contains(&(v1::RejectCode::LengthMismatch as i32)),
        "{reply:?}"
    );
    assert!(
        reply.rejected.iter().any(|r| r.reason.contains("bad-name")),
        "{reply:?}"
    );

    // a retried write is a no-op
    let again = c
        .write(v1::WriteRequest {
            series: vec![series(
                "req_total",
                "api",
                vec![1000, 2000, 3000],
                vec![1.0, 2.0, 3.0],
            )],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((again.accepted, again.duplicates), (0, 3));

    let batches = (0..3).map(|i| v1::WriteRequest {
        series: vec![series(
            "stream_total",
            "s",
            vec![10_000 + i * 1000],
            vec![i as f64],
        )],
        ..Default::default()
    });
    let total = c
        .write_stream(tokio_stream_iter(batches))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(total.accepted, 3);

    let mut q = query_client(&s).await;
    let names = q
        .label_values(v1::LabelValuesRequest {
            name: "__name__".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(names.into_inner().values, vec!["req_total", "stream_total"]);
    let ser = q
        .series(v1::SeriesRequest {
            matchers: vec!["req_total".into()],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ser.series.len(), 1);
    let err = q
        .series(v1::SeriesRequest {
            matchers: vec!["req_total{".into()],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    s.shutdown().await.unwrap();
}

/// Compact series (labels by symbol, deltas) over a real gRPC client: the
/// same samples as the plain form, a retry is all duplicates (the second
/// request is served from the series cache), a plain write of one of the
/// series meets the same series, and a malformed compact series fails the
/// request naming the field while what was stored stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compact_grpc_writes_store_the_same_samples() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path()).await;
    let mut c = ingest_client(&s).await;
    let stale = f64::from_bits(0x7ff0_0000_0000_0002);
    let batch = [
        nines_engine::SeriesBatch {
            labels: nines_engine::Labels::from_pairs(&[("__name__", "req_total"), ("job", "api")]),
            kind: nines_engine::SeriesKind::Counter,
            timestamps: vec![1_000, 2_000, 3_000],
            values: vec![5.0, 9.0, 14.0],
            resolved: None,
        },
        nines_engine::SeriesBatch {
            labels: nines_engine::Labels::from_pairs(&[("__name__", "temp"), ("job", "api")]),
            kind: nines_engine::SeriesKind::Gauge,
            timestamps: vec![1_000, 2_000, 3_000],
            values: vec![0.25, -0.0, stale],
            resolved: None,
        },
    ];
    let req = nines_server::ingest::compact_request(&batch);
    assert!(req.series.is_empty() && req.compact.len() == 2);
    assert!(req.compact[0].values.is_empty(), "counter sent as integers");
    assert!(
        req.compact[1].integer_deltas.is_empty(),
        "gauge sent as doubles"
    );
    let r = c.write(req.clone()).await.unwrap().into_inner();
    assert_eq!(
        (r.accepted, r.duplicates, r.rejected_samples),
        (6, 0, 0),
        "{r:?}"
    );
    let r = c.write(req).await.unwrap().into_inner();
    assert_eq!((r.accepted, r.duplicates), (0, 6), "{r:?}");
    // The plain form of the counter: the same series, all duplicates.
    let r = c
        .write(v1::WriteRequest {
            series: vec![series(
                "req_total",
                "api",
                vec![1_000, 2_000, 3_000],
                vec![5.0, 9.0, 14.0],
            )],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((r.accepted, r.duplicates), (0, 3), "{r:?}");

    let mut q = query_client(&s).await;
    let got = q
        .range(v1::RangeRequest {
            query: "{job=\"api\"}".into(),
            start_ms: 1_000,
            end_ms: 3_000,
            step_ms: 1_000,
            timeout_ms: 0,
        })
        .await
        .unwrap()
        .into_inner();
    let Some(v1::query_response::Result::Matrix(m)) = got.result else {
        panic!("{got:?}")
    };
    let by_name = |n: &str| {
        m.series
            .iter()
            .find(|s| s.labels.iter().any(|l| l.value == n))
            .unwrap_or_else(|| panic!("{n} in {m:?}"))
    };
    assert_eq!(by_name("req_total").values, vec![5.0, 9.0, 14.0]);
    // The stale marker ends the gauge: two points, -0.0 kept bit for bit.
    let temp = by_name("temp");
    assert_eq!(temp.timestamps_ms, vec![1_000, 2_000]);
    assert_eq!(temp.values[1].to_bits(), (-0.0f64).to_bits());

    // A reference past the symbols: INVALID_ARGUMENT naming the field.
    let bad = v1::WriteRequest {
        symbols: vec!["__name__".into(), "x".into()],
        compact: vec![v1::CompactSeries {
            label_refs: vec![0, 2],
            timestamp_deltas: vec![4_000],
            values: vec![1.0],
            ..Default::default()
        }],
        ..Default::default()
    };
    let e = c.write(bad).await.unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument, "{e:?}");
    assert!(
        e.message().contains("CompactSeries.label_refs"),
        "{}",
        e.message()
    );
    assert!(e.message().contains("2 symbols"), "{}", e.message());
}

/// A compact request small on the wire but large decoded is refused as a
/// whole with RESOURCE_EXHAUSTED (twice limits.max_request_bytes), before
/// its samples are allocated; a request within the limit still goes in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compact_request_too_large_decoded_is_resource_exhausted() {
    let dir = tempfile::tempdir().unwrap();
    let s = server_with(dir.path(), |c| c.limits.max_request_bytes = 16 << 10).await;
    let mut c = ingest_client(&s).await;
    let request = |n: usize| v1::WriteRequest {
        symbols: vec!["__name__".into(), "up".into()],
        compact: vec![v1::CompactSeries {
            label_refs: vec![0, 1],
            timestamp_deltas: vec![1; n],
            integer_deltas: vec![0; n],
            ..Default::default()
        }],
        ..Default::default()
    };
    // 4,000 samples: 8 KB on the wire, 64 KB decoded (limit 32 KiB).
    let big = request(4_000);
    assert!(big.encoded_len() < 16 << 10);
    let e = c.write(big).await.unwrap_err();
    assert_eq!(e.code(), tonic::Code::ResourceExhausted, "{e:?}");
    assert!(e.message().contains("max_request_bytes"), "{}", e.message());
    let r = c.write(request(1_000)).await.unwrap().into_inner();
    assert_eq!(r.accepted, 1_000);
}

/// Numbered series on a session: each batch answered in order once
/// stored; after the first, batches carry series numbers alone and land in
/// the same series (the same on `WriteStream`). A number never named ends
/// the session with INVALID_ARGUMENT naming it, after the batches before
/// it were answered; a unary `Write` refuses a number alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_sessions_name_each_series_once() {
    use nines_engine::{Labels, SeriesBatch, SeriesKind};
    use nines_server::ingest::{compact_request_numbered, SeriesNumbers};
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path()).await;
    let mut c = ingest_client(&s).await;
    let batch = |name: &str, t: i64| {
        ["a", "b"]
            .iter()
            .map(|job| SeriesBatch {
                labels: Labels::from_pairs(&[("__name__", name), ("job", job)]),
                kind: SeriesKind::Counter,
                timestamps: vec![t, t + 1],
                values: vec![t as f64, t as f64 + 0.5],
                resolved: None,
            })
            .collect::<Vec<_>>()
    };
    let mut numbers = SeriesNumbers::default();
    let requests: Vec<v1::WriteRequest> = (0..4)
        .map(|i| compact_request_numbered(&batch("up", 1_000 * (i + 1)), Some(&mut numbers)))
        .collect();
    assert_eq!(requests[0].compact[1].series_ref, 2);
    assert!(requests[1].symbols.is_empty());
    assert!(requests[1].compact.iter().all(|c| c.label_refs.is_empty()));
    let mut answers = c
        .write_session(tokio_stream_iter(requests.into_iter()))
        .await
        .unwrap()
        .into_inner();
    let mut accepted = Vec::new();
    while let Some(a) = answers.message().await.unwrap() {
        accepted.push(a.accepted);
    }
    assert_eq!(accepted, vec![4, 4, 4, 4]);
    let snap = s.state.engine.snapshot();
    let m = nines_engine::index::parse_selector("up").unwrap();
    let found = snap.select(&m, i64::MIN, i64::MAX).unwrap();
    assert_eq!(found.len(), 2, "two series, not one per batch");
    for h in &found {
        let (ts, _) = samples(&snap, h);
        assert_eq!(
            ts,
            vec![1_000, 1_001, 2_000, 2_001, 3_000, 3_001, 4_000, 4_001]
        );
    }
    drop(snap);

    // WriteStream: the same numbering, one total at the end.
    let mut numbers = SeriesNumbers::default();
    let requests: Vec<v1::WriteRequest> = (0..3)
        .map(|i| compact_request_numbered(&batch("down", 1_000 * (i + 1)), Some(&mut numbers)))
        .collect();
    let r = c
        .write_stream(tokio_stream_iter(requests.into_iter()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((r.accepted, r.rejected_samples), (12, 0), "{r:?}");

    // A number never named: the batch before it is answered, then the
    // session ends with the error.
    let unnamed = v1::WriteRequest {
        compact: vec![v1::CompactSeries {
            series_ref: 7,
            timestamp_deltas: vec![9_000],
            values: vec![1.0],
            ..Default::default()
        }],
        ..Default::default()
    };
    let first =
        compact_request_numbered(&batch("later", 5_000), Some(&mut SeriesNumbers::default()));
    let mut answers = c
        .write_session(tokio_stream_iter(vec![first, unnamed.clone()].into_iter()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(answers.message().await.unwrap().unwrap().accepted, 4);
    let e = answers.message().await.unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument, "{e:?}");
    assert!(
        e.message().contains("series_ref 7 names no series"),
        "{}",
        e.message()
    );
    let e = c.write(unnamed).await.unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument, "{e:?}");
    assert!(e.message().contains("unary Write"), "{}", e.message());

    // /metrics counts open streams and the series numbered on them.
    let gauges = || async {
        let text = metrics_text(&s).await;
        let value = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("{name} ")))
                .unwrap_or_else(|| panic!("{name} in {text}"))
                .to_string()
        };
        (
            value("nines_write_streams"),
            value("nines_write_stream_series"),
        )
    };
    // A stream's table goes when its handler has finished, just after its
    // last answer.
    let closed = || async {
        let mut now = gauges().await;
        for _ in 0..500 {
            if now.0 == "0" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
            now = gauges().await;
        }
        now
    };
    assert_eq!(closed().await, ("0".to_string(), "0".to_string()));
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    let mut numbers = SeriesNumbers::default();
    tx.send(compact_request_numbered(
        &batch("open", 1_000),
        Some(&mut numbers),
    ))
    .await
    .unwrap();
    let mut answers = c
        .write_session(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(answers.message().await.unwrap().unwrap().accepted, 4);
    assert_eq!(gauges().await, ("1".to_string(), "2".to_string()));
    drop(tx);
    assert!(answers.message().await.unwrap().is_none());
    assert_eq!(closed().await, ("0".to_string(), "0".to_string()));
}

fn tokio_stream_iter<T: Send + 'static>(
    items: impl Iterator<Item = T> + Send + 'static,
) -> impl tonic::IntoStreamingRequest<Message = T> {
    let v: Vec<T> = items.collect();
    futures_lite_stream(v)
}

/// A stream over a vector, without pulling in a stream utility crate.
fn futures_lite_stream<T: Send + 'static>(
    v: Vec<T>,
) -> impl tonic::codegen::tokio_stream::Stream<Item = T> + Send + 'static {
    tonic::codegen::tokio_stream::iter(v)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_write_keeps_stale_markers_and_answers_errors() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path()).await;
    let stale = f64::from_bits(0x7ff0_0000_0000_0002);
    let raw = remote_write_body(&[
        (
            &[("__name__", "up"), ("job", "node")],
            &[(1000, 1.0), (16_000, stale)],
        ),
        (
            &[("__name__", "http_requests_total"), ("code", "200")],
            &[(1000, 10.0), (16_000, 12.0)],
        ),
    ]);
    let r = post_remote_write(&s, &raw, "snappy").await;
    assert_eq!(r.status().as_u16(), 204, "{:?}", r.text().await);
    let raw2 = remote_write_body(&[(&[("__name__", "up"), ("job", "zstd")], &[(1000, 1.0)])]);
    let r = post_remote_write(&s, &raw2, "zstd").await;
    assert_eq!(r.status().as_u16(), 204, "{:?}", r.text().await);

    // the stale marker is stored bit for bit
    let snap = s.state.engine.snapshot();
    let m = nines_engine::index::parse_selector(r#"up{job="node"}"#).unwrap();
    let h = &snap.select(&m, i64::MIN, i64::MAX).unwrap()[0];
    let (_, vs) = samples(&snap, h);
    assert_eq!(vs[1].to_bits(), 0x7ff0_0000_0000_0002);
    drop(snap);

    // malformed bodies: 400 with a message, nothing stored
    let r = post_remote_write(&s, b"not snappy at all", "identity").await;
    assert_eq!(r.status().as_u16(), 400);
    assert!(r.text().await.unwrap().contains("WriteRequest"));
    let r = post_remote_write(&s, &raw, "br").await;
    assert_eq!(r.status().as_u16(), 400);
    assert!(r.text().await.unwrap().contains("Content-Encoding"));
    let r = reqwest::Client::new()
        .post(format!("http://{}/api/v1/write", s.http_addr))
        .body(vec![0xffu8; 64])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    // a body that would decode to many times its size (a million empty
    // series entries, 2 MB): refused, nothing stored
    let r = post_remote_write(&s, &[0x0a, 0x00].repeat(1_000_000), "snappy").await;
    assert_eq!(r.status().as_u16(), 400);
    let text = r.text().await.unwrap();
    assert!(text.contains("too large"), "{text}");
    // refused samples: 400 naming them, the rest stored
    let raw3 = remote_write_body(&[(
        &[("__name__", "up"), ("job", "node")],
        &[(1000, 5.0), (31_000, 1.0)],
    )]);
    let r = post_remote_write(&s, &raw3, "snappy").await;
    assert_eq!(r.status().as_u16(), 400);
    let text = r.text().await.unwrap();
    assert!(
        text.contains("1 samples stored") && text.contains("conflicts"),
        "{text}"
    );
    s.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_label_series_metadata_and_ops_endpoints() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path()).await;
    let mut c = ingest_client(&s).await;
    c.write(v1::WriteRequest {
        series: vec![
            series("req_total", "api", vec![1_700_000_000_000], vec![1.0]),
            series("req_total", "web", vec![1_700_000_000_000], vec![1.0]),
            series("up", "api", vec![1_700_000_000_000], vec![1.0]),
        ],
        ..Default::default()
    })
    .await
    .unwrap();
    let (st, v) = get_json(&s, "/api/v1/labels").await;
    assert_eq!(st, 200);
    assert_eq!(
        v,
        serde_json::json!({"status": "success", "data": ["__name__", "job"]})
    );
    let (_, v) = get_json(&s, "/api/v1/label/job/values?match[]=req_total").await;
    assert_eq!(v["data"], serde_json::json!(["api", "web"]));
    let (_, v) = get_json(&s, "/api/v1/label/__name__/values").await;
    assert_eq!(v["data"], serde_json::json!(["req_total", "up"]));
    let (_, v) = get_json(&s, "/api/v1/series?match[]=req_total&match[]=up{job=\"api\"}&start=1699999999&end=2023-11-14T22:13:21Z").await;
    assert_eq!(v["data"].as_array().unwrap().len(), 3, "{v}");
    let (_, v) = get_json(&s, "/api/v1/series?match[]=req_total&limit=1").await;
    assert_eq!(v["data"].as_array().unwrap().len(), 1);
    // POST form-encoded, as Grafana sends
    let r = reqwest::Client::new()
        .post(format!("http://{}/api/v1/series", s.http_addr))
        .form(&[("match[]", "up")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["data"][0]["job"], "api");
    // errors: envelope and status
    let (st, v) = get_json(&s, "/api/v1/series").await;
    assert_eq!(st, 400);
    assert_eq!(v["errorType"], "bad_data");
    assert_eq!(v["error"], "no match[] parameter provided");
    let (st, v) = get_json(&s, "/api/v1/series?match[]=up{").await;
    assert_eq!(st, 400);
    assert_eq!(v["status"], "error");
    let (st, _) = get_json(&s, "/api/v1/label/bad-name/values").await;
    assert_eq!(st, 400);
    let (st, v) = get_json(&s, "/api/v1/labels?start=yesterday").await;
    assert_eq!(st, 400);
    assert!(v["error"].as_str().unwrap().contains("start"));
    let (_, v) = get_json(&s, "/api/v1/status/buildinfo").await;
    assert_eq!(v["data"]["version"], env!("CARGO_PKG_VERSION"));
    let (_, v) = get_json(&s, "/api/v1/query_exemplars?query=up").await;
    assert_eq!(v["data"], serde_json::json!([]));
    let (_, v) = get_json(&s, "/api/v1/metadata").await;
    assert_eq!(v["data"], serde_json::json!({}));

    let ok = |p: &str| {
        let url = format!("http://{}{p}", s.http_addr);
        async move { reqwest::get(url).await.unwrap() }
    };
    assert_eq!(ok("/-/healthy").await.status().as_u16(), 200);
    assert_eq!(ok("/-/ready").await.status().as_u16(), 200);
    let m = ok("/metrics").await.text().await.unwrap();
    for name in [
        "nines_samples_appended_total 3",
        "nines_wal_fsync_duration_seconds_bucket",
        "nines_head_series 3",
        "nines_write_series_cache_entries 3",
        "nines_write_series_cache_misses_total 3",
        "nines_write_requests_total{protocol=\"grpc\",outcome=\"ok\"} 1",
        "nines_compactions_total",
        "nines_query_duration_seconds",
    ] {
        assert!(m.contains(name), "/metrics lacks {name}:\n{m}");
    }
    s.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_write_metadata_sets_series_kinds() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path()).await;
    let req = pw::WriteRequest {
        timeseries: vec![],
        metadata: vec![pw::MetricMetadata {
            r#type: pw::metric_metadata::MetricType::Histogram as i32,
            metric_family_name: "lat_seconds".into(),
            help: "Latency.".into(),
            unit: "seconds".into(),
        }],
    };
    assert_eq!(
        post_remote_write(&s, &req.encode_to_vec(), "snappy")
            .await
            .status()
            .as_u16(),
        204
    );
    let raw = remote_write_body(&[(
        &[("__name__", "lat_seconds_bucket"), ("le", "0.1")],
        &[(1000, 1.0)],
    )]);
    assert_eq!(
        post_remote_write(&s, &raw, "snappy")
            .await
            .status()
            .as_u16(),
        204
    );
    let snap = s.state.engine.snapshot();
    let h = &snap
        .select(
            &nines_engine::index::parse_selector("lat_seconds_bucket").unwrap(),
            0,
            2000,
        )
        .unwrap()[0];
    assert_eq!(h.kind, nines_engine::SeriesKind::HistogramBucket);
    drop(snap);
    let (_, v) = get_json(&s, "/api/v1/metadata?metric=lat_seconds").await;
    assert_eq!(v["data"]["lat_seconds"][0]["type"], "histogram");
    s.shutdown().await.unwrap();
}

/// Resident memory of this process, from /proc (bytes).
fn rss_bytes() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overload_answers_429_and_resource_exhausted_and_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let s = server_with(dir.path(), |c| {
        c.limits.max_request_bytes = 4 << 20;
        c.limits.inflight_bytes = 8 << 20;
    })
    .await;
    // ~1.6 MB of samples per request (1 ms apart: no flush cuts in between);
    // decoded, it reserves ~3x its size.
    let big: Vec<(i64, f64)> = (0..100_000).map(|i| (i as i64, i as f64)).collect();
    let post = |body: Vec<u8>| {
        let addr = s.http_addr;
        async move {
            let r = reqwest::Client::new()
                .post(format!("http://{addr}/api/v1/write"))
                .header("Content-Encoding", "snappy")
                .body(body)
                .send()
                .await
                .unwrap();
            (
                r.status().as_u16(),
                r.headers().get("Retry-After").is_some(),
            )
        }
    };
    let body_for = |job: &str| {
        let raw = remote_write_body(&[(&[("__name__", "load_total"), ("job", job)], &big)]);
        snap::raw::Encoder::new().compress_vec(&raw).unwrap()
    };

    // With the whole write budget taken, writers are refused at once and
    // queries are still answered: deterministic, whatever the timing.
    {
        let _all = s.state.reserve(8 << 20).expect("the whole budget");
        assert_eq!(post(body_for("held")).await, (429, true));
        let e = ingest_client(&s)
            .await
            .write(v1::WriteRequest {
                series: vec![series("held_total", "g", vec![1, 2], vec![1.0, 2.0])],
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), tonic::Code::ResourceExhausted, "{e}");
        let (st, v) = get_json(&s, "/api/v1/query?query=vector(1)").await;
        assert_eq!(st, 200, "{v}");
        assert_eq!(v["data"]["result"][0]["value"][1], "1", "{v}");
        let (st, _) = get_json(&s, "/api/v1/labels").await;
        assert_eq!(st, 200);
    }
    assert_eq!(post(body_for("released")).await.0, 204);

    let rss_before = rss_bytes();
    let mut handles = Vec::new();
    for w in 0..24 {
        let addr = s.http_addr;
        let job = format!("w{w}");
        let raw = remote_write_body(&[(&[("__name__", "load_total"), ("job", &job)], &big)]);
        let body = snap::raw::Encoder::new().compress_vec(&raw).unwrap();
        handles.push(tokio::spawn(async move {
            let r = reqwest::Client::new()
                .post(format!("http://{addr}/api/v1/write"))
                .header("Content-Encoding", "snappy")
                .body(body)
                .send()
                .await
                .unwrap();
            (
                r.status().as_u16(),
                r.headers().get("Retry-After").is_some(),
            )
        }));
    }
    // queries keep being answered meanwhile: metadata and PromQL
    let (st, _) = get_json(&s, "/api/v1/labels").await;
    assert_eq!(st, 200);
    let (st, v) = get_json(&s, "/api/v1/query?query=count(load_total)%20or%20vector(0)").await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["data"]["resultType"], "vector", "{v}");
    let mut q = query_client(&s).await;
    q.instant(v1::InstantRequest {
        query: "1".into(),
        time_ms: None,
        timeout_ms: 5_000,
    })
    .await
    .expect("gRPC query answered while writes are refused");
    let mut codes = Vec::new();
    for h in handles {
        codes.push(h.await.unwrap());
    }
    assert!(
        codes.iter().any(|c| c.0 == 204),
        "some writes go through: {codes:?}"
    );
    // whether some of these overlap enough to be refused depends on timing
    assert!(
        codes.iter().all(|c| c.0 == 204 || (c.0 == 429 && c.1)),
        "{codes:?}"
    );
    let grew = rss_bytes().saturating_sub(rss_before);
    assert!(grew < 400 << 20, "memory grew by {grew} bytes");

    // gRPC: concurrent writers past the budget get RESOURCE_EXHAUSTED
    let mut grpc = Vec::new();
    for w in 0..16 {
        let mut c = ingest_client(&s).await;
        grpc.push(tokio::spawn(async move {
            let ts: Vec<i64> = (0..200_000).collect();
            let vs = vec![1.0; ts.len()];
            c.write(v1::WriteRequest {
                series: vec![series("grpc_load_total", &format!("g{w}"), ts, vs)],
                ..Default::default()
            })
            .await
            .map(|_| ())
            .map_err(|e| e.code())
        }));
    }
    let mut outcomes = Vec::new();
    for h in grpc {
        outcomes.push(h.await.unwrap());
    }
    assert!(outcomes.iter().any(Result::is_ok), "{outcomes:?}");
    assert!(
        outcomes.contains(&Err(tonic::Code::ResourceExhausted)),
        "{outcomes:?}"
    );
    let mut c = ingest_client(&s).await;
    // and a message over the size limit is refused before decoding
    let ts: Vec<i64> = (0..700_000).collect();
    let vs = vec![1.0; ts.len()];
    let err = c
        .write(v1::WriteRequest {
            series: vec![series("huger_total", "x", ts, vs)],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(
        matches!(
            err.code(),
            tonic::Code::ResourceExhausted | tonic::Code::OutOfRange
        ),
        "{err}"
    );
    let m = metrics_text(&s).await;
    assert!(m.contains("outcome=\"overloaded\""), "{m}");
    tokio::time::sleep(Duration::from_millis(10)).await;
    s.shutdown().await.unwrap();
}
