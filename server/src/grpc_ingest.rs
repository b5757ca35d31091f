//! The `nines.v1.Ingest` service routed by hand, so that a `WriteRequest` is
//! decoded by [`crate::decode`] straight from the received bytes into an
//! engine batch instead of through prost's message types. Paths, messages,
//! compression and status codes are those of `proto/nines/v1/ingest.proto`;
//! generated clients talk to it unchanged. Replies are encoded by prost.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use nines_engine::AppendOutcome;
use nines_proto::v1;
use prost::bytes::Buf;
use tonic::codec::{Codec, DecodeBuf, Decoder};
use tonic::codegen::{
    http, Body, BoxFuture, CompressionEncoding, Context, EnabledCompressionEncodings, Poll,
    Service, StdError,
};
use tonic::server::{ClientStreamingService, Grpc, NamedService, StreamingService, UnaryService};
use tonic::{Request, Response, Status, Streaming};
use tonic_prost::ProstEncoder;

use crate::decode::{decode_write_request_stream, DecodeErrorKind, DecodedWrite};
use crate::ingest::{self, WriteError};
use crate::state::{AppState, Overload};
use crate::stream_refs::{SharedRefs, StreamRefs};

const PROTOCOL: &str = "grpc";

/// Decodes `WriteRequest`s with the fast decoder and the server's series
/// cache (and, on a stream, the stream's numbered series), encodes
/// `WriteResponse`s with prost.
#[derive(Clone)]
pub struct WriteCodec(Arc<AppState>, Option<SharedRefs>);

#[derive(Clone)]
pub struct WriteDecoder(Arc<AppState>, Option<SharedRefs>);

impl Codec for WriteCodec {
    type Encode = v1::WriteResponse;
    type Decode = DecodedWrite;
    type Encoder = ProstEncoder<v1::WriteResponse>;
    type Decoder = WriteDecoder;

    fn encoder(&mut self) -> Self::Encoder {
        ProstEncoder::default()
    }

    fn decoder(&mut self) -> Self::Decoder {
        WriteDecoder(Arc::clone(&self.0), self.1.clone())
    }
}

/// The receive buffer of one write request (see `buffer_settings`).
const WRITE_BUFFER: usize = 512 * 1024;

impl Decoder for WriteDecoder {
    type Item = DecodedWrite;
    type Error = Status;

    /// tonic collects a message's frames in a buffer of this size, grown by
    /// doubling (a copy each time) when a frame does not fit. The server
    /// accepts frames up to 256 KiB, and an agent's write request is a few
    /// hundred KiB; 8 KiB (tonic's default) made every request copy
    /// itself five or six times over.
    fn buffer_settings(&self) -> tonic::codec::BufferSettings {
        tonic::codec::BufferSettings::new(WRITE_BUFFER, 32 * 1024)
    }

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<DecodedWrite>, Status> {
        let n = src.remaining();
        let cache = Some(&self.0.series_cache);
        // What a request may decode to: compact series and one-byte packed
        // timestamps take more memory than wire bytes.
        let limit = self.0.config.limits.max_request_bytes.saturating_mul(2);
        let mut refs = self.1.as_ref().map(|r| r.lock());
        let refs = refs.as_deref_mut();
        // tonic hands one contiguous message; copy only if it ever is not.
        let res = if src.chunk().len() == n {
            let r = decode_write_request_stream(src.chunk(), cache, limit, refs);
            src.advance(n);
            r
        } else {
            decode_write_request_stream(&src.copy_to_bytes(n), cache, limit, refs)
        };
        res.map(Some).map_err(|e| match e.kind {
            DecodeErrorKind::TooLarge(_) => {
                self.0.metrics.write_request(PROTOCOL, "bad_request");
                Status::resource_exhausted(format!(
                    "WriteRequest too large: {e} (the limit is twice limits.max_request_bytes)"
                ))
            }
            _ => {
                self.0.metrics.write_request(PROTOCOL, "bad_request");
                Status::invalid_argument(format!("malformed WriteRequest: {e}"))
            }
        })
    }
}

