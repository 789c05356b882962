//! The `tcphub` command line: usage errors (exit code 2, before anything
//! runs) and addresses it cannot use, named in one line.

mod support;

use std::io::Read;
use std::process::Stdio;

use support::*;

#[test]
fn send_to_a_closed_port_names_the_address() {
    // Bound, not listening, held: refused, and no other test's server can
    // take the port meanwhile.
    let held = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    held.bind(
        &"127.0.0.1:0"
            .parse::<std::net::SocketAddr>()
            .unwrap()
            .into(),
    )
    .unwrap();
    let port = held.local_addr().unwrap().as_socket().unwrap().port();
    let out = send_cmd(&format!("127.0.0.1:{port}"), &["x"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "cannot connect to 127.0.0.1:{port}: connection refused"
        )),
        "{stderr}"
    );
}

#[test]
fn an_address_that_does_not_resolve_is_named() {
    // A label over 63 bytes fails to resolve without asking any name
    // server (the resolver cannot encode the query). (A port out of range,
    // which this used, is a usage error now: see below.)
    let addr = format!("{}.invalid:80", "a".repeat(64));
    let out = send_cmd(&addr, &["x"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("tcphub: cannot resolve {addr}: ")),
        "{stderr}"
    );
}

#[test]
fn an_address_without_a_port_says_so() {
    // Before: "cannot resolve ::1: failed to lookup address information"
    // (std split "::1" at its last colon and looked up ":"), and "invalid
    // socket address" for the others.
    // And "cannot resolve 127.0.0.1:: invalid port value", exit code 1, for
    // an empty port.
    for addr in [
        "::1",
        "[::1]",
        "127.0.0.1",
        "localhost",
        "127.0.0.1:",
        "[::1]:",
        "localhost:",
    ] {
        let out = send_cmd(addr, &["x"]);
        // A usage error (exit code 2, as clap's own), before any attempt.
        assert_eq!(out.status.code(), Some(2), "{addr}: {out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.starts_with(&format!(
                "tcphub: {addr}: no port (expected HOST:PORT, e.g. "
            )),
            "{addr}: {stderr}"
        );
    }
}

/// Not an address at all: a usage error, not "cannot resolve" (exit 1)
/// as if a host name had failed to resolve.
#[test]
fn an_address_of_no_form_is_a_usage_error() {
    for addr in ["[::1]80", "1.2.3.4:80:90", "[::1"] {
        let out = send_cmd(addr, &["x"]);
        assert_eq!(out.status.code(), Some(2), "{addr}: {out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.starts_with(&format!("tcphub: {addr}: not an address (")),
            "{addr}: {stderr}"
        );
    }
}

/// A host in numbers and dots that is no IPv4 address: the resolver reads
/// "127.0.0.010" as 127.0.0.8 (octal), so it is refused before any attempt
/// (before: connected to 127.0.0.8), as the library's client refuses it.
#[test]
fn a_numeric_host_that_is_no_ipv4_address_is_a_usage_error() {
    for addr in ["127.0.0.010:8001", "127.1:8001", "2130706433:8001"] {
        for cmd in ["send", "connect"] {
            let out = with_address(cmd, addr);
            assert_eq!(out.status.code(), Some(2), "{cmd} {addr}: {out:?}");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                stderr.starts_with(&format!("tcphub: {addr}: the host ")),
                "{cmd} {addr}: {stderr}"
            );
            assert!(stderr.contains("no IPv4 address"), "{cmd} {addr}: {stderr}");
        }
    }
}

#[test]
fn an_address_without_a_host_says_so() {
    // Before: "tcphub: : no port (…)" for an empty address, and a resolver
    // error ("cannot resolve :8001: …") for a missing host.
    for (addr, says) in [
        (
            "",
            "tcphub: no server address given (expected HOST:PORT, e.g. ",
        ),
        (":8001", "tcphub: :8001: no host (expected HOST:PORT, e.g. "),
    ] {
        for cmd in ["send", "connect"] {
            let out = with_address(cmd, addr);
            assert_eq!(out.status.code(), Some(2), "{cmd} {addr:?}: {out:?}");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(stderr.starts_with(says), "{cmd} {addr:?}: {stderr}");
        }
    }
}

