use super::*;
use crate::index::MatchOp;

fn sb(pairs: &[(&str, &str)], ts: &[i64], vs: &[f64]) -> SeriesBatch {
    SeriesBatch {
        labels: Labels::from_pairs(pairs),
        kind: SeriesKind::Counter,
        timestamps: ts.to_vec(),
        values: vs.to_vec(),
        resolved: None,
    }
}

fn head() -> Head {
    Head::new(
        HeadOptions {
            ooo_window_ms: 1000,
            max_series: 3,
            ..HeadOptions::default()
        },
        0,
    )
}

#[test]
fn rejected_samples_do_not_fail_the_batch() {
    let h = head();
    let batch = WriteBatch {
        series: vec![
            sb(&[("__name__", "a")], &[10, 20, 30], &[1.0, 2.0, 3.0]),
            sb(&[("__name__", "1bad")], &[10], &[1.0]),
            sb(&[("__name__", "b")], &[10, 20], &[1.0]),
        ],
    };
    let mut out = AppendOutcome::default();
    let r = h.append(&batch, &mut out);
    assert_eq!(out.accepted, 3);
    assert_eq!(out.rejected.len(), 2);
    assert!(matches!(
        out.rejected[0].reason,
        RejectReason::InvalidLabels(_)
    ));
    assert!(matches!(
        out.rejected[1].reason,
        RejectReason::LengthMismatch {
            timestamps: 2,
            values: 1
        }
    ));
    assert_eq!(out.rejected_samples, 3);
    assert_eq!(r.stored.len(), 1);
    assert!(matches!(r.stored[0].timestamps, Cow::Borrowed(_)));
}

#[test]
fn retried_batch_is_a_no_op_and_conflicts_are_reported_per_series() {
    let h = head();
    let batch = WriteBatch {
        series: vec![sb(&[("__name__", "a")], &[10, 20, 30], &[1.0, 2.0, 3.0])],
    };
    let mut out = AppendOutcome::default();
    h.append(&batch, &mut out);
    let mut again = AppendOutcome::default();
    let r = h.append(&batch, &mut again);
    assert_eq!((again.accepted, again.duplicates), (0, 3));
    assert!(r.stored.is_empty());

    let conflicting = WriteBatch {
        series: vec![sb(
            &[("__name__", "a")],
            &[20, 30, 40, 1],
            &[9.0, 9.0, 4.0, 0.0],
        )],
    };
    let mut out = AppendOutcome::default();
    let r = h.append(&conflicting, &mut out);
    // t=1 is 29 ms behind the series' newest sample, inside the 1000 ms window
    assert_eq!(out.accepted, 2);
    // one group for the two conflicts, first timestamp 20
    assert_eq!(out.rejected.len(), 1);
    assert_eq!(out.rejected[0].samples, 2);
    assert_eq!(out.rejected[0].timestamp, Some(20));
    assert_eq!(r.stored[0].timestamps.as_ref(), &[1, 40]);
    assert_eq!(r.late.len(), 0);
}

#[test]
fn samples_at_or_before_the_cut_are_handed_back_as_late() {
    let h = head();
    h.set_persisted_through(100);
    let batch = WriteBatch {
        series: vec![sb(&[("__name__", "a")], &[50, 150], &[1.0, 2.0])],
    };
    let mut out = AppendOutcome::default();
    let r = h.append(&batch, &mut out);
    assert_eq!(out.accepted, 1);
    assert_eq!(r.late.len(), 1);
    assert_eq!(r.late[0].timestamp, 50);
}

#[test]
fn series_limit_and_selection() {
    let h = head();
    let mut out = AppendOutcome::default();
    let batch = WriteBatch {
        series: (0..5)
            .map(|i| sb(&[("__name__", "m"), ("i", &i.to_string())], &[1], &[1.0]))
            .collect(),
    };
    h.append(&batch, &mut out);
    assert_eq!(out.accepted, 3);
    assert!(out
        .rejected
        .iter()
        .all(|r| matches!(r.reason, RejectReason::SeriesLimit { limit: 3 })));
    let sel = h.select(&[Matcher::new(MatchOp::RegexMatch, "i", "0|2").unwrap()]);
    let mut got: Vec<String> = sel
        .iter()
        .map(|s| s.labels().get("i").unwrap().to_string())
        .collect();
    got.sort();
    assert_eq!(got, vec!["0", "2"]);
    assert_eq!(h.label_values("i"), vec!["0", "1", "2"]);
}

