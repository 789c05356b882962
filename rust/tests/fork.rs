//! A process forked while a server and a client run: in the child they act
//! as stopped/closed and nothing waits for the I/O threads the child lacks
//! (`stop()`, `close()` and dropping waited for good, and a joined client
//! thread panicked); the parent's server and client go on unharmed.

mod support;

use std::time::Duration;

use support::child::{in_child, wait_child_or_kill};
use support::*;
use tcphub::{Error, Framing, TcpClient};

/// In the forked child: exit code 0 if every check held, else the check's
/// number. Only the child runs this (then `_exit`s: no test harness there).
fn child_checks(server: tcphub::ServerHandle, client: TcpClient) -> i32 {
    if server.is_running() {
        return 1;
    }
    if !matches!(server.send(1, b"x"), Err(Error::NotRunning)) {
        return 2;
    }
    if server.send_all(b"x") != 0 {
        return 3;
    }
    if client.is_open() || client.is_connected() {
        return 4;
    }
    if !matches!(client.send(b"x"), Err(Error::NotRunning)) {
        return 5;
    }
    // Nor do the waits for the queue: the parent's I/O thread writes it.
    if !matches!(
        client.flush(Duration::from_secs(60)),
        Err(Error::NotRunning)
    ) {
        return 11;
    }
    if !matches!(
        client.send_timeout(b"x", Duration::from_secs(60)),
        Err(Error::NotRunning)
    ) {
        return 12;
    }
    if !server.stop_timeout(Duration::from_secs(1)) {
        return 6;
    }
    // Receiving waits for nothing: the queue is filled (and ended) only by
    // the parent's I/O thread. (It waited for good without a limit.)
    if !matches!(
        client.recv_timeout(Duration::from_secs(60)),
        Err(Error::NotRunning)
    ) {
        return 7;
    }
    if client.recv().is_some() || !client.wait_ready(Duration::from_secs(60)) {
        return 8;
    }
    let events = server.events();
    if events.recv().is_some() || !events.is_empty() {
        return 9;
    }
    // A stopped server: no clients counted, listed or found.
    if server.client_count() != 0 || !server.clients().is_empty() || server.stats().clients != 0 {
        return 10;
    }
    server.stop();
    server.wait();
    client.close();
    drop(client);
    drop(server);
    0
}

/// Waits (bounded) for our forked child `pid`; its wait status. Fails
/// when it hangs (it is killed).
fn wait_child(pid: libc::pid_t) -> i32 {
    wait_child_or_kill(pid).unwrap_or_else(|| {
        panic!("the forked child hung (stop, close or drop waited for the parent's threads)")
    })
}

/// The scheduler state of thread `tid` of this process (`'S'`: asleep).
fn thread_state(tid: libc::pid_t) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).ok()?;
    stat.rsplit(')').next()?.trim_start().chars().next()
}

/// Runs `wait` (a `close()` or `stop()` that takes long) on a thread of its
/// own and returns once that thread sleeps in it: then it holds the lock on
/// the I/O threads' handles while it joins them.
fn waiting_in(wait: impl FnOnce() + Send + 'static) -> std::thread::JoinHandle<()> {
    let (tid_tx, tid_rx) = std::sync::mpsc::channel();
    let t = std::thread::spawn(move || {
        // SAFETY: gettid has no preconditions.
        let _ = tid_tx.send(unsafe { libc::gettid() });
        wait();
    });
    let tid = tid_rx
        .recv_timeout(TIMEOUT)
        .expect("the waiting thread's id");
    wait_until("the other thread asleep in its wait", || {
        thread_state(tid) == Some('S')
    });
    t
}

/// Forks; the child runs `check` (a close or stop of the parent's handle)
/// and `_exit`s. Fails when the child hangs.
fn child_must_finish(check: impl FnOnce()) {
    in_child("the child's close or stop", || {
        check();
        0
    });
}

#[test]
fn a_child_forked_while_another_thread_closes_a_client_does_not_hang() {
    // The parent's close() holds the lock on the client's thread handle
    // while it waits for the I/O thread (up to the linger time, here: the
    // server never takes the message); fork copies that lock held, and the
    // child's close() waited for it for good.
    let listener = listener_with_rcvbuf(4096);
    let client = TcpClient::builder(listener.local_addr().unwrap())
        .framing(Framing::Raw)
        .linger(TIMEOUT)
        .connect()
        .expect("connect");
    let (server_side, _) = listener.accept().expect("accept"); // never reads
    client.send(&vec![b'x'; 1 << 20]).expect("send");
    let closer = waiting_in({
        let client = client.clone();
        move || client.close()
    });
    assert!(!client.is_open());
    child_must_finish(move || {
        client.close();
        drop(client);
    });
    drop(server_side); // unread input: a reset ends the parent's close
    closer.join().expect("close");
}

