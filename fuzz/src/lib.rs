//! Fuzz targets for `tcphub`'s decoders, and the reference model they are
//! checked against.
//!
//! Not a member of the main workspace (it has its own `[workspace]`), so
//! `cargo test --workspace` does not build it. Run it with `scripts/fuzz.sh`:
//! `cargo fuzz` on a nightly toolchain, else the stable harness
//! (`cargo run --release --bin fuzz_stable`).

pub mod model;
pub mod targets;
