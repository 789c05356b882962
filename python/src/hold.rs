//! `pause_client` and `pause_input` with callbacks: the messages that wait
//! for the dispatcher thread are held back from the callbacks until the
//! resume, as a Rust callback's pause takes effect at once.
//!
//! The core stops reading when its loop gets the pause, but what it read
//! before then is already queued for the dispatcher (one read of 64 KiB can
//! be hundreds of messages; the queue holds up to `event_capacity`). The
//! dispatcher keeps such messages aside in its [`Stash`] instead of calling
//! `on_message`, and hands them out, first and in order, at the resume. A
//! callback among them that pauses again holds the rest.
//!
//! - A paused client's messages go to a queue of its own. Its end
//!   (`Disconnected`: a reset while paused, a kick, the stop) ends its hold:
//!   what is held goes out before it.
//! - While input is paused every message goes to one queue, `all`, in the
//!   order taken. A client's end waits behind its held messages until the
//!   resume (as the core notices a leaving client only then), unless they
//!   are to be skipped anyway (kicked by a callback; input stopped).
//!
//! Connects are never held. Held events go out through the same skips as
//! any (a kicked client's messages, and any message after the stop or
//! `stop_input()`, are not handed out).
//!
//! [`Holds`] is shared by the dispatcher and the methods of the server
//! (`pause_client`, `pause_input` and their resumes, any thread); the
//! `Stash` is the dispatcher's alone.

use std::collections::{HashMap, HashSet, VecDeque};
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use tcphub::{Event, Events, ReadyFd};

#[derive(Default)]
struct State {
    /// The clients whose `Connected` the dispatcher has handed out and
    /// whose `Disconnected` it has not (at most the clients connected,
    /// plus a stop's leftovers). Only these are held: a pause of a client
    /// whose end has gone out holds nothing (and leaves nothing behind).
    live: HashSet<u64>,
    /// The paused clients (among `live`).
    held: HashSet<u64>,
    /// Clients resumed since the dispatcher last looked, in order.
    resumed: Vec<u64>,
    /// Input is paused (`pause_input`).
    input: bool,
    /// Input was resumed since the dispatcher last looked.
    input_resumed: bool,
}

/// The paused clients and input, for the dispatcher.
pub(crate) struct Holds {
    state: Mutex<State>,
    /// Whether anything is held or resumed: the dispatcher's fast path
    /// takes no lock per event while nothing is.
    any: AtomicBool,
    /// Written (a byte) at each resume, read by the dispatcher: it wakes
    /// its wait while it holds anything (see [`wait`]).
    wake: (UnixStream, UnixStream),
}

/// What is held of a client, as the dispatcher sees it.
#[derive(Clone, Copy)]
struct Held {
    input: bool,
    client: bool,
}

impl Held {
    const NONE: Held = Held {
        input: false,
        client: false,
    };

    fn any(self) -> bool {
        self.input || self.client
    }
}

impl Holds {
    /// No client paused, input not paused.
    pub(crate) fn new() -> std::io::Result<Holds> {
        let wake = UnixStream::pair()?;
        wake.0.set_nonblocking(true)?;
        wake.1.set_nonblocking(true)?;
        Ok(Holds {
            state: Mutex::default(),
            any: AtomicBool::new(false),
            wake,
        })
    }

