//! End-to-end tests of the `tcphub` binary over loopback.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::process::{Command, Stdio};
use std::time::Duration;

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
    if let Err(e) = std::net::TcpListener::bind("[::1]:0") {
        eprintln!("skipped: cannot listen on [::1] ({e})");
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

#[test]
fn sigterm_stops_gracefully_and_clients_see_eof() {
    let mut hub = Hub::start(&["--mode", "relay"]);
    let mut a = hub.connect();
    let mut b = hub.connect();
    wait_line(&hub.log, |l| l.contains(&b.addr()));
    a.send("last words");
    b.expect("last words");
    let status = hub.terminate();
    assert!(status.success(), "exit status {status:?}");
    assert_eq!(a.until_eof(), "last words\n");
    assert_eq!(b.until_eof(), "");
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

/// `tcphub connect` with input piped in, to a full hub: the notice is
/// printed, and when the close beat a line to the socket the error says the
/// connection closed — not "send failed: not running" (about 1 run in 50).
#[test]
fn connect_with_input_to_a_full_hub_says_the_connection_closed() {
    let hub = Hub::start(&["--max", "1"]);
    let mut a = hub.connect();
    a.expect(&format!("client {} connected", a.addr()));
    for _ in 0..20 {
        let mut child = spawn_connect(
            &format!("127.0.0.1:{}", hub.port),
            &["--quiet-after-eof", "10"],
            Stdio::piped(),
        );
        let mut stdin = child.stdin.take().unwrap();
        let _ = stdin.write_all(b"one\ntwo\nthree\n");
        drop(stdin);
        let status = wait_exit(&mut child, "connect to a full hub did not exit");
        let stderr = stderr_of(&mut child);
        let mut stdout = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut stdout)
            .unwrap();
        assert_eq!(stdout, "server full (1 connected)\n", "{stderr}");
        assert!(!stderr.contains("send failed"), "{stderr}");
        if !status.success() {
            assert!(
                stderr.contains("the connection closed before everything read from stdin was sent")
                    || stderr.contains(
                        "the server closed the connection before everything read from stdin was sent ("
                    )
                    || stderr.contains("connection lost: "),
                "{stderr}"
            );
        }
    }
}

/// `tcphub send` to a full hub: the refusal's notice comes out either way
/// the race goes — as the reply (the message was written before the close
/// arrived), or in the error when the close came first: the send failed,
/// or the message, queued, was dropped at the close (it is then the reply
/// on stdout too).
#[test]
fn send_to_a_full_hub_tells_what_the_server_said() {
    let hub = Hub::start(&["--max", "1"]);
    let mut a = hub.connect();
    a.expect(&format!("client {} connected", a.addr()));
    let (mut replied, mut refused) = (0, 0);
    for _ in 0..20 {
        let out = bin()
            .args([
                "send",
                &format!("127.0.0.1:{}", hub.port),
                "hi",
                "--wait-reply",
                "10",
            ])
            .output()
            .expect("run tcphub send");
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.success() {
            assert_eq!(
                String::from_utf8_lossy(&out.stdout),
                "server full (1 connected)\n",
                "{out:?}"
            );
            replied += 1;
        } else {
            assert!(
                stderr.contains("before the message was sent (it said: server full (1 connected))"),
                "{out:?}"
            );
            refused += 1;
        }
    }
    eprintln!("{replied} replies, {refused} failed sends");
}

/// Without `--wait-reply` too: a refusal that came before the message was
/// written is quoted in the failure (it was read before the close, which
/// dropped it: the message said only that the server closed first).
#[test]
fn send_without_wait_reply_to_a_full_hub_quotes_the_refusal() {
    let hub = Hub::start(&["--max", "1"]);
    let mut a = hub.connect();
    a.expect(&format!("client {} connected", a.addr()));
    let (mut quoted, mut acknowledged) = (0, 0);
    for _ in 0..20 {
        let out = bin()
            .args(["send", &format!("127.0.0.1:{}", hub.port), "hi"])
            .output()
            .expect("run tcphub send");
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.success() {
            acknowledged += 1; // the refusal came after the acknowledgement
        } else {
            assert!(
                stderr.contains("before the message was sent (it said: server full (1 connected))"),
                "{out:?}"
            );
            quoted += 1;
        }
    }
    eprintln!("{quoted} refusals quoted, {acknowledged} acknowledged first");
}

/// `tcphub send ADDR ping --wait-reply 10` against an echo hub prints "ping".
fn assert_send_ping_echoes(addr: &str) {
    let out = bin()
        .args(["send", addr, "ping", "--wait-reply", "10"])
        .output()
        .expect("run tcphub send");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ping\n");
}

#[test]
fn send_prints_the_reply() {
    let hub = Hub::start(&["--mode", "echo"]);
    assert_send_ping_echoes(&format!("127.0.0.1:{}", hub.port));
}

/// Raw framing has no message boundaries: the reply is all that comes
/// until the server pauses, not the first read (a review: 4,096 bytes of a
/// 20,000-byte echo, exit 0).
#[test]
fn send_prints_a_whole_raw_reply() {
    let hub = Hub::start(&["--mode", "echo", "--framing", "raw"]);
    let msg = "a".repeat(20_000);
    let out = bin()
        .args(["send", &format!("127.0.0.1:{}", hub.port), &msg])
        .args(["--framing", "raw", "--wait-reply", "10"])
        .output()
        .expect("run tcphub send");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.stdout.len(), msg.len());
    assert!(out.stdout.iter().all(|&b| b == b'a'));
}

