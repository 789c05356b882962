//! Review (gl): a ping-pong across loops, one gathered message in flight
//! at a time, with the loops going to sleep between messages (no busy
//! polling): each message gathered into a lane for a sleeping loop must
//! wake it. A lost wakeup would stall the exchange (the peer's read would
//! time out).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::*;
use tcphub::{ClientId, Framing, TcpServer};

const ROUNDS: usize = 3000;

fn ping_pong(loops: usize) {
    // Each client's partner: its message goes there.
    let partner: Arc<Mutex<HashMap<ClientId, ClientId>>> = Arc::default();
    let p = partner.clone();
    let server = TcpServer::new(0, 64)
        .bind(localhost())
        .threads(loops)
        .busy_poll(Duration::ZERO)
        .framing(Framing::lines())
        .on_message(move |srv, from, m| {
            let to = p.lock().unwrap()[&from.id];
            srv.send(to, m).unwrap();
        })
        .start()
        .unwrap();
    let mut peers = connect_peers(&server, loops.max(2));
    let (a, b) = (peers.remove(0), peers.remove(0));
    let (ia, ib) = (a.id_on(&server), b.id_on(&server));
    partner.lock().unwrap().extend([(ia, ib), (ib, ia)]);
    let (mut a, mut b) = (a, b);
    for i in 0..ROUNDS {
        a.send_line(&i.to_string());
        assert_eq!(b.read_line(), i.to_string());
        b.send_line(&i.to_string());
        assert_eq!(a.read_line(), i.to_string());
    }
    server.stop();
}

#[test]
fn a_ping_pong_across_sleeping_loops_never_stalls_2_loops() {
    ping_pong(2);
}

#[test]
fn a_ping_pong_across_sleeping_loops_never_stalls_16_loops() {
    ping_pong(16);
}
