use nines_proto::{prometheus as pw, v1};
use proptest::prelude::*;

use super::*;
use crate::ingest::batch_from_grpc;

/// A batch with values as bit patterns, so NaNs compare equal.
type Key = Vec<(Labels, SeriesKind, Vec<i64>, Vec<u64>)>;

fn key(series: &[SeriesBatch]) -> Key {
    series
        .iter()
        .map(|s| {
            (
                s.labels.clone(),
                s.kind,
                s.timestamps.clone(),
                s.values.iter().map(|v| v.to_bits()).collect(),
            )
        })
        .collect()
}

/// What the receiver built from prost's decode before the fast path.
fn reference_remote_write(req: pw::WriteRequest) -> RemoteWrite {
    RemoteWrite {
        series: req
            .timeseries
            .into_iter()
            .map(|ts| SeriesBatch {
                labels: Labels::new(
                    ts.labels
                        .into_iter()
                        .map(|l| Label {
                            name: l.name,
                            value: l.value,
                        })
                        .collect(),
                ),
                kind: SeriesKind::Unknown,
                timestamps: ts.samples.iter().map(|s| s.timestamp).collect(),
                values: ts.samples.iter().map(|s| s.value).collect(),
                resolved: None,
            })
            .collect(),
        metadata: req.metadata,
        misses: Vec::new(),
    }
}

fn grpc_reference(buf: &[u8]) -> Option<Key> {
    let req = v1::WriteRequest::decode(buf).ok()?;
    batch_from_grpc(req, usize::MAX)
        .ok()
        .map(|b| key(&b.series))
}

fn rw_reference(buf: &[u8]) -> Option<(Key, Vec<pw::MetricMetadata>)> {
    let r = reference_remote_write(pw::WriteRequest::decode(buf).ok()?);
    Some((key(&r.series), r.metadata))
}

fn label_strategy() -> impl Strategy<Value = (String, String)> {
    ("[a-z_]{0,4}", "\\PC{0,4}")
}

/// A delta column: mostly small steps, sometimes any 64 bits (wrapping).
fn deltas() -> impl Strategy<Value = Vec<i64>> {
    prop::collection::vec(prop_oneof![4 => -70i64..70, 1 => any::<i64>()], 0..6)
}

fn compact_series() -> impl Strategy<Value = v1::CompactSeries> {
    (
        prop::collection::vec(0u32..7, 0..7),
        -2i32..10,
        deltas(),
        prop::collection::vec(any::<u64>(), 0..6),
        deltas(),
        0u8..3,
    )
        .prop_map(|(label_refs, kind, timestamp_deltas, values, ints, form)| {
            // Mostly one value form; sometimes both (refused).
            let values: Vec<f64> = values.into_iter().map(f64::from_bits).collect();
            let (values, integer_deltas) = match form {
                0 => (values, Vec::new()),
                1 => (Vec::new(), ints),
                _ => (values, ints),
            };
            v1::CompactSeries {
                label_refs,
                kind,
                timestamp_deltas,
                values,
                integer_deltas,
                series_ref: 0,
            }
        })
}

fn v1_request() -> impl Strategy<Value = v1::WriteRequest> {
    let series = (
        prop::collection::vec(label_strategy(), 0..4),
        -2i32..10,
        prop::collection::vec(any::<i64>(), 0..6),
        prop::collection::vec(any::<u64>(), 0..6),
    )
        .prop_map(|(labels, kind, timestamps, values)| v1::SeriesSamples {
            labels: labels
                .into_iter()
                .map(|(name, value)| v1::Label { name, value })
                .collect(),
            kind,
            timestamps,
            values: values.into_iter().map(f64::from_bits).collect(),
        });
    (
        prop::collection::vec(series, 0..5),
        prop::collection::vec(prop_oneof!["[a-z_]{0,4}", "\\PC{0,4}"], 0..6),
        prop::collection::vec(compact_series(), 0..4),
    )
        .prop_map(|(series, symbols, compact)| v1::WriteRequest {
            series,
            symbols,
            compact,
        })
}

fn rw_request() -> impl Strategy<Value = pw::WriteRequest> {
    let sample = (any::<u64>(), any::<i64>()).prop_map(|(v, t)| pw::Sample {
        value: f64::from_bits(v),
        timestamp: t,
    });
    let ts = (
        prop::collection::vec(label_strategy(), 0..4),
        prop::collection::vec(sample, 0..4),
        prop::collection::vec(any::<i64>(), 0..2),
    )
        .prop_map(|(labels, samples, ex)| pw::TimeSeries {
            labels: labels
                .into_iter()
                .map(|(name, value)| pw::Label { name, value })
                .collect(),
            samples,
            exemplars: ex
                .into_iter()
                .map(|t| pw::Exemplar {
                    labels: vec![],
                    value: 1.0,
                    timestamp: t,
                })
                .collect(),
        });
    let md = ("[a-z_]{0,6}", 0i32..9).prop_map(|(name, t)| pw::MetricMetadata {
        r#type: t,
        metric_family_name: name,
        help: "h".into(),
        unit: String::new(),
    });
    (
        prop::collection::vec(ts, 0..5),
        prop::collection::vec(md, 0..2),
    )
        .prop_map(|(timeseries, metadata)| pw::WriteRequest {
            timeseries,
            metadata,
        })
}

