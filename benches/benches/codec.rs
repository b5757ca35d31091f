//! Column codec throughput and size on SLI-shaped series.
//!
//! Each case is one series chunk of `ROWS` rows in pages of 4096: a timestamp
//! column and a value column. Encode throughput covers both columns; decode
//! throughput builds both decoders once per chunk and decodes every page of
//! both (samples/s counts (timestamp, value) pairs); `decode-ts` and
//! `decode-values` time the two columns alone, and `pco-reference` times
//! bare pco on the value integers (the floor for integer/pco columns), and
//! `int-pco`/`int-bins` decode the value integers as an i64 column forced to
//! each of the two entropy-coded encodings (the A/B of the decoders). The
//! setup prints, per case, the chosen encodings, bytes/sample, the sizes of
//! the value integers under pco and bins, and the information content: the
//! empirical zero-order entropy H0 of the value deltas (in the series'
//! native integer units) and of the timestamp deltas.
//!
//! Run: `cargo bench -p nines-benches --bench codec -- --warm-up-time 1 --measurement-time 3`

use std::collections::HashMap;

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use nines_engine::codec::{
    encode_f64, encode_i64, encode_i64_as, DecodeScratch, EncodedColumn, F64Decoder, I64Decoder,
    I64Encoding,
};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, LogNormal, Poisson};

const ROWS: usize = 4 * 4096;
const PAGE: usize = 4096;
const START_MS: i64 = 1_767_571_200_000; // 2026-01-05T00:00:00Z
const STEP_MS: i64 = 15_000;

struct Case {
    name: &'static str,
    timestamps: Vec<i64>,
    /// The values in native integer units, and the power of ten that divides them.
    units: Vec<i64>,
    decimals: i32,
}

impl Case {
    fn values(&self) -> Vec<f64> {
        let scale = 10f64.powi(self.decimals);
        self.units
            .iter()
            .map(|&m| {
                if self.decimals == 0 {
                    m as f64
                } else {
                    m as f64 / scale
                }
            })
            .collect()
    }
}

fn regular() -> Vec<i64> {
    (0..ROWS as i64)
        .map(|i| START_MS + 4321 + i * STEP_MS)
        .collect()
}

/// ~95 % of scrapes on the grid, ~5 % off by 1-5 ms, ~0.05 % missed.
fn jittered_sparse(rng: &mut SmallRng) -> Vec<i64> {
    let mut slot = 0i64;
    (0..ROWS)
        .map(|_| {
            slot += if rng.gen_bool(0.0005) { 2 } else { 1 };
            let t = START_MS + 4321 + slot * STEP_MS;
            if rng.gen_bool(0.05) {
                t + rng.gen_range(1..=5) * if rng.gen() { 1 } else { -1 }
            } else {
                t
            }
        })
        .collect()
}

/// Every scrape off by a uniform -2..=2 ms.
fn jittered_dense(rng: &mut SmallRng) -> Vec<i64> {
    (0..ROWS as i64)
        .map(|i| START_MS + 4321 + i * STEP_MS + rng.gen_range(-2..=2))
        .collect()
}

fn poisson_counter(rng: &mut SmallRng, lambda: f64) -> Vec<i64> {
    let p = Poisson::new(lambda).expect("lambda > 0");
    let mut v = 0i64;
    (0..ROWS)
        .map(|_| {
            v += p.sample(rng) as i64;
            v
        })
        .collect()
}

