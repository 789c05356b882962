//! `ReadyFd`: a descriptor readable when pull-mode events can be taken,
//! for waiting in another event loop. Armed, it becomes readable at the
//! next event or at the end; not before, and not again once read by the
//! next `arm`. Many may watch one queue; a dropped one lets its
//! descriptors go.

mod support;

use std::os::fd::AsRawFd;
use std::time::Duration;

use support::*;
use tcphub::{ClientEvent, Event, Framing, ReadyFd, TcpClient, TcpServer};

/// Whether `fd` becomes readable within `ms` milliseconds.
fn readable(fd: &ReadyFd, ms: i32) -> bool {
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd for the call.
    let n = unsafe { libc::poll(&mut pfd, 1, ms) };
    n == 1 && pfd.revents & libc::POLLIN != 0
}

/// Taken by each test: one counts the process's open descriptors, which
/// the other tests' sockets would move (CI saw 118 where 116 were due).
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner())
}

fn pull_server() -> tcphub::ServerHandle {
    lines_server(100).start().expect("server")
}

#[test]
fn an_armed_descriptor_becomes_readable_at_the_next_event_and_not_before() {
    let _alone = one_at_a_time();
    let server = pull_server();
    let events = server.events();
    let ready = events.ready_fd().expect("ready_fd");
    assert!(ready.arm(), "nothing queued: armed");
    assert!(!readable(&ready, 50), "readable with nothing queued");
    let mut peer = Peer::connect(server.local_addr());
    assert!(
        readable(&ready, 10_000),
        "the connect did not make it readable"
    );
    // Level-triggered until the next arm, which finds the event waiting.
    assert!(readable(&ready, 0));
    assert!(!ready.arm(), "an event waits: not armed");
    assert!(!readable(&ready, 0), "arm reads what made it readable");
    assert!(matches!(events.try_recv(), Some(Event::Connected(_))));
    assert!(ready.arm());
    peer.send_line("hi");
    assert!(readable(&ready, 10_000));
    assert!(matches!(events.try_recv(), Some(Event::Message(..))));
    server.stop();
}

#[test]
fn not_armed_it_stays_quiet() {
    let _alone = one_at_a_time();
    let server = pull_server();
    let events = server.events();
    let ready = events.ready_fd().expect("ready_fd");
    let _peer = Peer::connect(server.local_addr());
    wait_until("the connect queued", || events.len() == 1);
    assert!(!readable(&ready, 50), "readable without being armed");
    server.stop();
}

#[test]
fn the_stop_makes_an_armed_descriptor_readable_and_arm_answers_at_once_after() {
    let _alone = one_at_a_time();
    let server = pull_server();
    let events = server.events();
    let ready = events.ready_fd().expect("ready_fd");
    assert!(ready.arm());
    let stopper = std::thread::spawn({
        let server = server.clone();
        move || {
            std::thread::sleep(Duration::from_millis(50));
            server.stop();
        }
    });
    assert!(
        readable(&ready, 10_000),
        "the stop did not make it readable"
    );
    stopper.join().unwrap();
    assert!(!ready.arm(), "stopped: nothing to wait for");
    assert!(events.try_recv().is_none());
}

#[test]
fn every_armed_descriptor_on_one_queue_is_woken() {
    let _alone = one_at_a_time();
    let server = pull_server();
    let events = server.events();
    let fds: Vec<ReadyFd> = (0..3).map(|_| events.ready_fd().unwrap()).collect();
    for fd in &fds {
        assert!(fd.arm());
    }
    let _peer = Peer::connect(server.local_addr());
    for (i, fd) in fds.iter().enumerate() {
        assert!(readable(fd, 10_000), "descriptor {i} not woken");
    }
    server.stop();
}

#[test]
fn dropped_descriptors_are_closed_and_unwatched() {
    let _alone = one_at_a_time();
    let server = pull_server();
    let events = server.events();
    let before = open_fds();
    let fds: Vec<ReadyFd> = (0..50).map(|_| events.ready_fd().unwrap()).collect();
    // One eventfd each on Linux (this test's platform: it reads /proc).
    assert_eq!(open_fds(), before + 50, "one descriptor each");
    for fd in &fds {
        assert!(fd.arm());
    }
    drop(fds);
    assert_eq!(open_fds(), before);
    // The queue still works, and wakes the one left.
    let ready = events.ready_fd().unwrap();
    assert!(ready.arm());
    let _peer = Peer::connect(server.local_addr());
    assert!(readable(&ready, 10_000));
    server.stop();
}

#[test]
fn a_callback_mode_server_has_none() {
    let _alone = one_at_a_time();
    let server = TcpServer::new(0, 1)
        .bind(localhost())
        .on_message(|_, _, _| {})
        .start()
        .expect("server");
    assert!(matches!(
        server.events().ready_fd(),
        Err(tcphub::Error::CallbackMode)
    ));
    server.stop();
}

