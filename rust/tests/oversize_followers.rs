//! A message larger than `max_queue_bytes` is queued alone into a client's
//! empty queue; while it is being written, the messages after it meet the
//! bound by themselves. Counted together with it, any message sent during
//! its write cut a reader that was reading it as a slow consumer (a
//! hostile-input review: `tcphub serve --framing len --mode relay`, an
//! 8 MiB frame then a 4-byte one cut a steady reader in 9 runs of 10).

mod support;

use support::{
    localhost, set_send_buffer_of_listener, wait_clients, wait_until, Disconnects, Peer,
};
use tcphub::{Framing, TcpServer};

const BOUND: usize = 1 << 20;

#[test]
fn messages_after_an_oversize_one_meet_the_bound_by_themselves() {
    let gone = Disconnects::new();
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .framing(Framing::LengthPrefixed { max_len: 32 << 20 })
        .max_queue_bytes(BOUND)
        .on_message(|srv, from, msg| {
            srv.send_all_except(from.id, msg);
        })
        .on_disconnect(gone.recorder())
        .start()
        .unwrap();
    // Small socket buffers for the reader's connection, on both sides (the
    // server's through the listener, taken as the handshake ends): left to
    // the kernel, they may start at tcp_wmem's and tcp_rmem's defaults,
    // which a host may set to 16 and 32 MiB, and all that is sent to the
    // reader below fit there: it was never cut.
    set_send_buffer_of_listener(server.local_addr(), 64 * 1024);
    let mut reader = Peer::connect_with_rcvbuf(server.local_addr(), 64 * 1024);
    let mut sender = Peer::connect(server.local_addr());
    wait_clients(&server, 2);
    let reader_id = reader.id_on(&server);

    // 16 MiB: more than the kernel's buffers take, so most of it stays in
    // the reader's queue while the reader reads nothing yet.
    let big: Vec<u8> = (0..16 << 20).map(|i: u32| (i % 251) as u8).collect();
    sender.send_frame(&big);
    sender.send_frame(b"tiny");
    // Followers that together stay within the bound are taken...
    let mid = vec![5u8; BOUND / 2];
    sender.send_frame(&mid);
    wait_until("the server to have read all three", || {
        server.stats().msgs_in == 3
    });
    assert!(gone.all().is_empty(), "{:?}", gone.all());
    assert_eq!(reader.read_frame(), big);
    assert_eq!(reader.read_frame(), b"tiny");
    assert_eq!(reader.read_frame(), mid);

    // ...and ones past it are not: the client is a slow consumer then.
    sender.send_frame(&big);
    let past = vec![6u8; BOUND];
    sender.send_frame(&past);
    assert_eq!(
        gone.wait_for(reader_id),
        tcphub::DisconnectReason::SlowConsumer
    );
    server.stop();
}
