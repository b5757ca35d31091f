//! The `nines.v1` `Reports` service: `Report` is the HTTP API's
//! `GET /api/v1/report`, in process, its body forwarded chunk by chunk, so
//! both transports give the same bytes.

use std::pin::Pin;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use nines_proto::v1::{self, reports_server::Reports};
use tokio_stream::{Stream, StreamExt};
use tonic::{Request as GrpcRequest, Response, Status};
use tower::ServiceExt;

use crate::state::AppState;

/// Largest error answer read back from the router.
const MAX_ERROR_BYTES: usize = 1 << 20;

pub struct ReportService {
    router: Router,
}

impl ReportService {
    pub fn new(state: Arc<AppState>) -> ReportService {
        ReportService {
            router: crate::http::router(state),
        }
    }
}

type ChunkStream = Pin<Box<dyn Stream<Item = Result<v1::ReportChunk, Status>> + Send>>;

#[tonic::async_trait]
impl Reports for ReportService {
    type ReportStream = ChunkStream;

    async fn report(
        &self,
        r: GrpcRequest<v1::ReportRequest>,
    ) -> Result<Response<ChunkStream>, Status> {
        let auth = crate::grpc_slos::auth_of(&r);
        let r = r.into_inner();
        let all = if r.all { "true" } else { "" };
        let q: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(
                [
                    ("slo", r.slo.as_str()),
                    ("all", all),
                    ("period", &r.period),
                    ("from", &r.from),
                    ("to", &r.to),
                    ("format", &r.format),
                ]
                .into_iter()
                .filter(|(_, v)| !v.is_empty()),
            )
            .finish();
        let mut req = Request::builder()
            .method(Method::GET)
            .uri(format!("/api/v1/report?{q}"));
        if let Some(v) = auth {
            req = req.header(axum::http::header::AUTHORIZATION, v);
        }
        let req = req
            .body(Body::empty())
            .map_err(|e| Status::invalid_argument(format!("bad request: {e}")))?;
        let resp = self
            .router
            .clone()
            .oneshot(req)
            .await
            .map_err(|e| Status::internal(e.to_string()))?;
        let status = resp.status();
        if status != StatusCode::OK {
            let bytes = axum::body::to_bytes(resp.into_body(), MAX_ERROR_BYTES)
                .await
                .map_err(|e| Status::internal(format!("reading the answer: {e}")))?;
            let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
            let msg = json["error"]
                .as_str()
                .unwrap_or("request refused")
                .to_string();
            return Err(crate::grpc_slos::status_of(status, msg));
        }
        let chunks = resp.into_body().into_data_stream().map(|piece| {
            piece
                .map(|data| v1::ReportChunk {
                    data: data.to_vec(),
                })
                .map_err(|e| Status::internal(format!("the report failed: {e}")))
        });
        Ok(Response::new(Box::pin(chunks)))
    }
}
