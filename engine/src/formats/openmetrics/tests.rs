use proptest::prelude::*;

use super::*;
use crate::formats::PROMETHEUS_NAN_BITS;
use crate::types::{SeriesBatch, STALE_NAN_BITS};

struct Read {
    series: Vec<SeriesBatch>,
    errors: Vec<ParseError>,
    stats: ReadStats,
    dialect: Option<TextDialect>,
    chunk_sizes: Vec<usize>,
}

fn options(dialect: TextDialect) -> TextOptions {
    TextOptions {
        dialect,
        ..TextOptions::default()
    }
}

#[track_caller]
fn read_with(input: &[u8], options: TextOptions) -> Read {
    let mut reader = OpenMetricsReader::new(input, options);
    let mut out = Read {
        series: Vec::new(),
        errors: Vec::new(),
        stats: ReadStats::default(),
        dialect: None,
        chunk_sizes: Vec::new(),
    };
    loop {
        match reader.next_chunk() {
            Ok(Some(chunk)) => {
                out.chunk_sizes.push(chunk.batch.sample_count());
                out.series.extend(chunk.batch.series);
                out.errors.extend(chunk.errors);
            }
            Ok(None) => break,
            Err(e) => panic!("I/O error from a slice: {e}"),
        }
    }
    assert!(matches!(reader.next_chunk(), Ok(None)), "exhausted reader");
    out.stats = reader.stats().clone();
    out.dialect = reader.dialect();
    out
}

#[track_caller]
fn read(input: &str, dialect: TextDialect) -> Read {
    read_with(input.as_bytes(), options(dialect))
}

/// `(series as text, kind)` per `SeriesBatch`.
fn kinds(r: &Read) -> Vec<(String, SeriesKind)> {
    r.series
        .iter()
        .map(|s| (s.labels.to_string(), s.kind))
        .collect()
}

fn samples(r: &Read) -> Vec<(i64, f64)> {
    r.series
        .iter()
        .flat_map(|s| s.timestamps.iter().copied().zip(s.values.iter().copied()))
        .collect()
}

#[track_caller]
fn one_error(r: &Read) -> &ParseError {
    assert_eq!(r.errors.len(), 1, "errors: {:#?}", r.errors);
    &r.errors[0]
}

