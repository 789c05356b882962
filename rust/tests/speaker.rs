//! A reply from a client's own `on_message` finds its loop without the
//! registry (`handle::Speaker`): these pin down that the shortcut answers
//! only for that client of that server, and only while its callback runs.

mod support;

use std::sync::{Arc, Mutex};

use support::*;
use tcphub::{Error, Framing, TcpServer};

/// Two servers whose clients have the same ids (1 and 2): a callback of
/// server A (two loops, so one of its speakers is on loop 1) forwarding to
/// "the same id" on server B (one loop) reaches B's client, not its own
/// speaker or a loop B does not have.
#[test]
fn a_send_to_another_servers_client_with_the_speakers_id_goes_to_that_server() {
    let b = TcpServer::new(0, 10)
        .bind(localhost())
        .framing(Framing::lines())
        .threads(1)
        .start()
        .expect("start b");
    let b_handle = b.clone();
    let a = TcpServer::new(0, 10)
        .bind(localhost())
        .framing(Framing::lines())
        .threads(2)
        .on_message(move |srv, c, msg| {
            b_handle.send(c.id, msg).expect("to b's client of that id");
            srv.send(c.id, b"own").expect("to a's speaker");
        })
        .start()
        .expect("start a");
    let mut on_b: Vec<Peer> = (1..=2)
        .map(|id| {
            let p = Peer::connect(b.local_addr());
            assert_eq!(p.id_on(&b), id);
            p
        })
        .collect();
    let mut on_a: Vec<Peer> = (1..=2)
        .map(|id| {
            let p = Peer::connect(a.local_addr());
            assert_eq!(p.id_on(&a), id);
            p
        })
        .collect();
    for (i, peer) in on_a.iter_mut().enumerate() {
        peer.send_line(&format!("for b's {}", i + 1));
        assert_eq!(peer.read_line(), "own");
    }
    for (i, peer) in on_b.iter_mut().enumerate() {
        assert_eq!(peer.read_line(), format!("for b's {}", i + 1));
    }
    a.stop();
    b.stop();
}

/// Replies to the speaker and sends to another client of another loop
/// from the same callback, then a send to the speaker from outside any
/// callback: each reaches whom it names.
#[test]
fn sends_from_a_callback_reach_the_speaker_and_the_others_by_id() {
    let other = Arc::new(Mutex::new(0));
    let other_in_cb = other.clone();
    let s = TcpServer::new(0, 10)
        .bind(localhost())
        .framing(Framing::lines())
        .threads(2)
        .on_message(move |srv, c, msg| {
            let to = *other_in_cb.lock().unwrap();
            if to != 0 && to != c.id {
                srv.send(to, msg).expect("to the other client");
            }
            srv.send(c.id, b"ack").expect("to the speaker");
        })
        .start()
        .expect("start");
    // Two clients: the spread deals them to different loops.
    let mut first = Peer::connect(s.local_addr());
    let first_id = first.id_on(&s);
    let mut second = Peer::connect(s.local_addr());
    let second_id = second.id_on(&s);
    *other.lock().unwrap() = second_id;
    first.send_line("hello second");
    assert_eq!(first.read_line(), "ack");
    assert_eq!(second.read_line(), "hello second");
    second.send_line("hi");
    assert_eq!(second.read_line(), "ack");
    // From the application thread (no callback running): through the registry.
    s.send(first_id, b"from outside").expect("outside send");
    assert_eq!(first.read_line(), "from outside");
    s.stop();
}

/// A reply to the speaker from a callback after the server has stopped is
/// refused as any send then is, and one to a client that has left is
/// `NoSuchClient` outside the callback, as before.
#[test]
fn a_reply_after_stop_is_not_running_and_a_gone_client_is_no_such_client() {
    let replies: Arc<Mutex<Vec<Result<(), Error>>>> = Arc::default();
    let replies_in_cb = replies.clone();
    let s = TcpServer::new(0, 10)
        .bind(localhost())
        .framing(Framing::lines())
        .linger(std::time::Duration::from_secs(5))
        .on_message(move |srv, c, msg| {
            if msg == b"stop" {
                srv.begin_stop();
                replies_in_cb.lock().unwrap().push(srv.send(c.id, b"late"));
            }
        })
        .start()
        .expect("start");
    let mut peer = Peer::connect(s.local_addr());
    let id = peer.id_on(&s);
    peer.send_line("stop");
    wait_until("the callback replied", || {
        !replies.lock().unwrap().is_empty()
    });
    assert!(
        matches!(replies.lock().unwrap()[0], Err(Error::NotRunning)),
        "{:?}",
        replies.lock().unwrap()
    );
    s.wait();
    assert!(matches!(s.send(id, b"x"), Err(Error::NotRunning)));
    drop(peer);

    let s = echo_server(Framing::lines());
    let peer = Peer::connect(s.local_addr());
    let id = peer.id_on(&s);
    drop(peer);
    wait_clients(&s, 0);
    assert!(matches!(s.send(id, b"x"), Err(Error::NoSuchClient(_))));
    s.stop();
}

/// A handle cloned in a client's callback and used after the client left
/// answers as any other: `NoSuchClient` (the shortcut is the callback's
/// own handle only, and only while the callback runs).
#[test]
fn a_handle_kept_from_a_callback_finds_a_gone_speaker_gone() {
    let kept: Arc<Mutex<Option<tcphub::ServerHandle>>> = Arc::default();
    let kept_in_cb = kept.clone();
    let s = TcpServer::new(0, 10)
        .bind(localhost())
        .framing(Framing::lines())
        .on_message(move |srv, c, msg| {
            srv.send(c.id, msg).expect("echo");
            *kept_in_cb.lock().unwrap() = Some(srv.clone());
        })
        .start()
        .expect("start");
    let mut peer = Peer::connect(s.local_addr());
    let id = peer.id_on(&s);
    peer.send_line("hi");
    assert_eq!(peer.read_line(), "hi");
    drop(peer);
    wait_clients(&s, 0);
    let handle = kept.lock().unwrap().take().expect("kept");
    assert!(matches!(handle.send(id, b"x"), Err(Error::NoSuchClient(_))));
    drop(handle);
    s.stop();
}
