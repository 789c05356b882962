//! Interoperability with tokio-util codecs: `LengthDelimitedCodec` clients
//! against `Framing::LengthPrefixed`, `LinesCodec` clients against
//! `Framing::Lines`.

mod support;

use std::fmt::Debug;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use futures::{SinkExt, Stream, StreamExt};
use support::{localhost, TIMEOUT};
use tcphub::{Framing, ServerHandle, TcpServer};
use tokio::net::TcpStream;
use tokio_util::codec::{Framed, LengthDelimitedCodec, LinesCodec};

/// Echoes a message to its sender, or broadcasts it when it starts with "all:".
fn echo_or_broadcast(framing: Framing) -> ServerHandle {
    TcpServer::new(0, 10)
        .bind(localhost())
        .framing(framing)
        .on_message(|srv, c, msg| {
            if msg.starts_with(b"all:") {
                srv.send_all(msg);
            } else {
                srv.send(c.id, msg).unwrap();
            }
        })
        .start()
        .unwrap()
}

/// The next frame, failing the test on timeout, end of stream or decode error.
async fn next<S, T, E>(s: &mut S) -> T
where
    S: Stream<Item = Result<T, E>> + Unpin,
    E: Debug,
{
    tokio::time::timeout(TIMEOUT, s.next())
        .await
        .expect("timed out waiting for a frame")
        .expect("the server closed the connection")
        .expect("the codec could not decode the server's frame")
}

/// Waits (bounded, without blocking the runtime) until the server has `n` clients.
async fn wait_clients(server: &ServerHandle, n: usize) {
    let waited = tokio::time::timeout(TIMEOUT, async {
        while server.client_count() != n {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await;
    assert!(waited.is_ok(), "timed out waiting for {n} clients");
}

async fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).await.expect("connect");
    s.set_nodelay(true).unwrap();
    s
}

#[tokio::test]
async fn length_delimited_codec_clients() {
    let server = echo_or_broadcast(Framing::length_prefixed());
    let addr = server.local_addr();
    let mut a = Framed::new(connect(addr).await, LengthDelimitedCodec::new());
    let mut b = Framed::new(connect(addr).await, LengthDelimitedCodec::new());
    wait_clients(&server, 2).await;

    // Echo, to the sender only.
    a.send(Bytes::from_static(b"echo me")).await.unwrap();
    assert_eq!(&next(&mut a).await[..], b"echo me");
    a.send(Bytes::new()).await.unwrap();
    assert!(next(&mut a).await.is_empty(), "empty frame echoed");
    let big: Vec<u8> = (0..(1 << 20)).map(|i| (i % 251) as u8).collect();
    a.send(Bytes::from(big.clone())).await.unwrap();
    assert_eq!(&next(&mut a).await[..], &big[..]);

    // Broadcast: both get it; for b it is the first frame (no echo of a's leaked).
    b.send(Bytes::from_static(b"all:hello both")).await.unwrap();
    assert_eq!(&next(&mut b).await[..], b"all:hello both");
    assert_eq!(&next(&mut a).await[..], b"all:hello both");

    // Server-initiated frames reach the codec too.
    let a_addr = a.get_ref().local_addr().unwrap();
    server
        .send_to(a_addr.ip(), a_addr.port(), b"pushed")
        .unwrap();
    assert_eq!(&next(&mut a).await[..], b"pushed");

    // Several frames in one flush.
    for i in 0..50 {
        a.feed(Bytes::from(format!("n{i}"))).await.unwrap();
    }
    SinkExt::<Bytes>::flush(&mut a).await.unwrap();
    for i in 0..50 {
        assert_eq!(next(&mut a).await, format!("n{i}").as_bytes());
    }
    server.stop();
    // Then the codec sees a clean end of stream.
    let end = tokio::time::timeout(TIMEOUT, a.next())
        .await
        .expect("EOF in time");
    assert!(end.is_none(), "expected end of stream, got {end:?}");
}

#[tokio::test]
async fn lines_codec_clients() {
    let server = echo_or_broadcast(Framing::lines());
    let addr = server.local_addr();
    let mut a = Framed::new(connect(addr).await, LinesCodec::new());
    let mut b = Framed::new(connect(addr).await, LinesCodec::new());
    wait_clients(&server, 2).await;

    a.send("echo me").await.unwrap();
    assert_eq!(next(&mut a).await, "echo me");
    a.send("").await.unwrap();
    assert_eq!(next(&mut a).await, "");
    let long = "x".repeat(60_000);
    a.send(long.as_str()).await.unwrap();
    assert_eq!(next(&mut a).await, long);

    b.send("all:hello both").await.unwrap();
    assert_eq!(next(&mut b).await, "all:hello both");
    assert_eq!(next(&mut a).await, "all:hello both");

    let b_addr = b.get_ref().local_addr().unwrap();
    server
        .send_to(b_addr.ip(), b_addr.port(), b"pushed")
        .unwrap();
    assert_eq!(next(&mut b).await, "pushed");

    for i in 0..50 {
        b.feed(format!("all:{i}")).await.unwrap();
    }
    SinkExt::<String>::flush(&mut b).await.unwrap();
    for i in 0..50 {
        assert_eq!(next(&mut a).await, format!("all:{i}"));
        assert_eq!(next(&mut b).await, format!("all:{i}"));
    }
    server.stop();
    let end = tokio::time::timeout(TIMEOUT, b.next())
        .await
        .expect("EOF in time");
    assert!(end.is_none(), "expected end of stream, got {end:?}");
}
