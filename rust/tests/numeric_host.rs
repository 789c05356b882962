//! Client hosts written in numbers and dots (the address reviews).
//!
//! `client_host` refuses a host in numbers and dots that is no IPv4
//! address only when the system's resolver reads it as numbers
//! (`inet_aton`): a part "0x" without hex digits is no number to it
//! (glibc: `inet_aton("0x")` and `inet_aton("0x.1")` fail), so "0x" (a
//! one-label host name, looked up with the search domains), "1.0x" and
//! "0x.1" are names, which the resolver looks up as such.
//!
//! A client's host in numbers and dots that is no IPv4 address is refused
//! (`Error::InvalidConfig`, before any lookup), and the refusal says what
//! is wrong with it: every such host was told "the system's resolver would
//! read a leading zero as octal, 127.0.0.010 as 127.0.0.8" — also
//! `256.1.1.1` (a part over 255) and `127.0.0.08` (no octal number at all:
//! the resolver takes it for a name), which have no such zero.

use std::net::ToSocketAddrs;
use tcphub::{Error, TcpClient};

#[test]
fn a_0x_part_without_hex_digits_is_a_name_not_a_number() {
    for name in ["0x", "0X", "1.0x", "127.0.0.0x", "0x.1", "0x.0x.0x.1"] {
        assert!(
            tcphub::client_host(name).is_ok(),
            "{name}: {:?}",
            tcphub::client_host(name)
        );
        // The resolver does not read it as an address (it looks it up as a
        // name, which fails here, or finds what the name is).
        let read_as_number = (name, 80u16).to_socket_addrs().is_ok_and(|mut a| {
            a.any(|a| a.ip().is_unspecified() || a.ip().to_string().starts_with("127.0.0."))
        });
        assert!(!read_as_number, "{name} was read as an address");
    }
    // With hex digits it is a number: still refused.
    for numeric in ["0x7f.1", "0x0", "0x7f.0x0.0x0.0x1"] {
        assert!(tcphub::client_host(numeric).is_err(), "{numeric}");
    }
}

/// The refusal for `host`, given apart from its port and with it.
fn refusals(host: &str) -> Vec<String> {
    [
        TcpClient::builder((host, 8001u16)).connect(),
        TcpClient::builder(format!("{host}:8001")).connect(),
    ]
    .into_iter()
    .map(|r| match r {
        Err(Error::InvalidConfig(why)) => why,
        Ok(c) => panic!("{host} connected to {}", c.peer_addr()),
        Err(e) => panic!("{host}: {e}"),
    })
    .collect()
}

#[test]
fn a_numeric_host_is_refused_for_what_is_wrong_with_it() {
    for (host, says, not) in [
        ("256.1.1.1", "256 is over 255", "octal"),
        ("1.2.3.999", "999 is over 255", "octal"),
        ("127.0.0.08", "\"08\" has a leading zero", "octal"),
        ("127.0.0.010", "\"010\" has a leading zero", "over 255"),
        ("127.0.0.010", "octal", "over 255"),
        ("127.000.000.001", "\"000\" has a leading zero", "over 255"),
        ("127.1", "2 parts", "octal"),
        ("2130706433", "1 part", "octal"),
        ("0x7f.0.0.1", "\"0x7f\" is hexadecimal", "octal"),
    ] {
        for why in refusals(host) {
            assert!(
                why.contains(&format!("\"{host}\"")) && why.contains("no IPv4 address"),
                "{host}: {why}"
            );
            assert!(why.contains(says), "{host}: wanted {says:?}: {why}");
            assert!(!why.contains(not), "{host}: not {not:?}: {why}");
        }
    }
}
