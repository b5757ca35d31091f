//! Compiles the .proto files with protox (pure Rust): no system `protoc`
//! is needed to build nines.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = [
        "nines/v1/types.proto",
        "nines/v1/ingest.proto",
        "nines/v1/query.proto",
        "nines/v1/annotations.proto",
        "nines/v1/slos.proto",
        "nines/v1/reports.proto",
        "prometheus/remote.proto",
    ];
    for f in files {
        println!("cargo:rerun-if-changed={f}");
    }
    let fds = protox::compile(files, ["."])?;
    tonic_prost_build::configure().compile_fds(fds)?;
    Ok(())
}
