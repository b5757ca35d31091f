//! The Prometheus remote-write 1.0 receiver: `POST /api/v1/write` with a
//! snappy-compressed (or, as vmagent sends by default, zstd-compressed)
//! protobuf `WriteRequest`.
//!
//! Answers: 204 when everything was stored (or was a duplicate of stored
//! samples); 400 for a malformed request (nothing stored) or when samples
//! were refused for cause (the rest is stored; senders do not retry a 4xx);
//! 429 with `Retry-After` when the write memory budget is full (nothing
//! stored; senders retry); 500 when storage failed (senders retry).

use std::cell::RefCell;
use std::io::Read;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Extension, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::decode::{self, DecodeError, RemoteWrite};
use crate::ingest::{self, WriteError};
use crate::series_cache::SeriesCache;
use crate::state::{AppState, Overload};

const PROTOCOL: &str = "remote_write";

fn text(status: StatusCode, msg: String) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        )],
        msg,
    )
        .into_response()
}

fn bad(st: &AppState, msg: String) -> Response {
    st.metrics.write_request(PROTOCOL, "bad_request");
    text(StatusCode::BAD_REQUEST, msg)
}

/// A thread's snappy output buffer is dropped after use when it grew past
/// this, so one huge request does not pin memory.
const KEEP_SNAPPY_BUF: usize = 16 << 20;

thread_local! {
    // Reused: a fresh multi-100 KiB buffer per request costs page faults
    // and zeroing on every request.
    static SNAPPY_BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

fn not_a_write_request(e: DecodeError) -> String {
    match e.kind {
        decode::DecodeErrorKind::TooLarge(_) => format!("remote-write WriteRequest too large: {e}"),
        _ => format!("body is not a remote-write WriteRequest: {e}"),
    }
}

/// Write memory reserved for a request of `n` decompressed bytes: the
/// decompressed bytes and what they usually decode to (a sample is about
/// as big decoded as on the wire, label text is not decoded for series
/// the cache knows). The decoder's hard limit
/// ([`decode::REMOTE_WRITE_EXPANSION`] bytes per byte) is higher: a sender of one-sample series with short labels, not yet
/// cached, takes up to five times; admission stays sized for the usual.
fn reserved_for(n: usize) -> usize {
    n.saturating_mul(3)
}

/// Decompresses into this thread's buffer and decodes from it (no await in
/// between, so the buffer is never held across tasks).
fn decode_snappy(
    body: &[u8],
    len: usize,
    cache: Option<&SeriesCache>,
) -> Result<RemoteWrite, String> {
    let run = |buf: &mut Vec<u8>| {
        if buf.len() < len {
            buf.resize(len, 0);
        }
        let n = snap::raw::Decoder::new()
            .decompress(body, &mut buf[..len])
            .map_err(|e| format!("body is not valid snappy: {e}"))?;
        let out = decode::decode_remote_write_cached(&buf[..n], cache).map_err(not_a_write_request);
        if buf.len() > KEEP_SNAPPY_BUF {
            *buf = Vec::new();
        }
        out
    };
    SNAPPY_BUF.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => run(&mut buf),
        Err(_) => run(&mut Vec::new()),
    })
}

/// How many bytes `body` decompresses to under `encoding` (the
/// Content-Encoding, lower case), from the frame header alone; refused past
/// `limit`. The handler reserves memory for it before decompressing.
fn decompressed_len(encoding: &str, body: &[u8], limit: usize) -> Result<usize, String> {
    let n = match encoding {
        "snappy" => snap::raw::decompress_len(body)
            .map_err(|e| format!("body is not snappy-compressed: {e}"))?,
        "zstd" => match zstd::zstd_safe::get_frame_content_size(body) {
            Ok(Some(n)) => usize::try_from(n).unwrap_or(usize::MAX),
            // Streaming encoders leave the size out: estimate, and reserve
            // the rest once the real size is known.
            Ok(None) => body.len().saturating_mul(10).min(limit),
            Err(_) => return Err("body is not a zstd frame".into()),
        },
        "identity" => body.len(),
        other => {
            return Err(format!(
                "unsupported Content-Encoding {other:?}: use snappy (remote-write 1.0) or zstd"
            ))
        }
    };
    if n > limit {
        return Err(format!("request decompresses to {n} bytes, more than the limit of {limit}; send smaller batches"));
    }
    Ok(n)
}

