//! The machine's own floor under an HTTP answer: a bare TCP round trip on
//! loopback, with no HTTP, no async runtime and no database in it. One
//! thread answers every request of `--request` bytes with `--reply`
//! bytes on a kept connection; the other times each exchange as the peer
//! harness's client does (one `write`, then reads until the answer is
//! whole).
//!
//! ```sh
//! cargo run --release -p nines-benches --example loopback_rtt -- --runs 5000
//! cargo run --release -p nines-benches --example loopback_rtt -- --reply 146237 --think-us 700
//! ```
//!
//! Read beside `latency_probe`'s figures for the query `1` and for a cached
//! 7-day panel: what those add to this is the server's.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Instant;

use clap::Parser;

#[derive(Parser)]
struct Args {
    /// Bytes in each request (the harness's instant query is ~260).
    #[arg(long, default_value_t = 264)]
    request: usize,
    /// Bytes in each answer (a native SLO answer is ~250 with its
    /// headers; a small-scale 7-day panel 146,237).
    #[arg(long, default_value_t = 250)]
    reply: usize,
    /// Timed exchanges (after 200 untimed ones).
    #[arg(long, default_value_t = 5000)]
    runs: usize,
    /// Microseconds the client stays busy between exchanges, as the
    /// harness's client is while it parses an answer (~700 for a 7-day
    /// panel): the answering thread sleeps meanwhile, as a server does.
    #[arg(long, default_value_t = 0)]
    think_us: u64,
}

fn main() -> std::io::Result<()> {
    let args = Args::parse();
    if args.request == 0 || args.reply == 0 || args.runs == 0 {
        eprintln!("loopback_rtt: --request, --reply and --runs must be at least 1");
        std::process::exit(2);
    }
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let (request, reply) = (args.request, args.reply);
    let total = args.runs + 200;
    let answerer = std::thread::spawn(move || -> std::io::Result<()> {
        let (mut s, _) = listener.accept()?;
        s.set_nodelay(true)?;
        let (mut asked, answer) = (vec![0u8; request], vec![b'x'; reply]);
        for _ in 0..total {
            s.read_exact(&mut asked)?;
            s.write_all(&answer)?;
        }
        Ok(())
    });
    let mut s = TcpStream::connect(addr)?;
    s.set_nodelay(true)?;
    let (ask, mut answer) = (vec![b'q'; request], vec![0u8; reply]);
    let mut took = Vec::with_capacity(args.runs);
    for i in 0..total {
        let t = Instant::now();
        s.write_all(&ask)?;
        s.read_exact(&mut answer)?;
        if i >= 200 {
            took.push(t.elapsed().as_nanos() as u64);
        }
        let busy = Instant::now();
        while busy.elapsed().as_micros() < u128::from(args.think_us) {
            std::hint::spin_loop();
        }
    }
    answerer
        .join()
        .map_err(|_| std::io::Error::other("the answering thread panicked"))??;
    took.sort_unstable();
    let at = |q: f64| took[((took.len() - 1) as f64 * q) as usize] as f64 / 1e3;
    println!(
        "request {} B, reply {} B, think {} us: median {:.0} us, p10 {:.0}, p90 {:.0}, p99 {:.0} ({} runs)",
        request,
        reply,
        args.think_us,
        at(0.5),
        at(0.1),
        at(0.9),
        at(0.99),
        took.len()
    );
    Ok(())
}
