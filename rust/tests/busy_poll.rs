//! `TcpServer::busy_poll`: loops keep polling briefly before they sleep.
//! It must change nothing observable but CPU time: messages flow as usual,
//! and a loop with nothing to do does go to sleep (the spin is bounded).
//! Alone in its own test binary, so the loop threads measured are only
//! this test's.

mod support;

use std::time::Duration;

use support::*;
use tcphub::{Framing, TcpServer};

/// CPU time (user + system) used so far by this process's event-loop
/// threads, in clock ticks (1/100 s).
fn loop_cpu_ticks() -> u64 {
    let mut ticks = 0;
    for task in std::fs::read_dir("/proc/self/task").expect("read /proc/self/task") {
        let dir = task.expect("task entry").path();
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        if !comm.starts_with("tcphub-io") {
            continue;
        }
        let stat = std::fs::read_to_string(dir.join("stat")).unwrap_or_default();
        // Fields after the parenthesised name; utime and stime are 14 and 15.
        let rest = stat.rsplit_once(") ").map_or("", |(_, r)| r);
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.len() > 12 {
            ticks +=
                fields[11].parse::<u64>().unwrap_or(0) + fields[12].parse::<u64>().unwrap_or(0);
        }
    }
    ticks
}

#[test]
fn busy_polling_loops_serve_normally_and_still_sleep_when_idle() {
    // The default (5 µs) and a long spin.
    for spin in [None, Some(Duration::from_micros(200))] {
        serve_then_idle(spin);
    }
}

fn serve_then_idle(spin: Option<Duration>) {
    let mut builder = TcpServer::new(0, 10)
        .bind(localhost())
        .framing(Framing::Lines { max_len: 1024 })
        .threads(2)
        .on_message(|srv, c, msg| {
            srv.send(c.id, msg).expect("echo");
        });
    if let Some(spin) = spin {
        builder = builder.busy_poll(spin);
    }
    let server = builder.start().expect("start");
    let mut peers: Vec<Peer> = (0..4).map(|_| Peer::connect(server.local_addr())).collect();
    wait_clients(&server, 4);
    for round in 0..500 {
        for (i, p) in peers.iter_mut().enumerate() {
            p.send_line(&format!("{i}-{round}"));
        }
        for (i, p) in peers.iter_mut().enumerate() {
            assert_eq!(p.read_line(), format!("{i}-{round}"));
        }
    }

    // Idle now: over one second the two loops may use a few spins' worth of
    // CPU, not the second each they would burn if the spin never ended.
    let before = loop_cpu_ticks();
    std::thread::sleep(Duration::from_secs(1));
    let used = loop_cpu_ticks() - before;
    assert!(
        used <= 25,
        "idle event loops used {used}0 ms of CPU in 1 s with busy_poll {spin:?}: the busy poll does not end"
    );
    server.stop();
}
