//! End-to-end WAL tests: write through [`Wal`], damage or crash the image,
//! replay, and compare with what was acknowledged.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use proptest::prelude::*;

use super::file::file_path;
use super::frame::{ScanEvent, Scanner, PREFIX_LEN};
use super::header::{self, HEADER_LEN};
use super::mem::MemStorage;
use super::*;
use crate::error::Error;
use crate::types::{Labels, SeriesKind};

const DIR: &str = "/data/wal";

fn dir() -> &'static Path {
    Path::new(DIR)
}

fn labels(id: u32) -> Labels {
    Labels::from_pairs(&[("__name__", "requests_total"), ("pod", &format!("p{id}"))])
}

/// A batch: series `ids`, `n` samples each at `t0, t0+1, ..`, value bits
/// derived from (id, t) so any mix-up shows.
struct Batch {
    ids: Vec<u32>,
    labels: Vec<Labels>,
    ts: Vec<i64>,
    vals: Vec<Vec<f64>>,
}

fn value(id: u32, t: i64) -> f64 {
    f64::from_bits(0x7ff0_0000_0000_0001 ^ (u64::from(id) << 40) ^ t as u64)
}

impl Batch {
    fn new(ids: impl IntoIterator<Item = u32>, t0: i64, n: usize) -> Batch {
        let ids: Vec<u32> = ids.into_iter().collect();
        let ts: Vec<i64> = (0..n as i64).map(|i| t0 + i).collect();
        Batch {
            labels: ids.iter().map(|&id| labels(id)).collect(),
            vals: ids
                .iter()
                .map(|&id| ts.iter().map(|&t| value(id, t)).collect())
                .collect(),
            ids,
            ts,
        }
    }

    fn series(&self) -> Vec<WalSeries<'_>> {
        self.ids
            .iter()
            .zip(&self.labels)
            .zip(&self.vals)
            .map(|((&id, labels), vals)| WalSeries {
                id,
                kind: SeriesKind::Counter,
                labels: labels.into(),
                timestamps: &self.ts,
                values: vals,
            })
            .collect()
    }

    /// (labels, t, value bits) of every sample.
    fn samples(&self) -> Vec<(String, i64, u64)> {
        let mut out = Vec::new();
        for (i, &id) in self.ids.iter().enumerate() {
            for (j, &t) in self.ts.iter().enumerate() {
                out.push((labels(id).to_string(), t, self.vals[i][j].to_bits()));
                assert_eq!(self.vals[i][j].to_bits(), value(id, t).to_bits());
            }
        }
        out
    }
}

/// What replay handed over, resolved through each file's declarations.
#[derive(Default)]
struct Replayed {
    samples: BTreeSet<(String, i64, u64)>,
    series_records: BTreeMap<u64, usize>,
    files: BTreeSet<u64>,
}

fn open_collect(storage: &MemStorage, opts: WalOptions) -> Result<(Wal, ReplayReport, Replayed)> {
    let mut got = Replayed::default();
    let mut names: BTreeMap<(u64, u32), Labels> = BTreeMap::new();
    let (wal, report) = Wal::open_with(Arc::new(storage.clone()), dir(), opts, &mut |seq, rec| {
        got.files.insert(seq);
        match rec {
            WalRecord::Series { id, kind, labels } => {
                assert_eq!(kind, SeriesKind::Counter);
                names.insert((seq, id), labels);
                *got.series_records.entry(seq).or_default() += 1;
            }
            WalRecord::Samples(entries) => {
                for e in entries {
                    let l = names.get(&(seq, e.id)).expect("declared in this file");
                    for (t, v) in e.timestamps.iter().zip(&e.values) {
                        got.samples.insert((l.to_string(), *t, v.to_bits()));
                    }
                }
            }
        }
        Ok(())
    })?;
    Ok((wal, report, got))
}

fn mem_opts() -> WalOptions {
    WalOptions::default().with_quarantine_dir("/data/quarantine")
}

/// Offsets of the records in a WAL file image.
fn record_offsets(bytes: &[u8]) -> Vec<usize> {
    Scanner::new(bytes, HEADER_LEN, |_| true)
        .map(|ev| match ev {
            ScanEvent::Record(f) => f.offset,
            other => panic!("damaged fixture: {other:?}"),
        })
        .collect()
}

