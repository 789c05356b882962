//! A reconnecting client named its server by a host name looks the name up
//! again for its redials, so a server that comes back at another address
//! (a restarted container given a new IP address, a DNS failover) is found
//! there; while the name does not resolve, the redials keep dialling the
//! addresses it had.
//!
//! No test can change what a name resolves to on this host, so this binary
//! interposes `getaddrinfo`: the name [`NAME`] resolves to the addresses
//! [`ANSWER`] holds, in that order (through the C library's own lookups of
//! those numeric addresses, chained, so `freeaddrinfo` frees them), or fails
//! as an unknown name when it holds none; every other name is looked up as
//! usual. Alone in its own file: the interposer
//! is the whole process's. Only loopback addresses are ever answered.

mod support;

use std::ffi::{c_char, c_int, CStr};
use std::net::{Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use support::*;
use tcphub::{ClientEvent, Event, Framing, Reconnect, ServerHandle, TcpClient, TcpServer};

/// The name the interposer answers for.
const NAME: &str = "tcphub-moving-server.test";

/// A name as [`NAME`], with a character its `Debug` form escapes (a
/// combining accent, as in a name written decomposed): answered alike.
const ODD_NAME: &str = "tcphub-moving-server\u{301}.test";

/// What [`NAME`] resolves to now, in order (none: it does not resolve).
static ANSWER: Mutex<&'static [&'static CStr]> = Mutex::new(&[]);
/// Lookups of [`NAME`] so far.
static LOOKUPS: AtomicUsize = AtomicUsize::new(0);
/// Lookups of [`ODD_NAME`] so far.
static ODD_LOOKUPS: AtomicUsize = AtomicUsize::new(0);
/// While set, lookups of [`NAME`] wait (as for a name server that does
/// not answer), for [`TIMEOUT`] at most.
static SLOW: AtomicBool = AtomicBool::new(false);

/// The getaddrinfo the whole process calls (std's included).
///
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
    type GetAddrInfo = unsafe extern "C" fn(
        *const c_char,
        *const c_char,
        *const libc::addrinfo,
        *mut *mut libc::addrinfo,
    ) -> c_int;
    // SAFETY: dlsym with a NUL-terminated name; RTLD_NEXT finds libc's.
    let f = unsafe { libc::dlsym(libc::RTLD_NEXT, c"getaddrinfo".as_ptr()) };
    assert!(!f.is_null(), "getaddrinfo not found");
    // SAFETY: libc's getaddrinfo has this signature.
    let real: GetAddrInfo = unsafe { std::mem::transmute(f) };
    // SAFETY: node is NULL or a NUL-terminated string (getaddrinfo's contract).
    let name = (!node.is_null()).then(|| unsafe { CStr::from_ptr(node) }.to_bytes());
    let counter = match name {
        Some(n) if n == NAME.as_bytes() => &LOOKUPS,
        Some(n) if n == ODD_NAME.as_bytes() => &ODD_LOOKUPS,
        // SAFETY: the caller's arguments, passed on.
        _ => return unsafe { real(node, service, hints, res) },
    };
    counter.fetch_add(1, Ordering::SeqCst);
    try_wait_until(TIMEOUT, || !SLOW.load(Ordering::SeqCst));
    let answer = *ANSWER.lock().unwrap_or_else(|p| p.into_inner());
    if answer.is_empty() {
        return libc::EAI_NONAME;
    }
    let mut first: *mut libc::addrinfo = std::ptr::null_mut();
    let mut last: *mut libc::addrinfo = std::ptr::null_mut();
    for ip in answer {
        let mut found: *mut libc::addrinfo = std::ptr::null_mut();
        // SAFETY: a numeric address in place of the name; the rest passed on.
        let r = unsafe { real(ip.as_ptr(), service, hints, &mut found) };
        if r != 0 {
            if !first.is_null() {
                // SAFETY: a chain getaddrinfo made, freed once.
                unsafe { libc::freeaddrinfo(first) };
            }
            return r;
        }
        // SAFETY: `last` ends the chain built so far (getaddrinfo's lists
        // are linked through ai_next; freeaddrinfo frees a linked chain).
        unsafe {
            if first.is_null() {
                first = found;
            } else {
                (*last).ai_next = found;
            }
            last = found;
            while !(*last).ai_next.is_null() {
                last = (*last).ai_next;
            }
        }
    }
    // SAFETY: res is the caller's out-parameter (getaddrinfo's contract).
    unsafe { *res = first };
    0
}

