use super::*;
use crate::index::MatchOp;

fn sb(pairs: &[(&str, &str)], ts: &[i64], vs: &[f64]) -> SeriesBatch {
    SeriesBatch {
        labels: Labels::from_pairs(pairs),
        kind: SeriesKind::Counter,
        timestamps: ts.to_vec(),
        values: vs.to_vec(),
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
