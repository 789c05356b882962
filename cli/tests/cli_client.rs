//! End-to-end tests of the `tcphub` binary over loopback: the client
//! commands, `send` and `connect` (their input, output, errors and exits).

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use support::*;

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
        let out = send_cmd(&format!("127.0.0.1:{}", hub.port), &["hi"]);
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
    let out = send_cmd(
        &format!("127.0.0.1:{}", hub.port),
        &[&msg, "--framing", "raw", "--wait-reply", "10"],
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.stdout.len(), msg.len());
    assert!(out.stdout.iter().all(|&b| b == b'a'));
}

/// A message may begin with '-': "-hi there" was taken for `-h` (the help
/// printed, nothing sent, exit 0).
#[test]
fn send_takes_a_message_that_begins_with_a_dash() {
    let hub = Hub::start(&["--mode", "echo"]);
    let out = send_cmd(
        &format!("127.0.0.1:{}", hub.port),
        &["-hi there", "--wait-reply", "10"],
    );
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
        let out = send_cmd(&format!("127.0.0.1:{port}"), &["hi"]);
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
