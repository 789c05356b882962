//! `send_all` reaches the clients connected at the call and no client
//! that connects after it, on every loop: also one accepted (by loop 0)
//! after the call and dealt to a loop that a slow callback held up, so
//! that the message and the new client wait there together. (Here the
//! order of loop 1's commands decides it: the message was posted before
//! the client was dealt, so this test passes without the id bound,
//! `Audience::below`. The bound is what leaves out a client taken in
//! before a message posted earlier is applied — loop 0's own clients of
//! an accept batch that began before the call: `review_sb_accept_batch.rs`
//! checks it end to end; `broadcast.rs`'s unit tests only check
//! `Audience::has` and that coalescing keeps each message's bound.)

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use support::*;
use tcphub::{ClientId, ServerHandle};

/// Connects a peer and learns which loop thread runs its callbacks.
fn connect_on(server: &ServerHandle, loops: &Arc<Mutex<HashMap<ClientId, String>>>) -> Peer {
    let mut p = Peer::connect(server.local_addr());
    let id = p.id_on(server);
    p.send_line("who");
    wait_until("the peer's loop is known", || {
        loops.lock().unwrap().contains_key(&id)
    });
    p
}

#[test]
fn clients_that_connect_after_the_call_do_not_get_it() {
    let gate = LoopGate::new();
    let held = gate.clone();
    let loops = Arc::new(Mutex::new(HashMap::new()));
    let seen = loops.clone();
    let server = lines_server(100)
        .threads(2)
        .on_message(move |_srv, c, m| {
            if m == b"who" {
                let name = std::thread::current().name().unwrap_or("?").to_string();
                seen.lock().unwrap().insert(c.id, name);
            } else {
                held.stays_on(m);
            }
        })
        .start()
        .unwrap();
    // Clients on both loops: loop 0 (which accepts) deals each new one to
    // the loop with the fewest.
    let mut before: Vec<Peer> = (0..2).map(|_| connect_on(&server, &loops)).collect();
    let on_loop_1 = |p: &Peer| {
        loops
            .lock()
            .unwrap()
            .get(&p.id_on(&server))
            .map(String::as_str)
            == Some("tcphub-io-1")
    };
    let i = before
        .iter()
        .position(on_loop_1)
        .expect("a client on loop 1");
    // Loop 1 held in a callback; loop 0 keeps accepting.
    gate.hold(&mut before[i]);
    assert_eq!(server.send_all(b"before"), 2, "the clients at the call");
    let accepted = server.stats().accepted;
    let mut after: Vec<Peer> = (0..6).map(|_| Peer::connect(server.local_addr())).collect();
    // Dealt alternately (the loops own as many): loop 0 takes in its three
    // at once, so it has dealt (at least two of) the others to loop 1,
    // where they wait behind the callback with the message. (A client is
    // counted when its loop takes it in.)
    wait_until("loop 0 took in its new clients", || {
        server.stats().accepted == accepted + 3
    });
    gate.go_on();
    wait_clients(&server, 8);
    assert_eq!(
        server.send_all(b"after"),
        8,
        "all clients at the second call"
    );
    for p in &mut before {
        assert_eq!(p.read_line(), "before");
        assert_eq!(p.read_line(), "after");
    }
    for p in &mut after {
        assert_eq!(
            p.read_line(),
            "after",
            "a client that connected after the call"
        );
    }
    server.stop();
}