proptest! {
    #[test]
    fn grpc_equals_prost(req in v1_request()) {
        let buf = req.encode_to_vec();
        let fast = decode_write_request_fast(&buf).map(|b| key(&b.series));
        prop_assert_eq!(fast.ok(), grpc_reference(&buf));
    }

    #[test]
    fn remote_write_equals_prost(req in rw_request()) {
        let buf = req.encode_to_vec();
        let fast = decode_remote_write_fast(&buf).map(|r| (key(&r.series), r.metadata));
        prop_assert_eq!(fast.ok(), rw_reference(&buf));
    }

    /// Damaged messages never panic; whatever the fast path accepts, prost
    /// accepts the same way.
    #[test]
    fn damaged_input_never_panics(
        req in v1_request(),
        rw in rw_request(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        cut in any::<prop::sample::Index>(),
    ) {
        for mut buf in [req.encode_to_vec(), rw.encode_to_vec()] {
            if buf.is_empty() {
                continue;
            }
            for (at, b) in &edits {
                let i = at.index(buf.len());
                buf[i] = *b;
            }
            let cut_buf = &buf[..cut.index(buf.len() + 1)];
            for b in [&buf[..], cut_buf] {
                if let Ok(fast) = decode_write_request_fast(b) {
                    prop_assert_eq!(Some(key(&fast.series)), grpc_reference(b));
                }
                if let Ok(fast) = decode_remote_write_fast(b) {
                    prop_assert_eq!(Some((key(&fast.series), fast.metadata)), rw_reference(b));
                }
            }
        }
    }

    #[test]
    fn random_bytes_never_panic(buf in prop::collection::vec(any::<u8>(), 0..64)) {
        if let Ok(fast) = decode_write_request_fast(&buf) {
            prop_assert_eq!(Some(key(&fast.series)), grpc_reference(&buf));
        }
        if let Ok(fast) = decode_remote_write_fast(&buf) {
            prop_assert_eq!(Some((key(&fast.series), fast.metadata)), rw_reference(&buf));
        }
    }
}

/// Field 3 (timestamps) unpacked, field 4 (values) unpacked, fields out of
/// order and an unknown field: prost reads all of it, so must we.
#[test]
fn unpacked_and_reordered_fields() {
    let mut s = Vec::new();
    s.extend_from_slice(&[0x18, 0x05]); // timestamps: 5 (varint)
    s.push(0x21); // values: fixed64
    s.extend_from_slice(&2.5f64.to_le_bytes());
    s.extend_from_slice(&[0x0a, 0x07, 0x0a, 0x01, b'a', 0x12, 0x02, b'x', b'y']); // label a="xy"
    s.extend_from_slice(&[0x18, 0x07]); // timestamps: 7
    s.push(0x21);
    s.extend_from_slice(&3.5f64.to_le_bytes());
    s.extend_from_slice(&[0x78, 0x01]); // unknown field 15, varint
    s.extend_from_slice(&[0x10, 0x02]); // kind: gauge
    let mut buf = vec![0x0a, s.len() as u8];
    buf.extend_from_slice(&s);
    let fast = decode_write_request_fast(&buf).unwrap();
    assert_eq!(Some(key(&fast.series)), grpc_reference(&buf));
    let sb = &fast.series[0];
    assert_eq!(sb.timestamps, vec![5, 7]);
    assert_eq!(sb.values, vec![2.5, 3.5]);
    assert_eq!(sb.kind, SeriesKind::Gauge);
    assert_eq!(sb.labels, Labels::from_pairs(&[("a", "xy")]));
}

#[track_caller]
fn assert_grpc_error(buf: &[u8], field: &str, kind: DecodeErrorKind) {
    let e = decode_write_request_fast(buf).unwrap_err();
    assert_eq!((e.field, e.kind), (field, kind), "{e}");
    assert!(e.to_string().contains(field));
    assert!(v1::WriteRequest::decode(buf).is_err(), "prost accepted it");
}

#[test]
fn malformed_input_names_the_field() {
    // A series whose packed timestamps claim 5 bytes but hold 2.
    assert_grpc_error(
        &[0x0a, 0x04, 0x1a, 0x05, 0x01, 0x02],
        "SeriesSamples.timestamps",
        DecodeErrorKind::Truncated,
    );
    // Truncated inside the outer length.
    assert_grpc_error(
        &[0x0a, 0x09, 0x1a],
        "WriteRequest.series",
        DecodeErrorKind::Truncated,
    );
    // A huge length (2^63) never allocates or overflows.
    let mut huge = vec![0x0a];
    huge.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]);
    assert_grpc_error(&huge, "WriteRequest.series", DecodeErrorKind::Truncated);
    // Label name sent as a varint.
    assert_grpc_error(
        &[0x0a, 0x04, 0x0a, 0x02, 0x08, 0x01],
        "Label.name",
        DecodeErrorKind::WireType(0),
    );
    // Series sent as a varint.
    assert_grpc_error(
        &[0x08, 0x01],
        "WriteRequest.series",
        DecodeErrorKind::WireType(0),
    );
    // Packed doubles of 7 bytes.
    let mut seven = vec![0x0a, 0x09, 0x22, 0x07];
    seven.extend_from_slice(&[0; 7]);
    assert_grpc_error(
        &seven,
        "SeriesSamples.values",
        DecodeErrorKind::PackedLength(7),
    );
    // An 11-byte varint.
    let mut long = vec![0x0a, 0x0c, 0x10];
    long.extend_from_slice(&[0xff; 10]);
    long.push(0x01);
    assert_grpc_error(&long, "SeriesSamples.kind", DecodeErrorKind::VarintOverflow);
    // Field number 0.
    assert_grpc_error(&[0x02, 0x00], "WriteRequest", DecodeErrorKind::InvalidKey);
    // A label value that is not UTF-8.
    assert_grpc_error(
        &[0x0a, 0x05, 0x0a, 0x03, 0x12, 0x01, 0xff],
        "Label.value",
        DecodeErrorKind::InvalidUtf8,
    );
}

