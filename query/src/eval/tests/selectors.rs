//! Instant and range vector selection: lookback, stale markers, offset,
//! `@`, instant and range query shapes.

use super::*;

#[test]
fn lookback_includes_a_sample_exactly_five_minutes_old() {
    let db = Db::new();
    db.add("x", &[("a", "1")], &[(10 * S, 1.0), (20 * S, 2.0)]);
    let x = sel("x");
    assert_eq!(db.vector(&x, 10 * S), owned(&[("x{a=\"1\"}", 1.0)]));
    assert_eq!(db.vector(&x, 10 * S - 1), owned(&[]));
    assert_eq!(db.vector(&x, 15 * S), owned(&[("x{a=\"1\"}", 1.0)]));
    assert_eq!(db.vector(&x, 20 * S + 5 * M), owned(&[("x{a=\"1\"}", 2.0)]));
    assert_eq!(db.vector(&x, 20 * S + 5 * M + 1), owned(&[]));
}

#[test]
fn a_stale_marker_hides_the_series_until_the_next_sample() {
    let db = Db::new();
    db.add("y", &[], &[(0, 1.0), (10 * S, STALE), (20 * S, 3.0)]);
    let y = sel("y");
    assert_eq!(db.vector(&y, 5 * S), owned(&[("y{}", 1.0)]));
    assert_eq!(db.vector(&y, 10 * S), owned(&[]));
    assert_eq!(db.vector(&y, 15 * S), owned(&[]));
    assert_eq!(db.vector(&y, 20 * S), owned(&[("y{}", 3.0)]));
    // never in range vectors
    let got = matrix_of(db.instant(&mat(sel("y"), 30 * S), 20 * S).unwrap());
    assert_eq!(
        got,
        vec![("y{}".to_string(), vec![(0, 1.0), (20 * S, 3.0)])]
    );
    // a range query has only the steps with a value
    assert_eq!(
        db.matrix(&y, 0, 30 * S, 5 * S),
        vec![(
            "y{}".to_string(),
            vec![
                (0, 1.0),
                (5 * S, 1.0),
                (20 * S, 3.0),
                (25 * S, 3.0),
                (30 * S, 3.0)
            ]
        )]
    );
}

fn minutes() -> Db {
    let db = Db::new();
    let vals: Vec<f64> = (0..=10).map(f64::from).collect();
    db.add("x", &[], &ramp(0, M, &vals));
    db
}

#[test]
fn offset_reads_earlier_data() {
    let db = minutes();
    assert_eq!(
        db.vector(&offset(sel("x"), 2 * M), 5 * M),
        owned(&[("x{}", 3.0)])
    );
    assert_eq!(
        db.vector(&offset(sel("x"), -M), 5 * M),
        owned(&[("x{}", 6.0)])
    );
    // the output time is the evaluation time, not the sample's
    assert_eq!(
        db.vector(&offset(sel("x"), 2 * M), 5 * M + 30 * S),
        owned(&[("x{}", 3.0)])
    );
}

#[test]
fn at_fixes_the_time_and_offset_shifts_from_it() {
    let db = minutes();
    let x_at = at(sel("x"), At::Timestamp(2 * M));
    assert_eq!(db.vector(&x_at, 10 * M), owned(&[("x{}", 2.0)]));
    assert_eq!(db.vector(&x_at, 0), owned(&[("x{}", 2.0)]));
    let x_at_off = offset(at(sel("x"), At::Timestamp(5 * M)), M);
    assert_eq!(db.vector(&x_at_off, 9 * M), owned(&[("x{}", 4.0)]));
    // start() and end() are the range query's
    assert_eq!(
        db.matrix(&at(sel("x"), At::Start), 2 * M, 4 * M, M),
        vec![(
            "x{}".to_string(),
            vec![(2 * M, 2.0), (3 * M, 2.0), (4 * M, 2.0)]
        )]
    );
    assert_eq!(
        db.matrix(&at(sel("x"), At::End), 2 * M, 4 * M, M),
        vec![(
            "x{}".to_string(),
            vec![(2 * M, 4.0), (3 * M, 4.0), (4 * M, 4.0)]
        )]
    );
    // and the instant query's time
    assert_eq!(
        db.vector(&at(sel("x"), At::End), 7 * M),
        owned(&[("x{}", 7.0)])
    );
}

