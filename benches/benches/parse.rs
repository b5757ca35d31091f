//! PromQL parsing and printing.
//!
//! `cargo bench -p nines-benches --bench parse`
//!
//! Target: the typical dashboard query (`dashboard`) parses in 20 µs or
//! less. Parsing builds the matchers, and `Matcher::new` compiles the
//! regular expressions of `=~`/`!~` through a process-wide cache, so the
//! figures are for queries seen before (dashboards, rules); `cold/dashboard`
//! gives the regular expression a new pattern every time.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

const QUERIES: &[(&str, &str)] = &[
    (
        "dashboard",
        r#"sum by (service, code) (rate(http_requests_total{job="api", code=~"5.."}[5m])) / ignoring(code) group_left sum by (service) (rate(http_requests_total{job="api"}[5m]))"#,
    ),
    ("selector", r#"http_requests_total{job="api", code="500"}"#),
    (
        "latency_quantile",
        r#"histogram_quantile(0.99, sum by (le, service) (rate(http_request_duration_seconds_bucket{job="api", route!~"/health|/metrics"}[5m])))"#,
    ),
    (
        "burn_rate_alert",
        r#"(sum(rate(http_requests_total{job="api", code=~"5.."}[1h])) / sum(rate(http_requests_total{job="api"}[1h])) > (14.4 * 0.001)) and (sum(rate(http_requests_total{job="api", code=~"5.."}[5m])) / sum(rate(http_requests_total{job="api"}[5m])) > (14.4 * 0.001))"#,
    ),
    (
        "subquery",
        r#"max_over_time(deriv(rate(node_cpu_seconds_total{mode="idle"}[5m])[30m:1m])[1h:] @ end() offset 1d)"#,
    ),
];

fn parse(c: &mut Criterion) {
    let mut g = c.benchmark_group("parse");
    for (name, query) in QUERIES {
        g.throughput(Throughput::Bytes(query.len() as u64));
        g.bench_function(*name, |b| {
            b.iter(|| nines_query::parse(black_box(query)).expect("query parses"))
        });
    }
    g.finish();

    let mut g = c.benchmark_group("cold");
    let (_, dashboard) = QUERIES[0];
    let mut n = 0u64;
    g.bench_function("dashboard", |b| {
        b.iter_batched(
            || {
                n += 1;
                dashboard.replace(r#"=~"5..""#, &format!(r#"=~"5..|n{n}""#))
            },
            |q| nines_query::parse(&q).expect("query parses"),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

fn print(c: &mut Criterion) {
    let mut g = c.benchmark_group("print");
    for (name, query) in QUERIES.iter().take(1) {
        let expr = nines_query::parse(query).expect("query parses");
        g.bench_function(*name, |b| b.iter(|| black_box(&expr).to_string()));
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = parse, print
}
criterion_main!(benches);