fn write_batches(storage: &MemStorage, batches: &[Batch]) {
    let (wal, report, _) = open_collect(storage, mem_opts()).unwrap();
    assert!(report.is_clean());
    for b in batches {
        wal.append(&b.series()).unwrap();
    }
    wal.close().unwrap();
}

fn all_samples(batches: &[Batch]) -> BTreeSet<(String, i64, u64)> {
    batches.iter().flat_map(Batch::samples).collect()
}

#[test]
fn replays_what_was_appended_and_starts_a_new_file() {
    let s = MemStorage::new();
    let batches = [Batch::new(0..5, 100, 3), Batch::new(3..9, 200, 2)];
    write_batches(&s, &batches);
    let (wal, report, got) = open_collect(&s, mem_opts()).unwrap();
    assert_eq!(got.samples, all_samples(&batches));
    assert_eq!(
        got.series_records[&1], 9,
        "one Series record per id per file"
    );
    assert_eq!((report.files, report.samples, report.records), (1, 27, 11));
    assert!(report.is_clean() && report.torn_tail.is_none());
    assert_eq!(wal.current_seq(), 2);
    assert_eq!(wal.closed_seqs(), vec![1]);
}

#[test]
fn every_truncation_of_the_last_record_is_cut_and_the_next_open_is_clean() {
    let s = MemStorage::new();
    let batches = [
        Batch::new(0..4, 10, 2),
        Batch::new(0..4, 20, 2),
        Batch::new(0..4, 30, 2),
    ];
    write_batches(&s, &batches);
    let path = file_path(dir(), 1);
    let full = s.file(&path).unwrap();
    let last = *record_offsets(&full).last().unwrap();
    let earlier = all_samples(&batches[..2]);
    for cut in last..full.len() {
        let img = MemStorage::new();
        img.put_file(&path, full[..cut].to_vec());
        let (wal, report, got) = open_collect(&img, mem_opts()).unwrap();
        drop(wal);
        assert_eq!(got.samples, earlier, "cut at {cut}");
        assert!(
            report.corrupt.is_empty(),
            "cut at {cut}: {:?}",
            report.corrupt
        );
        let want_torn = (cut > last).then(|| (path.clone(), last as u64));
        assert_eq!(report.torn_tail, want_torn, "cut at {cut}");
        assert_eq!(img.file(&path).unwrap().len(), last, "truncated durably");
        let (_, again, got2) = open_collect(&img, mem_opts()).unwrap();
        assert!(
            again.is_clean() && again.torn_tail.is_none(),
            "cut {cut}: {again:?}"
        );
        assert_eq!(got2.samples, earlier);
    }
}

#[test]
fn flipped_byte_in_a_middle_record_is_reported_quarantined_and_skipped() {
    let s = MemStorage::new();
    let batches = [
        Batch::new(0..3, 10, 2),
        Batch::new(0..3, 20, 2),
        Batch::new(0..3, 30, 2),
    ];
    write_batches(&s, &batches);
    let path = file_path(dir(), 1);
    let original = s.file(&path).unwrap();
    let offsets = record_offsets(&original);
    // 3 Series records, then one Samples record per batch.
    assert_eq!(offsets.len(), 6);
    for (what, at) in [
        ("payload", offsets[4] + PREFIX_LEN + 3),
        ("length", offsets[4] + 1),
    ] {
        let img = MemStorage::new();
        let mut bad = original.clone();
        bad[at] ^= 0x10;
        img.put_file(&path, bad.clone());
        let (_, report, got) = open_collect(&img, mem_opts()).unwrap();
        assert_eq!(report.corrupt.len(), 1, "{what}: {:?}", report.corrupt);
        let c = &report.corrupt[0];
        assert_eq!((&c.path, c.offset), (&path, offsets[4] as u64), "{what}");
        assert!(!c.rule.is_empty());
        let mut want = all_samples(&batches[..1]);
        want.extend(batches[2].samples());
        assert_eq!(got.samples, want, "{what}: later records replayed");
        let q = PathBuf::from("/data/quarantine/wal-00000001.wal");
        assert_eq!(report.quarantined, vec![q.clone()]);
        assert_eq!(
            img.file(&q).unwrap(),
            bad,
            "{what}: quarantine holds the damaged bytes"
        );
        assert!(report.torn_tail.is_none());
    }
}

