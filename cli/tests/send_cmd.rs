//! End-to-end tests of `tcphub send`'s command line.

mod support;

use support::*;

#[test]
fn send_with_a_message_over_the_frame_limit_is_a_usage_error_before_connecting() {
    // It connected first — a chat hub announced the sender joining and
    // leaving to everyone — then failed with exit code 1.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let message = "x".repeat(70_000); // over the 64 KiB line limit
    let out = bin()
        .args(["send", &format!("127.0.0.1:{port}"), &message])
        .output()
        .expect("run tcphub send");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("tcphub: message of 70000 bytes exceeds the frame limit of 65536 bytes"),
        "{stderr}"
    );
    // A completed connect is in the listener's queue by the time the
    // command has exited.
    l.set_nonblocking(true).unwrap();
    let connected = l.accept();
    assert!(connected.is_err(), "it connected: {connected:?}");
}
