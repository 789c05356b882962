//! Handles used from callbacks and from many threads at once: what a
//! callback's panic may do to its thread, and which client `send_to`
//! reaches.

mod support;

use std::io::{BufRead, BufReader};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::mpsc;

use support::*;
use tcphub::{Framing, TcpClient, TcpServer};

/// A panic payload whose own drop panics too (`panic_any` takes any
/// value): catching the callback's panic must not let the second one
/// loose on the I/O thread.
struct PanicsOnDrop;

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        panic!("dropping the panic payload");
    }
}

#[test]
fn a_server_callback_whose_panic_payload_panics_on_drop_leaves_the_loop_running() {
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .threads(1)
        .framing(Framing::lines())
        .on_message(|srv, c, msg| {
            if msg == b"boom" {
                std::panic::panic_any(PanicsOnDrop);
            }
            srv.send(c.id, msg).expect("echo");
        })
        .start()
        .expect("start");
    let mut peer = Peer::connect(server.local_addr());
    peer.send_line("boom");
    peer.send_line("still here");
    assert_eq!(peer.read_line(), "still here", "the event loop died");
    let mut other = Peer::connect(server.local_addr());
    other.send_line("me too");
    assert_eq!(other.read_line(), "me too");
    assert_eq!(server.stats().callback_panics, 1);
    server.stop();
    assert_eq!(server.stats().disconnected, 2);
}

#[test]
fn a_client_callback_whose_panic_payload_panics_on_drop_leaves_the_client_running() {
    let listener = std::net::TcpListener::bind((localhost(), 0)).expect("bind");
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    let client = TcpClient::builder(listener.local_addr().expect("addr"))
        .framing(Framing::lines())
        .on_message(move |_, msg| {
            if msg == b"boom" {
                std::panic::panic_any(PanicsOnDrop);
            }
            let _ = tx.send(msg.to_vec());
        })
        .connect()
        .expect("connect");
    let (mut server_side, _) = listener.accept().expect("accept");
    std::io::Write::write_all(&mut server_side, b"boom\nstill here\n").expect("write");
    let got = rx
        .recv_timeout(TIMEOUT)
        .expect("the client's I/O thread died");
    assert_eq!(got, b"still here");
    client.send(b"and sending").expect("send");
    server_side
        .set_read_timeout(Some(TIMEOUT))
        .expect("timeout");
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(&server_side), &mut line)
        .expect("read");
    assert_eq!(line, "and sending\n");
    assert!(client.is_open());
    client.close();
}

#[test]
fn send_to_reaches_every_listed_client_when_two_share_an_address() {
    // One host, one port, two of the server's addresses: two live clients
    // with the same remote ip:port (both listed).
    let gone = Disconnects::new();
    let server = TcpServer::new(0, 10)
        .bind(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
        .framing(Framing::lines())
        .on_disconnect(gone.recorder())
        .start()
        .expect("start");
    let port = server.local_addr().port();
    let first = support::connect_from_port(0, SocketAddr::new(localhost(), port), false);
    let shared = first.local_addr().expect("addr");
    wait_clients(&server, 1);
    let second = support::connect_from_port(
        shared.port(),
        SocketAddr::from(([127, 0, 0, 2], port)),
        false,
    );
    wait_clients(&server, 2);
    let clients = server.clients();
    assert!(clients.iter().all(|c| c.addr == shared), "{clients:?}");
    let read_line = |s: &std::net::TcpStream| {
        s.set_read_timeout(Some(TIMEOUT)).expect("timeout");
        let mut line = String::new();
        BufReader::new(s).read_line(&mut line).expect("read");
        line
    };
    // Both there: the newest gets it.
    server
        .send_to(shared.ip(), shared.port(), b"for the newest")
        .expect("send_to");
    assert_eq!(read_line(&second), "for the newest\n");
    // The newest leaves: the other one, still listed, is still reachable.
    drop(second);
    gone.wait_for(clients[1].id);
    assert_eq!(server.clients(), vec![clients[0]]);
    server
        .send_to(shared.ip(), shared.port(), b"for the first")
        .expect("send_to a listed client");
    assert_eq!(read_line(&first), "for the first\n");
    // Once it leaves too, nobody is there.
    drop(first);
    gone.wait_for(clients[0].id);
    assert!(matches!(
        server.send_to(shared.ip(), shared.port(), b"x"),
        Err(tcphub::Error::NoSuchClient(_))
    ));
}
