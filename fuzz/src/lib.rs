//! What the fuzz targets share: comparable forms of decoded batches and the
//! invariants of the streaming text readers.

use std::collections::BTreeMap;

use nines_engine::formats::Chunk;
use nines_engine::{Labels, SeriesBatch, SeriesKind};

/// One decoded series with its values as bit patterns, so that NaNs (and
/// their payloads) compare equal.
pub type Series = (Labels, SeriesKind, Vec<i64>, Vec<u64>);

pub fn key(series: &[SeriesBatch]) -> Vec<Series> {
    series
        .iter()
        .map(|s| {
            (
                s.labels.clone(),
                s.kind,
                s.timestamps.clone(),
                s.values.iter().map(|v| v.to_bits()).collect(),
            )
        })
        .collect()
}

/// Everything a text reader handed out, in a form that does not depend on
/// how it was cut into chunks: each series' samples (sorted, since two
/// spellings of one label set are separate batches within a chunk) and the
/// rejected lines in input order.
#[derive(Debug, Default, PartialEq)]
pub struct ReadAll {
    pub samples: BTreeMap<(Labels, SeriesKind), Vec<(i64, u64)>>,
    pub sample_count: u64,
    pub errors: Vec<String>,
}

/// Drains a reader over in-memory input, checking what every chunk
/// promises: not empty, at most `batch_samples` samples, columns of equal
/// length, no series without samples. An error is a bug: the input cannot
/// fail to read.
pub fn read_all<I>(chunks: I, batch_samples: usize) -> ReadAll
where
    I: Iterator<Item = nines_engine::Result<Chunk>>,
{
    let mut all = ReadAll::default();
    for chunk in chunks {
        let chunk = chunk.expect("reading from memory cannot fail");
        assert!(
            !chunk.batch.series.is_empty() || !chunk.errors.is_empty(),
            "empty chunk"
        );
        let n = chunk.batch.sample_count();
        assert!(
            n <= batch_samples,
            "{n} samples in a chunk of {batch_samples}"
        );
        for s in &chunk.batch.series {
            assert_eq!(s.timestamps.len(), s.values.len(), "{}", s.labels);
            assert!(
                !s.timestamps.is_empty(),
                "series {} without samples",
                s.labels
            );
            let out = all.samples.entry((s.labels.clone(), s.kind)).or_default();
            out.extend(
                s.timestamps
                    .iter()
                    .zip(&s.values)
                    .map(|(&t, v)| (t, v.to_bits())),
            );
        }
        all.sample_count += n as u64;
        all.errors
            .extend(chunk.errors.iter().map(|e| e.to_string()));
    }
    for samples in all.samples.values_mut() {
        samples.sort_unstable();
    }
    all
}
