//! The examples run: `chat_server` relays what two `chat_client`s type;
//! `pubsub_server` sends a topic's publications to its subscribers;
//! `worker_pool_server` answers jobs from worker threads, to clients that
//! half-close too, and answers the jobs it took before a SIGTERM stops it.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The built example `name`, up to date: `cargo test --test examples`
/// alone does not build the examples, and a plain `cargo test` may leave
/// one from an older source (so it is always rebuilt here, once per run;
/// cargo does nothing when it is fresh).
fn example(name: &str) -> PathBuf {
    static BUILT: std::sync::Once = std::sync::Once::new();
    let profile_dir = std::env::current_exe()
        .expect("test binary path")
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target profile directory")
        .to_path_buf();
    BUILT.call_once(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut build = Command::new(cargo);
        build.args(["build", "-p", "tcphub", "--examples", "--target-dir"]);
        build.arg(profile_dir.parent().expect("target directory"));
        if profile_dir.ends_with("release") {
            build.arg("--release");
        }
        let status = build.status().expect("run cargo build");
        assert!(status.success(), "cargo build --examples");
    });
    profile_dir.join("examples").join(name)
}

/// Lines a child writes to one of its pipes, read on a thread of their own
/// (as bytes, shown lossily: a child may print what is not UTF-8). The
/// pipe is read to its end even when nobody takes the lines any more, so
/// the child never writes into a closed pipe.
struct Lines(std::sync::mpsc::Receiver<String>);

impl Lines {
    fn of(pipe: impl std::io::Read + Send + 'static) -> Lines {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).split(b'\n') {
                let Ok(line) = line else { break };
                let _ = tx.send(String::from_utf8_lossy(&line).into_owned());
            }
        });
        Lines(rx)
    }

    /// The next line, waiting at most 20 s.
    fn next(&self, what: &str) -> String {
        self.0
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|e| panic!("no line ({what}): {e}"))
    }

    /// Skips lines until one satisfies `want`; returns it.
    fn until(&self, what: &str, want: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.0.recv_timeout(left) {
                Ok(line) if want(&line) => return line,
                Ok(_) => {}
                Err(e) => panic!("no line {what}: {e}"),
            }
        }
    }
}

/// A child killed when the test ends, however it ends.
struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A running `chat_client` connected to `port`: its stdin, stdout lines,
/// the rest of its stderr lines and its own address (from its first
/// stderr line, "connected to … from …").
fn client(port: u16) -> (Kill, Lines, Lines, String) {
    let mut child = spawn_client(port);
    let out = Lines::of(child.stdout.take().unwrap());
    let err = Lines::of(child.stderr.take().unwrap());
    let hello = err.next("chat_client's connected line");
    let me = hello
        .rsplit(" from ")
        .next()
        .filter(|_| hello.starts_with("connected to "))
        .unwrap_or_else(|| panic!("unexpected first line {hello:?}"))
        .to_string();
    (Kill(child), out, err, me)
}

