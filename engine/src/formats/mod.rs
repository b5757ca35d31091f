//! Text import and export formats.
//!
//! - [`openmetrics`]: Prometheus text exposition 0.0.4 and OpenMetrics 1.0
//!   text, read with [`OpenMetricsReader`] and written (OpenMetrics only, for
//!   `promtool tsdb create-blocks-from openmetrics`) with [`OpenMetricsWriter`].
//! - [`jsonl`]: VictoriaMetrics-style JSON lines, the lossless export format,
//!   read with [`JsonlReader`] and written with [`JsonlWriter`].
//!
//! Everything streams with bounded memory. Readers pull lines from a
//! `BufRead` and hand out [`Chunk`]s: a [`WriteBatch`] of at most
//! [`ReadOptions::batch_samples`] samples, in which the samples of one series
//! share a `SeriesBatch`, plus the lines that failed to parse. A bad
//! line is reported and skipped; the rest of the input keeps loading. Writers
//! take one series at a time, `(labels, kind, timestamps, values)`, in the
//! order the export reads them.
//!
//! The formats are specified in `docs/format/openmetrics.md` and
//! `docs/format/jsonl.md`; change those in the same commit as the code.

mod batch;
pub mod jsonl;
mod lines;
mod number;
pub mod openmetrics;
mod parse_error;

pub use jsonl::{JsonlReader, JsonlWriter};
pub use openmetrics::{OpenMetricsReader, OpenMetricsWriter, TextDialect, TextOptions};
pub use parse_error::ParseError;

use crate::types::{Label, WriteBatch};

/// The NaN that Prometheus uses for every NaN sample value (its
/// `value.NormalNaN`). Readers turn a textual `NaN` into exactly these bits,
/// so that a file read by nines and by Prometheus stores the same value.
pub const PROMETHEUS_NAN_BITS: u64 = 0x7ff8_0000_0000_0001;

/// Options shared by all readers. Each default is documented with its reason.
#[derive(Clone, Debug)]
pub struct ReadOptions {
    /// Most samples in one [`Chunk`]. Default 10,000: large enough that the
    /// per-batch cost of `Engine::append` (one lock, one WAL record) is
    /// amortised, small enough (about 160 KiB of samples) to keep memory flat.
    pub batch_samples: usize,
    /// Longest accepted line in bytes. Default 16 MiB: a jsonl line of 10,000
    /// samples is about 400 KiB, so this leaves room for much larger chunks
    /// from other tools while a file without newlines cannot exhaust memory.
    pub max_line_bytes: usize,
    /// Most parse errors in one [`Chunk`]: a chunk is handed out early once it
    /// holds this many. Default 100, so a file of garbage is reported in
    /// steady pieces instead of being collected in memory.
    pub max_errors_per_chunk: usize,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            batch_samples: 10_000,
            max_line_bytes: 16 << 20,
            max_errors_per_chunk: 100,
        }
    }
}

impl ReadOptions {
    /// Limits below 1 would make no progress; clamp them.
    fn normalized(mut self) -> ReadOptions {
        self.batch_samples = self.batch_samples.max(1);
        self.max_line_bytes = self.max_line_bytes.max(1);
        self.max_errors_per_chunk = self.max_errors_per_chunk.max(1);
        self
    }
}

/// What a reader hands out: samples to append and the lines that were
/// rejected since the previous chunk. A chunk has samples, errors or both.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Chunk {
    pub batch: WriteBatch,
    pub errors: Vec<ParseError>,
}

/// Counters a reader keeps over the whole input.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Lines read, including blank lines, comments and rejected lines.
    pub lines: u64,
    /// Samples handed out in chunks.
    pub samples: u64,
    /// Lines that failed to parse (each is reported once as a
    /// [`ParseError`], except lines after a `# EOF`, which are reported once
    /// for all of them). A rejected text line holds at most one sample; a
    /// rejected jsonl line's samples are not counted, as it was not read.
    pub rejected_lines: u64,
    /// OpenMetrics `_created` samples that were skipped (they carry a
    /// counter's creation time, not a sample of the series).
    pub skipped_created: u64,
    /// OpenMetrics timestamps that had digits below the millisecond and were
    /// truncated toward zero to whole milliseconds.
    pub truncated_timestamps: u64,
}

/// The index of the first label whose name appeared earlier in `labels`
/// (in input order). Linear for the usual handful of labels, sorting for
/// many, so that a line with a million labels is not quadratic.
pub(crate) fn first_duplicate(labels: &[Label]) -> Option<usize> {
    const LINEAR_UP_TO: usize = 16;
    if labels.len() <= LINEAR_UP_TO {
        return (1..labels.len()).find(|&j| labels[..j].iter().any(|l| l.name == labels[j].name));
    }
    let mut order: Vec<usize> = (0..labels.len()).collect();
    order.sort_by(|&a, &b| labels[a].name.cmp(&labels[b].name).then(a.cmp(&b)));
    order
        .windows(2)
        .filter(|w| labels[w[0]].name == labels[w[1]].name)
        .map(|w| w[1])
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_duplicate_is_in_input_order() {
        let labels =
            |names: &[&str]| -> Vec<Label> { names.iter().map(|n| Label::new(*n, "v")).collect() };
        assert_eq!(first_duplicate(&labels(&["a", "b", "c"])), None);
        assert_eq!(first_duplicate(&labels(&["a", "b", "b", "a"])), Some(2));
        let mut many: Vec<String> = (0..40).map(|i| format!("l{i}")).collect();
        many.push("l30".into());
        many.push("l5".into());
        let names: Vec<&str> = many.iter().map(String::as_str).collect();
        assert_eq!(first_duplicate(&labels(&names)), Some(40));
        assert_eq!(first_duplicate(&labels(&names[..40])), None);
    }
}
