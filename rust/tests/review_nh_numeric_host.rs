//! A client's host in numbers and dots that is no IPv4 address is refused
//! (`Error::InvalidConfig`, before any lookup), and the refusal says what
//! is wrong with it: every such host was told "the system's resolver would
//! read a leading zero as octal, 127.0.0.010 as 127.0.0.8" — also
//! `256.1.1.1` (a part over 255) and `127.0.0.08` (no octal number at all:
//! the resolver takes it for a name), which have no such zero.

use tcphub::{Error, TcpClient};

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
