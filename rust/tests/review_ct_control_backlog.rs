//! Review (ct): `pause_client` / `resume_client` / `disconnect` from a
//! thread that is not a loop are bounded like sends: a thread toggling a
//! client's pause in a tight loop while its loop is busy waits once the
//! loop is `MAX_PENDING_BYTES` (64 MiB) behind, instead of growing the
//! loop's channel without limit (1.7 GB of RSS in 4 s, and an echo on the
//! same loop starved to 0 lines/s: `review_ct_throughput.rs`).

mod support;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::Duration;

use support::{localhost, wait_until, Peer};
use tcphub::{Framing, TcpServer};

/// Pause + resume pairs the thread tries to post while the loop is busy:
/// 1.6 M commands of 56 bytes or more, past the 64 MiB bound.
const PAIRS: u64 = 800_000;

/// How long the posting thread's count must stand still to count as
/// waiting (it only stands still when it waits: a pass over the loop's
/// bound, or the machine's load — which can only make this test pass
/// where it should fail, never fail where it should pass).
const QUIET: Duration = Duration::from_millis(300);

#[test]
fn a_thread_toggling_pauses_waits_for_a_busy_loop_instead_of_growing_its_channel() {
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let release_rx = Mutex::new(release_rx);
    let busy = Arc::new(AtomicBool::new(false));
    let b = busy.clone();
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .framing(Framing::lines())
        .threads(1)
        .on_message(move |_, _, m| {
            if m == b"block" {
                b.store(true, Ordering::Release);
                let _ = release_rx.lock().unwrap().recv();
            }
        })
        .start()
        .unwrap();
    let idle = Peer::connect(server.local_addr());
    let idle_id = idle.id_on(&server);
    let mut blocker = Peer::connect(server.local_addr());
    blocker.send_line("block");
    wait_until("the loop is busy in a callback", || {
        busy.load(Ordering::Acquire)
    });

    let posted = Arc::new(AtomicU64::new(0));
    let poster = {
        let (server, posted) = (server.clone(), posted.clone());
        thread::spawn(move || {
            for _ in 0..PAIRS {
                server.pause_client(idle_id).unwrap();
                server.resume_client(idle_id).unwrap();
                posted.fetch_add(1, Ordering::Release);
            }
        })
    };
    // Until it is done, or waits (its count stands still).
    let mut last = u64::MAX;
    loop {
        let now = posted.load(Ordering::Acquire);
        if now == PAIRS || now == last {
            break;
        }
        last = now;
        thread::sleep(QUIET);
    }
    let now = posted.load(Ordering::Acquire);
    release_tx.send(()).unwrap();
    poster.join().unwrap();
    assert!(
        now < PAIRS,
        "{PAIRS} pause/resume pairs ({} commands) were posted to a loop that took none",
        2 * PAIRS
    );
    drop((idle, blocker));
    server.stop();
}
