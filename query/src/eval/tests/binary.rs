//! Binary operators.

use super::*;
use BinaryOp::*;

fn data() -> Db {
    let db = Db::new();
    db.add("a", &[("k", "1"), ("g", "x")], &[(0, 10.0)]);
    db.add("a", &[("k", "2"), ("g", "y")], &[(0, 20.0)]);
    db.add("b", &[("k", "1"), ("g", "x")], &[(0, 3.0)]);
    db.add("b", &[("k", "2"), ("g", "x")], &[(0, 4.0)]);
    db.add("c", &[("g", "x"), ("team", "t1")], &[(0, 100.0)]);
    db.add("c", &[("g", "y"), ("team", "t2")], &[(0, 200.0)]);
    db
}

#[test]
fn scalar_arithmetic_is_gos() {
    let db = Db::new();
    let s = |op, l: f64, r: f64| db.scalar(&bin(op, num(l), num(r)), 0);
    assert_eq!(s(Mod, 7.0, 3.0), 1.0);
    assert_eq!(s(Mod, -7.0, 3.0), -1.0);
    assert_eq!(s(Mod, 7.5, 2.0), 1.5);
    assert!(s(Mod, 1.0, 0.0).is_nan());
    assert_eq!(s(Mod, 1.0, f64::INFINITY), 1.0);
    assert_eq!(s(Div, 1.0, 0.0), f64::INFINITY);
    assert_eq!(s(Div, -1.0, 0.0), f64::NEG_INFINITY);
    assert!(s(Div, 0.0, 0.0).is_nan());
    assert_eq!(s(Pow, 2.0, 10.0), 1024.0);
    assert_eq!(s(Pow, 2.0, -1.0), 0.5);
    assert!(s(Pow, -8.0, 1.0 / 3.0).is_nan());
    assert_eq!(s(Pow, f64::NAN, 0.0), 1.0);
    assert_eq!(s(Atan2, 0.0, -1.0), std::f64::consts::PI);
    assert_eq!(s(Sub, 1.0, 3.0), -2.0);
    let c = |op, l: f64, r: f64| db.scalar(&bin_bool(op, num(l), num(r)), 0);
    assert_eq!(c(Eq, 1.0, 1.0), 1.0);
    assert_eq!(c(Eq, f64::NAN, f64::NAN), 0.0);
    assert_eq!(c(Ne, f64::NAN, f64::NAN), 1.0);
    assert_eq!(c(Ge, 2.0, 2.0), 1.0);
    assert_eq!(c(Lt, f64::NAN, 1.0), 0.0);
}

#[test]
fn vector_scalar_arithmetic_drops_the_name_filters_keep_it() {
    let db = data();
    assert_eq!(
        db.vector_sorted(&bin(Mul, sel("a"), num(2.0)), M),
        owned(&[("{g=\"x\", k=\"1\"}", 20.0), ("{g=\"y\", k=\"2\"}", 40.0)])
    );
    assert_eq!(
        db.vector_sorted(&bin(Sub, num(1.0), sel("a")), M),
        owned(&[("{g=\"x\", k=\"1\"}", -9.0), ("{g=\"y\", k=\"2\"}", -19.0)])
    );
    assert_eq!(
        db.vector(&bin(Gt, sel("a"), num(15.0)), M),
        owned(&[("a{g=\"y\", k=\"2\"}", 20.0)])
    );
    // the scalar on the left: the vector's value is kept
    assert_eq!(
        db.vector(&bin(Lt, num(15.0), sel("a")), M),
        owned(&[("a{g=\"y\", k=\"2\"}", 20.0)])
    );
    assert_eq!(
        db.vector_sorted(&bin_bool(Gt, sel("a"), num(15.0)), M),
        owned(&[("{g=\"x\", k=\"1\"}", 0.0), ("{g=\"y\", k=\"2\"}", 1.0)])
    );
    assert_eq!(
        db.vector_sorted(&bin_bool(Lt, num(15.0), sel("a")), M),
        owned(&[("{g=\"x\", k=\"1\"}", 0.0), ("{g=\"y\", k=\"2\"}", 1.0)])
    );
    // NaN compares false everywhere but !=
    assert_eq!(db.vector(&bin(Eq, sel("a"), num(f64::NAN)), M), owned(&[]));
    assert_eq!(db.vector(&bin(Ne, sel("a"), num(f64::NAN)), M).len(), 2);
}

