//! `close()` once everything is written, while the server is still
//! sending: the client closed its socket at once, with the server's bytes
//! coming in, so the kernel reset the connection and threw away what it
//! had not sent yet — the client's last message — while `close()`
//! reported a clean `ClosedLocally`.

mod support;

use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::*;
use tcphub::{DisconnectReason, Framing, TcpClient};

#[test]
fn close_under_the_server_s_writes_delivers_the_last_message_whole() {
    const MAX_LINE: usize = 2 * 1024 * 1024;
    // Accepted sockets inherit it: the line waits in the client's kernel.
    let listener = listener_with_rcvbuf(16 * 1024);
    let client = TcpClient::builder(listener.local_addr().unwrap())
        .framing(Framing::Lines { max_len: MAX_LINE })
        .linger(TIMEOUT)
        .connect()
        .expect("connect");
    // A send buffer that takes the whole line: left to the kernel, it
    // grows only as far as tcp_wmem's maximum, which may be below 2 MB
    // (64 KiB, or a small machine's), and the line never left the client's
    // queue. What the kernel grants is bounded by net.core.wmem_max; the
    // line is half of it (the buffer counts some overhead besides the
    // bytes), and still many times the server's window.
    set_send_buffer_of(client.local_addr(), MAX_LINE);
    let line = MAX_LINE.min(send_buffer_of(client.local_addr()) / 2);
    assert!(line >= 128 * 1024, "a send buffer of {line} bytes");
    let (mut server, _) = listener.accept().expect("accept");
    server.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    // The server keeps talking (a chat hub broadcasting, say).
    let talking = Arc::new(AtomicBool::new(true));
    let talker = {
        let mut out = server.try_clone().expect("clone");
        let talking = talking.clone();
        std::thread::spawn(move || {
            let line = [&[b'z'; 1000][..], b"\n"].concat();
            while talking.load(Ordering::Relaxed) && out.write_all(&line).is_ok() {
                std::thread::sleep(Duration::from_millis(1)); // pacing only
            }
        })
    };
    client.send(&vec![b'x'; line]).expect("send the line");
    wait_until("the line handed to the system", || {
        client.queued_bytes() == 0
    });
    let closer = {
        let client = client.clone();
        std::thread::spawn(move || client.close())
    };
    wait_until("the close begun", || !client.is_open());
    let mut got = 0;
    let mut buf = vec![0; 64 * 1024];
    let end = loop {
        match server.read(&mut buf) {
            Ok(0) => break None,
            Ok(n) => {
                assert!(buf[..n].iter().all(|&b| b == b'x' || b == b'\n'));
                got += n;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => break Some(e),
        }
    };
    talking.store(false, Ordering::Relaxed);
    closer.join().expect("close");
    talker.join().expect("talker");
    assert_eq!(
        got,
        line + 1,
        "the server got {got} of {} bytes, then {end:?}; the client said {:?}",
        line + 1,
        client.disconnect_reason()
    );
    assert_eq!(
        client.disconnect_reason(),
        Some(DisconnectReason::ClosedLocally)
    );
}
