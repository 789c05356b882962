//! Review (ba): `send_to` a client connected from an IPv6 link-local
//! address (`fe80::…%ifindex`), on a dual-stack (`::`) server. The zone is
//! dropped (as `parse_ip` and `send_to` document): the client is reported
//! without it and found with or without one. Coverage, no defect. Needs
//! an interface with a link-local address (the traffic stays in this
//! host: it is one of its own addresses); skipped without one.

mod support;

use std::io::{BufRead, BufReader};
use std::net::{IpAddr, Ipv6Addr, SocketAddr, SocketAddrV6, TcpStream};

use support::{wait_until, Disconnects, TIMEOUT};
use tcphub::{Error, Framing, TcpServer};

/// One of this host's link-local addresses and its interface index.
fn link_local() -> Option<(Ipv6Addr, u32)> {
    let table = std::fs::read_to_string("/proc/net/if_inet6").ok()?;
    table.lines().find_map(|line| {
        let mut f = line.split_whitespace();
        let addr = u128::from_str_radix(f.next()?, 16).ok()?;
        let index = u32::from_str_radix(f.next()?, 16).ok()?;
        let addr = Ipv6Addr::from(addr);
        addr.is_unicast_link_local().then_some((addr, index))
    })
}

#[test]
fn a_link_local_client_is_found_by_its_address_with_or_without_a_zone() {
    let Some((ip, index)) = link_local() else {
        eprintln!("skipped: no link-local address");
        return;
    };
    let gone = Disconnects::new();
    let server = match TcpServer::new(0, 10)
        .bind(IpAddr::V6(Ipv6Addr::UNSPECIFIED))
        .framing(Framing::lines())
        .on_disconnect(gone.recorder())
        .start()
    {
        Ok(s) => s,
        Err(e) => {
            eprintln!("skipped: no IPv6 listener: {e}");
            return;
        }
    };
    let dst = SocketAddrV6::new(ip, server.local_addr().port(), 0, index);
    let stream = match TcpStream::connect(dst) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("skipped: cannot reach {dst}: {e}");
            return;
        }
    };
    stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    let port = stream.local_addr().expect("addr").port();
    // Reported without its zone.
    let reported = SocketAddr::new(IpAddr::V6(ip), port);
    wait_until("the client listed", || {
        server.clients().iter().any(|c| c.addr == reported)
    });
    let id = server.clients()[0].id;
    server
        .send_to(IpAddr::V6(ip), port, b"plain")
        .expect("send_to the address");
    let zoned = tcphub::parse_ip(&format!("{ip}%{index}")).expect("parse");
    server
        .send_to(zoned, port, b"zoned")
        .expect("send_to the address with its zone");
    let mut peer = BufReader::new(stream);
    for want in ["plain\n", "zoned\n"] {
        let mut line = String::new();
        peer.read_line(&mut line).expect("read");
        assert_eq!(line, want);
    }
    drop(peer);
    gone.wait_for(id);
    assert!(matches!(
        server.send_to(IpAddr::V6(ip), port, b"x"),
        Err(Error::NoSuchClient(_))
    ));
    server.stop();
}
