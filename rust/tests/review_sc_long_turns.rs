//! The idle clock against a long turn that no single callback makes long:
//! many short callbacks in one turn (a client pipelining requests to an
//! application that takes a few milliseconds each) hold the loop as one
//! slow callback does. The clock stops for most of such a turn (it runs
//! for 50 ms or an eighth of it), whatever made it long: the client whose
//! requests the callbacks worked on is not cut as idle for that time, and
//! a loop whose turns are routinely long still times its clients out.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use support::*;
use tcphub::{Framing, TcpServer};

#[test]
fn a_turn_of_many_short_callbacks_stops_the_idle_clock_which_still_runs_after() {
    // 400 requests of 10 ms each, in one read: a turn of at least 4 s,
    // twice the idle timeout, and no callback near 50 ms.
    const N: usize = 400;
    const IDLE: Duration = Duration::from_secs(2);
    let log = CallbackLog::default();
    let (last_tx, last_rx) = std::sync::mpsc::channel::<()>();
    let last_tx = Mutex::new(last_tx);
    let count = AtomicUsize::new(0);
    let builder = TcpServer::new(0, 10)
        .bind(localhost())
        .threads(1)
        .framing(Framing::Lines { max_len: 1024 })
        .idle_timeout(IDLE);
    let server = log
        .attach(builder, move |_s, _c, m| {
            if m == b"w" {
                // The application's work on a request (the scenario).
                std::thread::sleep(Duration::from_millis(10));
                if count.fetch_add(1, Ordering::SeqCst) + 1 == N {
                    let _ = last_tx.lock().unwrap().send(());
                }
            }
        })
        .start()
        .unwrap();
    let addr = server.local_addr();
    let mut busy = Peer::connect(addr);
    let busy_id = busy.id_on(&server);
    let idle = Peer::connect(addr);
    let idle_id = idle.id_on(&server);
    // One write: the loop reads all the requests at once, and runs their
    // callbacks in one turn.
    busy.send(&b"w\n".repeat(N));
    last_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the last request's callback");
    // Read in the next turn (its readiness came during this one).
    busy.send_line("marker");
    let marker = format!("msg {busy_id} marker");
    wait_until("the marker", || log.has(&marker));
    let request = format!("msg {busy_id} w");
    let seen: Vec<String> = log.lines().into_iter().filter(|l| *l != request).collect();
    assert_eq!(
        seen,
        vec![marker.clone()],
        "nobody cut as idle for the turn the loop spent on the requests"
    );
    // The clock runs again: the idle client is cut, in its own time.
    let cut = format!("gone {idle_id} IdleTimeout");
    wait_until("the idle client cut", || log.has(&cut));
    server.stop();
}
