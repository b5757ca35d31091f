//! Round trips through the public API and through every encoding, selection
//! checks, and garbage input.

use super::*;
use proptest::prelude::*;

/// Splits `n` rows into pages using `cuts` (each taken modulo a small size so
/// that single-row pages are common), ending with the remainder.
fn pages_from(n: usize, cuts: &[usize]) -> Vec<usize> {
    let mut lens = Vec::new();
    let mut left = n;
    for &c in cuts {
        if left == 0 {
            break;
        }
        let len = (c % left.min(300)) + 1;
        lens.push(len);
        left -= len;
    }
    if left > 0 {
        lens.push(left);
    }
    lens
}

fn decode_i64(col: &EncodedColumn, page_lens: &[usize]) -> Result<Vec<i64>, CodecError> {
    let dec = I64Decoder::new(&col.meta)?;
    let mut scratch = DecodeScratch::default();
    let mut out = vec![0i64; page_lens.iter().sum()];
    let mut start = 0;
    for (page, &len) in col.pages.iter().zip(page_lens) {
        dec.decode_page(&mut scratch, start, page, &mut out[start..start + len])?;
        start += len;
    }
    Ok(out)
}

fn decode_f64(col: &EncodedColumn, page_lens: &[usize]) -> Result<Vec<u64>, CodecError> {
    let dec = F64Decoder::new(&col.meta)?;
    let mut scratch = DecodeScratch::default();
    let mut out = vec![0f64; page_lens.iter().sum()];
    // The read path's form, appending to a buffer that already holds a row.
    let mut appended = vec![0.5];
    let mut start = 0;
    for (page, &len) in col.pages.iter().zip(page_lens) {
        dec.decode_page(&mut scratch, start, page, &mut out[start..start + len])?;
        dec.decode_page_append(&mut scratch, start, page, len, &mut appended)?;
        start += len;
    }
    let bits: Vec<u64> = out.iter().map(|v| v.to_bits()).collect();
    let appended: Vec<u64> = appended[1..].iter().map(|v| v.to_bits()).collect();
    assert_eq!(
        bits, appended,
        "decode_page_append differs from decode_page"
    );
    Ok(bits)
}

/// Encodes, checks the page count, decodes and compares; returns the encoding.
#[track_caller]
fn round_trip_i64(values: &[i64], page_lens: &[usize]) -> I64Encoding {
    let col = encode_i64(values, page_lens).unwrap();
    assert_eq!(col.pages.len(), page_lens.len());
    assert_eq!(decode_i64(&col, page_lens).unwrap(), values);
    I64Decoder::new(&col.meta).unwrap().encoding_tag()
}

#[track_caller]
fn round_trip_f64(values: &[f64], page_lens: &[usize]) -> F64Decoder {
    let col = encode_f64(values, page_lens).unwrap();
    assert_eq!(col.pages.len(), page_lens.len());
    let bits: Vec<u64> = values.iter().map(|v| v.to_bits()).collect();
    assert_eq!(decode_f64(&col, page_lens).unwrap(), bits);
    F64Decoder::new(&col.meta).unwrap()
}

/// Adversarial i64 columns: grids with jitter, gaps and extremes, counters
/// with resets, constant runs, arbitrary values.
fn i64_column() -> impl Strategy<Value = Vec<i64>> {
    let grid = (
        any::<i64>(),
        -100_000i64..100_000,
        proptest::collection::vec((0u8..100, any::<i64>()), 1..400),
    )
        .prop_map(|(t0, step, rows)| {
            let mut g = t0;
            rows.iter()
                .map(|&(p, x)| {
                    g = g.wrapping_add(step);
                    match p {
                        0..=84 => g,
                        85..=92 => g.wrapping_add(x % 6), // jitter
                        93..=95 => {
                            g = g.wrapping_add(step.wrapping_mul(x % 3)); // gap
                            g
                        }
                        96 => i64::MAX,
                        97 => i64::MIN,
                        _ => x,
                    }
                })
                .collect::<Vec<_>>()
        });
    let counter = proptest::collection::vec((0u8..100, 0i64..1000), 1..400).prop_map(|rows| {
        let mut v = 0i64;
        rows.iter()
            .map(|&(p, inc)| {
                v = if p < 3 {
                    inc
                } else {
                    v + inc * i64::from(p % 2)
                };
                v
            })
            .collect::<Vec<_>>()
    });
    let runs = proptest::collection::vec((any::<i64>(), 1usize..50), 1..10).prop_map(|runs| {
        runs.iter()
            .flat_map(|&(v, n)| std::iter::repeat_n(v, n))
            .collect()
    });
    let arbitrary = proptest::collection::vec(any::<i64>(), 0..300);
    prop_oneof![grid, counter, runs, arbitrary]
}

