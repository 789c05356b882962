//! Review ar (ARCHITECTURE.md against the code): the claims about the
//! threads that no other test checked — a server runs one event-loop thread
//! per core by default, named "tcphub-io-N", and `stop()` joins them; a
//! clone of the handle a callback makes keeps the server running after the
//! application dropped its own (it may be handed to a worker), and when such
//! a clone is the last one and is dropped on the loop thread itself, the
//! server stops without that thread waiting for itself.

mod support;

use std::io::ErrorKind;
use std::net::TcpStream;
use std::sync::{Arc, Mutex};

use support::{localhost, wait_until, Peer};
use tcphub::{Framing, ServerHandle, TcpServer};

/// The names of this process's threads that are event loops ("tcphub-io-N").
fn loop_threads() -> Vec<String> {
    let mut names = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let Ok(comm) = std::fs::read_to_string(task.path().join("comm")) else {
            continue; // (a thread that ended meanwhile)
        };
        let comm = comm.trim();
        if comm.starts_with("tcphub-io-") {
            names.push(comm.to_string());
        }
    }
    names.sort();
    names
}

/// The tests of this binary look at the process's loop threads: one at a
/// time, so no other test's server runs meanwhile.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

#[test]
fn the_default_is_one_loop_thread_per_core_and_stop_joins_them() {
    let _serial = serial();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let expected: Vec<String> = {
        let mut v: Vec<String> = (0..cores.min(tcphub::MAX_THREADS))
            .map(|i| format!("tcphub-io-{i}"))
            .collect();
        v.sort();
        v
    };
    let server = TcpServer::new(0, 10).bind(localhost()).start().unwrap();
    // (Each thread names itself as it starts: looked at until all have.)
    wait_until("every loop thread named", || {
        loop_threads().len() >= expected.len()
    });
    assert_eq!(loop_threads(), expected);
    server.stop();
    // Joined: the threads have ended (a thread's entry may outlive its join
    // by a moment while the kernel reaps it).
    wait_until("no event-loop thread left after stop()", || {
        loop_threads().is_empty()
    });
}

/// A server whose `on_connect` keeps a clone of the handle it is given in
/// `slot`, and echoes lines; on "drop", its `on_message` takes that clone
/// out of `slot` and drops it there, on the loop thread.
fn keeping_server(slot: Arc<Mutex<Option<ServerHandle>>>) -> ServerHandle {
    let on_connect_slot = slot.clone();
    TcpServer::new(0, 10)
        .bind(localhost())
        .framing(Framing::lines())
        .threads(1)
        .on_connect(move |srv, _c| {
            *on_connect_slot.lock().unwrap() = Some(srv.clone());
        })
        .on_message(move |srv, c, msg| {
            if msg == b"drop" {
                let kept = slot.lock().unwrap().take();
                drop(kept); // the last handle, dropped on the loop thread
            } else {
                let _ = srv.send(c.id, msg);
            }
        })
        .start()
        .unwrap()
}

fn refused(addr: std::net::SocketAddr) -> bool {
    match TcpStream::connect(addr) {
        Err(e) => e.kind() == ErrorKind::ConnectionRefused,
        Ok(_) => false,
    }
}

#[test]
fn a_clone_a_callback_made_keeps_the_server_running_until_it_is_dropped() {
    let _serial = serial();
    let slot = Arc::new(Mutex::new(None));
    let server = keeping_server(slot.clone());
    let addr = server.local_addr();
    let mut peer = Peer::connect(addr);
    wait_until("on_connect kept a clone", || slot.lock().unwrap().is_some());
    drop(server);
    // The callback's clone (a worker could hold it) keeps the server alive.
    peer.send_line("still here");
    assert_eq!(peer.read_line(), "still here");
    // Dropped on this (application) thread: the server stops.
    let kept = slot.lock().unwrap().take().unwrap();
    assert!(kept.is_running());
    drop(kept);
    peer.expect_eof();
    assert!(refused(addr), "a stopped server still accepts connections");
    wait_until("the loop thread has ended", || loop_threads().is_empty());
}

#[test]
fn the_last_handle_dropped_on_the_loop_thread_stops_the_server() {
    let _serial = serial();
    let slot = Arc::new(Mutex::new(None));
    let server = keeping_server(slot.clone());
    let addr = server.local_addr();
    let mut peer = Peer::connect(addr);
    wait_until("on_connect kept a clone", || slot.lock().unwrap().is_some());
    drop(server);
    peer.send_line("one");
    assert_eq!(peer.read_line(), "one");
    // The callback drops the last handle: the stop begins there, and the
    // loop (which must not wait for itself) finishes by itself.
    peer.send_line("drop");
    peer.expect_eof();
    wait_until("the listener is closed", || refused(addr));
    wait_until("the loop thread has ended", || loop_threads().is_empty());
}