#[test]
fn matrix_selector_window_is_closed_at_both_ends() {
    let db = minutes();
    let got = matrix_of(db.instant(&mat(sel("x"), 2 * M), 5 * M).unwrap());
    assert_eq!(
        got,
        vec![(
            "x{}".to_string(),
            vec![(3 * M, 3.0), (4 * M, 4.0), (5 * M, 5.0)]
        )]
    );
    let e = offset(at(mat(sel("x"), 2 * M), At::Timestamp(5 * M)), M);
    let got = matrix_of(db.instant(&e, 9 * M).unwrap());
    assert_eq!(
        got,
        vec![(
            "x{}".to_string(),
            vec![(2 * M, 2.0), (3 * M, 3.0), (4 * M, 4.0)]
        )]
    );
    // a window with no sample leaves the series out
    let got = matrix_of(db.instant(&mat(sel("x"), 30 * S), 10 * M + 45 * S).unwrap());
    assert!(got.is_empty(), "{got:?}");
}

#[test]
fn range_queries_step_from_start_and_sort_series() {
    let db = Db::new();
    db.add("z", &[("b", "2")], &[(0, 1.0)]);
    db.add("z", &[("b", "1")], &[(3 * M, 5.0)]);
    let got = db.matrix(&sel("z"), 0, 10 * M, 2 * M);
    assert_eq!(
        got,
        vec![
            (
                "z{b=\"1\"}".to_string(),
                vec![(4 * M, 5.0), (6 * M, 5.0), (8 * M, 5.0)]
            ),
            (
                "z{b=\"2\"}".to_string(),
                vec![(0, 1.0), (2 * M, 1.0), (4 * M, 1.0)]
            ),
        ]
    );
    // the last step is at or before the end
    let got = db.matrix(&sel("z"), 0, 5 * M, 2 * M);
    assert_eq!(got[1].1.last().unwrap().0, 4 * M);
}

#[test]
fn matchers_select_by_labels() {
    let db = Db::new();
    db.add("m", &[("job", "api"), ("code", "200")], &[(0, 1.0)]);
    db.add("m", &[("job", "api"), ("code", "500")], &[(0, 2.0)]);
    db.add("m", &[("job", "web"), ("code", "500")], &[(0, 3.0)]);
    let e = sel_with(
        "m",
        &[
            ("code", MatchOp::RegexMatch, "5.."),
            ("job", MatchOp::NotEqual, "web"),
        ],
    );
    assert_eq!(
        db.vector(&e, M),
        owned(&[("m{code=\"500\", job=\"api\"}", 2.0)])
    );
    let e = sel_matchers(&[("job", MatchOp::Equal, "web")]);
    assert_eq!(
        db.vector(&e, M),
        owned(&[("m{code=\"500\", job=\"web\"}", 3.0)])
    );
}

#[test]
fn scalars_strings_and_literals() {
    let db = Db::new();
    assert_eq!(db.scalar(&num(2.5), 7 * S), 2.5);
    assert_eq!(
        db.instant(&string("hi"), 7 * S).unwrap(),
        Value::String {
            t: 7 * S,
            s: "hi".into()
        }
    );
    assert_eq!(db.scalar(&neg(num(2.0)), 0), -2.0);
    assert_eq!(
        db.matrix(&num(3.0), 0, 2 * M, M),
        vec![("{}".to_string(), vec![(0, 3.0), (M, 3.0), (2 * M, 3.0)])]
    );
    assert_eq!(db.scalar(&Expr::Duration(90 * S), 0), 90.0);
}

#[test]
fn unary_minus_drops_the_name_and_checks_label_sets() {
    let db = Db::new();
    db.add("a", &[("k", "1")], &[(0, 1.0)]);
    db.add("b", &[("k", "1")], &[(0, 2.0)]);
    assert_eq!(db.vector(&neg(sel("a")), M), owned(&[("{k=\"1\"}", -1.0)]));
    let both = sel_matchers(&[("__name__", MatchOp::RegexMatch, "a|b")]);
    assert_eq!(
        db.error(&neg(both), M),
        "vector cannot contain metrics with the same labelset"
    );
}