/// A value that stresses the float encodings.
fn f64_value() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => (0i64..1_000_000).prop_map(|m| m as f64),
        3 => (-1_000_000i64..1_000_000).prop_map(|m| m as f64 / 1000.0),
        1 => any::<u64>().prop_map(f64::from_bits),
        1 => prop_oneof![
            Just(-0.0),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(f64::from_bits(crate::STALE_NAN_BITS)),
            Just(f64::from_bits(0x7ff8_0000_0000_0001)),
            Just(f64::MIN_POSITIVE / 3.0),
            Just(f64::MAX),
            Just(9_007_199_254_740_993.0),
            Just(1e300),
        ],
    ]
}

/// Adversarial f64 columns: mostly-integral or mostly-decimal columns with
/// specials mixed in, constant runs, arbitrary bit patterns.
fn f64_column() -> impl Strategy<Value = Vec<f64>> {
    let counter = (
        proptest::collection::vec(0u32..50, 1..400),
        proptest::collection::vec((0usize..400, f64_value()), 0..4),
    )
        .prop_map(|(incs, specials)| {
            let mut v = 0.0;
            let mut out: Vec<f64> = incs
                .iter()
                .map(|&i| {
                    v = if i == 0 { 0.0 } else { v + f64::from(i) };
                    v
                })
                .collect();
            for (at, s) in specials {
                if let Some(slot) = out.get_mut(at) {
                    *slot = s;
                }
            }
            out
        });
    let mixed = proptest::collection::vec(f64_value(), 0..300);
    let runs = proptest::collection::vec((f64_value(), 1usize..60), 1..8).prop_map(|runs| {
        runs.iter()
            .flat_map(|&(v, n)| std::iter::repeat_n(v, n))
            .collect()
    });
    let bits = proptest::collection::vec(any::<u64>().prop_map(f64::from_bits), 0..200);
    prop_oneof![counter, mixed, runs, bits]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn i64_columns_round_trip(values in i64_column(), cuts in proptest::collection::vec(0usize..1000, 0..20)) {
        let lens = pages_from(values.len(), &cuts);
        round_trip_i64(&values, &lens);
    }

    #[test]
    fn f64_columns_round_trip(values in f64_column(), cuts in proptest::collection::vec(0usize..1000, 0..20)) {
        let lens = pages_from(values.len(), &cuts);
        round_trip_f64(&values, &lens);
    }

    /// Every encoding that accepts a column decodes it exactly, whether or
    /// not the selection would pick it.
    #[test]
    fn every_i64_encoding_round_trips(values in i64_column(), cuts in proptest::collection::vec(0usize..1000, 0..20), step in prop_oneof![Just(15_000i64), any::<i64>()]) {
        let lens = pages_from(values.len(), &cuts);
        let step = int::grid_step(&values).unwrap_or(step);
        for tag in I64Encoding::ALL {
            if let Some(col) = int::build(tag, &values, &lens, step) {
                prop_assert_eq!(I64Decoder::new(&col.meta)?.encoding_tag(), tag);
                prop_assert_eq!(decode_i64(&col, &lens)?, values.clone(), "{:?}", tag);
            }
        }
    }

    #[test]
    fn every_f64_encoding_round_trips(values in f64_column(), cuts in proptest::collection::vec(0usize..1000, 0..20)) {
        let lens = pages_from(values.len(), &cuts);
        let bits: Vec<u64> = values.iter().map(|v| v.to_bits()).collect();
        for tag in F64Encoding::ALL {
            if let Some((col, _)) = float::build(tag, &values, &lens) {
                prop_assert_eq!(F64Decoder::new(&col.meta)?.encoding_tag(), tag);
                prop_assert_eq!(decode_f64(&col, &lens)?, bits.clone(), "{:?}", tag);
            }
        }
    }

    /// Random bytes as meta, and random or damaged pages under a valid meta:
    /// errors, never a panic.
    #[test]
    fn garbage_never_panics(meta in proptest::collection::vec(any::<u8>(), 0..64), page in proptest::collection::vec(any::<u8>(), 0..256), rows in 1usize..300, first_row in any::<usize>()) {
        let mut scratch = DecodeScratch::default();
        if let Ok(d) = I64Decoder::new(&meta) {
            let _ = d.decode_page(&mut scratch, first_row, &page, &mut vec![0; rows]);
        }
        if let Ok(d) = F64Decoder::new(&meta) {
            let _ = d.decode_page(&mut scratch, first_row, &page, &mut vec![0.0; rows]);
        }
    }

    #[test]
    fn damaged_pages_never_panic(values in f64_column(), flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8)) {
        let lens = pages_from(values.len(), &[]);
        let ints: Vec<i64> = values.iter().map(|v| v.to_bits() as i64).collect();
        let mut scratch = DecodeScratch::default();
        for tag in F64Encoding::ALL {
            let Some((col, _)) = float::build(tag, &values, &lens) else { continue };
            let Ok(dec) = F64Decoder::new(&col.meta) else { continue };
            for page in &col.pages {
                let page = damaged(page, &flips);
                let _ = dec.decode_page(&mut scratch, 0, &page, &mut vec![0.0; lens[0]]);
            }
        }
        for tag in I64Encoding::ALL {
            let Some(col) = int::build(tag, &ints, &lens, 7) else { continue };
            let meta = damaged(&col.meta, &flips);
            if let Ok(dec) = I64Decoder::new(&meta) {
                for page in &col.pages {
                    let _ = dec.decode_page(&mut scratch, 0, page, &mut vec![0; lens[0]]);
                }
            }
            let Ok(dec) = I64Decoder::new(&col.meta) else { continue };
            for page in &col.pages {
                let page = damaged(page, &flips);
                let _ = dec.decode_page(&mut scratch, 0, &page, &mut vec![0; lens[0]]);
            }
        }
    }
}