fn cases() -> Vec<Case> {
    let mut rng = SmallRng::seed_from_u64(0x5eed);
    let mut cases = Vec::new();
    for (name, lambda) in [("regular+counter_l5", 5.0), ("regular+counter_l100", 100.0)] {
        cases.push(Case {
            name,
            timestamps: regular(),
            units: poisson_counter(&mut rng, lambda),
            decimals: 0,
        });
    }
    cases.push(Case {
        name: "jitter95+counter_l5",
        timestamps: jittered_sparse(&mut rng),
        units: poisson_counter(&mut rng, 5.0),
        decimals: 0,
    });
    cases.push(Case {
        name: "jitter2ms+counter_l5",
        timestamps: jittered_dense(&mut rng),
        units: poisson_counter(&mut rng, 5.0),
        decimals: 0,
    });
    // A gauge random walk with 3 decimals (e.g. a load average).
    let mut m = 1_500i64;
    let gauge = (0..ROWS)
        .map(|_| {
            m = (m + rng.gen_range(-25..=25)).max(0);
            m
        })
        .collect();
    cases.push(Case {
        name: "regular+gauge_3dec",
        timestamps: regular(),
        units: gauge,
        decimals: 3,
    });
    // A histogram `_sum`: Poisson(20) requests per scrape with lognormal
    // latencies (median 50 ms) counted in integer ms, exposed in seconds.
    let requests = Poisson::new(20.0).expect("lambda > 0");
    let latency = LogNormal::new(50f64.ln(), 0.8).expect("sigma > 0");
    let mut total_ms = 0i64;
    let sum = (0..ROWS)
        .map(|_| {
            for _ in 0..requests.sample(&mut rng) as u64 {
                total_ms += latency.sample(&mut rng).round() as i64;
            }
            total_ms
        })
        .collect();
    cases.push(Case {
        name: "jitter95+hist_sum",
        timestamps: jittered_sparse(&mut rng),
        units: sum,
        decimals: 3,
    });
    cases
}

/// Empirical zero-order entropy of the deltas, in bits per sample.
fn h0_deltas(v: &[i64]) -> f64 {
    let mut counts: HashMap<i64, usize> = HashMap::new();
    for w in v.windows(2) {
        *counts.entry(w[1].wrapping_sub(w[0])).or_default() += 1;
    }
    let n = v.len().saturating_sub(1).max(1) as f64;
    counts
        .values()
        .map(|&c| {
            let p = c as f64 / n;
            p * (1.0 / p).log2()
        })
        .sum()
}

fn page_lens(n: usize) -> Vec<usize> {
    let mut lens = vec![PAGE; n / PAGE];
    if !n.is_multiple_of(PAGE) {
        lens.push(n % PAGE);
    }
    lens
}

fn encode(ts: &[i64], values: &[f64]) -> (EncodedColumn, EncodedColumn) {
    let lens = page_lens(ts.len());
    (
        encode_i64(ts, &lens).expect("valid pages"),
        encode_f64(values, &lens).expect("valid pages"),
    )
}

fn report(case: &Case) {
    for rows in [5760, ROWS] {
        let ts = &case.timestamps[..rows];
        let values = &case.values()[..rows];
        let (tcol, vcol) = encode(ts, values);
        let tdec = I64Decoder::new(&tcol.meta).expect("own meta");
        let vdec = F64Decoder::new(&vcol.meta).expect("own meta");
        let inner = vdec.inner_encoding().map_or("", |e| e.name());
        let h_v = h0_deltas(&case.units[..rows]);
        let h_t = h0_deltas(ts);
        let n = rows as f64;
        let tb = tcol.encoded_len() as f64 / n;
        let vb = vcol.encoded_len() as f64 / n;
        println!(
            "{:22} rows={rows:5} ts={:11} {:.4} B/sample (H0 ts deltas {:.4} B) | values={}/{inner} {:.4} B/sample (H0 value deltas {:.4} B, ratio {:.3}) | total {:.4} B/sample, {:.3}x H0 values+ts",
            case.name,
            tdec.encoding(),
            tb,
            h_t / 8.0,
            vdec.encoding(),
            vb,
            h_v / 8.0,
            vb / (h_v / 8.0),
            tb + vb,
            (tb + vb) / ((h_v + h_t) / 8.0),
        );
    }
    let lens = page_lens(ROWS);
    let size = |e| forced(e, &case.units, &lens).encoded_len() as f64 / ROWS as f64;
    let (pco, bins) = (size(I64Encoding::Pco), size(I64Encoding::Bins));
    println!(
        "{:22} value integers as i64: pco {pco:.4} B/sample, bins {bins:.4} B/sample ({:.3}x pco)",
        case.name,
        bins / pco,
    );
}

/// `values` as an i64 column in `encoding`, which must hold them.
fn forced(encoding: I64Encoding, values: &[i64], lens: &[usize]) -> EncodedColumn {
    encode_i64_as(encoding, values, lens)
        .expect("valid pages")
        .expect("encoding holds the column")
}

