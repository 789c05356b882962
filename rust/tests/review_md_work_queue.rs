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

use counting_alloc::live_mib;
use support::SlowLoop;

#[test]
fn review_md_a_burst_of_posted_commands_does_not_pin_the_loop_s_work_queue() {
    const PAIRS: usize = 300_000;
    let mut slow = SlowLoop::start();
    let id = slow.peer.id_on(&slow.server);
    let before = live_mib();
    slow.hold();
    for _ in 0..PAIRS {
        slow.server.pause_client(id).unwrap();
        slow.server.resume_client(id).unwrap();
    }
    // Applied after all of them.
    slow.server.send(id, b"done").unwrap();
    assert_eq!(slow.peer.read_line(), "done");
    let after = live_mib();
    assert!(
        after - before < 8.0,
        "{after:.1} MiB live after the burst, {before:.1} MiB before"
    );
}
