//! Review (CLI): a `--wait-reply` the parser takes — any finite number of
//! seconds below `Duration::MAX` — must not crash `tcphub send`.

mod support;

use support::*;

/// `--wait-reply 1e19` (accepted: below 1.8e19) panicked with "overflow
/// when adding duration to instant" (exit code 101) after the message had
/// gone, instead of printing the echo.
#[test]
fn send_with_a_huge_wait_reply_prints_the_reply() {
    for framing in ["lines", "raw"] {
        let mut hub = Hub::start(&["--mode", "echo", "--framing", framing]);
        let addr = format!("127.0.0.1:{}", hub.port);
        let out = send_cmd(
            &addr,
            &["ping", "--wait-reply", "1e19", "--framing", framing],
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{framing}: {stderr}");
        assert!(!stderr.contains("panicked"), "{framing}: {stderr}");
        let want = if framing == "raw" { "ping" } else { "ping\n" };
        assert_eq!(String::from_utf8_lossy(&out.stdout), want, "{framing}");
        hub.terminate();
    }
}
