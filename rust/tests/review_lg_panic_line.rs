//! Review lg: a callback that panics is logged at error (the server keeps
//! running). The line named only the callback ("the on_message callback
//! panicked"): with thousands of clients the operator could not tell whose
//! message or connection set it off. It names the client now, as every
//! other line about one client does ("#id ip:port").
//!
//! Own process: it installs its own logger.

mod support;

use std::sync::Mutex;

use support::*;
use tcphub::TcpServer;

static LINES: Mutex<Vec<(log::Level, String)>> = Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        let line = record.args().to_string();
        LINES
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((record.level(), line));
    }
    fn flush(&self) {}
}

static CAPTURE: Capture = Capture;

fn errors_with(needle: &str) -> Vec<String> {
    LINES
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .filter(|(l, line)| *l == log::Level::Error && line.contains(needle))
        .map(|(_, line)| line.clone())
        .collect()
}

#[test]
fn review_lg_a_panicking_callback_s_line_names_its_client() {
    if log::set_logger(&CAPTURE).is_ok() {
        log::set_max_level(log::LevelFilter::Debug);
    }
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
        !errors_with("the on_message").is_empty()
    });
    let line = errors_with("the on_message").remove(0);
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
    if log::set_logger(&CAPTURE).is_ok() {
        log::set_max_level(log::LevelFilter::Debug);
    }
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
        !errors_with("client on_message").is_empty()
    });
    let line = errors_with("client on_message").remove(0);
    assert!(
        line.contains(&server.local_addr().to_string()),
        "the server is not named: {line}"
    );
    client.close();
    server.stop();
}
