//! A `send` that returned `Ok` while another thread closed the client is
//! written before the close ends the connection.

mod support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use support::*;
use tcphub::{Event, Framing, TcpClient, TcpServer};

#[test]
fn a_send_that_returned_ok_is_not_lost_to_a_concurrent_close() {
    const ROUNDS: usize = 300;
    let server = TcpServer::new(0, 100)
        .bind(localhost())
        .threads(1)
        .framing(Framing::lines())
        .start()
        .unwrap();
    let events = server.events();
    for round in 0..ROUNDS {
        let client = TcpClient::builder(server.local_addr())
            .framing(Framing::lines())
            .connect()
            .unwrap();
        let oks = Arc::new(AtomicU64::new(0));
        let started = Arc::new(AtomicBool::new(false));
        let sender = {
            let client = client.clone();
            let oks = oks.clone();
            let started = started.clone();
            std::thread::spawn(move || {
                let mut i = 0u64;
                loop {
                    match client.send(format!("{i}").as_bytes()) {
                        Ok(()) => {
                            oks.fetch_add(1, Ordering::SeqCst);
                            started.store(true, Ordering::SeqCst);
                        }
                        Err(tcphub::Error::NotRunning) => return,
                        Err(tcphub::Error::QueueFull { .. }) => std::thread::yield_now(),
                        Err(e) => panic!("{e}"),
                    }
                    i += 1;
                }
            })
        };
        wait_until("the sender started", || started.load(Ordering::SeqCst));
        client.close();
        sender.join().unwrap();
        drop(client);
        let mut got: HashMap<u64, u64> = HashMap::new();
        loop {
            match next_event(&events) {
                Event::Connected(_) => {}
                Event::Message(c, _) => *got.entry(c.id).or_default() += 1,
                Event::Disconnected(c, _) => {
                    let n = got.get(&c.id).copied().unwrap_or(0);
                    assert_eq!(
                        n,
                        oks.load(Ordering::SeqCst),
                        "round {round}: messages received vs sends that returned Ok"
                    );
                    break;
                }
            }
        }
    }
    server.stop();
}
