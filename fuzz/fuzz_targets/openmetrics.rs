//! The Prometheus / OpenMetrics text reader on arbitrary bytes: it never
//! panics, every chunk keeps its promises (see `nines_fuzz::read_all`),
//! and the samples, rejected lines and counters do not depend on how the
//! input is cut into chunks.
//!
//! Input: one option byte, then the text. Bits 0-1 choose the dialect
//! (Auto, Prometheus, OpenMetrics, Auto), bit 2 a default timestamp, bits
//! 3-5 the small chunk size (1 to 8 samples), bit 6 a 64-byte line limit,
//! bit 7 a 32-byte sniffing window for Auto.

#![no_main]

use libfuzzer_sys::fuzz_target;
use nines_engine::formats::{OpenMetricsReader, ReadOptions, TextDialect, TextOptions};
use nines_fuzz::read_all;

fuzz_target!(|data: &[u8]| {
    let Some((&opt, text)) = data.split_first() else {
        return;
    };
    let options = |batch_samples: usize, max_errors_per_chunk: usize| TextOptions {
        read: ReadOptions {
            batch_samples,
            max_line_bytes: if opt & 0x40 != 0 { 64 } else { 1 << 20 },
            max_errors_per_chunk,
        },
        dialect: match opt & 3 {
            1 => TextDialect::Prometheus,
            2 => TextDialect::OpenMetrics,
            _ => TextDialect::Auto,
        },
        default_timestamp: (opt & 4 != 0).then_some(1_700_000_000_000),
        sniff_bytes: if opt & 0x80 != 0 { 32 } else { 1 << 20 },
    };
    let small = 1 + usize::from((opt >> 3) & 7);

    let mut whole = OpenMetricsReader::new(text, options(10_000, 100));
    let a = read_all(whole.by_ref(), 10_000);
    let mut pieces = OpenMetricsReader::new(text, options(small, 1));
    let b = read_all(pieces.by_ref(), small);
    assert!(matches!(whole.next_chunk(), Ok(None)), "exhausted reader");
    assert!(matches!(pieces.next_chunk(), Ok(None)), "exhausted reader");

    assert_eq!(a.sample_count, whole.stats().samples);
    assert_eq!(whole.dialect(), pieces.dialect());
    assert_eq!(whole.stats(), pieces.stats());
    assert_eq!(a, b, "chunks of 10,000 and of {small} differ");
});
