use super::format::{ColumnType, FOOTER_LEN};
use super::*;
use crate::codec::DecodeScratch;
use crate::error::Error;
use crate::index::{select, MatchOp, Matcher};
use crate::types::{Labels, SeriesKind, STALE_NAN_BITS};

type TestSeries = (Labels, Vec<i64>, Vec<f64>);

fn series_set() -> Vec<TestSeries> {
    let mut out = Vec::new();
    for (i, code) in ["200", "500"].iter().enumerate() {
        for job in ["api", "web"] {
            let labels =
                Labels::from_pairs(&[("__name__", "req_total"), ("code", code), ("job", job)]);
            let n = if job == "api" { 10_000 } else { 3 };
            let ts: Vec<i64> = (0..n)
                .map(|k| 1_000 + k as i64 * 15_000 + (k % 7) as i64)
                .collect();
            let mut vs: Vec<f64> = (0..n).map(|k| (k * (i + 1)) as f64).collect();
            vs[n / 2] = f64::from_bits(STALE_NAN_BITS);
            vs[0] = -0.0;
            out.push((labels, ts, vs));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn write(dir: &std::path::Path, set: &[TestSeries]) -> (std::path::PathBuf, SegmentInfo) {
    let path = dir.join("0001.seg");
    let mut w = SegmentWriter::create(&path, 0, &[ColumnType::I64, ColumnType::F64]).unwrap();
    for (l, ts, vs) in set {
        w.add_series(l, SeriesKind::Counter, &[Column::I64(ts), Column::F64(vs)])
            .unwrap();
    }
    let info = w.finish().unwrap();
    (path, info)
}

fn read_all(seg: &Segment, ord: u32, mint: i64, maxt: i64) -> (Vec<i64>, Vec<f64>) {
    let e = seg.series(ord).unwrap();
    let mut cols = vec![ColumnBuf::I64(vec![]), ColumnBuf::F64(vec![])];
    seg.read_columns(&e, mint, maxt, &mut DecodeScratch::default(), &mut cols)
        .unwrap();
    match (cols.remove(0), cols.remove(0)) {
        (ColumnBuf::I64(t), ColumnBuf::F64(v)) => (t, v),
        _ => unreachable!(),
    }
}

#[test]
fn write_read_round_trip_bit_exact() {
    let dir = tempfile::tempdir().unwrap();
    let set = series_set();
    let (path, info) = write(dir.path(), &set);
    assert_eq!(info.series, 4);
    assert_eq!(info.rows, 20_006);
    assert_eq!(info.bytes, std::fs::metadata(&path).unwrap().len());
    let seg = Segment::open(&path).unwrap();
    assert_eq!(seg.series_count(), 4);
    for (ord, (l, ts, vs)) in set.iter().enumerate() {
        let e = seg.series(ord as u32).unwrap();
        assert_eq!(&e.labels, l);
        assert_eq!(e.kind, SeriesKind::Counter);
        let (t, v) = read_all(&seg, ord as u32, i64::MIN, i64::MAX);
        assert_eq!(&t, ts);
        let bits = |x: &[f64]| x.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&v), bits(vs));
        // a range inside the second block only
        if ts.len() > 5000 {
            let (lo, hi) = (ts[5000], ts[6000]);
            let (t, _) = read_all(&seg, ord as u32, lo, hi);
            assert_eq!(t, ts[5000..=6000].to_vec());
            let (t, _) = read_all(&seg, ord as u32, lo + 1, hi - 1);
            assert_eq!(t, ts[5001..6000].to_vec());
        }
    }
    assert!(seg.verify(true).is_empty());
}

#[test]
fn postings_select_series() {
    let dir = tempfile::tempdir().unwrap();
    let set = series_set();
    let (path, _) = write(dir.path(), &set);
    let seg = Segment::open(&path).unwrap();
    let m = |op, n: &str, v: &str| Matcher::new(op, n, v).unwrap();
    let got: Vec<u32> = select(
        &seg,
        &[
            m(MatchOp::Equal, "code", "500"),
            m(MatchOp::RegexMatch, "job", "a.*"),
        ],
    )
    .iter()
    .collect();
    assert_eq!(got.len(), 1);
    let e = seg.series(got[0]).unwrap();
    assert_eq!(e.labels.get("code"), Some("500"));
    assert_eq!(e.labels.get("job"), Some("api"));
    assert_eq!(seg.label_values("job"), vec!["api", "web"]);
    assert_eq!(seg.label_names(), vec!["__name__", "code", "job"]);
    assert!(select(&seg, &[m(MatchOp::Equal, "code", "404")]).is_empty());
}

#[test]
fn writer_refuses_out_of_order_series_and_unsorted_time() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.seg");
    let mut w = SegmentWriter::create(&path, 0, &[ColumnType::I64, ColumnType::F64]).unwrap();
    let b = Labels::from_pairs(&[("__name__", "b")]);
    let a = Labels::from_pairs(&[("__name__", "a")]);
    w.add_series(
        &b,
        SeriesKind::Gauge,
        &[Column::I64(&[1]), Column::F64(&[1.0])],
    )
    .unwrap();
    let e = w
        .add_series(
            &a,
            SeriesKind::Gauge,
            &[Column::I64(&[1]), Column::F64(&[1.0])],
        )
        .unwrap_err();
    assert!(e.to_string().contains("label order"), "{e}");
    let c = Labels::from_pairs(&[("__name__", "c")]);
    let e = w
        .add_series(
            &c,
            SeriesKind::Gauge,
            &[Column::I64(&[2, 1]), Column::F64(&[1.0, 2.0])],
        )
        .unwrap_err();
    assert!(e.to_string().contains("strictly increasing"), "{e}");
    drop(w);
    assert!(
        !path.with_extension("seg.tmp").exists(),
        "an unfinished segment leaves no file"
    );
}

