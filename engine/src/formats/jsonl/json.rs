//! A small JSON cursor over one line: exactly the JSON grammar (RFC 8259),
//! with byte offsets for errors and numbers handed out as text so that they
//! can be parsed exactly.

use std::borrow::Cow;

use super::What;

/// Why a line was rejected and at which byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Fail {
    pub(crate) pos: usize,
    pub(crate) what: What,
}

pub(crate) fn fail<T>(pos: usize, what: What) -> Result<T, Fail> {
    Err(Fail { pos, what })
}

/// Nesting allowed in skipped values; deeper input is refused instead of
/// recursing without bound.
const MAX_DEPTH: usize = 64;

pub(crate) struct Cursor<'a> {
    s: &'a str,
    pub(crate) pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(s: &'a str) -> Self {
        Cursor { s, pos: 0 }
    }

    fn bytes(&self) -> &'a [u8] {
        self.s.as_bytes()
    }

    pub(crate) fn peek(&self) -> Option<u8> {
        self.bytes().get(self.pos).copied()
    }

    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.s.len()
    }

    pub(crate) fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    /// Consumes `b` if it is next.
    pub(crate) fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    pub(crate) fn expect(&mut self, b: u8, what: What) -> Result<(), Fail> {
        if self.eat(b) {
            Ok(())
        } else {
            fail(self.pos, what)
        }
    }

    /// After an element of an object or array: `,` (returns true) or the
    /// closing `close` (returns false).
    pub(crate) fn next_element(&mut self, close: u8, what: What) -> Result<bool, Fail> {
        self.ws();
        if self.eat(b',') {
            self.ws();
            Ok(true)
        } else if self.eat(close) {
            Ok(false)
        } else {
            fail(self.pos, what)
        }
    }

    /// A string at the cursor (which must be at its `"`), unescaped. Borrowed
    /// from the line when it has no escapes.
    pub(crate) fn string(&mut self) -> Result<Cow<'a, str>, Fail> {
        let open = self.pos;
        self.expect(b'"', What::ExpectedString)?;
        let b = self.bytes();
        let start = self.pos;
        let mut i = start;
        loop {
            match b.get(i) {
                None => return fail(open, What::UnterminatedString),
                Some(b'"') => {
                    self.pos = i + 1;
                    return Ok(Cow::Borrowed(&self.s[start..i]));
                }
                Some(b'\\') => break,
                Some(&c) if c < 0x20 => return fail(i, What::ControlCharacter),
                Some(_) => i += 1,
            }
        }
        let mut out = String::with_capacity(i - start + 16);
        out.push_str(&self.s[start..i]);
        let mut run = i;
        loop {
            match b.get(i) {
                None => return fail(open, What::UnterminatedString),
                Some(b'"') => {
                    out.push_str(&self.s[run..i]);
                    self.pos = i + 1;
                    return Ok(Cow::Owned(out));
                }
                Some(b'\\') => {
                    out.push_str(&self.s[run..i]);
                    i = self.escape(i, &mut out)?;
                    run = i;
                }
                Some(&c) if c < 0x20 => return fail(i, What::ControlCharacter),
                Some(_) => i += 1,
            }
        }
    }

    /// Decodes the escape at `i` (a backslash) into `out`; returns the
    /// offset after it.
    fn escape(&self, i: usize, out: &mut String) -> Result<usize, Fail> {
        let b = self.bytes();
        let c = match b.get(i + 1) {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                let hi = self.hex4(i + 2).ok_or(Fail {
                    pos: i,
                    what: What::BadUnicodeEscape,
                })?;
                let (code, next) = if (0xd800..0xdc00).contains(&hi) {
                    let lo = match (b.get(i + 6), b.get(i + 7)) {
                        (Some(b'\\'), Some(b'u')) => self.hex4(i + 8),
                        _ => None,
                    };
                    match lo {
                        Some(lo) if (0xdc00..0xe000).contains(&lo) => {
                            (0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00), i + 12)
                        }
                        _ => return fail(i, What::LoneSurrogate),
                    }
                } else if (0xdc00..0xe000).contains(&hi) {
                    return fail(i, What::LoneSurrogate);
                } else {
                    (hi, i + 6)
                };
                // Surrogates were handled above, so this is a scalar value.
                let ch = char::from_u32(code).ok_or(Fail {
                    pos: i,
                    what: What::LoneSurrogate,
                })?;
                out.push(ch);
                return Ok(next);
            }
            _ => return fail(i, What::BadEscape),
        };
        out.push(c);
        Ok(i + 2)
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        let digits = self.bytes().get(at..at + 4)?;
        digits.iter().try_fold(0u32, |acc, &d| {
            let v = (d as char).to_digit(16)?;
            Some(acc * 16 + v)
        })
    }

    /// A number's text, checked against the JSON grammar
    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`, and whether it
    /// is an integer (no fraction, no exponent).
    pub(crate) fn number(&mut self) -> Result<(&'a str, bool), Fail> {
        let b = self.bytes();
        let start = self.pos;
        let mut i = start;
        let digits = |mut i: usize| {
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            i
        };
        if b.get(i) == Some(&b'-') {
            i += 1;
        }
        match b.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => i = digits(i),
            _ => return fail(start, What::BadNumber),
        }
        let mut integer = true;
        if b.get(i) == Some(&b'.') {
            let end = digits(i + 1);
            if end == i + 1 {
                return fail(start, What::BadNumber);
            }
            i = end;
            integer = false;
        }
        if let Some(b'e' | b'E') = b.get(i) {
            i += 1;
            if let Some(b'+' | b'-') = b.get(i) {
                i += 1;
            }
            let end = digits(i);
            if end == i {
                return fail(start, What::BadNumber);
            }
            i = end;
            integer = false;
        }
        self.pos = i;
        Ok((&self.s[start..i], integer))
    }

    /// Skips one value of any type.
    pub(crate) fn skip_value(&mut self, depth: usize) -> Result<(), Fail> {
        if depth > MAX_DEPTH {
            return fail(self.pos, What::TooDeep);
        }
        match self.peek() {
            Some(b'"') => self.string().map(drop),
            Some(b'{') => {
                self.pos += 1;
                self.ws();
                if self.eat(b'}') {
                    return Ok(());
                }
                loop {
                    if self.peek() != Some(b'"') {
                        return fail(self.pos, What::ExpectedKey);
                    }
                    self.string()?;
                    self.ws();
                    self.expect(b':', What::ExpectedColon)?;
                    self.ws();
                    self.skip_value(depth + 1)?;
                    if !self.next_element(b'}', What::ExpectedCommaOrObjectEnd)? {
                        return Ok(());
                    }
                }
            }
            Some(b'[') => {
                self.pos += 1;
                self.ws();
                if self.eat(b']') {
                    return Ok(());
                }
                loop {
                    self.skip_value(depth + 1)?;
                    if !self.next_element(b']', What::ExpectedCommaOrArrayEnd)? {
                        return Ok(());
                    }
                }
            }
            Some(b't') => self.literal("true"),
            Some(b'f') => self.literal("false"),
            Some(b'n') => self.literal("null"),
            _ => self.number().map(drop),
        }
    }

    /// Consumes the literal `word` (`true`, `false`, `null`).
    pub(crate) fn literal(&mut self, word: &str) -> Result<(), Fail> {
        if self.s[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(())
        } else {
            fail(self.pos, What::ExpectedValue)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn string(s: &str) -> Result<String, Fail> {
        Cursor::new(s).string().map(Cow::into_owned)
    }

    #[test]
    fn strings_unescape() {
        assert_eq!(string(r#""plain""#), Ok("plain".into()));
        assert_eq!(
            string(r#""a\"b\\c\/d\b\f\n\r\t""#),
            Ok("a\"b\\c/d\u{8}\u{c}\n\r\t".into())
        );
        assert_eq!(string(r#""\u00e9\u20AC""#), Ok("é€".into()));
        assert_eq!(string(r#""\ud83d\ude00!""#), Ok("😀!".into()));
        assert_eq!(string(r#""é😀""#), Ok("é😀".into()));
        let mut c = Cursor::new(r#""x" rest"#);
        assert_eq!(c.string().map(Cow::into_owned), Ok("x".into()));
        assert_eq!(c.pos, 3);
    }

    #[test]
    fn string_errors() {
        let f = |pos, what| Err(Fail { pos, what });
        assert_eq!(string(r#""abc"#), f(0, What::UnterminatedString));
        assert_eq!(string(r#""a\"#), f(2, What::BadEscape));
        assert_eq!(string("\"a\u{1}\""), f(2, What::ControlCharacter));
        assert_eq!(string(r#""a\x""#), f(2, What::BadEscape));
        assert_eq!(string(r#""\u12g4""#), f(1, What::BadUnicodeEscape));
        assert_eq!(string(r#""\ud83d""#), f(1, What::LoneSurrogate));
        assert_eq!(string(r#""\ud83d\u0041""#), f(1, What::LoneSurrogate));
        assert_eq!(string(r#""\ude00""#), f(1, What::LoneSurrogate));
        assert_eq!(string("x"), f(0, What::ExpectedString));
    }

    #[test]
    fn numbers_follow_the_json_grammar() {
        fn n(s: &str) -> Result<(&str, bool), Fail> {
            Cursor::new(s).number()
        }
        assert_eq!(n("0"), Ok(("0", true)));
        assert_eq!(n("-12,"), Ok(("-12", true)));
        assert_eq!(n("1.5e-3]"), Ok(("1.5e-3", false)));
        assert_eq!(n("1E+2"), Ok(("1E+2", false)));
        assert_eq!(n("01"), Ok(("0", true)));
        for bad in ["-", ".5", "1.", "1e", "1e+", "+1", "Inf", ""] {
            assert_eq!(n(bad).map_err(|f| f.what), Err(What::BadNumber), "{bad:?}");
        }
    }

    #[test]
    fn skips_any_value() {
        let src = r#"{"a":[1,{"b":null},true,false,"x",-2.5e1,[]],"c":{}} tail"#;
        let mut c = Cursor::new(src);
        assert_eq!(c.skip_value(0), Ok(()));
        assert_eq!(&src[c.pos..], " tail");
        let deep = "[".repeat(1000);
        assert_eq!(
            Cursor::new(&deep).skip_value(0).map_err(|f| f.what),
            Err(What::TooDeep)
        );
        assert_eq!(
            Cursor::new("nul").skip_value(0).map_err(|f| f.what),
            Err(What::ExpectedValue)
        );
        assert_eq!(
            Cursor::new("[1 2]").skip_value(0).map_err(|f| f.what),
            Err(What::ExpectedCommaOrArrayEnd)
        );
        assert_eq!(
            Cursor::new("{1:2}").skip_value(0).map_err(|f| f.what),
            Err(What::ExpectedKey)
        );
    }
}