    /// Wakes the dispatcher's wait (a full buffer already does).
    fn wake(&self) {
        let _ = (&self.wake.0).write(&[1]);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn note_any(&self, s: &State) {
        let any = s.input || s.input_resumed || !s.held.is_empty() || !s.resumed.is_empty();
        self.any.store(any, Ordering::Release);
    }

    /// `pause_client(id)` succeeded: hold its messages from now on.
    pub(crate) fn pause(&self, id: u64) {
        let mut s = self.lock();
        if s.live.contains(&id) && s.held.insert(id) {
            self.note_any(&s);
        }
    }

    /// `resume_client(id)`: hand out what is held of it.
    pub(crate) fn resume(&self, id: u64) {
        let mut s = self.lock();
        if s.held.remove(&id) {
            s.resumed.push(id);
            self.note_any(&s);
            drop(s);
            self.wake();
        }
    }

    /// `pause_input()`: hold every message from now on.
    pub(crate) fn pause_input(&self) {
        let mut s = self.lock();
        s.input = true;
        self.note_any(&s);
    }

    /// `resume_input()`: hand out what is held.
    pub(crate) fn resume_input(&self) {
        let mut s = self.lock();
        if s.input {
            s.input = false;
            s.input_resumed = true;
            self.note_any(&s);
            drop(s);
            self.wake();
        }
    }

    /// The dispatcher hands out `id`'s `Connected`.
    pub(crate) fn connected(&self, id: u64) {
        self.lock().live.insert(id);
    }

    /// The dispatcher has `id`'s `Disconnected`: its own hold ends.
    pub(crate) fn disconnected(&self, id: u64) {
        let mut s = self.lock();
        s.live.remove(&id);
        if s.held.remove(&id) {
            self.note_any(&s);
        }
    }

    /// Whether the dispatcher has handed out `id`'s `Connected` and not its
    /// `Disconnected`.
    pub(crate) fn is_live(&self, id: u64) -> bool {
        self.lock().live.contains(&id)
    }

    /// What holds `id` now (the dispatcher, per message).
    fn held(&self, id: u64) -> Held {
        if !self.any.load(Ordering::Acquire) {
            return Held::NONE;
        }
        let s = self.lock();
        Held {
            input: s.input,
            client: s.held.contains(&id),
        }
    }

    fn input_held(&self) -> bool {
        self.any.load(Ordering::Acquire) && self.lock().input
    }

    /// Whether anything was resumed since the dispatcher last looked (so
    /// its wait, finding no event, need not attach to the interpreter).
    pub(crate) fn any_resumed(&self) -> bool {
        if !self.any.load(Ordering::Acquire) {
            return false;
        }
        let s = self.lock();
        s.input_resumed || !s.resumed.is_empty()
    }

    /// The clients resumed since the last call, into `out`; whether input
    /// was resumed.
    fn take_resumed(&self, out: &mut Vec<u64>) -> bool {
        if !self.any.load(Ordering::Acquire) {
            return false;
        }
        let mut s = self.lock();
        out.append(&mut s.resumed);
        let input = std::mem::take(&mut s.input_resumed);
        self.note_any(&s);
        input
    }
}

/// The dispatcher's held events, in the order taken.
#[derive(Default)]
pub(crate) struct Stash {
    /// Per paused client (and per client resumed while input is paused).
    queues: HashMap<u64, VecDeque<Event>>,
    /// Held while input is paused (no client of them has a queue).
    all: VecDeque<Event>,
    /// Reused for [`Holds::take_resumed`].
    resumed: Vec<u64>,
}

impl Stash {
    /// Whether nothing is held (the dispatcher's waits can be long).
    pub(crate) fn is_empty(&self) -> bool {
        self.queues.is_empty() && self.all.is_empty()
    }

    /// Takes `ev` in its turn: keeps it aside if it is held, and gives back
    /// what is to be handed out now, with `deliver`. A client's end
    /// (`ended`: its hold is over, `Holds::disconnected`) first hands out
    /// what is kept of it, unless input is paused: then it waits behind
    /// that — unless what is kept is to be skipped anyway (`skipped`).
    pub(crate) fn take(
        &mut self,
        holds: &Holds,
        ev: Event,
        skipped: impl Fn(u64) -> bool,
        mut deliver: impl FnMut(Event),
    ) {
        match &ev {
            Event::Connected(_) => deliver(ev),
            Event::Message(c, _) => {
                let id = c.id;
                if let Some(ev) = self.keep(holds.held(id), id, ev) {
                    deliver(ev);
                }
            }
            Event::Disconnected(c, _) => {
                let id = c.id;
                if self.is_empty() {
                    return deliver(ev);
                }
                if holds.input_held() && !skipped(id) && self.holds_any_of(id) {
                    // Behind its messages, until the resume.
                    match self.queues.get_mut(&id) {
                        Some(q) => q.push_back(ev),
                        None => self.all.push_back(ev),
                    }
                    return;
                }
                self.release_ended(id, &mut deliver);
                deliver(ev);
            }
        }
    }

    /// Keeps the event `ev` of client `id` if it is `held`, or if events
    /// taken before it are kept (they go first); otherwise gives it back.
    fn keep(&mut self, held: Held, id: u64, ev: Event) -> Option<Event> {
        if !self.queues.is_empty() {
            if let Some(q) = self.queues.get_mut(&id) {
                q.push_back(ev);
                return None;
            }
        }
        if held.input || !self.all.is_empty() {
            self.all.push_back(ev);
            return None;
        }
        if held.client {
            self.queues.entry(id).or_default().push_back(ev);
            return None;
        }
        Some(ev)
    }

    fn holds_any_of(&self, id: u64) -> bool {
        self.queues.contains_key(&id) || self.all.iter().any(|ev| client_of(ev) == id)
    }

