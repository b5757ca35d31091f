//! The `nines` program end to end: import, export, inspect, compact, verify,
//! run as a user would, through the built binary.

use std::path::Path;
use std::process::{Command, Output};

use rand::{Rng, SeedableRng};

#[path = "support/serve.rs"]
mod serve;

fn nines(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nines"))
        .args(args)
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

/// (labels json, kind, timestamps, value bits) per line, order-independent.
fn parse_jsonl(s: &str) -> Vec<(String, String, Vec<i64>, Vec<u64>)> {
    let mut out: Vec<_> = s
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let ts: Vec<i64> = v["timestamps"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_i64().unwrap())
                .collect();
            let vs: Vec<u64> = v["values"]
                .as_array()
                .unwrap()
                .iter()
                .map(value_bits)
                .collect();
            (
                v["metric"].to_string(),
                v["kind"].as_str().unwrap_or("unknown").to_string(),
                ts,
                vs,
            )
        })
        .collect();
    out.sort();
    out
}

fn value_bits(v: &serde_json::Value) -> u64 {
    match v {
        serde_json::Value::Number(n) => n.as_f64().unwrap().to_bits(),
        serde_json::Value::String(s) => match s.as_str() {
            "NaN" => 0x7ff8_0000_0000_0001,
            "StaleNaN" => 0x7ff0_0000_0000_0002,
            "+Inf" => f64::INFINITY.to_bits(),
            "-Inf" => f64::NEG_INFINITY.to_bits(),
            s => u64::from_str_radix(s.strip_prefix("NaN:0x").unwrap(), 16).unwrap(),
        },
        other => panic!("unexpected value {other}"),
    }
}

/// A file with counters, gauges and every awkward value class.
fn write_input(path: &Path) -> String {
    let mut rng = rand::rngs::StdRng::seed_from_u64(42);
    let mut lines = Vec::new();
    for s in 0..12 {
        let kind = ["counter", "gauge", "histogram_sum"][s % 3];
        let mut ts = Vec::new();
        let mut vs: Vec<String> = Vec::new();
        let mut t = 1_767_571_200_000i64 + s as i64;
        let mut v = 0.0f64;
        for i in 0..3000 {
            t += 15_000
                + if rng.gen_bool(0.05) {
                    rng.gen_range(1..5)
                } else {
                    0
                };
            ts.push(t);
            let value = match (kind, i % 500) {
                (_, 100) => "\"StaleNaN\"".to_string(),
                (_, 200) => "\"NaN\"".to_string(),
                (_, 201) => "\"NaN:0x7ff8000000000000\"".to_string(),
                (_, 300) => "\"+Inf\"".to_string(),
                ("gauge", 301) => "-0.0".to_string(),
                ("gauge", _) => format!("{}", rng.gen::<f64>() * 1e6 - 5e5),
                ("histogram_sum", _) => {
                    v += f64::from(rng.gen_range(0..5000u32)) / 1000.0;
                    format!("{v}")
                }
                _ => {
                    v += f64::from(rng.gen_range(0..40u32));
                    format!("{v}")
                }
            };
            vs.push(value);
        }
        lines.push(format!(
            r#"{{"metric":{{"__name__":"m_{kind}","job":"j\"{s}","s":"{s}"}},"values":[{}],"timestamps":[{}],"kind":"{kind}"}}"#,
            vs.join(","),
            ts.iter().map(ToString::to_string).collect::<Vec<_>>().join(",")
        ));
    }
    let body = lines.join("\n") + "\n";
    std::fs::write(path, &body).unwrap();
    body
}

