//! Server configuration: a TOML file (`nines serve --config FILE`) whose
//! every key has a default that works on a laptop; command-line flags and
//! environment variables override it (resolved in the CLI).
//!
//! ```toml
//! data_dir = "./data"
//! http_listen = "127.0.0.1:9090"
//! grpc_listen = "127.0.0.1:9091"
//!
//! [storage]
//! sync = "always"            # always | never | "interval:100ms"
//! ooo_window = "1h"
//! raw_retention = "30d"
//!
//! [limits]
//! max_request_bytes = 33554432
//! max_series_per_request = 1000000
//! inflight_bytes = 268435456
//! query_concurrency = 8
//! query_timeout = "2m"
//! max_samples_per_query = 50000000
//! write_series_cache = 262144
//!
//! # Authentication (docs/security.md). No tokens: off, and then the server
//! # only listens on loopback unless `insecure = true`.
//! [[auth.tokens]]
//! name = "grafana"
//! role = "reader"            # reader | writer | admin
//! sha256 = "<64 hex digits>" # `nines token create` prints it
//! # tenant = "team-a"        # optional: only this tenant's series
//!
//! # TLS for both listeners (PEM files); client_ca_file makes client
//! # certificates required.
//! [tls]
//! cert_file = "server.crt"
//! key_file = "server.key"
//! # client_ca_file = "clients-ca.crt"
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// Everything `nines serve` needs.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where the data lives. `./data`: next to where the server was started.
    pub data_dir: PathBuf,
    /// Prometheus-compatible HTTP API, remote-write, /metrics. Loopback by
    /// default: nothing is exposed until an operator says so. Port 9090,
    /// Prometheus's, so Grafana's data source finds it where it expects.
    pub http_listen: SocketAddr,
    /// gRPC ingest and query. 9091.
    pub grpc_listen: SocketAddr,
    pub storage: StorageConfig,
    pub limits: Limits,
    pub alerting: AlertingConfig,
    pub reports: ReportsConfig,
    pub auth: crate::auth::AuthConfig,
    pub tls: TlsConfig,
    /// Listen beyond loopback without authentication (refused otherwise).
    pub insecure: bool,
}

/// `[tls]`: certificate and key (PEM) for HTTPS and gRPC over TLS.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    /// CA bundle whose client certificates are accepted; set: every client
    /// must present one.
    pub client_ca_file: Option<PathBuf>,
}

impl TlsConfig {
    pub fn enabled(&self) -> bool {
        self.cert_file.is_some() || self.key_file.is_some()
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("./data"),
            http_listen: SocketAddr::from(([127, 0, 0, 1], 9090)),
            grpc_listen: SocketAddr::from(([127, 0, 0, 1], 9091)),
            storage: StorageConfig::default(),
            limits: Limits::default(),
            alerting: AlertingConfig::default(),
            reports: ReportsConfig::default(),
            auth: crate::auth::AuthConfig::default(),
            tls: TlsConfig::default(),
            insecure: false,
        }
    }
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// `always` (fsync before acknowledging; the default: an acknowledged
    /// write survives a crash), `never`, or `interval:<duration>`.
    pub sync: String,
    /// How far behind a series' newest sample a late sample is accepted.
    pub ooo_window: String,
    /// How long raw samples are kept (`30d`), or `forever`.
    pub raw_retention: String,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            sync: "always".into(),
            ooo_window: "1h".into(),
            raw_retention: "30d".into(),
        }
    }
}

/// Limits that keep the server's memory bounded and its answers timely.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest request body (compressed, as received). 32 MiB: a
    /// remote-write batch is typically under 1 MiB. A gRPC write may
    /// decode to at most twice this (compact series are small on the wire).
    pub max_request_bytes: usize,
    /// Most series in one write request. 1 M.
    pub max_series_per_request: usize,
    /// Memory budget for requests being decoded and written at once, in
    /// bytes (decoded size is estimated from the body). 256 MiB; past it,
    /// writers get HTTP 429 / RESOURCE_EXHAUSTED and retry.
    pub inflight_bytes: usize,
    /// Queries evaluated at once; more wait for a slot up to their timeout.
    /// Default 8.
    pub query_concurrency: usize,
    /// Default query timeout (a request may ask for less). 2 m, as
    /// Prometheus.
    pub query_timeout: String,
    /// Samples one query may load. 50 M, as Prometheus.
    pub max_samples_per_query: u64,
    /// Label sets whose head series writes (gRPC, remote-write) remember
    /// by their wire bytes, so a series sent again skips decoding and looking up its
    /// labels (server/src/series_cache.rs). 262,144: about 50 MiB at most;
    /// set it near the number of series written at once, 0 turns it off.
    pub write_series_cache: usize,
    /// Memory for range-query results kept so that a refreshed dashboard
    /// computes only its new steps (nines_query::range_cache), in bytes.
    /// 64 MiB; 0 turns it off.
    pub query_range_cache_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_request_bytes: 32 << 20,
            max_series_per_request: 1_000_000,
            inflight_bytes: 256 << 20,
            query_concurrency: 8,
            query_timeout: "2m".into(),
            max_samples_per_query: 50_000_000,
            write_series_cache: 262_144,
            query_range_cache_bytes: 64 << 20,
        }
    }
}

