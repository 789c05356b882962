//! A process forked while a server and a client run: in the child they act
//! as stopped/closed and nothing waits for the I/O threads the child lacks
//! (`stop()`, `close()` and dropping waited for good, and a joined client
//! thread panicked); the parent's server and client go on unharmed.

mod support;

use std::time::{Duration, Instant};

use support::*;
use tcphub::{Error, Framing, TcpClient};

/// In the forked child: exit code 0 if every check held, else the check's
/// number. Only the child runs this (then `_exit`s: no test harness there).
fn child_checks(server: tcphub::ServerHandle, client: TcpClient) -> i32 {
    if server.is_running() {
        return 1;
    }
    if !matches!(server.send(1, b"x"), Err(Error::NotRunning)) {
        return 2;
    }
    if server.send_all(b"x") != 0 {
        return 3;
    }
    if client.is_open() || client.is_connected() {
        return 4;
    }
    if !matches!(client.send(b"x"), Err(Error::NotRunning)) {
        return 5;
    }
    if !server.stop_timeout(Duration::from_secs(1)) {
        return 6;
    }
    server.stop();
    server.wait();
    client.close();
    drop(client);
    drop(server);
    0
}

#[test]
fn a_forked_child_neither_hangs_nor_disturbs_the_parents_server_and_client() {
    let server = echo_server(Framing::lines());
    let client = TcpClient::builder(server.local_addr())
        .framing(Framing::lines())
        .connect()
        .expect("connect");
    client.send(b"before").expect("send");
    assert_eq!(
        client.recv_timeout(Duration::from_secs(30)).expect("echo"),
        b"before"
    );

    // SAFETY: the child runs only `child_checks` (tcphub handles, which
    // take no lock the forking thread does not own) and then `_exit`.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let code = child_checks(server, client);
        // SAFETY: ends the child at once, without the parent's exit work.
        unsafe { libc::_exit(code) };
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut status = 0;
    loop {
        // SAFETY: waits for our own child, without blocking.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if r == pid {
            break;
        }
        if Instant::now() > deadline {
            // SAFETY: our own child, stuck.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("the forked child hung (stop, close or drop waited for the parent's threads)");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "the child's check failed: wait status {status:#x} (exit code = failed check)"
    );

    // The parent's server and client were not touched by the child.
    assert!(server.is_running() && client.is_connected());
    client.send(b"after").expect("send");
    assert_eq!(
        client.recv_timeout(Duration::from_secs(30)).expect("echo"),
        b"after"
    );
    client.close();
    server.stop();
}
