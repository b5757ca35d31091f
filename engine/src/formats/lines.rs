//! Splits a `BufRead` into lines with a length limit, so that input without
//! line breaks costs at most the limit in memory.

use std::io::{self, BufRead};

/// How much of an over-long line is kept for the error message.
const TOO_LONG_PREFIX: usize = 256;

/// One line without its `\n` (and without a `\r` before it).
pub(crate) enum Line<'a> {
    Text(&'a [u8]),
    /// Longer than the limit: its first bytes and its full length.
    TooLong {
        prefix: &'a [u8],
        len: usize,
    },
}

pub(crate) struct LineReader<R> {
    input: R,
    buf: Vec<u8>,
    max: usize,
    /// 1-based number of the line last returned.
    line_no: u64,
}

impl<R: BufRead> LineReader<R> {
    pub(crate) fn new(input: R, max_line_bytes: usize) -> Self {
        LineReader {
            input,
            buf: Vec::new(),
            max: max_line_bytes,
            line_no: 0,
        }
    }

    /// The number of the line last returned by [`LineReader::next_line`].
    pub(crate) fn line_no(&self) -> u64 {
        self.line_no
    }

    pub(crate) fn get_mut(&mut self) -> &mut R {
        &mut self.input
    }

    /// The next line, `None` at the end of the input. A last line without a
    /// trailing `\n` is still a line.
    pub(crate) fn next_line(&mut self) -> io::Result<Option<Line<'_>>> {
        self.buf.clear();
        let mut len = 0usize;
        let mut too_long = false;
        let mut any = false;
        loop {
            let avail = match self.input.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if avail.is_empty() {
                break;
            }
            any = true;
            let (take, found) = match memchr::memchr(b'\n', avail) {
                Some(i) => (i, true),
                None => (avail.len(), false),
            };
            if !too_long && len + take > self.max {
                too_long = true;
                self.buf.truncate(TOO_LONG_PREFIX);
            }
            if too_long {
                // Keep only a prefix for the error message.
                let keep = TOO_LONG_PREFIX.saturating_sub(self.buf.len()).min(take);
                self.buf.extend_from_slice(&avail[..keep]);
            } else {
                self.buf.extend_from_slice(&avail[..take]);
            }
            len += take;
            self.input.consume(take + usize::from(found));
            if found {
                break;
            }
        }
        if !any {
            return Ok(None);
        }
        self.line_no += 1;
        if too_long {
            return Ok(Some(Line::TooLong {
                prefix: &self.buf,
                len,
            }));
        }
        if self.buf.last() == Some(&b'\r') {
            self.buf.pop();
        }
        Ok(Some(Line::Text(&self.buf)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(input: &[u8], max: usize, cap: usize) -> Vec<String> {
        let reader = io::BufReader::with_capacity(cap, input);
        let mut lines = LineReader::new(reader, max);
        let mut out = Vec::new();
        while let Some(line) = lines.next_line().unwrap_or(None) {
            out.push(match line {
                Line::Text(t) => String::from_utf8_lossy(t).into_owned(),
                Line::TooLong { prefix, len } => {
                    format!("TOO LONG {len} {}", String::from_utf8_lossy(prefix))
                }
            });
        }
        out
    }

    #[test]
    fn splits_on_newlines_and_strips_carriage_returns() {
        for cap in [1, 2, 3, 8, 1024] {
            assert_eq!(
                collect(b"a\r\nbb\n\nccc", 100, cap),
                vec!["a", "bb", "", "ccc"],
                "buffer capacity {cap}"
            );
        }
        assert!(collect(b"", 100, 8).is_empty());
        assert_eq!(collect(b"\n", 100, 8), vec![""]);
    }

    #[test]
    fn over_long_lines_are_reported_and_skipped() {
        for cap in [1, 4, 1024] {
            assert_eq!(
                collect(b"ok\n0123456789\nnext", 5, cap),
                vec!["ok", "TOO LONG 10 0123456789", "next"],
                "buffer capacity {cap}"
            );
        }
    }

    #[test]
    fn counts_lines() {
        let mut lines = LineReader::new(&b"a\nb\n"[..], 10);
        assert!(matches!(lines.next_line(), Ok(Some(Line::Text(b"a")))));
        assert!(matches!(lines.next_line(), Ok(Some(Line::Text(b"b")))));
        assert!(matches!(lines.next_line(), Ok(None)));
        assert_eq!(lines.line_no(), 2);
    }
}
