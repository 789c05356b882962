//! Review "ag" (C-FAILURE): no public function panics on a value a caller
//! may pass — `Duration::MAX` for "forever", `usize::MAX` for "no
//! limit", a huge attempt number. Each is either taken or refused with an
//! error, and the calls that wait return as soon as their condition holds.

mod support;

use std::time::Duration;

use support::{localhost, wait_until, TIMEOUT};
use tcphub::{Decoder, Error, Event, Framing, Reconnect, TcpClient, TcpServer};

const FOREVER: Duration = Duration::MAX;

#[test]
fn review_ag_extreme_values_do_not_panic() {
    // Reconnect's arithmetic.
    let r = Reconnect {
        initial: FOREVER,
        max: FOREVER,
        max_attempts: Some(u32::MAX),
    };
    for attempt in [0, 1, 31, 32, 64, u32::MAX] {
        for jitter in [0.0, 0.5, 1.0, f64::NAN, f64::INFINITY, -1.0] {
            assert!(r.delay(attempt, jitter) <= FOREVER);
        }
    }

    // A decoder with no practical limit.
    for framing in [
        Framing::Lines {
            max_len: usize::MAX,
        },
        Framing::LengthPrefixed {
            max_len: usize::MAX,
        },
    ] {
        let mut d = Decoder::new(framing);
        d.decode(&[0xff, 0xff, 0xff, 0xff, b'a'], |_| {}).unwrap();
        let _ = d.finish();
        assert!(framing.encode(b"x").is_ok());
    }

    // Settings at their extremes: taken or refused, never a panic.
    let refused = TcpServer::new(0, usize::MAX)
        .bind(localhost())
        .keepalive(FOREVER)
        .validate();
    assert!(
        matches!(refused, Err(Error::InvalidConfig(_))),
        "{refused:?}"
    );
    let refused = TcpServer::new(0, 1).busy_poll(FOREVER).validate();
    assert!(
        matches!(refused, Err(Error::InvalidConfig(_))),
        "{refused:?}"
    );

    let server = TcpServer::new(0, usize::MAX)
        .bind(localhost())
        .framing(Framing::LengthPrefixed {
            max_len: usize::MAX,
        })
        .idle_timeout(FOREVER)
        .frame_timeout(FOREVER)
        .linger(FOREVER)
        .hold_for_replies(FOREVER)
        .max_queue_bytes(usize::MAX)
        .event_capacity(usize::MAX)
        .max_clients_per_ip(usize::MAX)
        .backlog(i32::MAX)
        .start()
        .expect("start with extreme settings");
    let client = TcpClient::builder(server.local_addr())
        .framing(Framing::LengthPrefixed {
            max_len: usize::MAX,
        })
        .connect_timeout(FOREVER)
        .linger(FOREVER)
        .max_queue_bytes(usize::MAX)
        .event_capacity(usize::MAX)
        .reconnect(r)
        .connect()
        .expect("connect with extreme settings");
    let events = server.events();
    assert!(events.wait_ready(FOREVER));
    let c = match events.recv_timeout(FOREVER).unwrap() {
        Event::Connected(c) => c,
        other => panic!("{other:?}"),
    };
    client.send_timeout(b"hello", FOREVER).unwrap();
    client.flush(FOREVER).unwrap();
    client.flush_to(client.flush_mark(), FOREVER).unwrap();
    let mut batch = Vec::new();
    while batch.is_empty() {
        events.recv_batch(&mut batch, usize::MAX, TIMEOUT).unwrap();
    }
    assert!(matches!(&batch[0], Event::Message(_, m) if m == b"hello"));
    server.send(c.id, b"back").unwrap();
    assert!(client.wait_ready(FOREVER));
    assert_eq!(client.recv_timeout(FOREVER).unwrap(), b"back");

    assert!(client.close_timeout(FOREVER));
    wait_until("the client's end reaches the server", || {
        events.wait_ready(Duration::from_millis(10))
    });
    assert!(server.stop_timeout(FOREVER));
    assert!(server.wait_timeout(FOREVER));
    // Stopped, every event but the end taken or left: the waits answer.
    while events.recv_timeout(FOREVER).is_ok() {}
    assert!(matches!(
        client.next_event(FOREVER),
        Err(Error::NotRunning) | Ok(_)
    ));
}

/// The address helpers take any text (multi-byte characters where a
/// byte index might land, brackets, zones, colons) without a panic, and a
/// decoder fed again after its error does not panic either.
#[test]
fn review_ag_any_text_and_misuse_do_not_panic() {
    let pieces = [
        "",
        "[",
        "]",
        "%",
        ":",
        "::",
        "1",
        "127.0.0.1",
        "::1",
        "é",
        "ß",
        "💥",
        "\0",
        " ",
        "fe80",
        "[::1]",
        "%eth0",
        "localhost",
        "0x7f",
        "010",
        "\u{feff}",
        "'",
        "\"",
        ".",
    ];
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..20_000 {
        let n = (next() % 6) as usize;
        let text: String = (0..n)
            .map(|_| pieces[(next() % pieces.len() as u64) as usize])
            .collect();
        let _ = tcphub::parse_ip(&text);
        let _ = tcphub::parse_bind_ip(&text);
        let _ = tcphub::parse_client_ip(&text);
        let _ = tcphub::client_host(&text);
        let _ = tcphub::unbracket_host(&text);
    }

    for framing in [
        Framing::Lines { max_len: 2 },
        Framing::LengthPrefixed { max_len: 2 },
    ] {
        let mut d = Decoder::new(framing);
        assert!(d.decode(b"\0\0\0\x09abcdefghi\n", |_| {}).is_err());
        let _ = d.decode(b"\0\0\0\x01a\nb\n", |_| {});
        let _ = d.finish();
        let _ = d.decode(b"more", |_| {});
    }
}
