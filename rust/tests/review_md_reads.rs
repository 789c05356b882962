//! Review md (mutation testing, sixth round: `event_loop/input.rs`): the
//! reads put off while input was paused, done at `resume_input()` one
//! after the other (`read_again`). A callback of the first client read
//! pauses another client of the same loop: that pause is applied before
//! the other's read, so nothing it sent is handed out before its resume.

mod support;

use support::{localhost, socket_queues, wait_until, CallbackLog, Peer};
use tcphub::{Framing, TcpServer};

/// Waits until `peer`'s bytes wait in the server's socket, then for two
/// turns of the loop after that (a message to it and back).
fn waiting_in_the_kernel(server: &tcphub::ServerHandle, peer: &mut Peer) {
    let (local, addr) = (server.local_addr(), peer.addr());
    wait_until(
        "the line waiting in the kernel",
        || matches!(socket_queues(local, addr), Some((_, rx)) if rx > 0),
    );
    let id = peer.id_on(server);
    for _ in 0..2 {
        server.send(id, b"ping").unwrap();
        assert_eq!(peer.read_line(), "ping");
    }
}

#[test]
fn review_md_a_pause_from_a_callback_during_the_resumes_reads_holds_the_next_read() {
    let log = CallbackLog::default();
    let paused = std::sync::Arc::new(std::sync::Mutex::new(None));
    let target = paused.clone();
    let server = log
        .attach(
            TcpServer::new(0, 4)
                .bind(localhost())
                .threads(1)
                .framing(Framing::lines()),
            move |srv, _, msg| {
                if msg == b"pause the other" {
                    let id = target.lock().unwrap().expect("the other's id");
                    srv.pause_client(id).unwrap();
                }
            },
        )
        .start()
        .unwrap();
    let mut first = Peer::connect(server.local_addr());
    let mut other = Peer::connect(server.local_addr());
    let (first_id, other_id) = (first.id_on(&server), other.id_on(&server));
    *paused.lock().unwrap() = Some(other_id);
    server.pause_input();
    // Both reads put off, the first client's ahead of the other's.
    first.send_line("pause the other");
    waiting_in_the_kernel(&server, &mut first);
    other.send_line("sent before the pause");
    waiting_in_the_kernel(&server, &mut other);
    server.resume_input();
    wait_until("the first client's line handed out", || {
        log.has(&format!("msg {first_id} pause the other"))
    });
    // A turn after the resume's reads.
    server.send(first_id, b"ping").unwrap();
    assert_eq!(first.read_line(), "ping");
    assert!(
        !log.any(|l| l.starts_with(&format!("msg {other_id} "))),
        "a client paused by a callback was read on: {:?}",
        log.lines()
    );
    server.resume_client(other_id).unwrap();
    wait_until("the other's line after its resume", || {
        log.has(&format!("msg {other_id} sent before the pause"))
    });
}
