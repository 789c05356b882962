//! Closing the `TcpClient`s the application did not close: the registry
//! of clients not dropped yet, which the interpreter's exit closes
//! (`_close_all`), and the close of a client dropped while open.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use pyo3::prelude::*;
use tcphub::TcpClient;

use super::PyTcpClient;
use crate::wait_sliced;

/// The clients not dropped yet (a handle of each, its `interrupted` flag),
/// for the interpreter's exit to close (`_close_all`): a client is closed
/// when dropped, but the exit may never drop it — a daemon thread still
/// running keeps the module teardown from freeing it — and what its
/// `send()` queued was then lost. Each entry goes when its client is
/// dropped; the handle kept here does not keep the connection open (the
/// drop closes it explicitly). Held across every `fork()` by the forking
/// thread (see [`hold_across_forks`]), so no child gets it locked by a
/// thread it does not have.
static OPEN: Mutex<Vec<(u64, TcpClient, Arc<AtomicBool>)>> = Mutex::new(Vec::new());

/// Keys of [`OPEN`]'s entries.
static NEXT_KEY: AtomicU64 = AtomicU64::new(0);

type OpenGuard = std::sync::MutexGuard<'static, Vec<(u64, TcpClient, Arc<AtomicBool>)>>;

fn open_clients() -> OpenGuard {
    OPEN.lock().unwrap_or_else(|p| p.into_inner())
}

std::thread_local! {
    /// [`OPEN`], locked by this thread for the `fork()` it is making.
    static HELD_FOR_FORK: std::cell::RefCell<Option<OpenGuard>> =
        const { std::cell::RefCell::new(None) };
}

extern "C" fn lock_before_fork() {
    let held = open_clients();
    HELD_FOR_FORK.with(|h| *h.borrow_mut() = Some(held));
}

extern "C" fn unlock_after_fork() {
    HELD_FOR_FORK.with(|h| drop(h.borrow_mut().take()));
}

/// Makes every `fork()` in the process take [`OPEN`] first and release it
/// after, in the parent and in the child: a "tcphub-close" thread (a client
/// dropped in a callback) takes it without the GIL, and a fork that copied
/// it held left the child's next `TcpClient(...)` waiting for ever (6 of
/// 12,000 forks in a review). The lock is only ever held for a push or a
/// removal, so a fork waits microseconds at most.
pub(crate) fn hold_across_forks() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: the handlers lock and unlock a process-wide mutex on the
        // forking thread; neither unwinds (the lock recovers from poison).
        // (It fails only for want of memory: forks are then as before.)
        let _ = unsafe {
            libc::pthread_atfork(
                Some(lock_before_fork),
                Some(unlock_after_fork),
                Some(unlock_after_fork),
            )
        };
    });
}

impl PyTcpClient {
    /// The binding's client for `client`, just connected, entered in [`OPEN`].
    pub(super) fn tracked(client: TcpClient, framing: tcphub::Framing) -> PyTcpClient {
        hold_across_forks();
        let interrupted = Arc::new(AtomicBool::new(false));
        let key = NEXT_KEY.fetch_add(1, Ordering::Relaxed);
        open_clients().push((key, client.clone(), interrupted.clone()));
        PyTcpClient {
            client,
            framing,
            interrupted,
            key,
            closed: AtomicBool::new(false),
        }
    }

    /// `NotRunning` once `close()` was called: `with` (and `async with`)
    /// does not enter a client the application closed, as a closed file
    /// is not entered. One the server ended can still be entered, to take
    /// what it sent before.
    pub(super) fn not_closed(&self, py: Python<'_>) -> PyResult<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(crate::errors::not_running(
                py,
                "the client is closed: create a new TcpClient".into(),
            ));
        }
        Ok(())
    }
}

/// `_close_all()`: closes every client in [`OPEN`] as `close()` does, one
/// after the other; Ctrl-C ends the wait, leaving the clients still
/// closing to finish in the background.
pub(super) fn close_all(py: Python<'_>) -> PyResult<()> {
    let open: Vec<(TcpClient, Arc<AtomicBool>)> = open_clients()
        .iter()
        .map(|(_, c, i)| (c.clone(), i.clone()))
        .collect();
    for (i, (client, interrupted)) in open.iter().enumerate() {
        if interrupted.load(Ordering::Acquire) {
            continue; // Ctrl-C already gave up on this one
        }
        // No deadline: `Got` or Ctrl-C's error.
        let closed = wait_sliced(py, None, |slice| {
            Ok(client.close_timeout(slice).then_some(()))
        });
        if let Err(e) = closed {
            for (client, interrupted) in &open[i..] {
                interrupted.store(true, Ordering::Release);
                py.detach(|| client.close_timeout(std::time::Duration::ZERO));
            }
            return Err(e);
        }
    }
    // (Dropping `open` does not wait: each client is closed or has a
    // handle elsewhere, its Python object's or an interrupted drop's.)
    Ok(())
}

/// Takes the client keyed `key` out of [`OPEN`]; the caller drops the
/// entry (outside the lock: dropping a client may wait for its close).
fn untrack(key: u64) -> Option<(u64, TcpClient, Arc<AtomicBool>)> {
    let mut open = open_clients();
    open.iter()
        .position(|(k, ..)| *k == key)
        .map(|i| open.swap_remove(i))
}

impl Drop for PyTcpClient {
    /// A client dropped without `close()` closes here: its I/O thread flushes
    /// (up to `linger`) and is joined with the GIL released, so other Python
    /// threads keep running meanwhile — except in a server's callback, which
    /// would hold up every later callback, and on a thread running an
    /// asyncio event loop, which would stand still: there a "tcphub-close" thread
    /// closes it, and the client stays in [`OPEN`] until that is done, so
    /// the interpreter's exit still waits for its flush.
    fn drop(&mut self) {
        let interrupted = self.interrupted.load(Ordering::Acquire);
        let in_callback =
            !interrupted && (crate::dispatch::on_dispatcher() || crate::dispatch::on_event_loop());
        if !in_callback {
            drop(untrack(self.key)); // not the last handle: ours is still here
        }
        if interrupted || in_callback {
            // That thread's handle is not the last one until its close has
            // finished: dropping ours below does not wait. (If no thread
            // can start, its handle is dropped unused and ours closes as
            // below.)
            let (rest, key) = (self.client.clone(), self.key);
            let started = std::thread::Builder::new()
                .name("tcphub-close".into())
                .spawn(move || {
                    rest.close();
                    if in_callback {
                        drop(untrack(key)); // closed: dropping it does not wait
                    }
                });
            if started.is_ok() {
                return;
            }
            if in_callback {
                drop(untrack(self.key));
            }
        }
        // A closure that cannot run (interpreter finalizing) leaves the
        // close to the inner client's own drop.
        let _ = Python::try_attach(|py| py.detach(|| self.client.close()));
    }
}
