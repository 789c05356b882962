//! Review (statistics): `tcphub serve --stats` and the stop's summary line
//! carry the server's counters.

mod support;

use support::*;

/// A relay hub of at most 2 clients: 3 lines from one go to both (6 out),
/// a third connection is refused; the periodic line shows the clients and
/// the refusal, the summary the totals.
#[test]
fn the_stats_lines_carry_the_counters() {
    let mut hub = Hub::start(&["--mode", "relay", "--max", "2", "--stats", "0.05"]);
    let mut a = hub.connect();
    let mut b = hub.connect();
    wait_line(&hub.log, |l| l.contains(&b.addr()));
    for line in ["one", "two", "three"] {
        a.send(line);
    }
    for line in ["one", "two", "three"] {
        a.expect(line);
        b.expect(line);
    }
    let mut refused = hub.connect();
    refused.until_eof();
    let line = wait_line(&hub.log, |l| {
        l.starts_with("stats:") && l.ends_with("| drops 0 lost 0 slow 0 rejected 1")
    });
    assert!(line.contains("stats: clients 2 |"), "{line}");
    assert!(hub.terminate().success());
    let stopped = wait_line(&hub.log, |l| l.contains("stopped:"));
    assert!(
        stopped.ends_with(
            "stopped: 2 clients served, 3 messages in, 6 out, 1 connection refused (server full)"
        ),
        "{stopped}"
    );
}
