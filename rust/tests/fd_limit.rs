//! A process out of file descriptors: the server's `accept` fails with
//! `EMFILE` while connections wait in the backlog, a client cannot dial.
//!
//! Alone in its own file (so its own process): it lowers this process's
//! `RLIMIT_NOFILE` soft limit to 0 — no new descriptor at all, the ones open
//! keep working — which would break any test running beside it. The
//! tests here take turns (`ONE_AT_A_TIME`). Its own logger counts the
//! engine's log lines.

mod support;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use support::*;
use tcphub::{ClientEvent, ConnectCancel, Error, Framing, Reconnect, TcpClient};

/// The tests change a process-wide limit: one at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner())
}

fn install_logger() {
    // Both tests call it; the second call finds it set.
    capture_log(log::LevelFilter::Debug);
}

fn warnings(needle: &str, since: Instant) -> Vec<String> {
    logged_since(log::Level::Warn, needle, since)
}

/// CPU time (user + system) and context switches (voluntary + not) of the
/// whole process so far. `getrusage` needs no descriptor, so it works
/// with none left.
fn usage() -> (Duration, i64) {
    // SAFETY: getrusage fills the struct we pass.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        assert_eq!(libc::getrusage(libc::RUSAGE_SELF, &mut ru), 0);
        ru
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    (
        tv(ru.ru_utime) + tv(ru.ru_stime),
        ru.ru_nvcsw + ru.ru_nivcsw,
    )
}

/// A socket created now (taking its descriptor) and connected later.
fn unconnected() -> socket2::Socket {
    socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket")
}

/// Connects a socket made by [`unconnected`]: the kernel completes the
/// handshake into the listener's backlog whether or not the server accepts.
fn connect(sock: socket2::Socket, addr: SocketAddr) -> TcpStream {
    sock.connect(&addr.into())
        .unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    let stream: TcpStream = sock.into();
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    stream
}

fn read_line(stream: &mut TcpStream) -> String {
    use std::io::BufRead;
    let mut line = String::new();
    std::io::BufReader::new(stream)
        .read_line(&mut line)
        .expect("read a line");
    line
}

#[test]
fn accept_out_of_fds_waits_quietly_and_serves_the_backlog_once_fds_free_up() {
    const ADMITTED: usize = 4;
    const PENDING: usize = 8;
    /// How long the server stays out of descriptors for the measurement.
    const WINDOW: Duration = Duration::from_secs(2);
    let _turn = one_at_a_time();
    install_logger();
    let server = echo_server(Framing::lines());
    let addr = server.local_addr();
    let mut admitted: Vec<Peer> = (0..ADMITTED).map(|_| Peer::connect(addr)).collect();
    wait_clients(&server, ADMITTED);
    for (i, p) in admitted.iter_mut().enumerate() {
        p.send_line(&format!("before {i}"));
        assert_eq!(p.read_line(), format!("before {i}"));
    }
    let socks: Vec<_> = (0..PENDING).map(|_| unconnected()).collect();

    let limit = SoftLimit::set(libc::RLIMIT_NOFILE, 0);
    let since = Instant::now();
    let mut pending: Vec<TcpStream> = socks.into_iter().map(|s| connect(s, addr)).collect();
    for (i, s) in pending.iter_mut().enumerate() {
        s.write_all(format!("pending {i}\n").as_bytes()).unwrap();
    }
    wait_until("the accept failure logged", || {
        !warnings("accept", since).is_empty()
    });

    // Out of descriptors for WINDOW: admitted clients are still served.
    let (cpu0, switches0) = usage();
    let window = Instant::now();
    for round in 0..3 {
        for (i, p) in admitted.iter_mut().enumerate() {
            p.send_line(&format!("meanwhile {round} {i}"));
            assert_eq!(p.read_line(), format!("meanwhile {round} {i}"));
        }
    }
    std::thread::sleep(WINDOW.saturating_sub(window.elapsed()));
    let (cpu1, switches1) = usage();
    let elapsed = window.elapsed();
    assert_eq!(
        server.client_count(),
        ADMITTED,
        "nothing accepted without fds"
    );
    let (cpu, switches) = (cpu1 - cpu0, switches1 - switches0);
    eprintln!(
        "out of fds for {elapsed:?}: {cpu:?} CPU, {switches} context switches, \
         {} accept warnings in all",
        warnings("accept", since).len()
    );
    // A loop spinning on accept would burn the whole window.
    assert!(cpu < elapsed / 4, "{cpu:?} of CPU in {elapsed:?}");
    // One warning when it began, not one per retry (20 a second) or per
    // connection arriving meanwhile.
    let warned = warnings("accept", since);
    assert_eq!(warned.len(), 1, "{warned:#?}");
    assert!(warned[0].contains("open files"), "{warned:?}");
    // Retrying every 50 ms: about 40 wakeups, and a dozen for the echoes.
    assert!(
        switches < 400,
        "{switches} context switches in {elapsed:?}: the loop wakes far more often than it retries"
    );

    // Descriptors free again: the backlog is served, in order of arrival.
    drop(limit);
    for (i, s) in pending.iter_mut().enumerate() {
        assert_eq!(read_line(s), format!("pending {i}\n"));
    }
    wait_clients(&server, ADMITTED + PENDING);
    let back = logged_since(log::Level::Info, "accepting again", since);
    assert_eq!(back.len(), 1, "{back:#?}");
    server.stop();
}

