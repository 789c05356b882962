//! `send_all`'s id bound (`Audience::below`), checked end to end: a client
//! accepted *after* the call, but taken in by its loop *before* that loop
//! applies the broadcast, must not get it.
//!
//! Loop 0 accepts, and adopts the clients it deals to itself at once,
//! inside the same `accept_all` batch, without going through its command
//! queue; the broadcast waits in that queue (its outside lane, a lane from
//! another loop, or its own callback list; its channel for a message too
//! large to gather) until the pump after the batch.
//! So the clients of one accept batch that come after a broadcast made
//! during it — by an `on_connect` of the batch (a chat's "X joined"), by
//! another loop's callback, or by an application thread while that
//! `on_connect` runs — are in loop 0's table when the broadcast is
//! applied: only the id bound leaves them out. (Those dealt to loop 1 get
//! their `Adopt` behind the broadcast, which keeps them out by order
//! alone.)
//!
//! Made deterministic by holding loop 0 in the `on_connect` of a client it
//! adopted itself, and by waiting, through `/proc/net/tcp`, until the late
//! peers are in the listen socket's accept queue before the broadcast and
//! the release: the loop then accepts them after the call, in the batch in
//! which the `on_connect` ran, before its next pump.
//!
//! Removing the bound (`Audience::has` ignoring `below`, or `broadcast`
//! taking `u64::MAX` for it) makes each test fail: a late client on loop 0
//! reads `first`.

mod support;

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use support::*;
use tcphub::{ClientId, ServerHandle};

/// Who makes the broadcast while loop 0 is held in an `on_connect`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Caller {
    /// The test's own thread (the outside lane into loop 0).
    App,
    /// An `on_message` on loop 1 (the lane from loop 1 to loop 0).
    OtherLoop,
    /// The held `on_connect` itself, once released (loop 0's own list).
    OnConnect,
}

/// Late peers: enough that some are dealt to each loop.
const LATE: usize = 4;

/// The accept queue of the listening socket at `server`'s address (the
/// peers whose handshake is done and that no loop has accepted yet).
fn accept_queue(server: &ServerHandle) -> u64 {
    let any = SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), 0);
    socket_queues(server.local_addr(), any)
        .expect("the listening socket is in /proc/net/tcp")
        .1
}

/// Shared between the callbacks and the test.
#[derive(Default)]
struct State {
    /// Each client's loop thread, noted at its `on_connect`.
    loops: Mutex<HashMap<ClientId, String>>,
    /// The next `on_connect` on loop 0 holds the loop.
    arm: AtomicBool,
    /// Set (before the loop is noted) by the `on_connect` that holds.
    held: AtomicBool,
}

/// The broadcast made while loop 0 is held: a short line, gathered into
/// the loops' lanes, or (`big`) one over the gathering limit (1 KiB
/// framed), posted to each loop's channel.
fn first(big: bool) -> String {
    if big {
        format!("first{}", "x".repeat(2000))
    } else {
        "first".to_string()
    }
}

