//! TcpClient over loopback: framing, pull and callbacks, bounded queue,
//! errors, and reconnect with backoff.

mod support;

use std::net::{SocketAddr, TcpListener};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tcphub::{
    ClientEvent, DisconnectReason, Error, Framing, Reconnect, ServerHandle, TcpClient, TcpServer,
};

const WAIT: Duration = Duration::from_secs(20);

fn echo_server(framing: Framing, port: u16) -> ServerHandle {
    TcpServer::new(port, 100)
        .bind("127.0.0.1".parse().unwrap())
        .framing(framing)
        .on_message(|srv, c, msg| {
            let _ = srv.send(c.id, msg);
        })
        .start()
        .expect("start echo server")
}

/// Next event that is not a message, skipping messages.
fn next_control(c: &TcpClient) -> ClientEvent {
    loop {
        match c.next_event(WAIT).expect("event in time") {
            ClientEvent::Message(_) => continue,
            ev => return ev,
        }
    }
}

#[test]
fn echo_round_trip_in_every_framing() {
    for framing in [Framing::lines(), Framing::length_prefixed()] {
        let server = echo_server(framing, 0);
        let client = TcpClient::builder(server.local_addr())
            .framing(framing)
            .connect()
            .unwrap();
        assert_eq!(client.peer_addr(), server.local_addr());
        for i in 0..100 {
            client.send(format!("message {i}").as_bytes()).unwrap();
        }
        for i in 0..100 {
            assert_eq!(
                client.recv_timeout(WAIT).unwrap(),
                format!("message {i}").into_bytes()
            );
        }
        // A large frame crosses many reads and writes intact.
        let big: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
        if framing != Framing::lines() {
            client.send(&big).unwrap();
            assert_eq!(client.recv_timeout(WAIT).unwrap(), big);
        }
        client.close();
    }
}

#[test]
fn refused_connection_names_the_address() {
    let (_held, addr) = refusing("127.0.0.1").expect("an IPv4 loopback port");
    match TcpClient::connect(addr) {
        Err(e @ Error::Connect { .. }) => {
            let text = e.to_string();
            assert!(text.contains(&addr.to_string()), "{text}");
            assert!(text.contains("connection refused"), "{text}");
            assert_eq!(
                e.io_error().unwrap().kind(),
                std::io::ErrorKind::ConnectionRefused
            );
        }
        other => panic!("expected a connect error, got {other:?}"),
    }
}

/// A socket bound to `ip` on a port the system picks, not listening, and
/// its address: a connection to it is refused while the socket is held,
/// and no other socket (another test's server) can take the port meanwhile.
/// `None` when the address cannot be bound (no IPv6 on this machine).
fn refusing(ip: &str) -> Option<(socket2::Socket, SocketAddr)> {
    let addr = SocketAddr::new(ip.parse().ok()?, 0);
    let sock = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        None,
    )
    .ok()?;
    sock.bind(&addr.into()).ok()?;
    let bound = sock.local_addr().ok()?.as_socket()?;
    Some((sock, bound))
}

/// A name that resolves to several addresses (`localhost` → `::1` and
/// `127.0.0.1`) and none accepts: the error names every address tried,
/// each with its own error, and keeps the first one's `io::Error`.
#[test]
fn refused_connection_names_every_address_tried() {
    let (_held_v4, v4) = refusing("127.0.0.1").expect("an IPv4 loopback port");
    // Without IPv6 the list is two refusing IPv4 ports: still several
    // addresses, each refused.
    let (_held_first, first) = refusing("::1").unwrap_or_else(|| {
        eprintln!("no IPv6 loopback here: two IPv4 addresses instead");
        refusing("127.0.0.1").expect("another IPv4 loopback port")
    });
    let addrs = [first, v4];
    let err = TcpClient::builder(&addrs[..])
        .connect_timeout(WAIT)
        .connect()
        .unwrap_err();
    let text = err.to_string();
    assert_eq!(
        text,
        format!("cannot connect to {first}: connection refused; {v4}: connection refused"),
    );
    assert!(
        matches!(&err, Error::Connect { addr, .. } if *addr == first),
        "{err:?}"
    );
    assert_eq!(
        err.io_error().map(std::io::Error::kind),
        Some(std::io::ErrorKind::ConnectionRefused)
    );
}

