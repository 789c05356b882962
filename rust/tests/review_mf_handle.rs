//! Review mf (mutation testing of `handle.rs` and `handle/`): what the
//! `ServerHandle` answers that no other test looked at.

mod support;

use support::*;
use tcphub::{Framing, TcpServer};

/// `framing()` answers the framing the server was built with. Only the
/// doctest asked, of a server with the default (`Raw`): a `framing()`
/// answering `Framing::default()` passed every test.
#[test]
fn review_mf_framing_is_the_configured_one() {
    for framing in [
        Framing::lines(),
        Framing::length_prefixed(),
        Framing::Lines { max_len: 77 },
        Framing::Raw,
    ] {
        let s = TcpServer::new(0, 1)
            .bind(localhost())
            .framing(framing)
            .start()
            .expect("start");
        assert_eq!(s.framing(), framing);
        s.stop();
    }
}

/// `wait()` returns once the loops have ended, not as soon as the stop has
/// begun: every `on_disconnect` has run by then ("blocks until the server
/// has stopped"; `wait_timeout` "returns whether the server has stopped
/// and its loops have ended"). The `on_disconnect` here is slow (it stands
/// for an application's own work, not for a wait of the test), so a
/// `wait()` returning at `is_running() == false` comes back before it.
#[test]
fn review_mf_wait_returns_after_the_last_on_disconnect() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let done = Arc::new(AtomicBool::new(false));
    let done_in_cb = done.clone();
    let s = TcpServer::new(0, 10)
        .bind(localhost())
        .threads(1)
        .framing(Framing::lines())
        .on_disconnect(move |_srv, _c, _why| {
            std::thread::sleep(std::time::Duration::from_millis(300));
            done_in_cb.store(true, Ordering::SeqCst);
        })
        .start()
        .expect("start");
    let _peer = Peer::connect(s.local_addr());
    wait_clients(&s, 1);
    let stopper = s.clone();
    let t = std::thread::spawn(move || stopper.begin_stop());
    s.wait();
    assert!(
        done.load(Ordering::SeqCst),
        "wait() returned before the loops ended (on_disconnect still running)"
    );
    t.join().unwrap();
}

/// `wait_timeout` with a finite timeout keeps to it once the stop has
/// begun and the loops are still finishing (a slow `on_disconnect`): it
/// answers `false` then, and `true` once they have ended. Joining the
/// loops there without a limit (as `wait()` does) passed every test.
#[test]
fn review_mf_wait_timeout_keeps_its_timeout_while_the_loops_finish() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::Duration;
    let release = Arc::new(AtomicBool::new(false));
    let release_in_cb = release.clone();
    let s = TcpServer::new(0, 10)
        .bind(localhost())
        .threads(1)
        .framing(Framing::lines())
        .on_disconnect(move |_srv, _c, _why| {
            // Held until the test lets it go (bounded: never for ever).
            try_wait_until(TIMEOUT, || release_in_cb.load(Ordering::SeqCst));
        })
        .start()
        .expect("start");
    let _peer = Peer::connect(s.local_addr());
    wait_clients(&s, 1);
    s.begin_stop();
    assert!(!s.is_running());
    let answer = s.wait_timeout(Duration::from_millis(100));
    release.store(true, Ordering::SeqCst);
    assert!(
        !answer,
        "wait_timeout(100 ms) answered true while an on_disconnect still ran"
    );
    assert!(s.wait_timeout(TIMEOUT));
}

/// Inside one of its own callbacks, once the server has stopped,
/// `wait_timeout(Duration::MAX)` answers at once that the loops have not
/// ended (`false`: this callback runs on one of them), as documented. Taking
/// the no-limit branch there (`core.stop()`, which does not wait on an I/O
/// thread, then `true`) passed every test.
#[test]
fn review_mf_wait_timeout_without_limit_in_a_callback_says_not_ended() {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;
    let answers: Arc<Mutex<Vec<bool>>> = Arc::default();
    let answers_in_cb = answers.clone();
    let s = TcpServer::new(0, 10)
        .bind(localhost())
        .threads(1)
        .framing(Framing::lines())
        .on_message(move |srv, _c, msg| {
            if msg == b"stop" {
                srv.begin_stop();
                let ended = srv.wait_timeout(Duration::MAX);
                answers_in_cb.lock().unwrap().push(ended);
            }
        })
        .start()
        .expect("start");
    let mut peer = Peer::connect(s.local_addr());
    peer.send_line("stop");
    wait_until("the callback answered", || {
        !answers.lock().unwrap().is_empty()
    });
    assert_eq!(*answers.lock().unwrap(), vec![false]);
    assert!(s.wait_timeout(TIMEOUT));
}

/// A clone of the callbacks' handle made inside a callback is one of the
/// application's handles: while it lives, dropping the others does not
/// stop the server (`ServerHandle`'s docs). A clone of the loop's handle
/// taking no stop guard (the `user_token` not upgraded) passed every test.
#[test]
fn review_mf_a_clone_made_in_a_callback_keeps_the_server_running() {
    use std::sync::{Arc, Mutex};
    let kept: Arc<Mutex<Option<tcphub::ServerHandle>>> = Arc::default();
    let kept_in_cb = kept.clone();
    let s = TcpServer::new(0, 10)
        .bind(localhost())
        .threads(1)
        .framing(Framing::lines())
        .on_connect(move |srv, _c| {
            kept_in_cb
                .lock()
                .unwrap()
                .get_or_insert_with(|| srv.clone());
        })
        .on_message(|srv, c, msg| {
            let _ = srv.send(c.id, msg);
        })
        .start()
        .expect("start");
    let addr = s.local_addr();
    let _first = Peer::connect(addr);
    wait_until("the callback kept a clone", || {
        kept.lock().unwrap().is_some()
    });
    drop(s);
    let h = kept.lock().unwrap().take().expect("kept");
    assert!(
        h.is_running(),
        "dropping the application's handle stopped the server while a clone made in a callback lived"
    );
    let mut second = Peer::connect(addr);
    second.send_line("still here");
    assert_eq!(second.read_line(), "still here");
    h.stop();
    assert!(!h.is_running());
}
