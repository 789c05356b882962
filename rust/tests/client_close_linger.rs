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
    const LINE: usize = 2 * 1024 * 1024;
    // Accepted sockets inherit it: the line waits in the client's kernel.
    let listener = listener_with_rcvbuf(64 * 1024);
    let client = TcpClient::builder(listener.local_addr().unwrap())
        .framing(Framing::Lines { max_len: LINE })
        .linger(TIMEOUT)
        .connect()
        .expect("connect");
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
    client.send(&vec![b'x'; LINE]).expect("send the line");
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
        LINE + 1,
        "the server got {got} of {} bytes, then {end:?}; the client said {:?}",
        LINE + 1,
        client.disconnect_reason()
    );
    assert_eq!(
        client.disconnect_reason(),
        Some(DisconnectReason::ClosedLocally)
    );
}
