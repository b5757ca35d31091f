//! The `nines.v1` `Annotations` service: the same as
//! `/api/v1/annotations` (see [`crate::annotations`]).

use std::sync::Arc;

use nines_proto::v1::{self, annotations_server::Annotations};
use tonic::{Request, Response, Status};

use crate::annotations::{self, Annotation, AnnotationError, Filter};
use crate::state::AppState;

pub struct AnnotationService(pub Arc<AppState>);

fn status(e: AnnotationError) -> Status {
    match e {
        AnnotationError::Invalid(_) => Status::invalid_argument(e.to_string()),
        AnnotationError::Rejected(_) => Status::failed_precondition(e.to_string()),
        AnnotationError::Storage(_) => Status::internal(e.to_string()),
    }
}

fn opt(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

fn from_wire(a: v1::Annotation) -> Annotation {
    Annotation {
        kind: opt(a.kind).unwrap_or_else(|| "deploy".into()),
        service: a.service,
        version: opt(a.version),
        env: opt(a.env),
        commit: opt(a.commit),
        id: opt(a.id),
        severity: opt(a.severity),
        at: a.at_ms.unwrap_or_else(crate::http::now_ms),
        end: a.end_ms,
    }
}

fn to_wire(a: Annotation) -> v1::Annotation {
    v1::Annotation {
        kind: a.kind,
        service: a.service,
        version: a.version.unwrap_or_default(),
        env: a.env.unwrap_or_default(),
        commit: a.commit.unwrap_or_default(),
        id: a.id.unwrap_or_default(),
        severity: a.severity.unwrap_or_default(),
        at_ms: Some(a.at),
        end_ms: a.end,
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Status> + Send + 'static,
) -> Result<T, Status> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Status::internal(format!("task failed: {e}")))?
}

#[tonic::async_trait]
impl Annotations for AnnotationService {
    async fn annotate(
        &self,
        request: Request<v1::Annotation>,
    ) -> Result<Response<v1::AnnotateResponse>, Status> {
        let role = crate::auth::Role::Writer;
        crate::grpc_auth(&self.0, request.metadata(), role, false, "Annotations")?;
        let a = from_wire(request.into_inner());
        a.validate().map_err(status)?;
        let engine = Arc::clone(&self.0.engine);
        let stored = a.clone();
        let created =
            blocking(move || annotations::write(&engine, &stored).map_err(status)).await?;
        Ok(Response::new(v1::AnnotateResponse {
            created,
            labels: a.labels().to_string(),
            annotation: Some(to_wire(a)),
        }))
    }

    async fn list(
        &self,
        request: Request<v1::ListAnnotationsRequest>,
    ) -> Result<Response<v1::ListAnnotationsResponse>, Status> {
        let role = crate::auth::Role::Reader;
        crate::grpc_auth(&self.0, request.metadata(), role, false, "Annotations")?;
        let r = request.into_inner();
        let end = r.end_ms.unwrap_or_else(crate::http::now_ms);
        let start = r.start_ms.unwrap_or(end - 30 * 86_400_000);
        if end < start {
            return Err(Status::invalid_argument("end must not be before start"));
        }
        let f = Filter {
            kind: opt(r.kind),
            service: opt(r.service),
            env: opt(r.env),
            start,
            end,
        };
        let engine = Arc::clone(&self.0.engine);
        let found = blocking(move || annotations::list(&engine, &f).map_err(status)).await?;
        Ok(Response::new(v1::ListAnnotationsResponse {
            annotations: found.into_iter().map(to_wire).collect(),
        }))
    }
}
