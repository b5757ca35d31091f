//! Authentication, roles, tenants and TLS against the real server on
//! loopback: every HTTP endpoint and every gRPC service refuses a missing
//! token (401 / UNAUTHENTICATED) and a wrong role (403 /
//! PERMISSION_DENIED); tenant tokens only ever see their own series;
//! refusals reach the audit trail; a server beyond loopback without tokens
//! does not start; TLS with a certificate made here, with and without
//! client certificates.

use std::time::Duration;

use nines_proto::prometheus as pw;
use nines_proto::v1;
use nines_server::auth::{hash_secret, AuthConfig, Role, TokenConfig};
use nines_server::{start, Config, RunningServer};
use prost::Message;
use serde_json::Value;
use tonic::metadata::MetadataValue;

const ADMIN: &str = "t-admin";
const READER: &str = "t-reader";
const WRITER: &str = "t-writer";
const A_WRITER: &str = "t-a-writer";
const A_READER: &str = "t-a-reader";
const B_WRITER: &str = "t-b-writer";

fn tokens() -> AuthConfig {
    let t = |name: &str, role, tenant: Option<&str>| TokenConfig {
        name: name.trim_start_matches("t-").into(),
        role,
        sha256: hash_secret(name),
        tenant: tenant.map(Into::into),
    };
    AuthConfig {
        tokens: vec![
            t(ADMIN, Role::Admin, None),
            t(READER, Role::Reader, None),
            t(WRITER, Role::Writer, None),
            t(A_WRITER, Role::Writer, Some("a")),
            t(A_READER, Role::Reader, Some("a")),
            t(B_WRITER, Role::Writer, Some("b")),
        ],
    }
}

async fn server(dir: &std::path::Path, tweak: impl FnOnce(&mut Config)) -> RunningServer {
    let mut cfg = Config {
        data_dir: dir.to_path_buf(),
        http_listen: "127.0.0.1:0".parse().unwrap(),
        grpc_listen: "127.0.0.1:0".parse().unwrap(),
        auth: tokens(),
        ..Config::default()
    };
    tweak(&mut cfg);
    start(cfg).await.expect("server starts")
}

/// One HTTP request with an optional token: (status, body).
async fn call(
    s: &RunningServer,
    method: &str,
    path: &str,
    body: &str,
    token: Option<&str>,
) -> (u16, String) {
    let c = reqwest::Client::new();
    let url = format!("http://{}{path}", s.http_addr);
    let mut r = match method {
        "GET" => c.get(&url),
        "DELETE" => c.delete(&url),
        _ => c.post(&url),
    };
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    let ct = if path.starts_with("/api/v1/slos") && method == "POST" {
        "application/yaml"
    } else if path.starts_with("/api/v1/exclusions") || path.starts_with("/api/v1/annotations") {
        "application/json"
    } else {
        "application/x-www-form-urlencoded"
    };
    let resp = r
        .header("Content-Type", ct)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

/// One remote-write series: labels, one sample's time and value.
type RwSeries<'a> = (&'a [(&'a str, &'a str)], i64, f64);

fn rw_body(series: &[RwSeries<'_>]) -> Vec<u8> {
    let req = pw::WriteRequest {
        timeseries: series
            .iter()
            .map(|(labels, t, v)| pw::TimeSeries {
                labels: labels
                    .iter()
                    .map(|(n, v)| pw::Label {
                        name: n.to_string(),
                        value: v.to_string(),
                    })
                    .collect(),
                samples: vec![pw::Sample {
                    value: *v,
                    timestamp: *t,
                }],
                exemplars: vec![],
            })
            .collect(),
        metadata: vec![],
    };
    snap::raw::Encoder::new()
        .compress_vec(&req.encode_to_vec())
        .unwrap()
}

async fn remote_write(s: &RunningServer, body: Vec<u8>, token: Option<&str>) -> u16 {
    let mut r = reqwest::Client::new()
        .post(format!("http://{}/api/v1/write", s.http_addr))
        .header("Content-Encoding", "snappy")
        .header("Content-Type", "application/x-protobuf")
        .body(body);
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    r.send().await.unwrap().status().as_u16()
}

fn with_token<T>(msg: T, token: Option<&str>) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    if let Some(t) = token {
        let v: MetadataValue<_> = format!("Bearer {t}").parse().unwrap();
        r.metadata_mut().insert("authorization", v);
    }
    r
}

fn code<T>(r: Result<T, tonic::Status>) -> tonic::Code {
    r.map(|_| tonic::Code::Ok).unwrap_or_else(|e| e.code())
}