#[test]
fn truncation_forgets_idle_series() {
    let h = head();
    let mut out = AppendOutcome::default();
    let batch = WriteBatch {
        series: vec![
            sb(&[("__name__", "old")], &[10], &[1.0]),
            sb(&[("__name__", "new")], &[10, 5000], &[1.0, 2.0]),
        ],
    };
    h.append(&batch, &mut out);
    h.set_persisted_through(4000);
    assert_eq!(h.truncate_through(4000, 1000), 1);
    assert_eq!(h.series_count(), 1);
    assert_eq!(h.label_values("__name__"), vec!["new"]);
    let st = h.stats();
    assert_eq!(
        (st.samples, st.min_t, st.max_t),
        (1, Some(5000), Some(5000))
    );
}

/// A batch series that carries only a resolved handle (what a writer's
/// series cache sends).
fn by_handle(r: &SeriesRef, ts: &[i64], vs: &[f64]) -> SeriesBatch {
    SeriesBatch {
        labels: Labels::default(),
        kind: SeriesKind::Counter,
        timestamps: ts.to_vec(),
        values: vs.to_vec(),
        resolved: Some(r.clone()),
    }
}

#[test]
fn a_resolved_handle_appends_to_the_same_series_as_its_labels() {
    let h = head();
    let labels = Labels::from_pairs(&[("__name__", "m"), ("job", "a")]);
    let r = h.resolve(&labels).unwrap();
    let mut out = AppendOutcome::default();
    let batch = WriteBatch {
        series: vec![
            sb(&[("__name__", "m"), ("job", "a")], &[1, 2], &[1.0, 2.0]),
            by_handle(&r, &[3, 2], &[3.0, 9.0]),
        ],
    };
    let res = h.append(&batch, &mut out);
    assert_eq!((out.accepted, h.series_count()), (3, 1));
    assert_eq!(res.stored.len(), 2);
    assert!(res.stored.iter().all(|s| s.series.id == r.id()));
    // The conflicting retry at t=2 is reported under the real labels.
    assert_eq!(out.rejected.len(), 1);
    assert_eq!(out.rejected[0].labels, labels);
    // The WAL declares the series from the head's encoded copy.
    let mut rec = Vec::new();
    crate::wal::record::encode_series(
        &mut rec,
        r.id(),
        SeriesKind::Counter,
        crate::wal::WalLabels::Encoded(res.stored[1].series.encoded_labels()),
    )
    .unwrap();
    let mut want = Vec::new();
    crate::wal::record::encode_series(&mut want, r.id(), SeriesKind::Counter, (&labels).into())
        .unwrap();
    assert_eq!(rec, want);
}

#[test]
fn a_handle_to_a_forgotten_series_resolves_its_labels_again() {
    let h = head();
    let r = h
        .resolve(&Labels::from_pairs(&[("__name__", "idle")]))
        .unwrap();
    let mut out = AppendOutcome::default();
    h.append(
        &WriteBatch {
            series: vec![by_handle(&r, &[10], &[1.0])],
        },
        &mut out,
    );
    h.set_persisted_through(4000);
    assert_eq!(h.truncate_through(4000, 1000), 1);
    assert!(!r.is_live());
    assert_eq!(h.series_count(), 0);
    // Without the re-resolution these samples would land in a series no
    // index reaches.
    let mut out = AppendOutcome::default();
    h.append(
        &WriteBatch {
            series: vec![by_handle(&r, &[5000, 6000], &[2.0, 3.0])],
        },
        &mut out,
    );
    assert_eq!(out.accepted, 2);
    let sel = h.select(&[Matcher::new(MatchOp::Equal, "__name__", "idle").unwrap()]);
    assert_eq!(sel.len(), 1);
    assert_ne!(sel[0].id, r.id());
    assert_eq!(sel[0].data.lock().ts, vec![5000, 6000]);
}

