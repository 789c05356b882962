//! Review md (mutation testing, sixth round: `event_loop/output.rs`): a
//! loop's work queue gives back the room a burst of commands took
//! (`WORK_KEEP`). `work_queue_memory` made its burst of sends, which are
//! now gathered into a few commands (`gather.rs`): it no longer fills the
//! work queue. Commands that are posted one by one (`pause_client` /
//! `resume_client` from an application thread) still do: 600,000 of them
//! kept about 32 MiB (56 bytes a command) for the rest of the server's
//! life when the queue was not shrunk.
//!
//! Alone in its own file (so its own process): it counts the heap bytes
//! live in the whole process with a counting global allocator.

mod counting_alloc;
mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::*;
use tcphub::{Framing, TcpServer};

fn live_mib() -> f64 {
    counting_alloc::live_kib() / 1024.0
}

#[test]
fn review_md_a_burst_of_posted_commands_does_not_pin_the_loop_s_work_queue() {
    const PAIRS: usize = 300_000;
    let blocked = Arc::new(AtomicBool::new(false));
    let in_callback = blocked.clone();
    let server = TcpServer::new(0, 4)
        .bind(localhost())
        .threads(1)
        .framing(Framing::lines())
        .on_message(move |_, _, msg| {
            if msg == b"block" {
                in_callback.store(true, Ordering::SeqCst);
                std::thread::sleep(Duration::from_secs(1));
            }
        })
        .start()
        .unwrap();
    let mut peer = Peer::connect(server.local_addr());
    let id = peer.id_on(&server);
    let before = live_mib();
    // The loop sleeps in the callback while the commands pile up in its
    // channel; it then takes them all into its work queue at once.
    peer.send_line("block");
    wait_until("the loop in the slow callback", || {
        blocked.load(Ordering::SeqCst)
    });
    for _ in 0..PAIRS {
        server.pause_client(id).unwrap();
        server.resume_client(id).unwrap();
    }
    // Applied after all of them.
    server.send(id, b"done").unwrap();
    assert_eq!(peer.read_line(), "done");
    let after = live_mib();
    assert!(
        after - before < 8.0,
        "{after:.1} MiB live after the burst, {before:.1} MiB before"
    );
}