/// A message may begin with '-': "-hi there" was taken for `-h` (the help
/// printed, nothing sent, exit 0).
#[test]
fn send_takes_a_message_that_begins_with_a_dash() {
    let hub = Hub::start(&["--mode", "echo"]);
    let out = bin()
        .args(["send", &format!("127.0.0.1:{}", hub.port), "-hi there"])
        .args(["--wait-reply", "10"])
        .output()
        .expect("run tcphub send");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "-hi there\n");
}

#[test]
fn send_takes_a_message_that_is_not_utf8() {
    use std::os::unix::ffi::OsStrExt;
    let hub = Hub::start(&["--mode", "echo", "--framing", "len"]);
    let msg = [0xff, 0xfe, b'\n', 0x80];
    let out = bin()
        .args([
            "send",
            &format!("127.0.0.1:{}", hub.port),
            "--framing",
            "len",
        ])
        .arg(std::ffi::OsStr::from_bytes(&msg))
        .args(["--wait-reply", "10"])
        .output()
        .expect("run tcphub send");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.stdout, [0xff, 0xfe, b'\n', 0x80, b'\n']); // the reply, then a line end
}

#[test]
fn connect_relays_stdin_and_prints_messages() {
    let hub = Hub::start(&["--mode", "echo"]);
    let mut child = spawn_connect(&format!("127.0.0.1:{}", hub.port), &[], Stdio::null());
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"one\ntwo\n").unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut l = String::new();
    out.read_line(&mut l).unwrap();
    assert_eq!(l, "one\n");
    l.clear();
    out.read_line(&mut l).unwrap();
    assert_eq!(l, "two\n");
    drop(stdin); // EOF: the client closes and exits
    let st = wait_exit(&mut child, "connect did not exit on stdin EOF");
    assert!(st.success(), "{st:?}");
}

#[test]
fn connect_exits_when_the_server_closes() {
    let mut hub = Hub::start(&["--mode", "echo"]);
    let mut child = spawn_connect(&format!("127.0.0.1:{}", hub.port), &[], Stdio::null());
    wait_line(&hub.log, |l| l.contains("connected"));
    assert!(hub.terminate().success());
    let st = wait_exit(&mut child, "connect did not exit when the server closed");
    assert!(st.success(), "{st:?}");
}

