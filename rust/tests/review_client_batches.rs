//! The client's batched send path (`client_queue.rs`): small messages are
//! framed onto one shared buffer and written in batches of up to 64 KiB,
//! large ones in buffers of their own; what is counted, resent after a
//! reconnect and cut must still be whole messages. These tests drive it
//! over loopback against plain listeners that read what goes over the wire.

mod support;

use std::io::{ErrorKind, Read};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::time::Duration;

use support::*;
use tcphub::{Error, Framing, Reconnect, TcpClient};

/// Message `i`: its number (8 digits) then filler — mostly small (under
/// the 1 KiB batching threshold), every seventh large (a buffer of its own).
fn message(i: usize) -> Vec<u8> {
    let len = if i % 7 == 3 {
        1100 + (i * 37) % 4000
    } else {
        10 + (i * 13) % 900
    };
    let mut m = format!("{i:08}").into_bytes();
    m.resize(len, b'a' + (i % 26) as u8);
    m
}

/// What a stream of `framing` carried: its whole messages, and how many
/// bytes of a last message it cut off.
fn parse(framing: Framing, mut bytes: &[u8]) -> (Vec<Vec<u8>>, usize) {
    let mut out = Vec::new();
    loop {
        let end = match framing {
            Framing::Lines { .. } => bytes.iter().position(|&b| b == b'\n').map(|p| (p, p + 1)),
            _ if bytes.len() < 4 => None,
            _ => {
                let n = u32::from_be_bytes(bytes[..4].try_into().unwrap()) as usize;
                (bytes.len() >= 4 + n).then_some((4 + n, 4 + n))
            }
        };
        let Some((msg_end, next)) = end else {
            return (out, bytes.len());
        };
        let start = if matches!(framing, Framing::Lines { .. }) {
            0
        } else {
            4
        };
        out.push(bytes[start..msg_end].to_vec());
        bytes = &bytes[next..];
    }
}

/// The number a [`message`] carries (checking the rest of it is intact).
fn number(m: &[u8]) -> usize {
    let i: usize = std::str::from_utf8(&m[..8]).unwrap().parse().unwrap();
    assert_eq!(m, message(i), "message {i} arrived altered");
    i
}

/// Reads `s` to its end: the bytes, and whether it ended with a FIN
/// (rather than a reset).
fn read_all(mut s: &TcpStream) -> (Vec<u8>, bool) {
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut got = Vec::new();
    let mut buf = vec![0; 256 * 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return (got, true),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return (got, false),
            Err(e) => panic!("read: {e}"),
        }
    }
}

/// Reads `s` until message `last` of `framing` came: the numbers of the
/// messages it carried.
fn read_until(s: &mut TcpStream, framing: Framing, last: usize) -> Vec<usize> {
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    let (mut got, mut numbers) = (Vec::new(), Vec::new());
    let mut buf = vec![0; 256 * 1024];
    while numbers.last() != Some(&last) {
        let n = s.read(&mut buf).unwrap_or_else(|e| {
            panic!(
                "{e}: {} messages, the last {:?}",
                numbers.len(),
                numbers.last()
            )
        });
        assert!(n > 0, "the stream ended after {} messages", numbers.len());
        got.extend_from_slice(&buf[..n]);
        let (msgs, partial) = parse(framing, &got);
        numbers.extend(msgs.iter().map(|m| number(m)));
        got.drain(..got.len() - partial);
    }
    numbers
}

fn reconnecting(addr: std::net::SocketAddr, framing: Framing, bound: usize) -> TcpClient {
    TcpClient::builder(addr)
        .framing(framing)
        .max_queue_bytes(bound)
        .reconnect(Reconnect {
            initial: Duration::from_millis(20),
            max: Duration::from_millis(50),
            max_attempts: None,
        })
        .connect()
        .expect("connect")
}

