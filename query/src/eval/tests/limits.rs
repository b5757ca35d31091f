//! Limits, cancellation and request validation.

use std::time::Duration;

use super::*;

fn data() -> Db {
    let db = Db::new();
    let vals: Vec<f64> = (0..100).map(f64::from).collect();
    db.add("x", &[("i", "1")], &ramp(0, 15 * S, &vals));
    db.add("x", &[("i", "2")], &ramp(0, 15 * S, &vals));
    db
}

fn run(db: &Db, e: &Expr, opts: &QueryOptions, cancel: &Cancel) -> Result<Value, QueryError> {
    eval_range(&db.engine.snapshot(), e, 0, 20 * M, M, opts, cancel)
}

#[test]
fn too_many_samples() {
    let db = data();
    let e = call("rate", vec![mat(sel("x"), 5 * M)]);
    let small = QueryOptions {
        max_samples: 150,
        ..QueryOptions::default()
    };
    match run(&db, &e, &small, &Cancel::new()) {
        Err(err @ QueryError::TooManySamples { limit: 150 }) => {
            assert_eq!(err.error_type(), "execution");
            assert!(err.to_string().contains("too many samples"), "{err}");
        }
        other => panic!("expected TooManySamples, got {other:?}"),
    }
    let enough = QueryOptions {
        max_samples: 10_000,
        ..QueryOptions::default()
    };
    assert!(run(&db, &e, &enough, &Cancel::new()).is_ok());
}

#[test]
fn a_canceled_query_returns_canceled() {
    let db = data();
    let cancel = Cancel::new();
    let other = cancel.clone();
    other.cancel();
    assert!(cancel.is_canceled());
    let e = agg(AggregateOp::Sum, sel("x"));
    match run(&db, &e, &QueryOptions::default(), &cancel) {
        Err(QueryError::Canceled) => {}
        other => panic!("expected Canceled, got {other:?}"),
    }
}

#[test]
fn a_query_out_of_time_returns_timeout() {
    let db = data();
    let none = QueryOptions {
        timeout: Duration::ZERO,
        ..QueryOptions::default()
    };
    match run(&db, &sel("x"), &none, &Cancel::new()) {
        Err(err @ QueryError::Timeout { .. }) => assert_eq!(err.error_type(), "timeout"),
        other => panic!("expected Timeout, got {other:?}"),
    }
}

#[test]
fn cancel_is_shared_across_threads() {
    let cancel = Cancel::new();
    let c2 = cancel.clone();
    std::thread::spawn(move || c2.cancel()).join().unwrap();
    assert!(cancel.is_canceled());
    fn send_sync<T: Send + Sync>(_: &T) {}
    send_sync(&cancel);
}

#[test]
fn range_parameters_are_validated_as_prometheus_words_them() {
    let db = data();
    let snap = db.engine.snapshot();
    let e = sel("x");
    let opts = QueryOptions::default();
    let err = |s, end, step| {
        eval_range(&snap, &e, s, end, step, &opts, &Cancel::new())
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        err(10, 9, 1),
        "invalid parameter \"end\": end timestamp must not be before start time"
    );
    assert_eq!(
        err(0, 10, 0),
        "invalid parameter \"step\": zero or negative query resolution step widths are not accepted. Try a positive integer"
    );
    assert_eq!(
        err(0, 11_001, 1),
        "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)"
    );
    // 11,000 intervals (11,001 points) are allowed
    assert!(eval_range(&snap, &e, 0, 11_000, 1, &opts, &Cancel::new()).is_ok());
    let m = mat(sel("x"), M);
    match eval_range(&snap, &m, 0, 10, 1, &opts, &Cancel::new()) {
        Err(e @ QueryError::BadRequest(_)) => assert_eq!(
            e.to_string(),
            "invalid expression type \"range vector\" for range query, must be Scalar or instant Vector"
        ),
        other => panic!("{other:?}"),
    }
}