#[test]
fn an_address_that_does_not_resolve_is_a_resolve_error() {
    // Fails in the resolver without asking any name server.
    match TcpClient::connect("127.0.0.1:99999") {
        Err(e @ Error::Resolve { .. }) => {
            assert_eq!(e.code(), 4, "reported like a connect failure");
            let text = e.to_string();
            assert!(
                text.starts_with("cannot resolve the server address 127.0.0.1:99999: "),
                "{text}"
            );
            assert!(!text.contains("0.0.0.0"), "{text}");
        }
        other => panic!("expected a resolve error, got {other:?}"),
    }
    let none: &[SocketAddr] = &[];
    assert!(matches!(
        TcpClient::connect(none),
        Err(Error::Resolve { .. })
    ));
}

/// An empty host (C's `tcphub_client_connect("", ...)`, Python's
/// `TcpClient("", port)`) was looked up as a name and reported as "cannot
/// resolve the server address :1: ... Name or service not known", a
/// connect error; it is an invalid argument that says what is wrong. Port
/// 0 said "connection refused", as if the server were down.
#[test]
fn an_empty_host_or_port_zero_is_a_configuration_error() {
    let says = |err: &Error, what: &str| {
        matches!(err, Error::InvalidConfig(m) if m.contains(what)) && err.code() == 2
    };
    let empty: [Result<TcpClient, Error>; 4] = [
        TcpClient::connect(("", 1)),
        TcpClient::connect((String::new(), 8001)),
        TcpClient::connect(":8001"),
        TcpClient::connect(("", 0)),
    ];
    for result in empty {
        let err = result.unwrap_err();
        assert!(says(&err, "the host is empty"), "{err:?}");
        assert_eq!(
            err.to_string(),
            "invalid configuration: the host is empty: give the server's name or IP address"
        );
    }
    for zero in [
        TcpClient::connect(("127.0.0.1", 0)),
        TcpClient::connect(SocketAddr::from(([127, 0, 0, 1], 0))),
    ] {
        let err = zero.unwrap_err();
        assert!(says(&err, "port 0"), "{err:?}");
        assert_eq!(
            err.to_string(),
            "invalid configuration: cannot connect to 127.0.0.1:0: port 0 is no server's port"
        );
    }
}

/// A `(host, port)` pair with the IPv6 host in brackets, as tcphub prints
/// addresses (`[::1]:8001`), was looked up as a name by std and failed with
/// `Error::Resolve` ("failed to lookup address information"), while
/// `"[::1]:8001"` and `("::1", 8001)` connect. All three connect now.
#[test]
fn a_bracketed_ipv6_host_in_a_pair_connects() {
    let Ok(server) = TcpServer::new(0, 10)
        .bind("::1".parse().unwrap())
        .framing(Framing::lines())
        .on_message(|srv, c, msg| {
            let _ = srv.send(c.id, msg);
        })
        .start()
    else {
        eprintln!("skipped: no IPv6 loopback here");
        return;
    };
    let port = server.local_addr().port();
    let clients = [
        TcpClient::builder(("[::1]", port)),
        TcpClient::builder((String::from("[::1]"), port)),
        TcpClient::builder(format!("[::1]:{port}")),
        TcpClient::builder(("::1", port)),
    ];
    for builder in clients {
        let client = builder.framing(Framing::lines()).connect().unwrap();
        assert_eq!(client.peer_addr(), server.local_addr());
        client.send(b"hi").unwrap();
        assert_eq!(client.recv_timeout(WAIT).unwrap(), b"hi");
    }
    // Brackets around what is no IPv6 address are still looked up as given.
    let err = TcpClient::connect(("[127.0.0.1]", port)).unwrap_err();
    assert!(matches!(err, Error::Resolve { .. }), "{err:?}");
}

#[test]
fn send_never_blocks_and_reports_a_full_queue() {
    // A peer that accepts and never reads.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpClient::builder(listener.local_addr().unwrap())
        .max_queue_bytes(256 * 1024)
        .linger(Duration::ZERO)
        .connect()
        .unwrap();
    let (_peer, _) = listener.accept().unwrap();
    let chunk = vec![7u8; 64 * 1024];
    let deadline = Instant::now() + WAIT;
    let err = loop {
        match client.send(&chunk) {
            Ok(()) => assert!(Instant::now() < deadline, "queue never filled"),
            Err(e) => break e,
        }
    };
    match err {
        Error::QueueFull { limit, queued } => {
            assert_eq!(limit, 256 * 1024);
            assert!(queued <= limit);
        }
        other => panic!("expected QueueFull, got {other:?}"),
    }
    assert!(client.queued_bytes() <= 256 * 1024);
    client.close();
    assert!(matches!(client.send(b"x"), Err(Error::NotRunning)));
}

