use std::sync::Mutex as StdMutex;

use super::*;
use crate::exclusion::Recurrence;
use nines_engine::chainlog::ChainLog;

fn yaml(name: &str, target: f64) -> String {
    format!(
        r#"apiVersion: openslo/v1
kind: SLO
metadata:
  name: {name}
spec:
  service: api
  indicator:
    spec:
      ratioMetric:
        bad:
          metricSource:
            spec:
              query: http_requests_total{{code=~"5.."}}
        total:
          metricSource:
            spec:
              query: http_requests_total
  timeWindow:
    - duration: 28d
      isRolling: true
  budgetingMethod: Occurrences
  objectives:
    - target: {target}
"#
    )
}

fn two(a: f64, b: f64) -> String {
    format!("{}---\n{}", yaml("avail", a), yaml("other", b))
}

fn at(t: i64, who: &str) -> Origin {
    Origin {
        at: t,
        author: Some(who.into()),
    }
}

fn apply(s: &SloStore, text: &str, t: i64) -> Vec<Applied> {
    s.apply(
        ApplyRequest {
            file: "slos.yaml",
            yaml: text,
            effective_from: None,
        },
        at(t, "ann"),
    )
    .unwrap()
}

fn reasons(a: &[Applied]) -> Vec<(String, u32, Option<VersionReason>)> {
    a.iter()
        .map(|x| (x.name.clone(), x.version, x.reason))
        .collect()
}

fn once(scope: Scope, start: i64, end: i64) -> NewExclusion {
    NewExclusion {
        scope,
        schedule: Schedule::Once { start, end },
        category: Category::Maintenance,
        reason: "db upgrade".into(),
        author: "bob".into(),
    }
}

#[test]
fn apply_change_retire_history_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = SloStore::path_in(dir.path());
    let s = SloStore::open(&path).unwrap();
    assert_eq!(s.head(), (0, [0; 32]));

    let a = apply(&s, &two(0.99, 0.9), 1_000);
    assert_eq!(
        reasons(&a),
        [
            ("avail".into(), 1, Some(VersionReason::Created)),
            ("other".into(), 1, Some(VersionReason::Created)),
        ]
    );
    // the same file again: no version, no record
    let a = apply(&s, &two(0.99, 0.9), 2_000);
    assert_eq!(reasons(&a)[0], ("avail".into(), 1, None));
    assert_eq!(s.head().0, 1);
    // one of the two changes
    let a = apply(&s, &two(0.995, 0.9), 3_000);
    assert_eq!(
        reasons(&a),
        [
            ("avail".into(), 2, Some(VersionReason::Changed)),
            ("other".into(), 1, None),
        ]
    );
    // the clock did not move: the start still increases
    let a = apply(&s, &yaml("avail", 0.999), 3_000);
    assert_eq!(
        reasons(&a),
        [("avail".into(), 3, Some(VersionReason::Changed))]
    );
    let ev = s.retire("avail", at(5_000, "cid")).unwrap();
    assert_eq!(
        ev.change,
        Change::SloRetired {
            name: "avail".into(),
            version: 3,
            effective_to: 5_000
        }
    );
    assert!(matches!(
        s.retire("avail", at(6_000, "cid")),
        Err(SloError::Conflict(_))
    ));
    assert!(matches!(
        s.retire("nope", at(6_000, "cid")),
        Err(SloError::UnknownSlo(_))
    ));

    let check = |s: &SloStore| {
        let info = s.get("avail").unwrap();
        assert_eq!(info.retired_at, Some(5_000));
        let v: Vec<(u32, i64, Option<i64>, f64)> = info
            .versions
            .iter()
            .map(|v| {
                (
                    v.version.version,
                    v.version.effective_from,
                    v.version.effective_to,
                    v.version.def.target(),
                )
            })
            .collect();
        assert_eq!(
            v,
            [
                (1, 1_000, Some(3_000), 0.99),
                (2, 3_000, Some(3_001), 0.995),
                (3, 3_001, Some(5_000), 0.999),
            ]
        );
        assert_eq!(info.versions[1].author.as_deref(), Some("ann"));
        let h: Vec<(u64, &str)> = s
            .history("avail")
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e.seq,
                    match e.change {
                        Change::SloVersion { .. } => "version",
                        Change::SloRetired { .. } => "retired",
                        _ => "exclusion",
                    },
                )
            })
            .collect();
        assert_eq!(
            h,
            [
                (1, "version"),
                (2, "version"),
                (3, "version"),
                (4, "retired")
            ]
        );
        assert_eq!(s.history("other").unwrap().len(), 1);
        assert!(s.history("nope").is_none());
        assert_eq!(s.list().len(), 2);
        assert_eq!(s.versions("avail").unwrap().len(), 3);
    };
    check(&s);
    let head = s.head();
    let events = s.events();
    drop(s);

    let s = SloStore::open(&path).unwrap();
    check(&s);
    assert_eq!(s.head(), head);
    assert_eq!(s.events(), events);
    // applying a retired SLO again reactivates it, unchanged or not
    let a = apply(&s, &yaml("avail", 0.999), 7_000);
    assert_eq!(
        reasons(&a),
        [("avail".into(), 4, Some(VersionReason::Reactivated))]
    );
    let info = s.get("avail").unwrap();
    assert_eq!(info.retired_at, None);
    // the retirement's end stays: 5_000 to 7_000 is governed by no version
    let v: Vec<(i64, Option<i64>)> = info
        .versions
        .iter()
        .skip(2)
        .map(|v| (v.version.effective_from, v.version.effective_to))
        .collect();
    assert_eq!(v, [(3_001, Some(5_000)), (7_000, None)]);
}

