//! The query endpoints end to end: `/api/v1/query`, `/api/v1/query_range`,
//! `/api/v1/format_query` over HTTP and `Query.Instant` / `Query.Range`
//! over gRPC, error paths included.

mod common;

use std::time::Duration;

use common::*;
use nines_proto::v1;
use serde_json::{json, Value};

/// The sample value of a `[t, "v"]` pair as a number.
fn num(pair: &Value) -> f64 {
    pair[1].as_str().unwrap().parse().unwrap()
}

/// A query that runs far longer than a millisecond: a subquery with a 1 ms
/// step over 20 minutes (1.2 M inner evaluations).
const SLOW: &str = "sum_over_time(temperature[20m:1ms])";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instant_and_range_queries_answer_in_prometheus_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let s = server_with(dir.path(), |_| {}).await;
    let t0 = load_dataset(&s).await;
    let t_last = t0 + (POINTS - 1) * 15_000;

    // rate over a linear counter: 10/15 + 1/15 per second
    let q = "sum(rate(http_requests_total[5m]))";
    let path = format!(
        "/api/v1/query?query={}&time={}",
        form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>(),
        secs(t_last)
    );
    let (st, v) = get_json(&s, &path).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["status"], "success");
    assert_eq!(v["data"]["resultType"], "vector");
    let result = v["data"]["result"].as_array().unwrap();
    assert_eq!(result.len(), 1, "{v}");
    assert_eq!(result[0]["metric"], json!({}));
    assert_eq!(
        result[0]["value"][0].as_f64().unwrap(),
        t_last as f64 / 1000.0
    );
    assert!((num(&result[0]["value"]) - 11.0 / 15.0).abs() < 1e-9, "{v}");
    assert!(v.get("warnings").is_none(), "{v}");

    // the same query with an RFC 3339 time, POSTed as a form
    let rfc = jiff::Timestamp::from_millisecond(t_last)
        .unwrap()
        .to_string();
    let (st, v2) = post_form(&s, "/api/v1/query", &[("query", q), ("time", &rfc)]).await;
    assert_eq!(st, 200, "{v2}");
    assert_eq!(v2, v);

    // scalars and strings
    let (_, v) = post_form(&s, "/api/v1/query", &[("query", "1+1"), ("time", "4")]).await;
    assert_eq!(
        v,
        json!({"status": "success", "data": {"resultType": "scalar", "result": [4, "2"]}})
    );
    let (_, v) = post_form(&s, "/api/v1/query", &[("query", "\"up\""), ("time", "4.5")]).await;
    assert_eq!(
        v["data"],
        json!({"resultType": "string", "result": [4.5, "up"]})
    );

    // a range query, step as a duration and as seconds
    for step in ["1m", "60", "60.0"] {
        let (st, v) = post_form(
            &s,
            "/api/v1/query_range",
            &[
                ("query", "temperature"),
                ("start", &secs(t0)),
                ("end", &secs(t0 + 600_000)),
                ("step", step),
            ],
        )
        .await;
        assert_eq!(st, 200, "{v}");
        assert_eq!(v["data"]["resultType"], "matrix");
        let series = v["data"]["result"].as_array().unwrap();
        assert_eq!(series.len(), 1);
        assert_eq!(
            series[0]["metric"],
            json!({"__name__": "temperature", "room": "a"})
        );
        let values = series[0]["values"].as_array().unwrap();
        assert_eq!(values.len(), 11, "{v}");
        for (i, p) in values.iter().enumerate() {
            assert_eq!(
                p[0].as_f64().unwrap(),
                (t0 + i as i64 * 60_000) as f64 / 1000.0
            );
            assert_eq!(p[1], "21.5");
        }
    }

    // limit keeps the first series and says so
    let (_, v) = get_json(
        &s,
        &format!(
            "/api/v1/query?query=http_requests_total&time={}&limit=1",
            secs(t_last)
        ),
    )
    .await;
    assert_eq!(v["data"]["result"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["warnings"], json!(["results truncated due to limit"]));
    let (_, v) = get_json(
        &s,
        &format!(
            "/api/v1/query?query=http_requests_total&time={}&limit=5",
            secs(t_last)
        ),
    )
    .await;
    assert_eq!(v["data"]["result"].as_array().unwrap().len(), 2, "{v}");

    let (st, v) = post_form(
        &s,
        "/api/v1/format_query",
        &[("query", "sum(rate(x[5m]))by(job)")],
    )
    .await;
    assert_eq!(st, 200);
    assert_eq!(v["data"], "sum by (job) (rate(x[5m]))");

    let m = metrics_text(&s).await;
    assert!(m.contains("endpoint=\"query_range\""), "{m}");
    s.shutdown().await.unwrap();
}