#[test]
fn a_child_forked_while_another_thread_stops_a_server_does_not_hang() {
    // As above, for a server whose stop() flushes to a client that does
    // not read, up to the linger time.
    let server = tcphub::TcpServer::new(0, 10)
        .bind(localhost())
        .framing(Framing::Raw)
        .linger(TIMEOUT)
        .on_message(|_, _, _| {})
        .start()
        .expect("start");
    // A small receive buffer, set before the handshake (set after it, a
    // stack may keep the window it offered then, and take the whole 1 MiB:
    // the stop would not wait, and `waiting_in` with it).
    let peer = Peer::connect_with_rcvbuf(server.local_addr(), 4096).stream;
    wait_clients(&server, 1);
    for _ in 0..16 {
        let _ = server.send_all(&vec![b'y'; 64 * 1024]);
    }
    let stopper = waiting_in({
        let server = server.clone();
        move || server.stop()
    });
    assert!(!server.is_running());
    child_must_finish(move || {
        server.stop();
        drop(server);
    });
    reset(peer); // the parent's stop ends
    stopper.join().expect("stop");
}

#[test]
fn a_forked_child_neither_hangs_nor_disturbs_the_parents_server_and_client() {
    let server = echo_server(Framing::lines());
    let client = TcpClient::builder(server.local_addr())
        .framing(Framing::lines())
        .connect()
        .expect("connect");
    client.send(b"before").expect("send");
    assert_eq!(
        client.recv_timeout(Duration::from_secs(30)).expect("echo"),
        b"before"
    );

    // SAFETY: the child runs only `child_checks` (tcphub handles, which
    // take no lock the forking thread does not own) and then `_exit`.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let code = child_checks(server, client);
        // SAFETY: ends the child at once, without the parent's exit work.
        unsafe { libc::_exit(code) };
    }
    let status = wait_child(pid);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "the child's check failed: wait status {status:#x} (exit code = failed check)"
    );

    // The parent's server and client were not touched by the child.
    assert!(server.is_running() && client.is_connected());
    client.send(b"after").expect("send");
    assert_eq!(
        client.recv_timeout(Duration::from_secs(30)).expect("echo"),
        b"after"
    );
    client.close();
    server.stop();
}

#[test]
fn taking_events_in_a_forked_child_does_not_wait_for_the_parent_s_loops() {
    // A stopped server's (a closed client's) empty queue answers at once;
    // in a child, where no loop or I/O thread will ever queue an event,
    // waiting for one waited for good (`for ev in server.events()`, a
    // client's `recv()`, an hour's `recv_timeout`).
    let server = tcphub::TcpServer::new(0, 10)
        .bind(localhost())
        .framing(Framing::lines())
        .start()
        .expect("start a pull-mode server");
    let events = server.events();
    let client = TcpClient::builder(server.local_addr())
        .framing(Framing::lines())
        .connect()
        .expect("connect");
    assert!(matches!(
        events.recv_timeout(TIMEOUT).expect("connected"),
        tcphub::Event::Connected(_)
    ));
    const HOUR: Duration = Duration::from_secs(3600);
    let (in_child, client_in_child) = (server.clone(), client.clone());
    child_must_finish(move || {
        let (server, client) = (in_child, client_in_child);
        let checks = [
            events.recv().is_none(),
            matches!(events.recv_timeout(HOUR), Err(Error::NotRunning)),
            matches!(
                events.recv_batch(&mut Vec::new(), 8, HOUR),
                Err(Error::NotRunning)
            ),
            events.try_recv().is_none(),
            events.wait_ready(HOUR),
            server.events().next().is_none(),
            matches!(client.next_event(HOUR), Err(Error::NotRunning)),
            client.recv().is_none(),
            client.wait_ready(HOUR),
        ];
        if let Some(failed) = checks.iter().position(|ok| !ok) {
            // SAFETY: ends the child at once with the failed check's number.
            unsafe { libc::_exit(10 + failed as i32) };
        }
    });
    client.close();
    server.stop();
}

/// `send` posts under a lock (`ClientCore::posted`) that a fork can copy
/// held by another thread's send: in the child, `send`, `shutdown_write`,
/// `queued_bytes` and `close` must answer at once without it.
#[test]
fn a_child_forked_while_another_thread_sends_does_not_hang() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpClient::builder(listener.local_addr().unwrap())
        .framing(Framing::lines())
        .connect()
        .expect("connect");
    let (mut server_side, _) = listener.accept().expect("accept");
    let reader = std::thread::spawn(move || {
        let _ = std::io::copy(&mut server_side, &mut std::io::sink());
    });
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sender = {
        let (client, stop) = (client.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut sent = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if client.send(b"small").is_ok() && client.send(&[b'L'; 3000]).is_ok() {
                    sent += 1;
                }
            }
            sent
        })
    };
    for _ in 0..20 {
        let client = client.clone();
        child_must_finish(move || {
            let ok = matches!(client.send(b"x"), Err(Error::NotRunning))
                && matches!(client.shutdown_write(), Err(Error::NotRunning))
                && client.queued_bytes() == 0;
            client.close();
            drop(client);
            if !ok {
                // SAFETY: ends the child at once, reporting the failure.
                unsafe { libc::_exit(2) };
            }
        });
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(sender.join().expect("sender") > 0);
    client.close();
    reader.join().expect("reader");
}
