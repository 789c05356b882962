//! Review: a reconnecting client of `localhost` that resolves to ::1 and
//! 127.0.0.1 (as on most hosts; here /etc/hosts has only 127.0.0.1, so
//! this binary interposes getaddrinfo for "localhost" with both, ::1
//! first) while only one of them listens, and the server moves from one
//! family to the other on the same port.

mod support;

use std::ffi::{c_char, c_int, CStr};
use std::time::{Duration, Instant};

use support::*;
use tcphub::{ClientEvent, Event, Framing, Reconnect, ServerHandle, TcpClient, TcpServer};

/// # Safety
///
/// As getaddrinfo(3).
#[no_mangle]
pub unsafe extern "C" fn getaddrinfo(
    node: *const c_char,
    service: *const c_char,
    hints: *const libc::addrinfo,
    res: *mut *mut libc::addrinfo,
) -> c_int {
    type Gai = unsafe extern "C" fn(
        *const c_char,
        *const c_char,
        *const libc::addrinfo,
        *mut *mut libc::addrinfo,
    ) -> c_int;
    // SAFETY: RTLD_NEXT finds libc's.
    let f = unsafe { libc::dlsym(libc::RTLD_NEXT, c"getaddrinfo".as_ptr()) };
    assert!(!f.is_null());
    // SAFETY: libc's getaddrinfo has this signature.
    let real: Gai = unsafe { std::mem::transmute(f) };
    // SAFETY: node is NULL or NUL-terminated.
    let name = (!node.is_null()).then(|| unsafe { CStr::from_ptr(node) }.to_bytes());
    if name != Some(b"localhost") {
        // SAFETY: passed on.
        return unsafe { real(node, service, hints, res) };
    }
    let mut v6: *mut libc::addrinfo = std::ptr::null_mut();
    let mut v4: *mut libc::addrinfo = std::ptr::null_mut();
    // SAFETY: numeric addresses in place of the name.
    let r6 = unsafe { real(c"::1".as_ptr(), service, hints, &mut v6) };
    // SAFETY: as above.
    let r4 = unsafe { real(c"127.0.0.1".as_ptr(), service, hints, &mut v4) };
    if r6 != 0 || r4 != 0 {
        return if r6 != 0 { r6 } else { r4 };
    }
    // SAFETY: chains from getaddrinfo; freeaddrinfo frees a linked chain.
    unsafe {
        let mut last = v6;
        while !(*last).ai_next.is_null() {
            last = (*last).ai_next;
        }
        (*last).ai_next = v4;
        *res = v6;
    }
    0
}

fn server(bind: &str, port: u16) -> ServerHandle {
    TcpServer::new(port, 10)
        .bind(bind.parse().unwrap())
        .framing(Framing::lines())
        .start()
        .unwrap()
}

fn next_message(server: &ServerHandle) -> Vec<u8> {
    let events = server.events();
    loop {
        match next_event(&events) {
            Event::Message(_, data) => return data,
            Event::Connected(_) | Event::Disconnected(..) => {}
        }
    }
}

fn wait_reconnected(client: &TcpClient) {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match client.next_event(left) {
            Ok(ClientEvent::Reconnected { .. }) => return,
            Ok(ClientEvent::Disconnected(_) | ClientEvent::Reconnecting { .. }) => {}
            other => panic!("waiting to reconnect, got {other:?}"),
        }
    }
}

fn moves(from: &str, to: &str) {
    let s1 = server(from, 0);
    let port = s1.local_addr().port();
    let client = TcpClient::builder(("localhost", port))
        .framing(Framing::lines())
        .reconnect(Reconnect {
            initial: Duration::from_millis(20),
            max: Duration::from_millis(200),
            max_attempts: None,
        })
        .connect()
        .unwrap();
    assert_eq!(client.peer_addr(), s1.local_addr());
    client.send(b"one").unwrap();
    assert_eq!(next_message(&s1), b"one");
    let old = s1.local_addr();
    s1.stop();
    let _held = hold_port(old);
    client.send(b"two").unwrap();
    let s2 = server(to, port);
    wait_reconnected(&client);
    assert_eq!(client.peer_addr(), s2.local_addr());
    assert_eq!(next_message(&s2), b"two");
    // And back: a drop of the second, the first address listening again.
    drop(_held);
    let old2 = s2.local_addr();
    s2.stop();
    let _held2 = hold_port(old2);
    let s3 = server(from, port);
    client.send(b"three").unwrap();
    wait_reconnected(&client);
    assert_eq!(next_message(&s3), b"three");
    client.close();
}

#[test]
fn localhost_redials_follow_the_family_that_listens() {
    moves("127.0.0.1", "::1");
    moves("::1", "127.0.0.1");
}
