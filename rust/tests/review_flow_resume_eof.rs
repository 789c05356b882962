//! A client that half-closes while its input is paused: at the resume its
//! last messages are handed to `on_message`, and the replies the callback
//! queues for them must still go out before the close (callback mode
//! closes "once the callbacks for its last messages have returned and what
//! they queued is written"). They were dropped (counted `undelivered`)
//! because the resume read the client inside the command pump, where the
//! close's own pump is a no-op.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

use support::{localhost, wait_until};
use tcphub::{Framing, ServerHandle, TcpServer};

fn echo() -> ServerHandle {
    TcpServer::new(0, 10)
        .bind(localhost())
        .framing(Framing::lines())
        .threads(1)
        .on_message(|srv, c, msg| {
            srv.send(c.id, msg).unwrap();
        })
        .start()
        .unwrap()
}

fn connect(server: &ServerHandle) -> (TcpStream, BufReader<TcpStream>, u64) {
    let s = TcpStream::connect(server.local_addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let r = BufReader::new(s.try_clone().unwrap());
    wait_until("registered", || server.client_count() == 1);
    let id = server.clients()[0].id;
    (s, r, id)
}

/// Sends a line and waits for its echo: the loop has applied what came before.
fn sync(s: &mut TcpStream, r: &mut BufReader<TcpStream>) {
    s.write_all(b"sync\n").unwrap();
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    assert_eq!(line, "sync\n");
}

fn finish(
    mut s: TcpStream,
    mut r: BufReader<TcpStream>,
    server: &ServerHandle,
    resume: impl FnOnce(),
) {
    s.write_all(b"a\nb\nc\n").unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    std::thread::sleep(Duration::from_millis(200)); // data and FIN wait in the kernel
    resume();
    let mut rest = String::new();
    r.read_to_string(&mut rest).unwrap();
    let st = server.stats();
    assert_eq!(
        rest, "a\nb\nc\n",
        "replies to the last messages lost; {st:?}"
    );
    assert_eq!(st.undelivered, 0, "{st:?}");
}

#[test]
fn replies_to_the_messages_read_at_resume_client_reach_a_half_closed_client() {
    let server = echo();
    let (mut s, mut r, id) = connect(&server);
    sync(&mut s, &mut r);
    server.pause_client(id).unwrap();
    server.send(id, b"sync").unwrap(); // applied after the pause
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    let srv = server.clone();
    finish(s, r, &server, move || srv.resume_client(id).unwrap());
    server.stop();
}

#[test]
fn replies_to_the_messages_read_at_resume_input_reach_a_half_closed_client() {
    let server = echo();
    let (mut s, mut r, _id) = connect(&server);
    sync(&mut s, &mut r);
    server.pause_input();
    let srv = server.clone();
    finish(s, r, &server, move || srv.resume_input());
    server.stop();
}
