//! Subqueries: step alignment, default step, offset and `@`.

use super::*;

/// `x` = the minute number, one sample a minute.
fn minutes() -> Db {
    let db = Db::new();
    let vals: Vec<f64> = (0..=30).map(f64::from).collect();
    db.add("x", &[], &ramp(0, M, &vals));
    db
}

fn points(db: &Db, e: &Expr, t: i64) -> Vec<(i64, f64)> {
    let m = matrix_of(db.instant(e, t).unwrap());
    assert!(m.len() <= 1, "{m:?}");
    m.into_iter().next().map(|s| s.1).unwrap_or_default()
}

fn mins(list: &[i64]) -> Vec<(i64, f64)> {
    list.iter().map(|&m| (m * M, m as f64)).collect()
}

#[test]
fn steps_are_absolute_multiples_of_the_step() {
    let db = minutes();
    let e = sq(sel("x"), 5 * M, Some(M));
    assert_eq!(points(&db, &e, 10 * M + 30 * S), mins(&[6, 7, 8, 9, 10]));
    // the window's first instant counts when it is a step
    assert_eq!(points(&db, &e, 10 * M), mins(&[5, 6, 7, 8, 9, 10]));
    let e = sq(sel("x"), 5 * M, Some(2 * M));
    assert_eq!(points(&db, &e, 10 * M + 30 * S), mins(&[6, 8, 10]));
    // a range shorter than the step may hold no step at all
    let e = sq(sel("x"), 30 * S, Some(M));
    assert_eq!(points(&db, &e, 10 * M + 15 * S), mins(&[10]));
    assert_eq!(points(&db, &e, 10 * M + 45 * S), mins(&[]));
}

#[test]
fn the_default_step_is_one_minute() {
    let db = minutes();
    let e = sq(sel("x"), 3 * M, None);
    assert_eq!(points(&db, &e, 10 * M + 30 * S), mins(&[8, 9, 10]));
    // also in a range query, whatever its step
    let f = call("count_over_time", vec![sq(sel("x"), 3 * M, None)]);
    assert_eq!(
        db.matrix(&f, 10 * M, 10 * M + 20 * S, 20 * S),
        vec![(
            "{}".to_string(),
            vec![(10 * M, 4.0), (10 * M + 20 * S, 3.0)]
        )]
    );
}

#[test]
fn offset_and_at_move_the_subquery() {
    let db = minutes();
    let e = offset(sq(sel("x"), 3 * M, Some(M)), 2 * M);
    assert_eq!(points(&db, &e, 10 * M), mins(&[5, 6, 7, 8]));
    let e = at(sq(sel("x"), 3 * M, Some(M)), At::Timestamp(4 * M));
    assert_eq!(points(&db, &e, 10 * M), mins(&[1, 2, 3, 4]));
    let e = offset(at(sq(sel("x"), 3 * M, Some(M)), At::Timestamp(4 * M)), M);
    assert_eq!(points(&db, &e, 10 * M), mins(&[0, 1, 2, 3]));
    // an @ inside fixes the inner selector at every inner step
    let e = sq(at(sel("x"), At::Timestamp(2 * M)), 2 * M, Some(M));
    assert_eq!(
        points(&db, &e, 10 * M),
        vec![(8 * M, 2.0), (9 * M, 2.0), (10 * M, 2.0)]
    );
}

#[test]
fn functions_over_subqueries_in_range_queries() {
    let db = minutes();
    let f = call("sum_over_time", vec![sq(sel("x"), 2 * M, Some(M))]);
    // steps at 3 m, 4 m 30 s, 6 m read the inner steps in [t - 2 m, t]
    assert_eq!(
        db.matrix(&f, 3 * M, 6 * M, 90 * S),
        vec![(
            "{}".to_string(),
            vec![(3 * M, 6.0), (3 * M + 90 * S, 7.0), (6 * M, 15.0)]
        )]
    );
    let f = call("max_over_time", vec![sq(sel("x"), 5 * M, Some(2 * M))]);
    assert_eq!(db.vector(&f, 10 * M + 30 * S), owned(&[("{}", 10.0)]));
    // x grows 10 over the 600 s the 11 inner steps span; no extrapolation
    let r = call("rate", vec![sq(sel("x"), 10 * M, Some(M))]);
    assert_eq!(
        db.vector(&r, 20 * M),
        owned(&[("{}", 10.0 * (1.0 / 600.0))])
    );
}

#[test]
fn nested_subqueries() {
    let db = minutes();
    let inner = call("max_over_time", vec![sq(sel("x"), 2 * M, Some(M))]);
    let outer = call("min_over_time", vec![sq(inner, 3 * M, Some(M))]);
    // inner at 7..10 m is 7..10; the minimum is 7
    assert_eq!(db.vector(&outer, 10 * M), owned(&[("{}", 7.0)]));
}
