//! Query execution for HTTP and gRPC. (Lands with the evaluator.)

use nines_proto::v1;
use tonic::Status;

use crate::state::AppState;

pub async fn grpc_instant(
    _st: &AppState,
    _r: v1::InstantRequest,
) -> Result<v1::QueryResponse, Status> {
    Err(Status::unimplemented(
        "BRANCH-ONLY: replaced when the evaluator merges",
    ))
}

pub async fn grpc_range(_st: &AppState, _r: v1::RangeRequest) -> Result<v1::QueryResponse, Status> {
    Err(Status::unimplemented(
        "BRANCH-ONLY: replaced when the evaluator merges",
    ))
}