#[test]
fn damaged_series_record_drops_its_samples_and_counts_them() {
    let s = MemStorage::new();
    let batches = [Batch::new(0..3, 10, 4)];
    write_batches(&s, &batches);
    let path = file_path(dir(), 1);
    let mut bytes = s.file(&path).unwrap();
    let offsets = record_offsets(&bytes);
    bytes[offsets[1] + PREFIX_LEN + 2] ^= 1;
    s.put_file(&path, bytes);
    let (_, report, got) = open_collect(&s, mem_opts()).unwrap();
    assert_eq!(report.corrupt.len(), 1);
    assert_eq!(report.orphan_samples, 4);
    assert_eq!(got.samples.len(), 8);
    assert!(!report.is_clean());
}

#[test]
fn rotation_redeclares_series_and_each_file_replays_alone() {
    let s = MemStorage::new();
    let opts = mem_opts().with_segment_bytes(700);
    let (wal, _, _) = open_collect(&s, opts.clone()).unwrap();
    let batches: Vec<Batch> = (0..12).map(|i| Batch::new(0..4, i * 100, 3)).collect();
    for b in &batches {
        wal.append(&b.series()).unwrap();
    }
    let seqs = wal.closed_seqs();
    assert!(seqs.len() >= 3, "rotated: {seqs:?}");
    let current = wal.current_seq();
    wal.close().unwrap();

    // Each file on its own declares its ids and yields only good samples.
    let mut union = BTreeSet::new();
    let mut max_ts = BTreeMap::new();
    for seq in seqs.iter().copied().chain([current]) {
        let alone = MemStorage::new();
        let p = file_path(dir(), seq);
        alone.put_file(&p, s.file(&p).unwrap());
        let (_, report, got) = open_collect(&alone, mem_opts()).unwrap();
        assert!(report.is_clean(), "file {seq}: {report:?}");
        assert_eq!(
            got.series_records.get(&seq),
            Some(&4),
            "file {seq} redeclares"
        );
        max_ts.insert(seq, got.samples.iter().map(|x| x.1).max());
        union.extend(got.samples);
    }
    assert_eq!(union, all_samples(&batches));

    // Files whose samples all lie at or before the cut go; the rest stay.
    let (wal, _, _) = open_collect(&s, opts).unwrap();
    let cut = 550;
    let expect_gone: Vec<u64> = max_ts
        .iter()
        .filter(|(_, m)| m.is_none_or(|m| m <= cut))
        .map(|(&seq, _)| seq)
        .collect();
    assert!(!expect_gone.is_empty() && expect_gone.len() < max_ts.len());
    let before = wal.closed_seqs();
    let removed = wal.remove_files_through(cut).unwrap();
    assert_eq!(removed, expect_gone.len());
    let left: Vec<u64> = before
        .into_iter()
        .filter(|q| !expect_gone.contains(q))
        .collect();
    assert_eq!(wal.closed_seqs(), left);
    for seq in &expect_gone {
        assert!(s.file(&file_path(dir(), *seq)).is_none(), "{seq} deleted");
    }
    for seq in &left {
        assert!(s.file(&file_path(dir(), *seq)).is_some(), "{seq} kept");
        assert!(max_ts[seq].is_some_and(|m| m > cut));
    }
    assert!(s.file(&file_path(dir(), wal.current_seq())).is_some());
}

