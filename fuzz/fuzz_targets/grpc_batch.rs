//! The gRPC `Ingest` request reader (`nines.v1.WriteRequest`, columnar
//! batches, plain and compact series) on arbitrary bytes: it never panics;
//! whatever it accepts, prost accepts and the prost path turns into the
//! same batch; and the batch encodes back, in either form, to a request
//! that decodes to itself, and, numbered on a stream, to two messages that
//! each decode to it. As one stream's messages (numbered series named in
//! one, used in the next), the bytes never panic the stream decoder.

#![no_main]

use libfuzzer_sys::fuzz_target;
use nines_fuzz::key;
use nines_proto::v1;
use nines_server::decode::{decode_write_request_fast, decode_write_request_stream};
use nines_server::ingest::{
    batch_from_grpc, compact_request, compact_request_numbered, kind_to_proto, labels_to_proto,
    SeriesNumbers,
};
use nines_server::stream_refs::StreamRefs;
use prost::Message;

fuzz_target!(|data: &[u8]| {
    let mut refs = StreamRefs::default();
    for _ in 0..2 {
        let _ = decode_write_request_stream(data, None, 64 << 20, Some(&mut refs));
    }
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

    let (mut numbers, mut refs) = (SeriesNumbers::default(), StreamRefs::default());
    for round in ["naming", "numbered"] {
        let req = compact_request_numbered(&batch.series, Some(&mut numbers)).encode_to_vec();
        let got = decode_write_request_stream(&req, None, usize::MAX, Some(&mut refs))
            .unwrap_or_else(|e| panic!("the {round} message fails: {e}"));
        assert_eq!(key(&got.batch.series), key(&batch.series), "{round}");
    }
});
