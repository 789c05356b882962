//! Helpers shared by the CLI's end-to-end tests: the binary, a running hub
//! with its log, a line client, and bounded waits.
// Each test file uses its own subset.
#![allow(dead_code)]

pub mod stderr_pipe;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long any wait for an event lasts at most.
pub const WAIT: Duration = Duration::from_secs(20);

/// The port in a hub's "listening on ADDR:PORT" line.
pub fn listening_port(line: &str) -> u16 {
    line.split("listening on ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|addr| addr.rsplit(':').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {line:?}"))
}

/// Settings `tcphub` takes from the environment that change what it logs
/// or how it colours it: the tests read both, so none is passed on from
/// whoever runs them (a CI machine's `RUST_LOG=warn` hid every hub's
/// "listening on" line). A test that wants one sets it itself.
const OUTPUT_ENV: [&str; 5] = [
    "RUST_LOG",
    "RUST_LOG_STYLE",
    "CLICOLOR",
    "CLICOLOR_FORCE",
    "NO_COLOR",
];

pub fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tcphub"));
    for var in OUTPUT_ENV {
        cmd.env_remove(var);
    }
    cmd
}

/// Whether IPv6 loopback works here (a listener of its own and a
/// connection to it); says "skipped" when it does not. Hosts and
/// containers without IPv6 are common on CI: a test of IPv6 behaviour
/// skips there rather than fail on the host's configuration.
pub fn have_ipv6_loopback() -> bool {
    let ok = std::net::TcpListener::bind("[::1]:0")
        .and_then(|l| TcpStream::connect(l.local_addr()?))
        .is_ok();
    if !ok {
        eprintln!("skipped: no IPv6 loopback");
    }
    ok
}

/// Runs `tcphub ARGS` (stdin empty), which must fail as a usage error
/// (exit code 2): its stderr.
pub fn usage_error_of(args: &[&str]) -> String {
    let out = bin()
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run tcphub");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    stderr
}

/// A running `tcphub serve` with its stderr lines collected.
pub struct Hub {
    pub child: Child,
    pub port: u16,
    pub log: mpsc::Receiver<String>,
}

impl Hub {
    pub fn start(args: &[&str]) -> Hub {
        Hub::start_on("127.0.0.1", args)
    }

    /// A hub listening on `bind`, port 0.
    pub fn start_on(bind: &str, args: &[&str]) -> Hub {
        Hub::start_with_env(bind, args, &[])
    }

    /// A hub listening on `bind`, port 0, with `env` set for it.
    pub fn start_with_env(bind: &str, args: &[&str], env: &[(&str, &str)]) -> Hub {
        let mut child = bin()
            .envs(env.iter().copied())
            .arg("serve")
            .args(["--bind", bind, "--port", "0"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn tcphub serve");
        let (tx, rx) = mpsc::channel();
        let stderr = child.stderr.take().expect("piped stderr");
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut hub = Hub {
            child,
            port: 0,
            log: rx,
        };
        // (A panic here drops `hub`, which ends the child.)
        let line = wait_line(&hub.log, |l| l.contains("listening on"));
        hub.port = listening_port(&line);
        hub
    }

    pub fn connect(&self) -> Line {
        Line::connect(self.port)
    }

    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
        wait_exit(&mut self.child, "hub did not exit after SIGTERM")
    }
}

/// `tcphub connect ADDR EXTRA...` with stdin and stdout piped.
pub fn spawn_connect(addr: &str, extra: &[&str], stderr: Stdio) -> Child {
    bin()
        .arg("connect")
        .arg(addr)
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("spawn tcphub connect")
}

/// Everything `child` wrote to its (piped) stderr; call once it has exited.
pub fn stderr_of(child: &mut Child) -> String {
    let mut err = String::new();
    child
        .stderr
        .take()
        .expect("stderr piped")
        .read_to_string(&mut err)
        .expect("read stderr");
    err
}

/// Waits (bounded) for `child` to exit; panics with `what` if it does not.
pub fn wait_exit(child: &mut Child, what: &str) -> std::process::ExitStatus {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(st) = child.try_wait().expect("try_wait") {
            return st;
        }
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn wait_line(rx: &mpsc::Receiver<String>, pred: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(l) if pred(&l) => return l,
            Ok(_) => continue,
            Err(e) => panic!("expected log line not seen: {e}"),
        }
    }
}

/// A line-oriented test client.
pub struct Line {
    pub reader: BufReader<TcpStream>,
    pub writer: TcpStream,
}

