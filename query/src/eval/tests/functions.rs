//! Functions of instant vectors and scalars.

use super::*;

fn f1(name: &str, e: Expr) -> Expr {
    call(name, vec![e])
}

fn values(db: &Db, e: &Expr, t: i64) -> Vec<f64> {
    db.vector_sorted(e, t).into_iter().map(|s| s.1).collect()
}

#[test]
fn math_functions_drop_the_name() {
    let db = Db::new();
    db.add("x", &[("i", "1")], &[(0, -2.5)]);
    db.add("x", &[("i", "2")], &[(0, 100.0)]);
    db.add("x", &[("i", "3")], &[(0, 1e15)]);
    assert_eq!(
        db.vector_sorted(&f1("abs", sel("x")), M),
        owned(&[
            ("{i=\"1\"}", 2.5),
            ("{i=\"2\"}", 100.0),
            ("{i=\"3\"}", 1e15)
        ])
    );
    assert_eq!(
        values(&db, &f1("ceil", sel("x")), M),
        vec![-2.0, 100.0, 1e15]
    );
    assert_eq!(
        values(&db, &f1("floor", sel("x")), M),
        vec![-3.0, 100.0, 1e15]
    );
    assert_eq!(values(&db, &f1("sgn", sel("x")), M), vec![-1.0, 1.0, 1.0]);
    // Go's Log10 is Log(x) * (1/Ln10)
    assert_eq!(
        values(&db, &f1("log10", sel("x")), M)[1..],
        [2.0, 14.999999999999998]
    );
    let v = values(&db, &f1("sqrt", sel("x")), M);
    assert!(v[0].is_nan());
    assert_eq!(v[1], 10.0);
    let v = values(&db, &f1("ln", sel("x")), M);
    assert!(v[0].is_nan());
    assert_eq!(
        values(&db, &f1("log2", bin(BinaryOp::Mul, sel("x"), num(0.0))), M)[0],
        f64::NEG_INFINITY
    );
    assert_eq!(db.scalar(&call("pi", vec![]), 0), std::f64::consts::PI);
    let v = values(&db, &f1("deg", bin(BinaryOp::Mul, sel("x"), num(0.0))), M);
    assert_eq!(v[0].to_bits(), (-0.0f64).to_bits());
    assert_eq!(
        values(&db, &f1("exp", bin(BinaryOp::Mul, sel("x"), num(0.0))), M),
        vec![1.0; 3]
    );
}

#[test]
fn clamp_and_round() {
    let db = Db::new();
    db.add("x", &[("i", "1")], &[(0, -2.5)]);
    db.add("x", &[("i", "2")], &[(0, 7.25)]);
    db.add("x", &[("i", "3")], &[(0, f64::NAN)]);
    let c = |lo, hi| call("clamp", vec![sel("x"), num(lo), num(hi)]);
    let v = values(&db, &c(0.0, 5.0), M);
    assert_eq!(v[..2], [0.0, 5.0]);
    assert!(v[2].is_nan());
    assert_eq!(db.vector(&c(5.0, 0.0), M), owned(&[]));
    let v = values(&db, &call("clamp_max", vec![sel("x"), num(1.0)]), M);
    assert_eq!(v[..2], [-2.5, 1.0]);
    let v = values(&db, &call("clamp_min", vec![sel("x"), num(1.0)]), M);
    assert_eq!(v[..2], [1.0, 7.25]);
    let v = values(&db, &f1("round", sel("x")), M);
    assert_eq!(v[..2], [-2.0, 7.0]);
    let v = values(&db, &call("round", vec![sel("x"), num(0.5)]), M);
    assert_eq!(v[..2], [-2.5, 7.5]);
    assert!(db.vector(&f1("round", sel("x")), M)[0].0.starts_with('{'));
}

