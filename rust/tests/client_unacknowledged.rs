//! `TcpClient::unacknowledged_bytes`: what the server's system has not
//! acknowledged of what the client wrote — up while the server does not
//! read, down to 0 once it has read everything, its FIN not counted after
//! `shutdown_write`, `None` once closed.

mod support;

use std::io::Read;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::*;
use tcphub::{ClientEvent, Framing, TcpClient};

#[test]
fn it_counts_what_a_non_reading_server_has_not_taken_and_falls_to_zero_as_it_reads() {
    let l = listener_with_rcvbuf(4096);
    let client = TcpClient::builder(l.local_addr().expect("addr"))
        .framing(Framing::Raw)
        .connect()
        .expect("connect");
    let (mut server_side, _) = l.accept().expect("accept");
    const SENT: usize = 256 * 1024;
    client.send(&vec![b'x'; SENT]).expect("send");
    // Written as far as the server's window and our send buffer allow: the
    // rest of the socket's share stays unacknowledged.
    wait_until("bytes written and not acknowledged", || {
        client.unacknowledged_bytes().is_some_and(|n| n > 0)
    });
    let seen = client.unacknowledged_bytes().expect("connected");
    assert!(seen <= SENT, "{seen}");

    let mut got = vec![0; SENT];
    server_side
        .set_read_timeout(Some(TIMEOUT))
        .expect("read timeout");
    server_side.read_exact(&mut got).expect("read everything");
    wait_until("everything acknowledged", || {
        client.queued_bytes() == 0 && client.unacknowledged_bytes() == Some(0)
    });

    // After the FIN: still 0 (the FIN is not a byte of data), and the
    // server sees the end of the stream.
    client.shutdown_write().expect("shutdown_write");
    assert_eq!(server_side.read(&mut got).expect("read the end"), 0);
    wait_until("the FIN acknowledged", || {
        client.unacknowledged_bytes() == Some(0)
    });
    for _ in 0..100 {
        assert_eq!(client.unacknowledged_bytes(), Some(0));
        std::thread::sleep(Duration::from_micros(200));
    }

    client.close();
    assert_eq!(client.unacknowledged_bytes(), None);
}

/// A client that reconnects: the count is the new connection's once it is
/// up again (the old socket's is withdrawn before it is closed).
#[test]
fn it_counts_the_new_connection_after_a_redial() {
    let l = std::net::TcpListener::bind((localhost(), 0)).expect("bind");
    let addr = l.local_addr().expect("addr");
    let client = TcpClient::builder(addr)
        .framing(Framing::lines())
        .reconnect(tcphub::Reconnect::default())
        .connect()
        .expect("connect");
    let (first, _) = l.accept().expect("accept");
    assert_eq!(client.unacknowledged_bytes(), Some(0));
    drop(first); // the server ends it; the client redials
                 // Its event, not `!is_connected()`: the redial (50-100 ms) may be up
                 // again, in the listener's backlog, before a poll of the state sees
                 // the gap on a loaded machine.
    let (ev, _) = next_control_at(&client);
    assert!(matches!(ev, ClientEvent::Disconnected(_)), "{ev:?}");
    let (mut second, _) = l.accept().expect("accept the redial");
    wait_until("connected again", || client.is_connected());
    client.send(b"again").expect("send");
    let mut line = [0; 6];
    second
        .set_read_timeout(Some(TIMEOUT))
        .expect("read timeout");
    second.read_exact(&mut line).expect("read");
    assert_eq!(&line, b"again\n");
    wait_until("acknowledged on the new connection", || {
        client.unacknowledged_bytes() == Some(0)
    });
    client.close();
}

/// The FIN is never counted, not even for the moment between the shutdown
/// and its being noted: a thread reading the count while another shuts the
/// sending side sees the steady count of data, never one more (it did in
/// about 7 runs of 10).
#[test]
fn the_fin_is_never_counted_while_the_sending_side_is_shut() {
    for _ in 0..10 {
        let l = listener_with_rcvbuf(4096);
        let client = TcpClient::builder(l.local_addr().expect("addr"))
            .framing(Framing::Raw)
            .connect()
            .expect("connect");
        let (_server_side, _) = l.accept().expect("accept"); // never reads
                                                             // Room for all of it in the client's kernel: its send buffer,
                                                             // left to the kernel, may not grow past 64 KiB (tcp_wmem's
                                                             // maximum), too little for 60,000 bytes, and some stayed queued.
        set_send_buffer_of(client.local_addr(), 128 * 1024);
        client.send(&vec![b'x'; 60_000]).expect("send");
        // Steady: everything written, nothing more acknowledged for 100 ms.
        let mut steady = None;
        wait_until("a steady count", || {
            let before = client.unacknowledged_bytes();
            std::thread::sleep(Duration::from_millis(100));
            let now = client.unacknowledged_bytes();
            steady = now;
            client.queued_bytes() == 0 && now.is_some_and(|n| n > 0) && now == before
        });
        let steady = steady.expect("connected");
        // The reader's looks are counted, so the shutdown comes while it
        // reads (not before its thread first ran: on a loaded machine 5 ms
        // were not enough, and no look at all read as a count of 0).
        let stop = Arc::new(AtomicBool::new(false));
        let looks = Arc::new(AtomicU64::new(0));
        let reader = {
            let (client, stop, looks) = (client.clone(), stop.clone(), looks.clone());
            std::thread::spawn(move || {
                let mut most = None;
                while !stop.load(Ordering::Acquire) {
                    if let Some(n) = client.unacknowledged_bytes() {
                        most = most.max(Some(n));
                    }
                    looks.fetch_add(1, Ordering::Release);
                }
                most
            })
        };
        wait_until("the reader looking", || looks.load(Ordering::Acquire) > 0);
        client.shutdown_write().expect("shutdown_write");
        let at = looks.load(Ordering::Acquire);
        wait_until("the reader looking after the shutdown", || {
            looks.load(Ordering::Acquire) >= at + 1000
        });
        stop.store(true, Ordering::Release);
        assert_eq!(reader.join().expect("reader"), Some(steady));
        client.close_timeout(Duration::ZERO);
    }
}
