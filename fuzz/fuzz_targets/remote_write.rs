//! The remote-write receiver's body path, decompression included, on
//! arbitrary bytes: it never panics, and whatever it accepts is what prost
//! decodes from the same decompressed bytes.
//!
//! Input: one byte choosing the Content-Encoding (`snappy`, `zstd`,
//! `identity`, by its value mod 3), then the request body.

#![no_main]

use std::io::Read;

use libfuzzer_sys::fuzz_target;
use nines_engine::{Label, Labels, SeriesBatch, SeriesKind};
use nines_fuzz::key;
use nines_proto::prometheus as pw;
use nines_server::http::decode_remote_write_body;
use prost::Message;

/// The most decompressed bytes accepted. The server's default is 256 MiB
/// (8 x 32 MiB); the checks are the same at any size, and small keeps runs
/// fast.
const LIMIT: usize = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let encoding = ["snappy", "zstd", "identity"][usize::from(selector % 3)];
    let Ok(decoded) = decode_remote_write_body(encoding, body, LIMIT) else {
        return;
    };
    let raw = match encoding {
        "snappy" => snap::raw::Decoder::new()
            .decompress_vec(body)
            .expect("accepted, so valid snappy"),
        "zstd" => {
            let mut out = Vec::new();
            zstd::stream::read::Decoder::new(body)
                .and_then(|mut d| d.read_to_end(&mut out))
                .expect("accepted, so valid zstd");
            // libzstd's streaming decoder skips the check of a frame's
            // declared content size when the last block is empty, unless
            // the output buffer holds the whole frame (then it decodes in
            // one pass, which checks). read_to_end starts with a small
            // read, decode_all with 8 KiB, so decode_all refuses some
            // frames the receiver accepts (the first crash this target
            // found: a header saying 72 bytes, one empty block). Harmless:
            // the receiver's limit and memory reservations go by the bytes
            // actually decompressed. Whatever decode_all accepts must agree.
            if let Ok(strict) = zstd::stream::decode_all(body) {
                assert_eq!(strict, out, "the two zstd decoders disagree");
            }
            out
        }
        _ => body.to_vec(),
    };
    assert!(raw.len() <= LIMIT, "{} bytes past the limit", raw.len());
    let req =
        pw::WriteRequest::decode(&raw[..]).expect("the fast reader accepted what prost refuses");
    let reference: Vec<SeriesBatch> = req
        .timeseries
        .into_iter()
        .map(|ts| SeriesBatch {
            labels: Labels::new(
                ts.labels
                    .into_iter()
                    .map(|l| Label::new(l.name, l.value))
                    .collect(),
            ),
            kind: SeriesKind::Unknown,
            timestamps: ts.samples.iter().map(|s| s.timestamp).collect(),
            values: ts.samples.iter().map(|s| s.value).collect(), resolved: None,
        })
        .collect();
    assert_eq!(key(&decoded.series), key(&reference));
    assert_eq!(decoded.metadata, req.metadata);
});