#[test]
fn explicit_effective_from_is_checked_and_marked_backdated() {
    let dir = tempfile::tempdir().unwrap();
    let s = SloStore::open(&SloStore::path_in(dir.path())).unwrap();
    apply(&s, &yaml("avail", 0.99), 1_000);
    let req = |from| ApplyRequest {
        file: "f.yaml",
        yaml: "",
        effective_from: Some(from),
    };
    let def = |t| crate::openslo::parse_file("f", &yaml("avail", t)).unwrap();
    for bad in [1_000, 500, 9_001] {
        assert!(
            matches!(
                s.apply_defs(def(0.9), req(bad), at(9_000, "x")),
                Err(SloError::Invalid(_))
            ),
            "{bad}"
        );
    }
    s.apply_defs(def(0.9), req(4_000), at(9_000, "x")).unwrap();
    let v = s.versions("avail").unwrap();
    assert_eq!(
        (v[1].effective_from, v[0].effective_to),
        (4_000, Some(4_000))
    );
    let last = s.events().pop().unwrap();
    assert!(matches!(
        last.change,
        Change::SloVersion {
            backdated: true,
            version: 2,
            ..
        }
    ));
    // nothing was written for the refused ones
    assert_eq!(s.head().0, 2);
}

#[test]
fn exclusions_get_ids_survive_reopen_and_stop_applying_when_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let path = SloStore::path_in(dir.path());
    let s = SloStore::open(&path).unwrap();
    apply(&s, &two(0.99, 0.9), 1_000);
    let one = s
        .add_exclusion(once(Scope::Slos(vec!["avail".into()]), 10, 20), 2_000)
        .unwrap();
    let rule =
        Recurrence::parse("FREQ=WEEKLY;BYDAY=SU;BYHOUR=2", 7_200_000, "Europe/Berlin").unwrap();
    let all = s
        .add_exclusion(
            NewExclusion {
                schedule: Schedule::Recurring(rule),
                ..once(Scope::All, 0, 0)
            },
            3_000,
        )
        .unwrap();
    assert_eq!((one.id.as_str(), all.id.as_str()), ("1", "2"));
    assert!(matches!(
        s.add_exclusion(once(Scope::Slos(vec!["ghost".into()]), 1, 2), 3_500),
        Err(SloError::UnknownSlo(_))
    ));
    assert!(matches!(
        s.add_exclusion(once(Scope::All, 5, 5), 3_500),
        Err(SloError::Invalid(_))
    ));
    assert_eq!(s.exclusions("avail").len(), 2);
    assert_eq!(s.exclusions("other").len(), 1);
    assert_eq!(s.history("avail").unwrap().len(), 3);

    let gone = s.delete_exclusion("1", at(4_000, "cid")).unwrap();
    assert_eq!(gone, one);
    assert!(matches!(
        s.delete_exclusion("1", at(4_001, "cid")),
        Err(SloError::Conflict(_))
    ));
    assert!(matches!(
        s.delete_exclusion("9", at(4_001, "cid")),
        Err(SloError::UnknownExclusion(_))
    ));
    drop(s);

    let s = SloStore::open(&path).unwrap();
    assert_eq!(s.exclusions("avail"), vec![all.clone()]);
    let listed = s.exclusion_list(true);
    assert_eq!(listed.len(), 2);
    assert_eq!(
        (listed[0].deleted_at, listed[0].deleted_by.as_deref()),
        (Some(4_000), Some("cid"))
    );
    assert_eq!(s.exclusion_list(false).len(), 1);
    // ids are never reused, even after a delete and a reopen
    let next = s.add_exclusion(once(Scope::All, 1, 2), 5_000).unwrap();
    assert_eq!(next.id, "3");
}

