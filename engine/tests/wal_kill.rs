//! kill -9 while appending under `SyncPolicy::Always`: every append that
//! returned Ok before the kill is replayed. The child is this test binary
//! re-run on the ignored `child_appends_until_killed` test.
#![cfg(unix)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use nines_engine::wal::{Wal, WalOptions, WalRecord, WalSeries};
use nines_engine::{Labels, SeriesKind};

const CHILD_DIR: &str = "NINES_WAL_KILL_CHILD_DIR";
const SERIES: u32 = 50;
const ACKS_BEFORE_KILL: i64 = 300;

fn labels(i: u32) -> Labels {
    Labels::from_pairs(&[("__name__", "up"), ("instance", &format!("host-{i}"))])
}

fn opts() -> WalOptions {
    // Small files so the kill also lands near rotations.
    WalOptions::default().with_segment_bytes(64 << 10)
}

#[test]
#[ignore = "child process of kill_9_loses_no_acknowledged_append"]
fn child_appends_until_killed() {
    let Some(dir) = std::env::var_os(CHILD_DIR) else {
        return;
    };
    let (wal, _) = Wal::open(Path::new(&dir), opts(), &mut |_, _| Ok(())).unwrap();
    let labels: Vec<Labels> = (0..SERIES).map(labels).collect();
    let mut out = std::io::stdout().lock();
    for k in 0..1_000_000i64 {
        let ts = [k];
        let vs = [k as f64];
        let series: Vec<WalSeries<'_>> = (0..SERIES)
            .map(|i| WalSeries {
                id: i,
                kind: SeriesKind::Gauge,
                labels: (&labels[i as usize]).into(),
                timestamps: &ts,
                values: &vs,
            })
            .collect();
        wal.append(&series).unwrap();
        writeln!(out, "ack {k}").unwrap();
        out.flush().unwrap();
    }
}

fn parse_ack(line: &str) -> Option<i64> {
    line.trim().strip_prefix("ack ")?.parse().ok()
}

#[test]
fn kill_9_loses_no_acknowledged_append() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("wal");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "child_appends_until_killed",
            "--exact",
            "--ignored",
            "--nocapture",
        ])
        .env(CHILD_DIR, &dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut acked = -1;
    for line in lines.by_ref() {
        if let Some(k) = parse_ack(&line.unwrap()) {
            acked = k;
            if k >= ACKS_BEFORE_KILL {
                break;
            }
        }
    }
    child.kill().unwrap(); // SIGKILL
                           // Acks the child printed before it died count too.
    for line in lines.map_while(Result::ok) {
        acked = parse_ack(&line).unwrap_or(acked).max(acked);
    }
    child.wait().unwrap();
    assert!(acked >= ACKS_BEFORE_KILL, "child stopped early at {acked}");

    let mut names: BTreeMap<(u64, u32), Labels> = BTreeMap::new();
    let mut seen: BTreeMap<Labels, Vec<i64>> = BTreeMap::new();
    let (_, report) = Wal::open(&dir, opts(), &mut |seq, rec| {
        match rec {
            WalRecord::Series { id, labels, .. } => {
                names.insert((seq, id), labels);
            }
            WalRecord::Samples(entries) => {
                for e in entries {
                    let l = names[&(seq, e.id)].clone();
                    for (t, v) in e.timestamps.iter().zip(&e.values) {
                        assert_eq!(*t as f64, *v);
                        seen.entry(l.clone()).or_default().push(*t);
                    }
                }
            }
        }
        Ok(())
    })
    .unwrap();
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(seen.len(), SERIES as usize);
    for (l, mut ts) in seen {
        ts.sort_unstable();
        ts.dedup();
        let have = ts.iter().take_while(|&&t| t <= acked).count() as i64;
        assert_eq!(
            have,
            acked + 1,
            "{l}: acknowledged samples lost (acked through {acked})"
        );
    }
}
