//! `nines`: the command-line program. One file per command under `cmd/`.

#![forbid(unsafe_code)]

mod cmd;

use std::process::ExitCode;

use clap::Parser;

/// mimalloc instead of glibc's malloc: per-series label strings and
/// per-request buffers made malloc and free a fifth of the server's CPU
/// under remote-write ingest (docs/BENCHMARKS.md, "Peers"). Built with
/// `no_thp`: its arenas asked for transparent huge pages, which kept the
/// server's resident memory 30-40 % higher for no measurable speed
/// (docs/BENCHMARKS.md, "The allocator").
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = cmd::Cli::parse();
    cmd::init_logging(cli.log_level.as_deref());
    match cmd::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(cmd::EXIT_FAILURE)
        }
    }
}
