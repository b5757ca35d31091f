//! Merging segments: walk every input's series in label order at once (each
//! input is sorted by label set), and for each label set concatenate its rows
//! from all inputs in time order into the output.

use std::sync::Arc;

use crate::codec::DecodeScratch;
use crate::error::Result;
use crate::manifest::LiveFile;
use crate::segment::{Column, ColumnBuf, SegmentWriter, SeriesEntry};

pub(super) fn merge(inputs: &[Arc<LiveFile>], out: &mut SegmentWriter) -> Result<()> {
    // Inputs in time order, so concatenation is usually already sorted.
    let mut inputs: Vec<&Arc<LiveFile>> = inputs.iter().collect();
    inputs.sort_by_key(|f| (f.min_t(), f.max_t()));
    let columns = inputs[0].segment.footer().columns.clone();
    let mut cursors: Vec<(u32, Option<SeriesEntry>)> = inputs
        .iter()
        .map(|f| Ok((0, next_entry(f, 0)?)))
        .collect::<Result<_>>()?;
    let mut scratch = DecodeScratch::default();
    let mut cols: Vec<ColumnBuf> = columns.iter().map(|&t| ColumnBuf::new(t)).collect();
    loop {
        let Some(labels) = cursors
            .iter()
            .filter_map(|(_, e)| e.as_ref().map(|e| &e.labels))
            .min()
            .cloned()
        else {
            return Ok(());
        };
        cols.iter_mut().for_each(ColumnBuf::clear);
        let mut kind = crate::types::SeriesKind::Unknown;
        let mut sorted = true;
        for (i, f) in inputs.iter().enumerate() {
            let (ord, entry) = &mut cursors[i];
            let Some(e) = entry.as_ref().filter(|e| e.labels == labels) else {
                continue;
            };
            if e.kind != crate::types::SeriesKind::Unknown {
                kind = e.kind;
            }
            let before = cols[0].len();
            let last = last_time(&cols[0]);
            f.segment
                .read_columns(e, i64::MIN, i64::MAX, &mut scratch, &mut cols)?;
            if before > 0
                && first_time_at(&cols[0], before)
                    .zip(last)
                    .is_some_and(|(a, b)| a <= b)
            {
                sorted = false;
            }
            *ord += 1;
            *entry = next_entry(f, *ord)?;
        }
        if !sorted {
            sort_dedup(&mut cols);
        }
        if cols[0].is_empty() {
            continue;
        }
        let views: Vec<Column<'_>> = cols
            .iter()
            .map(|c| match c {
                ColumnBuf::I64(v) => Column::I64(v),
                ColumnBuf::F64(v) => Column::F64(v),
            })
            .collect();
        out.add_series(&labels, kind, &views)?;
    }
}

fn next_entry(f: &LiveFile, ord: u32) -> Result<Option<SeriesEntry>> {
    if ord >= f.segment.series_count() {
        return Ok(None);
    }
    f.segment.series(ord).map(Some)
}

fn last_time(c: &ColumnBuf) -> Option<i64> {
    match c {
        ColumnBuf::I64(v) => v.last().copied(),
        ColumnBuf::F64(_) => None,
    }
}

fn first_time_at(c: &ColumnBuf, i: usize) -> Option<i64> {
    match c {
        ColumnBuf::I64(v) => v.get(i).copied(),
        ColumnBuf::F64(_) => None,
    }
}

/// Sorts all columns by the time column (column 0), keeping for equal times
/// the row that came last (the newer input).
fn sort_dedup(cols: &mut [ColumnBuf]) {
    let ColumnBuf::I64(times) = &cols[0] else {
        return;
    };
    let mut order: Vec<usize> = (0..times.len()).collect();
    order.sort_by_key(|&i| (times[i], i));
    let mut keep: Vec<usize> = Vec::with_capacity(order.len());
    for i in order {
        match keep.last_mut() {
            Some(last) if times[*last] == times[i] => *last = i,
            _ => keep.push(i),
        }
    }
    for c in cols.iter_mut() {
        match c {
            ColumnBuf::I64(v) => *v = keep.iter().map(|&i| v[i]).collect(),
            ColumnBuf::F64(v) => *v = keep.iter().map(|&i| v[i]).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_dedup_keeps_the_later_row() {
        let mut cols = vec![
            ColumnBuf::I64(vec![1, 3, 2, 3]),
            ColumnBuf::F64(vec![1.0, 3.0, 2.0, 30.0]),
        ];
        sort_dedup(&mut cols);
        assert_eq!(
            cols,
            vec![
                ColumnBuf::I64(vec![1, 2, 3]),
                ColumnBuf::F64(vec![1.0, 2.0, 30.0])
            ]
        );
    }
}
