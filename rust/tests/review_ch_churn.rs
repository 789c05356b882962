//! The client directory and the accept path under churn: `send_to` by a
//! reused source address, the counts against `max_clients` and per loop
//! after many connects and disconnects, the listings against the events,
//! and a stop in the middle of a connect storm.

mod support;

use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, BufReader};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use socket2::SockRef;

use support::*;
use tcphub::{Client, ClientId, Error, Framing, TcpServer};

/// A connection from 127.0.0.1:`src_port` (0: any; `SO_REUSEADDR`),
/// closed with a reset when dropped (`SO_LINGER` 0), so its source port is
/// free again at once and the server's side is gone without a TIME_WAIT.
struct Conn(BufReader<std::net::TcpStream>);

impl Conn {
    fn connect_from(src_port: u16, dst: SocketAddr) -> Conn {
        let s = support::connect_from_port(src_port, dst, true);
        s.set_read_timeout(Some(TIMEOUT)).expect("timeout");
        Conn(BufReader::new(s))
    }

    fn addr(&self) -> SocketAddr {
        self.0.get_ref().local_addr().expect("addr")
    }

    fn read_line(&mut self) -> String {
        let mut line = String::new();
        self.0.read_line(&mut line).expect("read");
        assert!(line.ends_with('\n'), "cut short: {line:?}");
        line.pop();
        line
    }
}

/// The `on_connect`s, in order, as a channel.
fn connects() -> (
    mpsc::Receiver<Client>,
    impl Fn(&tcphub::ServerHandle, &Client) + Send + Sync + 'static,
) {
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    (rx, move |_: &tcphub::ServerHandle, c: &Client| {
        let _ = tx.lock().unwrap().send(*c);
    })
}

/// Waits for the `on_connect` of the client from `addr`.
fn connected_from(rx: &mpsc::Receiver<Client>, addr: SocketAddr) -> ClientId {
    loop {
        let c = rx
            .recv_timeout(TIMEOUT)
            .unwrap_or_else(|e| panic!("no on_connect from {addr}: {e}"));
        if c.addr == addr {
            return c.id;
        }
    }
}

/// Hundreds of connections in turn from one source port, each reset by the
/// peer and the next one made at once (on a server of two loops: the next
/// one may be registered before the last one's end is): `send_to` that
/// address, once the new one's `on_connect` was seen, always succeeds and
/// reaches the new one.
#[test]
fn send_to_a_reused_source_port_reaches_the_current_client_every_round() {
    const ROUNDS: usize = 300;
    let (rx, on_connect) = connects();
    let gone = Disconnects::new();
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .threads(2)
        .framing(Framing::lines())
        .on_connect(on_connect)
        .on_disconnect(gone.recorder())
        .start()
        .expect("start");
    let dst = server.local_addr();
    let mut peer = Conn::connect_from(0, dst);
    let from = peer.addr();
    let mut last = 0;
    for round in 0..ROUNDS {
        let id = connected_from(&rx, from);
        assert!(id > last, "ids grow: {id} after {last}");
        last = id;
        let line = format!("round {round}");
        server
            .send_to(from.ip(), from.port(), line.as_bytes())
            .unwrap_or_else(|e| panic!("send_to in round {round}: {e}"));
        assert_eq!(peer.read_line(), line);
        drop(peer); // a reset
        peer = Conn::connect_from(from.port(), dst);
    }
    connected_from(&rx, from);
    drop(peer);
    gone.wait_count(ROUNDS + 1);
    wait_clients(&server, 0);
    assert!(matches!(
        server.send_to(from.ip(), from.port(), b"x"),
        Err(Error::NoSuchClient(_))
    ));
    server.stop();
    assert_eq!(server.stats().accepted, ROUNDS as u64 + 1);
}