/// `bytes` with each `(at, x)` XORing `x` into byte `at % len`.
fn damaged(bytes: &[u8], flips: &[(usize, u8)]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    if !out.is_empty() {
        for &(at, x) in flips {
            let i = at % out.len();
            out[i] ^= x;
        }
    }
    out
}

/// Every strict prefix of a meta or a page, and one extra byte after either,
/// is refused.
#[track_caller]
fn assert_truncations_refused<T: Default + Clone>(
    col: &EncodedColumn,
    page_lens: &[usize],
    new: impl Fn(
        &[u8],
    ) -> Result<
        Box<dyn Fn(&mut DecodeScratch, &[u8], &mut [T]) -> Result<(), CodecError>>,
        CodecError,
    >,
) {
    for cut in 0..col.meta.len() {
        assert!(new(&col.meta[..cut]).is_err(), "meta cut at {cut} accepted");
    }
    let mut longer = col.meta.clone();
    longer.push(0);
    assert!(new(&longer).is_err(), "meta with a trailing byte accepted");
    let Ok(dec) = new(&col.meta) else {
        panic!("valid meta refused")
    };
    let mut scratch = DecodeScratch::default();
    for (page, &len) in col.pages.iter().zip(page_lens) {
        let mut out = vec![T::default(); len];
        for cut in 0..page.len() {
            assert!(
                dec(&mut scratch, &page[..cut], &mut out).is_err(),
                "page cut at {cut} of {} accepted",
                page.len()
            );
        }
        let mut longer = page.clone();
        longer.push(0);
        assert!(
            dec(&mut scratch, &longer, &mut out).is_err(),
            "page with a trailing byte accepted"
        );
    }
}