/// A real `ncat` client chats through the hub. Skips loudly when ncat is
/// missing; `TCPHUB_REQUIRE_NCAT=1` (set by scripts/test.sh, which installs
/// it) turns the skip into a failure.
#[test]
fn ncat_interop() {
    let have = Command::new("ncat").arg("--version").output().is_ok();
    if !have {
        if std::env::var_os("TCPHUB_REQUIRE_NCAT").is_some() {
            panic!("ncat is required (TCPHUB_REQUIRE_NCAT is set) but not installed");
        }
        // Straight to fd 2: the test harness would swallow eprintln! output.
        let _ = std::io::stderr().write_all(
            b"\n*** SKIPPED ncat_interop: ncat is not installed (apt-get install ncat) ***\n\n",
        );
        return;
    }
    let hub = Hub::start(&[]);
    let mut watcher = hub.connect();
    watcher.expect(&format!("client {} connected", watcher.addr()));
    let mut nc = Command::new("ncat")
        .args(["127.0.0.1", &hub.port.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn ncat");
    let joined = watcher.line();
    assert!(
        joined.starts_with("client 127.0.0.1:") && joined.ends_with(" connected"),
        "{joined}"
    );
    let nc_addr = joined
        .trim_start_matches("client ")
        .trim_end_matches(" connected")
        .to_string();
    let mut nc_in = nc.stdin.take().unwrap();
    nc_in.write_all(b"hello from ncat\r\n").unwrap();
    nc_in.flush().unwrap();
    watcher.expect(&format!("{nc_addr}: hello from ncat"));
    watcher.send("hi ncat");
    watcher.expect(&format!("{}: hi ncat", watcher.addr()));
    let mut nc_out = BufReader::new(nc.stdout.take().unwrap());
    let mut got = Vec::new();
    let mut l = String::new();
    while nc_out.read_line(&mut l).unwrap() > 0 {
        got.push(l.trim_end().to_string());
        if l.contains("hi ncat") {
            break;
        }
        l.clear();
    }
    assert!(
        got.contains(&format!("{}: hi ncat", watcher.addr())),
        "{got:?}"
    );
    drop(nc_in);
    let _ = nc.kill();
    let _ = nc.wait();
    watcher.expect(&format!("client {nc_addr} disconnected (closed by peer)"));
}

#[test]
fn connect_with_piped_stdin_sends_everything_and_prints_every_reply() {
    let hub = Hub::start(&["--mode", "echo"]);
    // 200,000 lines (~5 MB): far more than the client's send queue holds at
    // once, so stdin has to wait for room rather than give up; then, after
    // stdin ends, the replies still on their way are printed.
    let lines = 200_000;
    let mut input = Vec::new();
    for i in 0..lines {
        input.extend_from_slice(format!("line {i:06} of the piped input\n").as_bytes());
    }
    let mut child = spawn_connect(&format!("127.0.0.1:{}", hub.port), &[], Stdio::piped());
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        stdin.write_all(&input).unwrap(); // dropped at the end: EOF
    });
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    writer.join().unwrap();
    let st = wait_exit(&mut child, "connect did not exit after stdin ended");
    let err = stderr_of(&mut child);
    assert!(st.success(), "{st:?}: {err}");
    let got: Vec<&str> = out.lines().collect();
    assert_eq!(got.len(), lines, "stderr: {err}");
    assert_eq!(got[0], "line 000000 of the piped input");
    assert_eq!(
        got[lines - 1],
        format!("line {:06} of the piped input", lines - 1)
    );
}

#[test]
fn connect_half_closes_at_the_end_of_stdin() {
    // A server that answers only once the request is complete: it reads to
    // end-of-stream, then replies and closes. Without the half-close it
    // would wait forever and `connect` would give up after its quiet time
    // (here an hour) — the test's wait_exit would fail.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let mut req = String::new();
        s.read_to_string(&mut req).unwrap();
        let n = req.lines().count();
        s.write_all(format!("got {n} lines\n").as_bytes()).unwrap();
    });
    let mut child = spawn_connect(
        &format!("127.0.0.1:{port}"),
        &["--quiet-after-eof", "3600"],
        Stdio::null(),
    );
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"one\ntwo\nthree\n")
        .unwrap(); // dropped: EOF
    let st = wait_exit(&mut child, "connect did not exit after the server answered");
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    server.join().unwrap();
    assert!(st.success(), "{st:?}");
    assert_eq!(out, "got 3 lines\n");
}

