//! Review (gl): under `Framing::Raw`, gathered runs holding empty messages
//! among others (from a callback and from an application thread): the
//! bytes arrive in order and each non-empty send counts once in
//! `msgs_out` (an empty one queues nothing and is not counted).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::support::*;
use tcphub::{ClientId, Framing, TcpServer};

#[test]
fn empty_messages_in_gathered_runs() {
    for loops in [2, 4] {
        let ids: Arc<Mutex<Vec<ClientId>>> = Arc::default();
        let sent = Arc::new(AtomicU64::new(0));
        let (t, s) = (ids.clone(), sent.clone());
        let server = TcpServer::new(0, 64)
            .bind(localhost())
            .threads(loops)
            .framing(Framing::Raw)
            .on_message(move |srv, _, _| {
                let ids = t.lock().unwrap().clone();
                for i in 0..100u8 {
                    let m: &[u8] = if i % 2 == 0 { b"" } else { &[i] };
                    for &id in &ids {
                        srv.send(id, m).unwrap();
                        // An empty raw message is not counted (documented).
                        s.fetch_add(u64::from(!m.is_empty()), Ordering::SeqCst);
                    }
                }
            })
            .start()
            .unwrap();
        let mut peers = connect_peers(&server, 4);
        ids.lock()
            .unwrap()
            .extend(peers.iter().map(|p| p.id_on(&server)));
        let mut trigger = Peer::connect(server.local_addr());
        trigger.send(b"x");
        let want: Vec<u8> = (0..100u8).filter(|i| i % 2 == 1).collect();
        for p in peers.iter_mut() {
            assert_eq!(p.read_exact(want.len()), want);
        }
        wait_until("all counted", || {
            server.stats().msgs_out == sent.load(Ordering::SeqCst)
        });
        server.stop();
    }
}