impl Line {
    pub fn connect(port: u16) -> Line {
        let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.set_read_timeout(Some(WAIT)).expect("timeout");
        Line {
            reader: BufReader::new(s.try_clone().expect("clone")),
            writer: s,
        }
    }

    pub fn addr(&self) -> String {
        self.writer.local_addr().expect("local addr").to_string()
    }

    /// Sends `text` and its line end in one write: under raw framing two
    /// writes can arrive as two messages ("<addr>: hi", "<addr>: \n").
    pub fn send(&mut self, text: &str) {
        self.writer
            .write_all(format!("{text}\n").as_bytes())
            .expect("write");
    }

    pub fn line(&mut self) -> String {
        let mut l = String::new();
        let n = self.reader.read_line(&mut l).expect("read line");
        assert!(n > 0, "unexpected EOF");
        l.trim_end_matches('\n').to_string()
    }

    pub fn expect(&mut self, want: &str) {
        assert_eq!(self.line(), want);
    }

    /// Reads until EOF; returns whatever came before it.
    pub fn until_eof(&mut self) -> String {
        let mut rest = String::new();
        self.reader.read_to_string(&mut rest).expect("read to EOF");
        rest
    }
}

/// A server that accepts one connection and never reads it, with a 4 KiB
/// receive window, until told to go (the sender, or after [`WAIT`] × 3):
/// its port, the sender, and the thread to join.
pub fn non_reading_server() -> (u16, mpsc::Sender<()>, std::thread::JoinHandle<()>) {
    let l = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    l.set_recv_buffer_size(4096).unwrap(); // inherited by the accepted socket
    l.bind(&std::net::SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .unwrap();
    l.listen(1).unwrap();
    let port = l.local_addr().unwrap().as_socket().unwrap().port();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let server = std::thread::spawn(move || {
        let (_s, _) = l.accept().unwrap();
        let _ = done_rx.recv_timeout(WAIT * 3); // never reads
    });
    (port, done_tx, server)
}

/// The kernel's queues of the IPv4 TCP socket on local port `local`
/// connected to port `peer`, from `/proc/net/tcp`: bytes sent and not yet
/// acknowledged, and bytes received and not yet read by its process.
/// `None` when no such socket is listed.
pub fn socket_queues(local: u16, peer: u16) -> Option<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
    let port = |s: &str| u16::from_str_radix(s.rsplit(':').next()?, 16).ok();
    // Only the lines that name both ports are split (a busy host lists
    // thousands of sockets, and each look at the table is one read of it).
    let (l, p) = (format!(":{local:04X} "), format!(":{peer:04X} "));
    text.lines()
        .skip(1)
        .filter(|line| line.contains(&l) && line.contains(&p))
        .find_map(|line| {
            // sl local_address rem_address st tx_queue:rx_queue ...
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 5 || port(f[1]) != Some(local) || port(f[2]) != Some(peer) {
                return None;
            }
            let (tx, rx) = f[4].split_once(':')?;
            Some((
                u64::from_str_radix(tx, 16).ok()?,
                u64::from_str_radix(rx, 16).ok()?,
            ))
        })
}

/// Waits (bounded) until everything `s` (a connection to a hub on
/// loopback) has sent is read by the hub's process: nothing left
/// unacknowledged on our side, nothing unread on the hub's.
pub fn wait_all_read_by_hub(s: &TcpStream) {
    let (me, hub) = (
        s.local_addr().unwrap().port(),
        s.peer_addr().unwrap().port(),
    );
    let deadline = Instant::now() + WAIT;
    loop {
        let sent = socket_queues(me, hub).map(|(tx, _)| tx);
        let unread = socket_queues(hub, me).map(|(_, rx)| rx);
        if sent == Some(0) && unread == Some(0) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the hub did not read everything: {sent:?} unacknowledged, {unread:?} unread"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The keepalive timer of the socket on local port `local` for the
/// connection to port `peer`, in clock ticks (100 a second), from
/// `/proc/net/tcp`; `None` when it has no keepalive timer.
pub fn keepalive_ticks(local: u16, peer: u16) -> Option<u64> {
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

/// `tcphub send ADDR ping --wait-reply 10` against an echo hub prints "ping".
pub fn assert_send_ping_echoes(addr: &str) {
    let out = bin()
        .args(["send", addr, "ping", "--wait-reply", "10"])
        .output()
        .expect("run tcphub send");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ping\n");
}

/// Runs `tcphub send ADDR REST…` to its end (stdin empty, output taken).
pub fn send_cmd(addr: &str, rest: &[&str]) -> std::process::Output {
    bin()
        .arg("send")
        .arg(addr)
        .args(rest)
        .output()
        .expect("run tcphub send")
}