/// Admits and stores one decoded batch (of a stream with `refs`).
async fn write_one(
    st: &Arc<AppState>,
    decoded: DecodedWrite,
    tenant: Option<&str>,
    refs: Option<&SharedRefs>,
) -> Result<AppendOutcome, Status> {
    let DecodedWrite {
        mut batch,
        mut misses,
    } = decoded;
    if let Some(t) = tenant {
        // The cache holds the label sets as sent, without the tenant.
        crate::auth::scope_batch(&mut batch, t);
        misses.clear();
    }
    let max = st.config.limits.max_series_per_request;
    if batch.series.len() > max {
        st.metrics.write_request(PROTOCOL, "bad_request");
        return Err(Status::invalid_argument(format!(
            "{} series in one request, more than the limit of {max}; split the batch",
            batch.series.len()
        )));
    }
    let reservation = st
        .reserve(ingest::batch_bytes(&batch))
        .map_err(|e: Overload| {
            st.metrics.write_request(PROTOCOL, "overloaded");
            Status::resource_exhausted(e.to_string())
        })?;
    let refs = refs.map(|r| (Arc::clone(r), tenant.is_some()));
    let out = ingest::append_caching(st, batch, misses, refs).await;
    drop(reservation);
    match out {
        Ok(o) => {
            st.metrics.samples_grpc.fetch_add(o.accepted, Relaxed);
            let result = if o.rejected_samples > 0 {
                "rejected"
            } else {
                "ok"
            };
            st.metrics.write_request(PROTOCOL, result);
            Ok(o)
        }
        Err(WriteError::BadRequest(m)) => Err(Status::invalid_argument(m)),
        Err(WriteError::Storage(e)) => {
            st.metrics.write_request(PROTOCOL, "error");
            Err(Status::unavailable(format!("storage failed, retry: {e}")))
        }
    }
}

/// Every `Ingest` call needs a writer (or admin) token.
fn writer(
    st: &AppState,
    meta: &tonic::metadata::MetadataMap,
) -> Result<crate::auth::Identity, Status> {
    crate::grpc_auth(st, meta, crate::auth::Role::Writer, true, "Ingest")
}

struct WriteSvc(Arc<AppState>);

impl UnaryService<DecodedWrite> for WriteSvc {
    type Response = v1::WriteResponse;
    type Future = BoxFuture<Response<v1::WriteResponse>, Status>;

    fn call(&mut self, request: Request<DecodedWrite>) -> Self::Future {
        let st = Arc::clone(&self.0);
        Box::pin(async move {
            let id = writer(&st, request.metadata())?;
            let o = write_one(&st, request.into_inner(), id.tenant.as_deref(), None).await?;
            Ok(Response::new(ingest::outcome_to_proto(&o)))
        })
    }
}

struct WriteStreamSvc(Arc<AppState>, SharedRefs);

impl ClientStreamingService<DecodedWrite> for WriteStreamSvc {
    type Response = v1::WriteResponse;
    type Future = BoxFuture<Response<v1::WriteResponse>, Status>;

    fn call(&mut self, request: Request<Streaming<DecodedWrite>>) -> Self::Future {
        let st = Arc::clone(&self.0);
        let refs = Arc::clone(&self.1);
        Box::pin(async move {
            let id = writer(&st, request.metadata())?;
            let mut stream = request.into_inner();
            let mut total = v1::WriteResponse::default();
            // Each batch is durable before the next one is read.
            while let Some(batch) = stream.message().await? {
                let o = write_one(&st, batch, id.tenant.as_deref(), Some(&refs)).await?;
                ingest::add_outcome(&mut total, &o);
            }
            Ok(Response::new(total))
        })
    }
}

struct WriteSessionSvc(Arc<AppState>, SharedRefs);

/// Answers in flight on a session: the handler stores the next batch
/// while the one before's answer is being sent.
const SESSION_ANSWERS: usize = 2;

