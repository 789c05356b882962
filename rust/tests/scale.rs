//! Many clients at once: callback-mode echo and pull-mode event order.

mod support;

use std::collections::HashMap;
use std::time::Instant;

use support::{echo_server, localhost, next_event, Peer, TIMEOUT};
use tcphub::{ClientId, DisconnectReason, Event, Framing, TcpServer};

#[test]
fn five_hundred_clients_each_get_their_own_messages_back_in_order() {
    const CLIENTS: usize = 500;
    const MESSAGES: usize = 20;
    let server = echo_server(Framing::lines());
    let addr = server.local_addr();

    let mut peers: Vec<Peer> = (0..CLIENTS).map(|_| Peer::connect(addr)).collect();
    // Interleave: every client sends message j before anyone sends j + 1, so
    // all connections are busy at the same time. The echoes (~30 bytes each)
    // fit in the socket buffers, so nobody has to read yet.
    for j in 0..MESSAGES {
        for (i, p) in peers.iter_mut().enumerate() {
            p.send_line(&format!("client {i} message {j}"));
        }
    }
    for (i, p) in peers.iter_mut().enumerate() {
        for j in 0..MESSAGES {
            assert_eq!(p.read_line(), format!("client {i} message {j}"));
        }
    }
    // Exactly once: the next thing each client reads is its own end marker.
    for (i, p) in peers.iter_mut().enumerate() {
        p.send_line(&format!("end {i}"));
    }
    for (i, p) in peers.iter_mut().enumerate() {
        assert_eq!(p.read_line(), format!("end {i}"));
    }
    let stats = server.stats();
    assert_eq!(stats.accepted, CLIENTS as u64);
    assert_eq!(stats.clients, CLIENTS as u64);
    assert_eq!(stats.rejected, 0);
    assert_eq!(stats.msgs_in, (CLIENTS * (MESSAGES + 1)) as u64);
    assert_eq!(stats.msgs_out, (CLIENTS * (MESSAGES + 1)) as u64);
    server.stop();
}

#[test]
fn pull_mode_events_are_ordered_per_client() {
    const CLIENTS: usize = 40;
    const MESSAGES: usize = 50;
    let server = TcpServer::new(0, 100)
        .bind(localhost())
        .framing(Framing::length_prefixed())
        .event_capacity(64) // small: exercises the full-queue backpressure path
        .start()
        .unwrap();
    let events = server.events();
    let addr = server.local_addr();

    // Each client writes all its frames in one go and closes; the events are
    // consumed concurrently below.
    let writers: Vec<_> = (0..CLIENTS)
        .map(|i| {
            std::thread::spawn(move || {
                let mut p = Peer::connect(addr);
                let mut all = Vec::new();
                for j in 0..MESSAGES {
                    all.extend(support::lp_frame(format!("{i}:{j}").as_bytes()));
                }
                p.send(&all);
                let local = p.addr();
                drop(p);
                (i, local)
            })
        })
        .collect();

    #[derive(Default, Debug)]
    struct Seen {
        connected: usize,
        messages: Vec<Vec<u8>>,
        disconnected: Option<DisconnectReason>,
    }
    let mut seen: HashMap<ClientId, (tcphub::Client, Seen)> = HashMap::new();
    let mut done = 0;
    let deadline = Instant::now() + TIMEOUT * 3;
    while done < CLIENTS {
        assert!(
            Instant::now() < deadline,
            "{done} of {CLIENTS} clients finished"
        );
        let ev = next_event(&events);
        let c = *ev.client();
        let (_, s) = seen.entry(c.id).or_insert_with(|| (c, Seen::default()));
        match ev {
            Event::Connected(_) => {
                assert_eq!(s.connected, 0, "{c} connected twice");
                assert!(s.messages.is_empty() && s.disconnected.is_none());
                s.connected += 1;
            }
            Event::Message(_, m) => {
                assert_eq!(s.connected, 1, "{c}: message before Connected");
                assert!(s.disconnected.is_none(), "{c}: message after Disconnected");
                s.messages.push(m);
            }
            Event::Disconnected(_, why) => {
                assert_eq!(s.connected, 1, "{c}: Disconnected before Connected");
                assert!(s.disconnected.is_none(), "{c} disconnected twice");
                s.disconnected = Some(why);
                done += 1;
            }
        }
    }
    let by_addr: HashMap<_, _> = seen.values().map(|(c, s)| (c.addr, s)).collect();
    for w in writers {
        let (i, local) = w.join().expect("writer thread");
        let s = by_addr
            .get(&local)
            .unwrap_or_else(|| panic!("no events for client {i} ({local})"));
        let want: Vec<Vec<u8>> = (0..MESSAGES)
            .map(|j| format!("{i}:{j}").into_bytes())
            .collect();
        assert_eq!(s.messages, want, "client {i}");
        assert_eq!(s.disconnected, Some(DisconnectReason::ClosedByPeer));
    }
    assert_eq!(seen.len(), CLIENTS);
    assert!(events.try_recv().is_none(), "no stray events");
    server.stop();
    assert!(events.recv().is_none(), "events end after stop");
}
