//! `nines query --url`: the same JSON as the offline form, exit 1 on a
//! query error, exit 2 when the server cannot be reached.

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};

use nines_proto::v1;

fn nines(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nines"))
        .args(args)
        .env_remove("NINES_DATA_DIR")
        .output()
        .expect("run nines")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_url_prints_what_the_offline_query_prints() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap().to_string();
    let mut child = Command::new(env!("CARGO_BIN_EXE_nines"))
        .args([
            "serve",
            "--http-listen",
            "127.0.0.1:0",
            "--grpc-listen",
            "127.0.0.1:0",
        ])
        .args(["--data-dir", &data])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (mut http, mut grpc) = (String::new(), String::new());
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if let Some(a) = line.strip_prefix("http: ") {
            http = a.into();
        } else if let Some(a) = line.strip_prefix("grpc: ") {
            grpc = a.into();
        } else if line.starts_with("data: ") {
            break;
        }
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let t0 = now - now % 60_000 - 30 * 60_000;
    let ts: Vec<i64> = (0..40).map(|i| t0 + i * 15_000).collect();
    let series = |job: &str, step: f64| v1::SeriesSamples {
        labels: vec![
            v1::Label {
                name: "__name__".into(),
                value: "jobs_total".into(),
            },
            v1::Label {
                name: "job".into(),
                value: job.into(),
            },
        ],
        kind: v1::SeriesKind::Counter as i32,
        timestamps: ts.clone(),
        values: (0..40).map(|i| i as f64 * step).collect(),
    };
    v1::ingest_client::IngestClient::connect(grpc)
        .await
        .unwrap()
        .write(v1::WriteRequest {
            series: vec![series("a", 3.0), series("b", 0.5)],
            ..Default::default()
        })
        .await
        .unwrap();

    let t = format!("{}", (t0 + 39 * 15_000) / 1000);
    let (start, end) = (format!("{}", t0 / 1000), t.clone());
    let instant: &[&str] = &["query", "sum by (job) (rate(jobs_total[5m]))", "--time", &t];
    let range: &[&str] = &[
        "query",
        "jobs_total",
        "--start",
        &start,
        "--end",
        &end,
        "--step",
        "1m",
    ];
    let bad: &[&str] = &["query", "rate(jobs_total)"];
    let mut remote = Vec::new();
    for args in [instant, range, bad] {
        let mut a = args.to_vec();
        a.extend(["--url", &http]);
        remote.push(nines(&a));
    }
    // the server stops (SIGTERM: a graceful shutdown) before the offline runs
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    assert!(child.wait().unwrap().success());
    for (args, r) in [instant, range].into_iter().zip(&remote) {
        assert!(r.status.success(), "{r:?}");
        let mut a = args.to_vec();
        a.extend(["--data-dir", &data]);
        let offline = nines(&a);
        assert!(offline.status.success(), "{offline:?}");
        assert_eq!(stdout(r), stdout(&offline), "{args:?}");
        let v: serde_json::Value = serde_json::from_str(&stdout(r)).unwrap();
        assert_eq!(v["status"], "success");
        assert_eq!(v["data"]["result"].as_array().unwrap().len(), 2, "{v}");
    }
    let r = &remote[2];
    assert_eq!(r.status.code(), Some(1), "{r:?}");
    let v: serde_json::Value = serde_json::from_str(&stdout(r)).unwrap();
    assert_eq!(v["errorType"], "bad_data");

    // nothing listens there any more (a data directory in the environment
    // does not stand in the way of --url)
    let r = Command::new(env!("CARGO_BIN_EXE_nines"))
        .args(["query", "1", "--url", &http])
        .env("NINES_DATA_DIR", &data)
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(2), "{r:?}");
    assert!(
        String::from_utf8_lossy(&r.stderr).contains("cannot reach"),
        "{r:?}"
    );
}
