//! Review fk: `fork()` while servers and clients run — the calls the other
//! fork tests do not make in the child, what the child's descriptors (shared
//! with the parent) must not take from the parent, a fork made inside a
//! callback, and grandchildren.

mod support;

use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

use support::child::{in_child, wait_child_or_kill};
use support::*;
use tcphub::{Error, Event, Framing, TcpClient, TcpServer};

/// Kills child `pid` when dropped unless reaped (`0`): a failing test
/// must not leave behind a child that holds the test's output pipe open.
struct KillOnDrop(libc::pid_t);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if self.0 > 0 {
            // SAFETY: our own child, if it still runs.
            unsafe {
                libc::kill(self.0, libc::SIGKILL);
                libc::waitpid(self.0, std::ptr::null_mut(), 0);
            }
        }
    }
}

/// A new echo server of this process and a client of it, and whether the
/// client had `word` echoed back.
fn own_echo(word: &[u8]) -> (tcphub::ServerHandle, TcpClient, bool) {
    let own = echo_server(Framing::lines());
    let oc = TcpClient::builder(own.local_addr())
        .framing(Framing::lines())
        .connect()
        .expect("connect");
    oc.send(word).expect("send");
    let echoed = oc.recv_timeout(TIMEOUT).ok().as_deref() == Some(word);
    (own, oc, echoed)
}

/// The number of the first false check (1-based), or 0.
fn first_failed(checks: &[bool]) -> i32 {
    checks.iter().position(|ok| !ok).map_or(0, |i| i as i32 + 1)
}

/// Whether `fd` is readable now (no wait).
fn readable(fd: RawFd) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one live pollfd, no wait.
    unsafe { libc::poll(&mut p, 1, 0) == 1 && p.revents & libc::POLLIN != 0 }
}

/// Waits (bounded) until `fd` is readable.
fn wait_readable(fd: RawFd) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one live pollfd.
    unsafe { libc::poll(&mut p, 1, TIMEOUT.as_millis() as i32) == 1 }
}

#[test]
fn every_server_call_in_a_child_answers_as_stopped_and_the_parent_serves_on() {
    let server = echo_server(Framing::lines());
    let client = TcpClient::builder(server.local_addr())
        .framing(Framing::lines())
        .connect()
        .expect("connect");
    client.send(b"before").expect("send");
    assert_eq!(client.recv_timeout(TIMEOUT).expect("echo"), b"before");
    wait_clients(&server, 1);
    let id = server.clients()[0].id;
    let peer = client.local_addr();

    let (s, c) = (server.clone(), client.clone());
    in_child("server calls", move || {
        let s2 = s.clone();
        let checks = [
            !s.is_running(),
            matches!(s.send(id, b"x"), Err(Error::NotRunning)),
            matches!(
                s.send_to(peer.ip(), peer.port(), b"x"),
                Err(Error::NotRunning)
            ),
            s.send_all(b"x") == 0,
            matches!(s.try_send_all(b"x"), Err(Error::NotRunning)),
            s.send_all_except(id, b"x") == 0,
            matches!(s.try_send_all_except(id, b"x"), Err(Error::NotRunning)),
            s.send_many(&[id], b"x") == 0,
            matches!(s.try_send_many(&[id], b"x"), Err(Error::NotRunning)),
            s.disconnect(id).is_err(),
            s.pause_client(id).is_err(),
            s.resume_client(id).is_err(),
            s.client(id).is_none(),
            s.client_count() == 0 && s.clients().is_empty(),
            s.stats().clients == 0,
            s.local_addr().port() != 0,
            {
                s.stop_input();
                s.pause_input();
                s.resume_input();
                true
            },
            {
                s.begin_stop();
                s.wait_timeout(Duration::from_secs(3600))
            },
            s.stop_timeout(Duration::from_secs(3600)),
            {
                s.wait();
                s.stop();
                true
            },
            {
                drop(s2);
                drop(s);
                true
            },
            !c.is_open() && !c.is_connected(),
            c.queued_bytes() == 0,
            matches!(c.shutdown_write(), Err(Error::NotRunning)),
            c.close_timeout(Duration::from_secs(3600)),
            {
                c.close();
                drop(c);
                true
            },
        ];
        first_failed(&checks)
    });

    // The parent's connection: neither kicked, paused, shut nor reset.
    assert!(server.is_running() && client.is_connected());
    for i in 0..50 {
        let line = format!("after {i}");
        client.send(line.as_bytes()).expect("send");
        assert_eq!(client.recv_timeout(TIMEOUT).expect("echo"), line.as_bytes());
    }
    assert_eq!(server.client_count(), 1);
    client.close();
    server.stop();
}