/// A compact series (field 3 of the request) from its fields' bytes.
fn compact_request_bytes(symbols: &[&str], series: &[u8]) -> Vec<u8> {
    let mut buf = Vec::new();
    for s in symbols {
        buf.extend_from_slice(&[0x12, s.len() as u8]);
        buf.extend_from_slice(s.as_bytes());
    }
    buf.extend_from_slice(&[0x1a, series.len() as u8]);
    buf.extend_from_slice(series);
    buf
}

#[track_caller]
fn assert_compact_error(buf: &[u8], field: &str, kind: DecodeErrorKind) {
    let e = decode_write_request_fast(buf).unwrap_err();
    assert_eq!((e.field, e.kind), (field, kind), "{e}");
    assert!(e.to_string().contains(field));
    // Valid protobuf, refused by the conversion both paths share.
    let req = v1::WriteRequest::decode(buf).expect("prost reads it");
    assert!(batch_from_grpc(req, usize::MAX).is_err());
}

#[test]
fn compact_series_errors_name_the_field_and_the_cause() {
    let refs = "CompactSeries.label_refs";
    let ints = "CompactSeries.integer_deltas";
    // Three references: not pairs.
    assert_compact_error(
        &compact_request_bytes(&["a", "b"], &[0x0a, 0x03, 0, 1, 0]),
        refs,
        DecodeErrorKind::OddLabelRefs(3),
    );
    // A reference past the two symbols, sent after the series.
    let mut buf = compact_request_bytes(&[], &[0x0a, 0x02, 0, 2]);
    buf.extend_from_slice(&[0x12, 0x01, b'a', 0x12, 0x01, b'b']);
    assert_compact_error(
        &buf,
        refs,
        DecodeErrorKind::SymbolRef {
            index: 2,
            symbols: 2,
        },
    );
    // Both value forms.
    let mut both = vec![0x22, 0x08];
    both.extend_from_slice(&1.0f64.to_le_bytes());
    both.extend_from_slice(&[0x2a, 0x01, 0x02]);
    assert_compact_error(
        &compact_request_bytes(&[], &both),
        ints,
        DecodeErrorKind::TwoValueForms,
    );
    // 2^53 is exact, 2^53 + 1 is not: zigzag(2^53) then +1 (zigzag 2).
    let mut v = Vec::new();
    nines_engine::bytes::put_uvarint(&mut v, 1 << 54);
    v.push(0x02);
    let mut big = vec![0x2a, v.len() as u8];
    big.extend_from_slice(&v);
    assert_compact_error(
        &compact_request_bytes(&[], &big),
        ints,
        DecodeErrorKind::InexactInteger((1 << 53) + 1),
    );
    let exact = [&[0x2a, v.len() as u8 - 1][..], &v[..v.len() - 1]].concat();
    let ok = decode_write_request_fast(&compact_request_bytes(&[], &exact)).unwrap();
    assert_eq!(ok.series[0].values, vec![(1u64 << 53) as f64]);
    // The messages say what to do.
    let e = decode_write_request_fast(&compact_request_bytes(&[], &both)).unwrap_err();
    assert!(e.to_string().contains("send one"), "{e}");
}

