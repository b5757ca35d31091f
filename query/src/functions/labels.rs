//! `label_replace`, `label_join` and the label set `absent` /
//! `absent_over_time` derive from their argument's matchers.

use nines_engine::index::{MatchOp, Matcher};
use nines_engine::{is_valid_label_name, Label, Labels, METRIC_NAME};
use regex::{Captures, Regex};

/// A compiled `label_replace(v, dst, replacement, src, regex)`.
#[derive(Clone, Debug)]
pub struct LabelReplace {
    dst: String,
    replacement: String,
    src: String,
    re: Regex,
}

impl LabelReplace {
    /// Compiles the anchored regex and checks the destination name, with
    /// Prometheus's messages.
    pub fn new(dst: &str, replacement: &str, src: &str, regex: &str) -> Result<Self, String> {
        let re = Regex::new(&format!("^(?:{regex})$"))
            .map_err(|_| format!("invalid regular expression in label_replace(): {regex}"))?;
        if !is_valid_label_name(dst) {
            return Err(format!(
                "invalid destination label name in label_replace(): {dst}"
            ));
        }
        Ok(LabelReplace {
            dst: dst.to_string(),
            replacement: replacement.to_string(),
            src: src.to_string(),
            re,
        })
    }

    /// The new label set; unchanged when the source value does not match.
    pub fn apply(&self, labels: &Labels) -> Labels {
        let src = labels.get(&self.src).unwrap_or("");
        let Some(caps) = self.re.captures(src) else {
            return labels.clone();
        };
        let mut value = String::new();
        expand(&self.replacement, &self.re, &caps, &mut value);
        let mut out = labels.clone();
        out.set(&self.dst, "");
        out.set(&self.dst, &value);
        out
    }
}

/// Go's `Regexp.Expand`: `$1`, `$name` (the longest run of letters, digits
/// and `_`), `${name}`, `$$` for a dollar; a malformed reference is kept as
/// text; a missing group expands to nothing.
fn expand(template: &str, re: &Regex, caps: &Captures<'_>, out: &mut String) {
    let mut rest = template;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        rest = &rest[pos + 1..];
        if let Some(after) = rest.strip_prefix('$') {
            out.push('$');
            rest = after;
            continue;
        }
        let Some((name, after)) = reference(rest) else {
            out.push('$');
            continue;
        };
        rest = after;
        match group_number(name) {
            Some(n) => {
                if let Some(m) = caps.get(n) {
                    out.push_str(m.as_str());
                }
            }
            None => {
                let idx = re
                    .capture_names()
                    .enumerate()
                    .find(|(i, n)| *n == Some(name) && caps.get(*i).is_some())
                    .map(|(i, _)| i);
                if let Some(m) = idx.and_then(|i| caps.get(i)) {
                    out.push_str(m.as_str());
                }
            }
        }
    }
    out.push_str(rest);
}

/// The name after a `$` and the text after the reference.
fn reference(s: &str) -> Option<(&str, &str)> {
    let (brace, body) = match s.strip_prefix('{') {
        Some(b) => (true, b),
        None => (false, s),
    };
    let end = body
        .char_indices()
        .find(|&(_, c)| !(c.is_alphabetic() || c.is_numeric() || c == '_'))
        .map_or(body.len(), |(i, _)| i);
    if end == 0 {
        return None;
    }
    let name = &body[..end];
    let mut after = &body[end..];
    if brace {
        after = after.strip_prefix('}')?;
    }
    Some((name, after))
}

/// A reference made only of ASCII digits, below 10^8, without a leading
/// zero, names a group by number.
fn group_number(name: &str) -> Option<usize> {
    if !name.bytes().all(|b| b.is_ascii_digit()) || name.len() > 8 {
        return None;
    }
    if name.len() > 1 && name.starts_with('0') {
        return None;
    }
    name.parse().ok()
}

/// Checks `label_join`'s names, sources first as Prometheus does.
pub fn check_label_join(dst: &str, srcs: &[&str]) -> Result<(), String> {
    for src in srcs {
        if !is_valid_label_name(src) {
            return Err(format!("invalid source label name in label_join(): {src}"));
        }
    }
    if !is_valid_label_name(dst) {
        return Err(format!(
            "invalid destination label name in label_join(): {dst}"
        ));
    }
    Ok(())
}

/// `label_join(v, dst, sep, src...)`: `dst` set to the source values
/// joined by `sep` (missing sources are empty), removed when that is empty.
pub fn label_join(labels: &Labels, dst: &str, sep: &str, srcs: &[&str]) -> Labels {
    let joined = srcs
        .iter()
        .map(|s| labels.get(s).unwrap_or(""))
        .collect::<Vec<_>>()
        .join(sep);
    let mut out = labels.clone();
    out.set(dst, &joined);
    out
}

