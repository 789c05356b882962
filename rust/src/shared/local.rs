//! The thread-local record of the event loop running on a thread: the
//! shortcut that lets a callback's commands to its own loop skip the
//! channel and the wakeup, and what the read path asks about a callback's
//! kicks and pauses.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crossbeam_channel::Receiver;

use super::{Command, Core, LoopRemote, MAX_PENDING_BYTES};
use crate::event::ClientId;

/// Per-thread record of the loop running on it, if any.
pub(crate) struct LocalLoop {
    pub(super) core: *const Core,
    pub(crate) idx: usize,
    /// Commands a callback sent to this same loop; drained by the loop right
    /// after the callback returns.
    pub(super) cmds: Vec<Command>,
    /// Messages callbacks sent to this same loop's clients, gathered in
    /// runs (see `gather.rs`); moved to the end of `cmds` before anything
    /// else joins it.
    pub(crate) gathered: crate::gather::Gathered,
    /// Clients a `Kick` among `cmds` is for: the loop stops handing their
    /// messages to `on_message` at once, not only once the kick is applied
    /// (see `done_here`).
    pub(super) kicked: Vec<ClientId>,
    /// Clients a `PauseClient` among `cmds` is for: the read in hand hands
    /// them nothing more (see `done_here`).
    pub(super) paused_clients: Vec<ClientId>,
    /// The loop's channel: what other threads posted there before a
    /// callback's command is moved in front of it (see `Core::post`).
    pub(super) rx: Receiver<Command>,
    /// Backlog counters of other servers' loops this loop's callbacks have
    /// posted messages to (most recent last, at most [`MAX_FOREIGN`]).
    pub(super) foreign: Vec<Arc<AtomicUsize>>,
    /// Kicks callbacks on this thread have posted to its own loop, and
    /// their `pause_input()` calls, shared with the loop (`EventLoop`'s
    /// read path compares it per frame and asks [`done_here`], and
    /// whether input is paused, only when it moved). Not a thread-local of
    /// its own: in libtcphub each thread-local access is a `__tls_get_addr`
    /// call.
    pub(super) kicks: Rc<Cell<u64>>,
    /// Backlog bytes of the commands `catch_up` moved from the channel to
    /// `cmds`, not yet applied: the loop takes them off its count once it
    /// has (see `LoopRemote::drain_into`).
    pub(super) moved: usize,
}

/// How many other servers' loops a loop keeps watching for backpressure.
const MAX_FOREIGN: usize = 16;

/// Whether a loop of another server that this thread's callbacks post to is
/// more than [`MAX_PENDING_BYTES`] behind: the loop on this thread should
/// stop reading until it catches up (a loop thread never waits for one).
pub(crate) fn foreign_backlog() -> bool {
    LOCAL.with(|l| {
        l.borrow().as_ref().is_some_and(|ll| {
            ll.foreign
                .iter()
                .any(|p| p.load(Ordering::Relaxed) > MAX_PENDING_BYTES)
        })
    })
}

impl LocalLoop {
    /// Moves what other threads have posted to this loop's channel into
    /// `cmds`, ahead of whatever a callback queues next: a command posted
    /// from another thread before the callback's (e.g. after a callback's
    /// reply, by a worker it told) must not be applied after it.
    /// Skipped while `remote.notified` is clear: a post that happened
    /// before (its sender sets the flag after pushing) would have set it,
    /// and only the loop's `pump` clears it, before draining the channel.
    /// What is gathered goes first: it was sent before (or while) those
    /// were posted — had one of them been posted before a gathered message,
    /// its flag would have made the gathering call catch up first.
    /// `moved`: this thread has just put something there itself (without
    /// the flag).
    pub(crate) fn catch_up(&mut self, remote: &LoopRemote, moved: bool) {
        if moved || remote.notified.load(Ordering::Acquire) {
            self.flush_gathered();
            self.moved += remote.drain_into(&self.rx, &mut self.cmds);
        }
    }

    /// Moves the messages gathered for this loop to the end of `cmds`.
    #[inline]
    pub(crate) fn flush_gathered(&mut self) {
        if self.gathered.is_empty() {
            return;
        }
        let cmds = &mut self.cmds;
        self.gathered.take_each(|cmd| cmds.push(cmd));
    }

    /// Remembers another server's loop backlog counter (see `foreign`).
    pub(super) fn watch(&mut self, pending: &Arc<AtomicUsize>) {
        if let Some(last) = self.foreign.last() {
            if Arc::ptr_eq(last, pending) {
                return; // the common case: the same bridge target again
            }
        }
        self.foreign.retain(|p| !Arc::ptr_eq(p, pending));
        if self.foreign.len() == MAX_FOREIGN {
            self.foreign.remove(0);
        }
        self.foreign.push(pending.clone());
    }
}

thread_local! {
    pub(super) static LOCAL: RefCell<Option<LocalLoop>> = const { RefCell::new(None) };
}

/// Runs `f` with this thread's loop record, `None` on a thread that runs
/// no loop — also once the thread's thread-locals are destroyed, where
/// `LOCAL.with` would panic: an application's code running at its thread's
/// exit (a pthread-key destructor, a thread-local's drop) may still send.
/// A loop thread clears its record before it ends ([`leave_loop`]).
pub(crate) fn with_local<R>(f: impl FnOnce(Option<&mut LocalLoop>) -> R) -> R {
    let mut f = Some(f);
    match LOCAL.try_with(|l| f.take().expect("called once")(l.borrow_mut().as_mut())) {
        Ok(r) => r,
        Err(_) => f.take().expect("not called")(None),
    }
}