#[test]
fn observers_hear_each_durable_change_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let s = SloStore::open(&SloStore::path_in(dir.path())).unwrap();
    let heard = Arc::new(StdMutex::new(Vec::<AuditEvent>::new()));
    let h = Arc::clone(&heard);
    s.subscribe(Arc::new(move |e: &AuditEvent| {
        h.lock().unwrap().push(e.clone())
    }));
    apply(&s, &two(0.99, 0.9), 1_000);
    apply(&s, &two(0.99, 0.9), 1_500);
    s.add_exclusion(once(Scope::All, 1, 2), 2_000).unwrap();
    s.retire("other", at(3_000, "cid")).unwrap();
    let heard = heard.lock().unwrap().clone();
    assert_eq!(heard, s.events());
    let seqs: Vec<u64> = heard.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [1, 1, 2, 3]);
    assert_eq!(heard[3].record_hash, s.head().1);
    assert_eq!(heard[3].author.as_deref(), Some("cid"));
}

#[test]
fn a_corrupt_byte_is_an_error_naming_file_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    let path = SloStore::path_in(dir.path());
    let s = SloStore::open(&path).unwrap();
    apply(&s, &yaml("avail", 0.99), 1_000);
    apply(&s, &yaml("avail", 0.995), 2_000);
    s.retire("avail", at(3_000, "x")).unwrap();
    drop(s);
    let good = std::fs::read(&path).unwrap();
    let (_, entries, _) = ChainLog::open(&path, MAGIC).unwrap();
    let second = entries[1].offset;
    for (i, pos) in [second as usize + 60, entries[0].offset as usize + 12]
        .into_iter()
        .enumerate()
    {
        let mut bytes = good.clone();
        bytes[pos] ^= 0x20;
        std::fs::write(&path, &bytes).unwrap();
        let err = SloStore::open(&path).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains(&path.display().to_string()), "{msg}");
        let want = if i == 0 { second } else { entries[0].offset };
        assert!(msg.contains(&format!("offset {want}")), "{msg}");
        assert!(matches!(
            err,
            SloError::Engine(nines_engine::Error::Corrupted { .. })
        ));
    }
    // a well-framed record that does not replay names its offset too
    std::fs::write(&path, &good).unwrap();
    let (mut log, _, _) = ChainLog::open(&path, MAGIC).unwrap();
    let bad = log
        .append(br#"{"type":"retire","name":"ghost","at":9}"#)
        .unwrap();
    drop(log);
    let msg = SloStore::open(&path).unwrap_err().to_string();
    assert!(
        msg.contains(&format!("offset {}", bad.offset)) && msg.contains("ghost"),
        "{msg}"
    );
}

#[test]
fn a_torn_final_record_is_dropped_and_the_rest_served() {
    let dir = tempfile::tempdir().unwrap();
    let path = SloStore::path_in(dir.path());
    let s = SloStore::open(&path).unwrap();
    apply(&s, &yaml("avail", 0.99), 1_000);
    let before = std::fs::metadata(&path).unwrap().len();
    apply(&s, &yaml("avail", 0.995), 2_000);
    drop(s);
    let len = std::fs::metadata(&path).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.set_len((before + len) / 2).unwrap();
    drop(f);
    let s = SloStore::open(&path).unwrap();
    assert_eq!(s.versions("avail").unwrap().len(), 1);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), before);
}

#[test]
fn parse_errors_name_the_file_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let s = SloStore::open(&SloStore::path_in(dir.path())).unwrap();
    let text = format!("{}---\n{}", yaml("good", 0.9), yaml("bad", 1.5));
    let err = s
        .apply(
            ApplyRequest {
                file: "team.yaml",
                yaml: &text,
                effective_from: None,
            },
            at(1, "a"),
        )
        .unwrap_err();
    match err {
        SloError::Parse { at, .. } => {
            assert_eq!(at.file, "team.yaml");
            assert_eq!(at.field, "spec.objectives[0].target");
            assert!(at.line > 25, "{at}");
        }
        e => panic!("{e}"),
    }
    assert!(s.list().is_empty());
    assert_eq!(s.head().0, 0);
}

