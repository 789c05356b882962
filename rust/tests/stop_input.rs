//! Once `stop()` has begun, the loops read no more input: no message is
//! handed to `on_message` whose reply would then be refused (sends fail
//! with `NotRunning` from that moment). Only a callback already running
//! when another thread calls `stop()` can meet the refusal — one per loop
//! at most. Found by an API review: a client streaming requests into a
//! stopping echo server had 32 to 42,788 of them handed to `on_message`
//! after the stop, every reply refused, in 14 of 15 runs.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use support::*;
use tcphub::{Error, Framing, TcpServer};

#[test]
fn no_request_is_handed_out_once_the_stop_began() {
    for round in 0..5 {
        let handled = Arc::new(AtomicU64::new(0));
        let refused = Arc::new(AtomicU64::new(0));
        let (h, r) = (handled.clone(), refused.clone());
        let server = TcpServer::new(0, 10)
            .bind(localhost())
            .threads(1)
            .framing(Framing::lines())
            .max_queue_bytes(1 << 30)
            .on_message(move |srv, c, msg| {
                h.fetch_add(1, Ordering::SeqCst);
                match srv.send(c.id, msg) {
                    Ok(()) => {}
                    Err(Error::NotRunning) => {
                        r.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(e) => panic!("send: {e}"),
                }
            })
            .start()
            .unwrap();
        let stream = TcpStream::connect(server.local_addr()).unwrap();
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        let mut w = stream.try_clone().unwrap();
        // Writes requests until the server's end stops it.
        let writer = std::thread::spawn(move || {
            let mut k = 0u64;
            while w.write_all(format!("req {k}\n").as_bytes()).is_ok() {
                k += 1;
            }
        });
        let reader = std::thread::spawn(move || {
            let mut r = BufReader::new(stream);
            let (mut n, mut line) = (0u64, String::new());
            while r.read_line(&mut line).is_ok_and(|x| x > 0) {
                n += 1;
                line.clear();
            }
            n
        });
        // Stop mid-stream, with requests being handed out.
        wait_until("requests handled", || {
            handled.load(Ordering::SeqCst) >= 20_000
        });
        server.stop();
        let echoed = reader.join().unwrap();
        writer.join().unwrap();
        let handled = handled.load(Ordering::SeqCst);
        let refused = refused.load(Ordering::SeqCst);
        eprintln!("round {round}: handled {handled}, refused {refused}, echoed {echoed}");
        // At most the one callback running when stop() was called.
        assert!(refused <= 1, "round {round}: {refused} replies refused");
        // Every reply accepted was written before the connection closed.
        assert_eq!(echoed, handled - refused, "round {round}");
    }
}
