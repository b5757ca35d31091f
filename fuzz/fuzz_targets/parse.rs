//! `scripts/fuzz 60 parse`: the query parser never panics, and
//! whatever it accepts prints to a query that parses back to the same tree.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(query) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(expr) = nines_query::syntax::parse(query) {
        let printed = expr.to_string();
        let back = nines_query::syntax::parse(&printed)
            .unwrap_or_else(|e| panic!("{query:?} printed as {printed:?}, which fails: {e}"));
        // Debug, not ==, so that NaN literals compare equal.
        assert_eq!(
            format!("{back:?}"),
            format!("{expr:?}"),
            "{query:?} -> {printed:?}"
        );
        assert_eq!(back.to_string(), printed);
    }
});