#[test]
fn truncated_or_extended_meta_and_pages_are_refused() {
    let lens = [100, 50];
    let ts: Vec<i64> = (0..150)
        .map(|i| 1_000_000 + i * 15_000 + i64::from(i % 17 == 3) * 2)
        .collect();
    let counter: Vec<i64> = (0..150).map(|i| i * i / 7).collect();
    let arbitrary: Vec<i64> = (0..150u64)
        .map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15) as i64)
        .collect();
    for (values, step) in [(&ts, 15_000), (&counter, 0), (&arbitrary, 0)] {
        for tag in I64Encoding::ALL {
            let Some(col) = int::build(tag, values, &lens, step) else {
                continue;
            };
            assert_truncations_refused::<i64>(&col, &lens, |meta| {
                let d = I64Decoder::new(meta)?;
                Ok(Box::new(move |s, p, o| d.decode_page(s, 0, p, o)))
            });
        }
    }
    let mut gauge: Vec<f64> = (0..150).map(|i| f64::from(i * 37 % 101) / 100.0).collect();
    gauge[7] = f64::NAN;
    let smooth: Vec<f64> = (0..150).map(|i| (f64::from(i) / 10.0).sin()).collect();
    let periodic: Vec<f64> = (0..150)
        .map(|i| [0.1f64.sqrt(), 2.0f64.ln(), 1e-300][i % 3])
        .collect();
    for values in [&gauge, &smooth, &periodic] {
        for tag in F64Encoding::ALL {
            let Some((col, _)) = float::build(tag, values, &lens) else {
                continue;
            };
            assert_truncations_refused::<f64>(&col, &lens, |meta| {
                let d = F64Decoder::new(meta)?;
                Ok(Box::new(move |s, p, o| d.decode_page(s, 0, p, o)))
            });
        }
    }
}

#[test]
fn bad_page_lengths_are_refused() {
    assert!(encode_i64(&[1, 2, 3], &[2]).is_err());
    assert!(encode_i64(&[1, 2, 3], &[2, 2]).is_err());
    assert!(encode_i64(&[1, 2, 3], &[0, 3]).is_err());
    assert!(encode_f64(&vec![0.0; MAX_PAGE_ROWS + 1], &[MAX_PAGE_ROWS + 1]).is_err());
    assert!(encode_f64(&[], &[]).is_ok());
    let dec = I64Decoder::new(&encode_i64(&[5], &[1]).unwrap().meta).unwrap();
    let mut scratch = DecodeScratch::default();
    assert!(dec.decode_page(&mut scratch, 0, &[], &mut []).is_err());
}

#[test]
fn wrong_column_type_is_an_unknown_encoding() {
    let col = encode_f64(&[1.5, 2.5], &[2]).unwrap();
    assert!(matches!(
        I64Decoder::new(&col.meta),
        Err(CodecError::UnknownEncoding(_))
    ));
    let col = encode_i64(&[1, 5], &[2]).unwrap();
    assert!(matches!(
        F64Decoder::new(&col.meta),
        Err(CodecError::UnknownEncoding(_))
    ));
}

mod selection {
    //! Each encoding is chosen for the data it was built for.

    use super::*;
    use rand::rngs::SmallRng;
    use rand::{Rng, SeedableRng};

    const N: usize = 5760; // one day at 15 s
    const LENS: [usize; 2] = [4096, N - 4096];

    fn poisson(rng: &mut SmallRng, lambda: f64) -> i64 {
        // Knuth's method; fine for the small lambdas of tests.
        let limit = (-lambda).exp();
        let (mut k, mut p) = (0i64, 1.0);
        loop {
            p *= rng.gen::<f64>();
            if p <= limit {
                return k;
            }
            k += 1;
        }
    }