#[test]
fn send_with_a_bad_wait_reply_fails_before_sending_anything() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let out = bin()
        .args([
            "send",
            &format!("127.0.0.1:{port}"),
            "hello",
            "--wait-reply=-1",
        ])
        .output()
        .expect("run tcphub send");
    assert!(!out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("'--wait-reply <SECS>': must be"),
        "{stderr}"
    );
    // A usage error: the message must not have gone out.
    l.set_nonblocking(true).unwrap();
    if let Ok((mut s, _)) = l.accept() {
        s.set_nonblocking(false).unwrap();
        s.set_read_timeout(Some(WAIT)).unwrap();
        let mut got = String::new();
        let _ = s.read_to_string(&mut got);
        assert_eq!(got, "", "sent although the command failed");
    }
}

#[test]
fn a_busy_poll_over_a_second_is_a_usage_error() {
    // Before: `--busy-poll-us 18446744073709551615` was taken, and every
    // loop spun for good after its first wakeup (a core each, no clients).
    for value in ["1000001", "18446744073709551615"] {
        let stderr = usage_error_of(&["serve", "--port", "0", "--busy-poll-us", value]);
        assert!(
            stderr.contains(&format!(
                "invalid value '{value}' for '--busy-poll-us <MICROS>'"
            )),
            "{value}: {stderr}"
        );
    }
}

#[test]
fn threads_past_the_servers_bound_are_a_usage_error() {
    // Before: `--threads 99999` passed the flag's check and the server
    // refused to start ("invalid configuration", exit code 1).
    let too_many = (tcphub::MAX_THREADS + 1).to_string();
    let stderr = usage_error_of(&["serve", "--port", "0", "--threads", &too_many]);
    assert!(
        stderr.contains(&format!(
            "invalid value '{too_many}' for '--threads <THREADS>': must be a whole number from 1 to {}",
            tcphub::MAX_THREADS
        )),
        "{stderr}"
    );
}

