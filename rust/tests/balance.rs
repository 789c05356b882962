//! How new clients are dealt out to the event loops: to the loop owning the
//! fewest clients, in turn among equals. Which loop owns a client is seen
//! from the name of the thread its connect callback runs on (`tcphub-io-N`).

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use support::*;
use tcphub::{ClientId, Framing, TcpServer};

/// Owner loop of every client seen so far, and the ids that disconnected.
#[derive(Default)]
struct Seen {
    owner: HashMap<ClientId, String>,
    gone: Vec<ClientId>,
}

/// Connects one peer and returns it with the loop that adopted it.
fn connect(server: &tcphub::ServerHandle, seen: &Mutex<Seen>) -> (Peer, ClientId, String) {
    let peer = Peer::connect(server.local_addr());
    let id = peer.id_on(server);
    let mut owner = None;
    wait_until("the connect callback has run", || {
        owner = seen.lock().unwrap().owner.get(&id).cloned();
        owner.is_some()
    });
    (peer, id, owner.unwrap())
}

#[test]
fn new_clients_go_to_the_loop_with_the_fewest() {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let (on_conn, on_disc) = (seen.clone(), seen.clone());
    let server = TcpServer::new(0, 100)
        .bind(localhost())
        .threads(2)
        .framing(Framing::lines())
        .on_connect(move |_, c| {
            let name = std::thread::current().name().unwrap_or("?").to_string();
            on_conn.lock().unwrap().owner.insert(c.id, name);
        })
        .on_disconnect(move |_, c, _| on_disc.lock().unwrap().gone.push(c.id))
        .start()
        .unwrap();

    // An even spread is dealt in turn: 0, 1, 0, 1.
    let mut peers = Vec::new();
    for _ in 0..4 {
        peers.push(connect(&server, &seen));
    }
    let loops: Vec<&str> = peers.iter().map(|(_, _, l)| l.as_str()).collect();
    assert_eq!(
        loops,
        ["tcphub-io-0", "tcphub-io-1", "tcphub-io-0", "tcphub-io-1"]
    );

    // Both clients of loop 1 leave; loop 0 still has two.
    let (left, stay): (Vec<_>, Vec<_>) = peers.into_iter().partition(|(_, _, l)| l.ends_with('1'));
    let left_ids: Vec<ClientId> = left.iter().map(|(_, id, _)| *id).collect();
    drop(left);
    wait_until("both clients of loop 1 disconnected", || {
        let s = seen.lock().unwrap();
        left_ids.iter().all(|id| s.gone.contains(id))
    });

    // The next two both go to loop 1 (round-robin would give 0 and 1), and
    // once the loops are even again the turn resumes.
    let a = connect(&server, &seen);
    let b = connect(&server, &seen);
    assert_eq!((a.2.as_str(), b.2.as_str()), ("tcphub-io-1", "tcphub-io-1"));
    let c = connect(&server, &seen);
    let d = connect(&server, &seen);
    let mut last_two = [c.2.clone(), d.2.clone()];
    last_two.sort();
    assert_eq!(last_two, ["tcphub-io-0", "tcphub-io-1"]);
    assert_eq!(server.client_count(), stay.len() + 4);
    server.stop();
}
