//! The `nines.v1` `Slos` service: each call is the matching request to the
//! HTTP API's router, in process, so gRPC and HTTP share one implementation
//! and answer the same document (the reply carries the HTTP `data` as JSON
//! text).

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, HeaderValue, Method, Request, StatusCode};
use axum::Router;
use nines_proto::v1::{self, slos_server::Slos};
use tonic::{Request as GrpcRequest, Response, Status};
use tower::ServiceExt;

use crate::state::AppState;

/// Largest answer read back from the router.
const MAX_REPLY_BYTES: usize = 64 << 20;

pub struct SloService {
    router: Router,
}

impl SloService {
    pub fn new(state: Arc<AppState>) -> SloService {
        SloService {
            router: crate::http::router(state),
        }
    }

    async fn call(
        &self,
        auth: Option<HeaderValue>,
        method: Method,
        uri: String,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<Response<v1::SlosReply>, Status> {
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::CONTENT_TYPE, content_type);
        let req = match auth {
            Some(v) => req.header(header::AUTHORIZATION, v),
            None => req,
        }
        .body(Body::from(body))
        .map_err(|e| Status::invalid_argument(format!("bad request: {e}")))?;
        let resp = self
            .router
            .clone()
            .oneshot(req)
            .await
            .map_err(|e| Status::internal(e.to_string()))?;
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), MAX_REPLY_BYTES)
            .await
            .map_err(|e| Status::internal(format!("reading the answer: {e}")))?;
        let json: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| Status::internal(format!("the answer is not JSON: {e}")))?;
        if json["status"] == "success" {
            return Ok(Response::new(v1::SlosReply {
                json: json["data"].to_string(),
            }));
        }
        let msg = json["error"]
            .as_str()
            .unwrap_or("request refused")
            .to_string();
        Err(status_of(status, msg))
    }
}

/// The gRPC status of the router's refusal, for the services that answer
/// through it (`Slos`, `Reports`).
pub(crate) fn status_of(status: StatusCode, msg: String) -> Status {
    match status {
        StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => Status::invalid_argument(msg),
        StatusCode::NOT_FOUND => Status::not_found(msg),
        StatusCode::UNAUTHORIZED => Status::unauthenticated(msg),
        StatusCode::FORBIDDEN => Status::permission_denied(msg),
        StatusCode::CONFLICT => Status::already_exists(msg),
        _ => Status::internal(msg),
    }
}

/// The call's `authorization` metadata, handed to the router as the HTTP
/// header, so that one policy (`http::guard`) decides for both.
pub(crate) fn auth_of<T>(r: &GrpcRequest<T>) -> Option<HeaderValue> {
    r.metadata()
        .get("authorization")
        .and_then(|v| HeaderValue::from_bytes(v.as_bytes()).ok())
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// `?k=v&...` of the non-empty pairs.
fn query(pairs: &[(&str, String)]) -> String {
    let parts: Vec<String> = pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", enc(v)))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

const FORM: &str = "application/x-www-form-urlencoded";
const JSON: &str = "application/json";

#[tonic::async_trait]
impl Slos for SloService {
    async fn apply(
        &self,
        r: GrpcRequest<v1::ApplySlosRequest>,
    ) -> Result<Response<v1::SlosReply>, Status> {
        let auth = auth_of(&r);
        let r = r.into_inner();
        let q = query(&[
            ("file", r.file),
            ("author", r.author),
            (
                "effective_from",
                r.effective_from_ms
                    .map(|ms| format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000)))
                    .unwrap_or_default(),
            ),
        ]);
        self.call(
            auth,
            Method::POST,
            format!("/api/v1/slos{q}"),
            "application/yaml",
            r.yaml.into_bytes(),
        )
        .await
    }

    async fn list(
        &self,
        _r: GrpcRequest<v1::ListSlosRequest>,
    ) -> Result<Response<v1::SlosReply>, Status> {
        let auth = auth_of(&_r);
        self.call(auth, Method::GET, "/api/v1/slos".into(), JSON, Vec::new())
            .await
    }

    async fn get(&self, r: GrpcRequest<v1::SloRequest>) -> Result<Response<v1::SlosReply>, Status> {
        let auth = auth_of(&r);
        let name = enc(&r.into_inner().name);
        self.call(
            auth,
            Method::GET,
            format!("/api/v1/slos/{name}"),
            JSON,
            Vec::new(),
        )
        .await
    }

    async fn history(
        &self,
        r: GrpcRequest<v1::SloRequest>,
    ) -> Result<Response<v1::SlosReply>, Status> {
        let auth = auth_of(&r);
        let name = enc(&r.into_inner().name);
        self.call(
            auth,
            Method::GET,
            format!("/api/v1/slos/{name}/history"),
            JSON,
            Vec::new(),
        )
        .await
    }

    async fn retire(
        &self,
        r: GrpcRequest<v1::SloRequest>,
    ) -> Result<Response<v1::SlosReply>, Status> {
        let auth = auth_of(&r);
        let r = r.into_inner();
        let q = query(&[("author", r.author)]);
        let uri = format!("/api/v1/slos/{}{q}", enc(&r.name));
        self.call(auth, Method::DELETE, uri, JSON, Vec::new()).await
    }

    async fn add_exclusion(
        &self,
        r: GrpcRequest<v1::AddExclusionRequest>,
    ) -> Result<Response<v1::SlosReply>, Status> {
        let auth = auth_of(&r);
        let body = r.into_inner().exclusion_json.into_bytes();
        self.call(auth, Method::POST, "/api/v1/exclusions".into(), JSON, body)
            .await
    }

    async fn list_exclusions(
        &self,
        r: GrpcRequest<v1::ListExclusionsRequest>,
    ) -> Result<Response<v1::SlosReply>, Status> {
        let auth = auth_of(&r);
        let r = r.into_inner();
        let deleted = if r.deleted {
            "true".into()
        } else {
            String::new()
        };
        let q = query(&[("slo", r.slo), ("deleted", deleted)]);
        self.call(
            auth,
            Method::GET,
            format!("/api/v1/exclusions{q}"),
            JSON,
            Vec::new(),
        )
        .await
    }

    async fn delete_exclusion(
        &self,
        r: GrpcRequest<v1::DeleteExclusionRequest>,
    ) -> Result<Response<v1::SlosReply>, Status> {
        let auth = auth_of(&r);
        let r = r.into_inner();
        let q = query(&[("author", r.author)]);
        let uri = format!("/api/v1/exclusions/{}{q}", enc(&r.id));
        self.call(auth, Method::DELETE, uri, JSON, Vec::new()).await
    }

    async fn gate(
        &self,
        r: GrpcRequest<v1::GateRequest>,
    ) -> Result<Response<v1::SlosReply>, Status> {
        let auth = auth_of(&r);
        let r = r.into_inner();
        let mut form: Vec<(&str, String)> = vec![("slo", r.slo), ("no_data", r.no_data)];
        if let Some(m) = r.min_budget {
            form.push(("min_budget", m.to_string()));
        }
        for b in r.max_burn {
            form.push(("max_burn", b));
        }
        if r.r#override {
            form.push(("override", "true".into()));
            form.push(("reason", r.reason));
            form.push(("approver", r.approver));
        }
        let body = query(&form).trim_start_matches('?').as_bytes().to_vec();
        self.call(auth, Method::POST, "/api/v1/gate".into(), FORM, body)
            .await
    }
}