/// A `ReadyFd` made before the fork is one descriptor shared by parent and
/// child: the child's `arm` must not read away the parent's wakeup (it read
/// the eventfd's count before looking at the fork, so the parent's event
/// loop, waiting for the descriptor, waited for good).
#[test]
fn arming_a_ready_fd_in_a_child_leaves_the_parents_descriptor_readable() {
    // Server side.
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .framing(Framing::lines())
        .start()
        .expect("start");
    let events = server.events();
    let ready = events.ready_fd().expect("ready fd");
    assert!(ready.arm());
    let _peer = Peer::connect(server.local_addr());
    assert!(wait_readable(ready.as_raw_fd()), "the connect's wakeup");
    let fd = ready.as_raw_fd();
    let r = &ready;
    in_child("arm server ready fd", || i32::from(r.arm()));
    assert!(
        readable(fd),
        "the child's arm read away the parent's wakeup: its wait would last for good"
    );
    assert!(matches!(events.try_recv(), Some(Event::Connected(_))));

    // Client side.
    let client = TcpClient::builder(server.local_addr())
        .framing(Framing::lines())
        .connect()
        .expect("connect");
    let cready = client.ready_fd().expect("client ready fd");
    assert!(cready.arm());
    wait_until("the client's connection accepted", || {
        server.client_count() == 2
    });
    assert_eq!(server.send_all(b"hello"), 2);
    assert!(wait_readable(cready.as_raw_fd()), "the message's wakeup");
    let cr = &cready;
    in_child("arm client ready fd", || i32::from(cr.arm()));
    assert!(
        readable(cready.as_raw_fd()),
        "the child's arm read away the parent client's wakeup"
    );
    assert_eq!(client.recv_timeout(TIMEOUT).expect("message"), b"hello");
    client.close();
    server.stop();
}

#[test]
fn a_child_starts_its_own_server_and_client_and_a_grandchild_too() {
    let server = echo_server(Framing::lines());
    let client = TcpClient::builder(server.local_addr())
        .framing(Framing::lines())
        .connect()
        .expect("connect");
    let (s, c) = (server.clone(), client.clone());
    in_child("child's own server", move || {
        // The parent's handles: stopped here.
        if s.is_running() || c.send(b"x").is_ok() {
            return 1;
        }
        let (own, oc, echoed) = own_echo(b"child");
        if !echoed {
            return 2;
        }
        // A grandchild, holding its grandparent's and parent's handles.
        // SAFETY: the grandchild runs only tcphub calls and `_exit`.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            let code = (|| {
                if own.is_running() || oc.is_open() || s.is_running() {
                    return 1;
                }
                if !matches!(oc.send(b"x"), Err(Error::NotRunning))
                    || !matches!(oc.recv_timeout(TIMEOUT), Err(Error::NotRunning))
                {
                    return 2;
                }
                own.stop();
                oc.close();
                c.close();
                s.stop();
                let (g, gc, echoed) = own_echo(b"grandchild");
                if !echoed {
                    return 3;
                }
                gc.close();
                g.stop();
                0
            })();
            // SAFETY: ends the grandchild at once.
            unsafe { libc::_exit(code) };
        }
        match wait_child_or_kill(pid) {
            Some(st) if libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0 => {}
            Some(st) => return 10 + libc::WEXITSTATUS(st),
            None => return 20,
        }
        // The child's own server and client go on after the grandchild.
        oc.send(b"again").expect("send in child");
        if oc.recv_timeout(TIMEOUT).ok().as_deref() != Some(&b"again"[..]) {
            return 3;
        }
        oc.close();
        own.stop();
        0
    });
    client.send(b"parent").expect("send");
    assert_eq!(client.recv_timeout(TIMEOUT).expect("echo"), b"parent");
    client.close();
    server.stop();
}

