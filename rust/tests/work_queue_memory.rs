//! A loop's command queue gives back the room a burst took. An
//! application thread that runs ahead of a loop (here: one held up by a
//! slow callback) fills its channel with up to 64 MiB of messages; the loop
//! moves all of it into its work queue at once, which then kept room for
//! every one of those commands (48 bytes each) for the rest of the
//! server's life: about 48 MiB after a burst of 600,000 one-byte sends.
//!
//! Alone in its own file (so its own process): it counts the heap bytes
//! live in the whole process with a counting global allocator.

mod counting_alloc;
mod support;

use std::io::Read;

use counting_alloc::live_mib;
use support::SlowLoop;

#[test]
fn a_burst_of_commands_does_not_pin_the_loop_s_work_queue() {
    const SENDS: usize = 600_000;
    let mut slow = SlowLoop::start();
    let (server, id) = (slow.server.clone(), slow.peer.id_on(&slow.server));
    let mut sink = slow.peer.try_clone_peer();
    let reader = std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        let mut total = 0;
        while total < 2 * SENDS {
            match sink.stream.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => total += n,
            }
        }
        total
    });
    let before = live_mib();
    // The loop sleeps in the callback while the sends pile up in its channel.
    slow.hold();
    for _ in 0..SENDS {
        server.send(id, b"x").unwrap();
    }
    assert_eq!(reader.join().unwrap(), 2 * SENDS, "every line arrived");
    support::wait_until("the loop to count them", || {
        server.stats().msgs_out == SENDS as u64
    });
    let after = live_mib();
    assert!(
        after - before < 8.0,
        "{:.1} MiB live after the burst, {before:.1} MiB before",
        after
    );
}