/// `chat_client` started against `127.0.0.1:port`, its stdin, stdout and
/// stderr piped.
fn spawn_client(port: u16) -> Child {
    Command::new(example("chat_client"))
        .arg(format!("127.0.0.1:{port}"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chat_client")
}

/// A running `chat_server` on a free port, and the port.
fn chat_server() -> (Kill, u16) {
    example_server("chat_server")
}

/// A running server example `name` on a free port (it says which on its
/// first stderr line), and the port.
fn example_server(name: &str) -> (Kill, u16) {
    let mut server = Command::new(example(name))
        .arg("0")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {name}: {e}"));
    let log = Lines::of(server.stderr.take().unwrap());
    let server = Kill(server);
    let listening = log.next("the server's listening line");
    let port: u16 = listening
        .rsplit(':')
        .next()
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("no port in {listening:?}"));
    (server, port)
}

/// Waits (at most 20 s) for `child` to exit; its status.
fn exit_of(child: &mut Kill, what: &str) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(s) = child.0.try_wait().unwrap() {
            return s;
        }
        assert!(Instant::now() < deadline, "{what} did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn chat_clients_talk_through_the_chat_server() {
    let (server, port) = chat_server();
    let (_a, a_out, _, a_addr) = client(port);
    assert_eq!(a_out.next("a's join"), format!("client {a_addr} connected"));
    let (mut b, b_out, _, b_addr) = client(port);
    assert_eq!(b_out.next("b's join"), format!("client {b_addr} connected"));
    a_out.until("b's join at a", |l| {
        l == format!("client {b_addr} connected")
    });

    let mut stdin = b.0.stdin.take().unwrap();
    stdin.write_all(b"hello from b\n").unwrap();
    let relayed = format!("{b_addr}: hello from b");
    assert_eq!(
        a_out.until("the relayed line at a", |l| l == relayed),
        relayed
    );
    b_out.until("the relayed line at b", |l| l == relayed);

    // End of b's input: it half-closes, the hub closes it, b exits 0.
    drop(stdin);
    let status = exit_of(&mut b, "chat_client");
    assert!(status.success(), "chat_client exit status {status:?}");
    let left = format!("client {b_addr} disconnected (closed by peer)");
    a_out.until("b's leave notice at a", |l| l == left);
    drop(server);
}

/// The pub/sub example: a publication reaches its topic's subscribers
/// only, the publisher hears how many, and a leaver is unsubscribed.
#[test]
fn pubsub_server_sends_to_a_topics_subscribers_only() {
    let (server, port) = example_server("pubsub_server");
    let connect = || {
        let s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let lines = Lines::of(s.try_clone().unwrap());
        (s, lines)
    };
    let (mut a, a_in) = connect();
    let (mut b, b_in) = connect();
    let (mut c, c_in) = connect();
    a.write_all(b"sub news\n").unwrap();
    assert_eq!(a_in.next("a's sub"), "subscribed to news");
    b.write_all(b"sub news\nsub sport\n").unwrap();
    assert_eq!(b_in.next("b's sub"), "subscribed to news");
    assert_eq!(b_in.next("b's sub"), "subscribed to sport");
    c.write_all(b"pub news rain\npub sport goal\nhello\n")
        .unwrap();
    assert_eq!(c_in.next("c's first count"), "sent to 2");
    assert_eq!(c_in.next("c's second count"), "sent to 1");
    assert!(c_in.next("c's error").starts_with("error: say sub TOPIC"));
    assert_eq!(a_in.next("news at a"), "news: rain");
    assert_eq!(b_in.next("news at b"), "news: rain");
    assert_eq!(b_in.next("sport at b"), "sport: goal");
    // (Its reader thread holds a clone of the socket: shut it down.)
    a.shutdown(std::net::Shutdown::Both).unwrap();
    assert!(matches!(
        a_in.0.recv_timeout(Duration::from_secs(20)),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected)
    ));
    // Once a's leave is handled, news has one subscriber left.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        c.write_all(b"pub news dry\n").unwrap();
        let count = c_in.next("c's count");
        assert_eq!(b_in.next("news at b"), "news: dry");
        if count == "sent to 1" {
            break;
        }
        assert_eq!(count, "sent to 2");
        assert!(Instant::now() < deadline, "a was never unsubscribed");
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(server);
}

/// Runs example `name` with `args` and no input until it exits (at most
/// 20 s): its exit code and the lines it wrote to stderr.
fn run_to_end(name: &str, args: &[&str]) -> (Option<i32>, Vec<String>) {
    let mut child = Command::new(example(name))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the example");
    let err = Lines::of(child.stderr.take().unwrap());
    let status = exit_of(&mut Kill(child), name);
    (status.code(), err.0.iter().collect())
}

/// A newcomer's first mistakes — a port in use, a port that is not one, no
/// hub at the address — get one line naming the problem and exit code 1,
/// not a `Debug` dump of the error (`Error: Bind { addr: …, source: Os { … } }`).
#[test]
fn examples_say_why_they_cannot_start_in_one_line() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let port = busy.local_addr().unwrap().port();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a loopback port")
        .port();
    let cases = [
        (
            "chat_server",
            port.to_string(),
            format!("chat_server: cannot listen on 0.0.0.0:{port}: address in use"),
        ),
        (
            "chat_server",
            "80000".to_string(),
            "chat_server: \"80000\" is not a port (0-65535)".to_string(),
        ),
        (
            "chat_client",
            format!("127.0.0.1:{closed}"),
            format!("chat_client: cannot connect to 127.0.0.1:{closed}: connection refused"),
        ),
    ];
    for (name, arg, want) in cases {
        let (code, err) = run_to_end(name, &[&arg]);
        assert_eq!(err, [want], "{name} {arg}");
        assert_eq!(code, Some(1), "{name} {arg}");
    }
    drop(busy);
}

