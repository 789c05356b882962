//! `keepalive(idle)` with an idle time under a second (the C binding takes
//! milliseconds: `tcphub_server_set_keepalive(s, 500)`) turned keepalive on
//! with the kernel's default idle time, two hours: the kernel counts
//! `TCP_KEEPIDLE` in whole seconds and refuses 0, and the error was
//! ignored. The idle time is now rounded up to whole seconds. The client
//! has the same setting (`ClientBuilder::keepalive`), on every connection.

#![cfg(target_os = "linux")]

mod support;

use std::time::Duration;

use support::*;
use tcphub::{Error, Reconnect, TcpClient, TcpServer};

/// The keepalive timer of the socket on local port `server_port` for the
/// connection to `peer_port`, in clock ticks (USER_HZ, 100 a second) from
/// now, as `/proc/net/tcp` shows it; `None` when that socket has no
/// keepalive timer.
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

#[test]
fn a_client_keepalive_is_on_every_connection_it_makes() {
    let server = TcpServer::new(0, 4)
        .bind(localhost())
        .threads(1)
        .on_message(|_, _, _| {})
        .start()
        .unwrap();
    let port = server.local_addr().port();
    let client = TcpClient::builder(server.local_addr())
        .keepalive(Duration::from_millis(1500))
        .reconnect(Reconnect {
            initial: Duration::from_millis(10),
            max: Duration::from_millis(50),
            max_attempts: None,
        })
        .connect()
        .expect("connect");
    let ticks = server_keepalive_ticks(client.local_addr().port(), port)
        .expect("the client's socket has a keepalive timer");
    // 2 s (1.5 rounded up), not the kernel's two hours (720,000 ticks).
    assert!(
        ticks <= 200,
        "keepalive due in {ticks} ticks, not within ~2 s"
    );

    // The connection the reconnect makes has it too.
    let first = client.local_addr();
    wait_clients(&server, 1);
    let id = server.clients()[0].id;
    server.disconnect(id).expect("kick");
    wait_until("the client reconnected", || {
        client.is_connected() && client.local_addr() != first
    });
    let ticks = server_keepalive_ticks(client.local_addr().port(), port)
        .expect("the reconnected socket has a keepalive timer");
    assert!(
        ticks <= 200,
        "keepalive due in {ticks} ticks after the reconnect"
    );

    // Without the setting: no keepalive timer.
    let plain = TcpClient::connect(server.local_addr()).expect("connect");
    assert_eq!(
        server_keepalive_ticks(plain.local_addr().port(), port),
        None
    );
    plain.close();
    client.close();
    server.stop();
}

#[test]
fn a_zero_client_keepalive_is_refused() {
    let err = TcpClient::builder("127.0.0.1:9")
        .keepalive(Duration::ZERO)
        .connect()
        .unwrap_err();
    assert!(matches!(err, Error::InvalidConfig(_)), "{err}");
}

#[test]
fn a_keepalive_past_what_the_kernel_takes_is_refused() {
    // Linux takes at most 32,767 s (TCP_KEEPIDLE). The server turned
    // keepalive on and ignored the refused idle time (probes after the
    // kernel's two hours), the client failed at connect with an i/o error,
    // and Duration::MAX overflowed the rounding.
    for idle in [Duration::from_secs(40_000), Duration::MAX] {
        let server = TcpServer::new(0, 4)
            .bind(localhost())
            .keepalive(idle)
            .on_message(|_, _, _| {})
            .start();
        match server {
            Err(Error::InvalidConfig(_)) => {}
            Err(e) => panic!("server keepalive {idle:?}: {e}"),
            Ok(server) => {
                let port = server.local_addr().port();
                let peer = Peer::connect(server.local_addr());
                wait_clients(&server, 1);
                let ticks = server_keepalive_ticks(port, peer.stream.local_addr().unwrap().port());
                server.stop();
                panic!("server keepalive {idle:?} started; its timer: {ticks:?} ticks");
            }
        }
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    for idle in [Duration::from_secs(40_000), Duration::MAX] {
        let err = TcpClient::builder(listener.local_addr().unwrap())
            .keepalive(idle)
            .connect()
            .map(|c| c.close())
            .unwrap_err();
        assert!(
            matches!(err, Error::InvalidConfig(_)),
            "client keepalive {idle:?}: {err}"
        );
    }
}