/// The labels of `absent(sel)`: each `name="value"` matcher (not the metric
/// name) whose name no other matcher uses before it; a name matched twice,
/// or also by another operator, is dropped.
pub fn absent_labels(matchers: &[Matcher]) -> Labels {
    let mut out: Vec<Label> = Vec::new();
    let mut has: Vec<&str> = Vec::new();
    for m in matchers {
        if m.name == METRIC_NAME {
            continue;
        }
        if m.op == MatchOp::Equal && !has.contains(&m.name.as_str()) {
            out.retain(|l| l.name != m.name);
            out.push(Label::new(m.name.clone(), m.value.clone()));
            has.push(&m.name);
        } else {
            out.retain(|l| l.name != m.name);
        }
    }
    Labels::new(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(pairs: &[(&str, &str)]) -> Labels {
        Labels::from_pairs(pairs)
    }

    #[test]
    fn replace_with_groups_and_names() {
        let r = LabelReplace::new("dst", "$1-${name}x", "src", "(a+)(?P<name>b+)").unwrap();
        let got = r.apply(&l(&[("__name__", "m"), ("src", "aabbb")]));
        assert_eq!(
            got,
            l(&[("__name__", "m"), ("src", "aabbb"), ("dst", "aa-bbbx")])
        );
        // anchored: a partial match does not count
        assert_eq!(r.apply(&l(&[("src", "aabbbc")])), l(&[("src", "aabbbc")]));
    }

    #[test]
    fn expansion_edge_cases_follow_go() {
        let check = |repl: &str, want: &str| {
            let r = LabelReplace::new("d", repl, "s", "(?P<x>a)(b)").unwrap();
            let got = r.apply(&l(&[("s", "ab")]));
            assert_eq!(got.get("d").unwrap_or(""), want, "{repl}");
        };
        check("$1", "a");
        check("$2$1", "ba");
        check("$1x", ""); // the group named "1x" does not exist
        check("${1}x", "ax");
        check("$x", "a");
        check("$$1", "$1");
        check("$", "$");
        check("a$-b", "a$-b");
        check("${x", "${x");
        check("$3", "");
        check("$01", "");
    }

    #[test]
    fn empty_result_removes_the_destination() {
        let r = LabelReplace::new("dst", "$1", "src", "(.*)").unwrap();
        assert_eq!(
            r.apply(&l(&[("dst", "old"), ("src", "")])),
            l(&[("src", "")])
        );
        // the metric name can be the destination
        let r = LabelReplace::new("__name__", "new", "src", ".*").unwrap();
        assert_eq!(
            r.apply(&l(&[("__name__", "old")])),
            l(&[("__name__", "new")])
        );
    }

    #[test]
    fn replace_errors() {
        assert_eq!(
            LabelReplace::new("d", "", "s", "(").unwrap_err(),
            "invalid regular expression in label_replace(): ("
        );
        assert_eq!(
            LabelReplace::new("1d", "", "s", "a").unwrap_err(),
            "invalid destination label name in label_replace(): 1d"
        );
    }

    #[test]
    fn join() {
        let base = l(&[("a", "x"), ("b", "y")]);
        assert_eq!(
            label_join(&base, "c", "-", &["a", "missing", "b"]),
            l(&[("a", "x"), ("b", "y"), ("c", "x--y")])
        );
        assert_eq!(label_join(&base, "a", ",", &["none"]), l(&[("b", "y")]));
        assert_eq!(
            check_label_join("ok", &["b-d"]).unwrap_err(),
            "invalid source label name in label_join(): b-d"
        );
        assert_eq!(
            check_label_join("", &["a"]).unwrap_err(),
            "invalid destination label name in label_join(): "
        );
    }

    #[test]
    fn absent_label_derivation() {
        let m = |op, n: &str, v: &str| Matcher::new(op, n, v).unwrap();
        let got = absent_labels(&[
            m(MatchOp::Equal, "__name__", "x"),
            m(MatchOp::Equal, "job", "a"),
            m(MatchOp::Equal, "job", "b"),
            m(MatchOp::Equal, "foo", "bar"),
            m(MatchOp::RegexMatch, "env", "p.*"),
            m(MatchOp::Equal, "inst", ""),
        ]);
        assert_eq!(got, l(&[("foo", "bar")]));
        let got = absent_labels(&[m(MatchOp::NotEqual, "a", "1"), m(MatchOp::Equal, "a", "2")]);
        assert_eq!(got, l(&[("a", "2")]));
    }
}
