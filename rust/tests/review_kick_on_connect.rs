//! `disconnect` called from a callback on the client's own loop stops its
//! messages at once — also when that callback is an `on_connect` run by the
//! accept, not by a read or a command.

mod support;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use support::*;
use tcphub::{Framing, TcpServer};

#[test]
fn a_client_kicked_from_another_client_s_on_connect_gets_no_more_on_message() {
    for round in 0..20 {
        let target = Arc::new(AtomicU64::new(0)); // the client to kick (0: none yet)
        let kicked = Arc::new(AtomicBool::new(false));
        let go = Arc::new(AtomicBool::new(false));
        let blocked = Arc::new(AtomicBool::new(false));
        let late: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
        let server = TcpServer::new(0, 10)
            .bind(localhost())
            .threads(1)
            .framing(Framing::lines())
            .on_connect({
                let (target, kicked) = (target.clone(), kicked.clone());
                move |srv, c| {
                    let t = target.load(Ordering::SeqCst);
                    if t != 0 && c.id != t && !kicked.swap(true, Ordering::SeqCst) {
                        srv.disconnect(t).expect("the target is connected");
                    }
                }
            })
            .on_message({
                let (target, kicked, go, blocked, late) = (
                    target.clone(),
                    kicked.clone(),
                    go.clone(),
                    blocked.clone(),
                    late.clone(),
                );
                move |_srv, c, m| {
                    if m == b"block" {
                        // Hold the loop while the next client connects and
                        // the target writes: both are ready at the next poll.
                        blocked.store(true, Ordering::SeqCst);
                        wait_until("the test lets the loop go", || go.load(Ordering::SeqCst));
                    } else if c.id == target.load(Ordering::SeqCst) && kicked.load(Ordering::SeqCst)
                    {
                        late.lock().unwrap().push(m.to_vec());
                    }
                }
            })
            .start()
            .unwrap();
        let addr = server.local_addr();
        let mut blocker = Peer::connect(addr);
        let mut victim = Peer::connect(addr);
        let victim_id = victim.id_on(&server);
        blocker.id_on(&server);
        target.store(victim_id, Ordering::SeqCst);
        blocker.send_line("block");
        wait_until("the loop is held", || blocked.load(Ordering::SeqCst));
        let _newcomer = Peer::connect(addr); // waits in the backlog
        victim.send_line("after the kick");
        go.store(true, Ordering::SeqCst);
        victim.drain_until_closed();
        assert!(kicked.load(Ordering::SeqCst), "round {round}: the kick ran");
        assert!(server.stop_timeout(TIMEOUT));
        assert!(
            late.lock().unwrap().is_empty(),
            "round {round}: on_message got {:?} from a client already kicked",
            late.lock().unwrap()
        );
    }
}
