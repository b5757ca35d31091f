//! The JSON-lines reader on arbitrary bytes: it never panics, every chunk
//! keeps its promises (see `nines_fuzz::read_all`), what it reads does not
//! depend on the chunk size, and the format is lossless: what was read,
//! written with `JsonlWriter` and read again, is the same.
//!
//! Input: one option byte, then the lines. Bits 0-2 choose the small chunk
//! size (1 to 8 samples), bits 3-4 the writer's samples per line (1, 2, 3
//! or 10,000), bit 5 a 64-byte line limit.

#![no_main]

use libfuzzer_sys::fuzz_target;
use nines_engine::formats::{JsonlReader, JsonlWriter, ReadOptions};
use nines_fuzz::read_all;

fuzz_target!(|data: &[u8]| {
    let Some((&opt, text)) = data.split_first() else {
        return;
    };
    let options = |batch_samples: usize, max_errors_per_chunk: usize| ReadOptions {
        batch_samples,
        max_line_bytes: if opt & 0x20 != 0 { 64 } else { 1 << 20 },
        max_errors_per_chunk,
    };
    let small = 1 + usize::from(opt & 7);

    let mut whole = JsonlReader::new(text, options(10_000, 100));
    let a = read_all(whole.by_ref(), 10_000);
    let mut pieces = JsonlReader::new(text, options(small, 1));
    let b = read_all(pieces.by_ref(), small);
    assert!(matches!(whole.next_chunk(), Ok(None)), "exhausted reader");
    assert!(matches!(pieces.next_chunk(), Ok(None)), "exhausted reader");
    assert_eq!(a.sample_count, whole.stats().samples);
    assert_eq!(whole.stats(), pieces.stats());
    assert_eq!(a, b, "chunks of 10,000 and of {small} differ");

    let per_line = [1, 2, 3, 10_000][usize::from((opt >> 3) & 3)];
    let mut w = JsonlWriter::new(Vec::new(), "-").with_chunk_samples(per_line);
    for ((labels, kind), samples) in &a.samples {
        let ts: Vec<i64> = samples.iter().map(|s| s.0).collect();
        let vs: Vec<f64> = samples.iter().map(|s| f64::from_bits(s.1)).collect();
        w.write_series(labels, *kind, &ts, &vs)
            .expect("columns of equal length");
    }
    let written = w.finish().expect("writing to memory cannot fail");
    let c = read_all(
        JsonlReader::new(&written[..], ReadOptions::default()),
        10_000,
    );
    assert!(
        c.errors.is_empty(),
        "the writer's output is refused: {:?}\n{}",
        c.errors,
        String::from_utf8_lossy(&written)
    );
    assert_eq!(
        c.samples,
        a.samples,
        "not lossless:\n{}",
        String::from_utf8_lossy(&written)
    );
});
