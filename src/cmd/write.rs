//! `nines write`: push sample files to a running server over gRPC.

use std::process::ExitCode;

use nines_proto::v1;
use nines_server::ingest::{compact_request_numbered, labels_from_proto, SeriesNumbers};

use super::input::{check_files, read_file, InputArgs, Report};
use super::{progress_bar, EXIT_FAILURE};

/// Send OpenMetrics / Prometheus text or JSON-lines files to a server.
///
/// Streams batches over gRPC (`nines.v1.Ingest/WriteStream`); each batch is
/// durable on the server before the next is sent, and each series' labels
/// travel once per file (later batches name it by number). Prints what was
/// stored, duplicated (already there: re-sending a file is safe) and
/// refused.
/// Exits 1 when anything was refused or the server could not be reached.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The server's gRPC address.
    #[arg(
        long,
        value_name = "URL",
        default_value = "http://127.0.0.1:9091",
        env = "NINES_GRPC_URL"
    )]
    pub url: String,
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub auth: super::client::Auth,
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let total_bytes = check_files(&a.input.files)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let channel = rt.block_on(a.auth.grpc_channel(&a.url))?;
    let mut client =
        v1::ingest_client::IngestClient::with_interceptor(channel, a.auth.interceptor()?)
            .max_encoding_message_size(64 << 20);
    let pb = progress_bar(total_bytes, "writing");
    let mut report = Report::new(a.input.max_errors);
    let mut done = 0u64;
    for path in &a.input.files {
        pb.set_message(path.display().to_string());
        // A reader thread parses while the stream sends (two batches ahead).
        let (tx, rx) = tokio::sync::mpsc::channel::<v1::WriteRequest>(2);
        let input = a.input.clone();
        let p = path.clone();
        let pb2 = pb.clone();
        let base = done;
        let reader = std::thread::spawn(move || {
            let mut rep = Report::new(input.max_errors);
            let mut sent = 0u64;
            let mut numbers = SeriesNumbers::default();
            let stats = read_file(&p, &input, &mut |chunk, bytes| {
                rep.note_chunk(&p, &chunk);
                sent += chunk.batch.sample_count() as u64;
                // The compact form (a quarter of the bytes, same samples),
                // each series' labels once per stream.
                let req = compact_request_numbered(&chunk.batch.series, Some(&mut numbers));
                pb2.set_position(base + bytes);
                tx.blocking_send(req)
                    .map_err(|_| anyhow::anyhow!("the write stream ended early"))
            });
            (stats, rep, sent)
        });
        let stream = tokio_stream::wrappers::ReceiverStream::new(rx);
        let result = rt.block_on(client.write_stream(stream));
        let (stats, file_report, sent) = reader
            .join()
            .map_err(|_| anyhow::anyhow!("reader thread failed"))?;
        let reply = result.map_err(|s| {
            anyhow::anyhow!(
                "{}: the server refused the stream: {} ({:?})",
                path.display(),
                s.message(),
                s.code()
            )
        })?;
        let stats = stats?;
        let r = reply.into_inner();
        if sent > 0 && r.accepted + r.duplicates + r.rejected_samples == 0 {
            anyhow::bail!(
                "{}: the server accounted for none of the {sent} samples sent; it predates \
                 the compact write form (nines.v1 CompactSeries) this client sends: upgrade it",
                path.display()
            );
        }
        report.merge(file_report);
        report.note_outcome(
            path,
            r.accepted,
            r.duplicates,
            r.rejected_samples,
            r.rejected.into_iter().map(|x| {
                (
                    labels_from_proto(x.labels),
                    x.timestamp,
                    x.samples,
                    x.reason,
                )
            }),
        );
        report.note_stats(path, &stats);
        done += path.metadata().map(|m| m.len()).unwrap_or(0);
    }
    pb.finish_and_clear();
    println!(
        "wrote {} samples of {} series; {} duplicates skipped; {} samples refused; {} lines rejected",
        report.accepted,
        report.series(),
        report.duplicates,
        report.rejected_samples,
        report.lines_rejected
    );
    Ok(if report.refused_any() {
        ExitCode::from(EXIT_FAILURE)
    } else {
        ExitCode::SUCCESS
    })
}
