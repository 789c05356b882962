//! Soak: 1000 clients in pairs exchange sequence-numbered messages through
//! the server (`send_to` the partner's address) until a deadline; every
//! message must arrive exactly once, in order, from the right sender
//! (reliability suite, see RELIABILITY.md).
//!
//! The short variant runs in `cargo test`; the long one is ignored:
//! `TCPHUB_SOAK_SECS=60 cargo test --release -p tcphub --test soak -- --ignored`
//! (or `scripts/soak.sh`).

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use support::{localhost, raise_fd_limit, wait_clients, TIMEOUT};
use tcphub::{Framing, TcpServer};
use tokio::net::TcpStream;
use tokio_util::codec::{Framed, LengthDelimitedCodec};

const CLIENTS: usize = 1000;
/// Messages a client may send ahead of what it has received from its partner.
const WINDOW: u64 = 8;
const DATA: u8 = 0;
const END: u8 = 1;

/// `[to port][from port][kind][seq or count]`: 13 bytes.
fn encode(to: u16, from: u16, kind: u8, n: u64) -> Bytes {
    let mut v = Vec::with_capacity(13);
    v.extend_from_slice(&to.to_be_bytes());
    v.extend_from_slice(&from.to_be_bytes());
    v.push(kind);
    v.extend_from_slice(&n.to_be_bytes());
    Bytes::from(v)
}

fn decode(m: &[u8]) -> (u16, u16, u8, u64) {
    assert_eq!(m.len(), 13, "message length");
    (
        u16::from_be_bytes([m[0], m[1]]),
        u16::from_be_bytes([m[2], m[3]]),
        m[4],
        u64::from_be_bytes(m[5..13].try_into().unwrap()),
    )
}

/// One client: send numbered messages to the partner while staying at most
/// `WINDOW` ahead; check everything from the partner arrives in order; after
/// the deadline (or the partner's end) send an end carrying the count.
/// Returns (sent, received) and the connection, still open.
async fn converse(
    mut conn: Framed<TcpStream, LengthDelimitedCodec>,
    me: u16,
    partner: u16,
    deadline: Instant,
) -> (u64, u64, Framed<TcpStream, LengthDelimitedCodec>) {
    let (mut sent, mut recv) = (0u64, 0u64);
    let (mut sent_end, mut partner_done) = (false, false);
    loop {
        if !sent_end && (partner_done || Instant::now() >= deadline) {
            conn.send(encode(partner, me, END, sent))
                .await
                .expect("send end");
            sent_end = true;
        }
        if sent_end && partner_done {
            return (sent, recv, conn);
        }
        if !sent_end && sent < recv + WINDOW {
            conn.send(encode(partner, me, DATA, sent))
                .await
                .expect("send");
            sent += 1;
            continue;
        }
        let frame = tokio::time::timeout(TIMEOUT, conn.next())
            .await
            .unwrap_or_else(|_| panic!("client {me}: nothing from {partner} for {TIMEOUT:?}"))
            .unwrap_or_else(|| panic!("client {me}: server closed the connection"))
            .expect("decode");
        let (to, from, kind, n) = decode(&frame);
        assert_eq!(
            (to, from),
            (me, partner),
            "client {me}: misdelivered message"
        );
        match kind {
            DATA => {
                assert_eq!(
                    n, recv,
                    "client {me}: message lost, duplicated or reordered"
                );
                recv += 1;
            }
            _ => {
                assert_eq!(n, recv, "client {me}: partner sent {n}, {recv} arrived");
                partner_done = true;
            }
        }
    }
}

fn soak(duration: Duration) {
    raise_fd_limit(2 * CLIENTS as u64 + 1024);
    let server = TcpServer::new(0, CLIENTS)
        .bind(localhost())
        .framing(Framing::length_prefixed())
        .on_message(|srv, c, msg| {
            let to = u16::from_be_bytes([msg[0], msg[1]]);
            if let Err(e) = srv.send_to(c.addr.ip(), to, msg) {
                panic!("relaying to port {to}: {e}");
            }
        })
        .start()
        .unwrap();
    let addr: SocketAddr = server.local_addr();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (sent, recv, took) = rt.block_on(async {
        let mut conns = Vec::with_capacity(CLIENTS);
        for _ in 0..CLIENTS {
            let s = TcpStream::connect(addr).await.expect("connect");
            s.set_nodelay(true).unwrap();
            let port = s.local_addr().unwrap().port();
            conns.push((port, Framed::new(s, LengthDelimitedCodec::new())));
        }
        // Every partner must be registered before anyone sends to it.
        tokio::task::spawn_blocking({
            let server = server.clone();
            move || wait_clients(&server, CLIENTS)
        })
        .await
        .unwrap();
        let ports: Vec<u16> = conns.iter().map(|(p, _)| *p).collect();
        let start = Instant::now();
        let deadline = start + duration;
        let local = tokio::task::LocalSet::new();
        let results = local
            .run_until(async {
                let tasks: Vec<_> = conns
                    .into_iter()
                    .enumerate()
                    .map(|(i, (me, conn))| {
                        tokio::task::spawn_local(converse(conn, me, ports[i ^ 1], deadline))
                    })
                    .collect();
                let mut out = Vec::new();
                for t in tasks {
                    out.push(t.await.expect("client task"));
                }
                out
            })
            .await;
        // Pairwise: what one sent is what the other received.
        for i in (0..CLIENTS).step_by(2) {
            assert_eq!(results[i].0, results[i + 1].1, "pair {i}");
            assert_eq!(results[i + 1].0, results[i].1, "pair {i}");
        }
        let sent: u64 = results.iter().map(|r| r.0).sum();
        let recv: u64 = results.iter().map(|r| r.1).sum();
        let took = start.elapsed();
        // Checked while every connection is still open.
        let stats = server.stats();
        assert_eq!(stats.msgs_in, sent + CLIENTS as u64, "{stats:?}");
        assert_eq!(stats.clients, CLIENTS as u64, "nobody was disconnected");
        (sent, recv, took)
    });
    assert_eq!(sent, recv);
    assert!(sent > 0);
    eprintln!(
        "soak: {CLIENTS} clients, {:.1} s, {sent} messages relayed ({:.0}/s), \
         0 lost, 0 duplicated, 0 reordered",
        took.as_secs_f64(),
        sent as f64 / took.as_secs_f64()
    );
    server.stop();
}

#[test]
fn soak_short_1000_clients_lose_nothing() {
    soak(Duration::from_secs(3));
}

#[test]
#[ignore = "long soak: TCPHUB_SOAK_SECS (default 60) seconds; scripts/soak.sh"]
fn soak_long_1000_clients_lose_nothing() {
    let secs = std::env::var("TCPHUB_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    soak(Duration::from_secs(secs));
}