#[test]
fn openmetrics_types_map_to_kinds() {
    let input = r#"# HELP http_requests Requests served.
# TYPE http_requests counter
http_requests_total{code="200"} 10 1700000000.000
http_requests_created{code="200"} 1690000000 1700000000.000
# TYPE temp_celsius gauge
# UNIT temp_celsius celsius
temp_celsius 21.5 1700000000
# TYPE rpc_seconds histogram
rpc_seconds_bucket{le="0.1"} 1 1700000000
rpc_seconds_bucket{le="+Inf"} 2 1700000000
rpc_seconds_count 2 1700000000
rpc_seconds_sum 0.3 1700000000
rpc_seconds_created 1690000000 1700000000
# TYPE lat summary
lat{quantile="0.5"} 0.2 1700000000
lat_count 5 1700000000
lat_sum 1.5 1700000000
lat_created 1.69e9 1700000000
# TYPE u unknown
u 1 1700000000
# TYPE gh gaugehistogram
gh_bucket{le="+Inf"} 1 1700000000
gh_gcount 1 1700000000
# TYPE ss stateset
ss{ss="a"} 1 1700000000
# TYPE i info
i_info{v="1"} 1 1700000000
# TYPE g gauge
g_other 1 1700000000
# EOF
"#;
    let r = read(input, TextDialect::OpenMetrics);
    assert!(r.errors.is_empty(), "{:#?}", r.errors);
    use SeriesKind::*;
    let expected = [
        (r#"http_requests_total{code="200"}"#, Counter),
        ("temp_celsius{}", Gauge),
        (r#"rpc_seconds_bucket{le="0.1"}"#, HistogramBucket),
        (r#"rpc_seconds_bucket{le="+Inf"}"#, HistogramBucket),
        ("rpc_seconds_count{}", HistogramCount),
        ("rpc_seconds_sum{}", HistogramSum),
        (r#"lat{quantile="0.5"}"#, SummaryQuantile),
        ("lat_count{}", Counter),
        ("lat_sum{}", Counter),
        ("u{}", Unknown),
        (r#"gh_bucket{le="+Inf"}"#, Unknown),
        ("gh_gcount{}", Unknown),
        (r#"ss{ss="a"}"#, Unknown),
        (r#"i_info{v="1"}"#, Unknown),
        ("g_other{}", Unknown),
    ];
    let expected: Vec<(String, SeriesKind)> =
        expected.iter().map(|(s, k)| (s.to_string(), *k)).collect();
    assert_eq!(kinds(&r), expected);
    assert_eq!(r.stats.skipped_created, 3);
    assert_eq!(r.stats.samples, 15);
    assert_eq!(r.stats.lines, 30);
    assert_eq!(r.stats.rejected_lines, 0);
}

#[test]
fn prometheus_text_with_default_timestamp() {
    let input = "# HELP http_requests_total The total number of HTTP requests.
# TYPE http_requests_total counter
http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000
http_requests_total{method=\"post\",code=\"400\"}    3 1395066363000

# A free comment, then an untyped metric and a summary without timestamps.
metric_without_timestamp_and_labels 12.47
# TYPE rpc_duration_seconds summary
rpc_duration_seconds{quantile=\"0.01\"} 3102
rpc_duration_seconds_sum 1.7560473e+07
rpc_duration_seconds_count 2693
# TYPE x untyped
x -Inf -1
";
    let mut opts = options(TextDialect::Prometheus);
    opts.default_timestamp = Some(5);
    let r = read_with(input.as_bytes(), opts);
    assert!(r.errors.is_empty(), "{:#?}", r.errors);
    use SeriesKind::*;
    assert_eq!(
        kinds(&r).into_iter().map(|(_, k)| k).collect::<Vec<_>>(),
        vec![
            Counter,
            Counter,
            Unknown,
            SummaryQuantile,
            Counter,
            Counter,
            Unknown
        ]
    );
    assert_eq!(
        samples(&r),
        vec![
            (1_395_066_363_000, 1027.0),
            (1_395_066_363_000, 3.0),
            (5, 12.47),
            (5, 3102.0),
            (5, 1.7560473e7),
            (5, 2693.0),
            (-1, f64::NEG_INFINITY),
        ]
    );
    assert_eq!(
        r.series[0].labels,
        Labels::from_pairs(&[
            ("__name__", "http_requests_total"),
            ("code", "200"),
            ("method", "post")
        ])
    );
}

#[test]
fn label_escapes_are_undone() {
    let input = "m{a=\"back\\\\slash\",b=\"quo\\\"te\",c=\"new\\nline\",d=\"odd\\q\"} 1 1\n";
    let r = read(input, TextDialect::Prometheus);
    let l = &r.series[0].labels;
    assert_eq!(l.get("a"), Some("back\\slash"));
    assert_eq!(l.get("b"), Some("quo\"te"));
    assert_eq!(l.get("c"), Some("new\nline"));
    assert_eq!(l.get("d"), Some("odd\\q"));
}

#[test]
fn values_in_every_spelling() {
    let input =
        "v NaN 1\nv +Inf 2\nv -Inf 3\nv Inf 4\nv 1.5e3 5\nv -2E-3 6\nv .5 7\nv 0042 8\nv -0 9\n";
    let r = read(input, TextDialect::Prometheus);
    assert!(r.errors.is_empty(), "{:#?}", r.errors);
    let bits: Vec<u64> = samples(&r).iter().map(|(_, v)| v.to_bits()).collect();
    let expect: Vec<u64> = [
        f64::from_bits(PROMETHEUS_NAN_BITS),
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::INFINITY,
        1500.0,
        -0.002,
        0.5,
        42.0,
        -0.0,
    ]
    .iter()
    .map(|v| v.to_bits())
    .collect();
    assert_eq!(bits, expect);
    // Consecutive samples of one series share one SeriesBatch.
    assert_eq!(r.series.len(), 1);
    assert_eq!(r.series[0].timestamps, (1..=9).collect::<Vec<_>>());
}

#[test]
fn exemplars_are_ignored() {
    let input = r##"# TYPE foo histogram
foo_bucket{le="0.1"} 8 1520879607.789 # {trace_id="KOO5S4vxi0o"} 0.067 1520879602.123
foo_bucket{le="1"} 9 # {} 0.5
# TYPE bar counter
bar_total 17.0 1520879607.789 # {trace_id="oHg5SJYRHA0",a="# {x} 1"} 9.8 1520879607.789
# EOF
"##;
    let mut opts = options(TextDialect::OpenMetrics);
    opts.default_timestamp = Some(7);
    let r = read_with(input.as_bytes(), opts);
    assert!(r.errors.is_empty(), "{:#?}", r.errors);
    assert_eq!(
        samples(&r),
        vec![
            (1_520_879_607_789, 8.0),
            (7, 9.0),
            (1_520_879_607_789, 17.0)
        ]
    );
}

#[test]
fn samples_without_timestamp_need_a_default() {
    let r = read("up 1\nup 2 1000\n", TextDialect::Prometheus);
    let e = one_error(&r);
    assert_eq!((e.line, e.column), (1, 5));
    assert_eq!(
        e.message,
        "sample has no timestamp and no default timestamp was given"
    );
    assert_eq!(samples(&r), vec![(1000, 2.0)]);
    assert_eq!(r.stats.rejected_lines, 1);
}

#[test]
fn blank_lines_and_windows_line_endings() {
    let input = "# TYPE a gauge\r\n\r\n  \t\r\na{x=\"1\"} 1 1700000000.5\r\n\r\n# EOF\r\n";
    let r = read(input, TextDialect::Auto);
    assert!(r.errors.is_empty(), "{:#?}", r.errors);
    assert_eq!(r.dialect, Some(TextDialect::OpenMetrics));
    assert_eq!(
        kinds(&r),
        vec![(r#"a{x="1"}"#.to_string(), SeriesKind::Gauge)]
    );
    assert_eq!(samples(&r), vec![(1_700_000_000_500, 1.0)]);
}

#[test]
fn openmetrics_timestamps_are_exact_milliseconds() {
    let input = "a 1 1700000000.123\na 2 1700000000.1239\na 3 -0.001\na 4 1.7e9\n# EOF\n";
    let r = read(input, TextDialect::OpenMetrics);
    assert!(r.errors.is_empty(), "{:#?}", r.errors);
    let ts: Vec<i64> = samples(&r).iter().map(|s| s.0).collect();
    assert_eq!(
        ts,
        vec![1_700_000_000_123, 1_700_000_000_123, -1, 1_700_000_000_000]
    );
    assert_eq!(r.stats.truncated_timestamps, 1);
}

#[test]
fn timestamp_errors_name_the_dialect() {
    let r = read("a 1 1700000000.5\n", TextDialect::Prometheus);
    let e = one_error(&r);
    assert_eq!((e.line, e.column), (1, 5));
    assert!(e
        .message
        .starts_with("invalid timestamp: Prometheus text timestamps are integer milliseconds"));

    let r = read("a 1 17x\n# EOF\n", TextDialect::OpenMetrics);
    let e = one_error(&r);
    assert_eq!((e.line, e.column), (1, 5));
    assert_eq!(
        e.message,
        "invalid timestamp: OpenMetrics timestamps are decimal seconds such as 1700000000.123"
    );

    let r = read("a 1 99999999999999999999\n", TextDialect::Prometheus);
    assert_eq!(
        one_error(&r).message,
        "timestamp out of range: it does not fit in i64 milliseconds"
    );
}

#[test]
fn openmetrics_must_end_with_eof() {
    let r = read("a 1 1\na 2 2\n", TextDialect::OpenMetrics);
    let e = one_error(&r);
    assert_eq!((e.line, e.column), (3, 1));
    assert!(e
        .message
        .starts_with("OpenMetrics input ended without '# EOF'"));
    assert_eq!(samples(&r).len(), 2, "samples before the end are kept");

    let r = read("a 1 1\n# EOF\na 2 2\nb 3 3\n\n", TextDialect::OpenMetrics);
    let e = one_error(&r);
    assert_eq!((e.line, e.column), (3, 1));
    assert_eq!(
        e.message,
        "data after '# EOF'; this line and the rest of the input are ignored"
    );
    assert_eq!(samples(&r), vec![(1000, 1.0)]);
    assert_eq!(r.stats.rejected_lines, 2);

    // For Prometheus text, `# EOF` is a comment.
    let r = read("a 1 1\n# EOF\na 2 2\n", TextDialect::Prometheus);
    assert!(r.errors.is_empty());
    assert_eq!(samples(&r).len(), 2);
}

#[test]
fn auto_detects_the_dialect() {
    let cases = [
        ("a 1 1700000000123\n", TextDialect::Prometheus),
        ("a 1 1700000000.123\n# EOF\n", TextDialect::OpenMetrics),
        ("a 1 17e8\n# EOF\n", TextDialect::OpenMetrics),
        ("a 1\n# EOF\n", TextDialect::OpenMetrics),
        (
            "# UNIT a_seconds seconds\n# EOF\n",
            TextDialect::OpenMetrics,
        ),
        ("# TYPE a info\n# EOF\n", TextDialect::OpenMetrics),
        ("# TYPE a untyped\na 1 5\n", TextDialect::Prometheus),
        ("", TextDialect::Prometheus),
    ];
    for (input, dialect) in cases {
        let mut opts = options(TextDialect::Auto);
        opts.default_timestamp = Some(0);
        let r = read_with(input.as_bytes(), opts);
        assert_eq!(r.dialect, Some(dialect), "{input:?}");
        assert!(r.errors.is_empty(), "{input:?}: {:#?}", r.errors);
    }
    // Integer seconds are OpenMetrics once the rest of the file says so.
    let r = read("a 1 1700000000\n# EOF\n", TextDialect::Auto);
    assert_eq!(samples(&r), vec![(1_700_000_000_000, 1.0)]);
}

#[test]
fn auto_reports_a_wrong_guess() {
    let mut input = String::new();
    for i in 0..100 {
        input.push_str(&format!("a 1 {i}\n"));
    }
    input.push_str("# EOF\n");
    let mut opts = options(TextDialect::Auto);
    opts.sniff_bytes = 64;
    let r = read_with(input.as_bytes(), opts);
    assert_eq!(r.dialect, Some(TextDialect::Prometheus));
    let e = one_error(&r);
    assert_eq!(e.line, 101);
    assert!(e
        .message
        .contains("read it again with the OpenMetrics dialect"));
    // The sniffed prefix is read again, not lost.
    assert_eq!(samples(&r).len(), 100);
}

#[test]
fn chunks_are_bounded_and_keep_series_labels() {
    let mut input = String::from("# TYPE c counter\n");
    for i in 0..7 {
        input.push_str(&format!("c_total{{a=\"1\"}} {i} {i}\n"));
    }
    input.push_str("d 1 100\n");
    let mut opts = options(TextDialect::Prometheus);
    opts.read.batch_samples = 3;
    let r = read_with(input.as_bytes(), opts);
    assert_eq!(r.chunk_sizes, vec![3, 3, 2]);
    assert_eq!(
        kinds(&r),
        vec![
            (r#"c_total{a="1"}"#.to_string(), SeriesKind::Counter),
            (r#"c_total{a="1"}"#.to_string(), SeriesKind::Counter),
            (r#"c_total{a="1"}"#.to_string(), SeriesKind::Counter),
            ("d{}".to_string(), SeriesKind::Unknown),
        ]
    );
    assert_eq!(samples(&r).len(), 8);
}

#[test]
fn interleaved_series_share_a_series_batch_per_chunk() {
    let input = "# TYPE a gauge\na 1 1\nb 1 1\na 2 2\nb 2 2\na 3 3\n";
    let mut opts = options(TextDialect::Prometheus);
    opts.read.batch_samples = 4;
    let r = read_with(input.as_bytes(), opts);
    let shape: Vec<(String, SeriesKind, Vec<i64>)> = r
        .series
        .iter()
        .map(|s| (s.labels.to_string(), s.kind, s.timestamps.clone()))
        .collect();
    assert_eq!(
        shape,
        vec![
            ("a{}".to_string(), SeriesKind::Gauge, vec![1, 2]),
            ("b{}".to_string(), SeriesKind::Unknown, vec![1, 2]),
            ("a{}".to_string(), SeriesKind::Gauge, vec![3]),
        ]
    );
    assert_eq!(r.chunk_sizes, vec![4, 1]);
}

#[test]
fn the_same_series_written_differently_is_one_series() {
    // Label order and spacing differ: the text changes, the labels do not.
    let r = read(
        "m{a=\"1\",b=\"2\"} 1 1\nm{b=\"2\", a=\"1\"} 2 2\n",
        TextDialect::Prometheus,
    );
    assert_eq!(r.series.len(), 2);
    assert_eq!(r.series[0].labels, r.series[1].labels);
}

#[test]
fn errors_show_line_column_and_caret() {
    let input = "# TYPE a gauge\na{code 200} 1 1\na 1 1\n";
    let r = read(input, TextDialect::Prometheus);
    let e = one_error(&r);
    assert_eq!((e.line, e.column), (2, 8));
    assert_eq!(e.message, "expected '=' after the label name");
    assert_eq!(e.line_text, "a{code 200} 1 1");
    assert_eq!(
        e.to_string(),
        "line 2, column 8: expected '=' after the label name\n  a{code 200} 1 1\n         ^"
    );
    assert_eq!(r.stats.samples, 1, "the next line still loads");
    assert_eq!((r.stats.lines, r.stats.rejected_lines), (3, 1));
}

#[test]
fn many_kinds_of_bad_lines() {
    let cases: &[(&str, usize, &str)] = &[
        ("1a 1 1", 1, "expected a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*) or a '#' comment"),
        ("a{b=\"c\"} x 1", 10, "invalid sample value: expected a number, NaN, +Inf or -Inf"),
        ("a{b=\"c} 1 1", 5, "label value has no closing '\"'"),
        ("a{b=\"c\",b=\"d\"} 1 1", 9, "label name appears more than once in this series"),
        ("a 1 1 1", 7, "unexpected text after the timestamp: expected the end of the line or an exemplar (' # {...} value')"),
        ("# TYPE a histgram", 10, "unknown metric type: expected counter, gauge, histogram, summary, untyped, unknown, gaugehistogram, stateset or info"),
        ("a", 2, "expected a sample value after the series"),
    ];
    for &(line, column, message) in cases {
        let r = read(&format!("{line}\n"), TextDialect::Prometheus);
        let e = one_error(&r);
        assert_eq!(
            (e.line, e.column, e.message.as_str()),
            (1, column, message),
            "{line:?}"
        );
    }
}

#[test]
fn invalid_utf8_and_over_long_lines() {
    let r = read_with(
        b"a{b=\"\xff\"} 1 1\nok 1 1\n",
        options(TextDialect::Prometheus),
    );
    let e = one_error(&r);
    assert_eq!(
        (e.line, e.column, e.message.as_str()),
        (1, 6, "line is not valid UTF-8")
    );
    assert_eq!(r.stats.samples, 1);

    let mut opts = options(TextDialect::Prometheus);
    opts.read.max_line_bytes = 10;
    let r = read_with(b"a 1 1\nabcdefghijk 1 1\nb 2 2", opts);
    let e = one_error(&r);
    assert_eq!((e.line, e.column), (2, 11));
    assert_eq!(
        e.message,
        "line is 15 bytes long, over the limit of 10 bytes"
    );
    assert_eq!(samples(&r), vec![(1, 1.0), (2, 2.0)]);
}

#[test]
fn error_chunks_are_bounded() {
    let input = "bad line\n".repeat(25);
    let mut opts = options(TextDialect::Prometheus);
    opts.read.max_errors_per_chunk = 10;
    let mut reader = OpenMetricsReader::new(input.as_bytes(), opts);
    let mut sizes = Vec::new();
    while let Ok(Some(chunk)) = reader.next_chunk() {
        sizes.push(chunk.errors.len());
    }
    assert_eq!(sizes, vec![10, 10, 5]);
    assert_eq!(reader.stats().rejected_lines, 25);
}

// ---- writer ----

use super::writer::tests::write;

#[test]
fn writer_reopens_interleaved_families_and_counts_them() {
    let s = |name: &str, kind| {
        (
            Labels::from_pairs(&[("__name__", name)]),
            kind,
            vec![1],
            vec![1.0],
        )
    };
    // Label order puts `x_bucket_extra` between `x_bucket` and `x_count`.
    let (text, stats) = write(&[
        s("x_bucket", SeriesKind::HistogramBucket),
        s("x_bucket_extra", SeriesKind::Gauge),
        s("x_count", SeriesKind::HistogramCount),
    ]);
    assert_eq!(
        text,
        "# TYPE x histogram\nx_bucket 1 0.001\n# TYPE x_bucket_extra gauge\nx_bucket_extra 1 0.001\n\
         # TYPE x histogram\nx_count 1 0.001\n# EOF\n"
    );
    assert_eq!((stats.families, stats.reopened_families), (3, 1));
    // Reading it back gives the kinds that were written.
    let r = read(&text, TextDialect::Auto);
    assert_eq!(
        kinds(&r).into_iter().map(|(_, k)| k).collect::<Vec<_>>(),
        vec![
            SeriesKind::HistogramBucket,
            SeriesKind::Gauge,
            SeriesKind::HistogramCount
        ]
    );
}

// ---- properties ----

/// Label values with every character that needs escaping, and some that
/// look like syntax.
fn label_value() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(vec![
            'a', 'Z', '0', '\\', '"', '\n', '\r', '\t', ' ', '{', '}', ',', '=', '#', 'é', '😀',
        ]),
        1..8,
    )
    .prop_map(|cs| cs.into_iter().collect())
}

fn series_labels() -> impl Strategy<Value = Labels> {
    let name = (
        "[a-zA-Z_:][a-zA-Z0-9_:]{0,8}",
        prop::sample::select(vec!["", "_total", "_bucket", "_count", "_sum", "_created"]),
    )
        .prop_map(|(n, s)| format!("{n}{s}"));
    let labels = prop::collection::btree_map("[a-zA-Z_][a-zA-Z0-9_]{0,5}", label_value(), 0..4);
    (name, labels).prop_map(|(name, labels)| {
        let mut pairs: Vec<(String, String)> = labels
            .into_iter()
            .filter(|(n, _)| n != "__name__")
            .collect();
        pairs.push(("__name__".into(), name));
        Labels::from_pairs(&pairs)
    })
}

fn any_value() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<u64>().prop_map(f64::from_bits),
        prop::sample::select(vec![
            f64::INFINITY,
            f64::NEG_INFINITY,
            -0.0,
            f64::from_bits(STALE_NAN_BITS),
            f64::MIN_POSITIVE,
            f64::MAX,
        ]),
    ]
}

type Series = (Labels, SeriesKind, Vec<i64>, Vec<f64>);

fn series_list() -> impl Strategy<Value = Vec<Series>> {
    let one = (
        series_labels(),
        prop::sample::select(SeriesKind::ALL.to_vec()),
        prop::collection::btree_map(any::<i64>(), any_value(), 1..6),
    )
        .prop_map(|(l, k, samples)| {
            let (t, v) = samples.into_iter().unzip();
            (l, k, t, v)
        });
    prop::collection::vec(one, 0..6).prop_map(|mut list| {
        // One call per series: the same labels twice in a row would have to
        // continue the timestamps.
        list.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1);
        list
    })
}

/// The kind a series has after an OpenMetrics round trip.
fn kind_after_round_trip(labels: &Labels, kind: SeriesKind) -> SeriesKind {
    let name = labels.metric_name().unwrap_or_default();
    match family_of(name, kind).1 {
        "unknown" => SeriesKind::Unknown,
        _ => kind,
    }
}

proptest! {
    #[test]
    fn writer_output_reads_back(list in series_list(), batch in 1usize..5) {
        let (text, _) = write(&list);
        let mut opts = options(TextDialect::Auto);
        opts.read.batch_samples = batch;
        let r = read_with(text.as_bytes(), opts);
        prop_assert!(r.errors.is_empty(), "{:#?}\n{}", r.errors, text);
        let mut got = Vec::new();
        for s in &r.series {
            for (t, v) in s.timestamps.iter().zip(&s.values) {
                got.push((s.labels.clone(), s.kind, *t, *v));
            }
        }
        let mut want = Vec::new();
        for (l, k, ts, vs) in &list {
            for (t, v) in ts.iter().zip(vs) {
                want.push((l.clone(), kind_after_round_trip(l, *k), *t, *v));
            }
        }
        // Within a chunk, samples of a series that comes back later join its
        // first SeriesBatch: compare each series' samples in order.
        let key = |x: &(Labels, SeriesKind, i64, f64)| (x.0.clone(), x.1);
        got.sort_by_key(key);
        want.sort_by_key(key);
        prop_assert_eq!(got.len(), want.len(), "{}", text);
        for (g, w) in got.iter().zip(&want) {
            prop_assert_eq!(&g.0, &w.0);
            prop_assert_eq!(g.1, w.1, "{}", text);
            prop_assert_eq!(g.2, w.2);
            if w.3.is_nan() {
                prop_assert_eq!(g.3.to_bits(), PROMETHEUS_NAN_BITS);
            } else {
                prop_assert_eq!(g.3.to_bits(), w.3.to_bits(), "{} vs {}", g.3, w.3);
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(input in prop::collection::vec(any::<u8>(), 0..400), batch in 1usize..4, dialect in prop::sample::select(vec![TextDialect::Prometheus, TextDialect::OpenMetrics, TextDialect::Auto])) {
        let mut opts = options(dialect);
        opts.read.batch_samples = batch;
        opts.read.max_line_bytes = 64;
        opts.sniff_bytes = 32;
        let r = read_with(&input, opts);
        let total: usize = r.chunk_sizes.iter().sum();
        prop_assert_eq!(total as u64, r.stats.samples);
        prop_assert!(r.chunk_sizes.iter().all(|&n| n <= batch));
    }

    #[test]
    fn token_soup_never_panics(
        tokens in prop::collection::vec(prop::sample::select(vec![
            "# ", "TYPE ", "HELP ", "UNIT ", "EOF", "counter ", "histogram", "summary", "gauge",
            "foo", "_total", "_bucket", "_created", "{", "}", "=", ",", "\"", "\\", "\\\"",
            " ", "\t", "\n", "\r\n", "1", "-", "+", ".", "e", "NaN", "Inf", "1700000000.123",
            "99999999999999999999", "le", "a=\"b\"", "\u{e9}", "#",
        ]), 0..80),
        dialect in prop::sample::select(vec![TextDialect::Prometheus, TextDialect::OpenMetrics, TextDialect::Auto]),
    ) {
        let input: String = tokens.concat();
        let mut opts = options(dialect);
        opts.read.batch_samples = 2;
        opts.default_timestamp = Some(0);
        let r = read_with(input.as_bytes(), opts);
        prop_assert_eq!(r.stats.samples as usize, samples(&r).len());
        for e in &r.errors {
            prop_assert!(e.line >= 1 && e.column >= 1);
            let _ = e.to_string();
        }
    }
}