#[test]
fn group_commit_one_sync_covers_every_waiting_writer() {
    let s = MemStorage::new();
    let (wal, _, _) = open_collect(&s, mem_opts()).unwrap();
    let syncs_before = s.syncs();
    let writers = 8u32;
    let batches: Vec<Batch> = (0..writers).map(|w| Batch::new([w], 1000, 5)).collect();
    s.hold_syncs(true);
    std::thread::scope(|scope| {
        let wal = &wal;
        // The first writer becomes the leader and blocks inside its sync.
        let first = scope.spawn(|| wal.append(&batches[0].series()));
        while s.held_syncs() == 0 {
            std::thread::yield_now();
        }
        // The others write and queue behind the sync in flight.
        let rest: Vec<_> = batches[1..]
            .iter()
            .map(|b| scope.spawn(move || wal.append(&b.series())))
            .collect();
        while wal.stats().appends < u64::from(writers) {
            std::thread::yield_now();
        }
        s.hold_syncs(false);
        first.join().unwrap().unwrap();
        for h in rest {
            h.join().unwrap().unwrap();
        }
    });
    assert_eq!(
        s.syncs() - syncs_before,
        2,
        "the leader's sync, then one for all others"
    );
    let (_, _, got) = open_collect(&s.crash_image(), mem_opts()).unwrap();
    assert_eq!(got.samples, all_samples(&batches));
}

#[test]
fn acknowledged_appends_survive_a_crash_at_any_moment() {
    let s = MemStorage::new();
    let (wal, _, _) = open_collect(&s, mem_opts().with_segment_bytes(4096)).unwrap();
    let acked: Mutex<Vec<(u32, i64)>> = Mutex::new(Vec::new());
    // Crash images taken while the other writers run: each must hold every
    // batch acknowledged before it was taken.
    let images = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for w in 0..4u32 {
            let (wal, acked, images, s) = (&wal, &acked, &images, &s);
            scope.spawn(move || {
                for t in 0..60 {
                    let b = Batch::new([w, w + 10], t * 10, 2);
                    wal.append(&b.series()).unwrap();
                    acked.lock().push((w, t));
                    if t % 10 == 9 {
                        let seen = acked.lock().clone();
                        let img = s.crash_image();
                        images.lock().push((seen, img));
                    }
                }
            });
        }
    });
    let images = images.into_inner();
    assert_eq!(images.len(), 24);
    assert!(wal.closed_seqs().len() >= 2, "rotated under load");
    for (seen, img) in images {
        let (_, report, got) = open_collect(&img, mem_opts()).unwrap();
        assert!(report.is_clean(), "{report:?}");
        for (w, t) in seen {
            for s in Batch::new([w, w + 10], t * 10, 2).samples() {
                assert!(got.samples.contains(&s), "acked {w}/{t} lost: {s:?}");
            }
        }
    }
}

#[test]
fn many_threads_under_always_on_the_real_filesystem() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("wal");
    let (wal, _) = Wal::open(&dir, WalOptions::default(), &mut |_, _| Ok(())).unwrap();
    let threads = 8u32;
    let per = 25i64;
    std::thread::scope(|scope| {
        for w in 0..threads {
            let wal = &wal;
            scope.spawn(move || {
                for t in 0..per {
                    wal.append(&Batch::new([w], t, 4).series()).unwrap();
                }
            });
        }
    });
    let st = wal.stats();
    assert_eq!(st.appends, u64::from(threads) * per as u64);
    assert!(
        st.fsyncs < st.appends,
        "group commit: {} fsyncs for {} appends",
        st.fsyncs,
        st.appends
    );
    drop(wal); // no close: every acknowledged append must already be durable
    let mut n = 0u64;
    let (_, report) = Wal::open(&dir, WalOptions::default(), &mut |_, rec| {
        if let WalRecord::Samples(e) = rec {
            n += e.iter().map(|e| e.timestamps.len() as u64).sum::<u64>();
        }
        Ok(())
    })
    .unwrap();
    assert!(report.is_clean());
    // Batches of the same writer overlap in time (t..t+4): count, not dedup.
    assert_eq!(n, u64::from(threads) * per as u64 * 4);
}