#[test]
fn a_client_out_of_fds_gets_an_error_and_reconnects_once_fds_free_up() {
    let _turn = one_at_a_time();
    install_logger();
    let server = echo_server(Framing::lines());
    let addr = server.local_addr();
    let client = TcpClient::builder(addr)
        .framing(Framing::lines())
        .reconnect(Reconnect {
            initial: Duration::from_millis(20),
            max: Duration::from_millis(100),
            max_attempts: None,
        })
        .connect()
        .unwrap();
    wait_clients(&server, 1);
    let id = server.clients()[0].id;

    let limit = SoftLimit::set(libc::RLIMIT_NOFILE, 0);
    // A new client: a clear error, no panic.
    let err = TcpClient::builder(addr)
        .framing(Framing::lines())
        .connect()
        .expect_err("no descriptor for a socket");
    assert!(matches!(err, Error::Connect { .. }), "{err:?}");
    assert!(err.to_string().contains("open files"), "{err}");

    // A connected client whose connection drops keeps trying, with backoff.
    server.disconnect(id).unwrap();
    let mut attempts = 0;
    while attempts < 4 {
        match client.next_event(TIMEOUT).expect("an event") {
            ClientEvent::Reconnecting { attempt, .. } => attempts = attempt,
            ClientEvent::Disconnected(_) => {}
            other => panic!("unexpected while out of fds: {other:?}"),
        }
    }
    assert!(!client.is_connected());

    drop(limit);
    loop {
        match client.next_event(TIMEOUT).expect("an event") {
            ClientEvent::Reconnected { .. } => break,
            ClientEvent::Reconnecting { .. } => {}
            other => panic!("unexpected while reconnecting: {other:?}"),
        }
    }
    client.send(b"back").unwrap();
    assert_eq!(client.recv_timeout(TIMEOUT).unwrap(), b"back");
    client.close();
    server.stop();
}

/// A connect that can be cancelled (`cancel_with`, as the Python binding's
/// always is) fails out of fds as any connect does: `Error::Connect`,
/// "Too many open files" — before, with `Error::Io` "creating the
/// connect's cancel descriptor" (the token's socket pair was made before
/// the first dial), which Python raised as `IoError`, not `ConnectError`.
#[test]
fn a_cancellable_connect_out_of_fds_fails_as_a_connect() {
    let _turn = one_at_a_time();
    let server = echo_server(Framing::lines());
    let addr = server.local_addr();
    let cancel = ConnectCancel::new();
    let limit = SoftLimit::set(libc::RLIMIT_NOFILE, 0);
    let err = TcpClient::builder(addr)
        .cancel_with(&cancel)
        .connect()
        .expect_err("no descriptor for a socket");
    drop(limit);
    assert!(
        matches!(err, Error::Connect { addr: a, .. } if a == addr),
        "{err:?}"
    );
    assert!(err.to_string().contains("open files"), "{err}");
    // With fds again, the same token serves a connect.
    let client = TcpClient::builder(addr)
        .framing(Framing::lines())
        .cancel_with(&cancel)
        .connect()
        .unwrap();
    client.send(b"hi").unwrap();
    assert_eq!(client.recv_timeout(TIMEOUT).unwrap(), b"hi");
    client.close();
    server.stop();
}
