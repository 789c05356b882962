//! A reply from a client's own `on_message` finds its loop without the
//! registry (`handle::Speaker`): these pin down that the shortcut answers
//! only for that client of that server, and only while its callback runs.

mod support;

use std::sync::{Arc, Mutex};

use support::*;
use tcphub::{Error, Framing, TcpServer};

/// Two servers: a callback of server A (two loops, so one of its speakers
/// is on loop 1) sending with its speaker's id to server B (one loop)
/// reaches nobody — ids are unique in the process, so no client of B has
/// it — and not A's own speaker, nor a loop B does not have. (Before ids
/// were unique, both servers numbered from 1 and the send reached B's
/// client of the same number.)
#[test]
fn a_send_with_the_speakers_id_to_another_server_reaches_nobody_there() {
    let b = TcpServer::new(0, 10)
        .bind(localhost())
        .framing(Framing::lines())
        .threads(1)
        .start()
        .expect("start b");
    let b_handle = b.clone();
    let to_b = Arc::new(Mutex::new(Vec::new()));
    let to_b_in_cb = to_b.clone();
    let a = TcpServer::new(0, 10)
        .bind(localhost())
        .framing(Framing::lines())
        .threads(2)
        .on_message(move |srv, c, msg| {
            to_b_in_cb.lock().unwrap().push(b_handle.send(c.id, msg));
            srv.send(c.id, b"own").expect("to a's speaker");
        })
        .start()
        .expect("start a");
    let mut on_b: Vec<Peer> = (0..2).map(|_| Peer::connect(b.local_addr())).collect();
    let b_ids: Vec<u64> = on_b.iter().map(|p| p.id_on(&b)).collect();
    let mut on_a: Vec<Peer> = (0..2).map(|_| Peer::connect(a.local_addr())).collect();
    let a_ids: Vec<u64> = on_a.iter().map(|p| p.id_on(&a)).collect();
    assert!(
        a_ids.iter().all(|id| !b_ids.contains(id)),
        "{a_ids:?} {b_ids:?}"
    );
    for (i, peer) in on_a.iter_mut().enumerate() {
        peer.send_line(&format!("for b's {}", i + 1));
        assert_eq!(peer.read_line(), "own");
    }
    let sent = std::mem::take(&mut *to_b.lock().unwrap());
    assert_eq!(sent.len(), 2);
    for r in sent {
        assert!(matches!(r, Err(Error::NoSuchClient(_))), "{r:?}");
    }
    // B's clients got nothing before what B sends them now.
    for (peer, &id) in on_b.iter_mut().zip(&b_ids) {
        b.send(id, b"from b").expect("to b's client");
        assert_eq!(peer.read_line(), "from b");
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
