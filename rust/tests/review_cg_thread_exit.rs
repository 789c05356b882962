//! Review cg: sends from code that runs while an application thread ends —
//! the drop of a thread-local made before the thread's first tcphub call
//! (dropped after tcphub's own thread-locals on that thread), as a C
//! program's pthread-key destructors are (tests/c/test_review_cg_thread_exit.c).
//! The engine's per-thread loop record was read with `LocalKey::with`, which
//! panics once it is destroyed: there a send, a kick or a pause panicked —
//! inside a thread-local's drop, which aborts the process.
//!
//! Run in a forked child, so that the abort it would be is a failed test
//! rather than the end of the test binary.

mod support;

use std::cell::RefCell;
use std::sync::mpsc;

use support::child::in_child;
use support::{lines_server, Peer};
use tcphub::{ClientId, ServerHandle};

/// A worker's goodbye: sent (and the client kicked) when its thread ends.
struct Goodbye {
    server: ServerHandle,
    client: ClientId,
    done: mpsc::Sender<(bool, bool, bool)>,
}

impl Drop for Goodbye {
    fn drop(&mut self) {
        let sent = self.server.send(self.client, b"bye").is_ok();
        self.server.pause_input();
        self.server.resume_input();
        let kicked = self.server.disconnect(self.client).is_ok();
        let _ = self.done.send((sent, true, kicked));
    }
}

thread_local! {
    static GOODBYE: RefCell<Option<Goodbye>> = const { RefCell::new(None) };
}

#[test]
fn a_thread_local_dropped_at_thread_exit_can_still_send() {
    in_child("send from a thread-local's drop at thread exit", || {
        let server = lines_server(4).start().expect("start");
        let mut peer = Peer::connect(server.local_addr());
        let client = peer.id_on(&server);
        let (done_tx, done_rx) = mpsc::channel();
        let worker = {
            let server = server.clone();
            std::thread::spawn(move || {
                // Made first: dropped after what tcphub makes on this thread.
                GOODBYE.with(|g| {
                    *g.borrow_mut() = Some(Goodbye {
                        server: server.clone(),
                        client,
                        done: done_tx,
                    })
                });
                server.send(client, b"hi").expect("send from the worker");
            })
        };
        if worker.join().is_err() {
            return 1;
        }
        let Ok((sent, _, kicked)) = done_rx.recv_timeout(support::TIMEOUT) else {
            return 2;
        };
        if !sent || !kicked {
            return 3;
        }
        if peer.read_line() != "hi" || peer.read_line() != "bye" {
            return 4;
        }
        server.stop();
        0
    });
}