#[test]
fn connect_waits_the_quiet_time_after_the_end_of_stdin_not_after_the_last_message() {
    // A server that answers each line 300 ms late and keeps the connection
    // open. The last line comes after a pause longer than the quiet time:
    // its answer arrives 300 ms after stdin ends and must still be printed
    // (the quiet time counts from the end of input, not from the answer
    // before the pause).
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (s, _) = l.accept().unwrap();
        let mut w = s.try_clone().unwrap();
        for line in BufReader::new(s).lines() {
            let Ok(line) = line else { break };
            std::thread::sleep(Duration::from_millis(300));
            w.write_all(format!("re: {line}\n").as_bytes()).unwrap();
        }
        std::thread::sleep(Duration::from_secs(6)); // quiet, not closed
    });
    let mut child = spawn_connect(
        &format!("127.0.0.1:{port}"),
        &["--quiet-after-eof", "3"],
        Stdio::null(),
    );
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"one\n").unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut l = String::new();
    out.read_line(&mut l).unwrap();
    assert_eq!(l, "re: one\n");
    // Longer than the quiet time; the 300 ms reply then has 2.7 s to spare.
    std::thread::sleep(Duration::from_millis(3500));
    stdin.write_all(b"two\n").unwrap();
    drop(stdin); // EOF
    let st = wait_exit(&mut child, "connect did not exit after stdin ended");
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    server.join().unwrap();
    assert!(st.success(), "{st:?}");
    assert_eq!(rest, "re: two\n");
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
fn connect_stops_quietly_when_its_stdout_is_closed() {
    // `tcphub connect ... | head -1`: once the reader is gone, connect ends
    // without an error message ("Broken pipe (os error 32)") or failure.
    // A few rounds: whether the stdin side is caught mid-send is a race.
    let hub = Hub::start(&["--mode", "echo"]);
    for _ in 0..10 {
        let mut child = spawn_connect(&format!("127.0.0.1:{}", hub.port), &[], Stdio::piped());
        let mut stdin = child.stdin.take().unwrap();
        let writer = std::thread::spawn(move || {
            // ~2 MB of replies: more than a pipe holds, so printing must fail.
            for i in 0..100_000 {
                if writeln!(stdin, "line {i:06} of the piped input").is_err() {
                    break; // connect has gone
                }
            }
        });
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        out.read_line(&mut first).unwrap();
        assert_eq!(first, "line 000000 of the piped input\n");
        drop(out); // as `head -1` exits
        let st = wait_exit(&mut child, "connect did not exit when its stdout closed");
        writer.join().unwrap();
        let err = stderr_of(&mut child);
        assert!(st.success(), "{st:?}: {err}");
        assert!(!err.contains("Broken pipe"), "{err}");
        // Nor from the stdin side, still sending when connect closed on
        // purpose ("tcphub: send failed: not running").
        assert!(!err.lines().any(|l| l.starts_with("tcphub:")), "{err}");
    }
}

#[test]
fn send_with_its_stdout_closed_reports_no_error() {
    // `tcphub send ... --wait-reply 5 | true`: the reader left first.
    let hub = Hub::start(&["--mode", "echo"]);
    let mut child = bin()
        .args(["send", &format!("127.0.0.1:{}", hub.port), "hi"])
        .args(["--wait-reply", "5"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tcphub send");
    drop(child.stdout.take());
    let st = wait_exit(&mut child, "send did not exit");
    let err = stderr_of(&mut child);
    assert!(st.success(), "{st:?}: {err}");
    assert!(!err.contains("Broken pipe"), "{err}");
}

/// A server that answers its one connection with a 100 kB line (over the
/// 64 KiB default limit) and keeps it open for 3 s: its port and thread.
fn oversize_line_server() -> (u16, std::thread::JoinHandle<()>) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let _ = s.write_all(&vec![b'q'; 100_000]);
        std::thread::sleep(Duration::from_secs(3)); // no close of its own
    });
    (port, server)
}

#[test]
fn connect_fails_when_the_connection_is_lost_to_an_error() {
    // A server line over the 64 KiB limit cuts the connection: what it
    // sent is lost, so `connect` must not exit 0 as for a normal close.
    let (port, server) = oversize_line_server();
    let mut child = spawn_connect(&format!("127.0.0.1:{port}"), &[], Stdio::piped());
    let stdin = child.stdin.take().unwrap(); // held open: no end of input
    let st = wait_exit(&mut child, "connect did not exit when its connection broke");
    drop(stdin);
    let err = stderr_of(&mut child);
    assert_eq!(st.code(), Some(1), "{err}");
    assert!(
        err.contains("tcphub: connection lost: frame too large"),
        "{err}"
    );
    // The likely cause is named: the server's framing is not this one.
    assert!(
        err.contains("(over 65536 bytes; is the server's framing lines? see --framing)"),
        "{err}"
    );
    server.join().unwrap();
}