/// No wakeup is lost between a look that finds nothing and the wait:
/// 20,000 lines from a peer, taken by a consumer that only ever waits on
/// the descriptor (with a bound that fails the test rather than hang).
#[test]
fn a_consumer_waiting_only_on_the_descriptor_gets_every_event() {
    let _alone = one_at_a_time();
    const LINES: usize = 20_000;
    let server = pull_server();
    let events = server.events();
    let ready = events.ready_fd().expect("ready_fd");
    let addr = server.local_addr();
    let sender = std::thread::spawn(move || {
        let mut peer = Peer::connect(addr);
        for i in 0..LINES {
            peer.send_line(&i.to_string());
            if i % 100 == 0 {
                std::thread::yield_now();
            }
        }
        peer.shutdown_write();
        peer
    });
    let mut got = 0;
    let mut waits = 0;
    'outer: loop {
        while let Some(ev) = events.try_recv() {
            match ev {
                Event::Message(_, m) => {
                    assert_eq!(m, got.to_string().as_bytes());
                    got += 1;
                }
                Event::Disconnected(..) => break 'outer,
                Event::Connected(_) => {}
            }
        }
        if ready.arm() {
            waits += 1;
            assert!(readable(&ready, 10_000), "stuck after {got} lines");
        }
    }
    assert_eq!(got, LINES);
    assert!(waits > 0);
    drop(sender.join().unwrap());
    server.stop();
}

#[test]
fn a_client_s_descriptor_wakes_for_its_messages_and_its_end() {
    let _alone = one_at_a_time();
    let server = pull_server();
    let events = server.events();
    let client = TcpClient::builder(server.local_addr())
        .framing(Framing::lines())
        .connect()
        .expect("connect");
    let ready = client.ready_fd().expect("ready_fd");
    // Its Connected event may be queued already.
    while !ready.arm() {
        client.next_event(Duration::ZERO).expect("an event");
    }
    let id = match next_event(&events) {
        Event::Connected(c) => c.id,
        other => panic!("{other:?}"),
    };
    server.send(id, b"hello").unwrap();
    assert!(
        readable(&ready, 10_000),
        "the message did not make it readable"
    );
    assert_eq!(
        client.next_event(Duration::ZERO).unwrap(),
        ClientEvent::Message(b"hello".to_vec())
    );
    assert!(ready.arm());
    server.stop();
    assert!(readable(&ready, 10_000), "the end did not make it readable");
    loop {
        match client.next_event(Duration::ZERO) {
            Ok(_) => {}
            Err(tcphub::Error::NotRunning) => break,
            Err(tcphub::Error::Timeout) => {
                if ready.arm() {
                    assert!(readable(&ready, 10_000), "stuck before the end");
                }
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert!(!ready.arm(), "ended: nothing to wait for");
}

/// The tokio pattern the `ReadyFd` doc gives: `AsyncFd` around it, arm
/// before each wait, clear tokio's readiness after each wakeup (the next
/// `arm` reads the descriptor). 5,000 lines and the end, taken by a task.
#[test]
fn a_tokio_task_takes_every_event_through_async_fd() {
    let _alone = one_at_a_time();
    use tokio::io::unix::AsyncFd;
    const LINES: usize = 5_000;
    let server = pull_server();
    let events = server.events();
    let addr = server.local_addr();
    let sender = std::thread::spawn(move || {
        let mut peer = Peer::connect(addr);
        for i in 0..LINES {
            peer.send_line(&i.to_string());
        }
        peer.shutdown_write();
        peer
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let got = rt.block_on(async {
        // SAFETY: the ReadyFd owns its descriptor and keeps it open, as
        // it is, for as long as the AsyncFd holds it.
        let ready =
            unsafe { AsyncFd::register(events.ready_fd().expect("ready_fd")) }.expect("AsyncFd");
        let mut got = 0usize;
        loop {
            while let Some(ev) = events.try_recv() {
                match ev {
                    Event::Message(_, m) => {
                        assert_eq!(m, got.to_string().as_bytes());
                        got += 1;
                    }
                    Event::Disconnected(..) => return got,
                    Event::Connected(_) => {}
                }
            }
            if ready.get_ref().arm() {
                let waited = tokio::time::timeout(TIMEOUT, ready.readable()).await;
                let mut guard = waited
                    .unwrap_or_else(|_| panic!("stuck after {got} lines"))
                    .expect("readable");
                guard.clear_ready();
            }
        }
    });
    assert_eq!(got, LINES);
    drop(sender.join().unwrap());
    server.stop();
}