#[test]
fn every_flipped_byte_is_detected_by_open_verify_or_read() {
    let dir = tempfile::tempdir().unwrap();
    let set: Vec<TestSeries> = series_set()
        .into_iter()
        .filter(|s| s.1.len() < 100)
        .collect();
    let (path, _) = write(dir.path(), &set);
    let good = std::fs::read(&path).unwrap();
    for i in 0..good.len() {
        let mut bad = good.clone();
        bad[i] ^= 0x01;
        std::fs::write(&path, &bad).unwrap();
        let detected = match Segment::open(&path) {
            Err(Error::Corrupted { .. }) | Err(Error::UnknownVersion { .. }) => true,
            Err(e) => panic!("byte {i}: unexpected error {e}"),
            Ok(seg) => !seg.verify(true).is_empty(),
        };
        // The 6 reserved header bytes carry no meaning; every other byte is
        // covered by a CRC or the magic.
        let reserved = (format::HEADER_RESERVED_OFFSET..format::HEADER_LEN).contains(&i);
        assert!(
            detected || reserved,
            "flip at byte {i} of {} went unnoticed",
            good.len()
        );
    }
}

#[test]
fn damaged_block_fails_the_read_naming_path_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    let set = series_set();
    let (path, _) = write(dir.path(), &set);
    let seg = Segment::open(&path).unwrap();
    let e = seg.series(0).unwrap();
    let off = e.chunk.blocks[1].offset as usize + 3;
    drop(seg);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[off] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();
    let seg = Segment::open(&path).unwrap();
    let e = seg.series(0).unwrap();
    let mut cols = vec![ColumnBuf::I64(vec![]), ColumnBuf::F64(vec![])];
    let err = seg
        .read_columns(
            &e,
            i64::MIN,
            i64::MAX,
            &mut DecodeScratch::default(),
            &mut cols,
        )
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("0001.seg") && msg.contains("block crc"),
        "{msg}"
    );
    let damage = seg.verify(true);
    assert_eq!(damage.len(), 1);
    assert_eq!(damage[0].offset, e.chunk.blocks[1].offset);
}