impl StreamingService<DecodedWrite> for WriteSessionSvc {
    type Response = v1::WriteResponse;
    type ResponseStream = tokio_stream::wrappers::ReceiverStream<Result<v1::WriteResponse, Status>>;
    type Future = BoxFuture<Response<Self::ResponseStream>, Status>;

    fn call(&mut self, request: Request<Streaming<DecodedWrite>>) -> Self::Future {
        let st = Arc::clone(&self.0);
        let refs = Arc::clone(&self.1);
        Box::pin(async move {
            let id = writer(&st, request.metadata())?;
            let mut stream = request.into_inner();
            let (tx, rx) = tokio::sync::mpsc::channel(SESSION_ANSWERS);
            tokio::spawn(async move {
                // Each batch is answered once durable, in order; the first
                // failure (a malformed or refused batch, an overload) ends
                // the session with its status, as a unary Write's would.
                loop {
                    let answer = match stream.message().await {
                        Ok(Some(batch)) => write_one(&st, batch, id.tenant.as_deref(), Some(&refs))
                            .await
                            .map(|o| ingest::outcome_to_proto(&o)),
                        Ok(None) => break,
                        Err(s) => Err(s),
                    };
                    let failed = answer.is_err();
                    if tx.send(answer).await.is_err() || failed {
                        break;
                    }
                }
            });
            Ok(Response::new(tokio_stream::wrappers::ReceiverStream::new(
                rx,
            )))
        })
    }
}

/// The tower service for `nines.v1.Ingest`, added to tonic's router like a
/// generated server.
#[derive(Clone)]
pub struct IngestServer {
    state: Arc<AppState>,
    accept: EnabledCompressionEncodings,
    max_decoding_message_size: Option<usize>,
}

impl IngestServer {
    pub fn new(state: Arc<AppState>) -> Self {
        IngestServer {
            state,
            accept: EnabledCompressionEncodings::default(),
            max_decoding_message_size: None,
        }
    }

    /// Largest request accepted (tonic's default: 4 MiB).
    #[must_use]
    pub fn max_decoding_message_size(mut self, limit: usize) -> Self {
        self.max_decoding_message_size = Some(limit);
        self
    }

    #[must_use]
    pub fn accept_compressed(mut self, encoding: CompressionEncoding) -> Self {
        self.accept.enable(encoding);
        self
    }

    /// A call's codec: `refs` on a stream.
    fn grpc(&self, refs: Option<SharedRefs>) -> Grpc<WriteCodec> {
        Grpc::new(WriteCodec(Arc::clone(&self.state), refs))
            .apply_compression_config(self.accept, EnabledCompressionEncodings::default())
            .apply_max_message_size_config(self.max_decoding_message_size, None)
    }
}

impl NamedService for IngestServer {
    const NAME: &'static str = "nines.v1.Ingest";
}

impl<B> Service<http::Request<B>> for IngestServer
where
    B: Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = std::convert::Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let st = Arc::clone(&self.state);
        let stream_refs = || {
            let gauges = Arc::clone(&st.metrics.write_streams);
            Arc::new(parking_lot::Mutex::new(StreamRefs::counted(gauges)))
        };
        match req.uri().path() {
            "/nines.v1.Ingest/Write" => {
                let mut grpc = self.grpc(None);
                Box::pin(async move { Ok(grpc.unary(WriteSvc(st), req).await) })
            }
            "/nines.v1.Ingest/WriteStream" => {
                let refs = stream_refs();
                let mut grpc = self.grpc(Some(Arc::clone(&refs)));
                let svc = WriteStreamSvc(st, refs);
                Box::pin(async move { Ok(grpc.client_streaming(svc, req).await) })
            }
            "/nines.v1.Ingest/WriteSession" => {
                let refs = stream_refs();
                let mut grpc = self.grpc(Some(Arc::clone(&refs)));
                let svc = WriteSessionSvc(st, refs);
                Box::pin(async move { Ok(grpc.streaming(svc, req).await) })
            }
            other => {
                let status = Status::unimplemented(format!("no method {other}"));
                Box::pin(async move { Ok(status.into_http()) })
            }
        }
    }
}