/// From now on [`NAME`] resolves to `ips`, in that order.
fn answer(ips: &'static [&'static CStr]) {
    *ANSWER.lock().unwrap() = ips;
}

fn lines_server(bind: &str, port: u16) -> tcphub::Result<ServerHandle> {
    TcpServer::new(port, 10)
        .bind(bind.parse().unwrap())
        .framing(Framing::lines())
        .start()
}

/// A client of `name` that redials every 20–200 ms, for good.
fn reconnecting_client(name: &str, port: u16) -> TcpClient {
    TcpClient::builder((name, port))
        .framing(Framing::lines())
        .reconnect(Reconnect {
            initial: Duration::from_millis(20),
            max: Duration::from_millis(200),
            max_attempts: None,
        })
        .connect()
        .unwrap()
}

/// Waits for the client's `Reconnected`, skipping the drop and the attempts.
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

/// The next message `server` gets, skipping connects and disconnects.
fn next_message(server: &ServerHandle) -> Vec<u8> {
    let events = server.events();
    loop {
        match next_event(&events) {
            Event::Message(_, data) => return data,
            Event::Connected(_) | Event::Disconnected(..) => {}
        }
    }
}

/// The tests in one: they share the interposer's answer.
#[test]
fn redials_look_the_name_up_again() {
    // Those that move the server between 127.0.0.1 and ::1 need IPv6
    // loopback, which not every host has (they skip there).
    let v6 = have_ipv6_loopback();
    if v6 {
        a_server_back_at_another_address_is_found_there();
    }
    a_name_that_stops_resolving_keeps_the_addresses_it_had();
    a_name_debug_escapes_is_looked_up_as_itself();
    a_slow_lookup_is_not_started_again();
    if v6 {
        // As `localhost` on most hosts: ::1 and 127.0.0.1, one listening.
        a_name_of_both_families_follows_the_one_that_listens("127.0.0.1", "::1");
        a_name_of_both_families_follows_the_one_that_listens("::1", "127.0.0.1");
    }
}

/// While a lookup is slow (a name server that does not answer), the
/// redials go on and start no other lookup beside it: one runs at a time,
/// however many attempts it takes. (Review mg, mutation testing: without
/// `Lookup::start`'s check every attempt started one more, each a thread
/// blocked in the lookup.)
fn a_slow_lookup_is_not_started_again() {
    answer(&[c"127.0.0.1"]);
    let server = lines_server("127.0.0.1", 0).unwrap();
    let addr = server.local_addr();
    let client = reconnecting_client(NAME, addr.port());
    client.send(b"hello").unwrap();
    assert_eq!(next_message(&server), b"hello");
    SLOW.store(true, Ordering::SeqCst);
    let before = LOOKUPS.load(Ordering::SeqCst);
    server.stop();
    let _held = hold_port(addr); // every redial is refused
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match client.next_event(left) {
            Ok(ClientEvent::Reconnecting { attempt, .. }) if attempt >= 6 => break,
            Ok(ClientEvent::Disconnected(_) | ClientEvent::Reconnecting { .. }) => {}
            other => panic!("waiting for the redials, got {other:?}"),
        }
    }
    wait_until("the drop's lookup started", || {
        LOOKUPS.load(Ordering::SeqCst) > before
    });
    let started = LOOKUPS.load(Ordering::SeqCst) - before;
    SLOW.store(false, Ordering::SeqCst);
    assert_eq!(started, 1, "lookups started while one was running");
    client.close();
}

/// A lines server on `bind` at a port free on the other family too.
fn server_at_a_port_free_on_both(bind: &str) -> (ServerHandle, u16) {
    (0..50)
        .find_map(|_| {
            let server = lines_server(bind, 0).unwrap();
            let port = server.local_addr().port();
            let other: std::net::IpAddr = if bind.contains(':') {
                [127, 0, 0, 1].into()
            } else {
                Ipv6Addr::LOCALHOST.into()
            };
            std::net::TcpListener::bind((other, port))
                .is_ok()
                .then_some((server, port))
        })
        .expect("a port free on 127.0.0.1 and ::1")
}