#[test]
fn one_to_one_matching() {
    let db = data();
    assert_eq!(
        db.vector(&bin(Sub, sel("a"), sel("b")), M),
        owned(&[("{g=\"x\", k=\"1\"}", 7.0)])
    );
    let ig = bin_m(
        Sub,
        sel("a"),
        sel("b"),
        Cardinality::OneToOne,
        false,
        &["g"],
        &[],
    );
    assert_eq!(
        db.vector_sorted(&ig, M),
        owned(&[("{k=\"1\"}", 7.0), ("{k=\"2\"}", 16.0)])
    );
    let on = bin_m(
        Add,
        sel("a"),
        sel("b"),
        Cardinality::OneToOne,
        true,
        &["k"],
        &[],
    );
    assert_eq!(
        db.vector_sorted(&on, M),
        owned(&[("{k=\"1\"}", 13.0), ("{k=\"2\"}", 24.0)])
    );
    // a filtering comparison keeps the left value, with the matched labels
    let gt = bin_m(
        Gt,
        sel("a"),
        sel("b"),
        Cardinality::OneToOne,
        true,
        &["k"],
        &[],
    );
    assert_eq!(
        db.vector_sorted(&gt, M),
        owned(&[("{k=\"1\"}", 10.0), ("{k=\"2\"}", 20.0)])
    );
    // without a modifier the name stays on filtering comparisons
    assert_eq!(
        db.vector(&bin(Gt, sel("a"), sel("b")), M),
        owned(&[("a{g=\"x\", k=\"1\"}", 10.0)])
    );
    let mut b = bin_m(
        Lt,
        sel("a"),
        sel("b"),
        Cardinality::OneToOne,
        true,
        &["k"],
        &[],
    );
    if let Expr::Binary(x) = &mut b {
        x.return_bool = true;
    }
    assert_eq!(
        db.vector_sorted(&b, M),
        owned(&[("{k=\"1\"}", 0.0), ("{k=\"2\"}", 0.0)])
    );
}

#[test]
fn group_left_and_group_right() {
    let db = data();
    let gl = bin_m(
        Mul,
        sel("a"),
        sel("c"),
        Cardinality::ManyToOne,
        true,
        &["g"],
        &["team"],
    );
    assert_eq!(
        db.vector_sorted(&gl, M),
        owned(&[
            ("{g=\"x\", k=\"1\", team=\"t1\"}", 1000.0),
            ("{g=\"y\", k=\"2\", team=\"t2\"}", 4000.0)
        ])
    );
    // the "one" side is on the left: the operation keeps its order
    let gr = bin_m(
        Div,
        sel("c"),
        sel("b"),
        Cardinality::OneToMany,
        true,
        &["g"],
        &[],
    );
    assert_eq!(
        db.vector_sorted(&gr, M),
        owned(&[
            ("{g=\"x\", k=\"1\"}", 100.0 / 3.0),
            ("{g=\"x\", k=\"2\"}", 25.0)
        ])
    );
    // a filtering group_left keeps the many side's name
    let gl = bin_m(
        Gt,
        sel("a"),
        sel("c"),
        Cardinality::ManyToOne,
        true,
        &["g"],
        &[],
    );
    assert_eq!(db.vector(&gl, M), owned(&[]));
    let gl = bin_m(
        Lt,
        sel("a"),
        sel("c"),
        Cardinality::ManyToOne,
        true,
        &["g"],
        &[],
    );
    assert_eq!(
        db.vector_sorted(&gl, M),
        owned(&[("a{g=\"x\", k=\"1\"}", 10.0), ("a{g=\"y\", k=\"2\"}", 20.0)])
    );
}

