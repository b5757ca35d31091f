//! `nines serve`: the database server.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use nines_server::Config;

/// Run the nines server: gRPC ingest and query, the Prometheus HTTP API
/// (point Grafana's Prometheus data source at the HTTP address), and the
/// remote-write receiver at /api/v1/write.
///
/// Settings come from the defaults, then the --config file, then
/// environment variables, then flags. The defaults work on a laptop: data
/// in ./data, HTTP on 127.0.0.1:9090, gRPC on 127.0.0.1:9091.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// TOML configuration file (see docs/configuration.md).
    #[arg(long, value_name = "FILE", env = "NINES_CONFIG")]
    pub config: Option<PathBuf>,
    /// Data directory.
    #[arg(long, value_name = "DIR", env = "NINES_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// HTTP address (Prometheus API, remote-write, /metrics); port 0 picks a
    /// free port.
    #[arg(long, value_name = "ADDR", env = "NINES_HTTP_LISTEN")]
    pub http_listen: Option<SocketAddr>,
    /// gRPC address; port 0 picks a free port.
    #[arg(long, value_name = "ADDR", env = "NINES_GRPC_LISTEN")]
    pub grpc_listen: Option<SocketAddr>,
    /// WAL sync policy: always (default), never, or interval:<duration>.
    #[arg(long, value_name = "POLICY", env = "NINES_SYNC")]
    pub sync: Option<String>,
    /// Send SLO burn-rate alerts to this Alertmanager (its base URL,
    /// `http://127.0.0.1:9093`).
    #[arg(long, value_name = "URL", env = "NINES_ALERTMANAGER_URL")]
    pub alertmanager_url: Option<String>,
    /// How often SLO alerts are evaluated (default 30s).
    #[arg(long, value_name = "D", env = "NINES_ALERT_INTERVAL")]
    pub alert_interval: Option<String>,
    /// Serve on a non-loopback address without authentication (no
    /// `[[auth.tokens]]`). Refused without this flag: anyone who can reach
    /// the port could read, write and change SLOs.
    #[arg(long, env = "NINES_INSECURE")]
    pub insecure: bool,
    /// TLS certificate chain (PEM) for both listeners; with --tls-key.
    #[arg(
        long,
        value_name = "FILE",
        env = "NINES_TLS_CERT",
        requires = "tls_key"
    )]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(
        long,
        value_name = "FILE",
        env = "NINES_TLS_KEY",
        requires = "tls_cert"
    )]
    pub tls_key: Option<PathBuf>,
    /// CA bundle (PEM) of accepted client certificates; given, every client
    /// must present one.
    #[arg(long, value_name = "FILE", env = "NINES_TLS_CLIENT_CA")]
    pub tls_client_ca: Option<PathBuf>,
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let mut cfg = match &a.config {
        Some(p) => Config::from_file(p)?,
        None => Config::default(),
    };
    if let Some(d) = a.data_dir {
        cfg.data_dir = d;
    }
    if let Some(h) = a.http_listen {
        cfg.http_listen = h;
    }
    if let Some(g) = a.grpc_listen {
        cfg.grpc_listen = g;
    }
    if let Some(s) = a.sync {
        cfg.storage.sync = s;
    }
    if let Some(u) = a.alertmanager_url {
        cfg.alerting.alertmanager_url = Some(u);
    }
    if let Some(i) = a.alert_interval {
        cfg.alerting.interval = i;
    }
    if a.insecure {
        cfg.insecure = true;
    }
    if let Some(c) = a.tls_cert {
        cfg.tls.cert_file = Some(c);
    }
    if let Some(k) = a.tls_key {
        cfg.tls.key_file = Some(k);
    }
    if let Some(ca) = a.tls_client_ca {
        cfg.tls.client_ca_file = Some(ca);
    }
    cfg.validate()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let server = nines_server::start(cfg).await?;
        // Scripts and tests read these lines to find the ports.
        println!("nines {} serving", env!("CARGO_PKG_VERSION"));
        let scheme = if server.state.config.tls.enabled() {
            "https"
        } else {
            "http"
        };
        println!("http: {scheme}://{}", server.http_addr);
        println!("grpc: {scheme}://{}", server.grpc_addr);
        if !server.state.auth.enabled() {
            eprintln!(
                "authentication is off (no [[auth.tokens]] configured): every client acts as admin"
            );
        }
        println!("data: {}", server.state.config.data_dir.display());
        use std::io::Write;
        let _ = std::io::stdout().flush();
        shutdown_signal().await;
        eprintln!("shutting down: finishing requests in flight");
        server.shutdown().await?;
        eprintln!("stopped");
        Ok::<_, anyhow::Error>(ExitCode::SUCCESS)
    })
}

/// SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