/// A fork inside a callback: the child is a copy of the loop thread, in the
/// callback. It must be able to use tcphub (its own new server) there and
/// `_exit`, and the parent keeps serving.
#[test]
fn a_fork_inside_a_callback_whose_child_exits_leaves_the_parent_serving() {
    let (tx, rx) = std::sync::mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let server = lines_server(10)
        .on_message(move |h, c, m| {
            if m == b"fork" {
                // SAFETY: the child only runs tcphub calls and `_exit`.
                let pid = unsafe { libc::fork() };
                if pid == 0 {
                    let code = (|| {
                        if h.is_running() || h.send(c.id, b"from child").is_ok() {
                            return 1;
                        }
                        h.stop(); // on an I/O thread copy: returns at once
                        let (own, oc, echoed) = own_echo(b"child");
                        if !echoed {
                            return 2;
                        }
                        oc.close();
                        own.stop();
                        0
                    })();
                    // SAFETY: ends the child at once.
                    unsafe { libc::_exit(code) };
                }
                tx.lock().unwrap().send(pid).unwrap();
                let _ = h.send(c.id, b"forked");
            } else {
                let _ = h.send(c.id, m);
            }
        })
        .start()
        .expect("start");
    let mut peer = Peer::connect(server.local_addr());
    peer.send_line("fork");
    assert_eq!(peer.read_line(), "forked");
    let pid = rx.recv_timeout(TIMEOUT).expect("pid");
    let status = wait_child_or_kill(pid).expect("the child forked in a callback hung");
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "wait status {status:#x}"
    );
    for i in 0..50 {
        peer.send_line(&format!("m{i}"));
        assert_eq!(peer.read_line(), format!("m{i}"));
    }
    server.stop();
}

/// A fork inside a callback whose child returns from the callback (a
/// worker that forgot to `_exit`): the child's copy of the loop thread
/// must not go on serving the parent's sockets (it shares the parent's
/// epoll instance and sockets: it would take the parent's clients' input),
/// and it must end.
#[test]
fn a_child_forked_in_a_callback_that_returns_takes_nothing_from_the_parent() {
    let (tx, rx) = std::sync::mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let me = std::process::id();
    let server = lines_server(10)
        .on_message(move |h, c, m| {
            if m == b"fork" {
                // SAFETY: the child returns into the loop (the case tested).
                let pid = unsafe { libc::fork() };
                if pid != 0 {
                    tx.lock().unwrap().send(pid).unwrap();
                    let _ = h.send(c.id, b"forked");
                }
            } else if std::process::id() == me {
                let _ = h.send(c.id, m);
            } else {
                // The child's copy of the loop took a message of the
                // parent's client: answer so the test sees it.
                let _ = h.send(c.id, b"STOLEN");
            }
        })
        .start()
        .expect("start");
    let mut peer = Peer::connect(server.local_addr());
    peer.send_line("fork");
    assert_eq!(peer.read_line(), "forked");
    let pid = rx.recv_timeout(TIMEOUT).expect("pid");
    let mut child = KillOnDrop(pid);
    for i in 0..200 {
        peer.send_line(&format!("m{i}"));
        assert_eq!(
            peer.read_line(),
            format!("m{i}"),
            "the child served the parent's client"
        );
    }
    child.0 = 0;
    let status = wait_child_or_kill(pid);
    assert!(
        status.is_some(),
        "the child forked in a callback never ended"
    );
    server.stop();
}

/// As above for a client: a child forked in a client's callback that
/// returns is a copy of the client's I/O thread, whose socket is the
/// parent's: it must not take the parent's input, nor write, and it must
/// end.
#[test]
fn a_child_forked_in_a_client_callback_that_returns_takes_nothing_from_the_parent() {
    let server = echo_server(Framing::lines());
    let (pid_tx, pid_rx) = std::sync::mpsc::channel();
    let (msg_tx, msg_rx) = std::sync::mpsc::channel::<Vec<u8>>();
    let (pid_tx, msg_tx) = (std::sync::Mutex::new(pid_tx), std::sync::Mutex::new(msg_tx));
    let me = std::process::id();
    let client = TcpClient::builder(server.local_addr())
        .framing(Framing::lines())
        .on_message(move |_c, m| {
            if m == b"fork" {
                // SAFETY: the child returns into the client's loop (the
                // case tested).
                let pid = unsafe { libc::fork() };
                if pid != 0 {
                    pid_tx.lock().unwrap().send(pid).unwrap();
                }
            } else if std::process::id() == me {
                msg_tx.lock().unwrap().send(m.to_vec()).unwrap();
            }
        })
        .connect()
        .expect("connect");
    client.send(b"fork").expect("send");
    let pid = pid_rx.recv_timeout(TIMEOUT).expect("pid");
    let mut child = KillOnDrop(pid);
    for i in 0..200 {
        let line = format!("m{i}");
        client.send(line.as_bytes()).expect("send");
        let got = msg_rx
            .recv_timeout(TIMEOUT)
            .expect("the child's copy of the client took the parent's input");
        assert_eq!(got, line.as_bytes());
    }
    child.0 = 0;
    let status = wait_child_or_kill(pid);
    assert!(
        status.is_some(),
        "the child forked in a client callback never ended"
    );
    client.close();
    server.stop();
}
