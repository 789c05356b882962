//! The server sent much and then ended its side, all of it (FIN included)
//! waiting in the client's kernel before `close()`: the docs of
//! `TcpClient::close` say "when the server ends its side before the flush
//! is done (before the call, too), the end is reported as ClosedByPeer".

mod support;

use std::io::Write;
use std::net::{Shutdown, TcpListener};

use support::*;
use tcphub::{DisconnectReason, Framing, TcpClient};

#[test]
fn an_end_of_stream_behind_unread_input_before_close_is_closed_by_peer() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpClient::builder(l.local_addr().unwrap())
        .framing(Framing::lines())
        .event_capacity(1) // pull mode, full at once: the input stays unread
        .connect()
        .unwrap();
    let (mut s, _) = l.accept().unwrap();
    set_recv_buffer_of(client.local_addr(), 8 << 20);
    let line = [b"x".repeat(999), b"\n".to_vec()].concat();
    for _ in 0..3000 {
        s.write_all(&line).unwrap(); // 3 MB
    }
    s.shutdown(Shutdown::Write).unwrap();
    wait_until("everything and the FIN are in the client's kernel", || {
        socket_queues(s.local_addr().unwrap(), s.peer_addr().unwrap())
            .is_some_and(|(tx, _)| tx == 0)
    });
    client.close();
    assert_eq!(
        client.disconnect_reason(),
        Some(DisconnectReason::ClosedByPeer)
    );
}
