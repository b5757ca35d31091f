//! The nines server: a long-running database that monitoring agents write to
//! and that Grafana and reporting jobs read from.
//!
//! Module map:
//! - [`config`]: TOML configuration with laptop-friendly defaults.
//! - [`state`]: what handlers share; the write memory budget; query slots.
//! - [`ingest`]: wire messages -> engine batches -> durable append.
//! - [`decode`]: hand-written readers of the two write requests (gRPC and
//!   remote-write) straight into engine batches.
//! - [`grpc_ingest`]: the `nines.v1` `Ingest` service, decoding with [`decode`].
//! - [`grpc`]: the `nines.v1` `Query` service (tonic).
//! - [`http`]: Prometheus HTTP API, remote-write receiver, the SLO and
//!   exclusion API, /metrics (axum).
//! - [`query`]: query execution shared by HTTP and gRPC.
//! - [`metrics`]: the server's own metrics.
//!
//! Lifecycle: [`start`] opens the engine and the SLO store, binds both listeners (port 0 picks
//! a free port) and serves until [`RunningServer::shutdown`]: stop accepting,
//! finish requests in flight, close the engine (WAL synced).

#![forbid(unsafe_code)]

pub mod alerts;
pub mod annotations;
pub mod audit;
pub mod auth;
pub mod config;
pub mod decode;
pub mod grpc;
pub mod grpc_annotations;
pub mod grpc_ingest;
pub mod grpc_reports;
pub mod grpc_slos;
pub mod http;
pub mod ingest;
pub mod integrity;
pub mod lookup;
pub mod metrics;
pub mod query;
pub mod report;
pub mod series_cache;
pub mod slo_ops;
pub mod state;
pub mod stream_refs;
pub mod tls;
pub mod warmup;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use nines_engine::verify::VerifyOptions;
use nines_engine::Engine;
use nines_slo::store::SloStore;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use config::Config;
use state::AppState;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error(transparent)]
    Engine(#[from] nines_engine::Error),
    #[error("SLO store: {0}")]
    Slo(#[from] nines_slo::SloError),
    #[error("cannot listen on {addr} ({what}): {source}")]
    Bind {
        what: &'static str,
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("{0}")]
    Serve(String),
}

/// Authenticates and authorizes a gRPC call; a refusal is counted and
/// written to the audit trail like an HTTP one.
pub(crate) fn grpc_auth(
    st: &AppState,
    meta: &tonic::metadata::MetadataMap,
    need: auth::Role,
    tenant_ok: bool,
    service: &str,
) -> Result<auth::Identity, tonic::Status> {
    let checked = st.auth.authorize_grpc(meta, need).and_then(|id| {
        if !tenant_ok {
            id.require_untenanted(&format!("the {service} service"))?;
        }
        Ok(id)
    });
    checked.map_err(|e| {
        st.note_refusal(
            &e,
            serde_json::json!({"protocol": "grpc", "service": service, "error": e.to_string()}),
        );
        e.to_status()
    })
}

/// A started server.
pub struct RunningServer {
    pub http_addr: SocketAddr,
    pub grpc_addr: SocketAddr,
    pub state: Arc<AppState>,
    stop: watch::Sender<bool>,
    http: JoinHandle<Result<(), String>>,
    grpc: JoinHandle<Result<(), String>>,
    alerts: JoinHandle<()>,
    warmup: Option<JoinHandle<()>>,
}

/// Opens the data directory and starts serving HTTP and gRPC.
/// HTTP/2 flow control for gRPC. With the protocol's default window of
/// 64 KiB a client pushing a write request of a few hundred KiB (an
/// agent's batch of 10,000 samples) stops after each 64 KiB until the
/// server's window update comes back. A stream may have 4 MiB in flight
/// and a connection 16 MiB; both are bounded again by the request size
/// and in-flight write limits once decoded.
const GRPC_STREAM_WINDOW: u32 = 4 << 20;
const GRPC_CONNECTION_WINDOW: u32 = 16 << 20;
/// Largest HTTP/2 frame a client may send: 256 KiB instead of 16 KiB, so
/// a large write request is a few frames, not dozens.
const GRPC_MAX_FRAME: u32 = 256 << 10;

pub async fn start(config: Config) -> Result<RunningServer, ServerError> {
    config.validate()?;
    let http_listener = TcpListener::bind(config.http_listen)
        .await
        .map_err(|source| ServerError::Bind {
            what: "HTTP",
            addr: config.http_listen,
            source,
        })?;
    let grpc_listener = TcpListener::bind(config.grpc_listen)
        .await
        .map_err(|source| ServerError::Bind {
            what: "gRPC",
            addr: config.grpc_listen,
            source,
        })?;
    let http_addr = http_listener
        .local_addr()
        .map_err(|e| ServerError::Serve(e.to_string()))?;
    let grpc_addr = grpc_listener
        .local_addr()
        .map_err(|e| ServerError::Serve(e.to_string()))?;

    let opts = config.engine_options()?;
    let slo_log = SloStore::path_in(&config.data_dir);
    let audit_log = audit::AuditLog::path_in(&config.data_dir);
    // The engine first: its lock on the data directory also guards the SLO
    // and audit logs against a second server.
    let (engine, slos, audit) = tokio::task::spawn_blocking(move || {
        let engine = Engine::open(opts)?;
        let slos = SloStore::open(&slo_log)?;
        let audit = Arc::new(audit::AuditLog::open(&audit_log)?);
        audit.follow(&slos)?;
        audit.note_retention(&engine.options().retention);
        Ok::<_, ServerError>((engine, slos, audit))
    })
    .await
    .map_err(|e| ServerError::Serve(format!("engine open task failed: {e}")))??;
    let state = Arc::new(AppState::new(
        Arc::new(engine),
        Arc::new(slos),
        audit,
        config,
    )?);
    let (stop, stopped) = watch::channel(false);

    let alerts = tokio::spawn(alerts::run(Arc::clone(&state), stopped.clone()));
    let warmup = warmup::spawn(&state, stopped.clone());
    let router = http::router(Arc::clone(&state));
    let mut http_stop = stopped.clone();
    let http_tls = if state.config.tls.enabled() {
        Some(tls::server_config(&state.config.tls).map_err(ServerError::Serve)?)
    } else {
        None
    };
    let grpc_tls = if state.config.tls.enabled() {
        Some(tls::grpc_config(&state.config.tls).map_err(ServerError::Serve)?)
    } else {
        None
    };
    let http = match http_tls {
        Some(cfg) => {
            let listener = tls::TlsListener::new(http_listener, cfg)
                .map_err(|e| ServerError::Serve(e.to_string()))?;
            tokio::spawn(async move {
                axum::serve(listener, router)
                    .with_graceful_shutdown(async move {
                        let _ = http_stop.wait_for(|s| *s).await;
                    })
                    .await
                    .map_err(|e| e.to_string())
            })
        }
        None => tokio::spawn(async move {
            use axum::serve::ListenerExt;
            // Answers leave at once (as the TLS listener's and gRPC's do):
            // Nagle's algorithm would hold a response's tail until the
            // client acknowledged its head.
            let http_listener = http_listener.tap_io(|tcp| {
                let _ = tcp.set_nodelay(true);
            });
            axum::serve(http_listener, router)
                .with_graceful_shutdown(async move {
                    let _ = http_stop.wait_for(|s| *s).await;
                })
                .await
                .map_err(|e| e.to_string())
        }),
    };

    let limits = &state.config.limits;
    let max_msg = limits.max_request_bytes;
    // Requests being decoded at once: the write budget divided by the
    // largest message, so decoding alone cannot exceed the budget.
    let concurrent = (limits.inflight_bytes / limits.max_request_bytes.max(1)).max(1);
    let ingest = grpc_ingest::IngestServer::new(Arc::clone(&state))
        .max_decoding_message_size(max_msg)
        .accept_compressed(tonic::codec::CompressionEncoding::Gzip)
        .accept_compressed(tonic::codec::CompressionEncoding::Zstd);
    let query =
        nines_proto::v1::query_server::QueryServer::new(grpc::QueryService(Arc::clone(&state)))
            .max_decoding_message_size(max_msg)
            .max_encoding_message_size(256 << 20)
            .send_compressed(tonic::codec::CompressionEncoding::Zstd)
            .accept_compressed(tonic::codec::CompressionEncoding::Zstd);
    let annotations = nines_proto::v1::annotations_server::AnnotationsServer::new(
        grpc_annotations::AnnotationService(Arc::clone(&state)),
    )
    .max_decoding_message_size(max_msg);
    let slos = nines_proto::v1::slos_server::SlosServer::new(grpc_slos::SloService::new(
        Arc::clone(&state),
    ))
    .max_decoding_message_size(max_msg);
    let reports = nines_proto::v1::reports_server::ReportsServer::new(
        grpc_reports::ReportService::new(Arc::clone(&state)),
    );
    let mut grpc_stop = stopped.clone();
    let incoming =
        tonic::transport::server::TcpIncoming::from(grpc_listener).with_nodelay(Some(true));
    let mut builder = tonic::transport::Server::builder();
    if let Some(t) = grpc_tls {
        builder = builder
            .tls_config(t)
            .map_err(|e| ServerError::Serve(format!("[tls] for gRPC: {e}")))?;
    }
    let grpc = tokio::spawn(async move {
        builder
            .concurrency_limit_per_connection(concurrent)
            .initial_stream_window_size(Some(GRPC_STREAM_WINDOW))
            .initial_connection_window_size(Some(GRPC_CONNECTION_WINDOW))
            .max_frame_size(Some(GRPC_MAX_FRAME))
            .add_service(ingest)
            .add_service(query)
            .add_service(annotations)
            .add_service(slos)
            .add_service(reports)
            .serve_with_incoming_shutdown(incoming, async move {
                let _ = grpc_stop.wait_for(|s| *s).await;
            })
            .await
            .map_err(|e| e.to_string())
    });
    // The integrity check of every stored file, in the background: its
    // outcome goes to /metrics (nines_verify_*) and problems to the log.
    // It holds no reference to the state while it reads: a shutdown must
    // be able to close the engine (and release the data directory) at once.
    let st = Arc::downgrade(&state);
    let dir = state.config.data_dir.clone();
    tokio::task::spawn_blocking(move || {
        let out = integrity::check(&dir, VerifyOptions { decode: false }, &mut |_, _| {});
        match (out, st.upgrade()) {
            (Ok(out), Some(st)) => integrity::publish(&out, &st.metrics),
            (Ok(_), None) => {}
            (Err(e), _) => tracing::error!(error = %e, "integrity check failed to run"),
        }
    });
    state.ready.store(true, Ordering::Relaxed);
    tracing::info!(%http_addr, %grpc_addr, data_dir = %state.config.data_dir.display(), "nines serving");
    Ok(RunningServer {
        http_addr,
        grpc_addr,
        state,
        stop,
        http,
        grpc,
        alerts,
        warmup,
    })
}

impl RunningServer {
    /// Graceful shutdown: stop accepting, let requests in flight finish,
    /// then close the engine (WAL synced, background work stopped).
    pub async fn shutdown(self) -> Result<(), ServerError> {
        self.state.ready.store(false, Ordering::Relaxed);
        let _ = self.stop.send(true);
        let http = self
            .http
            .await
            .map_err(|e| ServerError::Serve(e.to_string()))?;
        let grpc = self
            .grpc
            .await
            .map_err(|e| ServerError::Serve(e.to_string()))?;
        http.map_err(ServerError::Serve)?;
        grpc.map_err(ServerError::Serve)?;
        let _ = self.alerts.await;
        if let Some(w) = self.warmup {
            let _ = w.await;
        }
        let state = self.state;
        tokio::task::spawn_blocking(move || match Arc::try_unwrap(state) {
            Ok(st) => match Arc::try_unwrap(st.engine) {
                Ok(engine) => engine.close(),
                Err(engine) => engine.wal().sync(),
            },
            Err(st) => st.engine.wal().sync(),
        })
        .await
        .map_err(|e| ServerError::Serve(e.to_string()))??;
        Ok(())
    }
}