#[test]
fn matching_errors_read_as_prometheus() {
    let db = data();
    let dup = bin_m(
        Mul,
        sel("a"),
        sel("b"),
        Cardinality::ManyToOne,
        true,
        &["g"],
        &[],
    );
    assert_eq!(
        db.error(&dup, M),
        "found duplicate series for the match group {g=\"x\"} on the right hand-side of the operation: \
         [{__name__=\"b\", g=\"x\", k=\"2\"}, {__name__=\"b\", g=\"x\", k=\"1\"}];many-to-many matching \
         not allowed: matching labels must be unique on one side"
    );
    let dup = bin_m(
        Mul,
        sel("b"),
        sel("a"),
        Cardinality::OneToMany,
        true,
        &["g"],
        &[],
    );
    assert!(db.error(&dup, M).contains("on the left hand-side"));
    let dup = bin_m(
        Sub,
        sel("a"),
        sel("b"),
        Cardinality::OneToOne,
        false,
        &["k"],
        &[],
    );
    assert!(db.error(&dup, M).starts_with(
        "found duplicate series for the match group {g=\"x\"} on the right hand-side"
    ));
    let many = bin_m(
        Sub,
        sel("b"),
        sel("c"),
        Cardinality::OneToOne,
        true,
        &["g"],
        &[],
    );
    assert_eq!(
        db.error(&many, M),
        "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)"
    );
    db.add("n1", &[("g", "x")], &[(0, 1.0)]);
    db.add("n2", &[("g", "x")], &[(0, 2.0)]);
    let lhs = sel_matchers(&[("__name__", MatchOp::RegexMatch, "n1|n2")]);
    let gl = bin_m(
        Add,
        lhs,
        sel("c"),
        Cardinality::ManyToOne,
        true,
        &["g"],
        &[],
    );
    assert_eq!(
        db.error(&gl, M),
        "multiple matches for labels: grouping labels must ensure unique matches"
    );
}

#[test]
fn set_operators() {
    let db = data();
    assert_eq!(
        db.vector(&bin(And, sel("a"), sel("b")), M),
        owned(&[("a{g=\"x\", k=\"1\"}", 10.0)])
    );
    let on_k = bin_m(
        And,
        sel("a"),
        sel("b"),
        Cardinality::ManyToMany,
        true,
        &["k"],
        &[],
    );
    assert_eq!(db.vector(&on_k, M).len(), 2);
    assert_eq!(
        db.vector_sorted(&bin(Or, sel("a"), sel("b")), M),
        owned(&[
            ("a{g=\"x\", k=\"1\"}", 10.0),
            ("a{g=\"y\", k=\"2\"}", 20.0),
            ("b{g=\"x\", k=\"2\"}", 4.0)
        ])
    );
    assert_eq!(
        db.vector(&bin(Unless, sel("a"), sel("b")), M),
        owned(&[("a{g=\"y\", k=\"2\"}", 20.0)])
    );
    let ig = bin_m(
        Unless,
        sel("a"),
        sel("b"),
        Cardinality::ManyToMany,
        false,
        &["k"],
        &[],
    );
    assert_eq!(db.vector(&ig, M), owned(&[("a{g=\"y\", k=\"2\"}", 20.0)]));
    // nothing on one side
    assert_eq!(db.vector(&bin(And, sel("a"), sel("none")), M), owned(&[]));
    assert_eq!(db.vector(&bin(Or, sel("none"), sel("b")), M).len(), 2);
    assert_eq!(db.vector(&bin(Unless, sel("a"), sel("none")), M).len(), 2);
}

#[test]
fn operators_over_a_range() {
    let db = Db::new();
    db.add("p", &[], &ramp(0, M, &[1.0, 2.0, 3.0, 4.0]));
    db.add("q", &[], &ramp(2 * M, M, &[10.0, 10.0]));
    let e = bin(Add, sel("p"), bin(Mul, sel("q"), num(0.0)));
    // q exists from 2 m: p + q*0 only from there
    assert_eq!(
        db.matrix(&e, 0, 3 * M, M),
        vec![("{}".to_string(), vec![(2 * M, 3.0), (3 * M, 4.0)])]
    );
    assert_eq!(
        db.matrix(&bin(Or, sel("q"), sel("p")), 0, 3 * M, M),
        vec![
            ("p{}".to_string(), vec![(0, 1.0), (M, 2.0)]),
            ("q{}".to_string(), vec![(2 * M, 10.0), (3 * M, 10.0)]),
        ]
    );
}
