//! Review of keepalive with `pause_client`: a paused client whose host
//! vanished while the server had output for it is dropped by the loops'
//! own watch (`vanish.rs`, keepalive's stand-in while output waits for an
//! acknowledgement). `pause_client` promises that such a client — "it
//! reset, keepalive found it gone, or a write to it failed" — is closed
//! "after what it sent before its end is read and handed out". Runs in
//! network namespaces (root); passes without, as the other netns tests.

#![cfg(target_os = "linux")]

mod support;

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::netns::{own_network, unread, Remote, NEAR};
use support::{wait_clients, wait_until, Disconnects};
use tcphub::{DisconnectReason, Framing, TcpServer};

#[test]
fn a_paused_client_dropped_by_the_vanish_watch_gets_its_last_lines_handed_out_first() {
    if !own_network() {
        return;
    }
    let remote = Remote::cable();
    let gone = Disconnects::new();
    let got: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
    let seen = got.clone();
    let server = TcpServer::new(0, 4)
        .bind(NEAR.parse().unwrap())
        .threads(1)
        .framing(Framing::lines())
        .keepalive(Duration::from_secs(1))
        .on_message(move |_, _, m| seen.lock().unwrap().push(m.to_vec()))
        .on_disconnect(gone.recorder())
        .start()
        .expect("start");
    let mut peer = remote.connect(server.local_addr());
    wait_clients(&server, 1);
    let id = server.clients()[0].id;
    server.pause_client(id).expect("pause");
    // One loop: the send is applied after the pause; its arrival says so.
    server.send(id, b"sync").expect("send");
    let mut sync = [0u8; 5];
    peer.read_exact(&mut sync).expect("read over the veth");
    assert_eq!(&sync, b"sync\n");
    // Its last words reach the server's socket while it is paused.
    peer.write_all(b"last words\n").expect("write");
    let (local, far) = (
        server.local_addr().port(),
        peer.local_addr().expect("addr").port(),
    );
    wait_until("the last words in the server's socket", || {
        unread(local, far) == Some(11)
    });
    // Its host vanishes while the server has output for it.
    remote.unplug();
    server.send(id, b"anyone there?").expect("send");
    let why = gone.wait_for(id);
    assert_eq!(why, DisconnectReason::Io(std::io::ErrorKind::TimedOut));
    assert_eq!(
        got.lock().unwrap().clone(),
        vec![b"last words".to_vec()],
        "what the paused client sent before it vanished was not handed out"
    );
    drop(peer);
    server.stop();
}