#[test]
fn unknown_version_and_truncation_are_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = write(dir.path(), &series_set());
    let good = std::fs::read(&path).unwrap();
    let mut v4 = good.clone();
    let at = good.len() - FOOTER_LEN + (FOOTER_LEN - 10);
    v4[at] = 4;
    std::fs::write(&path, &v4).unwrap();
    assert!(matches!(
        Segment::open(&path),
        Err(Error::UnknownVersion {
            found: 4,
            supported: 3,
            ..
        })
    ));
    std::fs::write(&path, &good[..good.len() - 100]).unwrap();
    let e = Segment::open(&path).err().unwrap();
    assert!(e.to_string().contains("truncated"), "{e}");
}

#[test]
fn block_splits_are_even() {
    assert_eq!(block_splits(0, 4096), Vec::<usize>::new());
    assert_eq!(block_splits(10, 4096), vec![10]);
    assert_eq!(block_splits(4097, 4096), vec![2049, 2048]);
    assert_eq!(block_splits(8192, 4096), vec![4096, 4096]);
}

/// The series stored in `tests/fixtures/segment-v1.seg`, derived by formula
/// so the test knows every sample without a second file.
fn fixture_series() -> Vec<TestSeries> {
    let mut out = Vec::new();
    for (i, job) in ["api", "db", "web\"q"].iter().enumerate() {
        let labels = Labels::from_pairs(&[("__name__", "fixture_total"), ("job", job)]);
        let n = 5000 + 37 * i;
        let ts: Vec<i64> = (0..n)
            .map(|k| 1_767_571_200_000 + k as i64 * 15_000 + if k % 20 == 7 { 3 } else { 0 })
            .collect();
        let mut vs: Vec<f64> = (0..n)
            .map(|k| ((k * k) % 977) as f64 / 1000.0 + k as f64)
            .collect();
        vs[n - 1] = f64::from_bits(STALE_NAN_BITS);
        vs[10] = -0.0;
        vs[11] = f64::from_bits(0x7ff8_0000_0000_0001);
        out.push((labels, ts, vs));
    }
    out
}

#[test]
fn reads_the_v1_golden_fixture() {
    check_fixture("segment-v1.seg", 1);
}

#[test]
fn reads_the_v2_golden_fixture() {
    check_fixture("segment-v2.seg", 2);
}

/// `NINES_BLESS=1` writes the current version's fixture once, when the
/// format version changes; never again afterwards.
#[test]
fn reads_the_v3_golden_fixture() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/segment-v3.seg");
    if std::env::var_os("NINES_BLESS").is_some() {
        let mut w = SegmentWriter::create(&path, 0, &[ColumnType::I64, ColumnType::F64]).unwrap();
        for (l, ts, vs) in &fixture_series() {
            w.add_series(l, SeriesKind::Counter, &[Column::I64(ts), Column::F64(vs)])
                .unwrap();
        }
        w.finish().unwrap();
    }
    check_fixture("segment-v3.seg", 3);
}

/// A file whose entries do not add up to its data region is refused at
/// open, naming the rule.
#[test]
fn entries_must_cover_the_data_region() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = write(dir.path(), &series_set());
    assert!(Segment::open(&path).unwrap().verify(true).is_empty());
    // one more byte in the data region: every offset after it is off
    let mut bytes = std::fs::read(&path).unwrap();
    let f = bytes.len() - FOOTER_LEN;
    let mut footer = super::format::Footer::decode(&bytes[f..]).unwrap();
    let symbols = footer.section_offsets[0] as usize;
    bytes.insert(symbols, 0);
    for o in footer.section_offsets.iter_mut() {
        *o += 1;
    }
    let f = bytes.len() - FOOTER_LEN;
    bytes.truncate(f);
    bytes.extend_from_slice(&footer.encode());
    std::fs::write(&path, &bytes).unwrap();
    let err = Segment::open(&path).err().expect("refused");
    assert!(err.to_string().contains("data region"), "{err}");
}

