//! The error reported for one rejected input line.

use std::fmt;

/// Lines longer than this many characters are shown as a window around the
/// error, so that an error on a 16 MiB line stays readable and small.
const WINDOW_CHARS: usize = 120;

/// A line that could not be read. The reader skips it and goes on.
///
/// `Display` shows where and what was expected, then the line with a caret
/// under the offending character:
///
/// ```text
/// line 3, column 9: expected '=' after the label name
///   foo{code 200} 1
///           ^
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line number.
    pub line: u64,
    /// 1-based column, counted in characters.
    pub column: usize,
    /// What was wrong or expected.
    pub message: String,
    /// The line (invalid UTF-8 replaced by U+FFFD), or a window of it around
    /// the column when it is long; an elided part is shown as `…`.
    pub line_text: String,
    /// The caret's position in `line_text`, in characters.
    caret: usize,
}

impl ParseError {
    /// Builds the error for `line` (without its line break) with the problem
    /// at byte offset `pos`. Only called on the error path, so it may
    /// allocate freely.
    pub(crate) fn new(line_no: u64, line: &[u8], pos: usize, message: impl Into<String>) -> Self {
        let pos = pos.min(line.len());
        let before = String::from_utf8_lossy(&line[..pos]);
        let column = before.chars().count() + 1;
        let text = String::from_utf8_lossy(line);
        let total = text.chars().count();
        let caret = column - 1;
        let (line_text, caret) = if total <= WINDOW_CHARS {
            (text.into_owned(), caret)
        } else {
            let start = caret.saturating_sub(WINDOW_CHARS / 2);
            let end = (start + WINDOW_CHARS).min(total);
            let mut s = String::new();
            let mut shift = 0;
            if start > 0 {
                s.push('…');
                shift = 1;
            }
            s.extend(text.chars().skip(start).take(end - start));
            if end < total {
                s.push('…');
            }
            (s, caret - start + shift)
        };
        ParseError {
            line: line_no,
            column,
            message: message.into(),
            line_text,
            caret,
        }
    }

    /// The error for a line over the length limit: it shows the start of
    /// the line, with the caret where the text was cut.
    pub(crate) fn too_long(line_no: u64, prefix: &[u8], len: usize, limit: usize) -> Self {
        const SHOWN: usize = 60;
        let mut line_text: String = String::from_utf8_lossy(prefix)
            .chars()
            .take(SHOWN)
            .collect();
        let caret = line_text.chars().count();
        line_text.push('…');
        ParseError {
            line: line_no,
            column: limit.saturating_add(1),
            message: format!("line is {len} bytes long, over the limit of {limit} bytes"),
            line_text,
            caret,
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.column, self.message
        )?;
        if self.line_text.is_empty() && self.caret == 0 {
            return Ok(());
        }
        // Tabs stay tabs under the line so the caret lines up.
        let pad: String = self
            .line_text
            .chars()
            .take(self.caret)
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        write!(f, "\n  {}\n  {}^", self.line_text, pad)
    }
}

impl std::error::Error for ParseError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_points_at_the_column() {
        let e = ParseError::new(3, b"foo{code 200} 1", 8, "expected '='");
        assert_eq!(e.column, 9);
        assert_eq!(
            e.to_string(),
            "line 3, column 9: expected '='\n  foo{code 200} 1\n          ^"
        );
    }

    #[test]
    fn columns_count_characters_and_keep_tabs() {
        let e = ParseError::new(1, "é\tx y".as_bytes(), 3, "bad");
        assert_eq!(e.column, 3);
        assert_eq!(e.to_string(), "line 1, column 3: bad\n  é\tx y\n   \t^");
    }

    #[test]
    fn long_lines_show_a_window() {
        let line = format!("{}X{}", "a".repeat(1000), "b".repeat(1000));
        let e = ParseError::new(7, line.as_bytes(), 1000, "here");
        assert_eq!(e.column, 1001);
        assert!(e.line_text.chars().count() <= WINDOW_CHARS + 2);
        assert!(e.line_text.starts_with('…') && e.line_text.ends_with('…'));
        let shown = e.to_string();
        let mut lines = shown.lines().skip(1);
        let text = lines.next().unwrap_or_default();
        let caret = lines.next().unwrap_or_default();
        let at = caret.chars().count() - 1;
        assert_eq!(text.chars().nth(at), Some('X'));
    }

    #[test]
    fn over_long_lines_show_their_start() {
        let e = ParseError::too_long(2, b"abc", 5000, 4096);
        assert_eq!(e.column, 4097);
        assert_eq!(
            e.to_string(),
            "line 2, column 4097: line is 5000 bytes long, over the limit of 4096 bytes\n  abc…\n     ^"
        );
    }

    #[test]
    fn errors_without_text_show_no_caret() {
        let e = ParseError::new(5, b"", 0, "input ended without # EOF");
        assert_eq!(e.to_string(), "line 5, column 1: input ended without # EOF");
    }
}
