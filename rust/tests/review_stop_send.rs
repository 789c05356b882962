//! A `send` that returned `Ok` while another thread stopped the server is
//! written before the server closes the connection.

mod support;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use support::*;
use tcphub::{Framing, TcpServer};

#[test]
fn a_send_that_returned_ok_is_not_lost_to_a_concurrent_stop() {
    const ROUNDS: usize = 150;
    for round in 0..ROUNDS {
        let server = TcpServer::new(0, 10)
            .bind(localhost())
            .threads(1)
            .framing(Framing::lines())
            .max_queue_bytes(1 << 30)
            .start()
            .unwrap();
        let mut peer = Peer::connect(server.local_addr());
        let id = peer.id_on(&server);
        let reader = std::thread::spawn(move || {
            let all = peer.read_to_eof();
            all.iter().filter(|&&b| b == b'\n').count() as u64
        });
        let oks = Arc::new(AtomicU64::new(0));
        let started = Arc::new(AtomicBool::new(false));
        let sender = {
            let server = server.clone();
            let oks = oks.clone();
            let started = started.clone();
            std::thread::spawn(move || {
                let mut i = 0u64;
                loop {
                    match server.send(id, format!("{i}").as_bytes()) {
                        Ok(()) => {
                            oks.fetch_add(1, Ordering::SeqCst);
                            started.store(true, Ordering::SeqCst);
                        }
                        // (Stopping: the client may be gone before the
                        // sender sees the server stopped.)
                        Err(tcphub::Error::NotRunning | tcphub::Error::NoSuchClient(_)) => return,
                        Err(e) => panic!("{e}"),
                    }
                    i += 1;
                }
            })
        };
        wait_until("the sender started", || started.load(Ordering::SeqCst));
        server.stop();
        sender.join().unwrap();
        let got = reader.join().unwrap();
        assert_eq!(
            got,
            oks.load(Ordering::SeqCst),
            "round {round}: lines received vs sends that returned Ok"
        );
    }
}
