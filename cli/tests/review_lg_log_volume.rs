//! Review lg: what `tcphub serve` logs for one client's own behaviour, at
//! its default level. A chat line that fits the frame limit but not with
//! the address prefix is not relayed, and its sender is told; the hub
//! also logged a warning for every such line: one client sending them
//! wrote a warning per message, without bound (1,938 for 2,000 lines).

mod support;

use std::sync::mpsc;
use std::time::Instant;

use support::*;

/// Every line the hub wrote to stderr until it exited.
fn rest_of_log(log: &mpsc::Receiver<String>) -> Vec<String> {
    let deadline = Instant::now() + WAIT;
    let mut lines = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match log.recv_timeout(left) {
            Ok(l) => lines.push(l),
            Err(mpsc::RecvTimeoutError::Disconnected) => return lines,
            Err(mpsc::RecvTimeoutError::Timeout) => panic!("stderr not closed: {lines:#?}"),
        }
    }
}

/// Sends `n` lines too long for the prefix, reads the `n` notices, stops
/// the hub: its log lines about them.
fn not_relayed_lines(verbose: &[&str], n: usize) -> Vec<String> {
    let mut args = vec!["--mode", "chat"];
    args.extend_from_slice(verbose);
    let mut hub = Hub::start(&args);
    let mut c = hub.connect();
    c.line(); // its own join notice
    let long = "z".repeat(tcphub::DEFAULT_MAX_LINE - 2);
    for _ in 0..n {
        c.send(&long);
        let notice = c.line();
        assert!(notice.starts_with("message not relayed"), "{notice}");
    }
    let status = hub.terminate();
    assert!(status.success(), "{status:?}");
    rest_of_log(&hub.log)
        .into_iter()
        .filter(|l| l.contains("not relayed"))
        .collect()
}

#[test]
fn review_lg_a_client_s_lines_too_long_to_relay_are_not_a_warning_each() {
    const LINES: usize = 20;
    let logged = not_relayed_lines(&[], LINES);
    assert!(logged.len() <= 1, "{} lines: {logged:#?}", logged.len());
    assert!(
        logged.iter().all(|l| !l.contains("WARN")),
        "a client's own long line is no trouble of the hub's: {logged:#?}"
    );
    // Still there at -v, naming the client and the sizes.
    let verbose = not_relayed_lines(&["-v"], 2);
    assert!(!verbose.is_empty(), "not even at -v");
    assert!(
        verbose[0].contains('#') && verbose[0].contains("127.0.0.1:"),
        "{verbose:?}"
    );
    assert!(
        verbose[0].contains(&tcphub::DEFAULT_MAX_LINE.to_string()),
        "{verbose:?}"
    );
}

/// The joins and leaves (a line each per client at the default level) have
/// a log target of their own, so an operator can leave them out and keep
/// the rest: `RUST_LOG=info,tcphub::serve::clients=warn`.
#[test]
fn review_lg_joins_and_leaves_can_be_left_out_of_the_log_alone() {
    let run = |env: &[(&str, &str)]| {
        let mut hub = Hub::start_with_env("127.0.0.1", &["--mode", "chat"], env);
        let mut c = hub.connect();
        c.line(); // its own join notice: the join is behind
        drop(c);
        let status = hub.terminate();
        assert!(status.success(), "{status:?}");
        rest_of_log(&hub.log)
    };
    let all = run(&[("RUST_LOG", "info")]);
    assert!(all.iter().any(|l| l.contains("connected")), "{all:#?}");
    let quiet = run(&[("RUST_LOG", "info,tcphub::serve::clients=warn")]);
    assert!(
        !quiet.iter().any(|l| l.contains("connected")),
        "joins and leaves still logged: {quiet:#?}"
    );
    assert!(
        quiet.iter().any(|l| l.contains("stopping")),
        "the rest of the info lines went too: {quiet:#?}"
    );
}
