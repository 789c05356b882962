//! Review sg: `tcphub send ADDR -h` prints the help (a message that is one
//! of the command's own options is read as it, as commands do); `--`
//! before it sends it, as `send --help` says.

mod support;

use support::*;

#[test]
fn send_sends_an_option_like_message_after_double_dash() {
    let hub = Hub::start(&["--mode", "echo"]);
    let out = send_cmd(
        &format!("127.0.0.1:{}", hub.port),
        &["--wait-reply", "10", "--", "-h"],
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "-h\n");
}

#[test]
fn send_help_says_how_to_send_an_option_like_message() {
    let out = bin().args(["send", "--help"]).output().expect("run tcphub");
    assert!(out.status.success(), "{out:?}");
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("tcphub send ADDR -- -h"), "{help}");
}