#[test]
fn time_and_date_functions() {
    let db = Db::new();
    // 2024-02-29T13:45:10Z and 2023-12-31T12:00:00Z in seconds
    db.add("d", &[("i", "1")], &[(0, 1_709_214_310.0)]);
    db.add("d", &[("i", "2")], &[(0, 1_704_024_000.0)]);
    let t = 2 * M;
    let d = |name: &str| values(&db, &f1(name, sel("d")), t);
    assert_eq!(d("year"), vec![2024.0, 2023.0]);
    assert_eq!(d("month"), vec![2.0, 12.0]);
    assert_eq!(d("day_of_month"), vec![29.0, 31.0]);
    assert_eq!(d("day_of_week"), vec![4.0, 0.0]);
    assert_eq!(d("day_of_year"), vec![60.0, 365.0]);
    assert_eq!(d("days_in_month"), vec![29.0, 31.0]);
    assert_eq!(d("hour"), vec![13.0, 12.0]);
    assert_eq!(d("minute"), vec![45.0, 0.0]);
    assert_eq!(db.vector(&f1("hour", sel("d")), t)[0].0, "{i=\"1\"}");
    // without an argument: the evaluation time
    let at = 1_709_214_310_500;
    assert_eq!(
        db.vector(&call("minute", vec![]), at),
        owned(&[("{}", 45.0)])
    );
    assert_eq!(
        db.vector(&call("year", vec![]), at),
        owned(&[("{}", 2024.0)])
    );
    assert_eq!(db.scalar(&call("time", vec![]), 1_500), 1.5);
    assert_eq!(
        db.matrix(&call("time", vec![]), 0, 2 * M, M),
        vec![("{}".to_string(), vec![(0, 0.0), (M, 60.0), (2 * M, 120.0)])]
    );
}

#[test]
fn timestamp_reads_the_sample_time() {
    let db = Db::new();
    db.add(
        "x",
        &[("j", "a")],
        &[(10 * S, 1.0), (70 * S, 2.0), (130 * S, 3.0)],
    );
    let ts = |e| db.vector(&f1("timestamp", e), 100 * S);
    assert_eq!(ts(sel("x")), owned(&[("{j=\"a\"}", 70.0)]));
    assert_eq!(ts(paren(sel("x"))), owned(&[("{j=\"a\"}", 70.0)]));
    // offset: the time of the sample found, not shifted back
    assert_eq!(ts(offset(sel("x"), M)), owned(&[("{j=\"a\"}", 10.0)]));
    // not a selector: the evaluation time
    assert_eq!(ts(neg(sel("x"))), owned(&[("{j=\"a\"}", 100.0)]));
    // with @ Prometheus reads at the @ time and ignores the offset
    assert_eq!(
        ts(offset(at(sel("x"), At::Timestamp(140 * S)), M)),
        owned(&[("{j=\"a\"}", 130.0)])
    );
}

#[test]
fn vector_scalar_absent() {
    let db = Db::new();
    db.add("one", &[], &[(0, 5.0)]);
    db.add("two", &[("i", "1")], &[(0, 1.0)]);
    db.add("two", &[("i", "2")], &[(0, 2.0)]);
    assert_eq!(db.vector(&f1("vector", num(3.0)), M), owned(&[("{}", 3.0)]));
    assert_eq!(db.scalar(&f1("scalar", sel("one")), M), 5.0);
    assert!(db.scalar(&f1("scalar", sel("two")), M).is_nan());
    assert!(db.scalar(&f1("scalar", sel("none")), M).is_nan());
    assert_eq!(db.vector(&f1("absent", sel("one")), M), owned(&[]));
    let nope = sel_with(
        "nope",
        &[("job", MatchOp::Equal, "a"), ("x", MatchOp::NotEqual, "b")],
    );
    assert_eq!(
        db.vector(&f1("absent", nope), M),
        owned(&[("{job=\"a\"}", 1.0)])
    );
    let summed = agg(
        AggregateOp::Sum,
        sel_with("nope", &[("job", MatchOp::Equal, "a")]),
    );
    assert_eq!(db.vector(&f1("absent", summed), M), owned(&[("{}", 1.0)]));
}

#[test]
fn sort_puts_nan_last_both_ways() {
    let db = Db::new();
    for (i, v) in [3.0, f64::NAN, 1.0, 2.0].into_iter().enumerate() {
        db.add("s", &[("i", &i.to_string())], &[(0, v)]);
    }
    let order = |name| -> Vec<String> {
        db.vector(&f1(name, sel("s")), M)
            .into_iter()
            .map(|s| s.0)
            .collect()
    };
    assert_eq!(
        order("sort"),
        vec!["s{i=\"2\"}", "s{i=\"3\"}", "s{i=\"0\"}", "s{i=\"1\"}"]
    );
    assert_eq!(
        order("sort_desc"),
        vec!["s{i=\"0\"}", "s{i=\"3\"}", "s{i=\"2\"}", "s{i=\"1\"}"]
    );
}