#[test]
fn framing_length_is_accepted_as_len() {
    // Python and the Rust API call it "length": `--framing length` said
    // "invalid value" (with a tip).
    let mut child = bin()
        .args(["send", "127.0.0.1:1", "x", "--framing", "length"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tcphub send");
    let st = wait_exit(&mut child, "send did not exit");
    let err = stderr_of(&mut child);
    assert_ne!(st.code(), Some(2), "refused as usage: {err}");
    assert!(!err.contains("invalid value"), "{err}");
    assert!(err.contains("127.0.0.1:1"), "{err}"); // it got as far as connecting
}

#[test]
fn send_fails_when_the_connection_is_lost_to_an_error_while_waiting() {
    // As for `connect`: a reply line over the 64 KiB limit cuts the
    // connection while `send --wait-reply` waits. It said "the server closed
    // the connection" (it had not) and exited 0.
    let (port, server) = oversize_line_server();
    let mut child = bin()
        .args(["send", &format!("127.0.0.1:{port}"), "hi"])
        .args(["--wait-reply", "20"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tcphub send");
    let st = wait_exit(&mut child, "send did not exit when its connection broke");
    let err = stderr_of(&mut child);
    assert_eq!(st.code(), Some(1), "{err}");
    // (Lost before the message was written, too: the reply can come first.)
    assert!(
        err.contains("tcphub: connection lost: frame too large")
            || err.contains("tcphub: connection lost before the message was sent: frame too large"),
        "{err}"
    );
    assert!(!err.contains("the server closed the connection"), "{err}");
    server.join().unwrap();
}

#[test]
fn connect_keeps_up_with_an_echo_of_its_piped_input() {
    // `seq 1 2000000 | tcphub connect ... > out` through an echo hub: connect
    // wrote (and flushed) stdout once per message, drained the connection
    // slower than the hub answered, and was cut off as a slow consumer
    // ("connection lost: connection reset", a fraction of the lines). Seen
    // with release builds; this debug-build run guards the whole round trip.
    const LINES: usize = 300_000;
    let hub = Hub::start(&["--mode", "echo"]);
    let mut child = spawn_connect(&format!("127.0.0.1:{}", hub.port), &[], Stdio::piped());
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let mut input = std::io::BufWriter::new(&mut stdin);
        for i in 0..LINES {
            writeln!(input, "{i}").expect("write to connect");
        }
    });
    let out = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || BufReader::new(out).lines().count());
    writer.join().unwrap();
    let st = wait_exit(
        &mut child,
        "connect did not exit after its input was echoed",
    );
    let got = reader.join().unwrap();
    let err = stderr_of(&mut child);
    assert!(st.success(), "{st:?}: {err}");
    assert_eq!(got, LINES, "{err}");
}

#[test]
fn send_fails_when_the_server_never_takes_the_message() {
    // Without --wait-reply, `send` exited 0 once the message was handed to
    // the kernel, even when the server never took it. Its close waits for
    // the server's acknowledgement (up to the linger time): a server that
    // does not read, with a small receive window, makes it fail.
    let (port, done_tx, server) = non_reading_server();
    let message = "x".repeat(100_000);
    let out = bin()
        .args([
            "send",
            "--framing",
            "raw",
            &format!("127.0.0.1:{port}"),
            &message,
        ])
        .stdin(Stdio::null())
        .output()
        .expect("run tcphub send");
    let _ = done_tx.send(());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    // The client's kernel took the whole message, and the close waited for
    // an acknowledgement that never came; or, where its send buffer cannot
    // grow to 100 KB (tcp_wmem's maximum may be as low as 64 KiB), part of
    // it was still queued in the client when the flush and the close gave
    // up: not sent at all. Either way the send failed, saying why.
    assert!(
        err.contains("before the server acknowledged the message")
            || err.contains("connection lost before the message was sent: "),
        "{err}"
    );
    server.join().unwrap();
}

#[test]
fn send_to_a_server_that_resets_at_once_never_says_it_closed() {
    // The server resets every connection as it accepts it. Depending on
    // when the reset lands, `send` cannot connect, fails before the
    // acknowledgement, loses the connection before the message is sent, or
    // (the kernel took the message first) succeeds — but it never says the
    // server *closed* the connection, which it said in about 1 run of 5.
    const RUNS: usize = 30;
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        for _ in 0..RUNS {
            let Ok((s, _)) = l.accept() else { return };
            socket2::SockRef::from(&s)
                .set_linger(Some(Duration::ZERO))
                .unwrap();
            drop(s); // a reset
        }
    });
    for _ in 0..RUNS {
        let out = bin()
            .args(["send", &format!("127.0.0.1:{port}"), "hi"])
            .stdin(Stdio::null())
            .output()
            .expect("run tcphub send");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("the server closed the connection"), "{err}");
        if !out.status.success() {
            assert!(err.contains("reset"), "{err}");
        }
    }
    server.join().unwrap();
}

