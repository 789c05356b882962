//! The committed `include/tcphub.h` must be exactly what cbindgen (pinned
//! in the workspace `Cargo.toml`) generates from this crate, so the header
//! and the library can never drift apart.
//!
//! After changing the C API, regenerate it with
//! `TCPHUB_BLESS=1 cargo test -p tcphub-ffi --test header`.

use std::path::Path;

#[test]
fn committed_header_matches_cbindgen_output() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config =
        cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("read cbindgen.toml");
    // `with_src` parses `lib.rs` and the modules it declares without running
    // `cargo metadata`, so the test needs no network and no cargo lock.
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(dir.join("src/lib.rs"))
        .generate()
        .expect("cbindgen generates the header");
    let mut generated = Vec::new();
    bindings.write(&mut generated);
    let generated = String::from_utf8(generated).expect("the header is UTF-8");

    let path = dir.join("../include/tcphub.h");
    if std::env::var_os("TCPHUB_BLESS").is_some() {
        std::fs::write(&path, &generated).expect("write include/tcphub.h");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != generated {
        let first = committed
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| committed.lines().count().min(generated.lines().count()));
        panic!(
            "include/tcphub.h is out of date (first difference at line {}).\n\
             Regenerate it with: TCPHUB_BLESS=1 cargo test -p tcphub-ffi --test header",
            first + 1
        );
    }
}
