//! Review (addresses): a dual-stack (`::`) server's IPv4 clients are
//! reported and found as plain IPv4 (and by their IPv4-mapped spelling),
//! per-IP limits count them as a `0.0.0.0` server does, whatever
//! `per_ip_ipv6_prefix` says; `per_ip_ipv6_prefix`'s bounds; the spellings
//! `parse_client_ip` takes and refuses; a client dialling `::1`, `[::1]`
//! and `localhost` reports canonical addresses. Loopback only; a test
//! without IPv6 loopback (or without a dual-stack listener) is skipped.

mod support;

use std::net::{IpAddr, SocketAddr};

use support::{have_ipv6_loopback, next_event, wait_clients, Peer};
use tcphub::{Error, Event, Framing, ServerHandle, TcpClient, TcpServer};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A lines server bound to `bind`, limited to `per_ip` per address with
/// `prefix` bits; `None` when it cannot listen there (no IPv6).
fn server_at(bind: &str, per_ip: Option<usize>, prefix: u8) -> Option<ServerHandle> {
    let mut b = TcpServer::new(0, 100)
        .bind(ip(bind))
        .framing(Framing::lines())
        .per_ip_ipv6_prefix(prefix)
        .per_ip_full_message("per ip");
    if let Some(n) = per_ip {
        b = b.max_clients_per_ip(n);
    }
    match b.start() {
        Ok(s) => Some(s),
        Err(e) => {
            eprintln!("skipped: cannot listen on {bind}: {e}");
            None
        }
    }
}

/// A peer at `[::1]:port`, or `None` without IPv6 loopback.
fn v6_peer(port: u16) -> Option<Peer> {
    have_ipv6_loopback()
        .then(|| Peer::connect(SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, port))))
}