#[test]
fn failing_fsync_fails_that_append_and_every_later_one() {
    let s = MemStorage::new();
    let (wal, _, _) = open_collect(&s, mem_opts()).unwrap();
    wal.append(&Batch::new(0..2, 1, 1).series()).unwrap();
    s.fail_syncs(true);
    let err = wal.append(&Batch::new(0..2, 2, 1).series()).unwrap_err();
    assert!(
        matches!(err, Error::WalFailed(ref m) if m.contains("injected sync")),
        "{err}"
    );
    s.fail_syncs(false);
    let later = wal.append(&Batch::new(0..2, 3, 1).series()).unwrap_err();
    assert!(matches!(later, Error::WalFailed(_)), "{later}");
    assert!(wal.stats().failed);
    assert!(matches!(wal.sync(), Err(Error::WalFailed(_))));
}

#[test]
fn failing_write_mid_record_fails_and_replay_cuts_the_torn_record() {
    let s = MemStorage::new();
    let (wal, _, _) = open_collect(&s, mem_opts()).unwrap();
    let first = Batch::new(0..3, 1, 2);
    wal.append(&first.series()).unwrap();
    s.fail_writes_after(20);
    assert!(matches!(
        wal.append(&Batch::new(0..3, 5, 2).series()),
        Err(Error::WalFailed(_))
    ));
    s.clear_faults();
    assert!(matches!(
        wal.append(&Batch::new(0..3, 9, 2).series()),
        Err(Error::WalFailed(_))
    ));
    drop(wal);
    let (_, report, got) = open_collect(&s, mem_opts()).unwrap();
    assert_eq!(got.samples, all_samples(&[first]));
    assert_eq!(report.torn_tail.map(|t| t.0), Some(file_path(dir(), 1)));
    assert!(report.corrupt.is_empty());
}

#[test]
fn short_writes_are_completed() {
    let s = MemStorage::new();
    s.short_writes(7);
    let batches = [Batch::new(0..20, 0, 10)];
    write_batches(&s, &batches);
    s.clear_faults();
    let (_, report, got) = open_collect(&s, mem_opts()).unwrap();
    assert!(report.is_clean());
    assert_eq!(got.samples, all_samples(&batches));
}

#[test]
fn unknown_version_is_a_typed_error_that_says_what_to_do() {
    let s = MemStorage::new();
    write_batches(&s, &[Batch::new(0..1, 0, 1)]);
    let path = file_path(dir(), 1);
    let mut bytes = s.file(&path).unwrap();
    bytes[MAGIC_LEN] = 2;
    s.put_file(&path, bytes);
    let err = open_collect(&s, mem_opts()).err().expect("refused");
    assert!(
        matches!(err, Error::UnknownVersion { ref path, found: 2, supported: 1 } if path.ends_with("00000001.wal")),
        "{err}"
    );
    assert!(err.to_string().contains("upgrade nines"), "{err}");
}

const MAGIC_LEN: usize = header::MAGIC.len();

#[test]
fn torn_header_of_the_last_file_is_removed_elsewhere_it_is_corruption() {
    let s = MemStorage::new();
    write_batches(&s, &[Batch::new(0..2, 0, 1)]);
    let torn = file_path(dir(), 3);
    s.put_file(&torn, header::encode(3)[..10].to_vec());
    let (wal, report, got) = open_collect(&s, mem_opts()).unwrap();
    assert_eq!(report.torn_tail, Some((torn.clone(), 0)));
    assert!(s.file(&torn).is_none());
    assert_eq!(got.samples.len(), 2);
    assert_eq!(wal.current_seq(), 4, "seqs never go back");
    drop(wal);

    // Now a short file that is not the last one.
    s.put_file(&file_path(dir(), 2), vec![0; 5]);
    let (_, report, _) = open_collect(&s, mem_opts()).unwrap();
    assert_eq!(report.corrupt.len(), 1, "{report:?}");
    assert_eq!(report.corrupt[0].path, file_path(dir(), 2));
}

#[test]
fn header_seq_must_match_the_file_name() {
    let s = MemStorage::new();
    s.put_file(&file_path(dir(), 5), header::encode(6).to_vec());
    s.put_file(&file_path(dir(), 7), header::encode(7).to_vec());
    let (_, report, _) = open_collect(&s, mem_opts()).unwrap();
    assert_eq!(report.corrupt.len(), 1);
    assert!(
        report.corrupt[0].rule.contains("seq 6"),
        "{}",
        report.corrupt[0].rule
    );
}

