//! The lanes that carry a loop's gathered broadcasts to the other loops
//! (`gather.rs`) are one per pair of loops: a server with many loops must
//! not pay for them quadratically. Alone in its own file (so its own
//! process): the resident-memory figure must not include other tests'.

mod support;

use support::*;
use tcphub::TcpServer;

#[test]
fn a_server_with_many_loops_does_not_allocate_a_lane_per_pair_of_loops() {
    const LOOPS: usize = 2048;
    let before = rss_kib();
    let server = match TcpServer::new(0, 10)
        .bind(localhost())
        .threads(LOOPS)
        .start()
    {
        Ok(server) => server,
        // A host that limits threads (a container's `pids.max`): nothing
        // to measure here.
        Err(e @ tcphub::Error::Io { .. }) => {
            eprintln!("skipped: cannot start {LOOPS} loops here: {e}");
            return;
        }
        Err(e) => panic!("start: {e}"),
    };
    let grown_mib = rss_kib().saturating_sub(before) / 1024;
    server.stop();
    // ~60 MiB of loops (stacks touched, pollers, event buffers); one lane
    // (~88 bytes) per pair of loops would add ~350 MiB.
    assert!(
        grown_mib < 256,
        "{LOOPS} loops took {grown_mib} MiB of resident memory"
    );
}
