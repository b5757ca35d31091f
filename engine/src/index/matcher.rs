//! Label matchers with Prometheus's semantics: a missing label has the value
//! `""`, and regular expressions are anchored at both ends.

use std::collections::HashMap;
use std::fmt;
use std::sync::LazyLock;

use parking_lot::Mutex;

use regex::Regex;

use crate::types::{escape_label_value, Labels};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MatchOp {
    Equal,
    NotEqual,
    RegexMatch,
    RegexNoMatch,
}

impl MatchOp {
    pub fn as_str(self) -> &'static str {
        match self {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::RegexMatch => "=~",
            MatchOp::RegexNoMatch => "!~",
        }
    }
}

/// `name op "value"`.
#[derive(Clone, Debug)]
pub struct Matcher {
    pub name: String,
    pub op: MatchOp,
    pub value: String,
    re: Option<RegexMatcher>,
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Matcher) -> bool {
        self.name == other.name && self.op == other.op && self.value == other.value
    }
}

impl Eq for Matcher {}

impl std::hash::Hash for Matcher {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
        self.op.hash(state);
        self.value.hash(state);
    }
}

/// A compiled, anchored regex with fast paths for the shapes dashboards send
/// most (`a|b|c` literal alternations and `.*`).
#[derive(Clone, Debug)]
enum RegexMatcher {
    Any,
    Literals(Vec<String>),
    Regex(Regex),
}

impl RegexMatcher {
    fn new(pattern: &str) -> Result<RegexMatcher, regex::Error> {
        if pattern == ".*" {
            return Ok(RegexMatcher::Any);
        }
        if let Some(lits) = literal_alternation(pattern) {
            return Ok(RegexMatcher::Literals(lits));
        }
        Ok(RegexMatcher::Regex(compile_anchored(pattern)?))
    }

    fn is_match(&self, v: &str) -> bool {
        match self {
            RegexMatcher::Any => !v.contains('\n'),
            RegexMatcher::Literals(l) => l.iter().any(|x| x == v),
            RegexMatcher::Regex(r) => r.is_match(v),
        }
    }
}

/// Compiled regexes by pattern. Dashboards and rules send the same selectors
/// over and over; compiling `5..` costs about 20 µs, a lookup well under 1.
/// Bounded: patterns up to [`CACHED_PATTERN_MAX`] bytes, and the cache is
/// emptied when it holds [`REGEX_CACHE_CAPACITY`] of them.
static REGEX_CACHE: LazyLock<Mutex<HashMap<String, Regex>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));
const REGEX_CACHE_CAPACITY: usize = 512;
const CACHED_PATTERN_MAX: usize = 1024;

/// `^(?:pattern)$`, compiled once per distinct pattern while it is cached
/// (a clone shares the compiled program).
fn compile_anchored(pattern: &str) -> Result<Regex, regex::Error> {
    let cacheable = pattern.len() <= CACHED_PATTERN_MAX;
    if cacheable {
        if let Some(r) = REGEX_CACHE.lock().get(pattern) {
            return Ok(r.clone());
        }
    }
    let r = Regex::new(&format!("^(?:{pattern})$"))?;
    if cacheable {
        let mut cache = REGEX_CACHE.lock();
        if cache.len() >= REGEX_CACHE_CAPACITY {
            cache.clear();
        }
        cache.insert(pattern.to_string(), r.clone());
    }
    Ok(r)
}

/// `foo|bar|baz` with no regex metacharacters: matched by string comparison.
fn literal_alternation(p: &str) -> Option<Vec<String>> {
    const META: &[char] = &[
        '\\', '.', '+', '*', '?', '(', ')', '[', ']', '{', '}', '^', '$',
    ];
    if p.contains(META) {
        return None;
    }
    Some(p.split('|').map(str::to_string).collect())
}

