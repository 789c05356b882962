//! Review of the timeouts across pauses: a frame begun before a pause
//! (`pause_input`, or `pause_client` from another thread or from a
//! callback with the frame's start held in hand) is not cut for the time
//! the server did not read, and is finished without a cut after the
//! resume; a frame left unfinished after the resume is still cut.

mod support;

use std::time::Duration;

use support::{localhost, wait_until, Disconnects, Peer};
use tcphub::{ClientId, DisconnectReason, Framing, ServerHandle, TcpServer};

const FRAME: Duration = Duration::from_secs(1);

fn server(gone: &Disconnects, pause_on: Option<&'static [u8]>) -> ServerHandle {
    TcpServer::new(0, 10)
        .bind(localhost())
        .threads(2)
        .framing(Framing::lines())
        .frame_timeout(FRAME)
        .on_message(move |srv, c, m| {
            if Some(m) == pause_on {
                srv.pause_client(c.id).unwrap();
            }
            let _ = srv.send(c.id, m);
        })
        .on_disconnect(gone.recorder())
        .start()
        .unwrap()
}

#[test]
fn a_frame_begun_before_pause_input_is_finished_after_the_resume() {
    let gone = Disconnects::new();
    let server = server(&gone, None);
    let mut peers: Vec<Peer> = (0..4).map(|_| Peer::connect(server.local_addr())).collect();
    let ids: Vec<_> = peers.iter().map(|p| p.id_on(&server)).collect();
    for p in &mut peers {
        p.send(b"begun");
    }
    wait_until("the starts read", || server.stats().bytes_in == 4 * 5);
    server.pause_input();
    std::thread::sleep(FRAME * 4);
    for p in &mut peers {
        p.send(b" and finished\n");
    }
    server.resume_input();
    for p in &mut peers {
        assert_eq!(p.read_line(), "begun and finished");
    }
    for id in &ids {
        assert_eq!(gone.reason_of(*id), None, "cut across a pause");
    }
    // Unfinished after the resume: cut.
    peers[0].send(b"never finished");
    assert_eq!(gone.wait_for(ids[0]), DisconnectReason::FrameTimeout);
    assert_eq!(server.stats().frame_timeouts, 1);
}

#[test]
fn a_frame_begun_before_pause_client_is_finished_after_the_resume() {
    let gone = Disconnects::new();
    let server = server(&gone, None);
    let mut p = Peer::connect(server.local_addr());
    let id = p.id_on(&server);
    p.send(b"begun");
    wait_until("the start read", || server.stats().bytes_in == 5);
    server.pause_client(id).unwrap();
    finished_after_the_resume(&server, &gone, &mut p, id);
}

#[test]
fn a_frame_begun_in_a_read_a_callback_paused_is_finished_after_the_resume() {
    let gone = Disconnects::new();
    let server = server(&gone, Some(b"pause"));
    let mut p = Peer::connect(server.local_addr());
    let id = p.id_on(&server);
    // The pause comes with the frame's start in the same read.
    p.send(b"pause\nbegun");
    assert_eq!(p.read_line(), "pause");
    finished_after_the_resume(&server, &gone, &mut p, id);
}

/// For a client paused with "begun" read: the frame's end comes while it
/// is paused, past the frame timeout, and no cut; it is delivered after
/// `resume_client`, and a frame left unfinished then is still cut.
fn finished_after_the_resume(
    server: &ServerHandle,
    gone: &Disconnects,
    p: &mut Peer,
    id: ClientId,
) {
    std::thread::sleep(FRAME * 3);
    p.send(b" and finished\n");
    std::thread::sleep(FRAME * 2);
    assert_eq!(gone.reason_of(id), None, "cut while paused");
    server.resume_client(id).unwrap();
    assert_eq!(p.read_line(), "begun and finished");
    assert_eq!(gone.reason_of(id), None, "cut at the resume");
    p.send(b"never finished");
    assert_eq!(gone.wait_for(id), DisconnectReason::FrameTimeout);
}
