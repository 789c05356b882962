//! Review of lingering close (`event_loop/lingering.rs`): a socket the
//! server ends politely while its peer may still send stays open (input
//! discarded) until the peer has our last bytes. Every path must close it in
//! the end, and the stop must keep its bounds.
//!
//! The tests count this process's descriptors, so they run one at a time
//! (`SERIAL`) and each runs one server.

mod support;

use std::io::Write;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use support::*;
use tcphub::{DisconnectReason, Framing, ServerHandle, TcpServer};

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// The goodbye, four lines of this many bytes: far more than a 4 KiB
/// receive buffer holds.
const LINE: usize = 50_000;

/// The goodbye as the peer receives it.
fn goodbye() -> Vec<u8> {
    let mut v = vec![b'g'; LINE];
    v.push(b'\n');
    v.repeat(4)
}

/// A server that answers "bye" with the goodbye and, if `kick`,
/// disconnects the client right after.
fn goodbye_server(ip: IpAddr, linger: Duration, kick: bool, gone: &Disconnects) -> ServerHandle {
    let g = gone.clone();
    TcpServer::new(0, 10)
        .bind(ip)
        .framing(Framing::lines())
        .threads(1)
        .linger(linger)
        .on_message(move |srv, c, msg| {
            if msg == b"bye" {
                for _ in 0..4 {
                    srv.send(c.id, &vec![b'g'; LINE]).expect("goodbye");
                }
                if kick {
                    srv.disconnect(c.id).expect("kick");
                }
            }
        })
        .on_disconnect(move |_s, c, why| g.record(c, why))
        .start()
        .expect("start")
}

/// Writes junk lines on a clone of `peer`'s socket until it fails or
/// `stop` is set.
fn flood(peer: &Peer, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    let mut w = peer.stream.try_clone().expect("clone");
    std::thread::spawn(move || {
        let mut junk = b"junk ".repeat(2_000);
        junk.push(b'\n');
        while !stop.load(Ordering::Relaxed) {
            if w.write_all(&junk).is_err() {
                break;
            }
        }
    })
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
    let server = goodbye_server(localhost(), TIMEOUT, false, &gone);
    let mut peer = Peer::connect_with_rcvbuf(server.local_addr(), 4096);
    let id = peer.id_on(&server);
    peer.send(b"bye\n");
    let done = Arc::new(AtomicBool::new(false));
    let flooding = flood(&peer, done.clone());
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
    done.store(true, Ordering::Relaxed);
    assert!(
        got == goodbye(),
        "got {} bytes of the {}-byte goodbye",
        got.len(),
        goodbye().len()
    );
    flooding.join().expect("flood");
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
    let server = goodbye_server(localhost(), Duration::from_secs(600), true, &gone);
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