#[test]
fn send_with_a_reply_succeeds_even_when_the_server_resets_after_it() {
    // The reply shows the server had the message: a reset after it is no
    // failure of the send (it made `send --wait-reply` exit 1).
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let mut line = String::new();
        BufReader::new(&s).read_line(&mut line).unwrap();
        s.write_all(b"ok\n").unwrap();
        socket2::SockRef::from(&s)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        drop(s); // a reset
    });
    let out = bin()
        .args([
            "send",
            &format!("127.0.0.1:{port}"),
            "hi",
            "--wait-reply",
            "20",
        ])
        .stdin(Stdio::null())
        .output()
        .expect("run tcphub send");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ok\n", "{err}");
    server.join().unwrap();
}

/// A stdout that cannot be written (`>/dev/full`) is named in the error,
/// not given as a bare "No space left on device".
#[test]
fn a_stdout_that_cannot_be_written_is_named() {
    let hub = Hub::start(&["--mode", "echo"]);
    let addr = format!("127.0.0.1:{}", hub.port);
    let full = || std::fs::OpenOptions::new().write(true).open("/dev/full");
    let out = bin()
        .args(["send", &addr, "ping", "--wait-reply", "10"])
        .stdout(full().expect("open /dev/full"))
        .output()
        .expect("run tcphub send");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("cannot write to stdout: "), "{err}");

    let mut c = bin()
        .args(["connect", &addr])
        .stdin(Stdio::piped())
        .stdout(full().expect("open /dev/full"))
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tcphub connect");
    c.stdin.take().unwrap().write_all(b"ping\n").unwrap();
    let status = wait_exit(&mut c, "connect did not exit");
    let err = stderr_of(&mut c);
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(err.contains("cannot write to stdout: "), "{err}");
}

/// An echo hub whose stop lingers: a client (a small receive buffer) sends
/// it raw bytes and reads none of the echo, until part of the echo waits in
/// the hub's own queue, past what the kernels hold (the graceful stop waits
/// up to the linger time for it). Returns the bytes sent (all read by the
/// hub, all to be echoed) too.
///
/// Sent until then, not a fixed amount: the hub's send buffer may start at
/// or grow to tcp_wmem's maximum (4 MiB, usually) and this socket's receive
/// buffer to tcp_rmem's, and a 2 MB echo all fit in them — nothing left to
/// flush, the stop ended at once.
fn hub_with_a_lingering_stop() -> (Hub, TcpStream, usize) {
    // Chunks, not 64 KiB writes: each look reads /proc/net/tcp, which a busy
    // host may make thousands of lines long.
    const CHUNK: usize = 512 << 10;
    // Held in the hub: past what it may have read and not yet written when
    // we look (what it read since its last write, at most the last chunk),
    // and well below its queue's bound (4 MiB).
    const HELD: u64 = 1 << 20;
    let hub = Hub::start(&["--mode", "echo", "--framing", "raw"]);
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    sock.connect(&std::net::SocketAddr::from(([127, 0, 0, 1], hub.port)).into())
        .unwrap();
    let mut s: TcpStream = sock.into();
    s.set_nodelay(true).unwrap(); // each chunk's tail at once
    let (me, port) = (s.local_addr().unwrap().port(), hub.port);
    let mut sent = 0usize;
    loop {
        s.write_all(&vec![b'x'; CHUNK]).unwrap();
        sent += CHUNK;
        // All of it read before the stop (which reads no more): the whole of
        // it is echoed by a graceful stop, a part under load otherwise.
        wait_all_read_by_hub(&s);
        // The echo not yet taken by the hub's socket or in ours.
        let hub_unacked = socket_queues(port, me).map_or(0, |(tx, _)| tx);
        let ours_unread = socket_queues(me, port).map_or(0, |(_, rx)| rx);
        if sent as u64 >= HELD + hub_unacked + ours_unread {
            break;
        }
        assert!(
            sent < 256 << 20,
            "{sent} bytes sent and the echo still fits in the kernels"
        );
    }
    s.set_read_timeout(Some(WAIT)).unwrap();
    (hub, s, sent)
}

