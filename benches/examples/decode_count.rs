//! Decodes one ~10,000-sample write request of the seeded workload (day 1
//! of the small preset) 50 times, for counting the decoder's instructions
//! under callgrind, which, unlike a timing on this shared 2-core machine,
//! tells a 5 % change from noise:
//!
//! ```text
//! cargo build --release -p nines-benches --example decode_count
//! valgrind --tool=callgrind --collect-atstart=no \
//!   --toggle-collect='nines_server::decode::decode_write_request_fast*' \
//!   target/release/examples/decode_count [compact|plain]
//! ```
//!
//! The "Collected" line is the decoder's instruction count, allocation
//! included: the allocator is the server's.

use nines_benches::harness::{grpc_body, grpc_compact_body};
use nines_benches::workload::{Workload, WorkloadConfig};
use nines_server::decode::decode_write_request_fast;

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let form = std::env::args().nth(1).unwrap_or_else(|| "compact".into());
    let config = WorkloadConfig::preset("small")
        .ok_or("preset small")?
        .with_days(1);
    let batches: Vec<_> = Workload::new(config)?.batches(10_000).take(60).collect();
    let batch = &batches[30];
    let body = match form.as_str() {
        "compact" => grpc_compact_body(batch),
        "plain" => grpc_body(batch),
        other => return Err(format!("form {other:?}: compact or plain").into()),
    };
    let mut series = 0;
    for _ in 0..50 {
        series += decode_write_request_fast(&body)?.series.len();
    }
    println!("{form}: {} bytes, {series} series decoded", body.len());
    Ok(())
}