impl Matcher {
    /// Builds a matcher; a regex that does not compile is an error naming it.
    pub fn new(
        op: MatchOp,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> Result<Matcher, MatcherError> {
        let name = name.into();
        let value = value.into();
        let re = match op {
            MatchOp::RegexMatch | MatchOp::RegexNoMatch => Some(
                RegexMatcher::new(&value).map_err(|e| MatcherError::BadRegex {
                    pattern: value.clone(),
                    message: e.to_string(),
                })?,
            ),
            _ => None,
        };
        Ok(Matcher {
            name,
            op,
            value,
            re,
        })
    }

    pub fn equal(name: impl Into<String>, value: impl Into<String>) -> Matcher {
        Matcher {
            name: name.into(),
            op: MatchOp::Equal,
            value: value.into(),
            re: None,
        }
    }

    /// Whether a label value (`""` when the label is absent) matches.
    pub fn matches(&self, v: &str) -> bool {
        match (&self.op, &self.re) {
            (MatchOp::Equal, _) => v == self.value,
            (MatchOp::NotEqual, _) => v != self.value,
            (MatchOp::RegexMatch, Some(r)) => r.is_match(v),
            (MatchOp::RegexNoMatch, Some(r)) => !r.is_match(v),
            // `new` always compiles the regex for the regex ops.
            (_, None) => false,
        }
    }

    /// Whether the matcher matches series that lack the label.
    pub fn matches_empty(&self) -> bool {
        self.matches("")
    }

    pub fn matches_labels(&self, labels: &Labels) -> bool {
        self.matches(labels.get(&self.name).unwrap_or(""))
    }

    /// The exact values this matcher accepts, when it names them (`=` with a
    /// non-empty value, or a literal alternation): lets an index jump
    /// straight to their postings.
    pub fn exact_values(&self) -> Option<Vec<&str>> {
        match (&self.op, &self.re) {
            (MatchOp::Equal, _) if !self.value.is_empty() => Some(vec![self.value.as_str()]),
            (MatchOp::RegexMatch, Some(RegexMatcher::Literals(l))) => Some(
                l.iter()
                    .map(String::as_str)
                    .filter(|s| !s.is_empty())
                    .collect(),
            ),
            _ => None,
        }
    }

    /// Appends the matcher as it prints (`name="value"`, the value
    /// escaped) to `out`: for keys built from many matchers without a
    /// string per matcher.
    pub fn write_into(&self, out: &mut String) {
        out.push_str(&self.name);
        out.push_str(self.op.as_str());
        out.push('"');
        escape_label_value(&self.value, out);
        out.push('"');
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        self.write_into(&mut s);
        f.write_str(&s)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MatcherError {
    #[error("invalid regular expression {pattern:?}: {message}")]
    BadRegex { pattern: String, message: String },
}

/// True when every matcher accepts the label set.
pub fn matches_all(matchers: &[Matcher], labels: &Labels) -> bool {
    matchers.iter().all(|m| m.matches_labels(labels))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(op: MatchOp, n: &str, v: &str) -> Matcher {
        Matcher::new(op, n, v).unwrap()
    }

    #[test]
    fn regexes_are_anchored() {
        let r = m(MatchOp::RegexMatch, "job", "api");
        assert!(r.matches("api"));
        assert!(!r.matches("api-server"));
        let r = m(MatchOp::RegexMatch, "job", "api.*");
        assert!(r.matches("api-server"));
        assert!(!r.matches("the-api"));
        let r = m(MatchOp::RegexMatch, "job", "a|b");
        assert!(r.matches("a") && r.matches("b") && !r.matches("ab"));
        let r = m(MatchOp::RegexMatch, "code", "5..");
        assert!(r.matches("503") && !r.matches("5030") && !r.matches("200"));
    }

    #[test]
    fn absent_label_is_empty_string() {
        let l = Labels::from_pairs(&[("__name__", "up")]);
        assert!(m(MatchOp::Equal, "job", "").matches_labels(&l));
        assert!(!m(MatchOp::Equal, "job", "x").matches_labels(&l));
        assert!(m(MatchOp::NotEqual, "job", "x").matches_labels(&l));
        assert!(m(MatchOp::RegexMatch, "job", ".*").matches_labels(&l));
        assert!(!m(MatchOp::RegexMatch, "job", ".+").matches_labels(&l));
        assert!(m(MatchOp::RegexNoMatch, "job", ".+").matches_labels(&l));
    }

    #[test]
    fn compiled_regexes_are_cached_and_bounded() {
        let a = compile_anchored("cache-test-[0-9]+").unwrap();
        let b = compile_anchored("cache-test-[0-9]+").unwrap();
        assert_eq!(a.as_str(), b.as_str());
        assert!(b.is_match("cache-test-42") && !b.is_match("x cache-test-42"));
        assert!(REGEX_CACHE.lock().contains_key("cache-test-[0-9]+"));
        for i in 0..REGEX_CACHE_CAPACITY + 10 {
            compile_anchored(&format!("bound-{i}.")).unwrap();
        }
        assert!(REGEX_CACHE.lock().len() <= REGEX_CACHE_CAPACITY);
        let long = "x".repeat(CACHED_PATTERN_MAX) + ".";
        assert!(compile_anchored(&long).unwrap().is_match(&(long.clone())));
        assert!(!REGEX_CACHE.lock().contains_key(&long));
        assert!(compile_anchored("(").is_err());
        assert!(!REGEX_CACHE.lock().contains_key("("));
    }

    #[test]
    fn bad_regex_is_an_error_naming_it() {
        let e = Matcher::new(MatchOp::RegexMatch, "a", "(").unwrap_err();
        assert!(e.to_string().contains("\"(\""), "{e}");
    }

    #[test]
    fn exact_values_fast_path() {
        assert_eq!(m(MatchOp::Equal, "a", "x").exact_values(), Some(vec!["x"]));
        assert_eq!(
            m(MatchOp::RegexMatch, "a", "x|y").exact_values(),
            Some(vec!["x", "y"])
        );
        assert_eq!(m(MatchOp::RegexMatch, "a", "x.").exact_values(), None);
        assert_eq!(m(MatchOp::Equal, "a", "").exact_values(), None);
    }

    #[test]
    fn display_prints_the_matcher_back() {
        assert_eq!(
            m(MatchOp::RegexNoMatch, "path", "/a\"b").to_string(),
            r#"path!~"/a\"b""#
        );
    }
}
