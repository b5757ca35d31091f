//! `Bins` round trips under every predictor and forced bin layouts, the
//! decoder's checks, and damaged input.

use super::*;
use proptest::prelude::*;

/// Page lengths from `cuts` (small pages common), ending with the rest.
fn pages_from(n: usize, cuts: &[usize]) -> Vec<usize> {
    let mut lens = Vec::new();
    let mut left = n;
    for &c in cuts {
        if left == 0 {
            break;
        }
        let len = (c % left.min(700)) + 1;
        lens.push(len);
        left -= len;
    }
    if left > 0 {
        lens.push(left);
    }
    lens
}

fn decode(col: &EncodedColumn, page_lens: &[usize]) -> Result<Vec<i64>, CodecError> {
    let dec = BinsColumn::parse(ByteReader::new(&col.meta))?;
    let mut buf = Vec::new();
    let mut out = vec![0i64; page_lens.iter().sum()];
    let mut start = 0;
    for (page, &len) in col.pages.iter().zip(page_lens) {
        dec.decode(&mut buf, start, page, &mut out[start..start + len])?;
        start += len;
    }
    Ok(out)
}

/// `values` with `pred`, binned by the chooser or into one group.
fn forced(values: &[i64], lens: &[usize], pred: Predictor, one_group: bool) -> EncodedColumn {
    let step = 15_000;
    let res = residuals(values, lens, pred, step);
    let groups = match (one_group, res.iter().min(), res.iter().max()) {
        (true, Some(&min), Some(&max)) => vec![Group {
            min,
            max,
            count: res.len() as u64,
        }],
        _ => choose::candidates(&res).swap_remove(0),
    };
    write_column(values, lens, pred, step, &res, &groups, Vec::new())
}

/// Columns that stress the encoding: counters, random walks, extremes, runs,
/// arbitrary values, jittered grids.
fn column() -> impl Strategy<Value = Vec<i64>> {
    let counter = proptest::collection::vec(0i64..300, 1..3000).prop_map(|incs| {
        let mut v = 0i64;
        incs.iter()
            .map(|&i| {
                v += if i < 250 { i % 12 } else { i * 1000 };
                v
            })
            .collect()
    });
    let walk = (
        any::<i64>(),
        proptest::collection::vec(-50i64..=50, 1..3000),
    )
        .prop_map(|(start, steps)| {
            let mut v = start;
            steps
                .iter()
                .map(|&d| {
                    v = v.wrapping_add(d);
                    v
                })
                .collect()
        });
    let extreme = proptest::collection::vec(
        prop_oneof![
            Just(i64::MIN),
            Just(i64::MAX),
            Just(0i64),
            Just(-1i64),
            Just(i64::MIN + 1),
            any::<i64>()
        ],
        1..400,
    );
    let runs = proptest::collection::vec((any::<i64>(), 1usize..200), 1..10).prop_map(|runs| {
        runs.iter()
            .flat_map(|&(v, n)| std::iter::repeat_n(v, n))
            .collect()
    });
    let arbitrary = proptest::collection::vec(any::<i64>(), 1..500);
    let grid =
        (any::<i64>(), proptest::collection::vec(-3i64..=3, 1..3000)).prop_map(|(t0, jitter)| {
            (0..jitter.len())
                .map(|i| t0.wrapping_add(i as i64 * 15_000).wrapping_add(jitter[i]))
                .collect()
        });
    prop_oneof![counter, walk, extreme, runs, arbitrary, grid]
}

