//! What authentication costs a write request: `Authenticator::authorize`
//! (SHA-256 of the bearer token, a hash-map lookup, the role check) with
//! ten tokens configured, against the tenant scoping of a 10,000-sample
//! batch. The end-to-end comparison is `ingest-load --auth both`, whose
//! run-to-run noise on a shared 2-core VM (±20 %) is far above the 2 %
//! target; this isolates the added work.
//!
//! `cargo bench -p nines-benches --bench auth`

use criterion::{criterion_group, criterion_main, Criterion};
use nines_server::auth::{hash_secret, AuthConfig, Authenticator, Role, TokenConfig};

fn bench(c: &mut Criterion) {
    let tokens = (0..10)
        .map(|i| TokenConfig {
            name: format!("agent-{i}"),
            role: if i % 2 == 0 {
                Role::Writer
            } else {
                Role::Reader
            },
            sha256: hash_secret(&format!("nines_{i:064x}")),
            tenant: None,
        })
        .collect();
    let auth = Authenticator::new(&AuthConfig { tokens }).expect("tokens");
    let header = format!("Bearer nines_{:064x}", 4);
    c.bench_function("auth/authorize_writer", |b| {
        b.iter(|| {
            auth.authorize(Some(std::hint::black_box(header.as_bytes())), Role::Writer)
                .expect("authorized")
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