    fn counter(rng: &mut SmallRng, lambda: f64) -> Vec<f64> {
        let mut v = 0i64;
        (0..N)
            .map(|_| {
                v += poisson(rng, lambda);
                v as f64
            })
            .collect()
    }

    /// Scrapes on a 15 s grid; `off_grid` of them 1-5 ms late or early.
    fn scrapes(rng: &mut SmallRng, off_grid: f64) -> Vec<i64> {
        (0..N as i64)
            .map(|i| {
                let t = 1_767_571_200_000 + 1234 + i * 15_000;
                if rng.gen_bool(off_grid) {
                    t + rng.gen_range(1..=5) * if rng.gen() { 1 } else { -1 }
                } else {
                    t
                }
            })
            .collect()
    }

    #[test]
    fn regular_timestamps_pick_arith() {
        let ts: Vec<i64> = (0..N as i64).map(|i| -7_000 + i * 15_000).collect();
        assert_eq!(round_trip_i64(&ts, &LENS), I64Encoding::Arith);
        let col = encode_i64(&ts, &LENS).unwrap();
        assert!(col.encoded_len() <= 8, "{} bytes", col.encoded_len());
    }

    #[test]
    fn mostly_on_grid_timestamps_pick_grid_sparse() {
        let mut rng = SmallRng::seed_from_u64(1);
        let mut ts = scrapes(&mut rng, 0.05);
        assert_eq!(round_trip_i64(&ts, &LENS), I64Encoding::GridSparse);
        // A missed scrape moves the rest of the grid: still sparse.
        for t in &mut ts[3000..] {
            *t += 15_000;
        }
        assert_eq!(round_trip_i64(&ts, &LENS), I64Encoding::GridSparse);
    }

    #[test]
    fn densely_jittered_timestamps_pick_bins_on_a_grid() {
        let mut rng = SmallRng::seed_from_u64(2);
        let ts: Vec<i64> = (0..N as i64)
            .map(|i| i * 15_000 + rng.gen_range(-2..=2))
            .collect();
        assert_eq!(round_trip_i64(&ts, &LENS), I64Encoding::Bins);
        // log2(5) = 2.32 bits of jitter per row; Huffman takes 2.4.
        let col = encode_i64(&ts, &LENS).unwrap();
        assert!(
            col.encoded_len() < N * 25 / 80,
            "{} bytes",
            col.encoded_len()
        );
    }

    #[test]
    fn random_i64s_fall_back_to_raw() {
        let mut rng = SmallRng::seed_from_u64(3);
        let v: Vec<i64> = (0..N).map(|_| rng.gen()).collect();
        assert_eq!(round_trip_i64(&v, &LENS), I64Encoding::Raw);
    }

    #[test]
    fn integral_counters_pick_integer_with_bins_inside() {
        let mut rng = SmallRng::seed_from_u64(4);
        for lambda in [5.0, 100.0] {
            let values = counter(&mut rng, lambda);
            let dec = round_trip_f64(&values, &LENS);
            assert_eq!(dec.encoding_tag(), F64Encoding::Integer);
            assert_eq!(dec.inner_encoding(), Some(I64Encoding::Bins), "{lambda}");
            assert_eq!(dec.scaled_info(), Some((0, 0)));
        }
    }

    #[test]
    fn poisson_100_counters_pick_bins_within_pco_size() {
        let mut rng = SmallRng::seed_from_u64(11);
        let values: Vec<i64> = counter(&mut rng, 100.0).iter().map(|&v| v as i64).collect();
        assert_eq!(round_trip_i64(&values, &LENS), I64Encoding::Bins);
        let size = |e| {
            encode_i64_as(e, &values, &LENS)
                .unwrap()
                .unwrap()
                .encoded_len()
        };
        let (bins, pco) = (size(I64Encoding::Bins), size(I64Encoding::Pco));
        assert!(bins * 100 <= pco * 103, "bins {bins} bytes, pco {pco}");
    }

