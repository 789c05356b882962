//! A publish/subscribe hub on tcphub: clients subscribe to topics and
//! publish to them; a publication goes to the topic's subscribers only,
//! with one `send_many` (one buffer shared by all of them).
//!
//! ```text
//! cargo run --release --example pubsub_server -- 8002
//! ncat 127.0.0.1 8002      # in two or more other terminals, then type:
//! sub news                 # -> "subscribed to news"
//! pub news hello           # -> every subscriber of news: "news: hello";
//!                          #    the publisher: "sent to 2"
//! unsub news
//! ```
//!
//! A client that leaves is unsubscribed from everything. Ctrl-C (or
//! SIGTERM) stops it gracefully.

use std::collections::{BTreeSet, HashMap};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use tcphub::{ClientId, Framing, ServerHandle, TcpServer};

/// Topic name → its subscribers (sorted, so `send_many` need not sort them).
type Topics = Arc<Mutex<HashMap<Vec<u8>, BTreeSet<ClientId>>>>;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pubsub_server: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    if std::env::args().len() > 2 {
        return Err("usage: pubsub_server [PORT]".into());
    }
    let port: u16 = match std::env::args().nth(1) {
        Some(p) => p
            .parse()
            .map_err(|_| format!("{p:?} is not a port (0-65535)"))?,
        None => 8002,
    };
    let mut signals = Signals::new([SIGINT, SIGTERM])?;
    let topics = Topics::default();
    let leaving = topics.clone();
    let server = TcpServer::new(port, 1000)
        .framing(Framing::lines())
        .on_message(move |srv, c, line| handle(srv, &topics, c.id, line))
        .on_disconnect(move |_, c, _| {
            let mut topics = leaving.lock().unwrap();
            topics.retain(|_, subs| {
                subs.remove(&c.id);
                !subs.is_empty()
            });
        })
        .start()?;
    eprintln!("pubsub server listening on {}", server.local_addr());
    if let Some(sig) = signals.forever().next() {
        eprintln!("signal {sig}: stopping");
    }
    server.stop();
    Ok(())
}

/// One command line from client `from`.
fn handle(srv: &ServerHandle, topics: &Topics, from: ClientId, line: &[u8]) {
    let mut words = line.splitn(3, |&b| b == b' ');
    let (verb, topic, text) = (words.next(), words.next(), words.next());
    let reply: Vec<u8> = match (verb, topic, text) {
        (Some(b"sub"), Some(t), None) if !t.is_empty() => {
            topics
                .lock()
                .unwrap()
                .entry(t.to_vec())
                .or_default()
                .insert(from);
            [b"subscribed to ", t].concat()
        }
        (Some(b"unsub"), Some(t), None) => {
            let mut topics = topics.lock().unwrap();
            if let Some(subs) = topics.get_mut(t) {
                subs.remove(&from);
                if subs.is_empty() {
                    topics.remove(t);
                }
            }
            [b"unsubscribed from ", t].concat()
        }
        (Some(b"pub"), Some(t), Some(text)) => {
            // The ids copied out, the lock not held while sending.
            let subs: Vec<ClientId> = match topics.lock().unwrap().get(t) {
                Some(subs) => subs.iter().copied().collect(),
                None => Vec::new(),
            };
            match srv.try_send_many(&subs, &[t, b": ", text].concat()) {
                Ok(n) => format!("sent to {n}").into_bytes(),
                Err(e) => format!("error: {e}").into_bytes(), // e.g. too long
            }
        }
        _ => b"error: say sub TOPIC, unsub TOPIC or pub TOPIC TEXT".to_vec(),
    };
    // A line too long to quote back: the framing refuses it, nothing to do.
    let _ = srv.send(from, &reply);
}
