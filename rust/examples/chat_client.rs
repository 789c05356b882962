//! A chat client for the hub (`tcphub serve`, or the `chat_server` example):
//! lines typed on stdin go to the hub, lines from the hub are printed. It
//! reconnects (with backoff) when the connection drops.
//!
//! ```text
//! cargo run --release --example chat_server -- 8001             # one terminal
//! cargo run --release --example chat_client -- 127.0.0.1:8001   # two or more others
//! ```
//!
//! End the input (Ctrl-D) to leave: the client half-closes, prints what the
//! hub still sends, and exits when the hub closes the connection.

use std::io::{BufRead, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tcphub::{ClientEvent, Framing, Reconnect, TcpClient};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("chat_client: {e}"); // e.g. "cannot connect to 127.0.0.1:8001: connection refused"
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    if std::env::args().len() > 2 {
        return Err("usage: chat_client [HOST:PORT]".into());
    }
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8001".to_string());
    let client = TcpClient::builder(addr.as_str())
        .framing(Framing::lines())
        .reconnect(Reconnect {
            max_attempts: Some(10),
            ..Reconnect::default()
        })
        .connect()?;
    eprintln!(
        "connected to {} from {}",
        client.peer_addr(),
        client.local_addr()
    );

    // Standard input on a thread of its own (a clone of the handle); the
    // main thread prints what arrives.
    let sender = client.clone();
    let input_done = Arc::new(AtomicBool::new(false));
    let done = Arc::clone(&input_done);
    std::thread::spawn(move || {
        // Lines as bytes: any encoding goes through as typed.
        for line in std::io::stdin().lock().split(b'\n') {
            let Ok(line) = line else { break };
            loop {
                match sender.send(&line) {
                    Ok(()) => break,
                    // send() never blocks: while the hub does not read, the
                    // bounded queue fills up; wait for room.
                    Err(tcphub::Error::QueueFull { .. }) => {
                        std::thread::sleep(Duration::from_millis(10))
                    }
                    // Over the line limit: skip it.
                    Err(e @ tcphub::Error::FrameTooLarge { .. }) => {
                        eprintln!("not sent: {e}");
                        break;
                    }
                    Err(e) => {
                        eprintln!("not sent: {e}");
                        return;
                    }
                }
            }
        }
        // Done typing: the hub answers our last lines, then closes.
        done.store(true, Ordering::Release);
        let _ = sender.shutdown_write();
    });

    let mut out = std::io::stdout().lock();
    loop {
        match client.next_event(Duration::from_secs(60)) {
            Ok(ClientEvent::Message(line)) => {
                let written = out
                    .write_all(&line)
                    .and_then(|()| out.write_all(b"\n"))
                    .and_then(|()| out.flush());
                match written {
                    // (`chat_client | head -1`: the reader has left.)
                    Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
                    r => r?,
                }
            }
            Ok(ClientEvent::Disconnected(why)) => eprintln!("disconnected: {why}"),
            Ok(ClientEvent::Reconnecting { attempt, delay }) => {
                eprintln!("reconnecting in {delay:.1?} (attempt {attempt})")
            }
            Ok(ClientEvent::Reconnected { local_addr, .. }) => {
                eprintln!("reconnected from {local_addr}")
            }
            Ok(ClientEvent::Closed) | Err(tcphub::Error::NotRunning) => {
                // The end we asked for, or reconnecting gave up.
                if input_done.load(Ordering::Acquire) {
                    return Ok(());
                }
                return Err("the connection to the hub is lost".into());
            }
            Ok(_) | Err(tcphub::Error::Timeout) => {}
            Err(e) => return Err(e.into()),
        }
    }
}
