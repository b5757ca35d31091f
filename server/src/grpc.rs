//! The `nines.v1` `Query` service (the Prometheus HTTP API's questions,
//! typed); `Ingest` is in [`crate::grpc_ingest`].

use std::sync::Arc;

use nines_engine::index::{parse_selector, Matcher};
use nines_proto::v1::{self, query_server::Query};
use tonic::{Request, Response, Status};

use crate::auth::{Identity, Role};
use crate::ingest;
use crate::state::AppState;

pub struct QueryService(pub Arc<AppState>);

fn selectors(matchers: &[String]) -> Result<Vec<Vec<Matcher>>, Status> {
    matchers
        .iter()
        .map(|s| parse_selector(s).map_err(|e| Status::invalid_argument(e.to_string())))
        .collect()
}

fn range(start: Option<i64>, end: Option<i64>) -> Result<(i64, i64), Status> {
    let (s, e) = (
        start.unwrap_or(crate::http::MIN_TIME),
        end.unwrap_or(crate::http::MAX_TIME),
    );
    if e < s {
        return Err(Status::invalid_argument("end must not be before start"));
    }
    Ok((s, e))
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Status> + Send + 'static,
) -> Result<T, Status> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Status::internal(format!("task failed: {e}")))?
}

fn storage(e: nines_engine::Error) -> Status {
    Status::internal(e.to_string())
}

fn limited<T>(mut v: Vec<T>, limit: u64) -> Vec<T> {
    if limit > 0 {
        v.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    }
    v
}

/// Every `Query` call needs a reader (or admin) token.
fn authorize<T>(st: &AppState, request: &Request<T>) -> Result<Identity, Status> {
    crate::grpc_auth(st, request.metadata(), Role::Reader, true, "Query")
}

#[tonic::async_trait]
impl Query for QueryService {
    async fn instant(
        &self,
        request: Request<v1::InstantRequest>,
    ) -> Result<Response<v1::QueryResponse>, Status> {
        let id = authorize(&self.0, &request)?;
        crate::query::grpc_instant(&self.0, request.into_inner(), id.tenant)
            .await
            .map(Response::new)
    }

    async fn range(
        &self,
        request: Request<v1::RangeRequest>,
    ) -> Result<Response<v1::QueryResponse>, Status> {
        let id = authorize(&self.0, &request)?;
        crate::query::grpc_range(&self.0, request.into_inner(), id.tenant)
            .await
            .map(Response::new)
    }

    async fn series(
        &self,
        request: Request<v1::SeriesRequest>,
    ) -> Result<Response<v1::SeriesResponse>, Status> {
        let id = authorize(&self.0, &request)?;
        let r = request.into_inner();
        let mut sels = selectors(&r.matchers)?;
        crate::auth::scope_selector_sets(&mut sels, id.tenant.as_deref());
        if sels.is_empty() {
            return Err(Status::invalid_argument("no matchers provided"));
        }
        let (start, end) = range(r.start_ms, r.end_ms)?;
        let st = Arc::clone(&self.0);
        let series =
            blocking(move || crate::lookup::series(&st.engine, &sels, start, end).map_err(storage))
                .await?;
        Ok(Response::new(v1::SeriesResponse {
            series: limited(series, r.limit)
                .iter()
                .map(|l| v1::LabelSet {
                    labels: ingest::labels_to_proto(l),
                })
                .collect(),
        }))
    }

    async fn label_names(
        &self,
        request: Request<v1::LabelNamesRequest>,
    ) -> Result<Response<v1::LabelNamesResponse>, Status> {
        let id = authorize(&self.0, &request)?;
        let r = request.into_inner();
        let mut sels = selectors(&r.matchers)?;
        crate::auth::scope_selector_sets(&mut sels, id.tenant.as_deref());
        let (start, end) = range(r.start_ms, r.end_ms)?;
        let st = Arc::clone(&self.0);
        let names = blocking(move || {
            crate::lookup::label_names(&st.engine, &sels, start, end).map_err(storage)
        })
        .await?;
        Ok(Response::new(v1::LabelNamesResponse {
            names: limited(names, r.limit),
        }))
    }

    async fn label_values(
        &self,
        request: Request<v1::LabelValuesRequest>,
    ) -> Result<Response<v1::LabelValuesResponse>, Status> {
        let id = authorize(&self.0, &request)?;
        let r = request.into_inner();
        if !nines_engine::is_valid_label_name(&r.name) {
            return Err(Status::invalid_argument(format!(
                "invalid label name: {:?}",
                r.name
            )));
        }
        let mut sels = selectors(&r.matchers)?;
        crate::auth::scope_selector_sets(&mut sels, id.tenant.as_deref());
        let (start, end) = range(r.start_ms, r.end_ms)?;
        let st = Arc::clone(&self.0);
        let name = r.name;
        let values = blocking(move || {
            crate::lookup::label_values(&st.engine, &name, &sels, start, end).map_err(storage)
        })
        .await?;
        Ok(Response::new(v1::LabelValuesResponse {
            values: limited(values, r.limit),
        }))
    }
}
