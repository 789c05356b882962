//! Every send that returned `Ok` is accounted for after a stop with no
//! linger time: queued for its client (`msgs_out`), dropped, or counted
//! as `undelivered` — none lost uncounted while sender threads race the
//! stop. They were: a send counted just before the stop reached the
//! loop's channel (or its gathering lane) after the loop, its linger time
//! over at once, had taken the channel for the last time; one send in
//! about 50 rounds was neither delivered nor counted.

mod support;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::{localhost, Peer};
use tcphub::{Framing, Overflow, TcpServer};

#[test]
fn sends_racing_a_stop_without_linger_are_all_accounted_for() {
    const ROUNDS: usize = 200;
    const SENDERS: usize = 3;
    for round in 0..ROUNDS {
        let server = TcpServer::new(0, 10)
            .bind(localhost())
            .threads(2)
            .framing(Framing::LengthPrefixed { max_len: 1 << 20 })
            .overflow(Overflow::DropMessage)
            .linger(Duration::ZERO)
            .on_message(|_, _, _| {})
            .start()
            .expect("start");
        let peers: Vec<Peer> = (0..2).map(|_| Peer::connect(server.local_addr())).collect();
        let ids: Vec<_> = peers.iter().map(|p| p.id_on(&server)).collect();
        let ok = Arc::new(AtomicU64::new(0));
        let go = Arc::new(AtomicBool::new(true));
        let senders: Vec<_> = (0..SENDERS)
            .map(|s| {
                let (server, ok, go, ids) = (server.clone(), ok.clone(), go.clone(), ids.clone());
                std::thread::spawn(move || {
                    let small = [1u8; 64];
                    let big = vec![2u8; 4096];
                    let mut i = s;
                    while go.load(Ordering::Relaxed) {
                        let msg: &[u8] = if i % 3 == 0 { &big } else { &small };
                        if server.send(ids[i % ids.len()], msg).is_ok() {
                            ok.fetch_add(1, Ordering::Relaxed);
                        }
                        i += 1;
                    }
                })
            })
            .collect();
        std::thread::sleep(Duration::from_micros(200 + (round as u64 % 7) * 300));
        server.stop();
        go.store(false, Ordering::Relaxed);
        for s in senders {
            s.join().expect("sender");
        }
        let s = server.stats();
        let ok = ok.load(Ordering::Relaxed);
        let counted = s.msgs_out + s.dropped + s.undelivered;
        assert_eq!(
            ok, counted,
            "round {round}: {ok} sends returned Ok, {counted} accounted for: {s:?}"
        );
        drop(peers);
    }
}