/// Sends messages `0..n`, lets the server read part of them, then ends
/// its side: the client drops this connection (reconnect on) with batches
/// partly written. Checks what each connection carried: the next one gets
/// every message from the one the writes stopped in — none split, in
/// order, small and large alike — and none the first connection delivered
/// whole; a first connection that ended with a FIN (the cut was at a
/// message's end) carried no part of a message and lost none. Returns
/// the new connection once the count of queued bytes is back to 0.
fn cut_and_resend(
    listener: &TcpListener,
    client: &TcpClient,
    framing: Framing,
    n: usize,
    part: usize,
) -> TcpStream {
    let (first, _) = listener.accept().expect("accept");
    // Little waits in the client's kernel (which a reset throws away):
    // what the server gets is about what the client counts as written.
    set_send_buffer_of(client.local_addr(), 4096);
    for i in 0..n {
        client.send(&message(i)).expect("send");
    }
    let mut head = vec![0; part];
    (&first).read_exact(&mut head).expect("read a part");
    first.shutdown(Shutdown::Write).unwrap();
    let (rest, fin) = read_all(&first);
    head.extend_from_slice(&rest);
    let (old, partial) = parse(framing, &head);
    let old: Vec<usize> = old.iter().map(|m| number(m)).collect();
    assert!(old.iter().copied().eq(0..old.len()));
    if fin {
        assert_eq!(partial, 0, "a FIN after part of a message");
    }
    let (mut second, _) = listener.accept().expect("the reconnect");
    assert!(old.len() < n, "the first connection carried everything");
    let new = read_until(&mut second, framing, n - 1);
    let first_new = new[0];
    assert!(
        new.iter().copied().eq(first_new..n),
        "the new connection's messages are not {first_new}..{n} in order"
    );
    assert!(
        first_new >= old.len(),
        "message {first_new} resent, the first connection had 0..{} whole",
        old.len()
    );
    if fin {
        assert_eq!(first_new, old.len(), "lost with a FIN");
    }
    wait_until("the queue count back to 0", || client.queued_bytes() == 0);
    second
}

#[test]
fn a_drop_in_the_middle_of_batches_resends_whole_messages_from_the_cut() {
    for (round, framing) in [
        Framing::Lines { max_len: 1 << 20 },
        Framing::length_prefixed(),
    ]
    .into_iter()
    .cycle()
    .take(6)
    .enumerate()
    {
        let listener = listener_with_rcvbuf(64 * 1024);
        let client = reconnecting(listener.local_addr().unwrap(), framing, 256 << 20);
        cut_and_resend(&listener, &client, framing, 20_000, 50_000 + round * 70_001);
        client.close();
    }
}

/// After a cut and a resend, the count behind the bound is back to
/// nothing: with no connection to write to, `send` takes messages of
/// mixed sizes (small ones batched, large ones not) exactly up to the
/// bound — their framed bytes plus 48 for each — and the queue count is
/// their bytes; then all of them arrive, whole and in order.
#[test]
fn after_a_cut_the_bound_is_exact_for_mixed_sizes_and_everything_arrives() {
    const LIMIT: usize = 32 << 20;
    let framing = Framing::Lines { max_len: 1 << 20 };
    let listener = listener_with_rcvbuf(64 * 1024);
    let addr = listener.local_addr().unwrap();
    let client = reconnecting(addr, framing, LIMIT);
    let second = cut_and_resend(&listener, &client, framing, 20_000, 100_000);
    // No server (the listener gone first: no redial is taken): nothing is
    // written while the queue fills. (Its port held meanwhile: a redial
    // could take it as its own, and the listener below could not bind it.)
    drop(listener);
    drop(second);
    let held = hold_port(addr);
    wait_until("the client between connections", || !client.is_connected());
    let (mut queued, mut sent) = (0usize, Vec::new());
    let err = loop {
        let i = 100_000 + sent.len();
        let m = message(i);
        let framed = m.len() + 1;
        let fits = queued == 0 || queued + framed + (sent.len() + 1) * 48 <= LIMIT;
        match client.send(&m) {
            Ok(()) => {
                assert!(
                    fits,
                    "message {} accepted past the bound ({queued} bytes queued)",
                    sent.len()
                );
                queued += framed;
                sent.push(i);
                assert_eq!(client.queued_bytes(), queued);
            }
            Err(e) => {
                assert!(
                    !fits,
                    "message {} refused within the bound ({queued} bytes queued): {e}",
                    sent.len()
                );
                break e;
            }
        }
    };
    assert!(
        matches!(err, Error::QueueFull { queued: q, limit: LIMIT } if q == queued),
        "{err:?}"
    );
    drop(held);
    let listener = TcpListener::bind(addr).expect("the same port again");
    let (mut again, _) = listener.accept().expect("the reconnect");
    let got = read_until(&mut again, framing, *sent.last().unwrap());
    assert_eq!(got, sent);
    wait_until("the queue count back to 0", || client.queued_bytes() == 0);
    client.close();
    assert_eq!(client.queued_bytes(), 0);
}

