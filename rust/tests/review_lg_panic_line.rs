//! Review lg: a callback that panics is logged at error (the server keeps
//! running). The line named only the callback ("the on_message callback
//! panicked"): with thousands of clients the operator could not tell whose
//! message or connection set it off. It names the client now, as every
//! other line about one client does ("#id ip:port").
//!
//! Own process: it installs its own logger.

mod support;

use support::*;
use tcphub::TcpServer;

#[test]
fn review_lg_a_panicking_callback_s_line_names_its_client() {
    capture_log(log::LevelFilter::Debug);
    // (The panic hook's own report goes to stderr too: expected here.)
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .threads(1)
        .framing(tcphub::Framing::lines())
        .on_connect(|_, _| {})
        .on_message(|_, _, msg| {
            if msg == b"boom" {
                panic!("review lg: a callback's own panic");
            }
        })
        .start()
        .unwrap();
    let mut peer = Peer::connect(server.local_addr());
    wait_clients(&server, 1);
    let id = peer.id_on(&server);
    peer.send_line("boom");
    wait_until("the panic logged", || {
        !logged(log::Level::Error, "the on_message").is_empty()
    });
    let line = logged(log::Level::Error, "the on_message").remove(0);
    assert!(
        line.contains(&format!("#{id} {}", peer.addr())),
        "the client is not named: {line}"
    );
    server.stop();
}

/// A `TcpClient`'s callback that panics: the line names the server it is
/// connected to (a program with many clients could not tell which).
#[test]
fn review_lg_a_client_s_panicking_callback_s_line_names_its_server() {
    capture_log(log::LevelFilter::Debug);
    let server = echo_server(tcphub::Framing::lines());
    let client = tcphub::TcpClient::builder(server.local_addr())
        .framing(tcphub::Framing::lines())
        .on_message(|_, msg| {
            if msg == b"bang" {
                panic!("review lg: a client callback's own panic");
            }
        })
        .connect()
        .unwrap();
    client.send(b"bang").unwrap();
    wait_until("the client's panic logged", || {
        !logged(log::Level::Error, "client on_message").is_empty()
    });
    let line = logged(log::Level::Error, "client on_message").remove(0);
    assert!(
        line.contains(&server.local_addr().to_string()),
        "the server is not named: {line}"
    );
    client.close();
    server.stop();
}
