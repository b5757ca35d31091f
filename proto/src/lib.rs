//! The `nines.v1` protobuf contract: `Ingest` (columnar writes) and `Query`
//! (the Prometheus HTTP API's questions, typed). The `.proto` files under
//! `proto/nines/v1/` are the documentation of every field;
//! docs/format/grpc.md explains the contract.

#![forbid(unsafe_code)]
#![allow(clippy::all, missing_docs)]

pub mod v1 {
    tonic::include_proto!("nines.v1");
}

/// Prometheus's remote-write 1.0 messages (`proto/prometheus/remote.proto`).
pub mod prometheus {
    tonic::include_proto!("prometheus");
}
