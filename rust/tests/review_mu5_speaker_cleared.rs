//! Review mu5 (mutation testing of `event_loop/dispatch.rs`): the speaker
//! mark (`handle::Speaker`), the shortcut by which a reply from a client's
//! own `on_message` skips the registry, is cleared when that callback
//! returns — "only while its callback runs" (`speaker.rs`). With the
//! clearing removed every test still passed: the tests of the shortcut
//! after the callback use a cloned handle, which has no speaker. The
//! callbacks' own handle does, and is handed to the next callback on the
//! loop: a send to the last speaker after it left, from its
//! `on_disconnect`, then took the shortcut and answered `Ok` for a client
//! that is gone, where any other send says `NoSuchClient`.

mod support;

use std::sync::{Arc, Mutex};

use support::*;
use tcphub::{Error, Framing, TcpServer};

#[test]
fn review_mu5_a_send_to_the_last_speaker_after_it_left_is_no_such_client() {
    let said: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
    let replies: Arc<Mutex<Vec<Result<(), Error>>>> = Arc::default();
    let (said_in_cb, replies_in_cb) = (said.clone(), replies.clone());
    let s = TcpServer::new(0, 10)
        .bind(localhost())
        .threads(1)
        .framing(Framing::lines())
        .on_message(move |_srv, _c, msg| said_in_cb.lock().unwrap().push(msg.to_vec()))
        .on_disconnect(move |srv, c, _why| {
            replies_in_cb
                .lock()
                .unwrap()
                .push(srv.send(c.id, b"too late"));
        })
        .start()
        .expect("start");
    let mut peer = Peer::connect(s.local_addr());
    let _id = peer.id_on(&s);
    peer.send_line("hi");
    wait_until("the message handed out", || {
        !said.lock().unwrap().is_empty()
    });
    drop(peer);
    wait_until("the departure reported", || {
        !replies.lock().unwrap().is_empty()
    });
    let replies = replies.lock().unwrap();
    assert!(
        matches!(replies[0], Err(Error::NoSuchClient(_))),
        "a send to a client that left, from its on_disconnect: {:?}",
        *replies
    );
    drop(replies);
    s.stop();
}