/// Two live clients from one source address (a server on `0.0.0.0`
/// reached at 127.0.0.1 and 127.0.0.2 from the same port), over and over:
/// one of them leaves (the older or the newer, at random) and a new one
/// takes the free destination. `send_to` the address always reaches the
/// newest one connected, and the survivor while it is alone — the
/// directory's "newest from the address" entry mended each time its
/// client leaves first.
#[test]
fn send_to_a_shared_address_follows_the_newest_through_overlapping_churn() {
    const ROUNDS: usize = 200;
    let (rx, on_connect) = connects();
    let gone = Disconnects::new();
    let server = TcpServer::new(0, 10)
        .bind(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
        .threads(2)
        .framing(Framing::lines())
        .on_connect(on_connect)
        .on_disconnect(gone.recorder())
        .start()
        .expect("start");
    let port = server.local_addr().port();
    let dsts = [
        SocketAddr::from(([127, 0, 0, 1], port)),
        SocketAddr::from(([127, 0, 0, 2], port)),
    ];
    let first = Conn::connect_from(0, dsts[0]);
    let from = first.addr();
    let first_id = connected_from(&rx, from);
    // (peer, its id, its destination index), oldest first.
    let mut live = vec![(first, first_id, 0usize)];
    let mut rng = Rng::new(0x005e_edc4);
    let mut seq = 0u64;
    let mut check = |live: &mut Vec<(Conn, ClientId, usize)>, what: &str| {
        seq += 1;
        let line = format!("{what} {seq}");
        server
            .send_to(from.ip(), from.port(), line.as_bytes())
            .unwrap_or_else(|e| panic!("send_to ({what}, {seq}): {e}"));
        let newest = live.last_mut().expect("a client");
        assert_eq!(newest.0.read_line(), line, "to client {}", newest.1);
    };
    for _ in 0..ROUNDS {
        // A second one, to the destination the live one does not use.
        let dst = 1 - live[0].2;
        let peer = Conn::connect_from(from.port(), dsts[dst]);
        let id = connected_from(&rx, from);
        live.push((peer, id, dst));
        check(&mut live, "newest of two");
        // One leaves; the other is reachable once its end was seen.
        let (leaving, left_id) = if rng.below(2) == 0 {
            let (p, id, _) = live.remove(0);
            (p, id)
        } else {
            let (p, id, _) = live.pop().expect("two");
            (p, id)
        };
        drop(leaving);
        gone.wait_for(left_id);
        check(&mut live, "the one left");
    }
    let (p, id, _) = live.pop().expect("one");
    drop(p);
    gone.wait_for(id);
    assert!(matches!(
        server.send_to(from.ip(), from.port(), b"x"),
        Err(Error::NoSuchClient(_))
    ));
    assert_eq!(server.client_count(), 0);
    server.stop();
}

/// The loop a callback runs on, from its thread's name ("tcphub-io-N").
fn this_loop() -> String {
    std::thread::current()
        .name()
        .unwrap_or("unnamed")
        .to_string()
}

/// Rounds of more connections than `max_clients` and
/// `max_clients_per_ip` at once, each ended by the peer (reset) or kicked,
/// the next round begun before the last one's ends are in: afterwards
/// exactly the per-address limit is admitted again (no place leaked, under
/// either limit), the next one is refused for its address, they are dealt
/// evenly to the two loops (no loop's count left over), and the listing
/// matches them.
#[test]
fn after_churn_past_max_clients_exactly_max_are_admitted_evenly() {
    const MAX: usize = 8;
    const ROUNDS: usize = 40;
    const EXTRA: usize = 4;
    let on_loop: Arc<Mutex<HashMap<ClientId, String>>> = Arc::default();
    let connected = Arc::new(AtomicU64::new(0));
    let gone = Disconnects::new();
    // One place more than the limit per address: the churn meets both
    // limits, the last connection only the one per address.
    let server = TcpServer::new(0, MAX + 1)
        .bind(localhost())
        .threads(2)
        .max_clients_per_ip(MAX)
        .framing(Framing::lines())
        .on_connect({
            let (on_loop, connected) = (on_loop.clone(), connected.clone());
            move |_, c| {
                on_loop.lock().unwrap().insert(c.id, this_loop());
                connected.fetch_add(1, Ordering::SeqCst);
            }
        })
        .on_disconnect(gone.recorder())
        .start()
        .expect("start");
    let addr = server.local_addr();
    let settled = |total: u64| {
        let s = server.stats();
        s.accepted + s.rejected + s.rejected_per_ip == total
    };
    let mut total = 0u64;
    for round in 0..ROUNDS {
        let peers: Vec<Peer> = (0..MAX + EXTRA).map(|_| Peer::connect(addr)).collect();
        total += peers.len() as u64;
        wait_until("every connection admitted or refused", || settled(total));
        for (i, peer) in peers.into_iter().enumerate() {
            if (i + round) % 3 == 0 {
                if let Some(c) = server.clients().into_iter().find(|c| c.addr == peer.addr()) {
                    let _ = server.disconnect(c.id);
                }
            } else {
                peer.reset();
            }
        }
    }
    let before = server.stats();
    gone.wait_count(before.accepted as usize);
    wait_clients(&server, 0);
    assert_eq!(connected.load(Ordering::SeqCst), before.accepted);
    on_loop.lock().unwrap().clear();
    let peers: Vec<Peer> = (0..MAX).map(|_| Peer::connect(addr)).collect();
    wait_until("max_clients admitted", || {
        connected.load(Ordering::SeqCst) == before.accepted + MAX as u64
    });
    let mut one_more = Peer::connect(addr);
    one_more.expect_eof();
    wait_until("the one past max_clients_per_ip refused", || {
        server.stats().rejected_per_ip == before.rejected_per_ip + 1
    });
    assert_eq!(server.client_count(), MAX);
    let listed: BTreeSet<SocketAddr> = server.clients().iter().map(|c| c.addr).collect();
    let ours: BTreeSet<SocketAddr> = peers.iter().map(Peer::addr).collect();
    assert_eq!(listed, ours);
    let mut per_loop: HashMap<String, usize> = HashMap::new();
    for name in on_loop.lock().unwrap().values() {
        *per_loop.entry(name.clone()).or_default() += 1;
    }
    assert_eq!(per_loop.len(), 2, "{per_loop:?}");
    assert!(per_loop.values().all(|&n| n == MAX / 2), "{per_loop:?}");
    drop(peers);
    server.stop();
    let s = server.stats();
    assert_eq!(s.accepted, s.disconnected, "{s:?}");
    assert_eq!(s.clients, 0);
}

/// Inside `on_connect` the client is listed and found, and counted; inside
/// `on_disconnect` it is neither; under churn on two loops.
#[test]
fn listings_agree_with_the_callbacks_under_churn() {
    const CLIENTS: usize = 400;
    let wrong: Arc<Mutex<Vec<String>>> = Arc::default();
    let gone = Disconnects::new();
    let server = TcpServer::new(0, CLIENTS)
        .bind(localhost())
        .threads(2)
        .on_connect({
            let wrong = wrong.clone();
            move |srv, c| {
                if srv.client(c.id) != Some(*c)
                    || !srv.clients().contains(c)
                    || srv.client_count() == 0
                {
                    wrong.lock().unwrap().push(format!("on_connect {c:?}"));
                }
            }
        })
        .on_disconnect({
            let (wrong, gone) = (wrong.clone(), gone.clone());
            move |srv, c, why| {
                if srv.client(c.id).is_some() || srv.clients().contains(c) {
                    wrong.lock().unwrap().push(format!("on_disconnect {c:?}"));
                }
                gone.record(c, why);
            }
        })
        .start()
        .expect("start");
    let addr = server.local_addr();
    let mut peers = Vec::new();
    for i in 0..CLIENTS {
        peers.push(Peer::connect(addr));
        if i % 4 == 3 {
            for p in peers.drain(..) {
                p.reset();
            }
        }
    }
    drop(peers);
    gone.wait_count(CLIENTS);
    wait_clients(&server, 0);
    assert!(server.clients().is_empty());
    assert_eq!(*wrong.lock().unwrap(), Vec::<String>::new());
    server.stop();
    assert_eq!(server.stats().accepted, CLIENTS as u64);
}

/// `stop()` from the application while several threads connect as fast as
/// they can: it returns, and every client reported connected is reported
/// disconnected, once, and counted so.
#[test]
fn a_stop_in_a_connect_storm_balances_every_connect_with_a_disconnect() {
    const THREADS: usize = 4;
    let ups: Arc<Mutex<Vec<ClientId>>> = Arc::default();
    let downs: Arc<Mutex<Vec<ClientId>>> = Arc::default();
    let server = TcpServer::new(0, 10_000)
        .bind(localhost())
        .threads(2)
        .on_connect({
            let ups = ups.clone();
            move |_, c| ups.lock().unwrap().push(c.id)
        })
        .on_disconnect({
            let downs = downs.clone();
            move |_, c, _| downs.lock().unwrap().push(c.id)
        })
        .start()
        .expect("start");
    let addr = server.local_addr();
    let storming = Arc::new(AtomicBool::new(true));
    let stormers: Vec<_> = (0..THREADS)
        .map(|t| {
            let storming = storming.clone();
            std::thread::spawn(move || {
                let mut kept = Vec::new();
                let mut n = 0usize;
                while storming.load(Ordering::SeqCst) {
                    match std::net::TcpStream::connect(addr) {
                        // Some kept open, some reset at once, some closed.
                        Ok(s) => match (n + t) % 3 {
                            0 => kept.push(s),
                            1 => {
                                let _ = SockRef::from(&s).set_linger(Some(Duration::ZERO));
                            }
                            _ => {}
                        },
                        Err(_) => break, // the listener is gone
                    }
                    n += 1;
                }
                kept
            })
        })
        .collect();
    wait_until("a storm under way", || ups.lock().unwrap().len() >= 200);
    server.stop();
    storming.store(false, Ordering::SeqCst);
    let kept: Vec<_> = stormers
        .into_iter()
        .map(|h| h.join().expect("a connecting thread"))
        .collect();
    let up: BTreeSet<ClientId> = ups.lock().unwrap().iter().copied().collect();
    let downs = downs.lock().unwrap().clone();
    let down: BTreeSet<ClientId> = downs.iter().copied().collect();
    assert_eq!(down.len(), downs.len(), "a client reported gone twice");
    assert_eq!(up, down, "connects and disconnects do not pair");
    let s = server.stats();
    assert_eq!(s.accepted, up.len() as u64, "{s:?}");
    assert_eq!(s.disconnected, up.len() as u64, "{s:?}");
    assert_eq!(s.clients, 0);
    assert_eq!(server.client_count(), 0);
    assert!(server.clients().is_empty());
    drop(kept);
}

/// Two clients from one address (a server on `0.0.0.0`), the newer one
/// held open for replies after its leaving was reported
/// (`hold_for_replies`): `send_to` the address reaches the held one, as
/// `send_to`'s documentation says, though only the older one is listed;
/// once the held one is closed, the older one.
#[test]
fn send_to_a_shared_address_prefers_the_newer_client_while_it_is_held() {
    use std::io::Write;
    let gone = Disconnects::new();
    let server = TcpServer::new(0, 10)
        .bind(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
        .framing(Framing::lines())
        .hold_for_replies(Duration::from_secs(60))
        .on_disconnect(gone.recorder())
        .start()
        .expect("start");
    let port = server.local_addr().port();
    let (dst1, dst2) = (
        SocketAddr::from(([127, 0, 0, 1], port)),
        SocketAddr::from(([127, 0, 0, 2], port)),
    );
    let mut older = Conn::connect_from(0, dst1);
    let from = older.addr();
    wait_clients(&server, 1);
    let mut newer = Conn::connect_from(from.port(), dst2);
    wait_clients(&server, 2);
    let held = server.clients()[1];
    newer.0.get_mut().write_all(b"request\n").expect("write");
    newer
        .0
        .get_ref()
        .shutdown(std::net::Shutdown::Write)
        .expect("shutdown");
    gone.wait_for(held.id);
    assert_eq!(server.clients().len(), 1, "the held one is not listed");
    server
        .send_to(from.ip(), from.port(), b"to the held one")
        .expect("send_to");
    assert_eq!(newer.read_line(), "to the held one");
    server.disconnect(held.id).expect("end the hold");
    let mut rest = String::new();
    newer.0.read_line(&mut rest).expect("EOF");
    assert_eq!(rest, "", "closed after the reply");
    // (Its registration ends before its socket closes.)
    server
        .send_to(from.ip(), from.port(), b"to the older one")
        .expect("send_to the one left");
    assert_eq!(older.read_line(), "to the older one");
    server.stop();
}
