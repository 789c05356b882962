//! `ServerHandle::stop_input()`, the first half of a two-phase shutdown: no
//! more input is read or handed out, while sends, the queued events and the
//! clients' connections go on until `stop()`. Before it a pull-mode server
//! could only `stop()`, after which the replies to the events it had queued
//! were refused (the API review's request/response service with a worker
//! pool).

mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use support::*;
use tcphub::{DisconnectReason, Event, Framing, TcpServer};

/// How long "nothing more arrives" is watched for: long enough for a loop
/// that wrongly reads to have read (a loop turn takes microseconds), short
/// enough for the suite.
const QUIET: Duration = Duration::from_millis(300);

#[test]
fn pull_mode_answers_what_it_took_and_takes_nothing_more() {
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .framing(Framing::lines())
        .start()
        .unwrap();
    let events = server.events();
    let mut alice = Peer::connect(server.local_addr());
    let mut bob = Peer::connect(server.local_addr());
    alice.send_line("question 1");
    bob.send_line("question 2");
    let mut asked = Vec::new();
    while asked.len() < 2 {
        if let Event::Message(c, m) = next_event(&events) {
            asked.push((c.id, m));
        }
    }
    server.stop_input();
    server.stop_input(); // idempotent
    assert!(server.is_running(), "stop_input() is not a stop");
    // More requests: never handed out.
    alice.send_line("question 3");
    bob.send_line("question 4");
    for (id, q) in &asked {
        let answer = format!("answer to {}", String::from_utf8_lossy(q));
        server.send(*id, answer.as_bytes()).unwrap();
    }
    assert_eq!(alice.read_line(), "answer to question 1");
    assert_eq!(bob.read_line(), "answer to question 2");
    assert_eq!(
        server.send_all(b"bye"),
        2,
        "broadcasts still reach everyone"
    );
    assert_eq!(alice.read_line(), "bye");
    assert_eq!(bob.read_line(), "bye");
    match events.recv_timeout(QUIET) {
        Err(tcphub::Error::Timeout) => {}
        other => panic!("an event after stop_input(): {other:?}"),
    }
    server.stop();
    alice.expect_eof();
    bob.expect_eof();
    let mut rest = Vec::new();
    while let Some(e) = events.try_recv() {
        rest.push(e);
    }
    assert!(
        rest.iter()
            .all(|e| matches!(e, Event::Disconnected(_, DisconnectReason::ServerStopped))),
        "only the stop's disconnects follow: {rest:?}"
    );
    assert_eq!(rest.len(), 2, "{rest:?}");
}

#[test]
fn a_worker_thread_answers_after_the_input_stopped() {
    let (to_worker, jobs) = mpsc::channel::<(tcphub::ClientId, Vec<u8>)>();
    let to_worker = std::sync::Mutex::new(to_worker);
    let handed = Arc::new(AtomicU64::new(0));
    let h = handed.clone();
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .framing(Framing::lines())
        .on_message(move |_srv, c, msg| {
            h.fetch_add(1, Ordering::SeqCst);
            to_worker
                .lock()
                .unwrap()
                .send((c.id, msg.to_vec()))
                .unwrap();
        })
        .start()
        .unwrap();
    let mut client = Peer::connect(server.local_addr());
    client.send_line("job 1");
    let (id, job) = jobs.recv_timeout(TIMEOUT).expect("the job");
    server.stop_input();
    client.send_line("job 2");
    // The worker finishes its job after the input stopped.
    let srv = server.clone();
    let worker = std::thread::spawn(move || {
        let reply = format!("done: {}", String::from_utf8_lossy(&job));
        srv.send(id, reply.as_bytes())
    });
    worker
        .join()
        .unwrap()
        .expect("a reply after stop_input() is sent");
    assert_eq!(client.read_line(), "done: job 1");
    assert!(
        jobs.recv_timeout(QUIET).is_err(),
        "no job is handed out after stop_input()"
    );
    assert_eq!(handed.load(Ordering::SeqCst), 1);
    server.stop();
    client.expect_eof();
}

#[test]
fn the_idle_timeout_waits_while_the_input_is_stopped() {
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .framing(Framing::lines())
        .idle_timeout(Duration::from_millis(100))
        .start()
        .unwrap();
    let events = server.events();
    let mut client = Peer::connect(server.local_addr());
    assert!(matches!(next_event(&events), Event::Connected(_)));
    server.stop_input();
    // Several idle timeouts pass: nobody is cut for not being read.
    match events.recv_timeout(Duration::from_millis(800)) {
        Err(tcphub::Error::Timeout) => {}
        other => panic!("an event while the input is stopped: {other:?}"),
    }
    assert_eq!(server.client_count(), 1);
    assert_eq!(server.send_all(b"still here"), 1);
    assert_eq!(client.read_line(), "still here");
    server.stop();
    assert!(matches!(
        next_event(&events),
        Event::Disconnected(_, DisconnectReason::ServerStopped)
    ));
}

#[test]
fn a_client_that_connects_meanwhile_is_accepted_and_closed_by_the_stop() {
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .framing(Framing::lines())
        .start()
        .unwrap();
    let events = server.events();
    server.stop_input();
    let mut late = Peer::connect(server.local_addr());
    late.send_line("not read");
    let Event::Connected(c) = next_event(&events) else {
        panic!("no Connected for the late client");
    };
    server.send(c.id, b"welcome").unwrap();
    assert_eq!(late.read_line(), "welcome");
    server.stop();
    late.expect_eof();
    assert!(matches!(
        next_event(&events),
        Event::Disconnected(_, DisconnectReason::ServerStopped)
    ));
    let stats = server.stats();
    assert_eq!((stats.msgs_in, stats.bytes_in), (0, 0), "{stats:?}");
}
