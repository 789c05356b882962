//! `tcphub connect` / `send` with a server address it cannot use: a usage
//! error (exit code 2) that says what is wrong with it, and, when several
//! things are, the first a reader would fix — the port's shape before the
//! host: "127.0.0.010:" lacks its port (it said "no IPv4 address"), as
//! "127.0.0.010:abc" was already told its bad port.

mod support;

use std::process::Stdio;

use support::*;

fn with_address(cmd: &str, addr: &str) -> std::process::Output {
    let mut args = vec![cmd, addr];
    if cmd == "send" {
        args.push("x");
    }
    bin()
        .args(&args)
        .stdin(Stdio::null())
        .output()
        .expect("run tcphub")
}

/// Runs both commands on `addr`: exit code 2 and a stderr starting with
/// `says`, without `not`.
fn usage_error(addr: &str, says: &str, not: &str) {
    for cmd in ["send", "connect"] {
        let out = with_address(cmd, addr);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{cmd} {addr}: {stderr}");
        assert!(
            stderr.starts_with(&format!("tcphub: {addr}: {says}")),
            "{cmd} {addr}: wanted {says:?}: {stderr}"
        );
        assert!(!stderr.contains(not), "{cmd} {addr}: not {not:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{cmd} {addr}: {stderr}");
    }
}

/// A host in numbers and dots that is no IPv4 address is refused for what
/// is wrong with it, as the library's client refuses it: not "a leading
/// zero as octal" for a part over 255 or one that is no octal number.
#[test]
fn a_numeric_host_is_refused_for_what_is_wrong_with_it() {
    for (addr, says, not) in [
        (
            "256.1.1.1:8001",
            "the host \"256.1.1.1\" is no IPv4 address: 256 is over 255",
            "octal",
        ),
        (
            "127.0.0.08:8001",
            "the host \"127.0.0.08\" is no IPv4 address: \"08\" has a leading zero",
            "octal",
        ),
        (
            "127.0.0.010:8001",
            "the host \"127.0.0.010\" is no IPv4 address: \"010\" has a leading zero, \
             which the system's resolver reads as octal (8)",
            "over 255",
        ),
    ] {
        usage_error(addr, says, not);
    }
}

/// A missing port is said first, whatever the host: the port is what the
/// command cannot do without, and a bad port was already said first.
#[test]
fn a_missing_port_is_said_before_anything_about_the_host() {
    for addr in [
        "127.0.0.010:",
        "256.1.1.1:",
        "127.0.0.1:",
        "[::1]:",
        "localhost:",
    ] {
        usage_error(addr, "no port (expected HOST:PORT, e.g. ", "IPv4");
    }
    for (addr, says) in [
        (":80", "no host (expected HOST:PORT"),
        (
            "host:abc",
            "bad port abc: a port is a number from 1 to 65535",
        ),
        (
            "host:70000",
            "bad port 70000: a port is a number from 1 to 65535",
        ),
        (
            "127.0.0.010:abc",
            "bad port abc: a port is a number from 1 to 65535",
        ),
        (
            "256.1.1.1:0",
            "bad port 0: a port is a number from 1 to 65535",
        ),
    ] {
        usage_error(addr, says, "IPv4");
    }
}