#[test]
fn check_reports_every_problem_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = SloStore::path_in(dir.path());
    let s = SloStore::open(&path).unwrap();
    apply(&s, &yaml("avail", 0.99), 1_000);
    apply(&s, &yaml("avail", 0.995), 2_000);
    s.retire("avail", at(3_000, "x")).unwrap();
    let head = s.head();
    drop(s);
    let sound = SloStore::check(&path).unwrap();
    assert_eq!(
        sound,
        LogCheck {
            records: 3,
            head: head.1,
            torn_tail_at: None,
            problems: vec![],
        }
    );
    let (_, entries, _) = ChainLog::open(&path, MAGIC).unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[entries[1].offset as usize + 60] ^= 1;
    let end = bytes.len() as u64;
    // the start of a record that a crash cut short
    bytes.extend_from_slice(&[9, 0, 0]);
    std::fs::write(&path, &bytes).unwrap();
    let found = SloStore::check(&path).unwrap();
    assert_eq!(found.torn_tail_at, Some(end));
    assert_eq!(found.problems.len(), 1, "{found:?}");
    assert_eq!(found.problems[0].0, entries[1].offset);
    assert_eq!(std::fs::read(&path).unwrap(), bytes, "check must not write");
}

/// The changes in `tests/fixtures/slo-log-v1.log`: every record type, two
/// kinds of SLO, a backdated version, a reactivation.
fn fixture_changes(s: &SloStore) {
    let latency = r#"apiVersion: openslo/v1
kind: SLO
metadata:
  name: latency
spec:
  service: api
  indicator:
    spec:
      thresholdMetric:
        metricSource:
          spec:
            query: http_request_duration_seconds_bucket{job="api"}
  timeWindow:
    - duration: 1M
      calendar:
        startTime: 2024-01-01 00:00:00
        timeZone: Europe/Berlin
  budgetingMethod: Timeslices
  objectives:
    - op: lte
      value: 0.3
      target: 0.99
      timeSliceTarget: 0.95
      timeSliceWindow: 5m
"#;
    let t = 1_767_571_200_000;
    let file = format!("{}---\n{latency}", yaml("avail", 0.999));
    apply(s, &file, t);
    s.apply(
        ApplyRequest {
            file: "avail.yaml",
            yaml: &yaml("avail", 0.995),
            effective_from: Some(t + 1_000),
        },
        at(t + 86_400_000, "bob"),
    )
    .unwrap();
    s.add_exclusion(
        once(
            Scope::Slos(vec!["avail".into(), "latency".into()]),
            t + 5,
            t + 9,
        ),
        t + 2,
    )
    .unwrap();
    let rule =
        Recurrence::parse("FREQ=WEEKLY;BYDAY=SU;BYHOUR=2", 7_200_000, "Europe/Berlin").unwrap();
    s.add_exclusion(
        NewExclusion {
            schedule: Schedule::Recurring(rule),
            category: Category::ThirdParty,
            ..once(Scope::All, 0, 0)
        },
        t + 3,
    )
    .unwrap();
    s.delete_exclusion("1", at(t + 4, "cid")).unwrap();
    s.retire("latency", at(t + 5, "cid")).unwrap();
    apply(s, latency, t + 6);
}

#[test]
fn reads_the_v1_golden_fixture() {
    let fixture =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/slo-log-v1.log");
    let dir = tempfile::tempdir().unwrap();
    let fresh = dir.path().join("fresh.log");
    let s = SloStore::open(&fresh).unwrap();
    fixture_changes(&s);
    drop(s);
    if std::env::var_os("NINES_BLESS").is_some() {
        std::fs::copy(&fresh, &fixture).unwrap();
    }
    let copy = dir.path().join("copy.log");
    std::fs::copy(&fixture, &copy).unwrap();
    let old = SloStore::open(&copy)
        .expect("the v1 fixture must stay readable; never regenerate it for a format change");
    let new = SloStore::open(&fresh).unwrap();
    assert_eq!(old.list(), new.list());
    assert_eq!(old.exclusion_list(true), new.exclusion_list(true));
    assert_eq!(old.events(), new.events());
    assert_eq!(old.head(), new.head());
    assert_eq!(old.head().0, 7);
    let lat = old.get("latency").unwrap();
    assert_eq!((lat.versions.len(), lat.retired_at), (2, None));
    assert_eq!(old.exclusions("avail").len(), 1);
    // the same changes still write the same bytes
    assert_eq!(
        std::fs::read(&fixture).unwrap(),
        std::fs::read(&fresh).unwrap()
    );
}