/// A counter of /metrics by its full name.
async fn metric(s: &nines_server::RunningServer, name: &str) -> f64 {
    metrics_text(s)
        .await
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("/metrics lacks {name}"))
}

/// Range results are kept for the steps storage can no longer change: a
/// repeat is answered from the cache (HTTP and gRPC alike), new samples
/// after the flushed cut show up in the next answer, and a flush starts
/// the cache over. Every answer equals one computed afresh (the same query
/// with a trailing space is another cache key).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn range_results_are_cached_and_follow_new_data() {
    let dir = tempfile::tempdir().unwrap();
    let s = server_with(dir.path(), |_| {}).await;
    let t0 = load_dataset(&s).await;
    let t_last = t0 + (POINTS - 1) * 15_000;
    s.state.engine.flush(true).unwrap();
    let q = "sum by (code) (rate(http_requests_total[2m]))";
    let fresh = format!("{q} ");
    let end = t_last + 10 * 60_000;
    let ask = |query: &str, start: i64| {
        let form = [
            ("query", query.to_string()),
            ("start", secs(start)),
            ("end", secs(end)),
            ("step", "60".to_string()),
        ];
        let s = &s;
        async move {
            let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let (st, v) = post_form(s, "/api/v1/query_range", &pairs).await;
            assert_eq!(st, 200, "{v}");
            v
        }
    };
    let hits = "nines_query_range_cache_hits_total";
    let partial = "nines_query_range_cache_partial_hits_total";
    let misses = "nines_query_range_cache_misses_total";

    let first = ask(q, t0).await;
    assert_eq!(metric(&s, misses).await, 1.0);
    let series = first["data"]["result"].as_array().unwrap();
    assert_eq!(series.len(), 2, "{first}");
    // points end within the 2 m window after the last sample
    let last_point = |v: &Value| {
        v["data"]["result"][0]["values"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()[0]
            .as_f64()
            .unwrap()
    };
    assert!(
        last_point(&first) <= t_last as f64 / 1000.0 + 120.0,
        "{first}"
    );
    let again = ask(q, t0).await;
    assert_eq!(again, first);
    assert_eq!(ask(&fresh, t0).await, first);
    assert_eq!(
        metric(&s, partial).await,
        1.0,
        "the repeat reused the fixed steps"
    );

    // gRPC reads the same cache
    let r = query_client(&s)
        .await
        .range(v1::RangeRequest {
            query: q.into(),
            start_ms: t0,
            end_ms: t_last,
            step_ms: 60_000,
            timeout_ms: 0,
        })
        .await
        .unwrap()
        .into_inner();
    let Some(v1::query_response::Result::Matrix(m)) = r.result else {
        panic!("{r:?}");
    };
    assert_eq!(m.series.len(), 2);
    assert_eq!(metric(&s, hits).await, 1.0, "every step of it was cached");

    // new samples after the cut appear in the next answer
    let ts: Vec<i64> = (1..=20).map(|i| t_last + i * 15_000).collect();
    let w = ingest_client(&s)
        .await
        .write(v1::WriteRequest {
            series: vec![v1::SeriesSamples {
                labels: vec![
                    label("__name__", "http_requests_total"),
                    label("job", "api"),
                    label("code", "200"),
                ],
                kind: v1::SeriesKind::Counter as i32,
                timestamps: ts.clone(),
                values: (1..=20).map(|i| (POINTS - 1 + i) as f64 * 10.0).collect(),
            }],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(w.accepted, 20, "{w:?}");
    let grown = ask(q, t0).await;
    assert_ne!(grown, first);
    assert_eq!(grown, ask(&fresh, t0).await);
    assert!(
        last_point(&grown) > t_last as f64 / 1000.0 + 120.0,
        "{grown}"
    );

    // a flush is a new storage version: the entry is computed again
    let before = metric(&s, misses).await;
    s.state.engine.flush(true).unwrap();
    let after_flush = ask(q, t0 + 60_000).await;
    assert_eq!(metric(&s, misses).await, before + 1.0);
    assert_eq!(after_flush, ask(&fresh, t0 + 60_000).await);
    s.shutdown().await.unwrap();
}

/// A panel of thousands of points answered from the cache goes out whole:
/// its cached text is sent from the cache entry as its own piece, the
/// `Content-Length` is the body's length, and the body is byte for byte
/// what the same query computed afresh gets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_cached_panel_is_sent_whole() {
    let dir = tempfile::tempdir().unwrap();
    let s = server_with(dir.path(), |_| {}).await;
    let (t0, n) = (1_700_000_000_000i64, 3_000i64);
    let ts: Vec<i64> = (0..n).map(|i| t0 + i * 15_000).collect();
    let w = ingest_client(&s)
        .await
        .write(v1::WriteRequest {
            series: vec![v1::SeriesSamples {
                labels: vec![label("__name__", "temperature"), label("room", "a")],
                kind: v1::SeriesKind::Gauge as i32,
                timestamps: ts.clone(),
                values: (0..n).map(|i| (i as f64).sin() * 20.0 + 0.1).collect(),
            }],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(w.accepted, n as u64, "{w:?}");
    s.state.engine.flush(true).unwrap();
    let ask = |query: &'static str| {
        let body: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("query", query),
                ("start", &secs(t0)),
                ("end", &secs(ts[ts.len() - 1])),
                ("step", "15"),
            ])
            .finish();
        let url = format!("http://{}/api/v1/query_range", s.http_addr);
        async move {
            let r = reqwest::Client::new()
                .post(url)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            let length: usize = r.headers()["content-length"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            let body = r.bytes().await.unwrap();
            assert_eq!(length, body.len());
            body
        }
    };
    let q = "temperature * 2";
    let first = ask(q).await;
    let hit = ask(q).await;
    assert_eq!(
        metric(&s, "nines_query_range_cache_hits_total").await,
        1.0,
        "the repeat came from the cache"
    );
    assert!(hit.len() > 100_000, "{} bytes", hit.len());
    assert_eq!(hit, first);
    assert_eq!(hit, ask("temperature * 2 ").await, "a fresh evaluation");
    let v: Value = serde_json::from_slice(&hit).unwrap();
    let points = v["data"]["result"][0]["values"].as_array().unwrap();
    assert_eq!(points.len(), n as usize);
    assert_eq!(num(&points[7]), (7f64.sin() * 20.0 + 0.1) * 2.0);
    s.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_errors_carry_prometheus_types_and_statuses() {
    let dir = tempfile::tempdir().unwrap();
    let s = server_with(dir.path(), |c| c.limits.query_concurrency = 1).await;
    let t0 = load_dataset(&s).await;
    let (start, end) = (secs(t0), secs(t0 + 600_000));
    let range = |q: &'static str, start: String, end: String, step: &'static str| {
        let s = &s;
        async move {
            post_form(
                s,
                "/api/v1/query_range",
                &[
                    ("query", q),
                    ("start", &start),
                    ("end", &end),
                    ("step", step),
                ],
            )
            .await
        }
    };
    let check = |(st, v): (u16, Value), want_st: u16, ty: &str, words: &str| {
        assert_eq!(st, want_st, "{v}");
        assert_eq!(v["status"], "error", "{v}");
        assert_eq!(v["errorType"], ty, "{v}");
        let msg = v["error"].as_str().unwrap();
        assert!(msg.contains(words), "{msg:?} lacks {words:?}");
    };

    check(
        post_form(&s, "/api/v1/query", &[("query", "sum(")]).await,
        400,
        "bad_data",
        "invalid parameter \"query\": 1:5: parse error",
    );
    check(
        post_form(&s, "/api/v1/query", &[("query", "")]).await,
        400,
        "bad_data",
        "",
    );
    check(
        post_form(
            &s,
            "/api/v1/query",
            &[("query", "up"), ("time", "yesterday")],
        )
        .await,
        400,
        "bad_data",
        "invalid parameter \"time\"",
    );
    check(
        post_form(&s, "/api/v1/query", &[("query", "up"), ("timeout", "soon")]).await,
        400,
        "bad_data",
        "invalid parameter \"timeout\"",
    );
    check(
        range("up", start.clone(), end.clone(), "0").await,
        400,
        "bad_data",
        "zero or negative",
    );
    check(
        range("up", start.clone(), end.clone(), "-15").await,
        400,
        "bad_data",
        "zero or negative",
    );
    check(
        range("up", start.clone(), end.clone(), "abc").await,
        400,
        "bad_data",
        "invalid parameter \"step\"",
    );
    check(
        range("up", "0".into(), "100000".into(), "1").await,
        400,
        "bad_data",
        "11,000 points",
    );
    check(
        range("up", end.clone(), start.clone(), "15").await,
        400,
        "bad_data",
        "end timestamp must not be before start time",
    );
    check(
        range("up", "x".into(), end.clone(), "15").await,
        400,
        "bad_data",
        "invalid parameter \"start\"",
    );
    check(
        range("temperature[5m]", start.clone(), end.clone(), "15").await,
        400,
        "bad_data",
        "invalid parameter \"query\": invalid expression type \"range vector\" for range query",
    );
    // many-to-many matching: valid syntax, not evaluable on this data
    check(
        post_form(
            &s,
            "/api/v1/query",
            &[
                ("query", "http_requests_total + on() http_requests_total"),
                ("time", &end),
            ],
        )
        .await,
        422,
        "execution",
        "",
    );
    // a query that outlives its timeout
    check(
        post_form(
            &s,
            "/api/v1/query",
            &[("query", SLOW), ("time", &end), ("timeout", "1ms")],
        )
        .await,
        503,
        "timeout",
        "timed out",
    );

    // every query slot busy for longer than the query's timeout: 503 too
    let held = s
        .state
        .query_slot(Duration::from_secs(5))
        .await
        .expect("the only slot");
    check(
        post_form(&s, "/api/v1/query", &[("query", "1"), ("timeout", "0.1")]).await,
        503,
        "timeout",
        "query slots",
    );
    let e = query_client(&s)
        .await
        .instant(v1::InstantRequest {
            query: "1".into(),
            time_ms: None,
            timeout_ms: 100,
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::ResourceExhausted, "{e}");
    drop(held);
    let (st, _) = post_form(&s, "/api/v1/query", &[("query", "1"), ("timeout", "5s")]).await;
    assert_eq!(st, 200);
    s.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_instant_and_range_return_typed_results_and_status_codes() {
    let dir = tempfile::tempdir().unwrap();
    let s = server_with(dir.path(), |_| {}).await;
    let t0 = load_dataset(&s).await;
    let t_last = t0 + (POINTS - 1) * 15_000;
    let mut c = query_client(&s).await;
    use v1::query_response::Result as R;

    let r = c
        .instant(v1::InstantRequest {
            query: "sum by (code) (rate(http_requests_total[5m]))".into(),
            time_ms: Some(t_last),
            timeout_ms: 0,
        })
        .await
        .unwrap()
        .into_inner();
    let Some(R::Vector(vec)) = r.result else {
        panic!("not a vector: {r:?}")
    };
    assert_eq!(vec.samples.len(), 2);
    let mut by_code: Vec<(String, f64)> = vec
        .samples
        .iter()
        .map(|s| (s.labels[0].value.clone(), s.value))
        .collect();
    by_code.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(by_code[0].0, "200");
    assert!((by_code[0].1 - 10.0 / 15.0).abs() < 1e-9, "{by_code:?}");
    assert!((by_code[1].1 - 1.0 / 15.0).abs() < 1e-9, "{by_code:?}");
    assert!(vec.samples.iter().all(|s| s.time_ms == t_last));

    let r = c
        .instant(v1::InstantRequest {
            query: "2 * 3".into(),
            time_ms: Some(t0),
            timeout_ms: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        r.result,
        Some(R::Scalar(v1::ScalarResult {
            time_ms: t0,
            value: 6.0
        }))
    );

    let r = c
        .range(v1::RangeRequest {
            query: "temperature".into(),
            start_ms: t0,
            end_ms: t0 + 600_000,
            step_ms: 60_000,
            timeout_ms: 10_000,
        })
        .await
        .unwrap()
        .into_inner();
    let Some(R::Matrix(m)) = r.result else {
        panic!("not a matrix: {r:?}")
    };
    assert_eq!(m.series.len(), 1);
    let want: Vec<i64> = (0..=10).map(|i| t0 + i * 60_000).collect();
    assert_eq!(m.series[0].timestamps_ms, want);
    assert_eq!(m.series[0].values, vec![21.5; 11]);

    let code = |r: Result<tonic::Response<v1::QueryResponse>, tonic::Status>| r.unwrap_err().code();
    let bad_range = |q: &str, step_ms: i64| v1::RangeRequest {
        query: q.into(),
        start_ms: t0,
        end_ms: t0 + 600_000,
        step_ms,
        timeout_ms: 0,
    };
    assert_eq!(
        code(
            c.instant(v1::InstantRequest {
                query: "sum(".into(),
                time_ms: None,
                timeout_ms: 0
            })
            .await
        ),
        tonic::Code::InvalidArgument
    );
    assert_eq!(
        code(c.range(bad_range("up", 0)).await),
        tonic::Code::InvalidArgument
    );
    assert_eq!(
        code(c.range(bad_range("up", 1)).await),
        tonic::Code::InvalidArgument
    );
    assert_eq!(
        code(
            c.instant(v1::InstantRequest {
                query: SLOW.into(),
                time_ms: Some(t_last),
                timeout_ms: 1
            })
            .await
        ),
        tonic::Code::DeadlineExceeded
    );
    s.shutdown().await.unwrap();
}