fn a_server_back_at_another_address_is_found_there() {
    answer(&[c"127.0.0.1"]);
    // A port free on ::1 too, for the server's new address.
    let (old, port) = server_at_a_port_free_on_both("127.0.0.1");
    let client = reconnecting_client(NAME, port);
    assert_eq!(client.peer_addr(), SocketAddr::from(([127, 0, 0, 1], port)));
    client.send(b"to the old one").unwrap();
    assert_eq!(next_message(&old), b"to the old one");

    // The server moves: its name now says ::1, and nobody is left at
    // 127.0.0.1 (every redial there is refused).
    let new = lines_server("::1", port).expect("the port was free on ::1");
    answer(&[c"::1"]);
    let before = LOOKUPS.load(Ordering::SeqCst);
    old.stop();
    wait_reconnected(&client);
    assert_eq!(
        client.peer_addr(),
        SocketAddr::from((Ipv6Addr::LOCALHOST, port))
    );
    client.send(b"to the new one").unwrap();
    assert_eq!(next_message(&new), b"to the new one");
    let lookups = LOOKUPS.load(Ordering::SeqCst) - before;
    assert!(lookups >= 1, "the redials never looked the name up");

    // And back again: the next drop's redials look it up afresh.
    let back = lines_server("127.0.0.1", port).expect("the old address is free again");
    answer(&[c"127.0.0.1"]);
    new.stop();
    wait_reconnected(&client);
    assert_eq!(client.peer_addr(), SocketAddr::from(([127, 0, 0, 1], port)));
    client.send(b"back home").unwrap();
    assert_eq!(next_message(&back), b"back home");
    client.close();
    back.stop();
}

fn a_name_that_stops_resolving_keeps_the_addresses_it_had() {
    answer(&[c"127.0.0.1"]);
    let server = lines_server("127.0.0.1", 0).unwrap();
    let port = server.local_addr().port();
    let client = reconnecting_client(NAME, port);
    // The name stops resolving and the server goes away: the redials look
    // the name up, fail, and keep dialling 127.0.0.1.
    answer(&[]);
    let before = LOOKUPS.load(Ordering::SeqCst);
    server.stop();
    // (Held until the restart: a redial must not take it as its own port.)
    let held = hold_port(SocketAddr::from(([127, 0, 0, 1], port)));
    assert!(
        try_wait_until(TIMEOUT, || LOOKUPS.load(Ordering::SeqCst) >= before + 2),
        "the redials did not look the name up"
    );
    drop(held);
    let server = lines_server("127.0.0.1", port).expect("the port is free again");
    wait_reconnected(&client);
    assert_eq!(client.peer_addr(), SocketAddr::from(([127, 0, 0, 1], port)));
    client.send(b"back").unwrap();
    assert_eq!(next_message(&server), b"back");
    client.close();
    server.stop();
}

/// The name is read from the address's `Debug` form, which escapes some
/// characters (`"\u{301}"`): the redials look up the name, not that
/// spelling of it (before: the escaped text, which no resolver knows, so
/// the redials never found the server anywhere new).
fn a_name_debug_escapes_is_looked_up_as_itself() {
    answer(&[c"127.0.0.1"]);
    let server = lines_server("127.0.0.1", 0).unwrap();
    let port = server.local_addr().port();
    let client = reconnecting_client(ODD_NAME, port);
    let before = ODD_LOOKUPS.load(Ordering::SeqCst);
    server.stop();
    assert!(
        try_wait_until(TIMEOUT, || ODD_LOOKUPS.load(Ordering::SeqCst) >= before + 2),
        "the redials did not look {ODD_NAME:?} up"
    );
    client.close();
}

/// The name resolves to ::1 and 127.0.0.1 (::1 first), only one of them
/// listens, and the server moves from one family to the other on the same
/// port and back: every redial finds the one that listens.
fn a_name_of_both_families_follows_the_one_that_listens(from: &str, to: &str) {
    answer(&[c"::1", c"127.0.0.1"]);
    let (first, port) = server_at_a_port_free_on_both(from);
    let client = reconnecting_client(NAME, port);
    assert_eq!(client.peer_addr(), first.local_addr());
    client.send(b"one").unwrap();
    assert_eq!(next_message(&first), b"one");
    first.stop();
    // (Held until the move back: a redial must not take it as its own port.)
    let held = hold_port(first.local_addr());
    client.send(b"two").unwrap();
    let second = lines_server(to, port).expect("the port was free on both");
    wait_reconnected(&client);
    assert_eq!(client.peer_addr(), second.local_addr());
    assert_eq!(next_message(&second), b"two");
    drop(held);
    second.stop();
    let held = hold_port(second.local_addr());
    let third = lines_server(from, port).expect("the first address is free again");
    client.send(b"three").unwrap();
    wait_reconnected(&client);
    assert_eq!(client.peer_addr(), third.local_addr());
    assert_eq!(next_message(&third), b"three");
    drop(held);
    client.close();
    third.stop();
}
