//! Review mf (mutation testing of `handle/input.rs`): `resume_input()`
//! wakes every event loop. Posting the resume to loop 0 only passed every
//! test: the pause tests run one loop, or a loop still awake (it had just
//! worked) saw the flag change by itself. Here the loop of the client
//! that sent is asleep when the input resumes. Alone in its file: it
//! watches every `tcphub-io-*` thread of the process.

mod support;

use support::*;
use tcphub::{Framing, TcpServer};

/// The voluntary context switches of every event-loop thread of this
/// process, and whether all of them are sleeping (state `S`).
fn loop_threads() -> (Vec<(String, u64)>, bool) {
    let mut all = Vec::new();
    let mut asleep = true;
    for task in std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .flatten()
    {
        let path = task.path();
        let comm = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        if !comm.starts_with("tcphub-io") {
            continue;
        }
        let status = std::fs::read_to_string(path.join("status")).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .map(|v| v.trim().to_string())
                .unwrap_or_default()
        };
        asleep &= field("State:").starts_with('S');
        let switches = field("voluntary_ctxt_switches:").parse().unwrap_or(0);
        all.push((path.display().to_string(), switches));
    }
    all.sort();
    (all, asleep)
}

/// Waits until every event loop has slept, without a single wake-up,
/// across 25 looks in a row (a loop still busy after its last turn would
/// see the resume by itself).
fn wait_loops_asleep() {
    let mut last = (Vec::new(), false);
    let mut quiet = 0;
    wait_until("the event loops asleep", || {
        let now = loop_threads();
        if now.1 && now.0 == last.0 {
            quiet += 1;
        } else {
            quiet = 0;
        }
        last = now;
        quiet >= 25
    });
}

#[test]
fn review_mf_resume_input_wakes_the_loop_of_every_client() {
    let s = TcpServer::new(0, 16)
        .bind(localhost())
        .threads(2)
        .framing(Framing::lines())
        .on_message(|srv, c, msg| {
            let _ = srv.send(c.id, msg);
        })
        .start()
        .expect("start");
    // Dealt one to each loop (the one owning the fewest clients).
    let mut peers = connect_peers(&s, 2);
    for (i, p) in peers.iter_mut().enumerate() {
        s.pause_input();
        p.send_line(&format!("line {i}"));
        wait_loops_asleep();
        assert_eq!(s.stats().msgs_in, i as u64, "a line was read while paused");
        s.resume_input();
        assert_eq!(p.read_line(), format!("line {i}"), "peer {i}");
    }
    s.stop();
}
