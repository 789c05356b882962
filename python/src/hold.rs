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
//!   are to be skipped anyway (kicked by a callback; input stopped): then
//!   they are dropped where they are, and its end goes out.
//!
//! A resume of a held client (or of input) that comes while the dispatcher
//! keeps events (or is handing some out) leaves the server paused until
//! what is kept of the client (or input's share) went out: the dispatcher
//! resumes it then ([`Stash::settle`]). A client held nothing of is resumed
//! at once (one not paused at all must be left alone: paused and resumed,
//! its idle and frame clocks would start again). Reading on meanwhile, what a callback among those
//! that pauses again holds grew by up to a read at every resume (the
//! work-queue pattern: one message per resume), without bound.
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
use std::sync::{Mutex, PoisonError, RwLock};
use std::time::Duration;

use tcphub::{Event, Events, ReadyFd};

mod line;

use line::{client_of, Line};

#[derive(Default)]
struct State {
    /// The clients whose `Connected` the dispatcher has handed out and
    /// whose `Disconnected` it has not taken (at most the clients
    /// connected, plus a stop's leftovers). Only these are held: a pause
    /// of a client whose end has come holds nothing (and leaves nothing
    /// behind).
    live: HashSet<u64>,
    /// The clients whose `Disconnected` the dispatcher has taken and not
    /// yet handed out (it waits behind their held messages): a kick from
    /// a callback still skips those messages (see `dispatch::kick`).
    ending: HashSet<u64>,
    /// The paused clients (among `live`).
    held: HashSet<u64>,
    /// Clients paused (from another thread) before the dispatcher took
    /// their `Connected`, which is still to come: they count as `held`
    /// from its take on. Only a client listed by the server (connected,
    /// its end not handed out) is noted, so its `Connected` is queued and
    /// the entry cannot outlive it.
    early: HashSet<u64>,
    /// Clients resumed since the dispatcher last looked, in order, each
    /// once (at most the clients live).
    resumed: Vec<u64>,
    /// Input is paused (`pause_input`).
    input: bool,
    /// Input was resumed since the dispatcher last looked.
    input_resumed: bool,
    /// The dispatcher may keep events: it is handing some out, or keeps
    /// some. A resume of a held client (or input) then leaves the server
    /// paused (`owed`) until what is kept went out: read on meanwhile,
    /// what a callback among those that pauses again holds would grow by
    /// a read at every resume.
    kept: bool,
    /// Clients resumed while `kept`, still paused in the server (at most
    /// the clients connected).
    owed: HashSet<u64>,
    /// Input resumed while `kept`, still paused in the server.
    input_owed: bool,
}