    #[test]
    fn mostly_zero_deltas_keep_pco() {
        // Huffman spends at least a bit per row; pco's ANS does not.
        let mut rng = SmallRng::seed_from_u64(12);
        let values = counter(&mut rng, 0.3);
        let dec = round_trip_f64(&values, &LENS);
        assert_eq!(dec.inner_encoding(), Some(I64Encoding::Pco));
    }

    #[test]
    fn a_stale_marker_and_a_negative_zero_are_exceptions() {
        let mut rng = SmallRng::seed_from_u64(5);
        let mut values = counter(&mut rng, 5.0);
        values[100] = f64::from_bits(crate::STALE_NAN_BITS);
        values[0] = -0.0;
        let dec = round_trip_f64(&values, &LENS);
        assert_eq!(dec.encoding_tag(), F64Encoding::Integer);
        assert_eq!(dec.scaled_info(), Some((0, 2)));
        // The placeholders keep the deltas small: about the size without them.
        let clean = encode_f64(&counter(&mut SmallRng::seed_from_u64(5), 5.0), &LENS).unwrap();
        let dirty = encode_f64(&values, &LENS).unwrap();
        assert!(dirty.encoded_len() < clean.encoded_len() + 40);
    }

    #[test]
    fn rarely_moving_counters_are_a_sparse_grid_of_step_zero() {
        let mut rng = SmallRng::seed_from_u64(10);
        let mut v = 0i64;
        let values: Vec<f64> = (0..N)
            .map(|_| {
                if rng.gen_bool(0.01) {
                    v += poisson(&mut rng, 2.0) + 1;
                }
                v as f64
            })
            .collect();
        let dec = round_trip_f64(&values, &LENS);
        assert_eq!(dec.inner_encoding(), Some(I64Encoding::GridSparse));
        let ints: Vec<i64> = values.iter().map(|&v| v as i64).collect();
        let sparse = encode_f64(&values, &LENS).unwrap().encoded_len();
        let pco = int::build(I64Encoding::Pco, &ints, &LENS, 0)
            .unwrap()
            .encoded_len();
        assert!(sparse < pco, "sparse {sparse} bytes, pco {pco}");
    }

    #[test]
    fn too_many_exceptions_make_integer_ineligible() {
        let mut rng = SmallRng::seed_from_u64(6);
        let mut values = counter(&mut rng, 5.0);
        for v in values.iter_mut().step_by(10) {
            *v += 0.5 / 3.0;
        }
        let dec = round_trip_f64(&values, &LENS);
        assert_ne!(dec.encoding_tag(), F64Encoding::Integer);
    }

    #[test]
    fn three_decimal_gauges_and_millisecond_sums_pick_decimal() {
        let mut rng = SmallRng::seed_from_u64(7);
        let mut m = 50_000i64;
        let gauge: Vec<f64> = (0..N)
            .map(|_| {
                m += rng.gen_range(-20..=20);
                m as f64 / 1000.0
            })
            .collect();
        let dec = round_trip_f64(&gauge, &LENS);
        assert_eq!(dec.encoding_tag(), F64Encoding::Decimal);
        assert_eq!(dec.scaled_info(), Some((3, 0)));

        let mut total_ms = 0i64;
        let sum: Vec<f64> = (0..N)
            .map(|_| {
                total_ms += (0..poisson(&mut rng, 5.0))
                    .map(|_| rng.gen_range(1..400))
                    .sum::<i64>();
                total_ms as f64 / 1000.0
            })
            .collect();
        let dec = round_trip_f64(&sum, &LENS);
        assert_eq!(dec.encoding_tag(), F64Encoding::Decimal);
        assert_eq!(dec.scaled_info(), Some((3, 0)));
    }

