//! What an application thread sends (`send_all`, `send`, `send_to` from a
//! thread that is no tcphub I/O thread) is gathered too, into one lane per
//! loop shared by all such threads, which the loop empties at its next pump
//! (`gather.rs`). What must hold with it: a single message reaches a loop
//! that sleeps (nothing else would wake it); a command the same thread
//! posts afterwards (a kick) is applied after the messages; and what a
//! callback sends after hearing of an application thread's broadcast
//! reaches every client after that broadcast, on whichever loop.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::*;
use tcphub::{ClientId, Framing, TcpServer};

#[test]
fn one_message_from_an_application_thread_reaches_sleeping_loops() {
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .threads(2)
        .busy_poll(Duration::ZERO)
        .framing(Framing::lines())
        .start()
        .unwrap();
    let mut peers = connect_peers(&server, 4);
    for round in 0..20 {
        // Both loops asleep, with nothing else to wake them.
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(server.send_all(format!("all {round}").as_bytes()), 4);
        for p in peers.iter_mut() {
            assert_eq!(p.read_line(), format!("all {round}"));
        }
        let id = peers[round % 4].id_on(&server);
        std::thread::sleep(Duration::from_millis(20));
        server.send(id, format!("one {round}").as_bytes()).unwrap();
        assert_eq!(peers[round % 4].read_line(), format!("one {round}"));
    }
    server.stop();
}

#[test]
fn a_disconnect_after_an_application_thread_s_sends_comes_after_them() {
    const N: usize = 2000;
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .threads(2)
        .framing(Framing::lines())
        .start()
        .unwrap();
    for round in 0..8 {
        let mut peer = Peer::connect(server.local_addr());
        let id = peer.id_on(&server);
        for i in 0..N {
            if i % 2 == 0 {
                server.send(id, format!("{round}:{i}").as_bytes()).unwrap();
            } else {
                let addr = peer.addr();
                server
                    .send_to(addr.ip(), addr.port(), format!("{round}:{i}").as_bytes())
                    .unwrap();
            }
        }
        server.disconnect(id).unwrap();
        for i in 0..N {
            assert_eq!(peer.read_line(), format!("{round}:{i}"), "round {round}");
        }
        peer.expect_eof();
    }
    server.stop();
}

#[test]
fn a_callback_s_broadcast_comes_after_the_application_broadcast_it_heard_of() {
    const N: usize = 1500;
    const RECEIVERS: usize = 4;
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .threads(2)
        .framing(Framing::lines())
        .on_message(|srv, _, m| {
            // Heard of through the application thread's own socket, which
            // it wrote to only after its broadcast of the same number.
            let mut c = b"c:".to_vec();
            c.extend_from_slice(m);
            srv.send_all(&c);
        })
        .start()
        .unwrap();
    let mut peers = connect_peers(&server, RECEIVERS);
    let mut teller = Peer::connect(server.local_addr());
    let teller_id: ClientId = teller.id_on(&server);
    let app = {
        let server = server.clone();
        std::thread::spawn(move || {
            for i in 0..N {
                server.send_all_except(teller_id, format!("a:{i}").as_bytes());
                teller.send_line(&i.to_string());
            }
            teller
        })
    };
    for (k, p) in peers.iter_mut().enumerate() {
        let mut next_a = 0;
        let mut next_c = 0;
        while next_a < N || next_c < N {
            let line = p.read_line();
            let (kind, n) = line.split_at(2);
            let n: usize = n.parse().unwrap();
            match kind {
                "a:" => {
                    assert_eq!(n, next_a, "receiver {k}: application broadcasts in order");
                    next_a += 1;
                }
                "c:" => {
                    assert_eq!(n, next_c, "receiver {k}: callback broadcasts in order");
                    assert!(
                        n < next_a,
                        "receiver {k}: the callback's broadcast of {n} came before the \
                         application's it was told of"
                    );
                    next_c += 1;
                }
                _ => panic!("receiver {k}: unexpected line {line:?}"),
            }
        }
    }
    let _teller = app.join().unwrap();
    server.stop();
}

/// The exact lines each receiver must get from `interleaved_sends`.
fn interleaved_lines(n: usize) -> Vec<String> {
    let mut want = Vec::new();
    for i in 0..n {
        want.push(format!("s:{i}"));
        if i % 7 == 0 {
            want.push(format!("b:{i}"));
        }
    }
    want
}

/// Sends `s:i` to each of `ids` in turn, and every seventh time a
/// broadcast `b:i` after them.
fn interleaved_sends(server: &tcphub::ServerHandle, ids: &[ClientId], n: usize) {
    for i in 0..n {
        for &id in ids {
            server.send(id, format!("s:{i}").as_bytes()).unwrap();
        }
        if i % 7 == 0 {
            server.send_all(format!("b:{i}").as_bytes());
        }
    }
}

#[test]
fn sends_to_each_client_in_turn_keep_their_order_with_broadcasts_between() {
    const N: usize = 3000;
    const RECEIVERS: usize = 5;
    // From an application thread, and from a callback (a relay written by
    // hand: `on_message` sends to every receiver in turn).
    for from_callback in [false, true] {
        let ids: Arc<Mutex<Vec<ClientId>>> = Arc::default();
        let targets = ids.clone();
        let server = TcpServer::new(0, 10)
            .bind(localhost())
            .threads(2)
            .framing(Framing::lines())
            .on_message(move |srv, _, m| {
                let n: usize = std::str::from_utf8(m).unwrap().parse().unwrap();
                let ids = targets.lock().unwrap().clone();
                interleaved_sends(srv, &ids, n);
            })
            .start()
            .unwrap();
        let mut peers = connect_peers(&server, RECEIVERS);
        *ids.lock().unwrap() = peers.iter().map(|p| p.id_on(&server)).collect();
        // Held open (and not a receiver) until every line is read.
        let mut _driver = None;
        if from_callback {
            let mut d = Peer::connect(server.local_addr());
            d.send_line(&N.to_string());
            _driver = Some(d);
        } else {
            let ids = ids.lock().unwrap().clone();
            interleaved_sends(&server, &ids, N);
        }
        let want = interleaved_lines(N);
        for (k, p) in peers.iter_mut().enumerate() {
            for (j, w) in want.iter().enumerate() {
                assert_eq!(
                    &p.read_line(),
                    w,
                    "receiver {k}, line {j} (from a callback: {from_callback})"
                );
            }
        }
        server.stop();
    }
}
