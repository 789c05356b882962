//! Review (gl): a callback (and an application thread) that sends to
//! clients on every loop — gathered small messages and large posted ones —
//! and then disconnects them: each gets all its messages, in order, then
//! the end of the stream (a kick writes what is queued first).

use std::sync::{Arc, Mutex};

use crate::support::*;
use tcphub::{ClientId, Framing, TcpServer};

const RECEIVERS: usize = 6;
const N: usize = 200;

fn line(i: usize) -> String {
    if i % 50 == 49 {
        format!("{i}:{}", "k".repeat(1100))
    } else {
        i.to_string()
    }
}

fn check(p: &mut Peer) {
    for i in 0..N {
        let l = p.read_line();
        assert_eq!(l.split(':').next().unwrap(), i.to_string());
    }
    p.expect_eof();
}

#[test]
fn a_callback_s_sends_before_its_kick_reach_clients_on_every_loop() {
    for loops in [2, 4, 20] {
        let ids: Arc<Mutex<Vec<ClientId>>> = Arc::default();
        let t = ids.clone();
        let server = TcpServer::new(0, 64)
            .bind(localhost())
            .threads(loops)
            .framing(Framing::lines())
            .on_message(move |srv, from, _| {
                let ids = t.lock().unwrap().clone();
                for i in 0..N {
                    let l = line(i);
                    if i % 2 == 0 {
                        srv.send_all_except(from.id, l.as_bytes());
                    } else {
                        for &id in &ids {
                            srv.send(id, l.as_bytes()).unwrap();
                        }
                    }
                }
                for &id in &ids {
                    srv.disconnect(id).unwrap();
                }
            })
            .start()
            .unwrap();
        let mut peers = connect_peers(&server, RECEIVERS);
        ids.lock()
            .unwrap()
            .extend(peers.iter().map(|p| p.id_on(&server)));
        let mut trigger = Peer::connect(server.local_addr());
        trigger.send_line("go");
        for p in peers.iter_mut() {
            check(p);
        }
        server.stop();
    }
}

#[test]
fn an_application_thread_s_sends_before_its_kick_reach_clients_on_every_loop() {
    for loops in [2, 4, 20] {
        let server = TcpServer::new(0, 64)
            .bind(localhost())
            .threads(loops)
            .framing(Framing::lines())
            .start()
            .unwrap();
        let mut peers = connect_peers(&server, RECEIVERS);
        let ids: Vec<ClientId> = peers.iter().map(|p| p.id_on(&server)).collect();
        for i in 0..N {
            let l = line(i);
            if i % 2 == 0 {
                server.send_all(l.as_bytes());
            } else {
                for &id in &ids {
                    server.send(id, l.as_bytes()).unwrap();
                }
            }
        }
        for &id in &ids {
            server.disconnect(id).unwrap();
        }
        for p in peers.iter_mut() {
            check(p);
        }
        server.stop();
    }
}