    #[test]
    fn counters_that_step_by_one_need_no_page_bytes() {
        let values: Vec<f64> = (0..N).map(|i| i as f64).collect();
        let dec = round_trip_f64(&values, &LENS);
        assert_eq!(dec.inner_encoding(), Some(I64Encoding::Arith));
        let col = encode_f64(&values, &LENS).unwrap();
        assert!(col.pages.iter().all(Vec::is_empty));
    }

    #[test]
    fn constant_columns_pick_const() {
        assert_eq!(round_trip_i64(&[7; N], &LENS), I64Encoding::Const);
        let up = vec![1.0; N];
        assert_eq!(
            round_trip_f64(&up, &LENS).encoding_tag(),
            F64Encoding::Const
        );
        let nan = vec![f64::from_bits(0x7ff8_dead_beef_0001); 3];
        assert_eq!(
            round_trip_f64(&nan, &[3]).encoding_tag(),
            F64Encoding::Const
        );
    }

    #[test]
    fn smooth_floats_pick_a_compact_encoding() {
        // Full-precision smooth floats: pco's float mode is smallest; a decimal
        // scaling with many places is within the size tolerance and decodes
        // faster, so either may win, never XOR or raw.
        let values: Vec<f64> = (0..N).map(|i| 100.0 + (i as f64 / 300.0).sin()).collect();
        let tag = round_trip_f64(&values, &LENS).encoding_tag();
        assert!(
            matches!(tag, F64Encoding::PcoFloat | F64Encoding::Decimal),
            "{tag:?}"
        );
    }

    #[test]
    fn short_chunks_of_repeating_full_precision_floats_pick_xor() {
        // Pco's tables cost more than such a chunk; XOR spends a bit per repeat.
        let values: Vec<f64> = (0..20).map(|i| f64::from(i / 10 + 1) / 3.0).collect();
        assert_eq!(
            round_trip_f64(&values, &[20]).encoding_tag(),
            F64Encoding::Xor
        );
    }

    #[test]
    fn random_bits_fall_back_to_raw_and_repeating_patterns_to_zstd() {
        let mut rng = SmallRng::seed_from_u64(9);
        let random: Vec<f64> = (0..N).map(|_| f64::from_bits(rng.gen())).collect();
        let col = encode_f64(&random, &LENS).unwrap();
        assert_eq!(
            round_trip_f64(&random, &LENS).encoding_tag(),
            F64Encoding::Raw
        );
        assert!(col.pages.iter().all(|p| p[0] == 0), "plain raw pages");

        let pattern: Vec<f64> = (0..N).map(|i| random[i % 7]).collect();
        let col = encode_f64(&pattern, &LENS).unwrap();
        assert!(col.encoded_len() < N, "{} bytes", col.encoded_len());
        round_trip_f64(&pattern, &LENS);
    }
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Decodes every column of a golden fixture in `tests/fixtures/` and checks
/// its values, encoding and inner encoding; returns the encodings it holds
/// (`"i64 arith"`, `"f64 decimal"`, ...).
fn read_fixture(text: &str) -> std::collections::BTreeSet<String> {
    let doc: serde_json::Value = serde_json::from_str(text).unwrap();
    let mut seen = std::collections::BTreeSet::new();
    for col in doc["columns"].as_array().unwrap() {
        let text = |v: &serde_json::Value| v.as_str().unwrap().to_string();
        let lens: Vec<usize> = col["page_lens"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        let encoded = EncodedColumn {
            meta: unhex(&text(&col["meta"])),
            pages: col["pages"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| unhex(&text(p)))
                .collect(),
        };
        let values: Vec<String> = col["values"].as_array().unwrap().iter().map(text).collect();
        let encoding = text(&col["encoding"]);
        match col["type"].as_str().unwrap() {
            "i64" => {
                let want: Vec<i64> = values.iter().map(|v| v.parse().unwrap()).collect();
                assert_eq!(decode_i64(&encoded, &lens).unwrap(), want, "{encoding}");
                assert_eq!(I64Decoder::new(&encoded.meta).unwrap().encoding(), encoding);
                seen.insert(format!("i64 {encoding}"));
            }
            _ => {
                let want: Vec<u64> = values
                    .iter()
                    .map(|v| u64::from_str_radix(v.trim_start_matches("0x"), 16).unwrap())
                    .collect();
                assert_eq!(decode_f64(&encoded, &lens).unwrap(), want, "{encoding}");
                let dec = F64Decoder::new(&encoded.meta).unwrap();
                assert_eq!(dec.encoding(), encoding);
                let inner = dec.inner_encoding().map(|e| e.name());
                assert_eq!(inner, col["inner"].as_str());
                seen.insert(format!("f64 {encoding}"));
                if let Some(inner) = inner {
                    seen.insert(format!("f64 {encoding}/{inner}"));
                }
            }
        }
    }
    seen
}

const V1_FIXTURE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/fixtures/codec-v1.json"
));
const V1_1_FIXTURE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/fixtures/codec-v1.1.json"
));
const V1_2_FIXTURE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/fixtures/codec-v1.2.json"
));