/// A configuration that does not make sense.
/// Compliance reports (`[reports]`).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct ReportsConfig {
    /// Prepare the shared SLO sums for reports over all retained history
    /// in the background at start and after SLO or exclusion changes, so
    /// the first report is as fast as later ones (docs/reports.md).
    pub warm: bool,
}

impl Default for ReportsConfig {
    fn default() -> Self {
        ReportsConfig { warm: true }
    }
}

/// SLO burn-rate alerting (`[alerting]`).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AlertingConfig {
    /// Alertmanager base URL (`http://127.0.0.1:9093`); alerts go to its
    /// v2 API. None: alerts are only served at /api/v1/alerts.
    pub alertmanager_url: Option<String>,
    /// How often every SLO is evaluated.
    pub interval: String,
    /// Burn rules `SEVERITY:LONG/SHORT:FACTOR` or `...:PERCENT%` of the
    /// budget; empty: the SRE Workbook's table (page 1h/5m 14.4 and 6h/30m
    /// 6, ticket 3d/6h 1).
    pub rules: Vec<String>,
}

impl Default for AlertingConfig {
    fn default() -> Self {
        AlertingConfig {
            alertmanager_url: None,
            interval: "30s".into(),
            rules: Vec::new(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(pub String);

impl Config {
    /// Reads a TOML file; unknown keys are errors naming the key.
    pub fn from_file(path: &std::path::Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("{}: {e}", path.display())))?;
        toml::from_str(&text).map_err(|e| ConfigError(format!("{}: {e}", path.display())))
    }

    pub fn sync_policy(&self) -> Result<nines_engine::wal::SyncPolicy, ConfigError> {
        use nines_engine::wal::SyncPolicy;
        match self.storage.sync.as_str() {
            "always" => Ok(SyncPolicy::Always),
            "never" => Ok(SyncPolicy::Never),
            s => match s.strip_prefix("interval:") {
                Some(d) => Ok(SyncPolicy::Interval(Duration::from_millis(
                    parse_duration_ms(d).map_err(ConfigError)?.max(1) as u64,
                ))),
                None => Err(ConfigError(format!(
                    "storage.sync = {s:?}: expected always, never or interval:<duration>"
                ))),
            },
        }
    }

    pub fn query_timeout(&self) -> Result<Duration, ConfigError> {
        Ok(Duration::from_millis(
            parse_duration_ms(&self.limits.query_timeout).map_err(ConfigError)? as u64,
        ))
    }

    /// The burn policy of `[alerting] rules`.
    pub fn burn_policy(&self) -> Result<nines_slo::alerting::BurnPolicy, ConfigError> {
        if self.alerting.rules.is_empty() {
            return Ok(nines_slo::alerting::BurnPolicy::default());
        }
        let rules = self
            .alerting
            .rules
            .iter()
            .map(|r| nines_slo::alerting::BurnRule::parse(r))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ConfigError(format!("alerting.rules: {e}")))?;
        Ok(nines_slo::alerting::BurnPolicy { rules })
    }

    /// `[alerting] interval`.
    pub fn alert_interval(&self) -> Result<Duration, ConfigError> {
        let ms = parse_duration_ms(&self.alerting.interval)
            .map_err(|e| ConfigError(format!("alerting.interval: {e}")))?;
        if ms < 1000 {
            return Err(ConfigError("alerting.interval must be at least 1s".into()));
        }
        Ok(Duration::from_millis(ms as u64))
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let auth =
            crate::auth::Authenticator::new(&self.auth).map_err(|e| ConfigError(e.to_string()))?;
        if !auth.enabled() && !self.insecure {
            for (what, a) in [
                ("http_listen", self.http_listen),
                ("grpc_listen", self.grpc_listen),
            ] {
                if !a.ip().is_loopback() {
                    return Err(ConfigError(format!(
                        "{what} = {a} is not a loopback address and no [[auth.tokens]] are configured: \
                         anyone who can reach it could read, write and change SLOs. Configure tokens \
                         (`nines token create`), or pass --insecure (insecure = true) to serve without \
                         authentication anyway"
                    )));
                }
            }
        }
        match (&self.tls.cert_file, &self.tls.key_file) {
            (Some(_), None) | (None, Some(_)) => {
                return Err(ConfigError(
                    "[tls] needs both cert_file and key_file".into(),
                ))
            }
            (None, None) if self.tls.client_ca_file.is_some() => {
                return Err(ConfigError(
                    "[tls] client_ca_file needs cert_file and key_file too".into(),
                ))
            }
            _ => {}
        }
        self.burn_policy()?;
        self.alert_interval()?;
        if let Some(u) = &self.alerting.alertmanager_url {
            if !(u.starts_with("http://") || u.starts_with("https://")) {
                return Err(ConfigError(format!(
                    "alerting.alertmanager_url = {u:?}: expected an http:// or https:// URL"
                )));
            }
        }
        self.sync_policy()?;
        self.query_timeout()?;
        parse_duration_ms(&self.storage.ooo_window).map_err(ConfigError)?;
        if self.storage.raw_retention != "forever" {
            parse_duration_ms(&self.storage.raw_retention).map_err(ConfigError)?;
        }
        let l = &self.limits;
        if l.max_request_bytes == 0 || l.inflight_bytes < l.max_request_bytes {
            return Err(ConfigError(
                "limits.inflight_bytes must be at least limits.max_request_bytes (and both > 0)"
                    .into(),
            ));
        }
        if l.query_concurrency == 0 || l.max_series_per_request == 0 {
            return Err(ConfigError(
                "limits.query_concurrency and limits.max_series_per_request must be > 0".into(),
            ));
        }
        Ok(())
    }

    /// The engine options this configuration implies.
    pub fn engine_options(&self) -> Result<nines_engine::EngineOptions, ConfigError> {
        let mut o = nines_engine::EngineOptions::new(&self.data_dir).sync(self.sync_policy()?);
        o.head.ooo_window_ms = parse_duration_ms(&self.storage.ooo_window).map_err(ConfigError)?;
        let raw_ms = if self.storage.raw_retention == "forever" {
            None
        } else {
            Some(parse_duration_ms(&self.storage.raw_retention).map_err(ConfigError)?)
        };
        Ok(o.retention(nines_engine::Retention {
            raw_ms,
            ..nines_engine::Retention::default()
        }))
    }
}

/// Parses a duration in PromQL's grammar (`90s`, `1h30m`, `2d`, `500ms`, via
/// [`nines_query::syntax::parse_duration`]) or plain seconds (`30`, `1.5`,
/// `0`) into milliseconds. Zero is allowed here (an `ooo_window` of `0`
/// turns late samples off) where a PromQL range must be positive.
pub fn parse_duration_ms(s: &str) -> Result<i64, String> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<f64>() {
        if secs.is_finite() && secs >= 0.0 && secs * 1000.0 < i64::MAX as f64 {
            return Ok((secs * 1000.0).round() as i64);
        }
        return Err(format!("invalid duration {s:?}: must be >= 0 seconds"));
    }
    nines_query::syntax::parse_duration(s).map_err(|e| {
        format!("invalid duration {s:?} ({e}): expected e.g. 30s, 5m, 1h30m, 7d or seconds")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/configuration.md shows every setting with its default: the
    /// example must parse, validate and equal `Config::default()` (apart
    /// from the alerting rules it spells out, which equal the default
    /// policy).
    #[test]
    fn the_documented_configuration_is_the_default() {
        let doc = include_str!("../../docs/configuration.md");
        let toml_text = doc
            .split("```toml\n")
            .nth(1)
            .and_then(|t| t.split("```").next())
            .expect("a toml block in docs/configuration.md");
        let cfg: Config = toml::from_str(toml_text).expect("the documented config parses");
        cfg.validate().expect("the documented config is valid");
        assert_eq!(
            cfg.burn_policy().unwrap(),
            nines_slo::alerting::BurnPolicy::default()
        );
        let mut same = cfg.clone();
        same.alerting.rules.clear();
        assert_eq!(same, Config::default());
    }

    #[test]
    fn bad_alerting_settings_are_named() {
        let mut c = Config::default();
        c.alerting.rules = vec!["page:1h:14".into()];
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("alerting.rules"));
        let mut c = Config::default();
        c.alerting.interval = "10ms".into();
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("alerting.interval"));
        let mut c = Config::default();
        c.alerting.alertmanager_url = Some("localhost:9093".into());
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("alertmanager_url"));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ms("1h30m"), Ok(5_400_000));
        assert_eq!(parse_duration_ms("500ms"), Ok(500));
        assert_eq!(parse_duration_ms("30"), Ok(30_000));
        assert_eq!(parse_duration_ms("1.5"), Ok(1_500));
        assert!(parse_duration_ms("5x").is_err());
        assert!(parse_duration_ms("").is_err());
        assert!(parse_duration_ms("-1").is_err());
        assert_eq!(parse_duration_ms("0"), Ok(0));
        // PromQL's order rule: largest unit first.
        assert!(parse_duration_ms("30m1h").is_err());
    }

    #[test]
    fn toml_with_unknown_key_names_it() {
        let e = toml::from_str::<Config>("[limits]\nquery_concurency = 3\n").unwrap_err();
        assert!(e.to_string().contains("query_concurency"), "{e}");
        let c: Config =
            toml::from_str("data_dir = \"/x\"\n[storage]\nsync = \"interval:50ms\"\n").unwrap();
        assert_eq!(c.data_dir, PathBuf::from("/x"));
        assert_eq!(
            c.sync_policy().unwrap(),
            nines_engine::wal::SyncPolicy::Interval(Duration::from_millis(50))
        );
        assert!(c.validate().is_ok());
        let bad: Config = toml::from_str("[storage]\nsync = \"sometimes\"\n").unwrap();
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("storage.sync"));
    }
}