/// Runs a `chat_client` on a `chat_server` with `typed` as its whole input,
/// to its end: what a watcher saw it say (each line after `<addr>: `) and
/// what it wrote to stderr.
fn chat_client_typing(typed: Vec<u8>) -> (Vec<Vec<u8>>, Vec<String>) {
    let (_server, port) = chat_server();
    let watcher = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    watcher
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut seen = BufReader::new(watcher);
    let mut line = Vec::new();
    let mut next_line = |what: &str| {
        line.clear();
        let n = seen.read_until(b'\n', &mut line).expect(what);
        assert!(n > 0 && line.ends_with(b"\n"), "no line ({what})");
        line[..line.len() - 1].to_vec()
    };
    next_line("the watcher's own join notice");

    let (mut child, _out, err, me) = client(port);
    let mut stdin = child.0.stdin.take().unwrap();
    // On a thread: a client that stops reading its input must not block the test.
    std::thread::spawn(move || stdin.write_all(&typed));
    let status = exit_of(&mut child, "chat_client");
    assert!(
        status.success(),
        "chat_client exit status {status:?}, stderr {:?}",
        err.0.try_iter().collect::<Vec<_>>()
    );
    let (said, left) = (
        format!("{me}: "),
        format!("client {me} disconnected (closed by peer)"),
    );
    let mut lines = Vec::new();
    loop {
        let l = next_line("what the client said");
        if l == left.as_bytes() {
            return (lines, err.0.try_iter().collect());
        }
        if let Some(text) = l.strip_prefix(said.as_bytes()) {
            lines.push(text.to_vec());
        }
    }
}

/// A line over the frame limit was the end of the client's input: its
/// input thread gave up (`not sent: …`), never half-closed, and the client
/// waited for the hub forever. It skips that line and goes on.
#[test]
fn chat_client_skips_a_line_too_long_to_send() {
    let mut typed = vec![b'x'; 70_000];
    typed.extend_from_slice(b"\nafter\n");
    let (said, err) = chat_client_typing(typed);
    assert_eq!(said, [b"after"], "stderr: {err:?}");
    assert!(
        err.iter()
            .any(|l| l.starts_with("not sent: message of 70000 bytes")),
        "{err:?}"
    );
}

/// A line that was not UTF-8 ended the client's input (`lines()` gives an
/// error for it): it and every later line were lost. Lines are bytes.
#[test]
fn chat_client_sends_bytes_that_are_not_utf8_as_typed() {
    let (said, err) = chat_client_typing(b"caf\xe9 \xff\nafter\n".to_vec());
    assert_eq!(said, [&b"caf\xe9 \xff"[..], b"after"], "stderr: {err:?}");
}

#[test]
fn chat_server_stops_gracefully_on_sigterm() {
    let (mut server, port) = chat_server();
    let (_a, a_out, a_err, a_addr) = client(port);
    assert_eq!(a_out.next("a's join"), format!("client {a_addr} connected"));
    // SAFETY: a plain kill(2) of our own child.
    let rc = unsafe { libc::kill(server.0.id() as libc::pid_t, libc::SIGTERM) };
    assert_eq!(rc, 0, "kill: {}", std::io::Error::last_os_error());
    let status = exit_of(&mut server, "chat_server");
    assert_eq!(status.code(), Some(0), "chat_server exit status {status:?}");
    // The hub closed the client's connection (a graceful stop), it did not
    // vanish with the process.
    let seen = a_err.until("a's disconnect line", |l| l.starts_with("disconnected: "));
    assert_eq!(seen, "disconnected: closed by peer");
}

/// A connection to a running example on `port`, with a reader of its lines.
fn line_client(port: u16) -> (std::net::TcpStream, Lines) {
    let s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let lines = Lines::of(s.try_clone().unwrap());
    (s, lines)
}

/// The worker pool example: a client that sends its jobs and half-closes
/// (as `nc -N` does) gets every answer, then the end.
#[test]
fn worker_pool_server_answers_a_half_closed_client() {
    let (server, port) = example_server("worker_pool_server");
    let (mut c, c_in) = line_client(port);
    c.write_all(b"sleep 200\nhello\nsleep x\n").unwrap();
    c.shutdown(std::net::Shutdown::Write).unwrap();
    let mut answers: Vec<String> = (0..3).map(|_| c_in.next("an answer")).collect();
    answers.sort();
    assert_eq!(
        answers,
        [
            "hello -> HELLO",
            "sleep 200 -> slept 200 ms",
            "sleep x -> error: say sleep MS"
        ]
    );
    // Then the server closes it: the reader sees the end.
    assert!(matches!(
        c_in.0.recv_timeout(Duration::from_secs(20)),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected)
    ));
    drop(server);
}

/// More jobs at once than the example lets wait (`MAX_JOBS`): the input
/// pauses and resumes as the workers catch up, and every job is answered.
#[test]
fn worker_pool_server_answers_a_burst_past_its_bound() {
    const JOBS: usize = 2000;
    let (server, port) = example_server("worker_pool_server");
    let (mut c, c_in) = line_client(port);
    let burst: String = (0..JOBS).map(|i| format!("sleep {}\n", i % 2)).collect();
    c.write_all(burst.as_bytes()).unwrap();
    c.shutdown(std::net::Shutdown::Write).unwrap();
    let answers: Vec<String> = (0..JOBS).map(|_| c_in.next("an answer")).collect();
    let slept = |ms| {
        answers
            .iter()
            .filter(|a| **a == format!("sleep {ms} -> slept {ms} ms"))
            .count()
    };
    assert_eq!((slept(0), slept(1)), (JOBS / 2, JOBS / 2));
    assert!(matches!(
        c_in.0.recv_timeout(Duration::from_secs(20)),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected)
    ));
    drop(server);
}

