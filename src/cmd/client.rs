//! How the commands that talk to a server authenticate and check its
//! certificate: `--token` (a bearer token) and `--ca-cert` / `--client-cert`
//! / `--client-key` for servers behind `[tls]`, shared by every `--url`
//! command, for HTTP (reqwest) and gRPC (tonic) alike.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;

#[derive(Debug, Clone, Default, clap::Args)]
pub struct Auth {
    /// Bearer token for a server with authentication on (`nines token
    /// create` makes one). Prefer the environment variable: a flag shows
    /// in the process list.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "NINES_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
    /// CA certificate (PEM) to trust for an https:// server, in addition
    /// to the system's roots.
    #[arg(long, value_name = "FILE", env = "NINES_CA_CERT")]
    pub ca_cert: Option<PathBuf>,
    /// Client certificate (PEM) for a server that requires one; with
    /// `--client-key`.
    #[arg(
        long,
        value_name = "FILE",
        env = "NINES_CLIENT_CERT",
        requires = "client_key"
    )]
    pub client_cert: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    #[arg(
        long,
        value_name = "FILE",
        env = "NINES_CLIENT_KEY",
        requires = "client_cert"
    )]
    pub client_key: Option<PathBuf>,
}

fn read(path: &PathBuf, what: &str) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read the {what} {}", path.display()))
}

impl Auth {
    /// `Authorization: Bearer ...`, when a token is given.
    pub fn header(&self) -> Option<String> {
        self.token
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(|t| format!("Bearer {t}"))
    }

    /// An HTTP client that sends the token and trusts the CA.
    pub fn http_client(&self, timeout: Duration) -> anyhow::Result<reqwest::Client> {
        let mut b = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(timeout)
            .use_rustls_tls();
        if let Some(h) = self.header() {
            let mut headers = reqwest::header::HeaderMap::new();
            let mut v = reqwest::header::HeaderValue::from_str(&h)
                .context("the token has characters a header cannot carry")?;
            v.set_sensitive(true);
            headers.insert(reqwest::header::AUTHORIZATION, v);
            b = b.default_headers(headers);
        }
        if let Some(ca) = &self.ca_cert {
            let pem = read(ca, "CA certificate")?;
            for c in reqwest::Certificate::from_pem_bundle(&pem)
                .with_context(|| format!("{} holds no PEM certificate", ca.display()))?
            {
                b = b.add_root_certificate(c);
            }
        }
        if let (Some(cert), Some(key)) = (&self.client_cert, &self.client_key) {
            let mut pem = read(cert, "client certificate")?;
            pem.push(b'\n');
            pem.extend(read(key, "client key")?);
            b = b.identity(
                reqwest::Identity::from_pem(&pem)
                    .context("the client certificate and key do not make an identity")?,
            );
        }
        b.build().context("cannot build the HTTP client")
    }

    /// A gRPC channel to `url` (https:// uses TLS with the CA and client
    /// certificate given).
    pub async fn grpc_channel(&self, url: &str) -> anyhow::Result<tonic::transport::Channel> {
        let mut ep = tonic::transport::Endpoint::from_shared(url.to_string())
            .with_context(|| format!("invalid server URL {url:?}"))?
            .connect_timeout(Duration::from_secs(10));
        if url.starts_with("https://") {
            let mut tls = tonic::transport::ClientTlsConfig::new();
            if let Some(ca) = &self.ca_cert {
                tls = tls.ca_certificate(tonic::transport::Certificate::from_pem(read(
                    ca,
                    "CA certificate",
                )?));
            }
            if let (Some(cert), Some(key)) = (&self.client_cert, &self.client_key) {
                tls = tls.identity(tonic::transport::Identity::from_pem(
                    read(cert, "client certificate")?,
                    read(key, "client key")?,
                ));
            }
            ep = ep.tls_config(tls).context("TLS configuration")?;
        }
        ep.connect()
            .await
            .with_context(|| format!("cannot reach the server at {url}"))
    }

    /// Adds the token to every gRPC call.
    pub fn interceptor(&self) -> anyhow::Result<TokenInterceptor> {
        let value = match self.header() {
            Some(h) => Some(
                h.parse()
                    .context("the token has characters gRPC metadata cannot carry")?,
            ),
            None => None,
        };
        Ok(TokenInterceptor(value))
    }
}

#[derive(Clone)]
pub struct TokenInterceptor(Option<tonic::metadata::MetadataValue<tonic::metadata::Ascii>>);

impl tonic::service::Interceptor for TokenInterceptor {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(v) = &self.0 {
            req.metadata_mut().insert("authorization", v.clone());
        }
        Ok(req)
    }
}