/// Codec format v1 as its first release wrote it (meta and pages in hex,
/// with the values they hold): every reader must keep decoding it. Never
/// regenerate it; a new format version gets a fixture of its own.
#[test]
fn reads_the_v1_golden_fixture() {
    let seen = read_fixture(V1_FIXTURE);
    let v1: std::collections::BTreeSet<String> = [
        "i64 const",
        "i64 arith",
        "i64 grid-sparse",
        "i64 grid-pco",
        "i64 pco",
        "i64 raw",
        "f64 const",
        "f64 integer",
        "f64 integer/pco",
        "f64 decimal",
        "f64 decimal/pco",
        "f64 pco-float",
        "f64 xor",
        "f64 raw",
    ]
    .map(String::from)
    .into();
    assert_eq!(seen, v1);
}

/// v1.1 adds the i64 `bins` encoding: bare (each predictor, and offsets of
/// 64 bits) and inside integral and decimal f64 columns. Never regenerated.
#[test]
fn reads_the_v1_1_golden_fixture() {
    let seen = read_fixture(V1_1_FIXTURE);
    let v1_1: std::collections::BTreeSet<String> = [
        "i64 bins",
        "f64 integer",
        "f64 integer/bins",
        "f64 decimal",
        "f64 decimal/bins",
    ]
    .map(String::from)
    .into();
    assert_eq!(seen, v1_1);
}

/// v1.2 adds the `bins` predictor `delta2` (3): bare, over pages of 200,
/// 100, 1 and 2 rows (a page of one row stores no first delta), and inside
/// an integral f64 column. Never regenerated.
#[test]
fn reads_the_v1_2_golden_fixture() {
    let seen = read_fixture(V1_2_FIXTURE);
    let v1_2: std::collections::BTreeSet<String> = ["i64 bins", "f64 integer", "f64 integer/bins"]
        .map(String::from)
        .into();
    assert_eq!(seen, v1_2);
    // Both columns really are `delta2`: the predictor byte follows the
    // `bins` tag (after `integer`'s tag and exception count in the second).
    let doc: serde_json::Value = serde_json::from_str(V1_2_FIXTURE).unwrap();
    let metas: Vec<Vec<u8>> = doc["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| unhex(c["meta"].as_str().unwrap()))
        .collect();
    assert_eq!(metas[0][..2], [0x07, 3]);
    assert_eq!(metas[1][..4], [0x11, 0, 0x07, 3]);
}

/// Every encoding this build writes is in some fixture.
#[test]
fn every_encoding_has_a_golden_fixture() {
    let mut seen = read_fixture(V1_FIXTURE);
    seen.extend(read_fixture(V1_1_FIXTURE));
    seen.extend(read_fixture(V1_2_FIXTURE));
    let all = I64Encoding::ALL
        .iter()
        .map(|e| format!("i64 {}", e.name()))
        .chain(F64Encoding::ALL.iter().map(|e| format!("f64 {}", e.name())));
    for name in all {
        assert!(seen.contains(&name), "{name} has no fixture");
    }
}