const PREDICTORS: [Predictor; 4] = [
    Predictor::None,
    Predictor::Delta,
    Predictor::Grid,
    Predictor::Delta2,
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn round_trips_over_random_page_splits(
        values in column(),
        cuts in proptest::collection::vec(0usize..5000, 0..12),
    ) {
        let lens = pages_from(values.len(), &cuts);
        let col = encode(&values, &lens, None, Vec::new()).unwrap();
        prop_assert_eq!(col.pages.len(), lens.len());
        prop_assert_eq!(decode(&col, &lens)?, values.clone());
        for pred in PREDICTORS {
            for one_group in [false, true] {
                let col = forced(&values, &lens, pred, one_group);
                prop_assert_eq!(decode(&col, &lens)?, values.clone(), "{:?} {}", pred, one_group);
            }
        }
    }

    /// Bytes flipped in the meta or a page: an error or some values, never a
    /// panic.
    #[test]
    fn damaged_columns_never_panic(
        values in column(),
        flips in proptest::collection::vec((any::<usize>(), 1u8..=255), 1..6),
        in_meta in any::<bool>(),
    ) {
        let lens = pages_from(values.len(), &[values.len() / 3]);
        for pred in PREDICTORS {
            let mut col = forced(&values, &lens, pred, false);
            let target = if in_meta { &mut col.meta } else { &mut col.pages[0] };
            if target.is_empty() {
                continue;
            }
            for &(at, x) in &flips {
                let i = at % target.len();
                target[i] ^= x;
            }
            let _ = decode(&col, &lens);
        }
    }

    #[test]
    fn random_metas_and_pages_never_panic(
        meta in proptest::collection::vec(any::<u8>(), 0..80),
        page in proptest::collection::vec(any::<u8>(), 0..300),
        rows in 1usize..600,
        first_row in any::<usize>(),
    ) {
        if let Ok(dec) = BinsColumn::parse(ByteReader::new(&meta)) {
            let _ = dec.decode(&mut Vec::new(), first_row, &page, &mut vec![0; rows]);
        }
    }
}

#[test]
fn offsets_of_64_bits_take_the_general_loop() {
    let values: Vec<i64> = (0..999i64)
        .map(|i| match i % 4 {
            0 => i64::MIN,
            1 => i64::MAX,
            2 => i.wrapping_mul(0x1e37_79b9_7f4a_7c15),
            _ => -i,
        })
        .collect();
    let lens = [500, 1, 498];
    let col = forced(&values, &lens, Predictor::None, true);
    let dec = BinsColumn::parse(ByteReader::new(&col.meta)).unwrap();
    assert_eq!(dec.per_refill, 0);
    assert_eq!(decode(&col, &lens).unwrap(), values);
}

#[test]
fn wide_offsets_refill_per_symbol() {
    // 50 offset bits: one symbol per refill, still the fast loop.
    let values: Vec<i64> = (0..777i64)
        .map(|i| (i.wrapping_mul(0x9e37_79b9) & ((1 << 50) - 1)) | (i % 2) << 49)
        .collect();
    let col = forced(&values, &[777], Predictor::None, true);
    let dec = BinsColumn::parse(ByteReader::new(&col.meta)).unwrap();
    assert_eq!(dec.per_refill, 1);
    assert_eq!(decode(&col, &[777]).unwrap(), values);
}

#[test]
fn single_rows_and_constant_residuals() {
    for values in [
        vec![42i64],
        vec![i64::MIN],
        vec![7; 10],
        vec![-3, -3, -3, 9],
    ] {
        for lens in [vec![values.len()], vec![1; values.len()]] {
            let col = encode(&values, &lens, None, Vec::new()).unwrap();
            assert_eq!(decode(&col, &lens).unwrap(), values);
            for pred in PREDICTORS {
                let col = forced(&values, &lens, pred, false);
                assert_eq!(decode(&col, &lens).unwrap(), values, "{pred:?}");
            }
        }
    }
}

#[test]
fn jittered_scrapes_use_the_mean_slope_grid() {
    // Every scrape off by -2..=2 ms: no majority step, yet the grid's
    // residuals take ~2.3 bits where deltas take ~3.
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let ts: Vec<i64> = (0..4096i64)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            1_767_571_200_000 + i * 15_000 + (x % 5) as i64 - 2
        })
        .collect();
    let col = encode(&ts, &[4096], None, Vec::new()).unwrap();
    let dec = BinsColumn::parse(ByteReader::new(&col.meta)).unwrap();
    assert_eq!(dec.predictor, Predictor::Grid);
    assert_eq!(decode(&col, &[4096]).unwrap(), ts);
    assert!(
        col.encoded_len() < 4096 * 3 / 8 + 40,
        "{}",
        col.encoded_len()
    );
}

