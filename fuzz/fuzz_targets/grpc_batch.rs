//! The gRPC `Ingest` request reader (`nines.v1.WriteRequest`, columnar
//! batches, plain and compact series) on arbitrary bytes: it never panics;
//! whatever it accepts, prost accepts and the prost path turns into the
//! same batch; and the batch encodes back, in either form, to a request
//! that decodes to itself.

#![no_main]

use libfuzzer_sys::fuzz_target;
use nines_fuzz::key;
use nines_proto::v1;
use nines_server::decode::decode_write_request_fast;
use nines_server::ingest::{batch_from_grpc, compact_request, kind_to_proto, labels_to_proto};
use prost::Message;

fuzz_target!(|data: &[u8]| {
    let Ok(batch) = decode_write_request_fast(data) else {
        return;
    };
    let req = v1::WriteRequest::decode(data).expect("the fast reader accepted what prost refuses");
    let reference = batch_from_grpc(req, usize::MAX).expect("no series limit");
    assert_eq!(key(&batch.series), key(&reference.series));

    let again = v1::WriteRequest {
        series: batch
            .series
            .iter()
            .map(|s| v1::SeriesSamples {
                labels: labels_to_proto(&s.labels),
                kind: kind_to_proto(s.kind) as i32,
                timestamps: s.timestamps.clone(),
                values: s.values.clone(),
            })
            .collect(),
        ..Default::default()
    };
    let back = decode_write_request_fast(&again.encode_to_vec())
        .unwrap_or_else(|e| panic!("a re-encoded batch fails: {e}"));
    assert_eq!(key(&back.series), key(&batch.series));
    let compact = decode_write_request_fast(&compact_request(&batch.series).encode_to_vec())
        .unwrap_or_else(|e| panic!("a compact re-encoded batch fails: {e}"));
    assert_eq!(key(&compact.series), key(&batch.series));
});
