//! End-to-end tests of the `tcphub` binary over loopback: the hubs
//! (`serve`: chat, relay, echo; binding, limits, timeouts, keepalive).
//! The `send` and `connect` commands are in `cli_client.rs`, stops by
//! signal in `cli_signals.rs`.

mod support;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::process::Stdio;

use support::*;

#[test]
fn chat_three_clients_see_joins_messages_and_leaves() {
    let hub = Hub::start(&[]);
    let mut a = hub.connect();
    a.expect(&format!("client {} connected", a.addr()));
    let mut b = hub.connect();
    a.expect(&format!("client {} connected", b.addr()));
    b.expect(&format!("client {} connected", b.addr()));
    let mut c = hub.connect();
    let c_addr = c.addr();
    a.expect(&format!("client {c_addr} connected"));
    b.expect(&format!("client {c_addr} connected"));
    c.expect(&format!("client {c_addr} connected"));

    b.send("hello everyone");
    let b_addr = b.addr();
    for x in [&mut a, &mut b, &mut c] {
        x.expect(&format!("{b_addr}: hello everyone"));
    }

    let a_addr = a.addr();
    a.writer.shutdown(Shutdown::Both).expect("shutdown");
    drop(a);
    for x in [&mut b, &mut c] {
        x.expect(&format!("client {a_addr} disconnected (closed by peer)"));
    }
    wait_line(&hub.log, |l| {
        l.contains(&format!("client {a_addr} disconnected"))
    });
}

#[test]
fn relay_sends_frames_verbatim_to_everyone() {
    let hub = Hub::start(&["--mode", "relay"]);
    let mut a = hub.connect();
    let mut b = hub.connect();
    wait_line(&hub.log, |l| l.contains(&b.addr()));
    a.send("raw frame 1");
    a.expect("raw frame 1");
    b.expect("raw frame 1");
    b.send("raw frame 2");
    a.expect("raw frame 2");
    b.expect("raw frame 2");
}

#[test]
fn relay_with_length_prefixed_framing() {
    let hub = Hub::start(&["--mode", "relay", "--framing", "len"]);
    let mut a = TcpStream::connect(("127.0.0.1", hub.port)).unwrap();
    a.set_read_timeout(Some(WAIT)).unwrap();
    let mut b = TcpStream::connect(("127.0.0.1", hub.port)).unwrap();
    b.set_read_timeout(Some(WAIT)).unwrap();
    let b_addr = b.local_addr().unwrap().to_string();
    wait_line(&hub.log, |l| l.contains(&b_addr));
    a.write_all(&[0, 0, 0, 3, b'a', b'\n', b'c']).unwrap();
    for s in [&mut a, &mut b] {
        let mut buf = [0u8; 7];
        s.read_exact(&mut buf).unwrap();
        assert_eq!(buf, [0, 0, 0, 3, b'a', b'\n', b'c']);
    }
}

#[test]
fn echo_replies_to_the_sender_only() {
    let hub = Hub::start(&["--mode", "echo"]);
    let mut a = hub.connect();
    let mut b = hub.connect();
    wait_line(&hub.log, |l| l.contains(&b.addr()));
    a.send("for a");
    b.send("for b");
    a.expect("for a");
    b.expect("for b");
    // a gets nothing else: the next thing it reads is its own next echo.
    a.send("again");
    a.expect("again");
}

