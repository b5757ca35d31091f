//! Deploy and incident annotations end to end: recorded with
//! `nines annotate` and over gRPC, read back as the `nines_annotation`
//! series through the Prometheus API (as Grafana's annotation query does),
//! listed by the CLI, kept across a kill -9.

#[path = "support/serve.rs"]
mod serve;

use nines_proto::v1;
use serve::{get_json, nines, now_ms, stderr, stdout, Serve};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploys_and_incidents_are_series_grafana_can_draw() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Serve::on(dir.path(), &[]);
    let at = now_ms() / 1000 * 1000 - 600_000;
    let at_s = format!("{}", at / 1000);
    let o = nines(&[
        "annotate",
        "deploy",
        "--url",
        &s.http,
        "--service",
        "checkout",
        "--version",
        "v1.4.2",
        "--env",
        "prod",
        "--commit",
        "9f3e2a1",
        "--id",
        "deploy-77",
        "--at",
        &at_s,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).starts_with("recorded nines_annotation{"),
        "{}",
        stdout(&o)
    );
    // the same deploy again changes nothing
    let o = nines(&[
        "annotate",
        "deploy",
        "--url",
        &s.http,
        "--service",
        "checkout",
        "--version",
        "v1.4.2",
        "--env",
        "prod",
        "--commit",
        "9f3e2a1",
        "--id",
        "deploy-77",
        "--at",
        &at_s,
    ]);
    assert!(o.status.success());
    assert!(
        stdout(&o).starts_with("already recorded:"),
        "{}",
        stdout(&o)
    );

    // an incident over gRPC
    let mut client = v1::annotations_client::AnnotationsClient::connect(s.grpc.clone())
        .await
        .unwrap();
    let r = client
        .annotate(v1::Annotation {
            kind: "incident".into(),
            service: "checkout".into(),
            id: "INC-12".into(),
            severity: "sev2".into(),
            at_ms: Some(at + 60_000),
            end_ms: Some(at + 300_000),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(r.created);
    let bad = client
        .annotate(v1::Annotation {
            kind: "deploy".into(),
            service: "checkout".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), tonic::Code::InvalidArgument);
    assert!(
        bad.message().contains("needs a version"),
        "{}",
        bad.message()
    );

    // Grafana's annotation query: the series with its labels
    let q = format!(
        "{}/api/v1/query?query=nines_annotation%7Bkind%3D%22deploy%22%7D&time={}",
        s.http,
        (at + 60_000) / 1000
    );
    let j = get_json(&q).await;
    let r = &j["data"]["result"][0];
    assert_eq!(r["metric"]["service"], "checkout");
    assert_eq!(r["metric"]["version"], "v1.4.2");
    assert_eq!(r["metric"]["commit"], "9f3e2a1");
    assert_eq!(r["value"][1], "1");

    // listed by the CLI, and the gRPC list agrees
    let o = nines(&[
        "annotate",
        "list",
        "--url",
        &s.http,
        "--service",
        "checkout",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let list: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2, "{list:?}");
    assert_eq!(list[0]["kind"], "deploy");
    assert_eq!(list[0]["at"], at);
    assert_eq!(list[1]["id"], "INC-12");
    assert_eq!(list[1]["end"], at + 300_000);
    let g = client
        .list(v1::ListAnnotationsRequest {
            kind: "incident".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(g.annotations.len(), 1);
    assert_eq!(g.annotations[0].severity, "sev2");

    // acknowledged annotations survive kill -9
    s.kill();
    let s = Serve::on(dir.path(), &[]);
    let o = nines(&["annotate", "list", "--url", &s.http, "--json"]);
    let again: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(again.as_array().unwrap().len(), 2);
}

#[test]
fn annotate_fails_clearly() {
    // refused by the server: exit 1 with its reason
    let s = Serve::start(&[]);
    let o = nines(&[
        "annotate",
        "incident",
        "--url",
        &s.http,
        "--service",
        "x",
        "--id",
        "I-1",
        "--at",
        "2000",
        "--end",
        "1000",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("must be after the start"),
        "{}",
        stderr(&o)
    );
    drop(s);
    // nobody listening: exit 2
    let o = nines(&[
        "annotate",
        "deploy",
        "--url",
        "http://127.0.0.1:9",
        "--service",
        "x",
        "--version",
        "1",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("cannot reach the server"),
        "{}",
        stderr(&o)
    );
}
