//! Review "er": every error's message names what is wrong. `NotRunning`
//! said only "not running" — the whole text a Rust caller printing the
//! error (`Error: not running`) got for a send to a stopped server, a
//! receive on a closed client or a pull from a stopped server's events,
//! with nothing on what was not running or why.

mod support;

use std::time::Duration;

use support::{localhost, TIMEOUT};
use tcphub::{Error, TcpClient, TcpServer};

/// The message of a `NotRunning`, checked to say why.
fn says_why(what: &str, err: Error) {
    assert!(matches!(err, Error::NotRunning), "{what}: {err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("never started") && msg.contains("stopped") && msg.contains("closed"),
        "{what}: {msg:?} does not say why"
    );
}

#[test]
fn review_er_not_running_says_why() {
    let server = TcpServer::new(0, 10).bind(localhost()).start().unwrap();
    let client = TcpClient::connect(server.local_addr()).unwrap();
    client.close();
    says_why("send after close", client.send(b"x").unwrap_err());
    says_why(
        "recv_timeout after close",
        client.recv_timeout(Duration::from_millis(1)).unwrap_err(),
    );
    let events = server.events();
    server.stop();
    says_why("send after stop", server.send(1, b"x").unwrap_err());
    // Every event left taken, then the receiver has nothing more.
    let err = loop {
        match events.recv_timeout(TIMEOUT) {
            Ok(_) => continue,
            Err(e) => break e,
        }
    };
    says_why("events after stop", err);
}
