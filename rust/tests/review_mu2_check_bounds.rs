//! Review mu2 (mutation testing): every bound `TcpServer::validate` checks
//! is inclusive as documented — a setting exactly at its limit is valid.
//! The tests so far only tried one past each limit, so a check moved by one
//! (`>` as `>=`, `<` as `<=`) refusing the limit itself passed them.

use std::net::IpAddr;

use tcphub::{Framing, TcpServer, MAX_BUSY_POLL, MAX_FULL_MESSAGE, MAX_THREADS};

fn server() -> TcpServer {
    TcpServer::new(0, 1).bind(IpAddr::from([127, 0, 0, 1]))
}

/// `threads` "at most `MAX_THREADS`", `busy_poll` "at most `MAX_BUSY_POLL`",
/// `backlog` "at least 1", `per_ip_ipv6_prefix` 1 to 128,
/// `max_clients_per_ip` at least 1: each limit itself is accepted.
#[test]
fn review_mu2_settings_at_their_limits_are_valid() {
    type Make = fn() -> TcpServer;
    let at_limit: Vec<(&str, Make)> = vec![
        ("threads MAX_THREADS", || server().threads(MAX_THREADS)),
        ("busy_poll MAX_BUSY_POLL", || {
            server().busy_poll(MAX_BUSY_POLL)
        }),
        ("backlog 1", || server().backlog(1)),
        ("per_ip_ipv6_prefix 1", || server().per_ip_ipv6_prefix(1)),
        ("per_ip_ipv6_prefix 128", || {
            server().per_ip_ipv6_prefix(128)
        }),
        ("max_clients_per_ip 1", || server().max_clients_per_ip(1)),
    ];
    for (what, make) in at_limit {
        if let Err(e) = make().validate() {
            panic!("{what}: refused: {e}");
        }
    }
    // And one past each is refused (the other side of the same checks).
    assert!(server().threads(MAX_THREADS + 1).validate().is_err());
    assert!(server().per_ip_ipv6_prefix(0).validate().is_err());
    assert!(server().per_ip_ipv6_prefix(129).validate().is_err());
    assert!(server().max_clients_per_ip(0).validate().is_err());
}

/// A notice is "at most `MAX_FULL_MESSAGE` bytes once framed": with lines
/// framing (one byte added) `MAX_FULL_MESSAGE - 1` bytes of text fit, for
/// each of the server's five notices, and one byte more does not.
#[test]
fn review_mu2_notices_of_exactly_the_framed_limit_are_valid() {
    let fits = vec![b'x'; MAX_FULL_MESSAGE - 1];
    let over = vec![b'x'; MAX_FULL_MESSAGE];
    type Set = fn(TcpServer, &[u8]) -> TcpServer;
    let notices: Vec<(&str, Set)> = vec![
        ("full_message", |s, m| s.full_message(m)),
        ("per_ip_full_message", |s, m| s.per_ip_full_message(m)),
        ("idle_timeout_message", |s, m| s.idle_timeout_message(m)),
        ("frame_timeout_message", |s, m| s.frame_timeout_message(m)),
        ("frame_too_large_message", |s, m| {
            s.frame_too_large_message(m)
        }),
    ];
    for (what, set) in notices {
        let lines = || server().framing(Framing::lines());
        if let Err(e) = set(lines(), &fits).validate() {
            panic!("{what}: {} bytes framed refused: {e}", MAX_FULL_MESSAGE);
        }
        let err = set(lines(), &over).validate().unwrap_err();
        assert!(err.to_string().contains(what), "{what}: {err}");
    }
}
