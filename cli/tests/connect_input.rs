//! End-to-end tests of what `tcphub connect` does with its standard input.

mod support;

use std::io::{Read, Write};
use std::process::{Child, Stdio};
use std::time::Duration;

use support::*;

/// A server that reads its one connection to the end: what it received.
fn collecting_server() -> (u16, std::thread::JoinHandle<Vec<u8>>) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(WAIT)).unwrap();
        let mut got = Vec::new();
        let _ = s.read_to_end(&mut got);
        got
    });
    (port, server)
}

/// `input` in a file of its own, for a child's stdin; removed on drop
/// (a failed test too).
struct InputFile {
    dir: std::path::PathBuf,
    path: std::path::PathBuf,
}

impl InputFile {
    fn new(tag: &str, input: &[u8]) -> InputFile {
        let dir = std::env::temp_dir().join(format!("tcphub-cli-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("input");
        std::fs::write(&path, input).unwrap();
        InputFile { dir, path }
    }

    fn open(&self) -> std::fs::File {
        std::fs::File::open(&self.path).unwrap()
    }
}

impl Drop for InputFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn connect_fails_when_stdin_cannot_be_read() {
    // A directory as stdin: every read fails (EISDIR). That is no end of
    // input: it exited 0, as if everything had been sent.
    let (port, server) = collecting_server();
    let dir = std::fs::File::open(env!("CARGO_MANIFEST_DIR")).unwrap();
    let out = bin()
        .args(["connect", &format!("127.0.0.1:{port}")])
        .stdin(Stdio::from(dir))
        .output()
        .expect("run tcphub connect");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("tcphub: cannot read stdin: "), "{err}");
    server.join().unwrap();
}

/// A slow but steady reader: the server reads its input `chunk` bytes at
/// a time with a pause between reads, to the end. Once its receive buffer
/// is full, what it has not read waits, unacknowledged, at the client.
fn slow_reading_server(chunk: usize, pause: Duration) -> (u16, std::thread::JoinHandle<usize>) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(WAIT)).unwrap();
        let mut buf = vec![0; chunk];
        let mut got = 0;
        loop {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => return got,
                Ok(n) => got += n,
            }
            std::thread::sleep(pause);
        }
    });
    (port, server)
}

#[test]
fn connect_waits_for_a_slow_reader_to_take_everything() {
    // The close after the quiet time gave the server its linger time (2 s)
    // to acknowledge what the kernel still held; a slower reader made it
    // fail with "connection lost: i/o error: timed out" though everything
    // arrived. The quiet time now starts only once the server stops
    // acknowledging.
    const INPUT: usize = 2 << 20;
    let (port, server) = slow_reading_server(4096, Duration::from_millis(10));
    let input = InputFile::new("slow-reader", &vec![b'x'; INPUT]);
    let out = bin()
        .args(["connect", "--framing", "raw", &format!("127.0.0.1:{port}")])
        .stdin(Stdio::from(input.open()))
        .output()
        .expect("run tcphub connect");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert_eq!(server.join().unwrap(), INPUT, "{err}");
}

#[test]
fn connect_says_when_the_server_stopped_taking_its_input() {
    // A server that never reads: everything is written to the kernel, the
    // server acknowledges what fits its small window and no more. After
    // the quiet time and the close's linger time the connect fails, saying
    // so (it said "connection lost: i/o error: timed out").
    let (port, done_tx, server) = non_reading_server();
    // 32 KiB: past the server's window, and within the client's send
    // buffer even where tcp_wmem's maximum is 64 KiB (with 64 KiB, part of
    // it stayed in the client's queue there, the quiet time never began,
    // and `connect` ran until the server went).
    let input = InputFile::new("stopped-reader", &vec![b'x'; 32 * 1024]);
    let out = bin()
        .args(["connect", "--framing", "raw", &format!("127.0.0.1:{port}")])
        .stdin(Stdio::from(input.open()))
        .output()
        .expect("run tcphub connect");
    let _ = done_tx.send(());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("tcphub: the server stopped taking the input: ")
            && err.contains(" bytes sent were not acknowledged when the connection closed"),
        "{err}"
    );
    server.join().unwrap();
}