#[test]
fn frame_over_the_limit_is_refused_locally() {
    let server = echo_server(Framing::Lines { max_len: 8 }, 0);
    let client = TcpClient::builder(server.local_addr())
        .framing(Framing::Lines { max_len: 8 })
        .connect()
        .unwrap();
    assert!(matches!(
        client.send(b"123456789"),
        Err(Error::FrameTooLarge { len: 9, max: 8 })
    ));
    client.send(b"12345678").unwrap();
    assert_eq!(client.recv_timeout(WAIT).unwrap(), b"12345678");
}

#[test]
fn server_stop_ends_the_client_with_events() {
    let server = echo_server(Framing::lines(), 0);
    let client = TcpClient::builder(server.local_addr())
        .framing(Framing::lines())
        .connect()
        .unwrap();
    client.send(b"before").unwrap();
    assert_eq!(client.recv_timeout(WAIT).unwrap(), b"before");
    server.stop();
    assert_eq!(
        next_control(&client),
        ClientEvent::Disconnected(DisconnectReason::ClosedByPeer)
    );
    assert_eq!(next_control(&client), ClientEvent::Closed);
    assert!(!client.is_open());
    assert!(matches!(client.send(b"x"), Err(Error::NotRunning)));
    assert!(matches!(client.recv_timeout(WAIT), Err(Error::NotRunning)));
}

#[test]
fn callbacks_run_and_can_reply() {
    let server = echo_server(Framing::lines(), 0);
    let (tx, rx) = mpsc::channel();
    let disc = tx.clone();
    let client = TcpClient::builder(server.local_addr())
        .framing(Framing::lines())
        .on_message(move |c, msg| {
            let n: u32 = std::str::from_utf8(msg).unwrap().parse().unwrap();
            tx.send(n).unwrap();
            if n < 5 {
                c.send((n + 1).to_string().as_bytes()).unwrap();
            }
        })
        .on_disconnect(move |_, why| {
            assert_eq!(*why, DisconnectReason::ClosedByPeer);
            disc.send(99).unwrap();
        })
        .connect()
        .unwrap();
    client.send(b"1").unwrap();
    for want in 1..=5 {
        assert_eq!(rx.recv_timeout(WAIT).unwrap(), want);
    }
    server.stop();
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), 99);
}

