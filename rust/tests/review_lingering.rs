//! Review of lingering close (`event_loop/lingering.rs`): a socket the
//! server ends politely while its peer may still send stays open (input
//! discarded) until the peer has our last bytes. Every path must close it in
//! the end, and the stop must keep its bounds.
//!
//! The tests count this process's descriptors, so they run one at a time
//! (`SERIAL`) and each runs one server.

mod support;

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use support::*;
use tcphub::{DisconnectReason, ServerHandle};

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// A one-loop goodbye server on `ip` (see [`goodbye_server`]).
fn started_goodbye_server(
    ip: IpAddr,
    linger: Duration,
    kick: bool,
    gone: &Disconnects,
) -> ServerHandle {
    let server = goodbye_server(10, kick, gone)
        .bind(ip)
        .threads(1)
        .linger(linger)
        .start()
        .expect("start");
    room_for_goodbye(&server);
    server
}

/// The event-loop thread "tcphub-io-0" of this process (one server runs).
fn loop_thread() -> libc::pid_t {
    for e in std::fs::read_dir("/proc/self/task")
        .expect("tasks")
        .flatten()
    {
        let comm = std::fs::read_to_string(e.path().join("comm")).unwrap_or_default();
        if comm.trim() == "tcphub-io-0" {
            return e.file_name().to_str().unwrap().parse().unwrap();
        }
    }
    panic!("no tcphub-io-0 thread");
}

extern "C" fn ignore_signal(_: libc::c_int) {}

/// Sends SIGUSR1 (handled by a no-op, as a program handling signals
/// would) to thread `tid`.
fn signal_thread(tid: libc::pid_t) {
    // SAFETY: installs a handler that does nothing; tgkill only signals.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = ignore_signal as extern "C" fn(libc::c_int) as usize;
        sa.sa_flags = libc::SA_RESTART;
        libc::sigaction(libc::SIGUSR1, &sa, std::ptr::null_mut());
        libc::syscall(libc::SYS_tgkill, libc::getpid(), tid, libc::SIGUSR1);
    }
}

/// A signal that interrupts the loop's wait while it lets lingering sockets
/// finish at `stop()` (a program handling Ctrl-C, a profiler) must not end
/// them early: the peer still sending would get a reset instead of the
/// rest of what it was sent.
#[test]
fn a_signal_during_the_stop_does_not_cut_lingering_sockets_short() {
    let _serial = serial();
    let gone = Disconnects::new();
    let server = started_goodbye_server(localhost(), TIMEOUT, false, &gone);
    let mut peer = Peer::connect_with_rcvbuf(server.local_addr(), 4096);
    let id = peer.id_on(&server);
    peer.send(b"bye\n");
    let flooding = Flood::start(&peer);
    // The goodbye is in the kernel (the server's queue is empty), most of
    // it unread: the stop closes the connection and lets it linger.
    wait_until("the goodbye handed to the kernel", || {
        server.stats().bytes_out >= goodbye().len() as u64
    });
    let tid = loop_thread();
    let s = server.clone();
    let stopping = std::thread::spawn(move || s.stop());
    assert_eq!(gone.wait_for(id), DisconnectReason::ServerStopped);
    for _ in 0..200 {
        if stopping.is_finished() {
            break;
        }
        signal_thread(tid);
        std::thread::sleep(Duration::from_millis(2));
    }
    let (got, _) = peer.drain_until_closed();
    flooding.stop();
    assert!(
        got == goodbye(),
        "got {} bytes of the {}-byte goodbye",
        got.len(),
        goodbye().len()
    );
    stopping.join().expect("stop");
}

/// A lingering socket whose peer has taken everything and keeps its side
/// open is closed once the loop sees that (the acknowledgement scan), also
/// on a loop with nothing else to do — not only at the end of the linger
/// time, holding a descriptor (and one of the 1,024 places) till then.
#[test]
fn a_lingering_socket_closes_once_its_peer_has_everything_on_a_quiet_loop() {
    let _serial = serial();
    let gone = Disconnects::new();
    let server = started_goodbye_server(localhost(), Duration::from_secs(600), true, &gone);
    let before = open_fds();
    let mut peer = Peer::connect_with_rcvbuf(server.local_addr(), 4096);
    let id = peer.id_on(&server);
    peer.send(b"bye\n");
    assert_eq!(gone.wait_for(id), DisconnectReason::Kicked);
    // Read everything, EOF included, and keep the connection open.
    assert!(peer.read_to_eof() == goodbye());
    wait_until("the server closes its socket", || open_fds() == before + 1);
    drop(peer);
    server.stop();
}