const SLO: &str = r#"apiVersion: openslo/v1
kind: SLO
metadata:
  name: web
spec:
  service: web
  indicator:
    spec:
      ratioMetric:
        counter: true
        bad:
          metricSource:
            spec:
              query: req_total{code="500"}
        total:
          metricSource:
            spec:
              query: req_total
  timeWindow:
    - duration: 28d
      isRolling: true
  budgetingMethod: Occurrences
  objectives:
    - target: 0.99
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_checks_the_token_and_the_role() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path(), |_| {}).await;
    let now = nines_server::http::now_ms();
    let t = format!("{}", now / 1000);
    let excl = format!(
        r#"{{"slos":["web"],"start":"{}","end":"{}","reason":"drill","author":"ops"}}"#,
        now / 1000 - 3600,
        now / 1000 - 1800
    );
    let ann = format!(r#"{{"kind":"deploy","service":"web","version":"v1","at":{t}}}"#);
    let rw = String::new();
    // (method, path, body, the role it needs)
    let routes: Vec<(&str, String, String, Role)> = vec![
        (
            "POST",
            "/api/v1/query".into(),
            format!("query=vector(1)&time={t}"),
            Role::Reader,
        ),
        (
            "GET",
            format!("/api/v1/query?query=up&time={t}"),
            String::new(),
            Role::Reader,
        ),
        (
            "POST",
            "/api/v1/query_range".into(),
            format!("query=up&start={}&end={t}&step=60", now / 1000 - 600),
            Role::Reader,
        ),
        (
            "POST",
            "/api/v1/format_query".into(),
            "query=up".into(),
            Role::Reader,
        ),
        ("GET", "/api/v1/labels".into(), String::new(), Role::Reader),
        (
            "GET",
            "/api/v1/label/job/values".into(),
            String::new(),
            Role::Reader,
        ),
        (
            "GET",
            "/api/v1/series?match[]=up".into(),
            String::new(),
            Role::Reader,
        ),
        (
            "GET",
            "/api/v1/metadata".into(),
            String::new(),
            Role::Reader,
        ),
        (
            "GET",
            "/api/v1/status/buildinfo".into(),
            String::new(),
            Role::Reader,
        ),
        (
            "GET",
            "/api/v1/query_exemplars?query=up".into(),
            String::new(),
            Role::Reader,
        ),
        ("GET", "/metrics".into(), String::new(), Role::Reader),
        ("POST", "/api/v1/write".into(), rw, Role::Writer),
        ("POST", "/api/v1/annotations".into(), ann, Role::Writer),
        (
            "GET",
            "/api/v1/annotations".into(),
            String::new(),
            Role::Reader,
        ),
        ("POST", "/api/v1/slos".into(), SLO.into(), Role::Admin),
        ("GET", "/api/v1/slos".into(), String::new(), Role::Reader),
        (
            "GET",
            "/api/v1/slos/web".into(),
            String::new(),
            Role::Reader,
        ),
        (
            "GET",
            "/api/v1/slos/web/history".into(),
            String::new(),
            Role::Reader,
        ),
        ("POST", "/api/v1/exclusions".into(), excl, Role::Admin),
        (
            "GET",
            "/api/v1/exclusions".into(),
            String::new(),
            Role::Reader,
        ),
        (
            "DELETE",
            "/api/v1/exclusions/1".into(),
            String::new(),
            Role::Admin,
        ),
        (
            "POST",
            "/api/v1/gate".into(),
            "slo=web".into(),
            Role::Reader,
        ),
        (
            "POST",
            "/api/v1/gate".into(),
            "slo=web&override=true&reason=hotfix&approver=dana".into(),
            Role::Admin,
        ),
        (
            "GET",
            "/api/v1/incidents?slo=web".into(),
            String::new(),
            Role::Reader,
        ),
        ("GET", "/api/v1/alerts".into(), String::new(), Role::Reader),
        ("GET", "/api/v1/rules".into(), String::new(), Role::Reader),
        ("GET", "/api/v1/audit".into(), String::new(), Role::Reader),
        (
            "GET",
            "/api/v1/report?slo=web&period=month&from=2026-01&to=2026-02".into(),
            String::new(),
            Role::Reader,
        ),
        ("GET", "/api/v1/locks".into(), String::new(), Role::Reader),
        (
            "POST",
            "/api/v1/locks".into(),
            format!(
                "resolution=1d&keep=7y&until={}&reason=audit",
                now / 1000 + 86_400
            ),
            Role::Admin,
        ),
        ("POST", "/api/v1/verify".into(), String::new(), Role::Admin),
        (
            "DELETE",
            "/api/v1/slos/web".into(),
            String::new(),
            Role::Admin,
        ),
    ];
    for (method, path, body, need) in &routes {
        let what = format!("{method} {path}");
        let (st, text) = call(&s, method, path, body, None).await;
        assert_eq!(st, 401, "{what} without a token: {text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["errorType"], "unauthorized", "{what}");
        let (st, _) = call(&s, method, path, body, Some("not-a-token")).await;
        assert_eq!(st, 401, "{what} with an unknown token");
        for (tok, role) in [(READER, Role::Reader), (WRITER, Role::Writer)] {
            if role != *need {
                let (st, text) = call(&s, method, path, body, Some(tok)).await;
                assert_eq!(st, 403, "{what} as {role:?}: {text}");
                assert!(text.contains("needs"), "{what}: {text}");
            }
        }
        // the right role (or admin) gets past authorization
        let tok = match need {
            Role::Reader => READER,
            Role::Writer => WRITER,
            Role::Admin => ADMIN,
        };
        let (st, text) = call(&s, method, path, body, Some(tok)).await;
        assert!(
            ![401, 403].contains(&st),
            "{what} as {need:?} is refused: {st} {text}"
        );
        // admin may do everything
        let (st, text) = call(&s, method, path, body, Some(ADMIN)).await;
        assert!(![401, 403].contains(&st), "{what} as admin: {st} {text}");
    }
    // probes stay open
    assert_eq!(call(&s, "GET", "/-/healthy", "", None).await.0, 200);
    assert_eq!(call(&s, "GET", "/-/ready", "", None).await.0, 200);

    // gRPC: every service
    let ch = tonic::transport::Channel::from_shared(format!("http://{}", s.grpc_addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut ingest = v1::ingest_client::IngestClient::new(ch.clone());
    let mut query = v1::query_client::QueryClient::new(ch.clone());
    let mut slos = v1::slos_client::SlosClient::new(ch.clone());
    let mut ann = v1::annotations_client::AnnotationsClient::new(ch.clone());
    let write = || v1::WriteRequest {
        series: vec![v1::SeriesSamples {
            labels: vec![v1::Label {
                name: "__name__".into(),
                value: "g_total".into(),
            }],
            kind: v1::SeriesKind::Counter as i32,
            timestamps: vec![now],
            values: vec![1.0],
        }],
        ..Default::default()
    };
    use tonic::Code;
    for (tok, want) in [
        (None, Code::Unauthenticated),
        (Some("nope"), Code::Unauthenticated),
        (Some(READER), Code::PermissionDenied),
        (Some(WRITER), Code::Ok),
    ] {
        assert_eq!(
            code(ingest.write(with_token(write(), tok)).await),
            want,
            "Ingest.Write {tok:?}"
        );
        let stream = tokio_stream::iter(vec![write()]);
        assert_eq!(
            code(ingest.write_stream(with_token(stream, tok)).await),
            want,
            "Ingest.WriteStream {tok:?}"
        );
    }
    let instant = || v1::InstantRequest {
        query: "vector(1)".into(),
        ..Default::default()
    };
    for (tok, want) in [
        (None, Code::Unauthenticated),
        (Some(WRITER), Code::PermissionDenied),
        (Some(READER), Code::Ok),
    ] {
        assert_eq!(
            code(query.instant(with_token(instant(), tok)).await),
            want,
            "Query.Instant {tok:?}"
        );
        let req = v1::LabelNamesRequest::default();
        assert_eq!(
            code(query.label_names(with_token(req, tok)).await),
            want,
            "Query.LabelNames"
        );
    }
    let apply = || v1::ApplySlosRequest {
        yaml: SLO.into(),
        file: "web.yaml".into(),
        ..Default::default()
    };
    for (tok, want) in [
        (None, Code::Unauthenticated),
        (Some(READER), Code::PermissionDenied),
        (Some(WRITER), Code::PermissionDenied),
        (Some(ADMIN), Code::Ok),
    ] {
        assert_eq!(
            code(slos.apply(with_token(apply(), tok)).await),
            want,
            "Slos.Apply {tok:?}"
        );
    }
    assert_eq!(
        code(
            slos.list(with_token(v1::ListSlosRequest::default(), Some(READER)))
                .await
        ),
        Code::Ok
    );
    let a = || v1::Annotation {
        kind: "deploy".into(),
        service: "web".into(),
        version: "v2".into(),
        ..Default::default()
    };
    for (tok, want) in [
        (None, Code::Unauthenticated),
        (Some(READER), Code::PermissionDenied),
        (Some(WRITER), Code::Ok),
        (Some(A_WRITER), Code::PermissionDenied),
    ] {
        assert_eq!(
            code(ann.annotate(with_token(a(), tok)).await),
            want,
            "Annotations.Annotate {tok:?}"
        );
    }

    let mut reports = v1::reports_client::ReportsClient::new(ch.clone());
    let rr = || v1::ReportRequest {
        slo: "web".into(),
        period: "month".into(),
        from: "2026-01".into(),
        to: "2026-02".into(),
        ..Default::default()
    };
    for (tok, want) in [
        (None, Code::Unauthenticated),
        (Some(WRITER), Code::PermissionDenied),
        (Some(READER), Code::Ok),
    ] {
        assert_eq!(
            code(reports.report(with_token(rr(), tok)).await),
            want,
            "Reports.Report {tok:?}"
        );
    }

    // refusals are audited (rate limited, so at least some) and counted
    let (st, text) = call(
        &s,
        "GET",
        "/api/v1/audit?kind=auth_failure,permission_denied",
        "",
        Some(READER),
    )
    .await;
    assert_eq!(st, 200);
    let v: Value = serde_json::from_str(&text).unwrap();
    assert!(v["data"]["entries"].as_array().unwrap().len() >= 10, "{v}");
    let (_, metrics) = call(&s, "GET", "/metrics", "", Some(READER)).await;
    assert!(
        metrics.contains("nines_auth_refusals_total{reason=\"auth_failure\"}"),
        "{metrics}"
    );
    s.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_only_see_their_own_series() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path(), |_| {}).await;
    let now = nines_server::http::now_ms() / 1000 * 1000;
    // both tenants write the same series; a sends tenant="b" itself, which
    // is replaced
    let body = |v: f64, own: &str| {
        rw_body(&[
            (&[("__name__", "up"), ("job", "api")], now, v),
            (
                &[("__name__", "up"), ("job", "db"), ("tenant", own)],
                now,
                v,
            ),
        ])
    };
    assert_eq!(remote_write(&s, body(1.0, "b"), Some(A_WRITER)).await, 204);
    assert_eq!(remote_write(&s, body(2.0, "b"), Some(B_WRITER)).await, 204);
    // gRPC writes are scoped the same way
    let ch = tonic::transport::Channel::from_shared(format!("http://{}", s.grpc_addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut ingest = v1::ingest_client::IngestClient::new(ch.clone());
    let req = v1::WriteRequest {
        series: vec![v1::SeriesSamples {
            labels: vec![
                v1::Label {
                    name: "__name__".into(),
                    value: "up".into(),
                },
                v1::Label {
                    name: "job".into(),
                    value: "grpc".into(),
                },
            ],
            kind: v1::SeriesKind::Gauge as i32,
            timestamps: vec![now],
            values: vec![3.0],
        }],
        ..Default::default()
    };
    // An untenanted writer sends the same bytes first: the server's series
    // cache then knows them, and must not hand tenant a that series.
    let mut untenanted = req.clone();
    untenanted.series[0].values = vec![7.0];
    ingest
        .write(with_token(untenanted, Some(WRITER)))
        .await
        .unwrap();
    let r = ingest.write(with_token(req, Some(A_WRITER))).await.unwrap();
    assert_eq!(r.into_inner().accepted, 1);

    let q = |query: &str| format!("query={}&time={}", urlenc(query), now / 1000);
    let result = |text: &str| -> Vec<(String, String, String)> {
        let v: Value = serde_json::from_str(text).unwrap();
        let mut out: Vec<_> = v["data"]["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["metric"]["job"].as_str().unwrap_or("").to_string(),
                    r["metric"]["tenant"].as_str().unwrap_or("").to_string(),
                    r["value"][1].as_str().unwrap().to_string(),
                )
            })
            .collect();
        out.sort();
        out
    };
    let (st, text) = call(&s, "POST", "/api/v1/query", &q("up"), Some(A_READER)).await;
    assert_eq!(st, 200, "{text}");
    assert_eq!(
        result(&text),
        [
            ("api".into(), "a".into(), "1".into()),
            ("db".into(), "a".into(), "1".into()),
            ("grpc".into(), "a".into(), "3".into())
        ]
    );
    // asking for b's series explicitly gets nothing of b's
    let (_, text) = call(
        &s,
        "POST",
        "/api/v1/query",
        &q(r#"up{tenant="b"} or sum(up) by (tenant)"#),
        Some(A_READER),
    )
    .await;
    for (_, tenant, _) in result(&text) {
        assert_ne!(tenant, "b", "{text}");
    }
    // an untenanted reader sees both
    let (_, text) = call(
        &s,
        "POST",
        "/api/v1/query",
        &q("sum by (tenant) (up)"),
        Some(READER),
    )
    .await;
    // (a, b and the untenanted gRPC series)
    assert_eq!(result(&text).len(), 3, "{text}");
    // metadata APIs are scoped too
    let (_, text) = call(&s, "GET", "/api/v1/label/tenant/values", "", Some(A_READER)).await;
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["data"], serde_json::json!(["a"]), "{text}");
    let (_, text) = call(&s, "GET", "/api/v1/series?match[]=up", "", Some(A_READER)).await;
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["data"].as_array().unwrap().len(), 3, "{text}");
    // gRPC queries too
    let mut query = v1::query_client::QueryClient::new(ch);
    let r = query
        .instant(with_token(
            v1::InstantRequest {
                query: "count(up)".into(),
                time_ms: Some(now),
                ..Default::default()
            },
            Some(A_READER),
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(format!("{r:?}").contains("value: 3.0"), "{r:?}");
    // stored SLO operators and the SLO catalogue span tenants: refused
    let (st, text) = call(
        &s,
        "POST",
        "/api/v1/query",
        &q(r#"slo_burn_rate("web", 1h)"#),
        Some(A_READER),
    )
    .await;
    assert_eq!(st, 403, "{text}");
    let (st, _) = call(&s, "GET", "/api/v1/slos", "", Some(A_READER)).await;
    assert_eq!(st, 403);
    s.shutdown().await.unwrap();
}

fn urlenc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn beyond_loopback_without_tokens_needs_insecure() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = Config {
        data_dir: dir.path().to_path_buf(),
        http_listen: "0.0.0.0:0".parse().unwrap(),
        grpc_listen: "127.0.0.1:0".parse().unwrap(),
        ..Config::default()
    };
    let err = start(cfg.clone()).await.err().expect("refused");
    let msg = err.to_string();
    assert!(
        msg.contains("http_listen = 0.0.0.0:0 is not a loopback address"),
        "{msg}"
    );
    assert!(msg.contains("--insecure"), "{msg}");
    let s = start(Config {
        insecure: true,
        ..cfg.clone()
    })
    .await
    .expect("starts with insecure");
    s.shutdown().await.unwrap();
    let s = start(Config {
        auth: tokens(),
        ..cfg
    })
    .await
    .expect("starts with tokens");
    s.shutdown().await.unwrap();
}

struct Pki {
    ca_pem: String,
    server_cert: String,
    server_key: String,
    client_cert: String,
    client_key: String,
}

fn pki() -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "nines test CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let leaf = |names: Vec<String>| {
        let key = KeyPair::generate().unwrap();
        let params = CertificateParams::new(names).unwrap();
        let cert = params.signed_by(&key, &ca_cert, &ca_key).unwrap();
        (cert.pem(), key.serialize_pem())
    };
    let (server_cert, server_key) = leaf(vec!["localhost".into(), "127.0.0.1".into()]);
    let (client_cert, client_key) = leaf(vec!["client.nines.test".into()]);
    Pki {
        ca_pem: ca_cert.pem(),
        server_cert,
        server_key,
        client_cert,
        client_key,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_end_to_end_with_and_without_client_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let p = pki();
    let w = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let (ca, cert, key) = (
        w("ca.pem", &p.ca_pem),
        w("server.pem", &p.server_cert),
        w("server.key", &p.server_key),
    );
    let data = dir.path().join("data");
    for require_client in [false, true] {
        let s = server(&data, |c| {
            c.tls.cert_file = Some(cert.clone());
            c.tls.key_file = Some(key.clone());
            if require_client {
                c.tls.client_ca_file = Some(ca.clone());
            }
        })
        .await;
        let builder = || {
            let root = reqwest::Certificate::from_pem(p.ca_pem.as_bytes()).unwrap();
            reqwest::Client::builder()
                .use_rustls_tls()
                .add_root_certificate(root)
                .timeout(Duration::from_secs(10))
        };
        let plain = builder().build().unwrap();
        let mut b = builder();
        if require_client {
            let pem = format!("{}\n{}", p.client_cert, p.client_key);
            b = b.identity(reqwest::Identity::from_pem(pem.as_bytes()).unwrap());
        }
        let c = b.build().unwrap();
        let url = format!("https://localhost:{}/api/v1/query", s.http_addr.port());
        let r = c
            .post(&url)
            .bearer_auth(READER)
            .form(&[("query", "vector(7)")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        assert!(r.text().await.unwrap().contains("\"7\""));
        // plain HTTP to the TLS port gets nowhere
        let r = reqwest::Client::new()
            .post(format!("http://{}/api/v1/query", s.http_addr))
            .bearer_auth(READER)
            .form(&[("query", "vector(7)")])
            .timeout(Duration::from_secs(5))
            .send()
            .await;
        assert!(r.map(|r| r.status().as_u16() != 200).unwrap_or(true));
        if require_client {
            // no client certificate: the handshake fails
            assert!(plain.post(&url).bearer_auth(READER).send().await.is_err());
        }

        // gRPC over TLS
        let mut tls = tonic::transport::ClientTlsConfig::new()
            .ca_certificate(tonic::transport::Certificate::from_pem(&p.ca_pem))
            .domain_name("localhost");
        if require_client {
            tls = tls.identity(tonic::transport::Identity::from_pem(
                &p.client_cert,
                &p.client_key,
            ));
        }
        let ch = tonic::transport::Channel::from_shared(format!(
            "https://localhost:{}",
            s.grpc_addr.port()
        ))
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect()
        .await
        .unwrap();
        let mut q = v1::query_client::QueryClient::new(ch);
        let r = q
            .instant(with_token(
                v1::InstantRequest {
                    query: "vector(8)".into(),
                    ..Default::default()
                },
                Some(READER),
            ))
            .await
            .unwrap();
        assert!(format!("{:?}", r.into_inner()).contains("8.0"));
        s.shutdown().await.unwrap();
    }
}

/// A tenant's write session: numbered series stay the tenant's in every
/// batch (the stream's table holds labels as sent; the tenant label is
/// set on each batch), and no untenanted series appears; a session with
/// no token is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenants_write_session_stays_in_the_tenant() {
    use nines_engine::{Labels, SeriesBatch, SeriesKind};
    use nines_server::ingest::{compact_request_numbered, SeriesNumbers};
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path(), |_| {}).await;
    let now = nines_server::http::now_ms() / 1000 * 1000;
    let ch = tonic::transport::Channel::from_shared(format!("http://{}", s.grpc_addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut ingest = v1::ingest_client::IngestClient::new(ch);
    let mut numbers = SeriesNumbers::default();
    let batches: Vec<v1::WriteRequest> = (0..3)
        .map(|i| {
            let b = [SeriesBatch {
                labels: Labels::from_pairs(&[("__name__", "up"), ("job", "session")]),
                kind: SeriesKind::Gauge,
                timestamps: vec![now - 3_000 + i * 1_000],
                values: vec![i as f64],
                resolved: None,
            }];
            compact_request_numbered(&b, Some(&mut numbers))
        })
        .collect();
    assert!(batches[2].compact[0].label_refs.is_empty());
    let stream = tonic::codegen::tokio_stream::iter(batches.clone());
    let mut answers = ingest
        .write_session(with_token(stream, Some(A_WRITER)))
        .await
        .unwrap()
        .into_inner();
    let mut accepted = 0;
    while let Some(a) = answers.message().await.unwrap() {
        accepted += a.accepted;
    }
    assert_eq!(accepted, 3);
    let refused = ingest
        .write_session(with_token(
            tonic::codegen::tokio_stream::iter(batches),
            None,
        ))
        .await;
    assert_eq!(code(refused), tonic::Code::Unauthenticated);
    // All three samples are tenant a's; the untenanted reader sees one
    // series, and it carries the tenant.
    let q = format!(
        "query={}&time={}",
        urlenc("count_over_time(up{job=\"session\"}[1m])"),
        now / 1000
    );
    let (st, text) = call(&s, "POST", "/api/v1/query", &q, Some(READER)).await;
    assert_eq!(st, 200, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    let r = v["data"]["result"].as_array().unwrap();
    assert_eq!(r.len(), 1, "{text}");
    assert_eq!(r[0]["metric"]["tenant"], "a", "{text}");
    assert_eq!(r[0]["value"][1], "3", "{text}");
    // Nor was an (empty) untenanted series created on the way, as
    // resolving the stream's labels as sent would: the head holds one.
    assert_eq!(s.state.engine.head().series_count(), 1);
}