/// Sends `sig` (`-TERM`, `-INT`) to `pid`.
fn kill(sig: &str, pid: u32) {
    let st = Command::new("kill").args([sig, &pid.to_string()]).status();
    assert!(st.expect("run kill").success());
}

/// A second signal while the hub is stopping ends it at once, with the
/// shell's code for the signal (128 + 2 for SIGINT).
#[test]
fn a_second_signal_during_the_stop_exits_at_once() {
    use std::os::unix::process::ExitStatusExt;
    let (mut hub, _s, _) = hub_with_a_lingering_stop();
    let pid = hub.child.id();
    kill("-TERM", pid);
    wait_line(&hub.log, |l| l.contains("stopping"));
    kill("-INT", pid);
    let status = wait_exit(&mut hub.child, "hub did not exit after a second signal");
    assert_eq!(status.code(), Some(128 + 2), "{status:?}");
    assert_eq!(status.signal(), None);
    let again = wait_line(&hub.log, |l| l.contains("again"));
    assert!(again.contains("without waiting"), "{again}");
}

/// The same signal again, once the stop has run a while, is a second
/// request: exit at once (128 + 15).
#[test]
fn the_same_signal_again_later_in_the_stop_exits_at_once() {
    let (mut hub, _s, _) = hub_with_a_lingering_stop();
    let pid = hub.child.id();
    kill("-TERM", pid);
    wait_line(&hub.log, |l| l.contains("stopping"));
    std::thread::sleep(Duration::from_millis(600)); // past one request's repeats
    kill("-TERM", pid);
    let status = wait_exit(&mut hub.child, "hub did not exit after a second SIGTERM");
    assert_eq!(status.code(), Some(128 + 15), "{status:?}");
}

/// One request delivered twice, microseconds apart — `timeout` signals the
/// process and then its group — is one graceful stop: exit 0, the clients
/// flushed (a review: "signal 15 again: exiting without waiting" and exit
/// 143 in 6 of 12 `timeout 1 tcphub serve` runs).
#[test]
fn one_stop_request_delivered_twice_stops_gracefully() {
    let (mut hub, mut s, sent) = hub_with_a_lingering_stop();
    let pid = hub.child.id();
    let both = Command::new("sh")
        .args([
            "-c",
            &format!("kill -TERM {pid}; sleep 0.05; kill -TERM {pid}"),
        ])
        .status();
    assert!(both.expect("run sh").success());
    // The client reads now: the graceful stop flushes the echo to it.
    let mut got = 0usize;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) => panic!("the echo was cut after {got} bytes: {e}"),
        }
    }
    let status = wait_exit(&mut hub.child, "hub did not exit after the stop");
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert_eq!(got, sent, "the whole echo before the end");
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

/// The keepalive timer of the socket on local port `local` for the
/// connection to port `peer`, in clock ticks (100 a second), from
/// `/proc/net/tcp`; `None` when it has no keepalive timer.
fn keepalive_ticks(local: u16, peer: u16) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
    let port = |s: &str| u16::from_str_radix(s.rsplit(':').next().unwrap(), 16).unwrap();
    text.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 6 || port(f[1]) != local || port(f[2]) != peer {
            return None;
        }
        // "tr:tm->when": timer 2 is keepalive.
        let (tr, when) = f[5].split_once(':').unwrap();
        (tr == "02").then(|| u64::from_str_radix(when, 16).unwrap())
    })
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

#[test]
fn connect_keepalive_turns_tcp_keepalive_on() {
    let hub = Hub::start(&[]);
    let addr = format!("127.0.0.1:{}", hub.port);
    let mut child = spawn_connect(&addr, &["--keepalive", "3"], Stdio::null());
    let line = wait_line(&hub.log, |l| l.contains("connected"));
    // "client 127.0.0.1:PORT connected": the connect command's port.
    let port: u16 = line
        .split("127.0.0.1:")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no client port in {line:?}"));
    // (The hub may log the connection before the command has set the
    // option: wait for it, bounded.)
    let deadline = std::time::Instant::now() + WAIT;
    let ticks = loop {
        if let Some(t) = keepalive_ticks(port, hub.port) {
            break t;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no keepalive timer on the client's socket"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(
        ticks <= 300,
        "keepalive due in {ticks} ticks, not within 3 s"
    );
    drop(child.stdin.take()); // end of input: it finishes
    wait_exit(&mut child, "connect did not exit after its input ended");
}