fn check_fixture(name: &str, version: u16) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures")
        .join(name);
    let set = fixture_series();
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(
        super::format::Footer::version(&bytes[bytes.len() - super::format::FOOTER_LEN..]),
        version
    );
    let seg = Segment::open(&path)
        .expect("a fixture must stay readable; never regenerate an old version's");
    assert_eq!(seg.footer().resolution_s, 0);
    assert_eq!(seg.series_count() as usize, set.len());
    for (ord, (l, ts, vs)) in set.iter().enumerate() {
        let e = seg.series(ord as u32).unwrap();
        assert_eq!(&e.labels, l);
        assert_eq!(e.kind, SeriesKind::Counter);
        let (t, v) = read_all(&seg, ord as u32, i64::MIN, i64::MAX);
        assert_eq!(&t, ts);
        assert_eq!(
            v.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            vs.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
        );
    }
    assert!(seg.verify(true).is_empty());
}

#[test]
fn directory_matches_parsed_entries_and_shares_label_sets_across_files() {
    let dir = tempfile::tempdir().unwrap();
    let set = series_set();
    let (path, _) = write(dir.path(), &set);
    let copy = dir.path().join("0002.seg");
    std::fs::copy(&path, &copy).unwrap();
    let (a, b) = (Segment::open(&path).unwrap(), Segment::open(&copy).unwrap());
    let interner = crate::read::LabelInterner::default();
    let (da, db) = (
        a.directory(&interner).unwrap(),
        b.directory(&interner).unwrap(),
    );
    assert_eq!(da.len(), set.len());
    assert!(da.mem_bytes() > 0);
    for ord in 0..set.len() as u32 {
        let parsed = a.series(ord).unwrap();
        let (ea, eb) = (da.get(&a, ord).unwrap(), db.get(&b, ord).unwrap());
        assert_eq!(*ea.labels, parsed.labels);
        assert_eq!(ea.kind, parsed.kind);
        assert_eq!(ea.chunk.blocks, parsed.chunk.blocks);
        assert!(std::sync::Arc::ptr_eq(&ea.labels, &eb.labels));
        // reads through the directory give what reads through the entry give
        let mut cols = vec![ColumnBuf::I64(vec![]), ColumnBuf::F64(vec![])];
        a.read_chunk(
            &ea.chunk,
            &ea.labels,
            50_000,
            900_000,
            &mut DecodeScratch::default(),
            &mut cols,
        )
        .unwrap();
        let (t, v) = read_all(&a, ord, 50_000, 900_000);
        assert_eq!(cols, vec![ColumnBuf::I64(t), ColumnBuf::F64(v)]);
    }
    assert!(da.get(&a, set.len() as u32).is_err());
    // the same directory on later calls
    assert!(std::ptr::eq(da, a.directory(&interner).unwrap()));
}

/// Damaged compressed sections (with a section CRC that matches them, as
/// a buggy writer would leave) are refused at open with the section named.
#[test]
fn damaged_compressed_sections_are_refused_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = write(dir.path(), &series_set());
    let good = std::fs::read(&path).unwrap();
    let f = good.len() - FOOTER_LEN;
    let footer = super::format::Footer::decode(&good[f..]).unwrap();
    for (section, name) in [(1, "series entries"), (3, "postings")] {
        let (a, b) = (
            footer.section_offsets[section] as usize,
            footer.section_offsets[section + 1] as usize,
        );
        for at in [a, a + (b - a) / 2, b - 1] {
            let mut bytes = good.clone();
            bytes[at] ^= 0x55;
            let mut fixed = footer.clone();
            fixed.section_crcs[section] = crc32fast::hash(&bytes[a..b]);
            bytes.truncate(f);
            bytes.extend_from_slice(&fixed.encode());
            std::fs::write(&path, &bytes).unwrap();
            let err = Segment::open(&path).err().expect("refused");
            assert!(err.to_string().contains(name), "{name} at {at}: {err}");
        }
    }
}

