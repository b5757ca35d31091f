use proptest::prelude::*;

use super::*;
use crate::types::SeriesBatch;

struct Read {
    series: Vec<SeriesBatch>,
    errors: Vec<ParseError>,
    stats: ReadStats,
    chunk_sizes: Vec<usize>,
}

#[track_caller]
fn read_with(input: &[u8], options: ReadOptions) -> Read {
    let mut reader = JsonlReader::new(input, options);
    let mut out = Read {
        series: Vec::new(),
        errors: Vec::new(),
        stats: ReadStats::default(),
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
    out
}

#[track_caller]
fn read(input: &str) -> Read {
    read_with(input.as_bytes(), ReadOptions::default())
}

#[track_caller]
fn one_error(r: &Read) -> &ParseError {
    assert_eq!(r.errors.len(), 1, "errors: {:#?}", r.errors);
    &r.errors[0]
}

fn bits(s: &SeriesBatch) -> Vec<u64> {
    s.values.iter().map(|v| v.to_bits()).collect()
}

#[test]
fn reads_victoriametrics_export_lines() {
    let input = r#"{"metric":{"__name__":"up","job":"node","instance":"a"},"values":[1,1,0.5],"timestamps":[1578636058619,1578636118619,1578636178619]}
{"metric":{"__name__":"http_requests_total","code":"200"},"values":[10],"timestamps":[1],"kind":"counter"}
"#;
    let r = read(input);
    assert!(r.errors.is_empty(), "{:#?}", r.errors);
    assert_eq!(r.series.len(), 2);
    assert_eq!(
        r.series[0].labels,
        Labels::from_pairs(&[("__name__", "up"), ("instance", "a"), ("job", "node")])
    );
    assert_eq!(r.series[0].kind, SeriesKind::Unknown);
    assert_eq!(r.series[0].values, vec![1.0, 1.0, 0.5]);
    assert_eq!(
        r.series[0].timestamps,
        vec![1_578_636_058_619, 1_578_636_118_619, 1_578_636_178_619]
    );
    assert_eq!(r.series[1].kind, SeriesKind::Counter);
    assert_eq!(
        (r.stats.lines, r.stats.samples, r.stats.rejected_lines),
        (2, 4, 0)
    );
}

#[test]
fn every_value_spelling() {
    let input = r#"{"metric":{"__name__":"v"},"values":[-0,1e300,5e-324,-2.5E-3,"NaN","StaleNaN","+Inf","-Inf","NaN:0x7ff8000000000000","NaN:0xfff0000000000001",null,"nan","Null","null","Inf","inf","Infinity","-infinity","-Inf","+inf"],"timestamps":[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19]}"#;
    let r = read(input);
    assert!(r.errors.is_empty(), "{:#?}", r.errors);
    let nan = PROMETHEUS_NAN_BITS;
    let inf = f64::INFINITY.to_bits();
    let ninf = f64::NEG_INFINITY.to_bits();
    assert_eq!(
        bits(&r.series[0]),
        vec![
            (-0.0f64).to_bits(),
            1e300f64.to_bits(),
            5e-324f64.to_bits(),
            (-2.5e-3f64).to_bits(),
            nan,
            STALE_NAN_BITS,
            inf,
            ninf,
            0x7ff8_0000_0000_0000,
            0xfff0_0000_0000_0001,
            nan,
            nan,
            nan,
            nan,
            inf,
            inf,
            inf,
            ninf,
            ninf,
            inf,
        ]
    );
}

#[test]
fn unknown_keys_and_whitespace_are_accepted() {
    let input = " { \"extra\" : {\"a\":[1,{\"b\":null}],\"c\":true} , \"timestamps\" : [ 5 ] ,\t\"values\":[ 2 ], \"metric\" : { \"__name__\" : \"m\\u00e9\" , \"a\":\"\" } }\r\n\n   \n";
    let r = read(input);
    assert!(r.errors.is_empty(), "{:#?}", r.errors);
    // An empty label value means the label is absent.
    assert_eq!(
        r.series[0].labels,
        Labels::from_pairs(&[("__name__", "mé")])
    );
    assert_eq!(
        (r.series[0].timestamps.clone(), r.series[0].values.clone()),
        (vec![5], vec![2.0])
    );
    assert_eq!(r.stats.lines, 3);
}

#[test]
fn consecutive_lines_of_a_series_are_grouped_and_long_lines_split() {
    let line = |vals: &str, ts: &str| {
        format!(
            r#"{{"metric":{{"__name__":"c"}},"values":[{vals}],"timestamps":[{ts}],"kind":"counter"}}"#
        )
    };
    let input = [
        line("1,2,3,4,5,6,7", "1,2,3,4,5,6,7"),
        line("8", "8"),
        line("", ""),
        r#"{"metric":{"__name__":"d"},"values":[9],"timestamps":[9]}"#.to_string(),
    ]
    .join("\n");
    let opts = ReadOptions {
        batch_samples: 3,
        ..ReadOptions::default()
    };
    let r = read_with(input.as_bytes(), opts);
    assert!(r.errors.is_empty(), "{:#?}", r.errors);
    assert_eq!(r.chunk_sizes, vec![3, 3, 3]);
    let shape: Vec<(Option<&str>, Vec<i64>)> = r
        .series
        .iter()
        .map(|s| (s.labels.metric_name(), s.timestamps.clone()))
        .collect();
    assert_eq!(
        shape,
        vec![
            (Some("c"), vec![1, 2, 3]),
            (Some("c"), vec![4, 5, 6]),
            (Some("c"), vec![7, 8]),
            (Some("d"), vec![9]),
        ]
    );
    assert!(r.series[..3].iter().all(|s| s.kind == SeriesKind::Counter));
    assert_eq!(r.stats.samples, 9);
}

#[test]
fn errors_name_line_column_and_what_was_expected() {
    let cases: &[(&str, usize, &str)] = &[
        (r#"{"metric":{"__name__":"a"},"values":[1,2],"timestamps":[1]}"#, 56, "2 values but 1 timestamps; the arrays must be equally long"),
        (r#"{"metric":{"__name__":"a"},"values":["NaNa"],"timestamps":[1]}"#, 38, "unknown value string: expected \"NaN\", \"StaleNaN\", \"+Inf\", \"-Inf\" or \"NaN:0x<16 hex digits>\""),
        (r#"{"metric":{"__name__":"a"},"values":["NaN:0x3ff0000000000000"],"timestamps":[1]}"#, 38, "\"NaN:0x...\" must hold the 16 hex digits of a NaN"),
        (r#"{"metric":{"__name__":"a"},"values":[true],"timestamps":[1]}"#, 38, "invalid value: expected a number, null, \"NaN\", \"StaleNaN\", \"+Inf\", \"-Inf\" or \"NaN:0x<16 hex digits>\""),
        (r#"{"metric":{"__name__":"a"},"values":[1],"timestamps":[1.5]}"#, 55, "invalid timestamp: expected integer milliseconds"),
        (r#"{"metric":{"__name__":"a"},"values":[1],"timestamps":[1e3]}"#, 55, "invalid timestamp: expected integer milliseconds"),
        (r#"{"metric":{"__name__":"a"},"values":[1],"timestamps":[9223372036854775808]}"#, 55, "timestamp out of range: it does not fit in i64"),
        (r#"{"metric":{"__name__":"a"},"values":[1],"timestamps":[1],"values":[2]}"#, 58, "key appears more than once in the object"),
        (r#"{"metric":{"__name__":"a","__name__":"b"},"values":[1],"timestamps":[1]}"#, 11, "label name appears more than once in \"metric\""),
        (r#"{"metric":{"__name__":1},"values":[1],"timestamps":[1]}"#, 23, "label values in \"metric\" must be strings"),
        (r#"{"values":[1],"timestamps":[1]}"#, 1, "object has no \"metric\""),
        (r#"{"metric":{},"timestamps":[1]}"#, 1, "object has no \"values\""),
        (r#"{"metric":{},"values":[1]}"#, 1, "object has no \"timestamps\""),
        (r#"{"metric":{},"values":[1],"timestamps":[1],"kind":"histogram"}"#, 51, "unknown \"kind\": expected counter, gauge, histogram_bucket, histogram_count, histogram_sum, delta_counter, summary_quantile or unknown"),
        (r#"{"metric":{},"values":[1],"timestamps":[1]} x"#, 45, "unexpected text after the JSON object"),
        (r#"{"metric":{},"values":[1 2],"timestamps":[1]}"#, 26, "expected ',' or ']'"),
        (r#"{"metric":{} "values":[1],"timestamps":[1]}"#, 14, "expected ',' or '}'"),
        (r#"["metric"]"#, 1, "expected '{' to start a JSON object"),
        (r#"{"metric":{"a":"b\qc"},"values":[],"timestamps":[]}"#, 18, r#"invalid escape: expected \" \\ \/ \b \f \n \r \t or \uXXXX"#),
        (r#"{"metric":{"a":"é"},"values":[01],"timestamps":[1]}"#, 32, "expected ',' or ']'"),
    ];
    let mut wrong = Vec::new();
    for &(line, column, message) in cases {
        let r = read(&format!(
            "{line}\n{{\"metric\":{{}},\"values\":[1],\"timestamps\":[2]}}\n"
        ));
        let e = one_error(&r);
        if (e.line, e.column, e.message.as_str()) != (1, column, message) {
            wrong.push(format!(
                "{line}\n  got line {} column {}: {}",
                e.line, e.column, e.message
            ));
        }
        assert_eq!(r.stats.samples, 1, "the next line still loads: {line}");
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn error_display_has_a_caret() {
    let r = read("{}\n{\"metric\":{},\"values\":[x],\"timestamps\":[]}\n");
    assert_eq!(r.errors.len(), 2);
    assert_eq!(
        r.errors[1].to_string(),
        "line 2, column 24: invalid value: expected a number, null, \"NaN\", \"StaleNaN\", \
         \"+Inf\", \"-Inf\" or \"NaN:0x<16 hex digits>\"\n  \
         {\"metric\":{},\"values\":[x],\"timestamps\":[]}\n                         ^"
    );
    assert_eq!(r.stats.rejected_lines, 2);
}

#[test]
fn over_long_lines_and_invalid_utf8_are_rejected() {
    let opts = ReadOptions {
        max_line_bytes: 60,
        ..ReadOptions::default()
    };
    let long = format!(
        r#"{{"metric":{{"__name__":"{}"}},"values":[1],"timestamps":[1]}}"#,
        "x".repeat(60)
    );
    let ok = r#"{"metric":{"__name__":"y"},"values":[1],"timestamps":[1]}"#;
    let r = read_with(format!("{long}\n{ok}").as_bytes(), opts);
    let e = one_error(&r);
    assert_eq!((e.line, e.column), (1, 61));
    assert_eq!(r.stats.samples, 1);

    let r = read_with(b"{\"metric\":{\"a\":\"\xc3\"}}\n", ReadOptions::default());
    let e = one_error(&r);
    assert_eq!(
        (e.column, e.message.as_str()),
        (17, "line is not valid UTF-8")
    );
}

// ---- writer ----

fn write_all(series: &[(Labels, SeriesKind, Vec<i64>, Vec<f64>)], chunk: usize) -> String {
    let mut w = JsonlWriter::new(Vec::new(), "test.jsonl").with_chunk_samples(chunk);
    for (l, k, t, v) in series {
        if let Err(e) = w.write_series(l, *k, t, v) {
            panic!("write_series: {e}");
        }
    }
    match w.finish() {
        Ok(out) => String::from_utf8_lossy(&out).into_owned(),
        Err(e) => panic!("finish: {e}"),
    }
}

#[test]
fn writer_output() {
    let text = write_all(
        &[
            (
                Labels::from_pairs(&[
                    ("job", "a\"b\\c\n\u{1}é"),
                    ("__name__", "up"),
                    ("Zone", "z"),
                ]),
                SeriesKind::Unknown,
                vec![1_700_000_000_000, -1, 3],
                vec![1.0, 0.1, -0.0],
            ),
            (
                Labels::from_pairs(&[("__name__", "c_total")]),
                SeriesKind::Counter,
                vec![1, 2, 3, 4, 5, 6],
                vec![
                    f64::from_bits(PROMETHEUS_NAN_BITS),
                    f64::from_bits(STALE_NAN_BITS),
                    f64::INFINITY,
                    f64::NEG_INFINITY,
                    f64::from_bits(0x7ff8_0000_0000_0000),
                    1e300,
                ],
            ),
            (
                Labels::from_pairs(&[("__name__", "e")]),
                SeriesKind::Gauge,
                vec![],
                vec![],
            ),
        ],
        4,
    );
    let expected = concat!(
        r#"{"metric":{"__name__":"up","Zone":"z","job":"a\"b\\c\n\u0001é"},"values":[1,0.1,-0],"timestamps":[1700000000000,-1,3]}"#,
        "\n",
        r#"{"metric":{"__name__":"c_total"},"values":["NaN","StaleNaN","+Inf","-Inf"],"timestamps":[1,2,3,4],"kind":"counter"}"#,
        "\n",
        r#"{"metric":{"__name__":"c_total"},"values":["NaN:0x7ff8000000000000",1e300],"timestamps":[5,6],"kind":"counter"}"#,
        "\n",
    );
    assert_eq!(text, expected);
}

#[test]
fn writer_refuses_unequal_columns() {
    let mut w = JsonlWriter::new(Vec::new(), "out.jsonl");
    let r = w.write_series(
        &Labels::from_pairs(&[("__name__", "a")]),
        SeriesKind::Gauge,
        &[1, 2],
        &[1.0],
    );
    match r {
        Err(crate::Error::InvalidArgument(m)) => {
            assert_eq!(m, "series a{}: 2 timestamps but 1 values")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(w.lines(), 0);
}

// ---- properties ----

fn any_string() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z_][a-zA-Z0-9_]{0,6}",
        any::<String>(),
        prop::collection::vec(
            prop::sample::select(vec![
                '"', '\\', '\n', '\r', '\t', '\u{0}', '\u{1f}', '\u{7f}', '/', 'é', '\u{2028}',
                '😀', 'a'
            ]),
            0..6
        )
        .prop_map(|cs| cs.into_iter().collect()),
    ]
}

fn any_value() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<u64>().prop_map(f64::from_bits),
        prop::sample::select(vec![
            f64::INFINITY,
            f64::NEG_INFINITY,
            -0.0,
            f64::from_bits(STALE_NAN_BITS),
            f64::from_bits(PROMETHEUS_NAN_BITS),
            f64::from_bits(0x7ff8_0000_0000_0000),
        ]),
    ]
}

type Series = (Labels, SeriesKind, Vec<i64>, Vec<f64>);

fn series() -> impl Strategy<Value = Series> {
    (
        prop::collection::btree_map(
            any_string(),
            any_string().prop_filter("non-empty", |v| !v.is_empty()),
            0..4,
        ),
        prop::sample::select(SeriesKind::ALL.to_vec()),
        prop::collection::vec((any::<i64>(), any_value()), 0..12),
    )
        .prop_map(|(labels, kind, samples)| {
            let pairs: Vec<(String, String)> = labels.into_iter().collect();
            let (t, v) = samples.into_iter().unzip();
            (Labels::from_pairs(&pairs), kind, t, v)
        })
}

fn flatten(list: &[Series]) -> Vec<(Labels, SeriesKind, i64, u64)> {
    list.iter()
        .flat_map(|(l, k, ts, vs)| {
            ts.iter()
                .zip(vs)
                .map(move |(t, v)| (l.clone(), *k, *t, v.to_bits()))
        })
        .collect()
}

proptest! {
    #[test]
    fn round_trip_is_bit_exact(list in prop::collection::vec(series(), 0..6), chunk in 1usize..5, batch in 1usize..6) {
        let text = write_all(&list, chunk);
        let opts = ReadOptions { batch_samples: batch, ..ReadOptions::default() };
        let r = read_with(text.as_bytes(), opts);
        prop_assert!(r.errors.is_empty(), "{:#?}\n{}", r.errors, text);
        let got: Vec<Series> = r
            .series
            .into_iter()
            .map(|s| (s.labels, s.kind, s.timestamps, s.values))
            .collect();
        prop_assert_eq!(flatten(&got), flatten(&list), "{}", text);
        prop_assert!(r.chunk_sizes.iter().all(|&n| n <= batch));
    }

    #[test]
    fn arbitrary_bytes_never_panic(input in prop::collection::vec(any::<u8>(), 0..400), batch in 1usize..4) {
        let opts = ReadOptions { batch_samples: batch, max_line_bytes: 80, max_errors_per_chunk: 3 };
        let r = read_with(&input, opts);
        let total: usize = r.chunk_sizes.iter().sum();
        prop_assert_eq!(total as u64, r.stats.samples);
    }

    #[test]
    fn token_soup_never_panics(tokens in prop::collection::vec(prop::sample::select(vec![
        "{", "}", "[", "]", ":", ",", "\"", "\"metric\"", "\"values\"", "\"timestamps\"", "\"kind\"",
        "\"counter\"", "\"__name__\"", "\"a\"", "1", "-", "0", ".", "e", "E", "+", "1.5", "null", "true",
        "\"NaN\"", "\"NaN:0x", "7ff8000000000001\"", "\"StaleNaN\"", "\"-Inf\"", "\\", "\\u", "d83d", "\\ude00",
        " ", "\n", "\r\n", "\u{e9}", "99999999999999999999",
    ]), 0..80)) {
        let input: String = tokens.concat();
        let opts = ReadOptions { batch_samples: 2, ..ReadOptions::default() };
        let r = read_with(input.as_bytes(), opts);
        let got: usize = r.series.iter().map(|s| s.timestamps.len()).sum();
        prop_assert_eq!(got as u64, r.stats.samples);
        for e in &r.errors {
            prop_assert!(e.line >= 1 && e.column >= 1);
            let _ = e.to_string();
        }
    }
}