/// Kicks a peer with a 4 KiB receive buffer right after its goodbye (the
/// socket lingers: most of it is unacknowledged), then lets `end` finish
/// it; the server's descriptors must come back to what they were before
/// the peer connected, plus the peer's own if `end` keeps it.
fn kick_and_count_fds(ip: IpAddr, linger: Duration, end: impl FnOnce(Peer) -> Option<Peer>) {
    let _serial = serial();
    let gone = Disconnects::new();
    let server = started_goodbye_server(ip, linger, true, &gone);
    let before = open_fds();
    let mut peer = Peer::connect_with_rcvbuf(server.local_addr(), 4096);
    let id = peer.id_on(&server);
    peer.send(b"bye\n");
    assert_eq!(gone.wait_for(id), DisconnectReason::Kicked);
    let kept = end(peer);
    let want = before + usize::from(kept.is_some());
    wait_until("the lingering socket closed", || open_fds() == want);
    drop(kept);
    server.stop();
}

/// A quiet peer that never reads: the linger time closes the socket.
#[test]
fn the_linger_time_closes_a_lingering_socket() {
    kick_and_count_fds(localhost(), Duration::from_millis(500), Some);
}

/// A peer that keeps sending and never reads: the linger time closes it.
#[test]
fn the_linger_time_closes_a_lingering_socket_under_a_flood() {
    kick_and_count_fds(localhost(), Duration::from_millis(500), |peer| {
        // The flood ends when the server closes (its writes fail).
        Flood::start(&peer).join();
        Some(peer)
    });
}

#[test]
fn a_peer_reset_closes_a_lingering_socket() {
    kick_and_count_fds(localhost(), TIMEOUT * 30, |peer| {
        peer.reset();
        None
    });
}

#[test]
fn a_peer_ending_its_side_closes_a_lingering_socket() {
    kick_and_count_fds(localhost(), TIMEOUT * 30, |peer| {
        peer.shutdown_write();
        Some(peer)
    });
}

/// `stop()` (and a `stop_timeout` that runs out first, then `wait()`)
/// closes lingering sockets, those from before the stop and those the stop
/// made, within the stop's linger time; every client is reported once.
#[test]
fn a_stop_closes_lingering_sockets_also_after_a_stop_timeout_ran_out() {
    let _serial = serial();
    let before = open_fds();
    let gone = Disconnects::new();
    let server = started_goodbye_server(localhost(), Duration::from_secs(2), true, &gone);
    // One kicked before the stop, flooding.
    let mut kicked = Peer::connect_with_rcvbuf(server.local_addr(), 4096);
    let id = kicked.id_on(&server);
    kicked.send(b"bye\n");
    assert_eq!(gone.wait_for(id), DisconnectReason::Kicked);
    let flooding = Flood::start(&kicked);
    // One closed by the stop, with unread output.
    let mut stays = Peer::connect_with_rcvbuf(server.local_addr(), 4096);
    let stays_id = stays.id_on(&server);
    let big = vec![b's'; GOODBYE_LINE];
    for _ in 0..4 {
        server.send(stays_id, &big).expect("send");
    }
    wait_until("the output handed to the kernel", || {
        server.stats().bytes_out >= 2 * goodbye().len() as u64
    });
    let _ = server.stop_timeout(Duration::from_millis(1));
    server.wait();
    let departed = gone.all();
    assert_eq!(departed.len(), 2, "{departed:?}");
    assert_eq!(
        gone.reason_of(stays_id),
        Some(DisconnectReason::ServerStopped)
    );
    flooding.join();
    drop(kicked);
    drop(server); // its waker
    wait_until("every descriptor of the server closed", || {
        open_fds() == before + 1
    });
    let _ = stays.drain_until_closed();
}

/// The goodbye to a client kicked while it keeps sending arrives whole
/// over IPv6 too, and on a dual-stack listener to an IPv4 client.
fn goodbye_while_flooding(listen: IpAddr, connect: IpAddr) {
    let _serial = serial();
    let gone = Disconnects::new();
    let server = started_goodbye_server(listen, TIMEOUT, true, &gone);
    let addr = SocketAddr::new(connect, server.local_addr().port());
    let mut peer = Peer::connect_with_rcvbuf(addr, 4096);
    let id = peer.id_on(&server);
    peer.send(b"bye\n");
    let flooding = Flood::start(&peer);
    assert_eq!(gone.wait_for(id), DisconnectReason::Kicked);
    let (got, _) = peer.drain_until_closed();
    flooding.stop();
    assert!(got == goodbye(), "got {} bytes", got.len());
    server.stop();
}

#[test]
fn the_goodbye_arrives_over_ipv6() {
    if !have_ipv6_loopback() {
        return;
    }
    let v6 = IpAddr::V6(Ipv6Addr::LOCALHOST);
    goodbye_while_flooding(v6, v6);
}

#[test]
fn the_goodbye_arrives_to_an_ipv4_client_of_a_dual_stack_listener() {
    goodbye_while_flooding(IpAddr::V6(Ipv6Addr::UNSPECIFIED), localhost());
}