/// SIGTERM: the jobs taken are answered before the server stops (exit 0).
#[test]
fn worker_pool_server_answers_the_jobs_taken_before_it_stops() {
    let (mut server, port) = example_server("worker_pool_server");
    let (mut c, c_in) = line_client(port);
    // The answer to `hello` shows both jobs were taken (lines are taken in
    // order); the sleep's is still to come when the signal arrives.
    c.write_all(b"sleep 1500\nhello\n").unwrap();
    let mut seen = vec![c_in.next("the first answer")];
    // SAFETY: a plain kill(2) of our own child.
    let rc = unsafe { libc::kill(server.0.id() as libc::pid_t, libc::SIGTERM) };
    assert_eq!(rc, 0, "kill: {}", std::io::Error::last_os_error());
    seen.push(c_in.next("the answer in flight"));
    seen.sort();
    assert_eq!(seen, ["hello -> HELLO", "sleep 1500 -> slept 1500 ms"]);
    let status = exit_of(&mut server, "worker_pool_server");
    assert_eq!(status.code(), Some(0), "exit status {status:?}");
    assert!(matches!(
        c_in.0.recv_timeout(Duration::from_secs(20)),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected)
    ));
}

/// Review ex: `chat_server` tells the sender when its line is too long to
/// relay once prefixed with its address (65,530 bytes fit the 64 KiB line
/// limit; with "<ip:port>: " they do not). It was dropped without a word.
#[test]
fn chat_server_tells_the_sender_when_a_line_is_too_long_to_relay() {
    let (_server, port) = chat_server();
    let (mut a, a_in) = line_client(port);
    let me = a.local_addr().unwrap();
    assert_eq!(a_in.next("a's join"), format!("client {me} connected"));
    let mut typed = vec![b'x'; 65_530];
    typed.extend_from_slice(b"\nshort\n");
    a.write_all(&typed).unwrap();
    let notice = a_in.next("the notice");
    assert!(
        notice.starts_with("message not relayed: "),
        "the sender was not told: {notice:?}"
    );
    assert_eq!(a_in.next("the short line"), format!("{me}: short"));
}

/// Review ex: the examples refuse arguments they do not take, as their C
/// and Python twins do (`chat_server 8001 8002` listened on 8001;
/// `chat_client 127.0.0.1 8001` failed to resolve "127.0.0.1").
#[test]
fn examples_refuse_arguments_they_do_not_take() {
    let cases: [(&str, &[&str]); 5] = [
        ("chat_server", &["0", "extra"]),
        ("pubsub_server", &["0", "0"]),
        ("worker_pool_server", &["0", "x"]),
        ("chat_client", &["127.0.0.1", "8001"]), // the C and Python form
        ("pubsub_server", &["0", ""]),
    ];
    for (name, args) in cases {
        let mut child = Kill(
            Command::new(example(name))
                .args(args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start the example"),
        );
        let err = Lines::of(child.0.stderr.take().unwrap());
        let status = exit_of(&mut child, name);
        let usage = if name == "chat_client" {
            "HOST:PORT"
        } else {
            "PORT"
        };
        let said: Vec<String> = err.0.iter().collect();
        assert_eq!(status.code(), Some(1), "{name} {args:?}: {said:?}");
        assert_eq!(
            said,
            [format!("{name}: usage: {name} [{usage}]")],
            "{name} {args:?}"
        );
    }
}

/// `chat_client | head -1`: once its stdout's reader has left, the client
/// ends quietly (exit 0), as the Python one does, not with "Broken pipe".
#[test]
fn chat_client_ends_quietly_when_its_reader_leaves() {
    let (_server, port) = chat_server();
    let mut child = spawn_client(port);
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let err = Lines::of(child.stderr.take().unwrap());
    let mut client = Kill(child);
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    assert!(first.ends_with(" connected\n"), "{first:?}");
    drop(out); // `head -1` has its line
               // Another client's join is the next line it writes: into no reader.
    let (_b, _b_in) = line_client(port);
    let status = exit_of(&mut client, "chat_client");
    let said: Vec<String> = err.0.iter().collect();
    assert_eq!(status.code(), Some(0), "{said:?}");
    assert!(
        said.iter().all(|l| l.starts_with("connected to ")),
        "{said:?}"
    );
}
