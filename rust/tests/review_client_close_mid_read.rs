//! close() from another thread while a callback-mode client is delivering
//! one read: the docs of `TcpClient::close` promise "what the client had
//! read when it was called is delivered (all of that read, though the call
//! lands while it is being decoded)".

mod support;

use std::io::Write;
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::*;
use tcphub::{Framing, TcpClient};

#[test]
fn close_from_another_thread_mid_read_delivers_the_whole_read() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let got: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
    let entered = Arc::new(AtomicBool::new(false));
    let (g, e) = (got.clone(), entered.clone());
    let client = TcpClient::builder(l.local_addr().unwrap())
        .framing(Framing::lines())
        .on_message(move |_c, m| {
            g.lock().unwrap().push(m.to_vec());
            if !e.swap(true, Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(300));
            }
        })
        .connect()
        .unwrap();
    let (mut s, _) = l.accept().unwrap();
    let batch: Vec<u8> = (0..10)
        .flat_map(|i| format!("m{i}\n").into_bytes())
        .collect();
    s.write_all(&batch).unwrap(); // 40 bytes in one write: one read on the client
    wait_until("the first on_message", || entered.load(Ordering::SeqCst));
    client.close(); // lands while that read is being delivered
    assert_eq!(
        got.lock().unwrap().len(),
        10,
        "all of the read in hand when close() was called is delivered"
    );
}