#[test]
fn meta_rules_are_enforced() {
    let values: Vec<i64> = (0..300).map(|i| i * i % 97).collect();
    let col = forced(&values, &[300], Predictor::None, false);
    let table = BinTable::parse(ByteReader::new(&col.meta[1..])).unwrap();
    assert!(table.lowers.len() > 2);
    let with = |t: &BinTable| {
        let mut meta = vec![Predictor::None as u8];
        t.write(&mut meta);
        BinsColumn::parse(ByteReader::new(&meta))
    };
    assert!(with(&table).is_ok());

    let mut over_full = table;
    over_full.code_lens[0] = 1;
    over_full.code_lens[1] = 1;
    assert_eq!(
        with(&over_full).unwrap_err(),
        CodecError::Invalid("bins code lengths are not a complete code")
    );
    let one = BinTable {
        lowers: vec![5],
        obits: vec![3],
        code_lens: vec![1],
    };
    assert!(with(&one).is_err(), "one bin needs no code bits");
    let none = BinTable {
        lowers: vec![],
        obits: vec![],
        code_lens: vec![],
    };
    assert_eq!(
        with(&none).unwrap_err(),
        CodecError::Invalid("bins count outside 1..=256")
    );
    let too_wide = BinTable {
        lowers: vec![0],
        obits: vec![65],
        code_lens: vec![0],
    };
    assert_eq!(
        with(&too_wide).unwrap_err(),
        CodecError::Invalid("bin offset bits above 64")
    );
    assert_eq!(
        BinsColumn::parse(ByteReader::new(&[4])).unwrap_err(),
        CodecError::Invalid("unknown bins predictor")
    );
}

#[test]
fn padding_bits_must_be_zero() {
    // One bin, no code bits, 3 offset bits: 5 rows leave lane 3 one symbol,
    // so the page's last byte is 3 data bits and 5 padding bits.
    let values = [0i64, 7, 3, 5, 1];
    let groups = [Group {
        min: 0,
        max: 7,
        count: 5,
    }];
    let col = write_column(
        &values,
        &[5],
        Predictor::None,
        0,
        &values,
        &groups,
        Vec::new(),
    );
    assert_eq!(decode(&col, &[5]).unwrap(), values);
    let mut page = col.pages[0].clone();
    *page.last_mut().unwrap() |= 0x80;
    let dec = BinsColumn::parse(ByteReader::new(&col.meta)).unwrap();
    assert_eq!(
        dec.decode(&mut Vec::new(), 0, &page, &mut [0; 5]),
        Err(CodecError::Invalid(
            "bins lane length does not match its symbols"
        ))
    );
}

#[test]
fn lanes_must_end_where_their_symbols_do() {
    let values: Vec<i64> = (0..400).map(|i| i * 3 + i % 7).collect();
    let col = forced(&values, &[400], Predictor::Delta, false);
    let dec = BinsColumn::parse(ByteReader::new(&col.meta)).unwrap();
    let mut out = vec![0i64; 400];
    let mut buf = Vec::new();
    dec.decode(&mut buf, 0, &col.pages[0], &mut out).unwrap();
    assert_eq!(out, values);

    // Lane 0 one byte longer, the last lane one shorter: same bytes, wrong split.
    let mut r = ByteReader::new(&col.pages[0]);
    let anchor = r.zigzag().unwrap();
    let lens: Vec<usize> = (0..LANES - 1)
        .map(|_| r.count(usize::MAX).unwrap())
        .collect();
    let mut page = Vec::new();
    put_zigzag(&mut page, anchor);
    put_varint(&mut page, lens[0] as u64 + 1);
    for &l in &lens[1..] {
        put_varint(&mut page, l as u64);
    }
    page.extend_from_slice(r.rest());
    assert!(dec.decode(&mut buf, 0, &page, &mut out).is_err());
}