#[test]
fn label_replace_and_join() {
    let db = Db::new();
    db.add("lr", &[("src", "api-1")], &[(0, 1.0)]);
    db.add("lr", &[("src", "web")], &[(0, 2.0)]);
    let lr = |dst, repl, src, re| {
        call(
            "label_replace",
            vec![
                sel("lr"),
                string(dst),
                string(repl),
                string(src),
                string(re),
            ],
        )
    };
    assert_eq!(
        db.vector_sorted(&lr("svc", "$1", "src", "(.*)-[0-9]+"), M),
        owned(&[
            ("lr{src=\"api-1\", svc=\"api\"}", 1.0),
            ("lr{src=\"web\"}", 2.0)
        ])
    );
    // no match: unchanged, name and all
    assert_eq!(
        db.vector_sorted(&lr("svc", "$1", "src", "x(.*)"), M),
        owned(&[("lr{src=\"api-1\"}", 1.0), ("lr{src=\"web\"}", 2.0)])
    );
}

#[test]
fn label_function_errors() {
    let db = Db::new();
    db.add("lr", &[("src", "a")], &[(0, 1.0)]);
    db.add("lr", &[("src", "b")], &[(0, 2.0)]);
    let lr = |src: Expr, dst, re| {
        call(
            "label_replace",
            vec![src, string(dst), string("x"), string("src"), string(re)],
        )
    };
    assert_eq!(
        db.error(&lr(sel("none"), "d", "("), M),
        "invalid regular expression in label_replace(): ("
    );
    assert_eq!(
        db.error(&lr(sel("none"), "-d", "a"), M),
        "invalid destination label name in label_replace(): -d"
    );
    // both series end up as lr{src="x"}
    let same = call(
        "label_replace",
        vec![
            sel("lr"),
            string("src"),
            string("x"),
            string("src"),
            string(".*"),
        ],
    );
    assert_eq!(
        db.error(&same, M),
        "vector cannot contain metrics with the same labelset"
    );
    let join = call(
        "label_join",
        vec![
            sel("lr"),
            string("j"),
            string("-"),
            string("src"),
            string("__name__"),
        ],
    );
    assert_eq!(
        db.vector_sorted(&join, M),
        owned(&[
            ("lr{j=\"a-lr\", src=\"a\"}", 1.0),
            ("lr{j=\"b-lr\", src=\"b\"}", 2.0)
        ])
    );
    let bad = call(
        "label_join",
        vec![sel("none"), string("j"), string(","), string("a b")],
    );
    assert_eq!(
        db.error(&bad, M),
        "invalid source label name in label_join(): a b"
    );
}

#[test]
fn histogram_quantile_over_buckets() {
    let db = Db::new();
    for (le, n) in [("0.1", 50.0), ("0.5", 90.0), ("1", 100.0), ("+Inf", 100.0)] {
        db.add("h_bucket", &[("le", le), ("job", "a")], &[(0, n)]);
    }
    for (le, n) in [("1", 10.0), ("2", 20.0), ("+Inf", 30.0)] {
        db.add("h_bucket", &[("le", le), ("job", "b")], &[(0, n)]);
    }
    db.add("h_bucket", &[("le", "oops"), ("job", "b")], &[(0, 1000.0)]);
    db.add("h_bucket", &[("job", "b")], &[(0, 1000.0)]);
    let hq = |q| call("histogram_quantile", vec![num(q), sel("h_bucket")]);
    assert_eq!(
        db.vector_sorted(&hq(0.45), M),
        owned(&[("{job=\"a\"}", 0.1 * (45.0 / 50.0)), ("{job=\"b\"}", 1.35)])
    );
    // in the +Inf bucket: the second-highest bound
    assert_eq!(
        db.vector_sorted(&hq(0.9), M)[1],
        ("{job=\"b\"}".to_string(), 2.0)
    );
    assert_eq!(db.vector_sorted(&hq(1.5), M)[0].1, f64::INFINITY);
    assert_eq!(db.vector_sorted(&hq(-1.0), M)[0].1, f64::NEG_INFINITY);
    assert!(db.vector_sorted(&hq(f64::NAN), M)[0].1.is_nan());
}
