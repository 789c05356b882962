//! Review en (environment): the CLI tests read what `tcphub` logs and
//! prints, and `tcphub` takes its log filter and colours from the
//! environment, which the tests passed on from whoever ran them. Under
//! `RUST_LOG=warn` (as some CI machines set it) no hub test saw the
//! "listening on" line it waits for; `RUST_LOG=debug` added lines to those
//! counted; `CLICOLOR_FORCE=1` put escape codes into the usage errors
//! compared as text. The tests' `bin()` leaves those settings out: set
//! here, nothing the tests read changes.
//!
//! Alone in its binary: it sets this process's environment before any
//! other thread could read it.

mod support;

use support::*;

#[test]
fn review_en_the_callers_log_and_colour_settings_do_not_reach_the_tested_binary() {
    for (var, value) in [
        ("RUST_LOG", "warn"),
        ("RUST_LOG_STYLE", "always"),
        ("CLICOLOR_FORCE", "1"),
    ] {
        std::env::set_var(var, value);
    }
    // A usage error is plain text, as the usage tests compare it.
    let stderr = usage_error_of(&["serve", "--bind", "127.0.0.1", "--threads", "-1"]);
    assert!(!stderr.contains('\x1b'), "{stderr:?}");
    assert!(stderr.contains("from 1 to 4096"), "{stderr:?}");
    // A hub says where it listens (an info line), uncoloured.
    let mut hub = Hub::start(&["--mode", "echo"]);
    let mut c = hub.connect();
    c.send("ping");
    c.expect("ping");
    drop(c);
    assert!(hub.terminate().success());
    let stopped = wait_line(&hub.log, |l| l.contains("stopped:"));
    assert!(!stopped.contains('\x1b'), "{stopped:?}");
}