/// The paused clients and input, for the dispatcher.
pub(crate) struct Holds {
    state: Mutex<State>,
    /// Whether anything is held or resumed: the dispatcher's fast path
    /// takes no lock per event while nothing is.
    any: AtomicBool,
    /// Written (a byte) at each resume, read by the dispatcher: it wakes
    /// its wait while it holds anything (see [`wait`]). `None` once the
    /// dispatcher ended ([`release`](Holds::release)): a stopped server
    /// the application keeps holds no descriptor.
    wake: RwLock<Option<(UnixStream, UnixStream)>>,
    /// The process the dispatcher runs in. In a child forked since there
    /// is no dispatcher, and `state`'s lock may have been copied held (a
    /// `fork()` while the dispatcher had it): the server's methods act on
    /// the core alone there (which acts as stopped).
    pid: u32,
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
            wake: RwLock::new(Some(wake)),
            pid: std::process::id(),
        })
    }

    /// Whether this is a child forked since (see `pid`).
    fn forked(&self) -> bool {
        std::process::id() != self.pid
    }

    /// Wakes the dispatcher's wait (a full buffer already does), if it
    /// still runs.
    fn wake(&self) {
        if let Some((w, _)) = &*self.wake.read().unwrap_or_else(PoisonError::into_inner) {
            let _ = (&*w).write(&[1]);
        }
    }

    /// The dispatcher ended: closes the socket pair of its waits (a
    /// resume after that has no one to wake).
    pub(crate) fn release(&self) {
        let pair = self
            .wake
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        drop(pair);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn note_any(&self, s: &State) {
        let any = s.input || s.input_resumed || !s.held.is_empty() || !s.resumed.is_empty();
        self.any.store(any, Ordering::Release);
    }

    /// `pause_client(id)`: `server` pauses it in the server (its error
    /// ends the call); its messages are held from now on. `listed` tells
    /// whether the server lists the client (connected, its end not handed
    /// out): one the dispatcher has not seen the `Connected` of is held
    /// from that on.
    pub(crate) fn pause<E>(
        &self,
        id: u64,
        server: impl FnOnce() -> Result<(), E>,
        listed: impl FnOnce() -> bool,
    ) -> Result<(), E> {
        if self.forked() {
            return server();
        }
        let mut s = self.lock();
        server()?;
        s.owed.remove(&id); // (still paused there)
        if s.live.contains(&id) {
            if s.held.insert(id) {
                self.note_any(&s);
            }
        } else if !s.ending.contains(&id) && listed() {
            // Its `Connected` is queued, or in the dispatcher's batch, not
            // yet noted: the dispatcher notes it under this lock
            // (`connected`), before any message of the client (its end
            // would be `ending` from its take until it is handed out, and
            // unlisted after).
            s.early.insert(id);
        }
        Ok(())
    }

    /// `resume_client(id)`: hand out what is held of it, then read it
    /// again: `server(true)` resumes it in the server now, unless it was
    /// held (or is owed a resume already) while the dispatcher may keep
    /// events (`kept`); then the dispatcher resumes it
    /// once it has handed out what it kept of it, and `server(false)` only
    /// checks the client (its error ends the call).
    pub(crate) fn resume<E>(
        &self,
        id: u64,
        server: impl FnOnce(bool) -> Result<(), E>,
    ) -> Result<(), E> {
        if self.forked() {
            return server(true);
        }
        let mut s = self.lock();
        // Once: a client paused and resumed again and again before the
        // dispatcher looks (it looks with its next event) is noted once,
        // so this stays within the clients live.
        let mut wake = false;
        s.early.remove(&id); // (nothing held of it yet)
        let was_held = s.held.remove(&id);
        if was_held && !s.resumed.contains(&id) {
            s.resumed.push(id);
            wake = true;
        }
        self.note_any(&s);
        // Not held and not owed: nothing of it waits for the dispatcher
        // (or its pause came before its connect went out, and held
        // nothing), so it is resumed now — above all, one not paused at
        // all is left alone: paused here and resumed by the dispatcher,
        // its idle and frame clocks would start again at every resume.
        let now = !s.kept || (!was_held && !s.owed.contains(&id));
        let checked = server(now);
        if checked.is_ok() && !now {
            s.owed.insert(id);
            // The dispatcher looks at it soon even when nothing was held
            // of it (paused before its connect went out, say).
            if !s.resumed.contains(&id) {
                s.resumed.push(id);
                self.note_any(&s);
            }
            wake = true;
        }
        drop(s);
        if wake {
            self.wake();
        }
        checked
    }

    /// `pause_input()`: `server` pauses it in the server; every message
    /// is held from now on.
    pub(crate) fn pause_input(&self, server: impl FnOnce()) {
        if self.forked() {
            return server();
        }
        let mut s = self.lock();
        server();
        s.input = true;
        s.input_owed = false; // (still paused there)
        self.note_any(&s);
    }

    /// `resume_input()`: hand out what is held, then read again:
    /// `server` resumes input in the server now, or the dispatcher does
    /// once it has handed out what it kept (as [`resume`](Holds::resume)).
    pub(crate) fn resume_input(&self, server: impl FnOnce()) {
        if self.forked() {
            return server();
        }
        let mut s = self.lock();
        let mut wake = false;
        if s.input {
            s.input = false;
            s.input_resumed = true;
            wake = true;
        }
        if s.kept {
            s.input_owed = true;
            s.input_resumed = true; // (the dispatcher looks soon)
            wake = true;
        } else {
            server();
        }
        self.note_any(&s);
        drop(s);
        if wake {
            self.wake();
        }
    }

    /// Whether a `resume_input()` waits for the dispatcher to resume input
    /// in the server (then input counts as resumed already).
    pub(crate) fn input_owed(&self) -> bool {
        !self.forked() && self.lock().input_owed
    }

    /// The dispatcher begins to hand out events: resumes wait for it.
    pub(crate) fn handing_out(&self) {
        self.lock().kept = true;
    }

    /// The dispatcher hands out `id`'s `Connected`.
    pub(crate) fn connected(&self, id: u64) {
        let mut s = self.lock();
        s.live.insert(id);
        if s.early.remove(&id) {
            s.held.insert(id);
            self.note_any(&s);
        }
    }

    /// The dispatcher has taken `id`'s `Disconnected`: its own hold ends.
    pub(crate) fn disconnected(&self, id: u64) {
        let mut s = self.lock();
        s.live.remove(&id);
        s.early.remove(&id);
        s.ending.insert(id);
        s.owed.remove(&id);
        if s.held.remove(&id) {
            self.note_any(&s);
        }
    }

    /// The dispatcher hands out `id`'s `Disconnected`.
    pub(crate) fn ended(&self, id: u64) {
        self.lock().ending.remove(&id);
    }

    /// Whether the dispatcher has handed out `id`'s `Connected` and not its
    /// `Disconnected` (taken or not).
    pub(crate) fn is_live(&self, id: u64) -> bool {
        let s = self.lock();
        s.live.contains(&id) || s.ending.contains(&id)
    }

    /// How many clients are live, ending, held, resumed and owed a resume
    /// in the server (for the tests).
    pub(crate) fn sizes(&self) -> (usize, usize, usize, usize, usize) {
        let s = self.lock();
        let (live, ending) = (s.live.len(), s.ending.len());
        let held = s.held.len() + s.early.len();
        (live, ending, held, s.resumed.len(), s.owed.len())
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
    all: Line,
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
    /// what is kept of it, unless input is paused (also by a callback among
    /// those): then it waits behind that — unless what is kept is to be
    /// skipped anyway (`skipped`).
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
                if self.all.has(id) && skipped(id) {
                    // Its messages would be skipped at their hand-out: left
                    // where they are, dropped as `all` gets to them, not
                    // found by a pass over `all` (per end, under the GIL:
                    // 3,000 clients x 100 held, kicked from a callback, 8 s).
                    self.all.drop_of(id);
                    return deliver(ev);
                }
                if self.all.has(id) && holds.input_held() {
                    // Behind its messages where they are (it has no queue:
                    // see `take_of`), not after a pass over `all` moving
                    // them to its end (per end, under the GIL: with 300,000
                    // held for 3,000 clients kicked, 50 s).
                    self.all.push_back(ev);
                    return;
                }
                let mut mine = self.take_of(id);
                mine.push_back(ev);
                self.release_ended(holds, id, mine, skipped, deliver);
            }
        }
    }

    /// What is kept of `id`, in order, out of the stash.
    fn take_of(&mut self, id: u64) -> VecDeque<Event> {
        if let Some(q) = self.queues.remove(&id) {
            return q; // (a client with a queue has nothing in `all`)
        }
        self.all.take_of(id)
    }

    /// `id` has ended: hands out `mine`, what was kept of it and its
    /// `Disconnected` last — but while input is held (also when a callback
    /// among them pauses it) its messages, unless `skipped`, and its end
    /// behind them, wait for the resume in `all`.
    fn release_ended(
        &mut self,
        holds: &Holds,
        id: u64,
        mut mine: VecDeque<Event>,
        skipped: impl Fn(u64) -> bool,
        mut deliver: impl FnMut(Event),
    ) {
        while let Some(ev) = mine.pop_front() {
            if matches!(ev, Event::Message(..)) && holds.input_held() && !skipped(id) {
                // Behind its messages, until the resume (it has no queue
                // now: `all` keeps the order).
                self.all.push_back(ev);
                mine.into_iter().for_each(|ev| self.all.push_back(ev));
                return;
            }
            deliver(ev);
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
                self.regroup();
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

    /// Moves what input still holds of a client that has a queue (made by
    /// [`release_input`](Stash::release_input) for one paused meanwhile)
    /// to the end of that queue: its later events go there (`keep`, a
    /// `Disconnected` in `take`), so they must not pass these.
    fn regroup(&mut self) {
        if self.queues.is_empty() || self.all.is_empty() {
            return;
        }
        for ev in std::mem::take(&mut self.all).into_events() {
            match self.queues.get_mut(&client_of(&ev)) {
                Some(q) => q.push_back(ev),
                None => self.all.push_back(ev),
            }
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

    /// The dispatcher is done handing out for now: notes whether it keeps
    /// anything (see `State::kept`), and resumes in the server, with
    /// `resume_client` and `resume_input`, what was resumed while it kept
    /// events and of which it keeps nothing now.
    pub(crate) fn settle(
        &self,
        holds: &Holds,
        mut resume_client: impl FnMut(u64),
        resume_input: impl FnOnce(),
    ) {
        let mut guard = holds.lock();
        let s = &mut *guard;
        s.kept = !self.is_empty();
        if s.input_owed && !s.input && self.all.is_empty() {
            s.input_owed = false;
            resume_input();
        }
        if s.owed.is_empty() {
            return;
        }
        let held = &s.held;
        s.owed.retain(|&id| {
            let keeps = held.contains(&id) || self.queues.contains_key(&id) || self.all.has(id);
            if !keeps {
                resume_client(id);
            }
            keeps
        });
    }

    /// Input has stopped (`stop_input()`, the stop) and client `id` ends:
    /// if messages are held for paused input of it, every message held so
    /// is dropped at once — each would be skipped at its hand-out anyway —
    /// rather than found client by client, a pass over everything held at
    /// each end (3,000 clients × 100 held: a 6.5 s stop).
    pub(crate) fn drop_stopped_input(&mut self, id: u64) {
        if self.all.has(id) {
            self.all.drop_messages();
        }
    }

    /// The events stop: hands out everything kept, client by client.
    pub(crate) fn release_all(&mut self, mut deliver: impl FnMut(Event)) {
        std::mem::take(&mut self.all)
            .into_events()
            .into_iter()
            .for_each(&mut deliver);
        for (_, q) in self.queues.drain() {
            q.into_iter().for_each(&mut deliver);
        }
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
    let wake = holds.wake.read().unwrap_or_else(PoisonError::into_inner);
    let Some((_, woken)) = &*wake else {
        // (Released: the dispatcher has ended, so no wait comes here.)
        return events.recv_batch_staged(batch, max, Duration::from_millis(10));
    };
    let fd = ready.as_ref().expect("made above");
    if fd.arm() {
        let mut fds = [fd.as_raw_fd(), woken.as_raw_fd()].map(|fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        });
        // SAFETY: two valid pollfds; an error (EINTR) only ends the wait.
        unsafe { libc::poll(fds.as_mut_ptr(), 2, WAIT.as_millis() as libc::c_int) };
    }
    let mut buf = [0u8; 64];
    while matches!((&*woken).read(&mut buf), Ok(n) if n > 0) {}
    drop(wake);
    events.recv_batch_staged(batch, max, Duration::ZERO)
}
