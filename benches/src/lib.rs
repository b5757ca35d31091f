//! Benchmarks and the seeded SLI workload generator.
