//! A callback's send and a send another thread makes after it (because of
//! it) reach the client in that order.

mod support;

use std::collections::HashSet;
use std::sync::{mpsc, Mutex};

use support::*;
use tcphub::{ClientId, Framing, TcpServer};

#[test]
fn a_send_made_after_a_callback_reply_is_not_written_before_it() {
    const N: usize = 2000;
    let (tx, rx) = mpsc::channel::<(ClientId, Vec<u8>)>();
    let tx = Mutex::new(tx);
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .threads(1)
        .framing(Framing::lines())
        .on_message(move |srv, c, m| {
            let mut reply = b"r:".to_vec();
            reply.extend_from_slice(m);
            srv.send(c.id, &reply).unwrap();
            // Only now does the worker hear of the message.
            tx.lock().unwrap().send((c.id, m.to_vec())).unwrap();
        })
        .start()
        .unwrap();
    let worker = {
        let server = server.clone();
        std::thread::spawn(move || {
            // (The callback holding the sender lives as long as the server.)
            while server.is_running() {
                let Ok((id, m)) = rx.recv_timeout(std::time::Duration::from_millis(20)) else {
                    continue;
                };
                let mut late = b"w:".to_vec();
                late.extend_from_slice(&m);
                let _ = server.send(id, &late);
            }
        })
    };
    let mut p = Peer::connect(server.local_addr());
    let mut burst = String::new();
    for i in 0..N {
        burst.push_str(&format!("{i}\n"));
    }
    p.send(burst.as_bytes());
    let mut replied = HashSet::new();
    for _ in 0..2 * N {
        let line = p.read_line();
        if let Some(m) = line.strip_prefix("r:") {
            replied.insert(m.to_string());
        } else if let Some(m) = line.strip_prefix("w:") {
            assert!(
                replied.contains(m),
                "the worker's {line:?} arrived before the callback's reply to {m}"
            );
        }
    }
    server.stop();
    worker.join().unwrap();
}
