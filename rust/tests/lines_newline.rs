//! `Framing::Lines` refuses a message holding `\n` at every send, with
//! `Error::InvalidMessage`, before anything is queued: it used to be sent
//! as it was and arrived as several lines (`send_all(b"a\nb")` gave every
//! client "a" and "b", `send(id, b"hi\n")` "hi" and an empty line).

mod support;

use std::sync::mpsc;
use std::time::Duration;

use support::{connect_peers, localhost, Peer, TIMEOUT};
use tcphub::{Error, Framing, TcpClient, TcpServer};

fn invalid<T: std::fmt::Debug>(r: tcphub::Result<T>) -> bool {
    matches!(r, Err(Error::InvalidMessage { .. }))
}

#[test]
fn server_sends_refuse_a_newline_and_queue_nothing() {
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .framing(Framing::lines())
        .start()
        .expect("start");
    let mut peers = connect_peers(&server, 3);
    let ids: Vec<_> = peers.iter().map(|p| p.id_on(&server)).collect();
    let addr = peers[2].addr();

    let err = server.try_send_all(b"a\nb").unwrap_err();
    assert!(matches!(err, Error::InvalidMessage { .. }), "{err:?}");
    assert_eq!(err.code(), 11);
    assert!(err.to_string().contains("newline"), "{err}");
    assert_eq!(server.send_all(b"a\nb"), 0);
    assert!(invalid(server.try_send_all_except(ids[0], b"x\n")));
    assert_eq!(server.send_all_except(ids[0], b"x\n"), 0);
    assert!(invalid(server.send(ids[1], b"hi\n")));
    assert!(invalid(server.send(ids[1], b"\n")));
    assert!(invalid(server.send_to(
        addr.ip(),
        addr.port(),
        b"one\r\ntwo"
    )));
    assert_eq!(server.stats().msgs_out, 0, "nothing was queued");

    // A `\r` is sent as it is (a relay must be able to forward every line
    // it received, "abc\r" from "abc\r\r\n" too).
    assert_eq!(server.send_all(b"cr\r"), 3);
    assert_eq!(server.try_send_all(b"after").unwrap(), 3);
    server.send(ids[1], b"to 1").unwrap();
    for (i, p) in peers.iter_mut().enumerate() {
        // The first bytes each client gets are the valid messages: nothing
        // of the refused ones reached it (they would have come first).
        assert_eq!(p.read_line(), "cr\r", "client {i}");
        assert_eq!(p.read_line(), "after", "client {i}");
    }
    assert_eq!(peers[1].read_line(), "to 1");
    assert_eq!(server.stats().msgs_out, 7);
    server.stop();
}

/// From a server callback the sends are gathered (`gather.rs`), not posted:
/// the same check, the same error, nothing queued.
#[test]
fn callback_sends_refuse_a_newline_and_queue_nothing() {
    let (tx, rx) = mpsc::channel::<Vec<bool>>();
    let tx = std::sync::Mutex::new(tx);
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .framing(Framing::lines())
        .on_message(move |srv, c, msg| {
            if msg != b"probe" {
                return;
            }
            let refused = vec![
                invalid(srv.try_send_all(b"a\nb")),
                srv.send_all(b"a\nb") == 0,
                invalid(srv.try_send_all_except(c.id, b"x\n")),
                invalid(srv.send(c.id, b"hi\n")),
                invalid(srv.send_to(c.addr.ip(), c.addr.port(), b"\n")),
            ];
            srv.send(c.id, b"reply").expect("reply");
            tx.lock().unwrap().send(refused).unwrap();
        })
        .start()
        .expect("start");
    let mut peer = Peer::connect(server.local_addr());
    peer.send_line("probe");
    let refused = rx.recv_timeout(TIMEOUT).expect("callback ran");
    assert_eq!(refused, vec![true; 5]);
    assert_eq!(peer.read_line(), "reply");
    assert_eq!(server.stats().msgs_out, 1);
    server.stop();
}

#[test]
fn client_sends_refuse_a_newline_and_queue_nothing() {
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    let tx = std::sync::Mutex::new(tx);
    let framing = Framing::Lines { max_len: 1 << 20 };
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .framing(framing)
        .on_message(move |_srv, _c, msg| {
            tx.lock().unwrap().send(msg.to_vec()).unwrap();
        })
        .start()
        .expect("start");
    let client = TcpClient::builder(server.local_addr())
        .framing(framing)
        .connect()
        .expect("connect");

    assert!(invalid(client.send(b"x\ny")));
    assert!(invalid(client.send(b"hi\n")));
    assert!(invalid(client.send_timeout(b"\n", Duration::from_secs(1))));
    // A large message takes another path (a buffer of its own).
    let mut large = vec![b'y'; 100_000];
    large[50_000] = b'\n';
    assert!(invalid(client.send(&large)));
    assert_eq!(client.queued_bytes(), 0, "nothing was queued");

    client.send(b"fine").unwrap();
    client.send(b"abc\r").unwrap(); // not refused; the receiver strips the `\r`
    client.flush(TIMEOUT).unwrap();
    assert_eq!(rx.recv_timeout(TIMEOUT).expect("a message"), b"fine");
    assert_eq!(rx.recv_timeout(TIMEOUT).expect("a message"), b"abc");
    client.close();
    server.stop();
}