/// A pco file header + chunk meta, and its pages.
fn pco_reference(values: &[i64], lens: &[usize]) -> (Vec<u8>, Vec<Vec<u8>>) {
    let config = pco::ChunkConfig::default()
        .with_mode_spec(pco::ModeSpec::Classic)
        .with_paging_spec(pco::PagingSpec::Exact(lens.to_vec()));
    let file = pco::wrapped::FileCompressor::default();
    let mut chunk = file.chunk_compressor(values, &config).expect("valid chunk");
    let meta = file.write_header(Vec::new()).expect("vec write");
    let meta = chunk.write_meta(meta).expect("vec write");
    let pages = (0..lens.len())
        .map(|i| chunk.write_page(i, Vec::new()).expect("vec write"))
        .collect();
    (meta, pages)
}

fn bench(c: &mut Criterion) {
    let cases = cases();
    for case in &cases {
        report(case);
    }
    let lens = page_lens(ROWS);
    for case in &cases {
        let values = case.values();
        let mut g = c.benchmark_group(format!("codec/{}", case.name));
        g.throughput(Throughput::Elements(ROWS as u64));
        g.bench_function("encode", |b| {
            b.iter(|| encode(black_box(&case.timestamps), black_box(&values)))
        });
        let (tcol, vcol) = encode(&case.timestamps, &values);
        let mut scratch = DecodeScratch::default();
        let mut ts_out = vec![0i64; PAGE];
        let mut v_out = vec![0f64; PAGE];
        g.bench_function("decode", |b| {
            b.iter(|| {
                let tdec = I64Decoder::new(&tcol.meta).expect("own meta");
                let vdec = F64Decoder::new(&vcol.meta).expect("own meta");
                let mut first_row = 0;
                for ((tp, vp), &len) in tcol.pages.iter().zip(&vcol.pages).zip(&lens) {
                    tdec.decode_page(&mut scratch, first_row, tp, &mut ts_out[..len])
                        .expect("own page");
                    vdec.decode_page(&mut scratch, first_row, vp, &mut v_out[..len])
                        .expect("own page");
                    black_box((&ts_out, &v_out));
                    first_row += len;
                }
            })
        });
        // Pco alone on the value column's integers, classic mode, no wrapper:
        // what `decode-values` of integer/pco columns is bound by.
        let (pco_meta, pco_pages) = pco_reference(&case.units, &lens);
        let mut pco_scratch = pco::DecompressorScratch::default();
        let mut int_out = vec![0i64; PAGE];
        g.bench_function("pco-reference", |b| {
            b.iter(|| {
                let (file, rest) = pco::wrapped::FileDecompressor::new(&pco_meta[..]).expect("own");
                let (chunk, _) = file.chunk_decompressor::<i64, _>(rest).expect("own");
                for (page, &len) in pco_pages.iter().zip(&lens) {
                    let mut pd = chunk
                        .page_decompressor_with_scratch(&page[..], len, &mut pco_scratch)
                        .expect("own page");
                    pd.read(&mut int_out[..len]).expect("own page");
                    black_box(&int_out);
                }
            })
        });
        // The value integers in each entropy-coded encoding, same decoder API.
        for encoding in [I64Encoding::Pco, I64Encoding::Bins] {
            let col = forced(encoding, &case.units, &lens);
            g.bench_function(format!("int-{}", encoding.name()), |b| {
                b.iter(|| {
                    let dec = I64Decoder::new(&col.meta).expect("own meta");
                    let mut first_row = 0;
                    for (page, &len) in col.pages.iter().zip(&lens) {
                        dec.decode_page(&mut scratch, first_row, page, &mut int_out[..len])
                            .expect("own page");
                        black_box(&int_out);
                        first_row += len;
                    }
                })
            });
        }
        // The two halves of `decode`, to show where the time goes.
        g.bench_function("decode-ts", |b| {
            b.iter(|| {
                let tdec = I64Decoder::new(&tcol.meta).expect("own meta");
                let mut first_row = 0;
                for (tp, &len) in tcol.pages.iter().zip(&lens) {
                    tdec.decode_page(&mut scratch, first_row, tp, &mut ts_out[..len])
                        .expect("own page");
                    black_box(&ts_out);
                    first_row += len;
                }
            })
        });
        g.bench_function("decode-values", |b| {
            b.iter(|| {
                let vdec = F64Decoder::new(&vcol.meta).expect("own meta");
                let mut first_row = 0;
                for (vp, &len) in vcol.pages.iter().zip(&lens) {
                    vdec.decode_page(&mut scratch, first_row, vp, &mut v_out[..len])
                        .expect("own page");
                    black_box(&v_out);
                    first_row += len;
                }
            })
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
