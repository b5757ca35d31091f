//! Deterministic CSV and JSON for compliance reports, and their digest
//! (docs/reports.md, "Formats" and "Digest").
//!
//! The same rows give the same bytes: columns and keys in a fixed order,
//! numbers in Rust's shortest round-trip form (`0.995`, `1234`, never an
//! exponent, never NaN: a value that is absent is empty in CSV and `null`
//! in JSON), times in RFC 3339 with the period's own UTC offset, no clock.
//!
//! The output is the body followed by one trailer line. The trailer holds
//! `sha256 = SHA-256(body || manifest_head)`, where `manifest_head` is the
//! 64 lowercase hex digits of the manifest record that sealed the report's
//! data, or empty while it is not sealed.

use jiff::tz::TimeZone;
use nines_engine::chainlog::{hex, Hash};
use nines_engine::TimestampMs;
use sha2::{Digest, Sha256};

use super::{ReportRange, Row};
use crate::calendar;
use crate::error::SloError;

/// Written in the JSON header and the trailer; bumped when a column or
/// key changes.
pub const FORMAT: &str = "nines-report/1";

/// The CSV columns, in order.
pub const CSV_COLUMNS: [&str; 19] = [
    "slo",
    "service",
    "period_start",
    "period_end",
    "partial",
    "versions",
    "objectives",
    "good",
    "total",
    "bad",
    "allowed_bad",
    "attainment",
    "compliant",
    "budget_remaining",
    "budget_remaining_events",
    "exclusions",
    "excluded_minutes",
    "breaches",
    "deploys",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Csv,
    Json,
}

impl Format {
    pub fn parse(s: &str) -> Option<Format> {
        match s.trim() {
            "csv" => Some(Format::Csv),
            "json" => Some(Format::Json),
            _ => None,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Json => "application/json",
        }
    }
}

/// The manifest record that sealed every period of the report (see
/// `nines_engine::manifest::sealing_record`); `None` while some period is
/// partial.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Anchor(pub Option<(u64, Hash)>);

impl Anchor {
    pub fn record(&self) -> u64 {
        self.0.map_or(0, |(seq, _)| seq)
    }

    pub fn head_hex(&self) -> String {
        self.0.map_or_else(String::new, |(_, h)| hex(&h))
    }
}

/// Renders a report piece by piece (so a server can stream it) and hashes
/// what it renders. Call `header`, then `row` for each row, then `finish`.
pub struct Renderer {
    format: Format,
    hasher: Sha256,
    rows: usize,
    zone: Option<(String, TimeZone)>,
}

impl Renderer {
    pub fn new(format: Format) -> Renderer {
        Renderer {
            format,
            hasher: Sha256::new(),
            rows: 0,
            zone: None,
        }
    }

    fn emit(&mut self, s: String) -> Vec<u8> {
        self.hasher.update(s.as_bytes());
        s.into_bytes()
    }

    /// The CSV header row, or the JSON document's opening with the request
    /// (`slo`: the one SLO asked for, `None` for all).
    pub fn header(&mut self, range: &ReportRange, slo: Option<&str>) -> Vec<u8> {
        let s = match self.format {
            Format::Csv => format!("{}\r\n", CSV_COLUMNS.join(",")),
            Format::Json => format!(
                "{{\"format\":{},\"period\":{},\"from\":\"{}\",\"to\":\"{}\",\"slo\":{},\"rows\":[\n",
                json_str(FORMAT),
                json_str(range.unit.as_str()),
                range.from,
                range.to,
                slo.map_or_else(|| "null".to_string(), json_str),
            ),
        };
        self.emit(s)
    }

    fn time(&mut self, ms: TimestampMs, tz: &str) -> Result<String, SloError> {
        if self.zone.as_ref().is_none_or(|(n, _)| n != tz) {
            self.zone = Some((tz.to_string(), calendar::zone(tz)?));
        }
        let zone = self
            .zone
            .as_ref()
            .map(|(_, z)| z.clone())
            .unwrap_or(TimeZone::UTC);
        let z = jiff::Timestamp::from_millisecond(ms)
            .map_err(|e| SloError::Time(e.to_string()))?
            .to_zoned(zone);
        Ok(z.strftime("%Y-%m-%dT%H:%M:%S%.f%:z").to_string())
    }

