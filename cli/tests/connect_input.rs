//! End-to-end tests of what `tcphub connect` does with its standard input.

mod support;

use std::io::Read;
use std::process::Stdio;

use support::*;

/// A server that reads its one connection to the end: what it received.
fn collecting_server() -> (u16, std::thread::JoinHandle<Vec<u8>>) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(WAIT)).unwrap();
        let mut got = Vec::new();
        let _ = s.read_to_end(&mut got);
        got
    });
    (port, server)
}

#[test]
fn connect_fails_when_stdin_cannot_be_read() {
    // A directory as stdin: every read fails (EISDIR). That is no end of
    // input: it exited 0, as if everything had been sent.
    let (port, server) = collecting_server();
    let dir = std::fs::File::open(env!("CARGO_MANIFEST_DIR")).unwrap();
    let out = bin()
        .args(["connect", &format!("127.0.0.1:{port}")])
        .stdin(Stdio::from(dir))
        .output()
        .expect("run tcphub connect");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("tcphub: cannot read stdin: "), "{err}");
    server.join().unwrap();
}
