//! A client's first connect can be cancelled from another thread
//! ([`ConnectCancel`], `ClientBuilder::cancel_with`): the connect ends at
//! once instead of at its timeout. Before, `connect` blocked in
//! `TcpStream::connect_timeout` for up to `connect_timeout` per address,
//! and nothing could end it (the Python binding's cancelled `aconnect`s
//! each left a thread connecting on).
//!
//! The connect that hangs is to a loopback listener whose accept backlog
//! is full (`support::full_backlog_listener`): its SYNs are dropped.

mod support;

use std::io::ErrorKind;
use std::net::{SocketAddr, TcpListener};
use std::thread;
use std::time::{Duration, Instant};

use support::*;
use tcphub::{ConnectCancel, Error, TcpClient};

/// Far longer than any bound below: a connect that is not cancelled runs
/// into it.
const LONG: Duration = Duration::from_secs(60);

/// Asserts `err` is a cancelled connect to `addr`.
fn assert_cancelled(err: &Error, addr: SocketAddr) {
    match err {
        Error::Connect {
            addr: failed,
            source,
            others,
        } => {
            assert_eq!(*failed, addr);
            assert_eq!(source.kind(), ErrorKind::Interrupted, "{err}");
            assert!(others.is_empty(), "{others:?}");
            assert_eq!(
                err.to_string(),
                format!("cannot connect to {addr}: connect cancelled")
            );
        }
        other => panic!("not a cancelled connect: {other:?}"),
    }
}

#[test]
fn a_hanging_connect_cancelled_from_another_thread_returns_at_once() {
    let (lst, _fill) = full_backlog_listener();
    let addr = lst.local_addr().unwrap().as_socket().unwrap();
    let cancel = ConnectCancel::new();
    let canceller = thread::spawn({
        let cancel = cancel.clone();
        move || {
            thread::sleep(Duration::from_millis(200)); // the connect under way
                                                       // Read before the cancel: the connect may return (and read the
                                                       // clock) before this thread runs again after it.
            let at = Instant::now();
            cancel.cancel();
            at
        }
    });
    let started = Instant::now();
    let err = TcpClient::builder(addr)
        .connect_timeout(LONG)
        .cancel_with(&cancel)
        .connect()
        .unwrap_err();
    let returned = Instant::now();
    let cancelled_at = canceller.join().unwrap();
    assert_cancelled(&err, addr);
    // Generous bounds for a shared machine; measured: a few ms after the cancel.
    assert!(returned.duration_since(started) < Duration::from_secs(5));
    assert!(returned.duration_since(cancelled_at) < Duration::from_secs(2));
    assert!(returned >= cancelled_at, "returned before it was cancelled");
}

#[test]
fn a_connect_cancelled_before_it_starts_dials_nothing() {
    let lst = TcpListener::bind("127.0.0.1:0").unwrap();
    lst.set_nonblocking(true).unwrap();
    let addr = lst.local_addr().unwrap();
    let cancel = ConnectCancel::new();
    cancel.cancel();
    let started = Instant::now();
    let err = TcpClient::builder(addr)
        .connect_timeout(LONG)
        .cancel_with(&cancel)
        .connect()
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_cancelled(&err, addr);
    // A dialled connect would be in the backlog (a loopback handshake
    // completes before `connect` returns).
    assert_eq!(lst.accept().unwrap_err().kind(), ErrorKind::WouldBlock);
}

#[test]
fn a_cancel_stops_before_the_next_address() {
    // Two addresses, the first one hanging: the cancel names it, and the
    // second (a live listener) is never dialled.
    let (lst, _fill) = full_backlog_listener();
    let hanging = lst.local_addr().unwrap().as_socket().unwrap();
    let live = TcpListener::bind("127.0.0.1:0").unwrap();
    live.set_nonblocking(true).unwrap();
    let cancel = ConnectCancel::new();
    let canceller = thread::spawn({
        let cancel = cancel.clone();
        move || {
            thread::sleep(Duration::from_millis(100));
            cancel.cancel();
        }
    });
    let err = TcpClient::builder(&[hanging, live.local_addr().unwrap()][..])
        .connect_timeout(LONG)
        .cancel_with(&cancel)
        .connect()
        .unwrap_err();
    canceller.join().unwrap();
    assert_cancelled(&err, hanging);
    assert_eq!(live.accept().unwrap_err().kind(), ErrorKind::WouldBlock);
}

#[test]
fn a_token_never_cancelled_changes_nothing() {
    let server = echo_server(tcphub::Framing::lines());
    let cancel = ConnectCancel::new();
    let client = TcpClient::builder(server.local_addr())
        .framing(tcphub::Framing::lines())
        .cancel_with(&cancel)
        .connect()
        .unwrap();
    client.send(b"ping").unwrap();
    assert_eq!(client.recv_timeout(TIMEOUT).unwrap(), b"ping");
    // Cancelling a connect that is over ends nothing.
    cancel.cancel();
    assert!(client.is_connected());
    client.send(b"pong").unwrap();
    assert_eq!(client.recv_timeout(TIMEOUT).unwrap(), b"pong");
    client.close();
    server.stop();
}

#[test]
fn refused_and_timed_out_are_told_as_before() {
    // Refused: a port nobody listens on.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let refused = SocketAddr::from(([127, 0, 0, 1], port));
    let cancel = ConnectCancel::new();
    let err = TcpClient::builder(refused)
        .cancel_with(&cancel)
        .connect()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("cannot connect to {refused}: connection refused")
    );
    // Timed out: the hanging listener, with a short timeout.
    let (lst, _fill) = full_backlog_listener();
    let addr = lst.local_addr().unwrap().as_socket().unwrap();
    let started = Instant::now();
    let err = TcpClient::builder(addr)
        .connect_timeout(Duration::from_millis(300))
        .cancel_with(&cancel)
        .connect()
        .unwrap_err();
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(
        err.to_string(),
        format!("cannot connect to {addr}: timed out")
    );
    match err {
        Error::Connect { source, .. } => assert_eq!(source.kind(), ErrorKind::TimedOut),
        other => panic!("{other:?}"),
    }
}