#[test]
fn connect_with_raw_framing_sends_stdin_byte_for_byte() {
    // Raw framing has no lines: `\r\n` went out as `\n`, and input without
    // a final newline got one added.
    let (port, server) = collecting_server();
    let mut child = spawn_connect(
        &format!("127.0.0.1:{port}"),
        &["--framing", "raw"],
        Stdio::piped(),
    );
    let input = b"GET / HTTP/1.0\r\n\r\nno newline at the end";
    child.stdin.take().unwrap().write_all(input).unwrap(); // dropped: EOF
    let st = wait_exit(&mut child, "connect did not exit after its input");
    let err = stderr_of(&mut child);
    assert!(st.success(), "{st:?}: {err}");
    let got = server.join().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(input)
    );
}

#[test]
fn connect_with_len_framing_sends_lines_without_their_line_end() {
    // Under len framing too, stdin is lines: each `\n` or `\r\n` ends one
    // message and is not part of it (a file from Windows sends the same
    // messages as one from Unix); a `\r` elsewhere is the line's.
    let (port, server) = collecting_server();
    let mut child = spawn_connect(
        &format!("127.0.0.1:{port}"),
        &["--framing", "len"],
        Stdio::piped(),
    );
    let input = b"dos line\r\nunix line\na\rb\r\r\n\nlast, no end";
    child.stdin.take().unwrap().write_all(input).unwrap(); // dropped: EOF
    let st = wait_exit(&mut child, "connect did not exit after its input");
    let err = stderr_of(&mut child);
    assert!(st.success(), "{st:?}: {err}");
    let got = server.join().unwrap();
    let mut want = Vec::new();
    for msg in [
        &b"dos line"[..],
        b"unix line",
        b"a\rb\r",
        b"",
        b"last, no end",
    ] {
        want.extend_from_slice(&(msg.len() as u32).to_be_bytes());
        want.extend_from_slice(msg);
    }
    assert_eq!(got, want, "{err}");
}

#[test]
fn connect_fails_when_the_server_ends_before_all_of_stdin_is_sent() {
    // A server that reads a little, ends its side, reads on to the end of
    // ours and closes: the client writes what it queued and closes, with
    // most of the (file) input never read. Whether that exited 1 ("the
    // connection closed before …") or 0, silently losing the rest, or
    // said "send failed: queue full", depended on where the stdin thread
    // happened to be when the connection ended.
    let input = long_input(1_000_000);
    let file = InputFile::new("input", &input);
    for round in 0..5 {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            s.set_read_timeout(Some(WAIT)).unwrap();
            let mut first = vec![0; 100_000];
            s.read_exact(&mut first).unwrap();
            s.shutdown(std::net::Shutdown::Write).unwrap();
            let mut rest = Vec::new();
            let _ = s.read_to_end(&mut rest);
            first.len() + rest.len()
        });
        let mut child = bin()
            .args(["connect", &format!("127.0.0.1:{port}")])
            .stdin(file.open())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn tcphub connect");
        let st = wait_exit(&mut child, "connect did not exit when the server closed");
        let err = stderr_of(&mut child);
        let got = server.join().unwrap();
        assert!(!err.contains("send failed"), "round {round}: {err}");
        if got == input.len() {
            assert!(st.success(), "round {round}: all sent, yet {st:?}: {err}");
            continue;
        }
        assert_eq!(
            st.code(),
            Some(1),
            "round {round}: {got} of {} bytes sent: {err}",
            input.len()
        );
        assert!(
            err.contains("the connection closed before everything read from stdin was sent")
                || err.contains("connection lost: "),
            "round {round}: {err}"
        );
    }
}

