//! Asks one query of a running server many times through the peer
//! harness's HTTP client and prints the latency distribution: where an
//! answer's time goes when the harness's medians look off.
//!
//! ```sh
//! target/release/peers --scale small --no-ingest --keep /tmp/pk
//! target/release/nines serve --data-dir /tmp/pk/nines &
//! cargo run --release -p nines-benches --example latency_probe -- \
//!     --base http://127.0.0.1:9090 --at 1700000000000 --runs 5000 \
//!     'slo_budget_remaining("checkout-availability")'
//! ```
//!
//! `--range-days 7` asks it as a 7-day range query at a 5-minute step
//! ending at `--at`, as the harness's panels are. The query `1` is the
//! floor: the HTTP round trip, parsing and encoding with nothing to read.

use std::time::Instant;

use clap::Parser;
use nines_benches::peer::{ask, Asker, Question};

#[derive(Parser)]
struct Args {
    /// The server's HTTP address.
    #[arg(long, default_value = "http://127.0.0.1:9090")]
    base: String,
    /// Evaluation time (ms since the epoch; the end of a range).
    #[arg(long)]
    at: i64,
    /// Ask a range query of this many days at a 5-minute step.
    #[arg(long)]
    range_days: Option<i64>,
    /// Timed requests (after 20 untimed ones).
    #[arg(long, default_value_t = 2000)]
    runs: usize,
    /// The PromQL queries to time, one after another.
    #[arg(required = true)]
    queries: Vec<String>,
}

fn main() {
    let args = Args::parse();
    let mut client = Asker::default();
    for query in &args.queries {
        let q = Question {
            name: "probe",
            query: query.clone(),
            range: args
                .range_days
                .map(|d| (args.at - d * 86_400_000, args.at, 300_000)),
            at: args.at,
        };
        for _ in 0..20 {
            ask(&mut client, &args.base, &q);
        }
        let started = Instant::now();
        let mut ms: Vec<f64> = (0..args.runs)
            .map(|_| ask(&mut client, &args.base, &q).0)
            .collect();
        let wall = started.elapsed().as_secs_f64();
        ms.sort_by(f64::total_cmp);
        let pct = |p: f64| ms[((ms.len() - 1) as f64 * p) as usize] * 1e3;
        println!(
            "{query}: median {:.0} us, p10 {:.0}, p90 {:.0}, p99 {:.0} ({} runs, {:.1} s)",
            pct(0.5),
            pct(0.1),
            pct(0.9),
            pct(0.99),
            ms.len(),
            wall
        );
    }
}