#[test]
fn bad_seconds_are_usage_errors() {
    // Like every other bad value (and as `python -m tcphub serve` does):
    // exit code 2, the flag and the value named, before anything runs.
    for args in [
        &["serve", "--port", "0", "--idle-timeout", "0"][..],
        &["serve", "--port", "0", "--idle-timeout", "-1"],
        &["serve", "--port", "0", "--frame-timeout", "0"],
        &["serve", "--port", "0", "--keepalive", "0"],
        &["serve", "--port", "0", "--keepalive", "32768"],
        &["serve", "--port", "0", "--stats", "nan"],
        &["serve", "--port", "0", "--stats", "1e300"],
        &["connect", "127.0.0.1:9", "--quiet-after-eof", "-1"],
        &["connect", "127.0.0.1:9", "--keepalive", "0"],
        &["connect", "127.0.0.1:9", "--keepalive", "40000"],
        &["send", "127.0.0.1:9", "hi", "--wait-reply", "inf"],
    ] {
        let stderr = usage_error_of(args);
        let flag = args[args.len() - 2];
        let value = args[args.len() - 1];
        assert!(
            stderr.contains(&format!("invalid value '{value}' for '{flag} <SECS>'")),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn seconds_out_of_range_say_why() {
    // Before: `--wait-reply inf` was "must be a number of seconds, 0 or
    // more", `--idle-timeout 1e300` and `1e-12` "must be a positive number
    // of seconds": all three are.
    for (args, says) in [
        (
            &["send", "127.0.0.1:9", "hi", "--wait-reply", "inf"][..],
            "must be a finite number of seconds below 1.8446744073709552e19",
        ),
        (
            &["serve", "--port", "0", "--idle-timeout", "1e300"],
            "must be a finite number of seconds below 1.8446744073709552e19",
        ),
        (
            &["serve", "--port", "0", "--idle-timeout", "1e-12"],
            "must be a positive number of seconds, 1e-9 at least",
        ),
        (
            &["serve", "--port", "0", "--idle-timeout", "-1"],
            "must be a positive number of seconds\n",
        ),
        (
            &["send", "127.0.0.1:9", "hi", "--wait-reply", "-1"],
            "must be a number of seconds, 0 or more",
        ),
    ] {
        let stderr = usage_error_of(args);
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}

#[test]
fn readme_usage_names_every_flag_of_each_command() {
    // The README's usage block is what people copy: every flag `--help`
    // lists must be in its line(s) for that command.
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("read README.md");
    let block = readme
        .split("The command:\n\n```text\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("usage block in README.md");
    for cmd in ["serve", "connect", "send"] {
        // A command's usage runs from its "tcphub CMD" line to the next one.
        let usage: String = block
            .split("tcphub ")
            .filter(|part| part.starts_with(cmd))
            .collect();
        let help = bin().args([cmd, "--help"]).output().expect("run --help");
        let help = String::from_utf8_lossy(&help.stdout);
        for flag in help
            .split_whitespace()
            .filter(|w| w.starts_with("--") && w.len() > 2)
            .map(|w| w.trim_end_matches(|c: char| !c.is_alphanumeric()))
        {
            if ["--help", "--verbose"].contains(&flag) {
                continue;
            }
            assert!(
                usage.contains(&format!("[{flag} ")),
                "README usage of `tcphub {cmd}` lacks {flag}:\n{usage}"
            );
        }
    }
}

#[test]
fn zero_max_or_threads_is_a_usage_error() {
    // The server refuses max_clients 0 and threads 0 at start: a bad value
    // like any other, exit code 2 before anything runs (was a start error,
    // exit code 1).
    for args in [
        &["serve", "--port", "0", "--max", "0"][..],
        &["serve", "--port", "0", "--threads", "0"],
    ] {
        let stderr = usage_error_of(args);
        let flag = args[args.len() - 2];
        assert!(
            stderr.contains(&format!("invalid value '0' for '{flag}")),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn send_with_a_message_over_the_frame_limit_is_a_usage_error_before_connecting() {
    // It connected first — a chat hub announced the sender joining and
    // leaving to everyone — then failed with exit code 1.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let message = "x".repeat(70_000); // over the 64 KiB line limit
    let out = send_cmd(&format!("127.0.0.1:{port}"), &[&message]);
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

#[test]
fn send_with_a_newline_under_lines_is_a_usage_error_before_connecting() {
    // Lines framing cannot carry it: it arrived as several lines.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    for (message, said) in [
        (
            "two\nlines",
            "tcphub: message contains a newline, which Lines framing cannot carry",
        ),
        (
            "trailing\n",
            "tcphub: message ends with a newline: Lines framing adds the \\n itself",
        ),
    ] {
        let out = send_cmd(&format!("127.0.0.1:{port}"), &[message]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{message:?}: {stderr}");
        assert!(stderr.contains(said), "{message:?}: {stderr}");
    }
    l.set_nonblocking(true).unwrap();
    let connected = l.accept();
    assert!(connected.is_err(), "it connected: {connected:?}");
}

#[test]
fn a_port_that_no_server_has_is_a_usage_error() {
    // Before: port 0 said "tcphub: invalid configuration: cannot connect to
    // 127.0.0.1:0: port 0 is no server's port" and a port past 65535 (or
    // not a number) "cannot resolve …: invalid port value", both exit code
    // 1, though the command line cannot work (README: a usage error, exit
    // code 2, as an address without a port).
    for addr in [
        "127.0.0.1:0",
        "[::1]:0",
        "localhost:0",
        "127.0.0.1:65536",
        "127.0.0.1:99999",
        "[::1]:70000",
        "127.0.0.1:http",
        "127.0.0.1:-1",
    ] {
        for cmd in ["send", "connect"] {
            let out = with_address(cmd, addr);
            assert_eq!(out.status.code(), Some(2), "{cmd} {addr}: {out:?}");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                stderr.starts_with(&format!("tcphub: {addr}: ")) && stderr.contains("1 to 65535"),
                "{cmd} {addr}: {stderr}"
            );
            assert_eq!(stderr.lines().count(), 1, "{cmd} {addr}: {stderr}");
        }
    }
}

/// `tcphub send ADDR x` or `tcphub connect ADDR`, stdin empty.
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

#[test]
fn a_per_ip_v6_prefix_outside_1_to_128_is_a_usage_error() {
    for value in ["0", "129", "300"] {
        let stderr = usage_error_of(&["serve", "--port", "0", "--per-ip-v6-prefix", value]);
        assert!(
            stderr.contains("--per-ip-v6-prefix <BITS>"),
            "{value}: {stderr}"
        );
    }
}

#[test]
fn a_per_ip_v6_prefix_without_max_per_ip_is_a_usage_error() {
    // It would do nothing (no per-address limit to count for).
    let stderr = usage_error_of(&["serve", "--port", "0", "--per-ip-v6-prefix", "64"]);
    assert!(stderr.contains("--max-per-ip <N>"), "{stderr}");
}

// From the address review (review_nh): the first thing wrong is said — the
// port's shape before the host ("127.0.0.010:" lacks its port, as
// "127.0.0.010:abc" was already told its bad port).

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