/// `tcphub connect ADDR EXTRA...` to a server that reads `want` bytes:
/// what it read, while stdin holds `input` and stays open.
fn send_without_newline(extra: &[&str], input: &[u8], want: usize) -> (Vec<u8>, Child) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(WAIT)).unwrap();
        let mut got = Vec::new();
        let _ = (&mut s).take(want as u64).read_to_end(&mut got);
        got
    });
    let mut child = spawn_connect(&format!("127.0.0.1:{port}"), extra, Stdio::piped());
    let mut stdin = child.stdin.take().unwrap();
    // (It may end before it has read all: a line over the limit.)
    let _ = stdin.write_all(input);
    // Held open (no end of input) in the child's struct until it is killed.
    child.stdin = Some(stdin);
    (server.join().unwrap(), child)
}

#[test]
fn connect_with_raw_framing_sends_input_without_waiting_for_a_newline() {
    // It read stdin by lines: nothing went out before a newline or the
    // end of input (and `< /dev/zero` grew without bound).
    let input = vec![b'z'; 1 << 20];
    let (got, mut child) = send_without_newline(&["--framing", "raw"], &input, input.len());
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(got.len(), input.len());
    assert!(got.iter().all(|&b| b == b'z'));
}

#[test]
fn connect_fails_on_a_line_over_the_limit_without_waiting_for_its_end() {
    // It read the whole line before finding it too long: a line that does
    // not end (`< /dev/zero`) grew without bound, silently.
    let input = vec![b'z'; 1 << 20];
    let (got, mut child) = send_without_newline(&[], &input, 1);
    let st = wait_exit(&mut child, "connect did not give up on an endless line");
    let err = stderr_of(&mut child);
    assert!(got.is_empty(), "sent {} bytes", got.len());
    assert_eq!(st.code(), Some(1), "{err}");
    assert!(
        err.contains("tcphub: send failed: a line over the frame limit of 65536 bytes"),
        "{err}"
    );
}

/// A stderr that cannot be written (`2>/dev/full`, a closed pipe) changes
/// no outcome: writing an error there panicked — `tcphub send` to a closed
/// port exited 101, not 1, and `connect`'s stdin thread died on a line over
/// the limit before it closed the connection, so `connect` hung as long as
/// the server kept it open.
#[test]
fn an_unwritable_stderr_changes_no_exit_code() {
    let full = || {
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .expect("open /dev/full")
    };
    // Refused: a port bound and not listening, held so that no other
    // test's server can take it meanwhile.
    let held = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let any: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
    held.bind(&any.into()).unwrap();
    let closed = held.local_addr().unwrap().as_socket().unwrap().port();
    let st = bin()
        .args(["send", &format!("127.0.0.1:{closed}"), "x"])
        .stderr(full())
        .status()
        .expect("run tcphub send");
    assert_eq!(st.code(), Some(1), "{st:?}");

    // A server that holds the connection open and reads nothing.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let server = std::thread::spawn(move || {
        let (s, _) = l.accept().unwrap();
        let _ = done_rx.recv_timeout(WAIT * 2);
        drop(s);
    });
    let mut child = bin()
        .args(["connect", &format!("127.0.0.1:{port}")])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(full())
        .spawn()
        .expect("spawn tcphub connect");
    let mut stdin = child.stdin.take().unwrap();
    let _ = stdin.write_all(&vec![b'z'; 1 << 20]);
    child.stdin = Some(stdin); // held open: no end of input
    let st = wait_exit(&mut child, "connect hung on a line over the limit");
    assert_eq!(st.code(), Some(1), "{st:?}");
    let _ = done_tx.send(());
    server.join().unwrap();
}

/// A pipe for a child's stdin: its read end (for the child), a duplicate
/// of that end that is never read (to see what the child has not yet read)
/// and the write end.
fn stdin_pipe() -> (
    std::os::fd::OwnedFd,
    std::os::fd::OwnedFd,
    std::os::fd::OwnedFd,
) {
    use std::os::fd::{FromRawFd, OwnedFd};
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two new descriptors into `fds`, owned from here.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let probe = read.try_clone().unwrap();
    (read, probe, write)
}

