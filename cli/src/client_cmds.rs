//! `tcphub connect` and `tcphub send`: the tutorial's client side.

use std::io::{BufRead, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use clap::Args;
use tcphub::{ClientEvent, DisconnectReason, Framing, TcpClient};

use crate::FramingArg;

#[derive(Debug, Args)]
pub(crate) struct ConnectArgs {
    /// Server address, e.g. 127.0.0.1:8001.
    addr: String,
    /// Message framing (must match the server's).
    #[arg(long, value_enum, default_value_t = FramingArg::Lines)]
    framing: FramingArg,
}

#[derive(Debug, Args)]
pub(crate) struct SendArgs {
    /// Server address, e.g. 127.0.0.1:8001.
    addr: String,
    /// The message to send.
    message: String,
    /// Wait up to SECS seconds for a reply and print it.
    #[arg(long, value_name = "SECS")]
    wait_reply: Option<f64>,
    /// Message framing (must match the server's).
    #[arg(long, value_enum, default_value_t = FramingArg::Lines)]
    framing: FramingArg,
}

/// Resolves `addr` here (so a failure names what was typed) and connects.
fn open(addr: &str, framing: Framing) -> Result<TcpClient, Box<dyn std::error::Error>> {
    let addrs: Vec<SocketAddr> = addr
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {addr}: {e}"))?
        .collect();
    Ok(TcpClient::builder(&addrs[..])
        .framing(framing)
        .connect_timeout(Duration::from_secs(10))
        .connect()?)
}

fn print_message(out: &mut impl Write, msg: &[u8], framing: Framing) -> std::io::Result<()> {
    out.write_all(msg)?;
    if framing != Framing::Raw {
        out.write_all(b"\n")?;
    }
    out.flush()
}

pub(crate) fn connect(args: ConnectArgs) -> Result<(), Box<dyn std::error::Error>> {
    let framing = args.framing.framing();
    let client = open(&args.addr, framing)?;
    log::info!(
        "connected to {} from {}",
        client.peer_addr(),
        client.local_addr()
    );
    let sender = client.clone();
    // stdin is read on its own thread; the main thread prints what arrives.
    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        for line in stdin.lock().split(b'\n') {
            let Ok(mut line) = line else { break };
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            if framing == Framing::Raw {
                line.push(b'\n');
            }
            if let Err(e) = sender.send(&line) {
                eprintln!("tcphub: send failed: {e}");
                break;
            }
        }
        sender.close();
    });
    let mut out = std::io::stdout().lock();
    loop {
        match client.next_event(Duration::from_secs(3600)) {
            Ok(ClientEvent::Message(m)) => print_message(&mut out, &m, framing)?,
            Ok(ClientEvent::Disconnected(why)) => {
                if why != DisconnectReason::ClosedLocally {
                    log::info!("disconnected: {why}");
                }
            }
            Ok(ClientEvent::Closed) | Err(tcphub::Error::NotRunning) => return Ok(()),
            Ok(_) | Err(tcphub::Error::Timeout) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

pub(crate) fn send(args: SendArgs) -> Result<(), Box<dyn std::error::Error>> {
    let framing = args.framing.framing();
    let client = open(&args.addr, framing)?;
    client.send(args.message.as_bytes())?;
    if let Some(secs) = args.wait_reply {
        let wait = Duration::try_from_secs_f64(secs)
            .map_err(|_| format!("--wait-reply must be a number of seconds, got {secs}"))?;
        match client.recv_timeout(wait) {
            Ok(reply) => print_message(&mut std::io::stdout().lock(), &reply, framing)?,
            Err(tcphub::Error::Timeout) => log::info!("no reply within {secs} s"),
            Err(tcphub::Error::NotRunning) => log::info!("the server closed the connection"),
            Err(e) => return Err(e.into()),
        }
    }
    client.close();
    Ok(())
}
