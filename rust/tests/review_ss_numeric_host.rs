//! `client_host` refuses a host in numbers and dots that is no IPv4
//! address only when the system's resolver reads it as numbers
//! (`inet_aton`): a part "0x" without hex digits is no number to it
//! (glibc: `inet_aton("0x")` and `inet_aton("0x.1")` fail), so "0x" (a
//! one-label host name, looked up with the search domains), "1.0x" and
//! "0x.1" are names, which the resolver looks up as such.

use std::net::ToSocketAddrs;

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