/// A zstd body decompressed (all its frames), refused past `limit` bytes.
fn decompress_zstd(body: &[u8], limit: usize) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let read = zstd::stream::Decoder::new(body)
        .and_then(|d| d.take(limit as u64 + 1).read_to_end(&mut out));
    match read {
        Ok(n) if n > limit => Err(format!(
            "request decompresses to more than the limit of {limit} bytes"
        )),
        Ok(_) => Ok(out),
        Err(e) => Err(format!("body is not valid zstd: {e}")),
    }
}

/// The receiver's body path without the server around it: what
/// `POST /api/v1/write` makes of `body` sent with Content-Encoding
/// `encoding` (lower case; the handler's default is `snappy`), with
/// `limit` the most decompressed bytes accepted. The same steps as
/// [`remote_write`] minus the write memory budget; the error is the 400
/// response's text. For the fuzz targets (`fuzz/`), which must reach the
/// decompression as well as the protobuf reader.
pub fn decode_remote_write_body(
    encoding: &str,
    body: &[u8],
    limit: usize,
) -> Result<RemoteWrite, String> {
    let len = decompressed_len(encoding, body, limit)?;
    match encoding {
        "snappy" => decode_snappy(body, len, None),
        "zstd" => {
            let out = decompress_zstd(body, limit)?;
            decode::decode_remote_write_cached(&out, None).map_err(not_a_write_request)
        }
        _ => decode::decode_remote_write_cached(body, None).map_err(not_a_write_request),
    }
}

