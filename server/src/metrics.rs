//! The server's own metrics, rendered at `/metrics` in the Prometheus text
//! exposition format. Counters are atomics bumped on the request path; the
//! engine's counters and gauges are read when `/metrics` is scraped.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use nines_engine::wal::FSYNC_BUCKET_BOUNDS_US;
use nines_engine::Engine;
use parking_lot::Mutex;

/// A latency histogram with fixed bucket bounds in seconds.
pub struct Histogram {
    bounds: &'static [f64],
    counts: Vec<AtomicU64>,
    sum_micros: AtomicU64,
}

/// Bounds for query latency: 1 ms .. 60 s.
pub const QUERY_BOUNDS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

impl Histogram {
    pub fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_micros: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let i = self
            .bounds
            .iter()
            .position(|&b| secs <= b)
            .unwrap_or(self.bounds.len());
        self.counts[i].fetch_add(1, Relaxed);
        self.sum_micros
            .fetch_add(u64::try_from(d.as_micros()).unwrap_or(u64::MAX), Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        let mut cum = 0;
        for (i, b) in self.bounds.iter().enumerate() {
            cum += self.counts[i].load(Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{b}\"}} {cum}");
        }
        cum += self.counts[self.bounds.len()].load(Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {cum}");
        let brace = |s: &str| {
            if s.is_empty() {
                String::new()
            } else {
                format!("{{{s}}}")
            }
        };
        let _ = writeln!(
            out,
            "{name}_sum{} {}",
            brace(labels),
            self.sum_micros.load(Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "{name}_count{} {cum}", brace(labels));
    }
}

/// Everything the server counts itself.
pub struct Metrics {
    /// Write requests by protocol and outcome (`ok`, `rejected`, `error`,
    /// `overloaded`, `bad_request`).
    write_requests: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    /// Samples accepted per protocol.
    pub samples_grpc: AtomicU64,
    pub samples_remote_write: AtomicU64,
    /// Query latency per endpoint.
    queries: Mutex<BTreeMap<&'static str, std::sync::Arc<Histogram>>>,
    /// Query failures by error type.
    query_errors: Mutex<BTreeMap<&'static str, u64>>,
    /// Refused requests: `auth_failure` (no or bad token) or
    /// `permission_denied` (wrong role or tenant).
    auth_refusals: Mutex<BTreeMap<&'static str, u64>>,
    /// The integrity check of stored files (at start-up and on request):
    /// files and bytes checked, problems found, when it last finished
    /// (unix seconds; 0: not yet).
    pub verify_files: AtomicU64,
    pub verify_bytes: AtomicU64,
    pub verify_problems: AtomicU64,
    pub verify_finished_s: AtomicU64,
    /// The last background warm-up of the report sums (`crate::warmup`).
    pub report_warm_ms: AtomicU64,
    pub report_warm_finished_s: AtomicU64,
    pub inflight_bytes_limit: u64,
    pub inflight_bytes: AtomicU64,
    /// Open write streams (`WriteStream`, `WriteSession`) and the series
    /// numbered on them (`crate::stream_refs`).
    pub write_streams: std::sync::Arc<crate::stream_refs::StreamGauges>,
}

impl Metrics {
    pub fn new(inflight_bytes_limit: u64) -> Metrics {
        Metrics {
            write_requests: Mutex::default(),
            samples_grpc: AtomicU64::new(0),
            samples_remote_write: AtomicU64::new(0),
            queries: Mutex::default(),
            query_errors: Mutex::default(),
            auth_refusals: Mutex::default(),
            verify_files: AtomicU64::new(0),
            verify_bytes: AtomicU64::new(0),
            verify_problems: AtomicU64::new(0),
            verify_finished_s: AtomicU64::new(0),
            report_warm_ms: AtomicU64::new(0),
            report_warm_finished_s: AtomicU64::new(0),
            inflight_bytes_limit,
            inflight_bytes: AtomicU64::new(0),
            write_streams: Default::default(),
        }
    }

    pub fn write_request(&self, protocol: &'static str, outcome: &'static str) {
        *self
            .write_requests
            .lock()
            .entry((protocol, outcome))
            .or_default() += 1;
    }

    pub fn query(&self, endpoint: &'static str, d: Duration) {
        let h = std::sync::Arc::clone(
            self.queries
                .lock()
                .entry(endpoint)
                .or_insert_with(|| std::sync::Arc::new(Histogram::new(QUERY_BOUNDS))),
        );
        h.observe(d);
    }

    pub fn auth_failure(&self, kind: &'static str) {
        *self.auth_refusals.lock().entry(kind).or_default() += 1;
    }

    pub fn query_error(&self, error_type: &'static str) {
        *self.query_errors.lock().entry(error_type).or_default() += 1;
    }

    /// The exposition text.
    pub fn render(
        &self,
        engine: &Engine,
        cache: &crate::series_cache::SeriesCache,
        range: nines_query::range_cache::RangeCacheStats,
    ) -> String {
        let mut o = String::with_capacity(8 << 10);
        let c = engine.counters();
        counter(
            &mut o,
            "nines_samples_appended_total",
            "Samples stored.",
            c.samples_appended.load(Relaxed),
        );
        counter(
            &mut o,
            "nines_samples_duplicate_total",
            "Samples identical to stored ones (retries), not stored again.",
            c.samples_duplicate.load(Relaxed),
        );
        counter(
            &mut o,
            "nines_samples_rejected_total",
            "Samples refused (see the write responses for why).",
            c.samples_rejected.load(Relaxed),
        );
        header(
            &mut o,
            "nines_samples_received_total",
            "Samples accepted per ingest protocol.",
            "counter",
        );
        let _ = writeln!(
            o,
            "nines_samples_received_total{{protocol=\"grpc\"}} {}",
            self.samples_grpc.load(Relaxed)
        );
        let _ = writeln!(
            o,
            "nines_samples_received_total{{protocol=\"remote_write\"}} {}",
            self.samples_remote_write.load(Relaxed)
        );
        header(
            &mut o,
            "nines_write_requests_total",
            "Write requests by protocol and outcome.",
            "counter",
        );
        for ((p, r), n) in self.write_requests.lock().iter() {
            let _ = writeln!(
                o,
                "nines_write_requests_total{{protocol=\"{p}\",outcome=\"{r}\"}} {n}"
            );
        }
        gauge(
            &mut o,
            "nines_inflight_request_bytes",
            "Memory reserved by write requests being decoded and stored.",
            self.inflight_bytes.load(Relaxed) as f64,
        );
        gauge(
            &mut o,
            "nines_inflight_request_bytes_limit",
            "The in-flight write memory budget.",
            self.inflight_bytes_limit as f64,
        );

        let w = engine.wal().stats();
        header(
            &mut o,
            "nines_wal_fsync_duration_seconds",
            "WAL fdatasync latency.",
            "histogram",
        );
        let mut cum = 0;
        for (i, b) in FSYNC_BUCKET_BOUNDS_US.iter().enumerate() {
            cum += w.fsync_latency[i];
            let _ = writeln!(
                o,
                "nines_wal_fsync_duration_seconds_bucket{{le=\"{}\"}} {cum}",
                *b as f64 / 1e6
            );
        }
        cum += w.fsync_latency[FSYNC_BUCKET_BOUNDS_US.len()];
        let _ = writeln!(
            o,
            "nines_wal_fsync_duration_seconds_bucket{{le=\"+Inf\"}} {cum}"
        );
        let _ = writeln!(
            o,
            "nines_wal_fsync_duration_seconds_sum {}",
            w.fsync_micros_total as f64 / 1e6
        );
        let _ = writeln!(o, "nines_wal_fsync_duration_seconds_count {cum}");
        counter(
            &mut o,
            "nines_wal_bytes_written_total",
            "Bytes written to the WAL.",
            w.bytes_written,
        );
        gauge(
            &mut o,
            "nines_wal_failed",
            "1 when the WAL failed and writes are refused until restart.",
            f64::from(u8::from(w.failed)),
        );

        gauge(
            &mut o,
            "nines_head_series",
            "Series in the in-memory head.",
            engine.head().series_count() as f64,
        );
        let (hits, misses) = cache.counts();
        counter(
            &mut o,
            "nines_write_series_cache_hits_total",
            "Written series found in the series cache by their label bytes.",
            hits,
        );
        counter(
            &mut o,
            "nines_write_series_cache_misses_total",
            "Written series whose labels were decoded and looked up (new to the cache).",
            misses,
        );
        gauge(
            &mut o,
            "nines_write_series_cache_entries",
            "Label sets in the series cache (limits.write_series_cache).",
            cache.len() as f64,
        );
        gauge(
            &mut o,
            "nines_write_streams",
            "Open gRPC write streams (WriteStream, WriteSession).",
            self.write_streams.streams.load(Relaxed) as f64,
        );
        gauge(
            &mut o,
            "nines_write_stream_series",
            "Series numbered (series_ref) on open write streams, each held in its stream's table.",
            self.write_streams.series.load(Relaxed) as f64,
        );
        for (name, help, v) in [
            (
                "nines_query_range_cache_hits_total",
                "Range queries answered from the range-result cache alone.",
                range.hits,
            ),
            (
                "nines_query_range_cache_partial_hits_total",
                "Range queries that took their older steps from the cache and computed the rest.",
                range.partial_hits,
            ),
            (
                "nines_query_range_cache_misses_total",
                "Cacheable range queries computed in full.",
                range.misses,
            ),
            (
                "nines_query_range_cache_uncacheable_total",
                "Range queries the cache cannot hold (@, negative offset, SLO functions).",
                range.uncacheable,
            ),
        ] {
            counter(&mut o, name, help, v);
        }
        gauge(
            &mut o,
            "nines_query_range_cache_entries",
            "Queries held in the range-result cache.",
            range.entries as f64,
        );
        gauge(
            &mut o,
            "nines_query_range_cache_bytes",
            "Memory charged to the range-result cache (limits.query_range_cache_bytes).",
            range.bytes as f64,
        );
        let snap = engine.snapshot();
        let mut bytes: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        for f in snap.version().files() {
            let e = bytes
                .entry(nines_engine::manifest::resolution_dir(
                    f.entry.info.resolution_s,
                ))
                .or_default();
            e.0 += f.entry.info.bytes;
            e.1 += 1;
        }
        header(
            &mut o,
            "nines_storage_bytes",
            "Bytes of live segment files per resolution.",
            "gauge",
        );
        for (res, (b, _)) in &bytes {
            let _ = writeln!(o, "nines_storage_bytes{{resolution=\"{res}\"}} {b}");
        }
        header(
            &mut o,
            "nines_storage_segments",
            "Live segment files per resolution.",
            "gauge",
        );
        for (res, (_, n)) in &bytes {
            let _ = writeln!(o, "nines_storage_segments{{resolution=\"{res}\"}} {n}");
        }
        counter(
            &mut o,
            "nines_flushes_total",
            "Head flushes to segments.",
            c.flushes.load(Relaxed),
        );
        counter(
            &mut o,
            "nines_compactions_total",
            "Segment merges.",
            c.compactions.load(Relaxed),
        );
        counter(
            &mut o,
            "nines_rollup_files_total",
            "Rollup segments written.",
            c.rollup_files.load(Relaxed),
        );
        counter(
            &mut o,
            "nines_retention_deletions_total",
            "Segments deleted by retention.",
            c.retention_deletions.load(Relaxed),
        );
        counter(
            &mut o,
            "nines_maintenance_errors_total",
            "Failed background maintenance rounds.",
            c.maintenance_errors.load(Relaxed),
        );

        header(
            &mut o,
            "nines_query_duration_seconds",
            "Query latency per endpoint.",
            "histogram",
        );
        for (ep, h) in self.queries.lock().iter() {
            h.render(
                &mut o,
                "nines_query_duration_seconds",
                &format!("endpoint=\"{ep}\""),
            );
        }
        header(
            &mut o,
            "nines_query_errors_total",
            "Failed queries by error type.",
            "counter",
        );
        for (t, n) in self.query_errors.lock().iter() {
            let _ = writeln!(o, "nines_query_errors_total{{type=\"{t}\"}} {n}");
        }
        header(
            &mut o,
            "nines_auth_refusals_total",
            "Requests refused: auth_failure (missing or invalid token), permission_denied (role or tenant).",
            "counter",
        );
        for (t, n) in self.auth_refusals.lock().iter() {
            let _ = writeln!(o, "nines_auth_refusals_total{{reason=\"{t}\"}} {n}");
        }
        for (name, help, v) in [
            (
                "nines_verify_files_checked",
                "Stored files whose SHA-256 and CRCs the last integrity check read.",
                &self.verify_files,
            ),
            (
                "nines_verify_bytes_checked",
                "Bytes the last integrity check read.",
                &self.verify_bytes,
            ),
            (
                "nines_verify_problems",
                "Damaged or missing files and records the last integrity check found (nines verify names them).",
                &self.verify_problems,
            ),
            (
                "nines_verify_last_finished_timestamp_seconds",
                "When the last integrity check finished (0: still running or never ran).",
                &self.verify_finished_s,
            ),
        ] {
            header(&mut o, name, help, "gauge");
            let _ = writeln!(o, "{name} {}", v.load(Relaxed));
        }
        header(
            &mut o,
            "nines_report_warm_duration_seconds",
            "How long the last background warm-up of the report sums took ([reports] warm).",
            "gauge",
        );
        let _ = writeln!(
            o,
            "nines_report_warm_duration_seconds {}",
            self.report_warm_ms.load(Relaxed) as f64 / 1000.0
        );
        header(
            &mut o,
            "nines_report_warm_last_finished_timestamp_seconds",
            "When the last background warm-up of the report sums finished (0: never).",
            "gauge",
        );
        let _ = writeln!(
            o,
            "nines_report_warm_last_finished_timestamp_seconds {}",
            self.report_warm_finished_s.load(Relaxed)
        );
        o
    }
}

fn header(o: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn counter(o: &mut String, name: &str, help: &str, v: u64) {
    header(o, name, help, "counter");
    let _ = writeln!(o, "{name} {v}");
}

fn gauge(o: &mut String, name: &str, help: &str, v: f64) {
    header(o, name, help, "gauge");
    let _ = writeln!(o, "{name} {v}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_renders_cumulative_buckets() {
        let h = Histogram::new(&[0.01, 0.1]);
        h.observe(Duration::from_millis(5));
        h.observe(Duration::from_millis(50));
        h.observe(Duration::from_secs(1));
        let mut o = String::new();
        h.render(&mut o, "x", "a=\"b\"");
        assert!(o.contains("x_bucket{a=\"b\",le=\"0.01\"} 1"), "{o}");
        assert!(o.contains("x_bucket{a=\"b\",le=\"0.1\"} 2"), "{o}");
        assert!(o.contains("x_bucket{a=\"b\",le=\"+Inf\"} 3"), "{o}");
        assert!(o.contains("x_count{a=\"b\"} 3"), "{o}");
        assert!(o.contains("x_sum{a=\"b\"} 1.055"), "{o}");
    }
}
