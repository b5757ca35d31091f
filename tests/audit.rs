//! The audit trail and tamper evidence, end to end: SLO, exclusion and gate
//! events made with the real CLI against the real server land in the
//! hash-chained audit log (`nines audit log`), survive a kill -9 without
//! duplicates, and `nines verify` names every kind of stored file when one
//! byte of it is flipped, and a segment when it is deleted.

#[path = "support/serve.rs"]
mod serve;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value as Json;
use serve::Serve;

const MIN: i64 = 60_000;
const NAME: &str = "api-avail";

fn nines(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nines"))
        .args(args)
        .env_remove("NINES_URL")
        .env_remove("NINES_AUTHOR")
        .env_remove("NINES_TOKEN")
        .output()
        .expect("run nines")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[track_caller]
fn ok(o: &Output) -> String {
    assert!(o.status.success(), "{}", text(o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Two counters over the last three days at one sample a minute, as JSON
/// lines for `nines import`.
fn input(path: &Path, now: i64) {
    let t0 = (now - 3 * 1440 * MIN) / MIN * MIN;
    let ts: Vec<i64> = (0..3 * 1440 - 60).map(|i| t0 + i * MIN).collect();
    let mut lines = String::new();
    for (code, per) in [("200", 100.0), ("500", 1.0)] {
        let vs: Vec<String> = (0..ts.len())
            .map(|i| format!("{}", i as f64 * per))
            .collect();
        lines.push_str(&format!(
            r#"{{"metric":{{"__name__":"req_total","job":"api","code":"{code}"}},"values":[{}],"timestamps":[{}],"kind":"counter"}}"#,
            vs.join(","),
            ts.iter().map(ToString::to_string).collect::<Vec<_>>().join(",")
        ));
        lines.push('\n');
    }
    std::fs::write(path, lines).unwrap();
}

const YAML: &str = r#"apiVersion: openslo/v1
kind: SLO
metadata:
  name: api-avail
spec:
  service: api
  indicator:
    spec:
      ratioMetric:
        counter: true
        bad:
          metricSource:
            spec:
              query: req_total{job="api", code="500"}
        total:
          metricSource:
            spec:
              query: req_total{job="api"}
  timeWindow:
    - duration: 28d
      isRolling: true
  budgetingMethod: Occurrences
  objectives:
    - target: 0.999
"#;

fn audit(url: &str, extra: &[&str]) -> Json {
    let mut args = vec!["audit", "log", "--url", url, "--json"];
    args.extend_from_slice(extra);
    serde_json::from_str(&ok(&nines(&args))).unwrap()
}

fn kinds(log: &Json) -> Vec<String> {
    log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect()
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

fn copy_dir(from: &Path, to: &Path) {
    for f in files_under(from) {
        let dst = to.join(f.strip_prefix(from).unwrap());
        std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
        std::fs::copy(&f, &dst).unwrap();
    }
}

#[test]
fn changes_are_audited_and_verify_names_every_damaged_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_s = data.to_str().unwrap();
    let now = jiff::Timestamp::now().as_millisecond();
    let jsonl = dir.path().join("in.jsonl");
    input(&jsonl, now);
    ok(&nines(&[
        "import",
        "--data-dir",
        data_s,
        jsonl.to_str().unwrap(),
    ]));
    ok(&nines(&["compact", "--data-dir", data_s]));
    let slo_file = dir.path().join("slo.yaml");
    std::fs::write(&slo_file, YAML).unwrap();

    let mut server = Serve::on(&data, &[]);
    let url = server.http.clone();
    let u = url.as_str();
    ok(&nines(&[
        "slo",
        "apply",
        "--url",
        u,
        "-f",
        slo_file.to_str().unwrap(),
        "--author",
        "ann",
    ]));
    let start = format!("{}", (now - 2 * 1440 * MIN) / 1000);
    let end = format!("{}", (now - 2 * 1440 * MIN + 30 * MIN) / 1000);
    let out = ok(&nines(&[
        "exclusion",
        "add",
        "--url",
        u,
        "--slo",
        NAME,
        "--start",
        &start,
        "--end",
        &end,
        "--category",
        "maintenance",
        "--reason",
        "db drill",
        "--author",
        "cid",
    ]));
    assert!(out.starts_with("exclusion 1 added"), "{out}");
    ok(&nines(&[
        "exclusion",
        "delete",
        "--url",
        u,
        "1",
        "--author",
        "cid",
    ]));
    // a gate decision, then an override of it
    let o = nines(&["gate", "--url", u, "--slo", NAME, "--min-budget", "0.99"]);
    assert!(matches!(o.status.code(), Some(0..=2)), "{}", text(&o));
    ok(&nines(&[
        "gate",
        "--url",
        u,
        "--slo",
        NAME,
        "--min-budget",
        "0.99",
        "--override",
        "--reason",
        "hotfix for the outage",
        "--approver",
        "dana",
    ]));
    // a retention lock, a refused shortening, and the lock log
    let until = format!("{}", now / 1000 + 365 * 86_400);
    ok(&nines(&[
        "lock",
        "set",
        "--url",
        u,
        "--resolution",
        "1h",
        "--keep",
        "7y",
        "--until",
        &until,
        "--reason",
        "SOX evidence",
        "--author",
        "ops",
    ]));
    let o = nines(&[
        "lock",
        "set",
        "--url",
        u,
        "--resolution",
        "1h",
        "--keep",
        "1y",
        "--until",
        &until,
        "--reason",
        "cheaper",
        "--author",
        "mallory",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("can only be lengthened"), "{}", text(&o));
    let o = nines(&["lock", "remove", "--url", u, "1h", "--author", "mallory"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let listed = ok(&nines(&["lock", "list", "--url", u]));
    assert!(listed.starts_with("1h   keep 7y"), "{listed}");
    // a write that stays in the WAL
    ok(&nines(&[
        "annotate",
        "deploy",
        "--url",
        u,
        "--service",
        "api",
        "--version",
        "v2",
    ]));

    let want = [
        "retention_changed",
        "slo_created",
        "exclusion_added",
        "exclusion_deleted",
        "gate_decision",
        "gate_override",
        "gate_decision",
        "lock_added",
        "lock_refused",
        "lock_refused",
    ];
    let log = audit(u, &[]);
    assert_eq!(kinds(&log), want, "{log:#}");
    let e = &log["entries"].as_array().unwrap();
    assert_eq!(e[1]["actor"], "ann");
    assert_eq!(e[1]["detail"]["name"], NAME);
    assert_eq!(e[1]["detail"]["slo_log_record"], 1);
    assert_eq!(e[5]["actor"], "dana");
    assert_eq!(e[5]["detail"]["reason"], "hotfix for the outage");
    assert_eq!(e[6]["detail"]["overridden"], true);
    assert_eq!(e[6]["detail"]["verdict"], "promote");
    assert_eq!(e[8]["actor"], "mallory");
    assert!(
        e[8]["detail"]["error"]
            .as_str()
            .unwrap()
            .contains("shorter"),
        "{}",
        e[8]
    );
    assert_eq!(log["head"]["seq"], 10);
    assert_eq!(log["head"]["hash"], e[9]["hash"]);
    // filters
    let only = audit(u, &["--kind", "exclusion_added,exclusion_deleted"]);
    assert_eq!(kinds(&only), ["exclusion_added", "exclusion_deleted"]);
    let last = audit(u, &["--limit", "1"]);
    assert_eq!(kinds(&last), ["lock_refused"]);
    let since = e[4]["at"].as_str().unwrap().to_string();
    let n = audit(u, &["--since", &since])["entries"]
        .as_array()
        .unwrap()
        .len();
    assert!((6..=10).contains(&n), "{n}");
    let lines = ok(&nines(&["audit", "log", "--url", u]));
    assert_eq!(lines.lines().count(), 10, "{lines}");
    assert!(
        lines.lines().nth(2).unwrap().contains("exclusion_added"),
        "{lines}"
    );
    assert!(lines.contains("reason=\"db drill\""), "{lines}");

    // kill -9, start again: the trail is whole and nothing is mirrored twice
    server.kill();
    let server = Serve::on(&data, &[]);
    let again = audit(&server.http, &[]);
    assert_eq!(kinds(&again), want);
    assert_eq!(again["head"], log["head"]);
    drop(server);
    // an export (offline) is audited in the same trail
    let out = dir.path().join("export.jsonl");
    ok(&nines(&[
        "export",
        "--data-dir",
        data_s,
        "--match",
        "req_total",
        "-o",
        out.to_str().unwrap(),
    ]));

    let o = nines(&["verify", "--data-dir", data_s, "--json"]);
    assert!(o.status.success(), "{}", text(&o));
    let report: Json = serde_json::from_slice(&o.stdout).unwrap();
    let logs: Vec<&str> = report["logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["log"].as_str().unwrap())
        .collect();
    assert_eq!(logs, ["SLO log", "audit log", "lock log"]);
    assert_eq!(
        report["logs"][1]["records"], 11,
        "ten entries and the export"
    );

    // one byte flipped in each kind of file: verify fails naming it
    let all = files_under(&data);
    let pick = |what: &str, f: &dyn Fn(&Path) -> bool| -> PathBuf {
        let found = all.iter().find(|p| f(p.strip_prefix(&data).unwrap()));
        found
            .unwrap_or_else(|| panic!("no {what} file among {all:?}"))
            .strip_prefix(&data)
            .unwrap()
            .to_path_buf()
    };
    let seg = pick("raw segment", &|p| p.starts_with("segments/raw"));
    let kinds = [
        ("raw segment", seg.clone()),
        (
            "1 d rollup",
            pick("1 d rollup", &|p| p.starts_with("segments/1d")),
        ),
        (
            "1 h rollup",
            pick("1 h rollup", &|p| p.starts_with("segments/1h")),
        ),
        (
            "WAL",
            pick("WAL", &|p| {
                p.starts_with("wal") && std::fs::metadata(data.join(p)).unwrap().len() > 64
            }),
        ),
        ("manifest", PathBuf::from("MANIFEST")),
        ("audit log", PathBuf::from("meta/audit.log")),
        ("SLO metadata log", PathBuf::from("meta/slo.log")),
        ("lock log", PathBuf::from("meta/locks.log")),
    ];
    for (i, (what, rel)) in kinds.iter().enumerate() {
        let copy = dir.path().join(format!("flip{i}"));
        copy_dir(&data, &copy);
        let f = copy.join(rel);
        let mut bytes = std::fs::read(&f).unwrap();
        // past the header, inside the records or blocks
        let at = (bytes.len() * 2 / 3).max(40).min(bytes.len() - 1);
        bytes[at] ^= 0x20;
        std::fs::write(&f, &bytes).unwrap();
        let o = nines(&["verify", "--data-dir", copy.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(1), "{what}: {}", text(&o));
        let out = text(&o);
        assert!(
            out.contains(&format!("DAMAGED {}", f.display())),
            "{what}: verify must name {}: {out}",
            f.display()
        );
    }

    // a segment deleted: the manifest still lists it
    let copy = dir.path().join("deleted");
    copy_dir(&data, &copy);
    std::fs::remove_file(copy.join(&seg)).unwrap();
    let o = nines(&["verify", "--data-dir", copy.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains(&copy.join(&seg).display().to_string()),
        "{}",
        text(&o)
    );
}
