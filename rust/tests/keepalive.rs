//! `keepalive(idle)` with an idle time under a second (the C binding takes
//! milliseconds: `tcphub_server_set_keepalive(s, 500)`) turned keepalive on
//! with the kernel's default idle time, two hours: the kernel counts
//! `TCP_KEEPIDLE` in whole seconds and refuses 0, and the error was
//! ignored. The idle time is now rounded up to whole seconds.

#![cfg(target_os = "linux")]

mod support;

use std::time::Duration;

use support::*;
use tcphub::TcpServer;

/// The keepalive timer of the server's socket for the connection to
/// `peer_port`, in clock ticks (USER_HZ, 100 a second) from now, as
/// `/proc/net/tcp` shows it; `None` when that socket has no keepalive timer.
fn server_keepalive_ticks(server_port: u16, peer_port: u16) -> Option<u64> {
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            let port = |s: &str| u16::from_str_radix(s.rsplit(':').next().unwrap(), 16).unwrap();
            if f.len() < 6 || port(f[1]) != server_port || port(f[2]) != peer_port {
                continue;
            }
            // "tr:tm->when": timer 2 is keepalive.
            let (tr, when) = f[5].split_once(':').unwrap();
            return (tr == "02").then(|| u64::from_str_radix(when, 16).unwrap());
        }
    }
    None
}

#[test]
fn a_keepalive_under_a_second_is_not_two_hours() {
    let server = TcpServer::new(0, 4)
        .bind(localhost())
        .threads(1)
        .keepalive(Duration::from_millis(500))
        .on_message(|_, _, _| {})
        .start()
        .unwrap();
    let peer = Peer::connect(server.local_addr());
    wait_clients(&server, 1);
    let ticks = server_keepalive_ticks(server.local_addr().port(), peer.addr().port())
        .expect("the server's socket has a keepalive timer");
    // Two hours would be 720,000 ticks.
    assert!(
        ticks <= 200,
        "keepalive due in {ticks} ticks, not within ~1 s"
    );
    server.stop();
}