/// `close()` whose linger time runs out with batches of small lines half
/// written to a server that does not read: the connection is reset when
/// that is in the middle of a line; a FIN comes only after a whole one, so
/// the server never takes a line's start for a last line. What it got is
/// whole lines, in order.
#[test]
fn a_close_out_of_linger_time_in_the_middle_of_a_batch_ends_no_line_halfway() {
    let framing = Framing::Lines { max_len: 1 << 20 };
    for round in 0..4 {
        let listener = listener_with_rcvbuf(64 * 1024);
        let client = TcpClient::builder(listener.local_addr().unwrap())
            .framing(framing)
            .max_queue_bytes(64 << 20)
            .linger(Duration::from_millis(100))
            .connect()
            .expect("connect");
        let (server, _) = listener.accept().expect("accept");
        set_send_buffer_of(client.local_addr(), 4096);
        for i in 0..20_000 {
            client.send(&message(i)).expect("send");
        }
        client.close();
        assert_eq!(
            client.disconnect_reason(),
            Some(tcphub::DisconnectReason::Io(ErrorKind::TimedOut)),
            "round {round}: 10 MB cannot be written to a server not reading"
        );
        let (got, fin) = read_all(&server);
        let (whole, partial) = parse(framing, &got);
        assert!(
            whole.iter().map(|m| number(m)).eq(0..whole.len()),
            "round {round}"
        );
        assert!(
            !fin || partial == 0,
            "round {round}: a FIN after {partial} bytes of line {}",
            whole.len()
        );
    }
}

/// Messages of every size around the thresholds — empty (Raw: nothing),
/// just under, at and over the 1 KiB batching limit, and enough small ones
/// to fill batches past 64 KiB — go over the wire as sent, in order, in
/// each framing.
#[test]
fn messages_around_the_batching_thresholds_go_out_as_sent() {
    for framing in [
        Framing::Raw,
        Framing::Lines { max_len: 1 << 20 },
        Framing::length_prefixed(),
    ] {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpClient::builder(listener.local_addr().unwrap())
            .framing(framing)
            .connect()
            .expect("connect");
        let (server, _) = listener.accept().expect("accept");
        let reader = std::thread::spawn(move || read_all(&server));
        let overhead = match framing {
            Framing::Raw => 0,
            Framing::Lines { .. } => 1,
            _ => 4,
        };
        let mut expected = Vec::new();
        let mut sizes = vec![0, 1, 1022, 1023, 1024, 1025, 1026, 0];
        sizes.extend((0..200).map(|i| 1024 - overhead - i % 2));
        sizes.extend([65_536, 65_535 - overhead, 65_537, 1, 0, 2]);
        sizes.extend((0..300).map(|i| [1024 - overhead, 1025 - overhead, 7][i % 3]));
        for (i, &n) in sizes.iter().enumerate() {
            if n == 0 && !matches!(framing, Framing::Raw) {
                continue; // (an empty line or frame is a message; tested elsewhere)
            }
            let m = vec![b'a' + (i % 26) as u8; n];
            client.send(&m).expect("send");
            match framing {
                Framing::Raw => expected.extend_from_slice(&m),
                Framing::Lines { .. } => {
                    expected.extend_from_slice(&m);
                    expected.push(b'\n');
                }
                _ => expected.extend_from_slice(&lp_frame(&m)),
            }
        }
        client.close();
        assert_eq!(
            client.disconnect_reason(),
            Some(tcphub::DisconnectReason::ClosedLocally)
        );
        let (got, fin) = reader.join().unwrap();
        assert!(fin);
        assert_eq!(got.len(), expected.len(), "{framing:?}");
        assert!(got == expected, "{framing:?}: the bytes differ");
        assert_eq!(client.queued_bytes(), 0);
    }
}

/// Message `seq` of sending thread `t`: "t,seq," and filler, small or
/// large.
fn thread_message(t: usize, seq: usize) -> Vec<u8> {
    let mut m = format!("{t},{seq},").into_bytes();
    let len = if (seq + t).is_multiple_of(5) {
        1500 + seq % 700
    } else {
        20 + seq % 500
    };
    m.resize(len, b'x');
    m
}

/// (thread, seq) of a [`thread_message`], checking it is whole.
fn thread_seq(m: &[u8]) -> (usize, usize) {
    let text = std::str::from_utf8(&m[..m.len().min(24)]).unwrap();
    let mut parts = text.split(',');
    let t: usize = parts.next().unwrap().parse().unwrap();
    let seq: usize = parts.next().unwrap().parse().unwrap();
    assert_eq!(m, thread_message(t, seq), "message {t}/{seq} altered");
    (t, seq)
}

