//! Review ho: a consumer that keeps a staged batch
//! (`Events::recv_batch_staged`) and calls for events before it passes the
//! rest on (as Python's `events()` iterator does, to release the clients
//! held for replies) holds the event it passes on with `hand_out` as
//! surely as one it takes: the idle clock slows down while it works on it.

mod support;

use std::time::Duration;

use support::*;
use tcphub::Event;

#[test]
fn a_request_passed_on_from_a_kept_batch_and_handled_long_is_answered() {
    let server = lines_server(4)
        .threads(1)
        .idle_timeout(Duration::from_secs(2))
        .start()
        .expect("start");
    let events = server.events();
    let mut peer = Peer::connect(server.local_addr());
    peer.send_line("job");
    wait_until("the connect and the request queued", || events.len() >= 2);
    let mut kept = Vec::new();
    events
        .recv_batch_staged(&mut kept, 64, TIMEOUT)
        .expect("a batch");
    assert_eq!(kept.len(), 2, "{kept:?}");
    let mut kept = kept.into_iter();
    let connected = kept.next().expect("the connect");
    events.hand_out(&connected);
    assert!(matches!(connected, Event::Connected(_)), "{connected:?}");
    // The next step of the iteration: a call for events (nothing new
    // comes), then the kept request goes out.
    assert!(!events.wait_ready(Duration::ZERO));
    let request = kept.next().expect("the request");
    events.hand_out(&request);
    let Event::Message(c, job) = request else {
        panic!("{request:?} instead of the request");
    };
    assert_eq!(job, b"job");
    // Working on it for well over the idle timeout, no call for events.
    std::thread::sleep(Duration::from_secs(5));
    server
        .send(c.id, b"done")
        .expect("the client is still there");
    assert_eq!(peer.read_line(), "done");
}