/// The bytes waiting unread in the pipe whose read end is `probe`.
fn unread_in_pipe(probe: &std::os::fd::OwnedFd) -> usize {
    use std::os::fd::AsRawFd;
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD stores an int into `n`.
    assert_eq!(
        unsafe { libc::ioctl(probe.as_raw_fd(), libc::FIONREAD, &mut n) },
        0
    );
    n as usize
}

#[test]
fn connect_fails_when_the_server_ends_with_input_still_queued() {
    // Found by the CLI audit: a hub that stops ends its side of the
    // connection and discards what still comes. `connect`, all of its
    // stdin read and queued, wrote the queue on (as to a server that only
    // half-closed), then exited 0 with those lines lost. A raw server
    // plays that hub here: it reads nothing until `connect` has read all
    // of its input, ends its side, then reads and discards to the end.
    // The input is more than the system's buffers take (unread), and what
    // is left fits the client's queue (4 MiB): it waits there when the
    // server ends. The end now drops the queue, and the exit code and
    // message say so.
    //
    // Written through a pipe until about 1 MiB waits in the client's
    // queue (what `connect` read, less what the kernels hold: both are
    // measured), not a fixed amount: the client's send buffer may be
    // anything from 64 KiB to tcp_wmem's maximum (4 MiB, usually, but
    // larger on some hosts). A fixed 6.5 MB did not all fit the queue where
    // the maximum was 64 KiB (`connect` never read all of it), and would
    // all fit the kernels where it is 8 MiB (nothing queued to drop).
    // Lines per write: 512 KB.
    const CHUNK_LINES: usize = 512;
    // Past what `connect` may have read and not yet queued and written
    // when we look (a chunk at most), and well below its queue's bound.
    const HELD: usize = 1 << 20;
    // A small receive buffer, set before listening (the accepted socket
    // inherits it): a CI run saw this host's loopback take 6.5 MB unread.
    let l = {
        use socket2::{Domain, Socket, Type};
        let s = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        s.set_recv_buffer_size(64 * 1024).unwrap();
        s.bind(
            &"127.0.0.1:0"
                .parse::<std::net::SocketAddr>()
                .unwrap()
                .into(),
        )
        .unwrap();
        s.listen(8).unwrap();
        std::net::TcpListener::from(s)
    };
    let port = l.local_addr().unwrap().port();
    let (stdin, probe, write) = stdin_pipe();
    let mut child = bin()
        .args(["connect", &format!("127.0.0.1:{port}")])
        .stdin(Stdio::from(stdin))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tcphub connect");
    let (mut s, client) = l.accept().unwrap();
    let mut input = std::fs::File::from(write);
    let mut len = 0usize;
    let mut lines = 0usize;
    loop {
        let mut chunk = Vec::new();
        for i in lines..lines + CHUNK_LINES {
            let line = format!("line {i:05} ");
            chunk.extend_from_slice(line.as_bytes());
            chunk.extend(std::iter::repeat_n(b'x', 999 - line.len()));
            chunk.push(b'\n');
        }
        lines += CHUNK_LINES;
        input.write_all(&chunk).unwrap();
        len += chunk.len();
        wait_until_read(&probe);
        // What the client's kernel has not had acknowledged, and what
        // waits unread in ours: the rest of what `connect` read is queued.
        let unacked = socket_queues(client.port(), port).map_or(0, |(tx, _)| tx);
        let unread = socket_queues(port, client.port()).map_or(0, |(_, rx)| rx);
        if len as u64 >= HELD as u64 + unacked + unread {
            break;
        }
        assert!(
            len < 256 << 20,
            "{len} bytes of input and all of it in the kernels"
        );
    }
    drop(input); // the end of its input
    wait_until_read(&probe);
    s.shutdown(std::net::Shutdown::Write).unwrap();
    // Nothing is read before `connect` has taken our end and exited:
    // a read opens the window, and loopback can deliver that window
    // update before our FIN (a CI run: the FIN queued on one CPU, the
    // update on another), so a client that writes on an open window
    // had written its whole queue before it could know of our end.
    // (A client that wrote after seeing it would not exit, the window
    // shut: the wait fails then.)
    let st = wait_exit(&mut child, "connect did not exit when the server ended");
    let err = stderr_of(&mut child);
    s.set_read_timeout(Some(WAIT)).unwrap();
    let mut discarded = Vec::new();
    let _ = s.read_to_end(&mut discarded);
    let got = discarded.len();
    assert!(
        got < len,
        "the server got all {got} bytes: the client's queue was written after the server's end: {err}"
    );
    assert_eq!(
        st.code(),
        Some(1),
        "{got} of {len} bytes got to the server, yet {st:?}: {err}"
    );
    assert!(
        err.contains(
            "the server closed the connection before everything read from stdin was sent ("
        ) && err.contains("queued were dropped)"),
        "{err}"
    );
}