#[test]
fn a_weak_handle_neither_keeps_a_forgotten_series_nor_finds_it() {
    let h = head();
    let r = h
        .resolve(&Labels::from_pairs(&[("__name__", "gone")]))
        .unwrap();
    let weak = r.downgrade();
    let mut out = AppendOutcome::default();
    h.append(
        &WriteBatch {
            series: vec![by_handle(&r, &[10], &[1.0])],
        },
        &mut out,
    );
    assert_eq!(weak.upgrade(), Some(r.clone()));
    h.set_persisted_through(4000);
    assert_eq!(h.truncate_through(4000, 1000), 1);
    // Still held by `r`, but dropped: not handed out.
    assert_eq!(weak.upgrade(), None);
    drop(r);
    assert_eq!(weak.0.strong_count(), 0, "the series was freed");
}

/// Appends `batch` on another thread while the main thread holds the lock
/// of `held`; returns the outcome, the ids in the order they were stored,
/// and whether `other` had its samples stored while `held` was still locked.
fn append_around_a_held_lock(
    h: &Head,
    batch: &WriteBatch,
    held: &SeriesRef,
    other: &SeriesRef,
) -> (AppendOutcome, Vec<u32>, bool) {
    let guard = held.0.data.lock();
    std::thread::scope(|s| {
        let t = s.spawn(|| {
            let mut out = AppendOutcome::default();
            let r = h.append(batch, &mut out);
            let ids = r.stored.iter().map(|s| s.series.id).collect::<Vec<_>>();
            (out, ids)
        });
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        let mut other_first = false;
        while std::time::Instant::now() < deadline {
            if !other.0.data.lock().ts.is_empty() {
                other_first = true;
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        drop(guard);
        let (out, ids) = t.join().unwrap();
        (out, ids, other_first)
    })
}

/// The head series `{__name__="<name>"}`.
fn named(h: &Head, name: &str) -> SeriesRef {
    h.resolve(&Labels::from_pairs(&[("__name__", name)]))
        .unwrap()
}

#[test]
fn a_series_another_writer_holds_is_stored_after_the_rest_of_the_batch() {
    let h = head();
    let (a, b) = (named(&h, "a"), named(&h, "b"));
    let batch = WriteBatch {
        series: vec![
            sb(&[("__name__", "a")], &[10, 20], &[1.0, 2.0]),
            sb(&[("__name__", "b")], &[10, 20, 30], &[1.0, 2.0, 3.0]),
        ],
    };
    let (out, ids, b_first) = append_around_a_held_lock(&h, &batch, &a, &b);
    assert!(b_first, "b waited behind a's lock");
    assert_eq!((out.accepted, out.rejected_samples), (5, 0));
    assert_eq!(ids, vec![b.id(), a.id()]);
    assert_eq!(a.0.data.lock().ts, vec![10, 20]);
}

#[test]
fn a_left_series_met_again_keeps_the_batch_order() {
    let h = head();
    let (a, b) = (named(&h, "a"), named(&h, "b"));
    // a at t=20 twice: the first value is stored, the second conflicts,
    // as if the batch were stored in order, although a's lock is free
    // again when the batch meets a the second time.
    let batch = WriteBatch {
        series: vec![
            sb(&[("__name__", "a")], &[10, 20], &[1.0, 2.0]),
            sb(&[("__name__", "b")], &[10], &[1.0]),
            sb(&[("__name__", "a")], &[20, 30], &[9.0, 3.0]),
        ],
    };
    let asked = std::cell::Cell::new(0);
    let mut out = AppendOutcome::default();
    let r = h.append_leaving(&batch, &mut out, |s| {
        asked.set(asked.get() + 1);
        s.id == a.id() && asked.get() == 1
    });
    let ids = r.stored.iter().map(|s| s.series.id).collect::<Vec<_>>();
    assert_eq!(ids, vec![b.id(), a.id(), a.id()]);
    assert_eq!((out.accepted, out.rejected_samples), (4, 1));
    assert!(matches!(
        out.rejected[0].reason,
        RejectReason::Conflict { timestamp: 20, .. }
    ));
    let data = a.0.data.lock();
    assert_eq!(
        (&data.ts[..], &data.vals[..]),
        (&[10, 20, 30][..], &[1.0, 2.0, 3.0][..])
    );
}
