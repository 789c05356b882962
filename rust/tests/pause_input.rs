//! `ServerHandle::pause_input` / `resume_input`: backpressure for an
//! application whose work queue is full. While paused the loops leave what
//! clients send in the kernel (TCP slows the senders), nothing is lost,
//! sends and accepting go on, and the timeouts wait; on resume everything
//! sent meanwhile arrives, in order.

mod support;

use std::io::{ErrorKind, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use support::*;
use tcphub::{DisconnectReason, Event, Events};

/// The next event that is not a `Connected`.
fn next_non_connect(events: &Events) -> Event {
    loop {
        match next_event(events) {
            Event::Connected(_) => continue,
            other => return other,
        }
    }
}

#[test]
fn paused_input_waits_in_the_kernel_and_arrives_in_order_on_resume() {
    let server = lines_server(10).start().unwrap();
    let events = server.events();
    server.pause_input();
    assert!(server.input_paused());
    let mut alice = Peer::connect(server.local_addr());
    // Accepting goes on while paused.
    assert!(matches!(next_event(&events), Event::Connected(_)));
    for i in 0..100 {
        alice.send_line(&format!("line {i}"));
    }
    // Sends go on too.
    let id = alice.id_on(&server);
    server.send(id, b"while paused").unwrap();
    assert_eq!(alice.read_line(), "while paused");
    assert!(
        matches!(
            events.recv_timeout(Duration::from_millis(300)),
            Err(tcphub::Error::Timeout)
        ),
        "nothing is read while paused"
    );
    server.resume_input();
    assert!(!server.input_paused());
    for i in 0..100 {
        match next_event(&events) {
            Event::Message(_, m) => assert_eq!(m, format!("line {i}").as_bytes()),
            other => panic!("line {i}: {other:?}"),
        }
    }
    server.stop();
}

#[test]
fn a_writer_is_held_up_by_tcp_while_paused_and_loses_nothing() {
    // ~4 MiB: far past the socket buffers, which are made small here. (Left
    // to the kernel, the writer's send buffer may start at or grow to 4 MiB,
    // tcp_wmem's usual maximum, and the server's receive buffer starts at
    // tcp_rmem's default, which a host may set to megabytes: all of it fit
    // then, and the writer was never held up.)
    const LINES: usize = 200_000;
    const BUFFER: usize = 16 * 1024;
    let server = lines_server(10).threads(2).start().unwrap();
    let events = server.events();
    server.pause_input();
    // The listening socket: the connection accepted from it inherits its
    // receive buffer (and the window it offers from the handshake on).
    set_recv_buffer_of_listener(server.local_addr(), BUFFER);
    let peer = Peer::connect_with_sndbuf(server.local_addr(), BUFFER);
    let mut stream = peer.stream.try_clone().unwrap();
    stream.set_nonblocking(true).unwrap();
    let data: Vec<u8> = (0..LINES)
        .flat_map(|i| format!("line number {i:08}\n").into_bytes())
        .collect();
    // Write until the kernel pushes back: the server is not reading.
    let mut sent = 0;
    wait_until("the kernel to push back", || {
        match stream.write(&data[sent..]) {
            Ok(n) => sent += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return true,
            Err(e) => panic!("write: {e}"),
        }
        sent == data.len()
    });
    assert!(sent < data.len(), "all {sent} bytes taken while paused");
    let before = server.stats().bytes_in;
    assert!(
        before < sent as u64,
        "the server read {before} of the {sent} bytes sent while paused"
    );
    server.resume_input();
    stream.set_nonblocking(false).unwrap();
    let writer = std::thread::spawn(move || stream.write_all(&data[sent..]));
    let mut got = 0;
    while got < LINES {
        match next_event(&events) {
            Event::Message(_, m) => {
                assert_eq!(m, format!("line number {got:08}").as_bytes());
                got += 1;
            }
            Event::Connected(_) => {}
            other => panic!("{other:?}"),
        }
    }
    writer.join().unwrap().unwrap();
    server.stop();
}

/// Job `i`: a short line (one read holds thousands).
fn line(i: usize) -> String {
    format!("job {i:05}")
}

#[test]
fn a_callback_pauses_at_its_bound_and_a_worker_resumes_it() {
    // The pattern the feature is for: on_message feeds a bounded work
    // queue; at its bound it pauses input, and the worker resumes it once
    // the queue has drained. Every message is handled, in order.
    const MESSAGES: usize = 10_000;
    const BOUND: usize = 50;
    // Jobs waiting; pause and resume are decided under its lock (checked
    // and acted on apart, a pause could land after the worker's last look
    // at an emptied queue, and nobody would resume).
    let queued = Arc::new(Mutex::new(0usize));
    let (to_worker, jobs) = mpsc::channel::<Vec<u8>>();
    let pauses = Arc::new(AtomicUsize::new(0));
    let q = queued.clone();
    let p = pauses.clone();
    let server = lines_server(10)
        .on_message(move |srv, _c, msg| {
            let mut waiting = q.lock().unwrap();
            *waiting += 1;
            to_worker.send(msg.to_vec()).unwrap();
            if *waiting >= BOUND && !srv.input_paused() {
                srv.pause_input();
                p.fetch_add(1, Ordering::SeqCst);
            }
        })
        .start()
        .unwrap();
    let handle = server.clone();
    let worker = std::thread::spawn(move || {
        let mut most = 0;
        for i in 0..MESSAGES {
            let job = jobs.recv_timeout(TIMEOUT).expect("a job");
            assert_eq!(job, line(i).as_bytes());
            std::thread::sleep(Duration::from_micros(20)); // the work
            let mut waiting = queued.lock().unwrap();
            most = most.max(*waiting);
            *waiting -= 1;
            if *waiting < BOUND / 2 && handle.input_paused() {
                handle.resume_input();
            }
        }
        most
    });
    let mut peer = Peer::connect(server.local_addr());
    let all: String = (0..MESSAGES).map(|i| line(i) + "\n").collect();
    peer.send(all.as_bytes()); // 100 KB: a read takes thousands
    let most = worker.join().unwrap();
    assert!(pauses.load(Ordering::SeqCst) > 0, "never paused");
    // A pause from a callback takes effect at once: no message after it
    // (the rest of the read waits for the resume).
    assert!(most <= BOUND, "{most} queued at most");
    server.stop();
}

#[test]
fn the_timeouts_wait_while_paused() {
    let gone = Disconnects::new();
    let server = lines_server(10)
        .idle_timeout(Duration::from_millis(200))
        .frame_timeout(Duration::from_millis(200))
        .on_message(|_srv, _c, _m| {})
        .on_disconnect(gone.recorder())
        .start()
        .unwrap();
    let mut peer = Peer::connect(server.local_addr());
    let id = peer.id_on(&server);
    peer.send(b"half a li"); // a frame started
    wait_until("the half line read", || server.stats().bytes_in == 9);
    server.pause_input();
    // Whether it sends or not, a client is neither idle nor slow while
    // the server is the one not reading.
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(gone.reason_of(id), None, "cut while paused");
    server.resume_input();
    // Once resumed, the timeouts apply again.
    let why = gone.wait_for(id);
    assert!(
        matches!(
            why,
            DisconnectReason::IdleTimeout | DisconnectReason::FrameTimeout
        ),
        "{why:?}"
    );
    server.stop();
}

#[test]
fn a_client_that_leaves_while_paused_is_reported_after_its_messages_on_resume() {
    let server = lines_server(10).start().unwrap();
    let events = server.events();
    server.pause_input();
    let mut peer = Peer::connect(server.local_addr());
    peer.send_line("last words");
    drop(peer);
    assert!(matches!(next_event(&events), Event::Connected(_)));
    server.resume_input();
    assert!(matches!(next_non_connect(&events), Event::Message(_, m) if m == b"last words"));
    assert!(matches!(
        next_non_connect(&events),
        Event::Disconnected(_, DisconnectReason::ClosedByPeer)
    ));
    server.stop();
}

#[test]
fn stop_input_while_paused_reads_on_to_drop() {
    // After stop_input() input is read to be dropped, paused or not: a
    // client that keeps writing is not held up.
    let server = lines_server(10).start().unwrap();
    let events = server.events();
    server.pause_input();
    let mut peer = Peer::connect(server.local_addr());
    let id = peer.id_on(&server);
    server.stop_input();
    let block = vec![b'x'; 1 << 20];
    for _ in 0..16 {
        peer.send(&block); // 16 MiB: blocks for good if nobody reads
    }
    peer.send(b"\n");
    server.send(id, b"done").unwrap();
    assert_eq!(peer.read_line(), "done");
    assert!(matches!(next_event(&events), Event::Connected(_)));
    assert!(events.try_recv().is_none(), "no message after stop_input");
    server.stop();
}

#[test]
fn a_pause_after_every_message_loses_and_reorders_nothing() {
    // Each on_message pauses; the test resumes after each. The rest of
    // every read waits stashed across the pause (a frame cut at the read's
    // end included) and is decoded first on the resume.
    const FRAMES: usize = 300;
    let (tx, got) = mpsc::channel::<Vec<u8>>();
    let tx = Mutex::new(tx);
    let server = tcphub::TcpServer::new(0, 10)
        .bind(localhost())
        .framing(tcphub::Framing::length_prefixed())
        .on_message(move |srv, _c, msg| {
            srv.pause_input();
            tx.lock().unwrap().send(msg.to_vec()).unwrap();
        })
        .start()
        .unwrap();
    let mut peer = Peer::connect(server.local_addr());
    let frame = |i: usize| vec![(i % 251) as u8; i % 97];
    let mut all: Vec<u8> = (0..FRAMES).flat_map(|i| lp_frame(&frame(i))).collect();
    let last = lp_frame(&[7u8; 50]);
    all.extend_from_slice(&last[..20]);
    peer.send(&all);
    for i in 0..FRAMES {
        let msg = got.recv_timeout(TIMEOUT).expect("the next message");
        assert_eq!(msg, frame(i), "message {i}");
        assert!(
            got.try_recv().is_err(),
            "a message after the pause (at {i})"
        );
        if i == FRAMES / 2 {
            peer.send(&last[20..]); // the cut frame's end, while paused
        }
        server.resume_input();
    }
    assert_eq!(got.recv_timeout(TIMEOUT).unwrap(), vec![7u8; 50]);
    server.stop();
}

#[test]
fn a_client_whose_input_waited_stashed_is_not_idle_on_the_servers_account() {
    // The callback pauses after "a": "b" and "c", read with it, wait in
    // the stash past the idle timeout. Delivered on the resume, they count
    // as input from then (a review: the client was cut as idle at once).
    const IDLE: Duration = Duration::from_secs(1);
    let gone = Disconnects::new();
    let (tx, got) = mpsc::channel::<Vec<u8>>();
    let tx = Mutex::new(tx);
    let server = lines_server(10)
        .idle_timeout(IDLE)
        .on_message(move |srv, _c, m| {
            if m == b"a" {
                srv.pause_input();
            }
            tx.lock().unwrap().send(m.to_vec()).unwrap();
        })
        .on_disconnect(gone.recorder())
        .start()
        .unwrap();
    let mut peer = Peer::connect(server.local_addr());
    let id = peer.id_on(&server);
    peer.send(b"a\nb\nc\n");
    assert_eq!(got.recv_timeout(TIMEOUT).unwrap(), b"a");
    std::thread::sleep(IDLE * 2); // the pause outlasts the idle timeout
    server.resume_input();
    assert_eq!(got.recv_timeout(TIMEOUT).unwrap(), b"b");
    assert_eq!(got.recv_timeout(TIMEOUT).unwrap(), b"c");
    std::thread::sleep(IDLE / 4);
    assert_eq!(gone.reason_of(id), None, "cut as its stashed input came");
    server.stop();
}