pub async fn remote_write(
    State(st): State<Arc<AppState>>,
    Extension(id): Extension<crate::auth::Identity>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("snappy")
        .to_ascii_lowercase();
    // Decoded structures cost a few times the protobuf bytes; reserve for
    // them before decompressing anything (the decoder refuses a request
    // that would take more than `REMOTE_WRITE_EXPANSION` times).
    let limit = st.config.limits.max_request_bytes.saturating_mul(8);
    let decompressed_len = match decompressed_len(&encoding, &body, limit) {
        Ok(n) => n,
        Err(msg) => return bad(&st, msg),
    };
    let overloaded = |st: &AppState, e: Overload| match e {
        Overload::Busy { .. } => {
            st.metrics.write_request(PROTOCOL, "overloaded");
            let mut r = text(StatusCode::TOO_MANY_REQUESTS, e.to_string());
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            r
        }
        Overload::TooLarge { .. } => bad(st, e.to_string()),
    };
    let mut extra = None;
    let reservation = match st.reserve(body.len().saturating_add(reserved_for(decompressed_len))) {
        Ok(r) => r,
        Err(e) => return overloaded(&st, e),
    };
    let cache = Some(&st.series_cache);
    let decoded = match encoding.as_str() {
        "snappy" => decode_snappy(&body, decompressed_len, cache),
        "zstd" => {
            let out = match decompress_zstd(&body, limit) {
                Ok(out) => out,
                Err(msg) => return bad(&st, msg),
            };
            if out.len() > decompressed_len {
                match st.reserve(reserved_for(out.len() - decompressed_len)) {
                    Ok(r) => extra = Some(r),
                    Err(e) => return overloaded(&st, e),
                }
            }
            decode::decode_remote_write_cached(&out, cache).map_err(not_a_write_request)
        }
        _ => decode::decode_remote_write_cached(&body, cache).map_err(not_a_write_request),
    };
    let mut req = match decoded {
        Ok(r) => r,
        Err(msg) => return bad(&st, msg),
    };
    let mut misses = std::mem::take(&mut req.misses);
    let mut batch = match ingest::batch_from_remote_write(req, &st) {
        Ok(b) => b,
        Err(e) => return bad(&st, e.to_string()),
    };
    if let Some(t) = &id.tenant {
        // The cache holds the label sets as sent, without the tenant.
        crate::auth::scope_batch(&mut batch, t);
        misses.clear();
    }
    let result = ingest::append_caching(&st, batch, misses, None).await;
    drop(reservation);
    drop(extra);
    match result {
        Ok(o) => {
            st.metrics
                .samples_remote_write
                .fetch_add(o.accepted, Relaxed);
            if o.rejected_samples == 0 {
                st.metrics.write_request(PROTOCOL, "ok");
                return StatusCode::NO_CONTENT.into_response();
            }
            st.metrics.write_request(PROTOCOL, "rejected");
            let mut msg = format!(
                "{} samples stored, {} duplicates, {} refused:",
                o.accepted, o.duplicates, o.rejected_samples
            );
            for r in o.rejected.iter().take(10) {
                let at = r.timestamp.map(|t| format!(" at {t}")).unwrap_or_default();
                msg.push_str(&format!(
                    "\n{} samples of {}{at}: {}",
                    r.samples, r.labels, r.reason
                ));
            }
            text(StatusCode::BAD_REQUEST, msg)
        }
        Err(WriteError::BadRequest(m)) => bad(&st, m),
        Err(WriteError::Storage(e)) => {
            st.metrics.write_request(PROTOCOL, "error");
            text(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("storage failed, retry: {e}"),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use nines_proto::prometheus as pw;
    use prost::Message;

    use super::*;

    fn request() -> Vec<u8> {
        pw::WriteRequest {
            timeseries: vec![pw::TimeSeries {
                labels: vec![pw::Label {
                    name: "__name__".into(),
                    value: "up".into(),
                }],
                samples: vec![pw::Sample {
                    value: 1.0,
                    timestamp: 1_700_000_000_000,
                }],
                ..Default::default()
            }],
            metadata: Vec::new(),
        }
        .encode_to_vec()
    }

    #[test]
    fn body_path_decompresses_each_encoding() {
        let raw = request();
        let want = decode::decode_remote_write_fast(&raw).unwrap();
        assert_eq!(want.series.len(), 1);
        let snappy = snap::raw::Encoder::new().compress_vec(&raw).unwrap();
        let zstd = zstd::bulk::compress(&raw, 1).unwrap();
        // A streaming encoder's frame, without the content size.
        let streamed = zstd::stream::encode_all(&raw[..], 1).unwrap();
        for (encoding, body) in [
            ("snappy", &snappy),
            ("zstd", &zstd),
            ("zstd", &streamed),
            ("identity", &raw),
        ] {
            let got = decode_remote_write_body(encoding, body, 1 << 20);
            assert_eq!(got.as_ref(), Ok(&want), "{encoding}");
        }
    }

    #[test]
    fn body_path_refuses_what_the_handler_refuses() {
        let raw = request();
        let refused = |encoding: &str, body: &[u8], limit: usize| {
            decode_remote_write_body(encoding, body, limit).unwrap_err()
        };
        assert!(refused("gzip", &raw, 1 << 20).contains("unsupported Content-Encoding"));
        let snappy = snap::raw::Encoder::new().compress_vec(&raw).unwrap();
        assert!(refused("snappy", &snappy, raw.len() - 1).contains("more than the limit"));
        assert!(refused("snappy", &raw, 1 << 20).contains("snappy"));
        let streamed = zstd::stream::encode_all(&raw[..], 1).unwrap();
        assert!(refused("zstd", &streamed, raw.len() - 1).contains("more than the limit"));
        assert!(refused("zstd", &raw, 1 << 20).contains("zstd"));
        assert!(refused("identity", &snappy, 1 << 20).contains("not a remote-write"));
    }
}
