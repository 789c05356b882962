//! Forked children for the fork tests: a bounded wait for one, and a run of
//! checks in one that must end.

use std::time::{Duration, Instant};

use super::TIMEOUT;

/// Waits (bounded) for our child `pid`; its wait status, or `None` when it
/// hung (then killed and reaped).
pub fn wait_child_or_kill(pid: libc::pid_t) -> Option<i32> {
    let deadline = Instant::now() + TIMEOUT;
    let mut status = 0;
    loop {
        // SAFETY: our own child, without blocking.
        if unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) } == pid {
            return Some(status);
        }
        if Instant::now() > deadline {
            // SAFETY: our own child, stuck.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Forks; the child runs `check` (its exit code: 0 passed, else the failed
/// check) and `_exit`s. Fails when the child hangs or a check failed.
pub fn in_child(what: &str, check: impl FnOnce() -> i32) {
    // SAFETY: the child runs only `check` and `_exit`.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let code = check();
        // SAFETY: ends the child at once, without the parent's exit work.
        unsafe { libc::_exit(code) };
    }
    let status = wait_child_or_kill(pid).unwrap_or_else(|| panic!("{what}: the child hung"));
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{what}: wait status {status:#x} (exit code = the failed check)"
    );
}
