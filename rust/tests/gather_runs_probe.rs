//! Review probe of the per-client runs (63c6f36) over real sockets: a
//! random mix of sends to each of several clients (by id and by address,
//! small ones gathered and ones over 1 KiB posted directly), broadcasts to
//! all and to all but one, a kick of a client midway and a stop at the end,
//! from an application thread and from a callback, on 1, 2 and 3 loops.
//! Every receiver must read exactly its messages, in the order of the
//! calls, then EOF.

mod support;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use support::*;
use tcphub::{ClientId, Framing, ServerHandle, TcpServer};

const RECEIVERS: usize = 5;
const OPS: usize = 4000;

/// Runs (when `srv` is given) or only lists the calls of round `seed`; the
/// lines each receiver must read.
fn sequence(
    srv: Option<&ServerHandle>,
    ids: &[ClientId],
    addrs: &[SocketAddr],
    seed: u64,
) -> Vec<Vec<String>> {
    let mut rng = Rng::new(seed);
    let mut want = vec![Vec::new(); ids.len()];
    let mut kicked = vec![false; ids.len()];
    let big = "x".repeat(1500);
    let kick_at = OPS / 2 + rng.below(OPS / 4);
    let kick = rng.below(ids.len());
    for i in 0..OPS {
        if i == kick_at {
            if let Some(s) = srv {
                s.disconnect(ids[kick]).unwrap();
            }
            kicked[kick] = true;
        }
        let k = rng.below(ids.len());
        let roll = rng.below(100);
        let (line, to): (String, Box<dyn Fn(usize) -> bool>) = match roll {
            0..=44 => (format!("s{i}"), Box::new(move |r| r == k)),
            45..=59 => (format!("a{i}"), Box::new(move |r| r == k)),
            60..=67 => (format!("L{i}{big}"), Box::new(move |r| r == k)),
            68..=81 => (format!("b{i}"), Box::new(|_| true)),
            82..=93 => (format!("e{i}"), Box::new(move |r| r != k)),
            _ => (format!("B{i}{big}"), Box::new(|_| true)),
        };
        if let Some(s) = srv {
            match roll {
                0..=44 | 60..=67 => {
                    let _ = s.send(ids[k], line.as_bytes());
                }
                45..=59 => {
                    let _ = s.send_to(addrs[k].ip(), addrs[k].port(), line.as_bytes());
                }
                68..=81 | 94.. => {
                    s.send_all(line.as_bytes());
                }
                _ => {
                    s.send_all_except(ids[k], line.as_bytes());
                }
            }
        }
        for r in 0..ids.len() {
            if to(r) && !kicked[r] {
                want[r].push(line.clone());
            }
        }
    }
    want
}

#[test]
fn each_receiver_reads_its_calls_in_order_with_broadcasts_kicks_and_a_stop() {
    for loops in [1, 2, 3] {
        for from_callback in [false, true] {
            for round in 0..2u64 {
                let seed = round * 31 + loops as u64 * 7 + u64::from(from_callback);
                let targets: Arc<Mutex<(Vec<ClientId>, Vec<SocketAddr>)>> = Arc::default();
                let t = targets.clone();
                let server = TcpServer::new(0, 16)
                    .bind(localhost())
                    .threads(loops)
                    .framing(Framing::lines())
                    .on_message(move |srv, _, _m| {
                        let (ids, addrs) = t.lock().unwrap().clone();
                        sequence(Some(srv), &ids, &addrs, seed);
                        srv.stop();
                    })
                    .start()
                    .unwrap();
                let peers: Vec<Peer> = (0..RECEIVERS)
                    .map(|_| Peer::connect(server.local_addr()))
                    .collect();
                wait_clients(&server, RECEIVERS);
                let ids: Vec<ClientId> = peers.iter().map(|p| p.id_on(&server)).collect();
                let addrs: Vec<SocketAddr> = peers.iter().map(Peer::addr).collect();
                *targets.lock().unwrap() = (ids.clone(), addrs.clone());
                let want = sequence(None, &ids, &addrs, seed);
                let readers: Vec<_> = peers
                    .into_iter()
                    .map(|mut p| std::thread::spawn(move || p.read_to_eof()))
                    .collect();
                let mut driver = None;
                if from_callback {
                    let mut d = Peer::connect(server.local_addr());
                    d.send_line("go");
                    driver = Some(std::thread::spawn(move || d.read_to_eof()));
                } else {
                    sequence(Some(&server), &ids, &addrs, seed);
                    server.stop();
                }
                for (r, (reader, want)) in readers.into_iter().zip(want).enumerate() {
                    let got = reader.join().unwrap();
                    let got: Vec<String> = String::from_utf8(got)
                        .unwrap()
                        .lines()
                        .map(str::to_owned)
                        .collect();
                    let first_diff = got.iter().zip(&want).position(|(g, w)| g != w);
                    assert!(
                        got == want,
                        "loops {loops}, callback {from_callback}, round {round}, receiver {r}: \
                         got {} lines, want {}; first difference at {first_diff:?}: {:?} vs {:?}",
                        got.len(),
                        want.len(),
                        first_diff.map(|i| got[i].chars().take(12).collect::<String>()),
                        first_diff.map(|i| want[i].chars().take(12).collect::<String>()),
                    );
                }
                if let Some(d) = driver {
                    d.join().unwrap();
                }
                server.stop();
            }
        }
    }
}