/// Wrapping deltas, unpacked and packed elements of one column summed
/// together, symbols after the series: what prost and the spec say.
#[test]
fn compact_series_decode_to_the_samples() {
    let mut s = vec![0x0a, 0x04, 0, 1, 2, 3]; // __name__=up, job=a
    s.extend_from_slice(&[0x10, 0x01]); // kind: counter
    s.extend_from_slice(&[0x18, 0x14]); // timestamp 10 (unpacked)
    s.extend_from_slice(&[0x1a, 0x02, 0x0a, 0x09]); // then +5, -5 (packed)
    s.extend_from_slice(&[0x2a, 0x03, 0x06, 0x02, 0x01]); // values 3, 4, 3
    let mut buf = compact_request_bytes(&[], &s);
    for sym in ["__name__", "up", "job", "a"] {
        buf.extend_from_slice(&[0x12, sym.len() as u8]);
        buf.extend_from_slice(sym.as_bytes());
    }
    let fast = decode_write_request_fast(&buf).unwrap();
    assert_eq!(Some(key(&fast.series)), grpc_reference(&buf));
    let sb = &fast.series[0];
    assert_eq!(
        sb.labels,
        Labels::from_pairs(&[("__name__", "up"), ("job", "a")])
    );
    assert_eq!(sb.kind, SeriesKind::Counter);
    assert_eq!(sb.timestamps, vec![10, 15, 10]);
    assert_eq!(sb.values, vec![3.0, 4.0, 3.0]);
    // i64::MIN then +(-1) wraps to i64::MAX.
    let req = v1::WriteRequest {
        compact: vec![v1::CompactSeries {
            timestamp_deltas: vec![i64::MIN, -1],
            values: vec![1.0, 2.0],
            ..Default::default()
        }],
        ..Default::default()
    };
    let got = decode_write_request_fast(&req.encode_to_vec()).unwrap();
    assert_eq!(got.series[0].timestamps, vec![i64::MIN, i64::MAX]);
}

fn batch_strategy() -> impl Strategy<Value = Vec<SeriesBatch>> {
    let value = prop_oneof![
        3 => (-5000i64..5000).prop_map(|v| v as f64),
        1 => any::<u64>().prop_map(f64::from_bits),
        1 => Just(-0.0),
        1 => Just((1u64 << 53) as f64),
        1 => Just(-((1u64 << 53) as f64) - 2.0),
    ];
    let series = (
        prop::collection::vec(label_strategy(), 0..4),
        prop_oneof![
            Just(SeriesKind::Unknown),
            Just(SeriesKind::Counter),
            Just(SeriesKind::Gauge)
        ],
        prop::collection::vec((any::<i64>(), value), 0..8),
    )
        .prop_map(|(labels, kind, samples)| SeriesBatch {
            labels: Labels::new(labels.into_iter().map(|(n, v)| Label::new(n, v)).collect()),
            kind,
            timestamps: samples.iter().map(|s| s.0).collect(),
            values: samples.iter().map(|s| s.1).collect(),
            resolved: None,
        });
    prop::collection::vec(series, 0..6)
}

proptest! {
    /// The compact encoder loses nothing: every batch comes back bit for
    /// bit (NaN payloads, -0.0, integers at 2^53, wrapping timestamps),
    /// by the fast reader and by prost alike.
    #[test]
    fn compact_request_round_trips(batch in batch_strategy()) {
        let buf = crate::ingest::compact_request(&batch).encode_to_vec();
        let fast = decode_write_request_fast(&buf).unwrap();
        prop_assert_eq!(key(&fast.series), key(&batch));
        prop_assert_eq!(Some(key(&batch)), grpc_reference(&buf));
    }
}

