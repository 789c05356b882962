//! The baseline: a relay/echo server written the way tokio's chat example
//! does it, tuned fairly — messages are framed once into a shared `Bytes`,
//! each client has its own queue (an unbounded mpsc channel, as in the
//! example) drained by a writer task that batches everything queued into one
//! vectored write, the listen backlog is 4096, TCP_NODELAY is on, the
//! multi-threaded runtime uses one worker per core, and a connection holds
//! a read buffer only while its socket has data (see [`read_more`]).
//!
//! With `--coalesce` the relay shares all complete frames of one read as one
//! buffer instead of one per frame: the coalescing tcphub's engine does
//! behind `send_all`, written into the application by hand — possible here
//! because the relay forwards frames unchanged (a chat that prefixes each
//! message with its sender could not).
//!
//! ```text
//! tokio-hub --port 8001 --mode relay|echo [--coalesce]
//! ```
//! Framing: 4-byte big-endian length prefix (as tokio-util's LengthDelimitedCodec).

use std::collections::HashMap;
use std::io::IoSlice;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

type Peers = Arc<RwLock<HashMap<u64, mpsc::UnboundedSender<Bytes>>>>;

const MAX_FRAME: usize = 8 * 1024 * 1024;
/// Most buffers one vectored write takes: Linux's `IOV_MAX` (std passes no
/// more to one `writev`), so a writer that fell behind catches up in as few
/// system calls as the kernel allows (64 cost the fan-out a fifth).
const MAX_IOV: usize = 1024;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut port = 8001u16;
    let mut relay = true;
    let mut coalesce = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--port" => port = args.next().ok_or("--port needs a value")?.parse()?,
            "--coalesce" => coalesce = true,
            "--mode" => {
                relay = match args.next().as_deref() {
                    Some("relay") => true,
                    Some("echo") => false,
                    other => return Err(format!("unknown mode {other:?}").into()),
                }
            }
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_io()
        .build()?
        .block_on(serve(port, relay, coalesce))
}

async fn serve(port: u16, relay: bool, coalesce: bool) -> Result<(), Box<dyn std::error::Error>> {
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    sock.set_reuse_address(true)?;
    sock.set_nonblocking(true)?;
    sock.bind(&addr.into())?;
    sock.listen(4096)?;
    let listener = TcpListener::from_std(sock.into())?;
    eprintln!("tokio-hub listening on {}", listener.local_addr()?);
    let peers: Peers = Arc::default();
    let next = AtomicU64::new(1);
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let id = next.fetch_add(1, Ordering::Relaxed);
        let peers = peers.clone();
        tokio::spawn(async move {
            if relay {
                relay_client(id, stream, peers, coalesce).await;
            } else {
                echo_client(stream).await;
            }
        });
    }
}

/// Reads frames and hands each one, framed once, to every client's queue.
async fn relay_client(id: u64, stream: TcpStream, peers: Peers, coalesce: bool) {
    let (rd, wr) = stream.into_split();
    let (tx, rx) = mpsc::unbounded_channel::<Bytes>();
    peers.write().expect("lock").insert(id, tx);
    let writer = tokio::spawn(write_queue(wr, rx));
    let mut buf = BytesMut::new();
    'conn: loop {
        if !read_more(rd.as_ref(), &mut buf).await {
            break;
        }
        // The complete frames at the front of `buf` (with `coalesce`, all
        // of them; else one at a time), each batch shared by every queue.
        loop {
            let mut end = 0;
            while buf.len() - end >= 4 {
                let len = u32::from_be_bytes([buf[end], buf[end + 1], buf[end + 2], buf[end + 3]])
                    as usize;
                if len > MAX_FRAME {
                    break 'conn;
                }
                if buf.len() - end < 4 + len {
                    buf.reserve(end + 4 + len - buf.len());
                    break;
                }
                end += 4 + len;
                if !coalesce {
                    break;
                }
            }
            if end == 0 {
                break;
            }
            let frames = buf.split_to(end).freeze();
            let peers = peers.read().expect("lock");
            for tx in peers.values() {
                let _ = tx.send(frames.clone());
            }
        }
    }
    peers.write().expect("lock").remove(&id);
    writer.abort();
}

/// Drains the client's queue, writing everything queued with one vectored write.
async fn write_queue(mut wr: OwnedWriteHalf, mut rx: mpsc::UnboundedReceiver<Bytes>) {
    let mut batch: Vec<Bytes> = Vec::with_capacity(MAX_IOV);
    while let Some(first) = rx.recv().await {
        batch.push(first);
        while batch.len() < MAX_IOV {
            match rx.try_recv() {
                Ok(b) => batch.push(b),
                Err(_) => break,
            }
        }
        while !batch.is_empty() {
            let slices: Vec<IoSlice<'_>> = batch.iter().map(|b| IoSlice::new(b)).collect();
            let n = match wr.write_vectored(&slices).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            advance(&mut batch, n);
        }
    }
}

fn advance(batch: &mut Vec<Bytes>, mut n: usize) {
    let mut done = 0;
    for b in batch.iter_mut() {
        if n >= b.len() {
            n -= b.len();
            done += 1;
        } else {
            b.advance(n);
            break;
        }
    }
    batch.drain(..done);
}

/// Reads what the socket has into `buf`; false at end of stream or on an
/// error.
///
/// The read buffer is taken only while the socket has data: it is dropped
/// whenever a read finds the socket drained with no partial frame held, so
/// an idle connection holds no buffer (tcphub's loops read into one buffer
/// each). A 64 KiB buffer per connection, as this baseline had, cost tokio
/// ~4 KiB of RSS per idle connection, and a fan-out receiver's buffer is
/// never used at all.
async fn read_more(s: &TcpStream, buf: &mut BytesMut) -> bool {
    loop {
        if s.readable().await.is_err() {
            return false;
        }
        if buf.capacity() == 0 {
            buf.reserve(64 * 1024);
        }
        match s.try_read_buf(buf) {
            Ok(0) => return false,
            Ok(_) => return true,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if buf.is_empty() {
                    *buf = BytesMut::new();
                }
            }
            Err(_) => return false,
        }
    }
}

/// Echo: writes back every complete frame read, in one write per read.
async fn echo_client(mut stream: TcpStream) {
    let mut buf = BytesMut::new();
    loop {
        if !read_more(&stream, &mut buf).await {
            return;
        }
        let mut end = 0;
        while buf.len() - end >= 4 {
            let len =
                u32::from_be_bytes([buf[end], buf[end + 1], buf[end + 2], buf[end + 3]]) as usize;
            if len > MAX_FRAME {
                return;
            }
            if buf.len() - end < 4 + len {
                buf.reserve(end + 4 + len - buf.len());
                break;
            }
            end += 4 + len;
        }
        if end > 0 {
            let frames = buf.split_to(end);
            if stream.write_all(&frames).await.is_err() {
                return;
            }
        }
    }
}