    pub fn row(&mut self, r: &Row) -> Result<Vec<u8>, SloError> {
        let tz = r.tz.as_str();
        let start = self.time(r.period.start, tz)?;
        let end = self.time(r.period.end, tz)?;
        let mut breaches = Vec::new();
        for &(a, b) in &r.breaches {
            breaches.push((self.time(a, tz)?, self.time(b, tz)?));
        }
        let mut deploy_times = Vec::new();
        for d in &r.deploys {
            deploy_times.push(self.time(d.at, tz)?);
        }
        let t = &r.totals;
        let s = match self.format {
            Format::Csv => {
                let join = |v: Vec<String>| v.join(";");
                let cells = [
                    r.slo.clone(),
                    r.service.clone(),
                    start,
                    end,
                    yes_no(r.partial).into(),
                    join(r.versions.iter().map(u32::to_string).collect()),
                    join(r.objectives.iter().map(|x| num(*x)).collect()),
                    num(t.good),
                    num(t.total),
                    num(t.bad()),
                    num(t.allowed_bad),
                    opt(r.compliance.map(|c| c.attainment)),
                    r.compliance
                        .map_or(String::new(), |c| yes_no(c.compliant).into()),
                    opt(r.budget_remaining),
                    opt(r.budget_remaining_events),
                    join(
                        r.exclusions
                            .iter()
                            .map(|e| format!("{}={}", item(&e.id), num(e.minutes)))
                            .collect(),
                    ),
                    num(r.excluded_minutes),
                    join(breaches.iter().map(|(a, b)| format!("{a}/{b}")).collect()),
                    join(
                        r.deploys
                            .iter()
                            .zip(&deploy_times)
                            .map(|(d, at)| {
                                format!(
                                    "{at}|{}|{}|{}",
                                    item(&d.service),
                                    item(&d.version),
                                    item(d.id.as_deref().unwrap_or(""))
                                )
                            })
                            .collect(),
                    ),
                ];
                let line: Vec<String> = cells.iter().map(|c| csv_field(c)).collect();
                format!("{}\r\n", line.join(","))
            }
            Format::Json => {
                let list = |v: Vec<String>| format!("[{}]", v.join(","));
                let opt_str = |v: Option<&str>| v.map_or_else(|| "null".to_string(), json_str);
                let obj = format!(
                    concat!(
                        "{{\"slo\":{},\"service\":{},\"period_start\":\"{}\",\"period_end\":\"{}\",",
                        "\"partial\":{},\"versions\":{},\"objectives\":{},",
                        "\"good\":{},\"total\":{},\"bad\":{},\"allowed_bad\":{},",
                        "\"attainment\":{},\"compliant\":{},",
                        "\"budget_remaining\":{},\"budget_remaining_events\":{},",
                        "\"exclusions\":{},\"excluded_minutes\":{},\"breaches\":{},\"deploys\":{}}}"
                    ),
                    json_str(&r.slo),
                    json_str(&r.service),
                    start,
                    end,
                    r.partial,
                    list(r.versions.iter().map(u32::to_string).collect()),
                    list(r.objectives.iter().map(|x| json_num(Some(*x))).collect()),
                    json_num(Some(t.good)),
                    json_num(Some(t.total)),
                    json_num(Some(t.bad())),
                    json_num(Some(t.allowed_bad)),
                    json_num(r.compliance.map(|c| c.attainment)),
                    r.compliance
                        .map_or("null".to_string(), |c| c.compliant.to_string()),
                    json_num(r.budget_remaining),
                    json_num(r.budget_remaining_events),
                    list(
                        r.exclusions
                            .iter()
                            .map(|e| format!(
                                "{{\"id\":{},\"minutes\":{}}}",
                                json_str(&e.id),
                                json_num(Some(e.minutes))
                            ))
                            .collect()
                    ),
                    json_num(Some(r.excluded_minutes)),
                    list(
                        breaches
                            .iter()
                            .map(|(a, b)| format!("{{\"start\":\"{a}\",\"end\":\"{b}\"}}"))
                            .collect()
                    ),
                    list(
                        r.deploys
                            .iter()
                            .zip(&deploy_times)
                            .map(|(d, at)| format!(
                                "{{\"time\":\"{at}\",\"service\":{},\"version\":{},\"id\":{},\"env\":{},\"commit\":{}}}",
                                json_str(&d.service),
                                json_str(&d.version),
                                opt_str(d.id.as_deref()),
                                opt_str(d.env.as_deref()),
                                opt_str(d.commit.as_deref()),
                            ))
                            .collect()
                    ),
                );
                if self.rows == 0 {
                    obj
                } else {
                    format!(",\n{obj}")
                }
            }
        };
        self.rows += 1;
        Ok(self.emit(s))
    }