/// Several threads sending at once, small and large messages mixed, while
/// the connection is dropped and remade: each thread's messages arrive in
/// its order, whole, none twice, and on the new connection each thread's
/// are gapless from its first there to its last.
#[test]
fn concurrent_senders_keep_their_order_across_a_reconnect() {
    const THREADS: usize = 4;
    const EACH: usize = 6_000;
    let framing = Framing::length_prefixed();
    let listener = listener_with_rcvbuf(64 * 1024);
    let client = reconnecting(listener.local_addr().unwrap(), framing, 256 << 20);
    let (first, _) = listener.accept().expect("accept");
    let senders: Vec<_> = (0..THREADS)
        .map(|t| {
            let client = client.clone();
            std::thread::spawn(move || {
                for seq in 0..EACH {
                    // Refused only between `Disconnected` and the redial
                    // never (reconnect on): every send is accepted.
                    client.send(&thread_message(t, seq)).expect("send");
                }
            })
        })
        .collect();
    let mut head = vec![0; 300_000];
    (&first).read_exact(&mut head).expect("read a part");
    first.shutdown(Shutdown::Write).unwrap();
    let (rest, _) = read_all(&first);
    head.extend_from_slice(&rest);
    for s in senders {
        s.join().unwrap();
    }
    let mut last = [None::<usize>; THREADS];
    for m in parse(framing, &head).0 {
        let (t, seq) = thread_seq(&m);
        assert!(
            last[t].is_none_or(|l| seq == l + 1),
            "thread {t}: {seq} after {:?}",
            last[t]
        );
        last[t] = Some(seq);
    }
    let (mut second, _) = listener.accept().expect("the reconnect");
    second.set_read_timeout(Some(TIMEOUT)).unwrap();
    let (mut got, mut buf) = (Vec::new(), vec![0; 256 * 1024]);
    let mut new = [None::<usize>; THREADS];
    while new.iter().any(|s| *s != Some(EACH - 1)) {
        let n = second
            .read(&mut buf)
            .unwrap_or_else(|e| panic!("{e}: got {new:?}"));
        assert!(n > 0);
        got.extend_from_slice(&buf[..n]);
        let (msgs, partial) = parse(framing, &got);
        for m in msgs {
            let (t, seq) = thread_seq(&m);
            match new[t] {
                Some(l) => assert_eq!(seq, l + 1, "thread {t} on the new connection"),
                None => assert!(
                    last[t].is_none_or(|l| seq > l),
                    "thread {t}: {seq} again, the first connection had it whole"
                ),
            }
            new[t] = Some(seq);
        }
        got.drain(..got.len() - partial);
    }
    wait_until("the queue count back to 0", || client.queued_bytes() == 0);
    client.close();
}

/// `shutdown_write()` right after sends from several threads, small and
/// large: every message a `send` accepted arrives whole before the
/// end-of-stream, and later sends are refused.
#[test]
fn shutdown_write_after_concurrent_mixed_sends_delivers_every_accepted_message() {
    let framing = Framing::Lines { max_len: 1 << 20 };
    for round in 0..20 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpClient::builder(listener.local_addr().unwrap())
            .framing(framing)
            .max_queue_bytes(64 << 20)
            .connect()
            .expect("connect");
        let (server, _) = listener.accept().expect("accept");
        let senders: Vec<_> = (0..3)
            .map(|t| {
                let client = client.clone();
                std::thread::spawn(move || {
                    let mut seq = 0;
                    while client.send(&thread_message(t, seq)).is_ok() {
                        seq += 1;
                    }
                    seq
                })
            })
            .collect();
        wait_until("sends under way", || client.queued_bytes() > 0);
        client.shutdown_write().unwrap();
        assert!(matches!(client.send(b"late"), Err(Error::NotRunning)));
        let accepted: Vec<usize> = senders.into_iter().map(|s| s.join().unwrap()).collect();
        let (got, fin) = read_all(&server);
        assert!(fin, "round {round}");
        let (msgs, partial) = parse(framing, &got);
        assert_eq!(partial, 0, "round {round}");
        let mut next = [0usize; 3];
        for m in msgs {
            let (t, seq) = thread_seq(&m);
            assert_eq!(seq, next[t], "round {round}: thread {t}");
            next[t] += 1;
        }
        assert_eq!(
            next.to_vec(),
            accepted,
            "round {round}: accepted vs delivered"
        );
        drop(server);
        client.close();
    }
}
