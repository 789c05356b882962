//! Review gt: the waits of `input_gate::close` (`stop_input()`, and since
//! this review `stop()`'s start) end wherever they are called from: inside
//! `on_message` on every loop at once (each loop's own mark is let go
//! before its callback starts, and no loop waits for a callback), with an
//! application thread closing meanwhile; and while the loops are paused or
//! stalled on a full pull queue (no loop is marked while it waits).

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};

use support::*;
use tcphub::{Event, ServerHandle};

/// Runs `f` on a thread of its own and waits for it a bounded time; on
/// failure `server` is forgotten, not dropped (its drop stops it, which
/// would wait as the call that never returned does).
fn returns_within(server: &ServerHandle, what: &str, f: impl FnOnce() + Send + 'static) {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        f();
        let _ = tx.send(());
    });
    if rx.recv_timeout(TIMEOUT).is_err() {
        std::mem::forget(server.clone());
        panic!("{what} never returned");
    }
}

/// Four loops, a client on each sending a line at once; every loop's
/// `on_message` calls `close` (the first message of each), while the test
/// thread calls it too.
fn closes_from_every_loop_at_once(close: fn(&ServerHandle)) {
    const LOOPS: usize = 4;
    let returned = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpsc::channel();
    let server = {
        let (returned, tx) = (returned.clone(), std::sync::Mutex::new(tx));
        lines_server(16)
            .threads(LOOPS)
            .on_message(move |srv, _c, _msg| {
                close(srv);
                returned.fetch_add(1, Ordering::SeqCst);
                let _ = tx.lock().unwrap().send(());
            })
            .start()
            .unwrap()
    };
    let mut peers = connect_peers(&server, LOOPS);
    for p in &mut peers {
        p.send(b"go\n");
    }
    // At least one callback ran and returned (the first one's call closed
    // the gate: the others' messages may have been dropped since).
    if rx.recv_timeout(TIMEOUT).is_err() {
        std::mem::forget(server);
        panic!("no callback returned");
    }
    let main = server.clone();
    returns_within(&server, "the application thread's close", move || {
        close(&main)
    });
    assert!(returned.load(Ordering::SeqCst) >= 1);
    let s = server.clone();
    returns_within(&server, "stop()", move || s.stop());
}

#[test]
fn review_gt_stop_input_from_callbacks_on_every_loop_at_once_returns() {
    closes_from_every_loop_at_once(|s| s.stop_input());
}

#[test]
fn review_gt_begin_stop_from_callbacks_on_every_loop_at_once_returns() {
    closes_from_every_loop_at_once(|s| s.begin_stop());
}

/// Pull mode, a queue of 2 filled and every loop's backlog waiting for
/// room (the loops asleep), input paused too: `stop_input()` and then
/// `stop()` return, and no message is taken after `stop_input()` beyond
/// the two the queue held.
#[test]
fn review_gt_stop_input_returns_while_the_loops_are_stalled_and_paused() {
    let server = lines_server(16)
        .threads(2)
        .event_capacity(2)
        .start()
        .unwrap();
    let events = server.events();
    let mut peers = connect_peers(&server, 4);
    for p in &mut peers {
        let burst: String = (0..500).map(|k| format!("{k}\n")).collect();
        p.send(burst.as_bytes());
    }
    wait_until("the backlogs to fill", || server.stats().msgs_in > 16);
    server.pause_input();
    let s = server.clone();
    returns_within(&server, "stop_input()", move || s.stop_input());
    let mut after = 0;
    while let Some(e) = events.try_recv() {
        after += usize::from(matches!(e, Event::Message(..)));
    }
    assert!(after <= 2, "{after} messages taken after stop_input()");
    let s = server.clone();
    returns_within(&server, "stop()", move || s.stop());
    drop(peers);
}