#[test]
fn a_request_that_decodes_past_the_limit_is_refused_before_allocating() {
    // Plain: 64 one-byte timestamps are 512 bytes decoded.
    let req = v1::WriteRequest {
        series: vec![v1::SeriesSamples {
            timestamps: vec![1; 64],
            ..Default::default()
        }],
        ..Default::default()
    };
    let buf = req.encode_to_vec();
    let series = SERIES_COST;
    let e = decode_write_request_cached(&buf, None, series + 511).unwrap_err();
    assert_eq!(e.kind, DecodeErrorKind::TooLarge(series + 511));
    assert!(decode_write_request_cached(&buf, None, series + 512).is_ok());
    // A million empty series entries: 2 MB on the wire, over 100 MB of
    // batch; refused at the limit, whatever the series limit says later.
    let empty = [0x0a, 0x00].repeat(1_000_000);
    let e = decode_write_request_cached(&empty, None, 64 << 20).unwrap_err();
    assert_eq!(
        (e.field, e.kind),
        ("WriteRequest.series", DecodeErrorKind::TooLarge(64 << 20))
    );
    assert!(decode_write_request_cached(&empty[..20_000], None, 64 << 20).is_ok());
    // Compact: one 200-byte symbol referenced by 50 series as name and
    // value is ~22 KB of label text from ~500 bytes on the wire.
    let req = v1::WriteRequest {
        symbols: vec!["x".repeat(200)],
        compact: vec![
            v1::CompactSeries {
                label_refs: vec![0, 0],
                ..Default::default()
            };
            50
        ],
        ..Default::default()
    };
    let buf = req.encode_to_vec();
    assert!(buf.len() < 600);
    let e = decode_write_request_cached(&buf, None, 10_000).unwrap_err();
    assert_eq!(e.kind, DecodeErrorKind::TooLarge(10_000));
    assert_eq!(e.field, "CompactSeries.label_refs");
    // 48 bytes per label plus its text; the entries and the symbol.
    let fits = 50 * (448 + SERIES_COST + 16) + 16;
    assert!(decode_write_request_cached(&buf, None, fits).is_ok());
    // The cached path too: there the label text is first copied into the
    // cache key, charged as it grows (one series with 100,000 references
    // to a 1 KB symbol, ~200 KB on the wire, would be a 100 MB key).
    let cache = SeriesCache::new(16);
    let req = v1::WriteRequest {
        symbols: vec!["y".repeat(1000)],
        compact: vec![v1::CompactSeries {
            label_refs: vec![0; 100_000],
            ..Default::default()
        }],
        ..Default::default()
    };
    let buf = req.encode_to_vec();
    assert!(buf.len() < 250_000);
    let e = decode_write_request_cached(&buf, Some(&cache), 1 << 20).unwrap_err();
    assert_eq!(e.kind, DecodeErrorKind::TooLarge(1 << 20));
    assert_eq!(e.field, "CompactSeries.label_refs");
}