/// `bytes` (a whole segment file) with section `i` replaced by `new`: the
/// later sections move, the footer's offsets and CRC follow.
fn with_section(bytes: &[u8], i: usize, new: &[u8]) -> Vec<u8> {
    let f = bytes.len() - FOOTER_LEN;
    let mut footer = super::format::Footer::decode(&bytes[f..]).unwrap();
    let start = footer.section_offsets[i] as usize;
    let end = if i + 1 < 5 {
        footer.section_offsets[i + 1] as usize
    } else {
        f
    };
    let mut out = bytes[..start].to_vec();
    out.extend_from_slice(new);
    out.extend_from_slice(&bytes[end..f]);
    let shift = new.len() as i64 - (end - start) as i64;
    for o in footer.section_offsets.iter_mut().skip(i + 1) {
        *o = (*o as i64 + shift) as u64;
    }
    footer.section_crcs[i] = crc32fast::hash(new);
    out.extend_from_slice(&footer.encode());
    out
}

fn zstd_frame(bytes: &[u8]) -> Vec<u8> {
    let mut z = zstd::bulk::Compressor::new(3).unwrap();
    z.set_parameter(zstd::zstd_safe::CParameter::ChecksumFlag(true))
        .unwrap();
    z.compress(bytes).unwrap()
}

/// Version 3 keeps chunk metadata inside the compressed series entries:
/// damaged metadata there (under a sound frame and CRC, as a buggy writer
/// would leave) fails the series' read and `verify`, naming the section
/// and the place in its decompressed bytes; the other series still read.
#[test]
fn damaged_chunk_metadata_in_the_entries_fails_that_series() {
    let dir = tempfile::tempdir().unwrap();
    let set = series_set();
    let (path, _) = write(dir.path(), &set);
    let good = std::fs::read(&path).unwrap();
    let seg = Segment::open(&path).unwrap();
    let meta_at = seg.series(1).unwrap().chunk.meta_off as usize;
    let mut entries = seg.entries.clone();
    drop(seg);
    entries[meta_at + 1] ^= 0x20;
    std::fs::write(&path, with_section(&good, 1, &zstd_frame(&entries))).unwrap();
    let seg = Segment::open(&path).expect("entries still parse");
    let damage = seg.verify(true);
    assert_eq!(damage.len(), 1, "{damage:?}");
    assert!(
        damage[0].rule.contains("chunk metadata crc")
            && damage[0].rule.contains("decompressed series entries"),
        "{damage:?}"
    );
    for ord in [0, 2, 3] {
        let (t, _) = read_all(&seg, ord, i64::MIN, i64::MAX);
        assert_eq!(t, set[ord as usize].1);
    }
}

/// A postings frame declaring another size than its index covers is
/// refused before anything is decompressed.
#[test]
fn postings_frame_must_match_its_index() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = write(dir.path(), &series_set());
    let good = std::fs::read(&path).unwrap();
    let seg = Segment::open(&path).unwrap();
    let mut postings = seg.postings.clone();
    drop(seg);
    postings.push(0);
    std::fs::write(&path, with_section(&good, 3, &zstd_frame(&postings))).unwrap();
    let err = Segment::open(&path).err().expect("refused");
    assert!(err.to_string().contains("postings index covers"), "{err}");
}

/// Chunk metadata grows with the rows of a chunk (value exceptions are
/// stored in it): a long series with many of them, one series in the
/// file, writes and reads back (the reader's bound on the entries is
/// derived from the rows, not only the series).
#[test]
fn a_long_chunk_with_large_metadata_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let n = 1_000_000usize;
    let ts: Vec<i64> = (0..n).map(|k| k as i64 * 15_000).collect();
    let vs: Vec<f64> = (0..n)
        .map(|k| {
            if k % 40 == 7 {
                f64::from_bits(0x7ff8_0000_0000_0000 | k as u64)
            } else {
                k as f64
            }
        })
        .collect();
    let labels = Labels::from_pairs(&[("__name__", "long_total")]);
    let (path, _) = write(dir.path(), &[(labels, ts.clone(), vs.clone())]);
    let seg = Segment::open(&path).unwrap();
    let meta: u32 = seg.series(0).unwrap().chunk.meta_lens.iter().sum();
    assert!(meta > 128 * 1024, "metadata of {meta} bytes");
    let (t, v) = read_all(&seg, 0, i64::MIN, i64::MAX);
    assert_eq!(t, ts);
    assert_eq!(
        v.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
        vs.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
    );
    assert!(seg.verify(true).is_empty());
}