    /// The end of the body and the trailer line.
    pub fn finish(mut self, anchor: &Anchor) -> Vec<u8> {
        let mut out = match self.format {
            Format::Csv => Vec::new(),
            Format::Json => self.emit("\n]}\n".to_string()),
        };
        let head = anchor.head_hex();
        self.hasher.update(head.as_bytes());
        let digest = hex(&self.hasher.finalize());
        let trailer = match self.format {
            Format::Csv => format!(
                "# {FORMAT} sha256={digest} manifest_record={} manifest_head={head}\r\n",
                anchor.record()
            ),
            Format::Json => format!(
                "{{\"sha256\":\"{digest}\",\"manifest_record\":{},\"manifest_head\":\"{head}\"}}\n",
                anchor.record()
            ),
        };
        out.extend_from_slice(trailer.as_bytes());
        out
    }
}

/// Renders whole rows at once: header, rows, trailer.
pub fn render(
    format: Format,
    range: &ReportRange,
    slo: Option<&str>,
    rows: &[Row],
    anchor: &Anchor,
) -> Result<Vec<u8>, SloError> {
    let mut r = Renderer::new(format);
    let mut out = r.header(range, slo);
    for row in rows {
        out.extend(r.row(row)?);
    }
    out.extend(r.finish(anchor));
    Ok(out)
}

/// Splits an output into its body and its trailer (the last line).
pub fn split_trailer(out: &[u8]) -> (&[u8], &[u8]) {
    let trimmed = out.strip_suffix(b"\n").unwrap_or(out);
    match trimmed.iter().rposition(|&b| b == b'\n') {
        Some(i) => out.split_at(i + 1),
        None => (&out[..0], out),
    }
}

/// Recomputes the digest of an output as an auditor would: SHA-256 of the
/// body followed by the trailer's `manifest_head`.
pub fn recompute_digest(out: &[u8], manifest_head_hex: &str) -> String {
    let (body, _) = split_trailer(out);
    let mut h = Sha256::new();
    h.update(body);
    h.update(manifest_head_hex.as_bytes());
    hex(&h.finalize())
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// Shortest round-trip decimal; `-0` as `0`; non-finite (never expected)
/// as empty.
fn num(x: f64) -> String {
    if !x.is_finite() {
        return String::new();
    }
    if x == 0.0 {
        return "0".into();
    }
    format!("{x}")
}

fn opt(x: Option<f64>) -> String {
    x.map_or_else(String::new, num)
}

fn json_num(x: Option<f64>) -> String {
    match x.filter(|v| v.is_finite()) {
        Some(v) => num(v),
        None => "null".into(),
    }
}

fn json_str(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// A value inside a CSV list cell: `%`, `;`, `|`, `=`, `/` and control
/// characters percent-encoded, so the separators stay unambiguous.
fn item(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | ';' | '|' | '=' | '/') || c.is_control() {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// RFC 4180: quoted when it holds a comma, a quote, CR or LF (quotes
/// doubled), or begins with `#` (so no row can look like the trailer).
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\r', '\n']) || s.starts_with('#') {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_and_numbers() {
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("#x"), "\"#x\"");
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(item("v1;2|x=y/z%"), "v1%3B2%7Cx%3Dy%2Fz%25");
        assert_eq!(num(0.995), "0.995");
        assert_eq!(num(1234.0), "1234");
        assert_eq!(num(-0.0), "0");
        assert_eq!(num(1e-7), "0.0000001");
        assert_eq!(json_num(None), "null");
        assert_eq!(json_num(Some(f64::NAN)), "null");
        assert_eq!(json_str("a\"b"), "\"a\\\"b\"");
    }

    #[test]
    fn trailer_is_the_last_line() {
        let out = b"a,b\r\n1,2\r\n# t\r\n";
        assert_eq!(
            split_trailer(out),
            (&b"a,b\r\n1,2\r\n"[..], &b"# t\r\n"[..])
        );
        let empty_anchor = Anchor::default();
        let range = ReportRange::parse("month", "2025-01", "2025-02").unwrap();
        let out = render(Format::Json, &range, None, &[], &empty_anchor).unwrap();
        let text = String::from_utf8(out.clone()).unwrap();
        let (body, trailer) = split_trailer(&out);
        let doc: serde_json::Value = serde_json::from_slice(body).unwrap();
        assert_eq!(doc["rows"], serde_json::json!([]));
        let t: serde_json::Value = serde_json::from_slice(trailer).unwrap();
        assert_eq!(t["sha256"], recompute_digest(&out, ""), "{text}");
        assert_eq!(t["manifest_record"], 0);
    }
}