#[test]
fn a_remote_write_that_decodes_past_its_budget_is_refused() {
    let limit = |b: &[u8]| b.len() * REMOTE_WRITE_EXPANSION;
    let decode = |b: &[u8]| decode_remote_write_cached(b, None);
    // A million empty TimeSeries entries: 2 MB that would be 88 MB of
    // batch.
    let empty = [0x0a, 0x00].repeat(1_000_000);
    let e = decode(&empty).unwrap_err();
    assert_eq!(
        (e.field, e.kind),
        (
            "WriteRequest.timeseries",
            DecodeErrorKind::TooLarge(limit(&empty))
        )
    );
    // 100,000 empty labels in one series: 200 KB, 4.8 MB of structs.
    let req = pw::WriteRequest {
        timeseries: vec![pw::TimeSeries {
            labels: vec![pw::Label::default(); 100_000],
            ..Default::default()
        }],
        ..Default::default()
    };
    let buf = req.encode_to_vec();
    let e = decode(&buf).unwrap_err();
    assert_eq!(e.field, "TimeSeries.labels");
    // The plain gRPC form's labels are charged the same way.
    let grpc = v1::WriteRequest {
        series: vec![v1::SeriesSamples {
            labels: vec![v1::Label::default(); 100_000],
            ..Default::default()
        }],
        ..Default::default()
    };
    let buf = grpc.encode_to_vec();
    let e = decode_write_request_cached(&buf, None, 1 << 20).unwrap_err();
    assert_eq!(e.field, "SeriesSamples.labels");
    // The legitimate worst case passes: each series one short label and
    // one sample, as a sender batching many series sends them.
    let req = pw::WriteRequest {
        timeseries: (0..10_000)
            .map(|i| pw::TimeSeries {
                labels: vec![pw::Label {
                    name: "__name__".into(),
                    value: "a".into(),
                }],
                samples: vec![pw::Sample {
                    value: 1.0,
                    timestamp: 1_700_000_000_000 + i,
                }],
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    let buf = req.encode_to_vec();
    let d = decode(&buf).unwrap();
    assert_eq!(d.series.len(), 10_000);
}

proptest! {
    /// `varint` (one-byte fast path) and `packed_varint` (up to three
    /// bytes inline) read every varint as the byte loop does: each length
    /// from 1 to 10 bytes, at the end of the buffer and before other bytes,
    /// and truncated ones.
    #[test]
    fn varints_read_as_the_byte_loop_does(
        v in prop_oneof![any::<u64>(), (0u32..64).prop_map(|b| 1u64 << b), (0u32..64).prop_map(|b| (1u64 << b) - 1)],
        tail in prop::collection::vec(any::<u8>(), 0..10),
        cut in 0usize..11,
    ) {
        let mut b = Vec::new();
        nines_engine::bytes::put_uvarint(&mut b, v);
        let n = b.len();
        b.extend_from_slice(&tail);
        let mut r = Reader::new(&b);
        prop_assert_eq!(r.varint("f"), Ok(v));
        prop_assert_eq!(r.pos, n);
        let mut p = Reader::new(&b);
        prop_assert_eq!(p.packed_varint("f"), Ok(v));
        prop_assert_eq!(p.pos, n);
        let mut slow = Reader::new(&b);
        prop_assert_eq!(slow.varint_slow("f"), Ok(v));
        let short = &b[..cut.min(n - 1)];
        let (mut r, mut slow) = (Reader::new(short), Reader::new(short));
        prop_assert_eq!(r.varint("f"), slow.varint_slow("f"));
        prop_assert!(r.varint("f").is_err());
        let mut p = Reader::new(short);
        prop_assert!(p.packed_varint("f").is_err());
    }
}

#[test]
fn remote_write_errors_name_the_field() {
    // A sample whose value is a varint.
    let buf = [0x0a, 0x04, 0x12, 0x02, 0x08, 0x01];
    let e = decode_remote_write_fast(&buf).unwrap_err();
    assert_eq!(e.field, "Sample.value");
    assert_eq!(e.kind, DecodeErrorKind::WireType(0));
    assert!(pw::WriteRequest::decode(&buf[..]).is_err());
    // Metadata prost refuses (help is not UTF-8).
    let buf = [0x1a, 0x03, 0x22, 0x01, 0xff];
    let e = decode_remote_write_fast(&buf).unwrap_err();
    assert_eq!(e.field, "WriteRequest.metadata");
    assert!(pw::WriteRequest::decode(&buf[..]).is_err());
}

fn scratch_engine() -> (tempfile::TempDir, nines_engine::Engine) {
    let dir = tempfile::tempdir().unwrap();
    let engine =
        nines_engine::Engine::open(nines_engine::EngineOptions::new(dir.path()).background(false))
            .unwrap();
    (dir, engine)
}

/// What the write path does after a cached decode: resolves and remembers
/// the misses. Then spells every cached series back out as labels (checking
/// the metric name the remote-write receiver reads kinds by) so the batch
/// compares with a plain decode; returns how many series were cache hits.
fn settle(
    series: &mut [SeriesBatch],
    misses: Vec<CacheMiss>,
    cache: &SeriesCache,
    engine: &nines_engine::Engine,
) -> usize {
    let hits = series.iter().filter(|s| s.resolved.is_some()).count();
    for m in misses {
        let sb = &series[m.index];
        assert!(sb.resolved.is_none());
        if let Ok(r) = engine.resolve(&sb.labels) {
            cache.insert(m.hash, m.key, r);
        }
    }
    for s in series {
        if let Some(r) = s.resolved.take() {
            assert!(s.labels.is_empty());
            s.labels = r.labels();
            assert_eq!(r.label("__name__"), s.labels.metric_name());
        }
    }
    hits
}

fn decode_through_cache(
    buf: &[u8],
    cache: &SeriesCache,
    engine: &nines_engine::Engine,
) -> (Key, usize) {
    let d = decode_write_request_cached(buf, Some(cache), usize::MAX).unwrap();
    let mut series = d.batch.series;
    let hits = settle(&mut series, d.misses, cache, engine);
    (key(&series), hits)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn cached_decode_equals_the_plain_one(
        mut req in v1_request(),
        names in prop::collection::vec(prop::option::of("[a-z]{1,3}"), 5),
    ) {
        // Most series get a metric name (the head refuses series without).
        for (s, n) in req.series.iter_mut().zip(names.iter().cloned()) {
            if let Some(n) = n {
                s.labels.push(v1::Label { name: "__name__".into(), value: n });
            }
        }
        // Compact series made valid (the strategy also makes refused ones),
        // and named the same way.
        let symbols = req.symbols.len() as u32;
        req.symbols.push("__name__".into());
        for (c, n) in req.compact.iter_mut().zip(names.into_iter().rev()) {
            if c.label_refs.len() % 2 == 1 || symbols == 0 {
                c.label_refs.pop();
            }
            if symbols == 0 {
                c.label_refs.clear();
            }
            for r in &mut c.label_refs {
                *r %= symbols.max(1);
            }
            if !c.values.is_empty() {
                c.integer_deltas.clear();
            }
            for d in &mut c.integer_deltas {
                *d = (*d).clamp(-70, 70);
            }
            if let Some(n) = n {
                req.symbols.push(n);
                c.label_refs.extend([symbols, req.symbols.len() as u32 - 1]);
            }
        }
        let (_dir, engine) = scratch_engine();
        let cache = SeriesCache::new(1024);
        let buf = req.encode_to_vec();
        let plain = key(&decode_write_request_fast(&buf).unwrap().series);
        let (first, _) = decode_through_cache(&buf, &cache, &engine);
        prop_assert_eq!(&first, &plain);
        let (_, looked_up) = cache.counts();
        prop_assert_eq!(cache.counts(), (0, looked_up));
        // Every series the head accepted is now a hit, with the same labels.
        let (second, hits) = decode_through_cache(&buf, &cache, &engine);
        prop_assert_eq!(&second, &plain);
        // /metrics counts a request's lookups: the hits, and the misses
        // (series the head refused, looked up again).
        prop_assert_eq!(cache.counts(), (hits as u64, 2 * looked_up - hits as u64));
        let resolvable = plain
            .iter()
            .filter(|(l, ..)| !l.is_empty() && engine.resolve(l).is_ok())
            .count();
        prop_assert_eq!(hits, resolvable);
        // The same series under another request's symbol table (reversed,
        // the references renumbered) are the same hits: the cache knows a
        // compact series by its label text, not by symbol numbers.
        let n = req.symbols.len() as u32;
        req.symbols.reverse();
        for c in &mut req.compact {
            for r in &mut c.label_refs {
                *r = n - 1 - *r;
            }
        }
        let buf = req.encode_to_vec();
        let (third, hits) = decode_through_cache(&buf, &cache, &engine);
        prop_assert_eq!(&third, &plain);
        prop_assert_eq!(hits, resolvable);
    }
}

#[test]
fn a_compact_key_matches_only_its_own_text() {
    let symbols = ["ab", "c", "a", "bc", ""];
    let key = |refs: &[u32]| {
        let mut k = vec![0u8];
        for &i in refs {
            let s = symbols[i as usize];
            put_uvarint(&mut k, s.len() as u64);
            k.extend_from_slice(s.as_bytes());
        }
        k
    };
    let ab_c = key(&[0, 1]);
    assert!(compact_key_is(&ab_c, &[0, 1], &symbols));
    // the same bytes run together, split elsewhere
    assert!(!compact_key_is(&ab_c, &[2, 3], &symbols));
    assert!(!compact_key_is(&ab_c, &[0], &symbols));
    assert!(!compact_key_is(&ab_c, &[0, 1, 4], &symbols));
    assert!(!compact_key_is(&ab_c[1..], &[0, 1], &symbols));
    assert!(!compact_key_is(&ab_c[..ab_c.len() - 1], &[0, 1], &symbols));
    assert!(compact_key_is(&[0], &[], &symbols));
}

#[test]
fn label_fields_split_by_other_fields_are_decoded_but_not_cached() {
    let (_dir, engine) = scratch_engine();
    let cache = SeriesCache::new(1024);
    let label = |n: &str, v: &str| {
        v1::Label {
            name: n.into(),
            value: v.into(),
        }
        .encode_to_vec()
    };
    // labels, kind, labels: valid protobuf, not what encoders write.
    let mut series = Vec::new();
    for (i, part) in [label("__name__", "up"), vec![], label("job", "a")]
        .into_iter()
        .enumerate()
    {
        if i == 1 {
            series.extend_from_slice(&[0x10, 0x02]); // kind = GAUGE
            continue;
        }
        series.push(0x0a);
        series.push(part.len() as u8);
        series.extend_from_slice(&part);
    }
    series.extend_from_slice(&[0x1a, 0x01, 0x05, 0x22, 0x08]);
    series.extend_from_slice(&1.5f64.to_le_bytes());
    let mut buf = vec![0x0a, series.len() as u8];
    buf.extend_from_slice(&series);
    for _ in 0..2 {
        let (got, hits) = decode_through_cache(&buf, &cache, &engine);
        assert_eq!(hits, 0);
        assert!(cache.is_empty());
        assert_eq!(
            got,
            vec![(
                Labels::from_pairs(&[("__name__", "up"), ("job", "a")]),
                SeriesKind::Gauge,
                vec![5],
                vec![1.5f64.to_bits()]
            )]
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn cached_remote_write_decode_equals_the_plain_one(
        mut req in rw_request(),
        names in prop::collection::vec(prop::option::of("[a-z]{1,3}"), 5),
    ) {
        for (s, n) in req.timeseries.iter_mut().zip(names) {
            if let Some(n) = n {
                s.labels.push(pw::Label { name: "__name__".into(), value: n });
            }
        }
        let (_dir, engine) = scratch_engine();
        let cache = SeriesCache::new(1024);
        let buf = req.encode_to_vec();
        let plain = decode_remote_write_fast(&buf).unwrap();
        prop_assert!(plain.misses.is_empty());
        let mut hits = 0;
        for pass in 0..2 {
            // no decoded-size limit: the strategy makes empty entries too
            let mut d = remote_write(&buf, Some(&cache), usize::MAX).unwrap();
            let misses = std::mem::take(&mut d.misses);
            hits = settle(&mut d.series, misses, &cache, &engine);
            prop_assert_eq!(key(&d.series), key(&plain.series), "pass {}", pass);
            prop_assert_eq!(&d.metadata, &plain.metadata);
        }
        let resolvable = plain
            .series
            .iter()
            .filter(|s| !s.labels.is_empty() && engine.resolve(&s.labels).is_ok())
            .count();
        prop_assert_eq!(hits, resolvable);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    /// A stream of compact requests numbering its series (a few label sets
    /// met again and again, within a batch too, some of them refused by
    /// the head) decodes message by message, with and without the series
    /// cache, to the batches sent: numbered series come back resolved to
    /// the head series of their labels, or with their labels.
    #[test]
    fn numbered_streams_decode_to_the_batches_sent(
        pool in prop::collection::vec(prop::collection::vec(label_strategy(), 0..3), 1..4),
        named in prop::collection::vec(any::<bool>(), 4),
        mut stream in prop::collection::vec(batch_strategy(), 1..5),
        cached in any::<bool>(),
    ) {
        let pool: Vec<Labels> = pool
            .into_iter()
            .zip(named)
            .map(|(mut l, named)| {
                if named {
                    l.push(("__name__".into(), "m".into()));
                }
                Labels::new(l.into_iter().map(|(n, v)| Label::new(n, v)).collect())
            })
            .collect();
        for (k, batch) in stream.iter_mut().enumerate() {
            for (j, s) in batch.iter_mut().enumerate() {
                s.labels = pool[(j + k) % pool.len()].clone();
            }
        }
        let (_dir, engine) = scratch_engine();
        let cache = SeriesCache::new(if cached { 1024 } else { 0 });
        let mut numbers = crate::ingest::SeriesNumbers::default();
        let mut refs = StreamRefs::default();
        for batch in &stream {
            let req = crate::ingest::compact_request_numbered(batch, Some(&mut numbers));
            let buf = req.encode_to_vec();
            let d = decode_write_request_stream(&buf, Some(&cache), usize::MAX, Some(&mut refs))
                .unwrap();
            let mut series = d.batch.series;
            settle(&mut series, d.misses, &cache, &engine);
            prop_assert_eq!(key(&series), key(batch));
            refs.resolve_pending(&engine, false);
        }
        prop_assert!(refs.len() <= pool.len());
    }
}

#[test]
fn series_numbers_name_their_errors() {
    let num = "CompactSeries.series_ref";
    let once = |n: u32, labels: bool| {
        v1::WriteRequest {
            symbols: vec!["__name__".into(), "up".into()],
            compact: vec![v1::CompactSeries {
                label_refs: if labels { vec![0, 1] } else { vec![] },
                timestamp_deltas: vec![1],
                values: vec![1.0],
                series_ref: n,
                ..Default::default()
            }],
            ..Default::default()
        }
        .encode_to_vec()
    };
    let mut refs = StreamRefs::default();
    let mut stream = |buf: &[u8]| {
        decode_write_request_stream(buf, None, usize::MAX, Some(&mut refs)).map(|_| ())
    };
    let err = |kind| Err(DecodeError { field: num, kind });
    assert_eq!(
        stream(&once(3, false)),
        err(DecodeErrorKind::UndefinedSeriesRef(3))
    );
    assert_eq!(
        stream(&once(MAX_SERIES_REF + 1, true)),
        err(DecodeErrorKind::SeriesRefTooLarge(MAX_SERIES_REF + 1))
    );
    assert_eq!(stream(&once(3, true)), Ok(()));
    assert_eq!(stream(&once(3, false)), Ok(()));
    // A unary Write: a number with labels is a definition nothing uses;
    // alone, an error.
    let unary = |buf: &[u8]| decode_write_request_cached(buf, None, usize::MAX).map(|_| ());
    assert_eq!(unary(&once(3, true)), Ok(()));
    assert_eq!(
        unary(&once(3, false)),
        err(DecodeErrorKind::SeriesRefOutsideStream(3))
    );
    let e = decode_write_request_cached(&once(3, false), None, usize::MAX).unwrap_err();
    assert!(e.to_string().contains("unary Write"), "{e}");
}