fn run(caller: Caller, big: bool) {
    let msg = first(big);
    let (msg_a, msg_b) = (msg.clone(), msg.clone());
    let state = Arc::new(State::default());
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let go_rx = Mutex::new(go_rx);
    let (count_tx, count_rx) = mpsc::channel::<usize>();
    let count_tx = Arc::new(Mutex::new(count_tx));
    let on_message_count = count_tx.clone();
    let st = state.clone();
    let server = lines_server(100)
        .threads(2)
        .on_connect(move |srv, c| {
            let name = std::thread::current().name().unwrap_or("?").to_string();
            let hold = name == "tcphub-io-0" && st.arm.swap(false, Ordering::SeqCst);
            if hold {
                st.held.store(true, Ordering::SeqCst);
            }
            st.loops.lock().unwrap().insert(c.id, name);
            if hold {
                go_rx
                    .lock()
                    .unwrap()
                    .recv_timeout(3 * TIMEOUT)
                    .expect("the test lets loop 0 go on");
                if caller == Caller::OnConnect {
                    let n = srv.send_all(msg_a.as_bytes());
                    count_tx.lock().unwrap().send(n).unwrap();
                }
            }
        })
        .on_message(move |srv, _c, m| {
            if m == b"broadcast" {
                let n = srv.send_all(msg_b.as_bytes());
                on_message_count.lock().unwrap().send(n).unwrap();
            }
        })
        .start()
        .unwrap();
    let noted = |n: usize| {
        wait_until(&format!("{n} on_connect calls"), || {
            state.loops.lock().unwrap().len() == n
        })
    };
    let loop_of = |p: &Peer| state.loops.lock().unwrap()[&p.id_on(&server)].clone();

    // Clients at the call: one per loop, then more until one lands on
    // loop 0 and holds it in its `on_connect`.
    let mut early: Vec<Peer> = Vec::new();
    for _ in 0..2 {
        early.push(Peer::connect(server.local_addr()));
        noted(early.len());
    }
    state.arm.store(true, Ordering::SeqCst);
    while !state.held.load(Ordering::SeqCst) {
        assert!(early.len() < 12, "no client was dealt to loop 0");
        early.push(Peer::connect(server.local_addr()));
        noted(early.len());
    }
    let mut speaker = early
        .iter()
        .position(|p| loop_of(p) == "tcphub-io-1")
        .map(|i| early[i].try_clone_peer())
        .expect("a client on loop 1");

    // Handshakes done, waiting in the accept queue of held loop 0.
    let mut late: Vec<Peer> = (0..LATE)
        .map(|_| Peer::connect(server.local_addr()))
        .collect();
    wait_until("the late peers wait in the accept queue", || {
        accept_queue(&server) == LATE as u64
    });

    // The broadcast: after the late peers connected, before loop 0 has
    // accepted them (given them ids).
    let counted = match caller {
        Caller::App => {
            let n = server.send_all(msg.as_bytes());
            go_tx.send(()).unwrap();
            n
        }
        Caller::OtherLoop => {
            speaker.send_line("broadcast");
            let n = count_rx.recv_timeout(TIMEOUT).expect("loop 1 broadcast");
            go_tx.send(()).unwrap();
            n
        }
        Caller::OnConnect => {
            go_tx.send(()).unwrap();
            count_rx
                .recv_timeout(TIMEOUT)
                .expect("on_connect broadcast")
        }
    };
    assert_eq!(counted, early.len(), "the clients registered at the call");

    let all = early.len() + LATE;
    noted(all);
    wait_clients(&server, all);
    let on_loop_0 = late.iter().filter(|p| loop_of(p) == "tcphub-io-0").count();
    assert!(
        on_loop_0 > 0,
        "a late client adopted by loop 0 itself (the case the id bound is for)"
    );
    assert_eq!(server.send_all(b"second"), all);
    for p in &mut early {
        assert_eq!(p.read_line(), msg, "a client connected at the call");
        assert_eq!(p.read_line(), "second");
    }
    for p in &mut late {
        let loop_name = loop_of(p);
        assert_eq!(
            p.read_line(),
            "second",
            "a client accepted after the broadcast ({caller:?}), on {loop_name}"
        );
    }
    server.stop();
}

#[test]
fn an_application_thread_s_broadcast_skips_clients_accepted_after_it() {
    run(Caller::App, false);
}

#[test]
fn another_loop_s_broadcast_skips_clients_accepted_after_it() {
    run(Caller::OtherLoop, false);
}

#[test]
fn an_on_connect_s_broadcast_skips_the_rest_of_its_accept_batch() {
    run(Caller::OnConnect, false);
}

#[test]
fn a_posted_broadcast_skips_clients_accepted_after_it() {
    run(Caller::App, true);
}

#[test]
fn an_on_connect_s_posted_broadcast_skips_the_rest_of_its_accept_batch() {
    run(Caller::OnConnect, true);
}

#[test]
fn another_loop_s_posted_broadcast_skips_clients_accepted_after_it() {
    run(Caller::OtherLoop, true);
}