#[test]
fn never_policy_loses_only_unsynced_records_on_power_loss() {
    let s = MemStorage::new();
    let (wal, _, _) = open_collect(&s, mem_opts().with_sync(SyncPolicy::Never)).unwrap();
    let b = Batch::new(0..3, 0, 2);
    wal.append(&b.series()).unwrap();
    let (_, report, got) = open_collect(&s.crash_image(), mem_opts()).unwrap();
    assert!(report.is_clean() && got.samples.is_empty());
    wal.close().unwrap();
    let (_, _, got) = open_collect(&s.crash_image(), mem_opts()).unwrap();
    assert_eq!(got.samples, all_samples(&[b]));
}

#[test]
fn interval_policy_syncs_in_the_background() {
    let s = MemStorage::new();
    let opts = mem_opts().with_sync(SyncPolicy::Interval(Duration::from_millis(5)));
    let (wal, _, _) = open_collect(&s, opts).unwrap();
    let b = Batch::new(0..3, 0, 2);
    wal.append(&b.series()).unwrap();
    // Poll until the syncer has run; the bound only stops a broken syncer
    // from hanging the suite.
    let mut polls = 0;
    loop {
        let (_, _, got) = open_collect(&s.crash_image(), mem_opts()).unwrap();
        if got.samples == all_samples(std::slice::from_ref(&b)) {
            break;
        }
        polls += 1;
        assert!(
            polls < 5_000,
            "the interval syncer never made the append durable"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    drop(wal);
}

#[test]
fn invalid_input_is_refused_without_failing_the_wal() {
    let s = MemStorage::new();
    let (wal, _, _) = open_collect(&s, mem_opts()).unwrap();
    let l = labels(1);
    let bad = [WalSeries {
        id: 1,
        kind: SeriesKind::Counter,
        labels: (&l).into(),
        timestamps: &[1, 2],
        values: &[1.0],
    }];
    assert!(matches!(wal.append(&bad), Err(Error::InvalidArgument(_))));
    let dup = Labels::new(vec![
        crate::types::Label::new("a", "1"),
        crate::types::Label::new("a", "2"),
    ]);
    let bad = [WalSeries {
        id: 2,
        kind: SeriesKind::Counter,
        labels: (&dup).into(),
        timestamps: &[1],
        values: &[1.0],
    }];
    assert!(matches!(wal.append(&bad), Err(Error::InvalidArgument(_))));
    let b = Batch::new(0..3, 0, 2);
    wal.append(&b.series()).unwrap();
    wal.append(&[]).unwrap();
    wal.close().unwrap();
    let (_, _, got) = open_collect(&s, mem_opts()).unwrap();
    assert_eq!(got.samples, all_samples(&[b]));
}

#[test]
fn options_are_validated() {
    let s = Arc::new(MemStorage::new());
    let zero = WalOptions::default().with_segment_bytes(0);
    assert!(Wal::open_with(s.clone(), dir(), zero, &mut |_, _| Ok(())).is_err());
    let zero = WalOptions::default().with_sync(SyncPolicy::Interval(Duration::ZERO));
    assert!(Wal::open_with(s, dir(), zero, &mut |_, _| Ok(())).is_err());
}

/// The version-1 fixture: written once by this code, checked in, and read by
/// every later build. `NINES_BLESS=1` rewrites it (only for a new version).
#[test]
fn reads_the_version_1_fixture_and_still_writes_it_byte_for_byte() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/wal/v1/00000001.wal");
    let s = MemStorage::new();
    let (wal, _, _) = open_collect(&s, mem_opts()).unwrap();
    let special = [
        0.0,
        -0.0,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::from_bits(0x7ff0_0000_0000_0002),
    ];
    let l = Labels::from_pairs(&[
        ("__name__", "http_requests_total"),
        ("code", "200"),
        ("job", "api"),
    ]);
    let ts = [
        1_767_571_200_000,
        1_767_571_215_000,
        1_767_571_229_998,
        -5,
        i64::MAX,
    ];
    wal.append(&[WalSeries {
        id: 1,
        kind: SeriesKind::Counter,
        labels: (&l).into(),
        timestamps: &ts,
        values: &special,
    }])
    .unwrap();
    wal.append(&Batch::new([7], 42, 2).series()).unwrap();
    wal.close().unwrap();
    let written = s.file(&file_path(dir(), 1)).unwrap();
    if std::env::var_os("NINES_BLESS").is_some() {
        std::fs::create_dir_all(fixture.parent().unwrap()).unwrap();
        std::fs::write(&fixture, &written).unwrap();
    }
    let golden = std::fs::read(&fixture).expect("fixture exists (NINES_BLESS=1 creates it)");
    assert_eq!(
        written, golden,
        "the writer's bytes changed: bump the format version"
    );

    let img = MemStorage::new();
    img.put_file(&file_path(dir(), 1), golden);
    let mut recs = Vec::new();
    let (_, report) = Wal::open_with(Arc::new(img), dir(), mem_opts(), &mut |seq, r| {
        recs.push((seq, r));
        Ok(())
    })
    .unwrap();
    assert!(report.is_clean());
    assert_eq!(recs.len(), 4);
    assert_eq!(
        recs[0],
        (
            1,
            WalRecord::Series {
                id: 1,
                kind: SeriesKind::Counter,
                labels: l
            }
        )
    );
    let WalRecord::Samples(e) = &recs[1].1 else {
        panic!("{recs:?}")
    };
    assert_eq!(e[0].timestamps, ts);
    let bits: Vec<u64> = e[0].values.iter().map(|v| v.to_bits()).collect();
    let want: Vec<u64> = special.iter().map(|v| v.to_bits()).collect();
    assert_eq!(bits, want);
    assert!(matches!(&recs[2].1, WalRecord::Series { id: 7, .. }));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Replay never panics, whatever the bytes; damage anywhere but the last
    /// record never loses records it did not touch.
    #[test]
    fn replay_survives_arbitrary_damage(
        flips in prop::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..6),
        noise in prop::collection::vec(any::<u8>(), 0..64),
        truncate in any::<prop::sample::Index>(),
    ) {
        let s = MemStorage::new();
        write_batches(&s, &[Batch::new(0..4, 0, 3), Batch::new(2..6, 10, 3)]);
        let path = file_path(dir(), 1);
        let clean = s.file(&path).unwrap();
        let mut second = clean.clone();
        second[..HEADER_LEN].copy_from_slice(&header::encode(2));
        let mut bytes = clean.clone();
        for (i, x) in &flips {
            let at = i.index(bytes.len());
            bytes[at] ^= x;
        }
        bytes.extend_from_slice(&noise);
        let cut = truncate.index(bytes.len() + 1);
        for image in [bytes.clone(), bytes[..cut].to_vec(), noise.clone()] {
            let img = MemStorage::new();
            img.put_file(&path, image);
            img.put_file(&file_path(dir(), 2), second.clone());
            let res = open_collect(&img, mem_opts());
            if let Ok((_, report, got)) = res {
                // file 2 is intact and replays in full
                prop_assert!(got.samples.len() >= 24);
                prop_assert!(report.files >= 1);
            }
        }
    }
}

#[test]
fn a_current_file_entirely_at_or_before_the_cut_is_closed_and_removed() {
    let s = MemStorage::new();
    let (wal, _, _) = open_collect(&s, mem_opts()).unwrap();
    let first = wal.current_seq();
    wal.append(&Batch::new(0..3, 100, 5).series()).unwrap();
    // not everything is at or before 102: the file stays current
    assert_eq!(wal.remove_files_through(102).unwrap(), 0);
    assert_eq!(wal.current_seq(), first);
    assert_eq!(wal.remove_files_through(104).unwrap(), 1);
    assert!(
        s.file(&file_path(dir(), first)).is_none(),
        "flushed file deleted"
    );
    assert_ne!(wal.current_seq(), first);
    let later = Batch::new(0..3, 200, 2);
    wal.append(&later.series()).unwrap();
    wal.close().unwrap();
    let (_, report, got) = open_collect(&s, mem_opts()).unwrap();
    assert!(report.is_clean());
    assert_eq!(
        got.samples,
        all_samples(&[later]),
        "the new file declares its series again"
    );
}