#[test]
fn import_export_is_lossless_and_verify_finds_damage() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_s = data.to_str().unwrap();
    let input = dir.path().join("in.jsonl");
    let body = write_input(&input);

    let o = nines(&["import", "--data-dir", data_s, input.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("imported 36000 samples of 12 series"),
        "{}",
        text(&o)
    );

    let export = |extra: &[&str]| {
        let mut args = vec![
            "export",
            "--data-dir",
            data_s,
            "--match",
            r#"{__name__=~"m_.*"}"#,
        ];
        args.extend_from_slice(extra);
        let o = nines(&args);
        assert!(o.status.success(), "{}", text(&o));
        String::from_utf8(o.stdout).unwrap()
    };
    assert_eq!(
        parse_jsonl(&export(&[])),
        parse_jsonl(&body),
        "export right after import"
    );

    let o = nines(&["compact", "--data-dir", data_s]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        parse_jsonl(&export(&[])),
        parse_jsonl(&body),
        "export after compaction"
    );

    // a time range and a selector narrow it down
    let narrow = export(&["--start", "1767574200", "--end", "2026-01-05T01:00:00Z"]);
    for (_, _, ts, _) in parse_jsonl(&narrow) {
        assert!(ts
            .iter()
            .all(|&t| (1_767_574_200_000..=1_767_574_800_000).contains(&t)));
    }

    let o = nines(&["inspect", "--data-dir", data_s, "--json"]);
    assert!(o.status.success(), "{}", text(&o));
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(s["series"], 12);
    assert_eq!(s["samples"], 36000);
    assert!(s["bytes_on_disk"].as_u64().unwrap() > 0);
    assert!(s["bytes_per_sample"].as_f64().unwrap() > 0.0);

    let om = export(&["--format", "openmetrics"]);
    assert!(
        om.ends_with("# EOF\n"),
        "{}",
        &om[om.len().saturating_sub(200)..]
    );
    assert!(om.contains("# TYPE m_counter counter"));
    // stale markers (6 per series) can be left out for a Prometheus backfill;
    // the ordinary NaNs stay
    let nan_lines = |t: &str| t.lines().filter(|l| l.contains(" NaN ")).count();
    let dropped = export(&["--format", "openmetrics", "--drop-stale-markers"]);
    assert_eq!(om.lines().count() - dropped.lines().count(), 72);
    assert_eq!(nan_lines(&om) - nan_lines(&dropped), 72);
    assert_eq!(nan_lines(&dropped), 12 * 6 * 2);

    let o = nines(&["verify", "--data-dir", data_s]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).starts_with("OK") || text(&o).contains("\nOK"),
        "{}",
        text(&o)
    );

    // flip one byte in the middle of a raw segment
    let seg = std::fs::read_dir(data.join("segments/raw"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut bytes = std::fs::read(&seg).unwrap();
    let at = bytes.len() / 3;
    bytes[at] ^= 0x40;
    std::fs::write(&seg, &bytes).unwrap();
    let o = nines(&["verify", "--data-dir", data_s]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = text(&o);
    assert!(out.contains(&seg.display().to_string()), "{out}");
    assert!(out.contains("SHA-256"), "{out}");
    assert!(out.contains("crc"), "{out}");
}

/// Every (series, time, value bits) of an export, whatever its lines.
fn samples_of(jsonl: &str) -> Vec<(String, i64, u64)> {
    let mut out: Vec<(String, i64, u64)> = parse_jsonl(jsonl)
        .into_iter()
        .flat_map(|(m, _, ts, vs)| ts.into_iter().zip(vs).map(move |(t, v)| (m.clone(), t, v)))
        .collect();
    out.sort();
    out
}

/// The import sorts its input out by day before loading (one day in
/// memory): a series may come back to earlier days in a later file, days
/// across files and formats end up together, a second import of the same
/// files finds only duplicates, and no spill directory is left behind.
/// `nines write` to a running server (the compact gRPC form) stores the
/// file losslessly (NaN payloads, stale markers, -0.0, infinities), a
/// second write of it is all duplicates, and what the server acknowledged
/// survives kill -9: exported from its data directory afterwards, it is the
/// input exactly.
#[test]
fn write_to_a_server_is_lossless_and_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let input = dir.path().join("in.jsonl");
    let body = write_input(&input);
    let mut s = serve::Serve::on(&data, &[]);
    let write = || {
        let o = nines(&["write", "--url", &s.grpc, input.to_str().unwrap()]);
        assert!(o.status.success(), "{}", text(&o));
        text(&o)
    };
    let first = write();
    assert!(
        first.contains("wrote 36000 samples of 12 series; 0 duplicates"),
        "{first}"
    );
    let again = write();
    assert!(
        again.contains("wrote 0 samples of 12 series; 36000 duplicates"),
        "{again}"
    );
    s.kill();
    let o = nines(&[
        "export",
        "--data-dir",
        data.to_str().unwrap(),
        "--match",
        r#"{__name__=~"m_.*"}"#,
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        parse_jsonl(&String::from_utf8(o.stdout).unwrap()),
        parse_jsonl(&body)
    );
}

#[test]
fn import_loads_days_in_time_order_whatever_the_input_order() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_s = data.to_str().unwrap();
    const DAY: i64 = 86_400_000;
    let t0 = 1_767_571_200_000i64; // 2026-01-05, midnight UTC
    let day_samples = |day: i64, per: i64| -> Vec<(i64, i64)> {
        (0..48)
            .map(|i| (t0 + day * DAY + i * 1_800_000, (day * 48 + i) * per))
            .collect()
    };
    // a.jsonl: x on days 2-3, y on days 0-1
    let line = |name: &str, pts: &[(i64, i64)]| {
        format!(
            r#"{{"metric":{{"__name__":"{name}","job":"a"}},"values":[{}],"timestamps":[{}]}}"#,
            pts.iter()
                .map(|p| p.1.to_string())
                .collect::<Vec<_>>()
                .join(","),
            pts.iter()
                .map(|p| p.0.to_string())
                .collect::<Vec<_>>()
                .join(",")
        )
    };
    let x_late: Vec<_> = [day_samples(2, 3), day_samples(3, 3)].concat();
    let y: Vec<_> = [day_samples(0, 5), day_samples(1, 5)].concat();
    let a = dir.path().join("a.jsonl");
    std::fs::write(
        &a,
        format!("{}\n{}\n", line("x_total", &x_late), line("y_total", &y)),
    )
    .unwrap();
    // b.prom, read after a: x's earlier days 0-1, and z over all four days,
    let x_early: Vec<_> = [day_samples(0, 3), day_samples(1, 3)].concat();
    let z: Vec<_> = (0..4).flat_map(|d| day_samples(d, 7)).collect();
    // newest first: each series' samples in falling time order
    let mut prom = String::new();
    for (name, pts) in [("x_total", &x_early), ("z_total", &z)] {
        for (t, v) in pts.iter().rev() {
            prom += &format!("{name}{{job=\"a\"}} {v} {t}\n");
        }
    }
    let b = dir.path().join("b.prom");
    std::fs::write(&b, prom).unwrap();

    let files = [a.to_str().unwrap(), b.to_str().unwrap()];
    let o = nines(&["import", "--data-dir", data_s, files[0], files[1]]);
    assert!(o.status.success(), "{}", text(&o));
    let n = x_late.len() + y.len() + x_early.len() + z.len();
    assert!(
        text(&o).contains(&format!("imported {n} samples of 3 series; 0 duplicates")),
        "{}",
        text(&o)
    );
    let o = nines(&["export", "--data-dir", data_s, "--match", r#"{job="a"}"#]);
    assert!(o.status.success(), "{}", text(&o));
    let mut want: Vec<(String, i64, u64)> = Vec::new();
    for (name, pts) in [
        ("x_total", &x_late),
        ("y_total", &y),
        ("x_total", &x_early),
        ("z_total", &z),
    ] {
        let m = format!(r#"{{"__name__":"{name}","job":"a"}}"#);
        want.extend(
            pts.iter()
                .map(|&(t, v)| (m.clone(), t, (v as f64).to_bits())),
        );
    }
    want.sort();
    assert_eq!(samples_of(&String::from_utf8(o.stdout).unwrap()), want);
    // A segment per week: weeks end at multiples of 7 days since the
    // epoch (Thursdays 00:00 UTC), windows include their end, so the
    // sample at Monday 00:00 and Monday to Wednesday are one segment,
    // Thursday another.
    let raw_files = |data: &Path| {
        std::fs::read_dir(data.join("segments/raw"))
            .unwrap()
            .count()
    };
    assert_eq!(raw_files(&data), 2);
    // holding at most one sample: a segment per day (and the lone
    // midnight sample's day), the same samples
    let small = dir.path().join("small");
    let small_s = small.to_str().unwrap();
    let o = nines(&[
        "import",
        "--memory-samples",
        "1",
        "--data-dir",
        small_s,
        files[0],
        files[1],
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(raw_files(&small), 5);
    let o = nines(&["export", "--data-dir", small_s, "--match", r#"{job="a"}"#]);
    assert_eq!(samples_of(&String::from_utf8(o.stdout).unwrap()), want);

    let o = nines(&["import", "--data-dir", data_s, files[0], files[1]]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains(&format!("imported 0 samples of 3 series; {n} duplicates")),
        "{}",
        text(&o)
    );
    let left: Vec<_> = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".import-"))
        .collect();
    assert!(left.is_empty(), "spill left behind: {left:?}");
}

#[test]
fn import_reports_bad_lines_with_their_position_and_loads_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let input = dir.path().join("in.prom");
    std::fs::write(
        &input,
        "# TYPE up gauge\nup{job=\"a\"} 1 1767571200000\nup{job=\"a\" 1 1767571215000\nup{job=\"a\"} 0 1767571230000\n",
    )
    .unwrap();
    let o = nines(&[
        "import",
        "--data-dir",
        data.to_str().unwrap(),
        input.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = text(&o);
    assert!(out.contains("line 3"), "{out}");
    assert!(out.contains("imported 2 samples of 1 series"), "{out}");
    assert!(out.contains("1 lines rejected"), "{out}");
}

#[test]
fn commands_explain_themselves() {
    let o = nines(&["--help"]);
    assert!(o.status.success());
    for cmd in ["import", "export", "inspect", "compact", "verify", "query"] {
        assert!(text(&o).contains(cmd), "--help lists {cmd}");
        let o = nines(&[cmd, "--help"]);
        assert!(o.status.success(), "{cmd} --help");
        assert!(
            text(&o).contains("--data-dir"),
            "{cmd} --help mentions --data-dir"
        );
    }
    let o = nines(&["export", "--data-dir", "/nonexistent", "--match", "up{"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("column"), "{}", text(&o));
}

#[test]
fn query_prints_prometheus_api_json() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_s = data.to_str().unwrap();
    let input = dir.path().join("in.prom");
    let mut body = String::from("# TYPE req_total counter\n");
    for i in 0..=20 {
        let t = 1_767_571_200_000i64 + i * 15_000;
        body += &format!("req_total{{code=\"200\"}} {} {t}\n", i * 30);
        body += &format!("req_total{{code=\"500\"}} {} {t}\n", i * 3);
    }
    std::fs::write(&input, body).unwrap();
    let o = nines(&["import", "--data-dir", data_s, input.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));

    // Instant: 5 minutes of 2/s and 0.2/s.
    let o = nines(&[
        "query",
        "--data-dir",
        data_s,
        "--time",
        "1767571500",
        "sum by (code) (rate(req_total[5m]))",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["status"], "success");
    assert_eq!(v["data"]["resultType"], "vector");
    let mut got: Vec<(String, f64)> = v["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["metric"]["code"].as_str().unwrap().to_string(),
                r["value"][1].as_str().unwrap().parse().unwrap(),
            )
        })
        .collect();
    got.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(got.len(), 2, "{v}");
    assert!((got[0].1 - 2.0).abs() < 1e-9, "{v}");
    assert!((got[1].1 - 0.2).abs() < 1e-9, "{v}");

    // Range: one point per minute.
    let o = nines(&[
        "query",
        "--data-dir",
        data_s,
        "--start",
        "1767571260",
        "--end",
        "1767571500",
        "--step",
        "1m",
        "req_total{code=\"500\"}",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["data"]["resultType"], "matrix");
    let values = v["data"]["result"][0]["values"].as_array().unwrap();
    assert_eq!(values.len(), 5, "{v}");
    assert_eq!(values[4][1], "60", "{v}");

    // A bad query is an error in the API's shape and exit 1.
    let o = nines(&["query", "--data-dir", data_s, "sum(rate(req_total[5m])"]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["status"], "error");
    assert_eq!(v["errorType"], "bad_data");
}