#[test]
fn reconnects_with_backoff_and_delivers_what_was_queued() {
    let server = echo_server(Framing::lines(), 0);
    let addr: SocketAddr = server.local_addr();
    let client = TcpClient::builder(addr)
        .framing(Framing::lines())
        .reconnect(Reconnect {
            initial: Duration::from_millis(20),
            max: Duration::from_millis(200),
            max_attempts: None,
        })
        .connect()
        .unwrap();
    client.send(b"first").unwrap();
    assert_eq!(client.recv_timeout(WAIT).unwrap(), b"first");
    let first_local = client.local_addr();
    server.stop();
    // Nobody else takes the port, nor a redial as its own, until the
    // server comes back on it.
    let held = support::hold_port(addr);
    assert_eq!(
        next_control(&client),
        ClientEvent::Disconnected(DisconnectReason::ClosedByPeer)
    );
    // At least one attempt fails while nobody listens.
    match next_control(&client) {
        ClientEvent::Reconnecting { attempt: 1, delay } => {
            assert!(delay <= Duration::from_millis(20))
        }
        other => panic!("expected Reconnecting, got {other:?}"),
    }
    match next_control(&client) {
        ClientEvent::Reconnecting { attempt: 2, delay } => {
            assert!(delay >= Duration::from_millis(20) && delay <= Duration::from_millis(40))
        }
        other => panic!("expected a second attempt, got {other:?}"),
    }
    // Sent while disconnected: kept in the bounded queue.
    client.send(b"while away").unwrap();
    assert!(client.is_open());
    drop(held);
    let server = echo_server(Framing::lines(), addr.port());
    let deadline = Instant::now() + WAIT;
    loop {
        match next_control(&client) {
            ClientEvent::Reconnected { local_addr, .. } => {
                assert_ne!(local_addr, first_local);
                break;
            }
            ClientEvent::Reconnecting { .. } => assert!(Instant::now() < deadline),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(client.is_connected());
    assert_eq!(client.recv_timeout(WAIT).unwrap(), b"while away");
    client.send(b"after").unwrap();
    assert_eq!(client.recv_timeout(WAIT).unwrap(), b"after");
    drop(server);
}

#[test]
fn gives_up_after_max_attempts() {
    let server = echo_server(Framing::lines(), 0);
    let client = TcpClient::builder(server.local_addr())
        .reconnect(Reconnect {
            initial: Duration::from_millis(5),
            max: Duration::from_millis(10),
            max_attempts: Some(3),
        })
        .connect()
        .unwrap();
    server.stop();
    let mut attempts = 0;
    loop {
        match next_control(&client) {
            ClientEvent::Reconnecting { attempt, .. } => {
                attempts += 1;
                assert_eq!(attempt, attempts);
            }
            ClientEvent::Disconnected(_) => {}
            ClientEvent::Closed => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(attempts, 3);
    assert!(matches!(client.send(b"x"), Err(Error::NotRunning)));
    // Closed for good: the final reason is that reconnecting gave up (it
    // kept the drop's "closed by peer", as if the client had ended there).
    let why = client.disconnect_reason().expect("a reason");
    assert_eq!(why, DisconnectReason::ReconnectGaveUp { attempts: 3 });
    assert_eq!(why.to_string(), "gave up reconnecting after 3 attempts");
    assert_eq!(why.code(), 10);
}

#[test]
fn close_flushes_queued_messages() {
    let (tx, rx) = mpsc::channel();
    let server = TcpServer::new(0, 10)
        .bind("127.0.0.1".parse().unwrap())
        .framing(Framing::length_prefixed())
        .on_message(move |_, _, msg| tx.send(msg.to_vec()).unwrap())
        .start()
        .unwrap();
    let client = TcpClient::builder(server.local_addr())
        .framing(Framing::length_prefixed())
        .connect()
        .unwrap();
    for i in 0..1000u32 {
        client.send(&i.to_be_bytes()).unwrap();
    }
    client.close();
    for i in 0..1000u32 {
        assert_eq!(rx.recv_timeout(WAIT).unwrap(), i.to_be_bytes());
    }
}

#[test]
fn close_from_a_consumer_that_stopped_reading_returns_without_waiting_for_it() {
    // Pull mode with a tiny queue and a long linger: the consumer takes one
    // message, stops, and closes. The I/O thread must not wait (up to the
    // linger) for the consumer to make room for the final events; they are
    // handed over and still come, in order, after the queued messages.
    let server = TcpServer::new(0, 10)
        .bind("127.0.0.1".parse().unwrap())
        .framing(Framing::LengthPrefixed { max_len: 1024 })
        .start()
        .expect("start");
    let events = server.events();
    let client = TcpClient::builder(server.local_addr())
        .framing(Framing::LengthPrefixed { max_len: 1024 })
        .event_capacity(2)
        .linger(Duration::from_secs(120))
        .connect()
        .expect("connect");
    let id = loop {
        if let Ok(tcphub::Event::Connected(c)) = events.recv_timeout(WAIT) {
            break c.id;
        }
    };
    for i in 0..200u32 {
        server.send(id, &i.to_be_bytes()).expect("send");
    }
    // The first message proves the client's I/O thread has read; the rest
    // of that read waits in its backlog behind the full queue.
    assert_eq!(
        client.next_event(WAIT).expect("first message"),
        ClientEvent::Message(0u32.to_be_bytes().to_vec())
    );
    let start = Instant::now();
    client.close();
    assert!(
        start.elapsed() < WAIT,
        "close() waited {:?} for the consumer",
        start.elapsed()
    );
    let mut next = 1u32;
    loop {
        match client.next_event(WAIT).expect("event") {
            ClientEvent::Message(m) => {
                assert_eq!(m, next.to_be_bytes().to_vec(), "messages stay in order");
                next += 1;
            }
            ClientEvent::Disconnected(why) => {
                assert_eq!(why, DisconnectReason::ClosedLocally);
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        client.next_event(WAIT).expect("closed"),
        ClientEvent::Closed
    );
    assert!(matches!(client.next_event(WAIT), Err(Error::NotRunning)));
    server.stop();
}