    /// Hands out, with `deliver`, what is kept of what was resumed since
    /// the last call, in order, until it is paused again (by a callback
    /// among them).
    pub(crate) fn release_resumed(&mut self, holds: &Holds, mut deliver: impl FnMut(Event)) {
        let input = holds.take_resumed(&mut self.resumed);
        let mut resumed = std::mem::take(&mut self.resumed);
        if input {
            self.release_input(holds, &mut deliver);
        }
        for &id in &resumed {
            self.release(holds, id, &mut deliver);
        }
        resumed.clear();
        self.resumed = resumed;
    }

    /// Input resumed: what was held for it goes out (or to the queue of a
    /// client paused meanwhile), then what was kept of the clients resumed
    /// while input was paused.
    fn release_input(&mut self, holds: &Holds, deliver: &mut impl FnMut(Event)) {
        while let Some(ev) = self.all.pop_front() {
            let id = client_of(&ev);
            let held = holds.held(id);
            if held.input {
                self.all.push_front(ev); // paused again by a callback
                return;
            }
            if matches!(ev, Event::Disconnected(..)) {
                deliver(ev); // its hold ended at its take
                continue;
            }
            // (`all` is left empty for it: only a queue can keep it.)
            let kept = std::mem::take(&mut self.all);
            if let Some(ev) = self.keep(held, id, ev) {
                deliver(ev);
            }
            self.all = kept;
        }
        let ids: Vec<u64> = self.queues.keys().copied().collect();
        for id in ids {
            self.release(holds, id, deliver);
        }
    }

    /// Hands out what is kept of `id` while neither it nor input is held.
    fn release(&mut self, holds: &Holds, id: u64, deliver: &mut impl FnMut(Event)) {
        while !holds.held(id).any() {
            let Some(q) = self.queues.get_mut(&id) else {
                return;
            };
            match q.pop_front() {
                Some(ev) => deliver(ev),
                None => {
                    self.queues.remove(&id);
                    return;
                }
            }
        }
    }

    /// `id` has ended: hands out all that is kept of it.
    fn release_ended(&mut self, id: u64, deliver: &mut impl FnMut(Event)) {
        if let Some(q) = self.queues.remove(&id) {
            q.into_iter().for_each(&mut *deliver);
        } else if self.all.iter().any(|ev| client_of(ev) == id) {
            let (mine, others) = std::mem::take(&mut self.all)
                .into_iter()
                .partition(|ev| client_of(ev) == id);
            self.all = others;
            mine.into_iter().for_each(deliver);
        }
    }

    /// The events stop: hands out everything kept, client by client.
    pub(crate) fn release_all(&mut self, mut deliver: impl FnMut(Event)) {
        self.all.drain(..).for_each(&mut deliver);
        for (_, q) in self.queues.drain() {
            q.into_iter().for_each(&mut deliver);
        }
    }
}

fn client_of(ev: &Event) -> u64 {
    match ev {
        Event::Connected(c) | Event::Message(c, _) | Event::Disconnected(c, _) => c.id,
    }
}

/// The dispatcher's wait for events, `ready` its readiness descriptor
/// (made at the first wait that needs it): up to a second, as the
/// dispatcher's own waits. Holding events (`stash`), it also ends at a
/// resume from another thread, which must be noticed — without polling:
/// the wait is `poll(2)` on the events' descriptor and [`Holds::wake`]'s.
/// Then takes what can be taken without waiting.
pub(crate) fn wait(
    events: &Events,
    holds: &Holds,
    stash: &Stash,
    ready: &mut Option<ReadyFd>,
    batch: &mut Vec<Event>,
    max: usize,
) -> tcphub::Result<usize> {
    const WAIT: Duration = Duration::from_secs(1);
    if stash.is_empty() {
        return events.recv_batch_staged(batch, max, WAIT);
    }
    if ready.is_none() {
        match events.ready_fd() {
            Ok(fd) => *ready = Some(fd),
            // (No descriptor left: look at the resumes every 10 ms.)
            Err(_) => {
                return events.recv_batch_staged(batch, max, Duration::from_millis(10));
            }
        }
    }
    let fd = ready.as_ref().expect("made above");
    if fd.arm() {
        let mut fds = [fd.as_raw_fd(), holds.wake.1.as_raw_fd()].map(|fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        });
        // SAFETY: two valid pollfds; an error (EINTR) only ends the wait.
        unsafe { libc::poll(fds.as_mut_ptr(), 2, WAIT.as_millis() as libc::c_int) };
    }
    let mut buf = [0u8; 64];
    while matches!((&holds.wake.1).read(&mut buf), Ok(n) if n > 0) {}
    events.recv_batch_staged(batch, max, Duration::ZERO)
}
