//! Writes JSON lines that read back bit for bit.

use std::io::Write;
use std::path::PathBuf;

use crate::error::{Error, IoContext, Result};
use crate::formats::number::{push_finite, push_int};
use crate::formats::PROMETHEUS_NAN_BITS;
use crate::types::{Labels, SeriesKind, TimestampMs, METRIC_NAME, STALE_NAN_BITS};

/// Output is handed to the underlying writer in pieces of about this size.
const FLUSH_BYTES: usize = 64 << 10;

/// Writes series as JSON lines: one line per chunk of up to
/// [`JsonlWriter::with_chunk_samples`] samples (default 10,000, about
/// 300 KiB per line: few lines, yet far below any reader's line limit).
///
/// Call [`JsonlWriter::write_series`] once per series (or per part of one),
/// then [`JsonlWriter::finish`]. Samples are written as given, in any order;
/// the output reads back to exactly these labels, kind, timestamps and value
/// bits.
pub struct JsonlWriter<W: Write> {
    out: W,
    path: PathBuf,
    buf: Vec<u8>,
    chunk_samples: usize,
    lines: u64,
    samples: u64,
}

impl<W: Write> JsonlWriter<W> {
    /// `path` names the output in I/O errors (`-` for standard output).
    pub fn new(out: W, path: impl Into<PathBuf>) -> Self {
        JsonlWriter {
            out,
            path: path.into(),
            buf: Vec::with_capacity(FLUSH_BYTES * 2),
            chunk_samples: 10_000,
            lines: 0,
            samples: 0,
        }
    }

    /// Most samples per line (at least 1).
    pub fn with_chunk_samples(mut self, n: usize) -> Self {
        self.chunk_samples = n.max(1);
        self
    }

    /// Lines written so far.
    pub fn lines(&self) -> u64 {
        self.lines
    }

    /// Samples written so far.
    pub fn samples(&self) -> u64 {
        self.samples
    }

    /// Writes one series; nothing for a series without samples. Refused
    /// (and nothing written) when the columns differ in length.
    pub fn write_series(
        &mut self,
        labels: &Labels,
        kind: SeriesKind,
        timestamps: &[TimestampMs],
        values: &[f64],
    ) -> Result<()> {
        if timestamps.len() != values.len() {
            return Err(Error::InvalidArgument(format!(
                "series {labels}: {} timestamps but {} values",
                timestamps.len(),
                values.len()
            )));
        }
        for (ts, vs) in timestamps
            .chunks(self.chunk_samples)
            .zip(values.chunks(self.chunk_samples))
        {
            self.push_line(labels, kind, ts, vs);
            if self.buf.len() >= FLUSH_BYTES {
                self.flush_buf()?;
            }
        }
        Ok(())
    }

    fn push_line(&mut self, labels: &Labels, kind: SeriesKind, ts: &[TimestampMs], vs: &[f64]) {
        let b = &mut self.buf;
        b.extend_from_slice(b"{\"metric\":{");
        // The metric name first, as VictoriaMetrics writes it.
        let mut first = true;
        let name_first = labels
            .iter()
            .filter(|l| l.name == METRIC_NAME)
            .chain(labels.iter().filter(|l| l.name != METRIC_NAME));
        for l in name_first {
            if !first {
                b.push(b',');
            }
            first = false;
            push_json_string(b, &l.name);
            b.push(b':');
            push_json_string(b, &l.value);
        }
        b.extend_from_slice(b"},\"values\":[");
        for (i, &v) in vs.iter().enumerate() {
            if i > 0 {
                b.push(b',');
            }
            push_json_value(b, v);
        }
        b.extend_from_slice(b"],\"timestamps\":[");
        for (i, &t) in ts.iter().enumerate() {
            if i > 0 {
                b.push(b',');
            }
            push_int(b, t);
        }
        b.push(b']');
        if kind != SeriesKind::Unknown {
            b.extend_from_slice(b",\"kind\":\"");
            b.extend_from_slice(kind.as_str().as_bytes());
            b.push(b'"');
        }
        b.extend_from_slice(b"}\n");
        self.lines += 1;
        self.samples += ts.len() as u64;
    }

    /// Flushes and returns the underlying writer.
    pub fn finish(mut self) -> Result<W> {
        self.flush_buf()?;
        self.out.flush().ctx("flush", &self.path)?;
        Ok(self.out)
    }

    fn flush_buf(&mut self) -> Result<()> {
        self.out.write_all(&self.buf).ctx("write", &self.path)?;
        self.buf.clear();
        Ok(())
    }
}

/// A finite value as the shortest round-trip number; the others as strings
/// that keep every bit.
pub(crate) fn push_json_value(out: &mut Vec<u8>, v: f64) {
    if v.is_finite() {
        return push_finite(out, v);
    }
    let bits = v.to_bits();
    match bits {
        _ if v == f64::INFINITY => out.extend_from_slice(b"\"+Inf\""),
        _ if v == f64::NEG_INFINITY => out.extend_from_slice(b"\"-Inf\""),
        PROMETHEUS_NAN_BITS => out.extend_from_slice(b"\"NaN\""),
        STALE_NAN_BITS => out.extend_from_slice(b"\"StaleNaN\""),
        _ => {
            // Writing to a Vec cannot fail.
            let _ = write!(out, "\"NaN:0x{bits:016x}\"");
        }
    }
}

/// A JSON string: `"` and `\` escaped, control characters as `\n`, `\r`,
/// `\t` or `\u00XX`, everything else as UTF-8.
pub(crate) fn push_json_string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut run = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[run..i]);
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xf)]);
        } else {
            out.extend_from_slice(escape);
        }
        run = i + 1;
    }
    out.extend_from_slice(&bytes[run..]);
    out.push(b'"');
}