/// Waits (bounded) until the child has read everything in its stdin pipe.
fn wait_until_read(probe: &std::os::fd::OwnedFd) {
    let deadline = std::time::Instant::now() + WAIT;
    while unread_in_pipe(probe) > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "connect did not read its input: {} bytes left",
            unread_in_pipe(probe)
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn connect_says_what_of_stdin_a_reset_left_unsent() {
    // A CI run: a hub stopping with our lines unread in its socket resets
    // the connection, and `connect` said only "connection lost: connection
    // reset", not that stdin was left unsent. A server that reads a little
    // and closes with the rest unread (a reset) gets both.
    let input = long_input(1_000_000);
    let file = InputFile::new("reset", &input);
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(WAIT)).unwrap();
        let mut first = vec![0; 100_000];
        s.read_exact(&mut first).unwrap();
        // Wait for more to arrive unread, then close: the kernel resets.
        std::thread::sleep(std::time::Duration::from_millis(100));
        drop(s);
    });
    let mut child = bin()
        .args(["connect", &format!("127.0.0.1:{port}")])
        .stdin(file.open())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tcphub connect");
    let st = wait_exit(&mut child, "connect did not exit when the server reset");
    let err = stderr_of(&mut child);
    server.join().unwrap();
    assert_eq!(st.code(), Some(1), "{st:?}: {err}");
    assert!(
        err.contains("before everything read from stdin was sent"),
        "{err}"
    );
}

#[test]
fn connect_fails_when_the_hub_stops_with_input_still_queued() {
    // Found by the CLI audit: a hub stopping mid-stream ends its side of
    // the connection and discards what still comes. `connect` wrote its
    // queue on (as to a server that only half-closed) and, its stdin all
    // queued, exited 0 with half the lines never echoed. The hub's end now
    // drops the queue, and the exit code says so.
    let lines = 1_000_000;
    let input = long_input(lines);
    let file = InputFile::new("stop", &input);
    let mut hub = Hub::start(&["--mode", "echo"]);
    let mut child = bin()
        .args(["connect", &format!("127.0.0.1:{}", hub.port)])
        .stdin(file.open())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tcphub connect");
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    std::io::BufRead::read_line(&mut out, &mut first).unwrap();
    assert_eq!(first, "line 0000000 of a long input\n");
    hub.terminate(); // mid-stream: the echoes have begun
    let mut rest = Vec::new();
    out.read_to_end(&mut rest).unwrap();
    let echoed = 1 + rest.iter().filter(|&&b| b == b'\n').count();
    let st = wait_exit(&mut child, "connect did not exit when the hub stopped");
    let err = stderr_of(&mut child);
    assert!(
        echoed < lines,
        "the hub echoed all {lines} lines before it stopped: input too short for the test"
    );
    assert_eq!(
        st.code(),
        Some(1),
        "{echoed} of {lines} lines echoed, yet {st:?}: {err}"
    );
    assert!(
        err.contains("the connection closed before everything read from stdin was sent")
            || err.contains("the server closed the connection before everything read from stdin"),
        "{err}"
    );
}

/// `lines` numbered lines of 28 bytes: "line 0000000 of a long input\n", ...
fn long_input(lines: usize) -> Vec<u8> {
    let mut input = Vec::with_capacity(lines * 28);
    for i in 0..lines {
        input.extend_from_slice(format!("line {i:07} of a long input\n").as_bytes());
    }
    input
}
