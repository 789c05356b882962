//! Review (gl): a callback that sends to more clients than a gathering
//! buffer holds runs for (1,024), so the runs go out in the middle of the
//! callback, with broadcasts and large messages in between: every client,
//! on every loop, still gets each message once and in order.

use std::sync::{Arc, Mutex};

use crate::support::*;
use tcphub::{ClientId, Framing, TcpServer};

const CLIENTS: usize = 1300;
const ROUNDS: usize = 4;

/// Taken by each test here: each holds `2 * CLIENTS` descriptors and more,
/// both at once over 5,000 — past a hard `RLIMIT_NOFILE` of 4,096 (older
/// systems' default), which one at a time stays within.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn many_runs(loops: usize) {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    raise_fd_limit(2 * CLIENTS as u64 + 1024);
    let ids: Arc<Mutex<Vec<ClientId>>> = Arc::default();
    let t = ids.clone();
    let server = TcpServer::new(0, CLIENTS + 10)
        .bind(localhost())
        .threads(loops)
        .framing(Framing::lines())
        .on_message(move |srv, from, _| {
            let ids = t.lock().unwrap().clone();
            let mut seq = 0;
            for round in 0..ROUNDS {
                // Twice to each client in turn: a run per client.
                for _ in 0..2 {
                    for &id in &ids {
                        srv.send(id, format!("{seq}").as_bytes()).unwrap();
                    }
                    seq += 1;
                }
                if round % 2 == 0 {
                    srv.send_all_except(from.id, format!("{seq}").as_bytes());
                } else {
                    let big = format!("{seq}:{}", "b".repeat(1100));
                    srv.send_many(&ids, big.as_bytes());
                }
                seq += 1;
            }
        })
        .start()
        .unwrap();
    let mut peers = connect_peers(&server, CLIENTS);
    ids.lock()
        .unwrap()
        .extend(peers.iter().map(|p| p.id_on(&server)));
    let mut trigger = Peer::connect(server.local_addr());
    trigger.send_line("go");
    for (i, p) in peers.iter_mut().enumerate() {
        for seq in 0..ROUNDS * 3 {
            let l = p.read_line();
            assert_eq!(l.split(':').next().unwrap(), seq.to_string(), "client {i}");
        }
    }
    server.stop();
}

#[test]
fn sends_to_more_clients_than_runs_keep_order_2_loops() {
    many_runs(2);
}

#[test]
fn sends_to_more_clients_than_runs_keep_order_4_loops() {
    many_runs(4);
}