fn v4(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

#[test]
fn an_ipv4_client_of_a_dual_stack_server_is_plain_ipv4_and_found_by_every_spelling() {
    let Some(server) = server_at("::", None, 128) else {
        return;
    };
    let events = server.events();
    let port = server.local_addr().port();
    assert_eq!(server.local_addr().ip(), ip("::"));
    let mut peer = Peer::connect(v4(port));
    let Event::Connected(c) = next_event(&events) else {
        panic!("no Connected");
    };
    assert_eq!(c.addr, peer.addr());
    assert!(c.addr.is_ipv4(), "{c:?}");
    assert_eq!(server.clients()[0].addr, c.addr);
    let p = c.addr.port();
    for text in [
        "127.0.0.1",
        "::ffff:127.0.0.1",
        "[::ffff:127.0.0.1]",
        "::FFFF:127.0.0.1",
        "::ffff:7f00:1",
        "0:0:0:0:0:ffff:7f00:0001",
        "::ffff:127.0.0.1%lo",
    ] {
        let a = tcphub::parse_client_ip(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        server.send_to(a, p, text.as_bytes()).expect(text);
        assert_eq!(peer.read_line(), text);
    }
    // Not its address: no one, never another client.
    for other in ["::1", "127.0.0.2", "::127.0.0.1", "::ffff:127.0.0.2"] {
        assert!(
            matches!(
                server.send_to(ip(other), p, b"x"),
                Err(Error::NoSuchClient(_))
            ),
            "{other}"
        );
    }
}

#[test]
fn an_ipv6_client_of_a_dual_stack_server_is_reported_and_found_as_ipv6() {
    let Some(server) = server_at("::", None, 128) else {
        return;
    };
    let events = server.events();
    let Some(mut peer) = v6_peer(server.local_addr().port()) else {
        return;
    };
    let Event::Connected(c) = next_event(&events) else {
        panic!("no Connected");
    };
    assert_eq!(c.addr, peer.addr());
    assert_eq!(c.addr.ip(), ip("::1"));
    for text in [
        "::1",
        "[::1]",
        "::1%1",
        "[::1%lo]",
        "0:0:0:0:0:0:0:1",
        "0::0001",
    ] {
        let a = tcphub::parse_client_ip(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        server
            .send_to(a, c.addr.port(), text.as_bytes())
            .expect(text);
        assert_eq!(peer.read_line(), text);
    }
}

#[test]
fn spellings_that_are_no_client_address_are_refused_with_a_reason() {
    for bad in [
        "",
        " 127.0.0.1",
        "127.0.0.1 ",
        "127.0.0.1\n",
        "127.000.000.001",
        "127.0.0.01",
        "0127.0.0.1",
        "127.1",
        "0x7f.0.0.1",
        "[127.0.0.1]",
        "[::1]:80",
        "127.0.0.1:80",
        "::1%",
        "[::1%]",
        "%lo",
        "::1%lo%lo",
        "localhost",
        "LOCALHOST",
        "fe80::1%eth 0",
    ] {
        let why = tcphub::parse_client_ip(bad)
            .map(|a| format!("parsed as {a}"))
            .unwrap_or_else(|e| e);
        assert!(why.starts_with("send_to wants"), "{bad:?}: {why}");
    }
    assert!(tcphub::parse_client_ip("localhost")
        .unwrap_err()
        .contains("host name"));
}

#[test]
fn per_ip_limits_count_an_ipv4_client_alike_through_a_dual_stack_listener() {
    for bind in ["0.0.0.0", "::"] {
        for prefix in [1u8, 64, 96, 127, 128] {
            let Some(server) = server_at(bind, Some(1), prefix) else {
                continue;
            };
            let port = server.local_addr().port();
            let _a = Peer::connect(v4(port));
            wait_clients(&server, 1);
            let mut refused = Peer::connect(v4(port));
            assert_eq!(refused.read_line(), "per ip", "{bind} /{prefix}");
            refused.expect_eof();
            // Another loopback address has a place of its own.
            let _b = Peer::connect_from(ip("127.0.0.2"), v4(port));
            // (A stack that sources every loopback connection from
            // 127.0.0.1 refuses it instead.)
            support::wait_until("127.0.0.2 admitted or refused", || {
                server.client_count() == 2 || server.stats().rejected_per_ip == 2
            });
            if bind == "::" {
                // An IPv6 client counts apart from the IPv4 ones, at any prefix.
                let before = server.client_count();
                if let Some(_c) = v6_peer(port) {
                    wait_clients(&server, before + 1);
                    let mut again = v6_peer(port).unwrap();
                    assert_eq!(again.read_line(), "per ip", "{bind} /{prefix}");
                }
            }
        }
    }
}

#[test]
fn per_ip_ipv6_prefix_takes_1_to_128() {
    for bad in [0u8, 129, 200, 255] {
        let e = TcpServer::new(0, 10)
            .per_ip_ipv6_prefix(bad)
            .validate()
            .unwrap_err();
        assert!(
            e.to_string().contains(&format!("1 to 128, not {bad}")),
            "{e}"
        );
    }
    for good in [1u8, 64, 127, 128] {
        TcpServer::new(0, 10)
            .per_ip_ipv6_prefix(good)
            .validate()
            .unwrap();
    }
}

#[test]
fn a_client_names_ipv6_loopback_in_every_spelling_and_reports_it_canonically() {
    let Some(server) = server_at("::", None, 128) else {
        return;
    };
    let port = server.local_addr().port();
    if !have_ipv6_loopback() {
        return;
    }
    let want_peer: SocketAddr = format!("[::1]:{port}").parse().unwrap();
    let check = |c: TcpClient, what: &str| {
        assert_eq!(c.peer_addr(), want_peer, "{what}");
        assert_eq!(c.local_addr().ip(), ip("::1"), "{what}");
        wait_until_listed(&server, c.local_addr());
    };
    check(
        TcpClient::connect(format!("[::1]:{port}")).unwrap(),
        "[::1]:port",
    );
    check(TcpClient::connect(("::1", port)).unwrap(), "(::1, port)");
    check(
        TcpClient::connect(("[::1]", port)).unwrap(),
        "([::1], port)",
    );
    check(
        TcpClient::connect((String::from("[::1]"), port)).unwrap(),
        "(String [::1], port)",
    );
    // localhost: whatever the hosts file gives, the report is canonical.
    let c = TcpClient::connect(format!("localhost:{port}")).unwrap();
    assert!(c.peer_addr().ip().is_loopback(), "{:?}", c.peer_addr());
    assert_eq!(c.peer_addr().ip().to_canonical(), c.peer_addr().ip());
    assert_eq!(c.local_addr().ip().to_canonical(), c.local_addr().ip());
    wait_until_listed(&server, c.local_addr());
    // An IPv4 client of the dual-stack server: plain IPv4 at both ends.
    let c = TcpClient::connect(v4(port)).unwrap();
    assert_eq!(c.peer_addr(), v4(port));
    assert!(c.local_addr().is_ipv4());
    wait_until_listed(&server, c.local_addr());
}

fn wait_until_listed(server: &ServerHandle, addr: SocketAddr) {
    support::wait_until(&format!("{addr} listed"), || {
        server.clients().iter().any(|c| c.addr == addr)
    });
}

#[test]
fn a_server_bound_to_an_ipv4_mapped_address_reports_plain_ipv4() {
    let Some(server) = server_at("::ffff:127.0.0.1", Some(1), 64) else {
        return;
    };
    assert_eq!(server.local_addr().ip(), ip("127.0.0.1"));
    let events = server.events();
    let mut peer = Peer::connect(server.local_addr());
    let Event::Connected(c) = next_event(&events) else {
        panic!("no Connected");
    };
    assert_eq!(c.addr, peer.addr());
    server
        .send_to(ip("::ffff:127.0.0.1"), c.addr.port(), b"hi")
        .unwrap();
    assert_eq!(peer.read_line(), "hi");
    let mut refused = Peer::connect(server.local_addr());
    assert_eq!(refused.read_line(), "per ip");
}

#[test]
fn an_ipv6_host_that_does_not_resolve_is_named_as_tcphub_prints_addresses() {
    // A zone naming no interface: the resolver fails without asking any
    // name server. Named "fe80::1%nosuchif0:8001", the port read as the
    // address's last group; "[...]:8001" as tcphub prints addresses.
    for target in [
        format!(
            "{:?}",
            TcpClient::connect(("fe80::1%nosuchif0", 8001)).err()
        ),
        format!(
            "{:?}",
            TcpClient::connect(("[fe80::1%nosuchif0]", 8001)).err()
        ),
        format!(
            "{:?}",
            TcpClient::connect((String::from("fe80::1%nosuchif0"), 8001)).err()
        ),
        format!("{:?}", TcpClient::connect("[fe80::1%nosuchif0]:8001").err()),
    ] {
        if !target.contains("Resolve") {
            eprintln!("skipped: the resolver took the zone ({target})");
            continue;
        }
        assert!(
            target.contains("target: \"[fe80::1%nosuchif0]:8001\""),
            "{target}"
        );
    }
}

#[test]
fn a_host_in_digits_and_dots_that_is_no_ipv4_address_is_refused_not_read_as_octal() {
    // The system's resolver reads "127.0.0.010" as 127.0.0.8 (inet_aton:
    // a leading zero is octal), while send_to refuses it as no IP address:
    // the client connected to another address than the one written.
    let server = TcpServer::new(0, 10)
        .bind(ip("0.0.0.0"))
        .framing(Framing::lines())
        .start()
        .unwrap();
    let port = server.local_addr().port();
    for host in [
        "127.0.0.010",
        "127.000.000.001",
        "127.1",
        "0x7f.0.0.1",
        "2130706433",
    ] {
        for r in [
            TcpClient::connect((host, port)),
            TcpClient::connect(format!("{host}:{port}")),
        ] {
            match r {
                Err(Error::InvalidConfig(why)) => {
                    assert!(
                        why.contains(host) && why.contains("no IPv4 address"),
                        "{why}"
                    )
                }
                Ok(c) => panic!("{host} connected to {}", c.peer_addr()),
                Err(e) => panic!("{host}: {e}"),
            }
        }
    }
    // Written plainly, it connects.
    let c = TcpClient::connect(("127.0.0.1", port)).unwrap();
    assert_eq!(c.peer_addr(), v4(port));
}
