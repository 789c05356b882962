//! The socket tutorial's multi-client chat server, on tcphub.
//!
//! ```text
//! cargo run --release --example chat_server -- 8001
//! ncat 127.0.0.1 8001      # in two or more other terminals
//! ```
//!
//! Every client is told when someone joins or leaves; every line a client
//! sends goes to everyone, prefixed with the sender's address (the sender
//! is told when that makes it too long to relay). Ctrl-C (or
//! SIGTERM) stops it gracefully: what is queued is flushed and every client
//! sees its connection closed.

use std::process::ExitCode;

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use tcphub::{Framing, TcpServer};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("chat_server: {e}"); // e.g. "cannot listen on 0.0.0.0:8001: address in use"
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    if std::env::args().len() > 2 {
        return Err("usage: chat_server [PORT]".into());
    }
    let port: u16 = match std::env::args().nth(1) {
        Some(p) => p
            .parse()
            .map_err(|_| format!("{p:?} is not a port (0-65535)"))?,
        None => 8001,
    };
    // Before starting, so that a signal right after the listening line is
    // never missed.
    let mut signals = Signals::new([SIGINT, SIGTERM])?;
    let server = TcpServer::new(port, 100)
        .framing(Framing::lines())
        .on_connect(|srv, c| {
            srv.send_all(format!("client {} connected", c.addr).as_bytes());
        })
        .on_message(|srv, c, msg| {
            let mut line = format!("{}: ", c.addr).into_bytes();
            line.extend_from_slice(msg);
            // The line fits the limit, with the prefix it may not: say so.
            if let Err(e) = srv.try_send_all(&line) {
                let _ = srv.send(c.id, format!("message not relayed: {e}").as_bytes());
            }
        })
        .on_disconnect(|srv, c, why| {
            srv.send_all(format!("client {} disconnected ({why})", c.addr).as_bytes());
        })
        .start()?;
    eprintln!("chat server listening on {}", server.local_addr());
    if let Some(sig) = signals.forever().next() {
        eprintln!("signal {sig}: stopping");
    }
    server.stop();
    Ok(())
}
