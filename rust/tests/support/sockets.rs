//! Socket options of sockets this process holds but cannot reach by
//! handle — a `TcpClient`'s, a server's listening socket — found by their
//! address among this process's descriptors: buffers a test makes small or
//! large so that what it waits for does not depend on the kernel's
//! tcp_wmem/tcp_rmem (whose defaults and maxima differ between hosts).

use std::net::SocketAddr;

/// Sets `SO_RCVBUF` of this process's TCP socket bound to `local` (a
/// `TcpClient`'s, which does not hand out its socket): a receive buffer
/// that holds much input unread, as the kernel's autotuning makes it for a
/// client that read fast before.
pub fn set_recv_buffer_of(local: SocketAddr, bytes: usize) {
    with_socket_of(local, |sock| {
        sock.set_recv_buffer_size(bytes).expect("SO_RCVBUF")
    });
}

/// Sets `SO_SNDBUF` of this process's TCP socket bound to `local` (a
/// `TcpClient`'s): little of what it writes waits in its kernel, so what
/// the client counts as written is about what the server gets.
pub fn set_send_buffer_of(local: SocketAddr, bytes: usize) {
    with_socket_of(local, |sock| {
        sock.set_send_buffer_size(bytes).expect("SO_SNDBUF")
    });
}

/// Sets `SO_RCVBUF` of the listening socket of this process bound to
/// `local` (a server's: its `local_addr()`, which its accepted sockets
/// share): the connections it accepts from now on inherit it, and offer
/// their window by it from the handshake on.
pub fn set_recv_buffer_of_listener(local: SocketAddr, bytes: usize) {
    with_listener_of(local, |sock| {
        sock.set_recv_buffer_size(bytes).expect("SO_RCVBUF")
    });
}

/// Sets `SO_SNDBUF` of the listening socket of this process bound to
/// `local` (a server's): the connections it accepts from now on inherit it.
pub fn set_send_buffer_of_listener(local: SocketAddr, bytes: usize) {
    with_listener_of(local, |sock| {
        sock.set_send_buffer_size(bytes).expect("SO_SNDBUF")
    });
}

/// Sets `SO_SNDBUF` of the connection this process accepted on `local`
/// (a server's address) from `peer` (a peer's, once the server has it):
/// a non-reader's, made small so that what is sent to it does not all fit
/// its kernel — whose buffer may otherwise start at tcp_wmem's default,
/// which a host may set to 16 MiB.
pub fn set_send_buffer_of_accepted(local: SocketAddr, peer: SocketAddr, bytes: usize) {
    let mut bytes = Some(bytes);
    let found = for_sockets(|sock| {
        let addr = |a: std::io::Result<socket2::SockAddr>| a.ok().and_then(|a| a.as_socket());
        let this = addr(sock.local_addr()) == Some(local) && addr(sock.peer_addr()) == Some(peer);
        if this {
            let bytes = bytes.take().expect("once");
            sock.set_send_buffer_size(bytes).expect("SO_SNDBUF");
        }
        this
    });
    assert!(found, "no connection on {local} from {peer}");
}

/// Runs `f` on this process's listening TCP socket bound to `local` (not
/// on a connection it accepted, bound to the same address).
fn with_listener_of(local: SocketAddr, f: impl FnOnce(socket2::SockRef<'_>)) {
    let mut f = Some(f);
    let found = for_sockets(|sock| {
        let listening = sock.local_addr().ok().and_then(|a| a.as_socket()) == Some(local)
            && sock.peer_addr().is_err();
        if listening {
            (f.take().expect("once"))(sock);
        }
        listening
    });
    assert!(found, "no listening socket bound to {local}");
}

/// Calls `found` on each socket of this process until it returns true;
/// returns whether one did.
fn for_sockets(mut found: impl FnMut(socket2::SockRef<'_>) -> bool) -> bool {
    for e in std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .flatten()
    {
        let Ok(fd) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        // SAFETY: borrowed for a getsockname (and a setsockopt); not closed
        // here. The socket we look for stays open (its owner is alive).
        let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
        if found(socket2::SockRef::from(&borrowed)) {
            return true;
        }
    }
    false
}

/// `SO_SNDBUF` of this process's TCP socket bound to `local` (as the
/// kernel has it: twice what was asked, within `net.core.wmem_max`).
pub fn send_buffer_of(local: SocketAddr) -> usize {
    let mut size = 0;
    with_socket_of(local, |sock| {
        size = sock.send_buffer_size().expect("SO_SNDBUF")
    });
    size
}

/// Runs `f` on this process's TCP socket bound to `local`.
fn with_socket_of(local: SocketAddr, f: impl FnOnce(socket2::SockRef<'_>)) {
    let mut f = Some(f);
    let found = for_sockets(|sock| {
        let bound = sock.local_addr().ok().and_then(|a| a.as_socket()) == Some(local);
        if bound {
            (f.take().expect("once"))(sock);
        }
        bound
    });
    assert!(found, "no socket bound to {local}");
}