#[test]
fn bind_conflict_is_one_clear_line_and_nonzero_exit() {
    let hub = Hub::start(&[]);
    let out = bin()
        .args([
            "serve",
            "--bind",
            "127.0.0.1",
            "--port",
            &hub.port.to_string(),
        ])
        .output()
        .expect("run second hub");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let want = format!(
        "tcphub: cannot listen on 127.0.0.1:{}: address in use",
        hub.port
    );
    assert!(
        stderr.lines().any(|l| l == want),
        "stderr was {stderr:?}, wanted the line {want:?}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn bind_takes_an_ipv6_address_in_brackets_as_the_hub_prints_it() {
    // Before: "invalid value '[::1]' for '--bind <BIND>': invalid IP
    // address syntax", though the hub prints "listening on [::1]:PORT".
    if !have_ipv6_loopback() {
        return;
    }
    let hub = Hub::start_on("[::1]", &["--mode", "echo"]);
    assert_send_ping_echoes(&format!("[::1]:{}", hub.port));
    // A name or a zone is a usage error that says what is taken.
    for bad in ["localhost", "::1%1", "[127.0.0.1]"] {
        let out = bin()
            .args(["serve", "--bind", bad, "--port", "0"])
            .output()
            .expect("run tcphub serve");
        assert_eq!(out.status.code(), Some(2), "{bad}: {out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("must be an IP address"), "{bad}: {stderr}");
    }
}

/// A chat hub tells a connection over `--max` why it closes it, and
/// `tcphub connect` shows that notice. (Not `tcphub send`: its message can
/// reach the refused socket after the server closed it, and the reset that
/// answers it may discard the notice before it is read — TCP gives no
/// way around that for a connection refused at once.)
#[test]
fn full_chat_hub_says_so() {
    let mut hub = Hub::start(&["--max", "1"]);
    let mut a = hub.connect();
    a.expect(&format!("client {} connected", a.addr()));
    let mut refused = hub.connect();
    assert_eq!(refused.until_eof(), "server full (1 connected)\n");
    let out = bin()
        .args(["connect", &format!("127.0.0.1:{}", hub.port)])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run tcphub connect");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "server full (1 connected)\n",
        "{out:?}"
    );
    // Stopped while still full: the summary counts the refusals (the log
    // said only the first of them).
    assert!(hub.terminate().success());
    let stopped = wait_line(&hub.log, |l| l.contains("stopped:"));
    assert!(
        stopped.ends_with("2 connections refused (server full)"),
        "{stopped}"
    );
}

#[test]
fn a_chat_hub_with_max_per_ip_refuses_one_address_past_it_and_says_so() {
    let mut hub = Hub::start(&["--max", "10", "--max-per-ip", "1"]);
    let mut a = hub.connect();
    a.expect(&format!("client {} connected", a.addr()));
    let mut refused = hub.connect();
    assert_eq!(
        refused.until_eof(),
        "too many connections from your address (at most 1)\n"
    );
    let line = wait_line(&hub.log, |l| l.contains("refusing"));
    assert!(line.contains("max_clients_per_ip 1"), "{line}");
    // Another address still gets in.
    let b = std::net::TcpStream::from({
        let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        s.bind(&std::net::SocketAddr::from(([127, 0, 0, 2], 0)).into())
            .unwrap();
        s.connect(&std::net::SocketAddr::from(([127, 0, 0, 1], hub.port)).into())
            .unwrap();
        s
    });
    let b_addr = b.local_addr().unwrap();
    a.expect(&format!("client {b_addr} connected"));
    assert!(hub.terminate().success());
    let stopped = wait_line(&hub.log, |l| l.contains("stopped:"));
    assert!(
        stopped.ends_with(", 1 connection refused (too many from one address)"),
        "{stopped}"
    );
}

#[test]
fn a_hub_with_per_ip_v6_prefix_counts_ipv6_clients_by_network_and_says_which() {
    if !have_ipv6_loopback() {
        return;
    }
    let mut hub = Hub::start_on(
        "[::1]",
        &[
            "--mode",
            "relay",
            "--max-per-ip",
            "1",
            "--per-ip-v6-prefix",
            "64",
        ],
    );
    let first = std::net::TcpStream::connect(("::1", hub.port)).unwrap();
    let mut refused = std::net::TcpStream::connect(("::1", hub.port)).unwrap();
    refused.set_read_timeout(Some(WAIT)).unwrap();
    let mut got = Vec::new();
    let _ = std::io::Read::read_to_end(&mut refused, &mut got);
    assert!(got.is_empty(), "{got:?}");
    // ::1's /64 is ::/64.
    let line = wait_line(&hub.log, |l| l.contains("refusing"));
    assert!(line.contains("1 connection from ::/64 already"), "{line}");
    drop(first);
    assert!(hub.terminate().success());
}

#[test]
fn chat_tells_the_sender_when_a_line_is_too_long_to_relay() {
    // A line within the 64 KiB limit, but too long once the hub prefixes
    // the sender's address: it cannot be relayed, and it must not vanish
    // without a word — the sender is told.
    let hub = Hub::start(&[]);
    let mut a = hub.connect();
    a.expect(&format!("client {} connected", a.addr()));
    let long = "x".repeat(64 * 1024 - 4);
    a.send(&long);
    a.send("short");
    let notice = a.line();
    assert!(
        notice.contains("not relayed") && notice.contains("frame limit"),
        "{:.80}",
        notice
    );
    a.expect(&format!("{}: short", a.addr()));
}

#[test]
fn chat_stop_logs_no_warning_per_client() {
    // Stopping a chat hub reports each client as disconnected; announcing
    // that to a stopped server is a no-op, not a warning per client.
    let mut hub = Hub::start(&[]);
    let mut a = hub.connect();
    a.expect(&format!("client {} connected", a.addr()));
    let mut b = hub.connect();
    b.expect(&format!("client {} connected", b.addr()));
    a.expect(&format!("client {} connected", b.addr()));
    assert!(hub.terminate().success());
    let log: Vec<String> = hub.log.iter().collect(); // to stderr's end
    assert!(log.iter().any(|l| l.contains("stopped:")), "{log:?}");
    let warnings: Vec<&String> = log.iter().filter(|l| l.contains("WARN")).collect();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(a.until_eof(), "");
    assert_eq!(b.until_eof(), "");
}

#[test]
fn chat_with_raw_framing_ends_each_notice_with_a_newline() {
    // Raw framing writes bytes as they are: the hub's own notices must
    // carry their line end, or they run into each other and into messages.
    let hub = Hub::start(&["--framing", "raw"]);
    let mut a = hub.connect();
    let mut b = hub.connect();
    wait_line(&hub.log, |l| l.contains(&b.addr()));
    b.send("hi");
    a.expect(&format!("client {} connected", a.addr()));
    a.expect(&format!("client {} connected", b.addr()));
    a.expect(&format!("{}: hi", b.addr()));
}

#[test]
fn frame_timeout_cuts_a_client_that_never_finishes_its_line() {
    use std::io::Write;
    let hub = Hub::start(&["--mode", "echo", "--frame-timeout", "0.5"]);
    let mut slow = hub.connect();
    let mut fine = hub.connect();
    wait_line(&hub.log, |l| l.contains(&fine.addr()));
    // A line started and never ended: the hub ends the connection.
    slow.writer.write_all(b"never ends").expect("write");
    assert_eq!(slow.until_eof(), "");
    let line = wait_line(&hub.log, |l| {
        l.contains(&slow.addr()) && l.contains("disconnected")
    });
    assert!(line.contains("frame not finished in time"), "{line}");
    // Whole lines are unaffected.
    fine.send("still here");
    fine.expect("still here");
}

#[test]
fn a_chat_client_cut_off_by_a_timeout_is_told_why() {
    use std::io::Write;
    let hub = Hub::start(&["--idle-timeout", "1.5", "--frame-timeout", "0.5"]);
    let mut idle = hub.connect();
    let own = format!("client {} connected", idle.addr());
    idle.expect(&own);
    assert_eq!(
        idle.until_eof(),
        "disconnected: nothing sent for 1.5 s (idle timeout)\n"
    );
    let mut slow = hub.connect();
    slow.expect(&format!("client {} connected", slow.addr()));
    slow.writer.write_all(b"never ends").expect("write");
    assert_eq!(
        slow.until_eof(),
        "disconnected: a message not finished within 0.5 s (frame timeout)\n"
    );
    // The others still hear why, with the reason.
    let line = wait_line(&hub.log, |l| {
        l.contains(&slow.addr()) && l.contains("disconnected")
    });
    assert!(line.contains("frame not finished in time"), "{line}");
}

#[test]
fn a_chat_client_over_the_frame_limit_is_told_why() {
    let hub = Hub::start(&[]);
    let mut long = hub.connect();
    long.expect(&format!("client {} connected", long.addr()));
    let limit = tcphub::Framing::lines().max_len().unwrap();
    // A line past the limit, and more after it (read and dropped).
    let line = format!("{}\nafter\n", "x".repeat(limit + 100));
    long.writer.write_all(line.as_bytes()).expect("write");
    assert_eq!(
        long.until_eof(),
        format!("disconnected: a message over {limit} bytes (frame too large)\n")
    );
    let line = wait_line(&hub.log, |l| {
        l.contains(&long.addr()) && l.contains("disconnected")
    });
    assert!(line.contains("frame too large"), "{line}");
}

#[test]
fn a_connect_of_the_wrong_framing_is_told_why_it_was_cut_off() {
    // A line read as a length header by a len hub is far over its limit:
    // the hub cuts the client off with its notice, which the client (in
    // lines) prints as its last, unfinished line. It used to see a bare
    // end-of-stream, and no sign of why.
    let hub = Hub::start(&["--framing", "len"]);
    let mut child = spawn_connect(&format!("127.0.0.1:{}", hub.port), &[], Stdio::piped());
    child
        .stdin
        .take()
        .expect("stdin piped")
        .write_all(b"hello\n")
        .expect("write stdin");
    let mut out = Vec::new();
    child
        .stdout
        .take()
        .expect("stdout piped")
        .read_to_end(&mut out)
        .expect("read stdout");
    wait_exit(&mut child, "connect did not exit when the hub cut it off");
    let out = String::from_utf8_lossy(&out);
    let max = tcphub::Framing::length_prefixed().max_len().unwrap();
    assert!(
        out.ends_with(&format!(
            "disconnected: a message over {max} bytes (frame too large)\n"
        )),
        "{out:?}"
    );
}

#[test]
fn a_chat_line_too_long_with_the_address_prefix_is_refused_to_its_sender() {
    let hub = Hub::start(&[]);
    let mut alice = hub.connect();
    alice.expect(&format!("client {} connected", alice.addr()));
    let limit = tcphub::Framing::lines().max_len().unwrap();
    // Within the limit alone, over it with "ip:port: " in front.
    alice.send(&"x".repeat(limit - 4));
    let prefix = alice.addr().len() + 2;
    alice.expect(&format!(
        "message not relayed: {} bytes with the address prefix, over the frame limit of {limit}",
        limit - 4 + prefix
    ));
    alice.send("short");
    alice.expect(&format!("{}: short", alice.addr()));
}

#[test]
fn echo_and_relay_hubs_send_no_timeout_notice() {
    // Their clients' streams are their own: nothing is added to them.
    for mode in ["echo", "relay"] {
        let hub = Hub::start(&["--mode", mode, "--idle-timeout", "0.5"]);
        let mut idle = hub.connect();
        assert_eq!(idle.until_eof(), "", "{mode}");
    }
}

#[test]
fn keepalive_turns_tcp_keepalive_on_for_clients() {
    let with = Hub::start(&["--keepalive", "3"]);
    let client = with.connect();
    wait_line(&with.log, |l| l.contains(&client.addr()));
    let peer = client.writer.local_addr().unwrap().port();
    let ticks = keepalive_ticks(with.port, peer).expect("a keepalive timer on the hub's socket");
    assert!(
        ticks <= 300,
        "keepalive due in {ticks} ticks, not within 3 s"
    );

    let without = Hub::start(&[]);
    let client = without.connect();
    wait_line(&without.log, |l| l.contains(&client.addr()));
    let peer = client.writer.local_addr().unwrap().port();
    assert_eq!(keepalive_ticks(without.port, peer), None);
}
