//! A lingering socket whose reads stop at their budget is read again on
//! the loop's next turn, meant without a sleep (`next_lingering_check`
//! answered "now"). That "now" was taken after the poll timeout's own
//! `now`: a few nanoseconds to wait, which mio rounds up to a whole
//! millisecond, so a loop without busy polling slept 1 ms in `epoll_wait`
//! before each re-read (512 KiB) — and `linger_out` at a stop, busy
//! polling or not, the same. Found by a review (rw). Counted here as the
//! loop thread's voluntary context switches (one per sleep) while it
//! reads a peer's end behind megabytes of input: 12 before, a re-read
//! without a sleep adds none. In a file of its own: it finds the loop's
//! thread by its name and counts this process's descriptors.
#![cfg(target_os = "linux")]

mod support;

use std::time::Duration;

use support::*;
use tcphub::{ClientId, DisconnectReason, ServerHandle};

/// Bytes the client sends (and the server's socket holds) before its end:
/// twelve re-reads' worth past what the close itself reads.
const INPUT: usize = 7 << 20;

/// The id of this process's thread named `tcphub-io-0` (waits for it to
/// name itself).
fn loop_thread() -> String {
    the_thread_named("tcphub-io-0")
}

/// The scenario of review_hp_linger_budget.rs (support's
/// `client_ended_behind_input`: all but the last 64 KiB of `INPUT` waiting
/// with the end), the loop sleeping at once when idle; the loop thread's id.
fn client_done_behind_much_input(
    gone: &Disconnects,
) -> (ServerHandle, Peer, ClientId, String, usize) {
    let (server, peer, id, base) = client_ended_behind_input(gone, INPUT, INPUT - 64 * 1024, |b| {
        // Sleeping in `epoll_wait` at once (no spin first) when there
        // is nothing to do, as `tcphub serve --busy-poll-us 0` does.
        b.busy_poll(Duration::ZERO)
    });
    (server, peer, id, loop_thread(), base)
}

/// Fewer sleeps than this while the loop reads the lingering socket's
/// input to its end: a wakeup or two for the kick (or stop) and the end
/// are all it needs; a sleep before each re-read made twelve and more.
const FEW: u64 = 6;

#[test]
fn a_lingering_socket_with_input_left_is_read_again_without_sleeping() {
    // Kicked: the loop's turns re-read it.
    let gone = Disconnects::new();
    let (server, mut peer, id, tid, base) = client_done_behind_much_input(&gone);
    let before = voluntary_switches(&tid);
    server.disconnect(id).unwrap();
    assert_eq!(gone.wait_for(id), DisconnectReason::Kicked);
    wait_until("the lingering socket read to its end and closed", || {
        open_fds() <= base + 1 // (the client's)
    });
    let slept = voluntary_switches(&tid) - before;
    assert!(
        slept < FEW,
        "the loop slept {slept} times reading one lingering socket's input"
    );
    let (got, clean) = peer.drain_until_closed();
    assert!(clean, "a reset after {} bytes", got.len());
    assert_eq!(got, goodbye());
    server.stop();

    // Stopped: `linger_out` re-reads it (counted up to the loop's end).
    let gone = Disconnects::new();
    let (server, mut peer, id, tid, _) = client_done_behind_much_input(&gone);
    let status = format!("/proc/self/task/{tid}/status");
    let before = voluntary_switches(&tid);
    let mut last = before;
    let stopping = {
        let server = server.clone();
        std::thread::spawn(move || server.stop())
    };
    // Read without a pause between (a poll's sleep would miss the loop's
    // last turns); the thread's status is gone once it has ended: the last
    // count read before is the one.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !stopping.is_finished() {
        assert!(std::time::Instant::now() < deadline, "the stop to finish");
        let n = std::fs::read_to_string(&status).ok().and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
                .and_then(|v| v.trim().parse().ok())
        });
        if let Some(n) = n {
            last = n;
        }
        std::thread::yield_now();
    }
    stopping.join().unwrap();
    assert_eq!(gone.wait_for(id), DisconnectReason::ServerStopped);
    let slept = last - before;
    assert!(
        slept < FEW,
        "the stop's loop slept {slept} times reading one lingering socket's input"
    );
    let (got, clean) = peer.drain_until_closed();
    assert!(clean, "a reset after {} bytes", got.len());
    assert_eq!(got, goodbye());
}