/// Marks this thread as loop `idx` of `core` (called once by the loop
/// thread); returns the loop's kick count (see [`LocalLoop::kicks`]).
pub(crate) fn enter_loop(core: &Arc<Core>, idx: usize, rx: Receiver<Command>) -> Rc<Cell<u64>> {
    mark_io_thread();
    let kicks = Rc::new(Cell::new(0));
    LOCAL.with(|l| {
        *l.borrow_mut() = Some(LocalLoop {
            core: Arc::as_ptr(core),
            idx,
            cmds: Vec::new(),
            gathered: Default::default(),
            kicked: Vec::new(),
            paused_clients: Vec::new(),
            rx,
            foreign: Vec::new(),
            kicks: kicks.clone(),
            moved: 0,
        })
    });
    kicks
}

thread_local! {
    /// Set on every tcphub I/O thread: server event loops and client I/O
    /// threads.
    static IO_THREAD: Cell<bool> = const { Cell::new(false) };
}

/// Marks this thread as a tcphub I/O thread (for its whole life).
pub(crate) fn mark_io_thread() {
    IO_THREAD.with(|t| t.set(true));
}

/// Whether this thread is a tcphub I/O thread — an event loop of any
/// server or the I/O thread of any client. Such a thread never waits for
/// another one to end (`stop()`, `close()`): two of them doing so to each
/// other from their callbacks would deadlock.
pub(crate) fn on_any_io_thread() -> bool {
    IO_THREAD.with(Cell::get)
}

/// Clears the mark when the loop thread ends.
pub(crate) fn leave_loop() {
    LOCAL.with(|l| l.borrow_mut().take());
}

/// Runs `f` with this thread's loop if it is one of `core`'s (a callback
/// running there); `None` on any other thread (see `gather.rs`).
pub(crate) fn on_own_loop<R>(core: &Core, f: impl FnOnce(&mut LocalLoop) -> R) -> Option<R> {
    with_local(|l| {
        let ll = l.filter(|ll| std::ptr::eq(ll.core, core))?;
        Some(f(ll))
    })
}

/// Appends the commands queued locally by callbacks to `out`, in order,
/// adding to `moved` the backlog bytes of those among them taken from the
/// channel (to come off the count once applied).
pub(crate) fn take_local_into(out: &mut VecDeque<Command>, moved: &mut usize) {
    LOCAL.with(|l| {
        if let Some(ll) = l.borrow_mut().as_mut() {
            ll.flush_gathered();
            if ll.cmds.is_empty() {
                // The common case after the first call of a turn: the loop
                // asks again after each command it applies (one may have
                // run a callback). A drain of nothing costs ~60 instructions.
                // (`ll.moved` is 0 then: what it counts is in `cmds`.)
                return;
            }
            *moved += std::mem::take(&mut ll.moved);
            out.extend(ll.cmds.drain(..));
            ll.kicked.clear();
            ll.paused_clients.clear();
            // A callback that posted a burst keeps no room for it for good.
            if ll.cmds.capacity() > LOCAL_KEEP {
                ll.cmds.shrink_to(LOCAL_KEEP);
            }
        }
    });
}

/// Room for commands a loop's callback list keeps between turns.
const LOCAL_KEEP: usize = 4096;

/// What a callback on this loop thread has just done to client `id`, as
/// the read path asks once the kick count moved (see `LocalLoop::kicks`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DoneHere {
    /// Nothing to this client (another's kick or pause, or `pause_input`).
    Nothing,
    /// Disconnected it (its `Kick` is still among the callbacks'
    /// commands): the rest of what it sent in the same read must not reach
    /// `on_message` — a chat that kicks on `/quit` would otherwise relay the
    /// lines behind it.
    Kicked,
    /// Paused its input (`PauseClient`, likewise): the rest of the read in
    /// hand waits for the resume.
    Paused,
}

/// See [`DoneHere`]. Cold and not inlined: the read path calls it from its
/// per-frame closure only after a callback's kick or pause, and inlined
/// its thread-local access cost that closure registers on every frame.
#[cold]
#[inline(never)]
pub(crate) fn done_here(id: ClientId) -> DoneHere {
    LOCAL.with(|l| match l.borrow().as_ref() {
        Some(ll) if ll.kicked.contains(&id) => DoneHere::Kicked,
        Some(ll) if ll.paused_clients.contains(&id) => DoneHere::Paused,
        _ => DoneHere::Nothing,
    })
}

/// A callback on a loop thread of `core` paused its input: the read path
/// looks (see `LocalLoop::kicks`) and hands out nothing more, not even the
/// rest of the read in hand. (From any other thread the pause is seen at
/// each loop's next read.)
pub(crate) fn paused_here(core: &Core) {
    with_local(|l| {
        if let Some(ll) = l {
            if std::ptr::eq(ll.core, core) {
                ll.kicks.set(ll.kicks.get().wrapping_add(1));
            }
        }
    });
}
