//! The input half of an [`EventLoop`]: reading sockets (within a budget,
//! paused while the event queue is full or another loop is behind),
//! decoding frames and handing the messages on, the end of a client's
//! input, and what a write that finds the connection gone still reads.

use std::io;
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::{Dispatch, EventLoop, READ_BUDGET};
use crate::connection::{Connection, ReadOutcome};
use crate::event::{ClientId, DisconnectReason};
use crate::input_gate::Pass;
use crate::shared::{self, Core, MAX_PENDING_BYTES};
use crate::stats::LoopCounters;

impl EventLoop {
    /// Reads and dispatches what connection `t` has. Stops at a short read
    /// unless `drain` (the peer closed or errored: read to EOF). Returns
    /// whether it stopped at its budget (`READ_BUDGET`), input perhaps left
    /// unread: then it is scheduled to be read again.
    pub(super) fn read(&mut self, t: usize, drain: bool) -> bool {
        let core = self.core.clone();
        let counters = &core.counters[self.idx];
        // A pause or kick another thread posted and this loop has not
        // applied (not looked at inside the pump, which applies them in
        // order anyway).
        let control = &core.loops[self.idx].control;
        // Pumped before a read once per call: a thread posting pauses as
        // fast as the pump applies them kept it from reading at all (the
        // look after each read keeps the promise).
        let mut pumped = false;
        for _ in 0..READ_BUDGET {
            // (Before each read: a stop begun meanwhile ends it, an end of
            // input's last message included.)
            if self.input_stopped() {
                return false;
            }
            // After `stop_input()` what is read is dropped: no event waits
            // for room, so neither does the read.
            let discard = self.discarding();
            // Before the pause: a held connection (its end reported) has
            // nothing left to read, and its close for a reset reports
            // nothing, so it needs no room in the event queue — left for
            // the resume, a reset held socket kept its descriptor and its
            // place among `max_clients` for as long as reading was paused
            // (a full queue nobody takes from, `pause_input()`) or the
            // hold lasted.
            match self.conns.get(t).and_then(|c| c.as_ref()) {
                None => return false,
                Some(c) if c.closing.is_some() => return false,
                Some(c) if c.held => {
                    self.held_event(t);
                    return false;
                }
                Some(_) => {}
            }
            if !discard && self.read_paused() {
                self.schedule_read(t);
                return false;
            }
            let Some(conn) = self.conns.get_mut(t).and_then(|c| c.as_mut()) else {
                return false;
            };
            // Paused by the application: its input waits in the kernel (the
            // resume reads it). Not after a write found the connection
            // gone: what it sent is read, then it is closed.
            if conn.paused && conn.write_failed.is_none() && !discard {
                // A read asked to drain (an error or end event, or a read
                // put off while reading was paused) may come for a reset
                // that arrived before the pause was applied: its error
                // event, handled then, found the client not paused, and
                // with edge-triggered readiness no other comes. Looked at
                // now, as a paused client's reset is (`error_event`).
                if drain {
                    self.error_event(t);
                }
                return false;
            }
            // The rest of a read a pause cut short comes before the socket's
            // (copied back into the read buffer: one hand-out path).
            let id = conn.client.id;
            let mut stashed = None;
            if !self.stashed.is_empty() {
                if let Some(i) = self.stashed.iter().position(|(s, _)| *s == id) {
                    let (_, rest) = self.stashed.swap_remove(i);
                    if discard {
                        continue; // dropped, as what is read after `stop_input()`
                    }
                    self.rbuf[..rest.len()].copy_from_slice(&rest);
                    stashed = Some(rest.len());
                }
            }
            let from_stash = stashed.is_some();
            // A pause or kick another thread posted: applied first (see
            // `LoopRemote::control`).
            if !from_stash
                && !discard
                && !pumped
                && !self.pumping
                && control.load(Ordering::Acquire)
            {
                pumped = true;
                self.pump();
                continue;
            }
            let outcome = match stashed {
                Some(n) => ReadOutcome::Data(n),
                None => conn.read_into(&mut self.rbuf),
            };
            // Posted during the read: what it read may have been sent after
            // the call returned, so it waits (as the rest of a read a pause
            // cut short) while the commands are applied.
            if let ReadOutcome::Data(n) = outcome {
                if !from_stash && !discard && !self.pumping && control.load(Ordering::Acquire) {
                    self.stashed.push((id, self.rbuf[..n].to_vec()));
                    LoopCounters::add(&counters.bytes_in, n as u64);
                    self.pump();
                    continue;
                }
            }
            match outcome {
                ReadOutcome::Data(n) if discard => {
                    LoopCounters::add(&counters.bytes_in, n as u64);
                    if n < self.rbuf.len() && !drain {
                        return false;
                    }
                }
                ReadOutcome::Data(n) => {
                    let now = self.clock.now();
                    // (Stashed input counts as arriving now: it waited on
                    // the server's account, not the client's.)
                    conn.last_active = now;
                    if !from_stash {
                        LoopCounters::add(&counters.bytes_in, n as u64);
                    }
                    let data = &self.rbuf[..n];
                    match take_input(conn, data, now, &mut self.dispatch, counters, &core) {
                        Input::Taken => {}
                        // Paused mid-read: the rest waits for the resume.
                        Input::Paused(took) => {
                            self.stashed.push((id, self.rbuf[took..n].to_vec()));
                            self.schedule_read(t);
                            return false;
                        }
                        // The kick, applied next, closes it; the rest is dropped.
                        Input::Kicked => return false,
                        // The rest is dropped; after a stop nothing more is
                        // read, after `stop_input()` it is read and dropped
                        // (the next turn of this loop sees which).
                        Input::Stopped => continue,
                        Input::TooLarge => {
                            self.close_after_flush(t, DisconnectReason::FrameTooLarge);
                            return false;
                        }
                    }
                    if from_stash {
                        continue; // now the socket
                    }
                    if n < self.rbuf.len() && !drain {
                        return false; // drained for now; a new edge comes with new data
                    }
                }
                // A write found the connection gone: read to the end, then
                // closed for the write's error. The write took the socket's
                // error (the reset), so the read finds a plain end of input
                // (or none): a frame the reset cut (a line without its
                // newline) is not delivered, as when the read comes first
                // and fails with the reset.
                ReadOutcome::WouldBlock | ReadOutcome::Eof if conn.write_failed.is_some() => {
                    let kind = conn.write_failed.unwrap_or(io::ErrorKind::ConnectionReset);
                    self.close(t, DisconnectReason::from_io(&kind.into()));
                    return false;
                }
                ReadOutcome::WouldBlock => return false,
                ReadOutcome::Eof => {
                    // (Through the input gate again: `stop_input()` may have
                    // come during the read, and its last frame is input too.)
                    let reason = match core.passing[self.idx].enter(&core.reading) {
                        None => DisconnectReason::ClosedByPeer,
                        Some(pass) => end_of_input(conn, &mut self.dispatch, counters, pass),
                    };
                    let config = &self.core.config;
                    if self.core.callbacks.any() && config.hold_for_replies.is_none() {
                        // Replies the callbacks just queued still go out (half-close).
                        self.close_after_flush(t, reason);
                    } else {
                        // The application has yet to see the last messages,
                        // or asked for time to answer them.
                        self.hold(t, reason);
                    }
                    return false;
                }
                ReadOutcome::Failed(reason) => {
                    self.close(t, reason);
                    return false;
                }
            }
        }
        self.schedule_read(t);
        true
    }

    /// A write found connection `t` gone (a reset, a broken pipe) before
    /// the loop read what the client sent before its end: that input is
    /// read and delivered first — the client's last messages, as when the
    /// read comes first —, then `read` closes the connection, for `reason`
    /// unless the read finds a more telling one (its error, a frame over
    /// the limit). Nothing more is queued or written meanwhile. While
    /// reading is paused (a full event queue, filled by those last messages
    /// too), the rest waits for it to resume; a write error other than a
    /// reset found while paused, or any while the server stops, closes the
    /// connection at once.
    pub(super) fn close_for_write_error(&mut self, t: usize, reason: DisconnectReason) {
        let kind = match reason {
            DisconnectReason::Io(k) => k,
            _ => io::ErrorKind::ConnectionReset,
        };
        let at_once =
            self.input_stopped() || (kind != io::ErrorKind::ConnectionReset && self.read_paused());
        let conn = self.conns.get(t).and_then(|c| c.as_ref());
        match conn {
            Some(c) if !at_once && c.closing.is_none() && !c.held => {
                // What was queued is dropped now (`close` would count it).
                self.count_unwritten(c);
                if let Some(c) = self.conn_mut(t) {
                    c.write_failed = Some(kind);
                    c.take_unsent();
                }
                self.read(t, true);
            }
            _ => self.close(t, reason),
        }
    }

    /// An error event on connection `t` (its peer's reset, keepalive
    /// finding it gone): when the application paused the client, handled
    /// as a write that found it gone — what it sent before its end is read
    /// and delivered, then it is closed — instead of being left for the
    /// resume, which may never come for a client that is gone. (Not
    /// paused, the read that follows sees the error itself; a read that
    /// finds the client paused by then, the pause applied meanwhile, calls
    /// this again: see `read`.)
    pub(super) fn error_event(&mut self, t: usize) {
        let Some(c) = self.conns.get(t).and_then(|c| c.as_ref()) else {
            return;
        };
        if !c.paused || c.write_failed.is_some() || c.closing.is_some() || c.held {
            return;
        }
        let reason = match c.stream.take_error() {
            Ok(Some(e)) => DisconnectReason::from_io(&e),
            Ok(None) => return, // nothing pending after all
            Err(e) => DisconnectReason::from_io(&e),
        };
        self.close_for_write_error(t, reason);
    }

    /// Whether this loop reads no more input: its `Shutdown` was taken, or
    /// `stop()` has begun and the command is on its way — no message is
    /// handed to the application from then on (sends fail with
    /// `NotRunning`: its reply would be refused). Accepting goes on until
    /// the `Shutdown`, as before (a client accepted then is closed as
    /// `ServerStopped`, where leaving it in the listen backlog would have
    /// it reset).
    pub(super) fn input_stopped(&self) -> bool {
        self.stopping.is_some() || !self.core.running.load(Ordering::Acquire)
    }

    /// Whether input is read only to be dropped: after `stop_input()`
    /// (sends still work: the application answers what it took). Reading
    /// on lets clients that write finish their writes and read the
    /// replies, and shows their ends: a client that leaves is closed (or
    /// held, as usual) and reported, which frees its place.
    pub(super) fn discarding(&self) -> bool {
        !self.core.reading.load(Ordering::Acquire)
    }

    /// `stop_input()` was called (`Command::StopInput`): the messages
    /// waiting for room in the pull queue are dropped (connects and
    /// disconnects stay: the outbox's gate, closed by `stop_input`), and
    /// the connections left unread while reading was paused are read now,
    /// to be dropped. No frame is finished any more: the parts of frames
    /// the decoders hold are let go now, not kept while their connections
    /// live on (held for replies, say). (A read between the flag's change
    /// and this command may still have buffered one: it is let go here
    /// too; none is buffered after.)
    pub(super) fn stop_taking_input(&mut self) {
        let mut paused = Vec::new();
        for (t, conn) in self.conns.iter_mut().enumerate() {
            let Some(conn) = conn else { continue };
            if conn.decoder.buffered() > 0 {
                drop(conn.decoder.finish());
                conn.frame_started = None;
            }
            // What a paused client sent is dropped too, and its end seen:
            // read it (its readiness was taken while it was paused).
            if conn.paused {
                conn.paused = false;
                paused.push(t);
            }
        }
        for t in paused {
            self.schedule_read(t);
        }
        self.dispatch.drain_backlog();
        self.read_again();
    }

    /// `pause_client()`: client `id` is read no more until resumed (a read
    /// in hand stops at once when the pause came from a callback on this
    /// loop: `take_input`).
    pub(super) fn pause_client(&mut self, id: ClientId) {
        if let Some(&t) = self.by_id.get(&id) {
            if let Some(c) = self.conn_mut(t) {
                c.paused = true;
            }
        }
    }

    /// `resume_client()`: client `id` is read again, what it sent
    /// meanwhile (and what a pause cut short) first. Its idle and frame
    /// clocks start again now: it was not idle on its own account.
    pub(super) fn resume_client(&mut self, id: ClientId) {
        let Some(&t) = self.by_id.get(&id) else {
            return;
        };
        let now = self.clock.now();
        let Some(c) = self.conn_mut(t) else {
            return;
        };
        if !c.paused {
            return;
        }
        c.paused = false;
        c.last_active = now;
        if c.frame_started.is_some() {
            c.frame_started = Some(now);
        }
        // Read by the turn's `read_again`, after the pump that applies
        // this command: read here, inside the pump, an end of input would
        // close the client before the callbacks' replies to its last
        // messages (queued behind this command) were applied.
        self.schedule_read(t);
    }

    pub(super) fn schedule_read(&mut self, t: usize) {
        if let Some(c) = self.conn_mut(t) {
            if !c.read_scheduled {
                c.read_scheduled = true;
                self.to_read.push(t);
            }
        }
    }

    pub(super) fn read_again(&mut self) {
        if self.to_read.is_empty() || self.reads_wait() {
            return;
        }
        let list = std::mem::take(&mut self.to_read);
        let mut next = 0;
        while next < list.len() && !self.reads_wait() {
            let t = list[next];
            next += 1;
            if let Some(c) = self.conn_mut(t) {
                c.read_scheduled = false;
                self.read(t, true);
                self.pump();
            }
        }
        // Reading paused (the event queue filled, say): those not read yet
        // keep their turn, ahead of those just read and put back, so a
        // client that fills the queue at every read does not go first
        // again and keep the others unread for as long as it sends.
        if next < list.len() {
            let again = std::mem::take(&mut self.to_read);
            self.to_read = list[next..].to_vec();
            self.to_read.extend(again);
        }
    }

    /// Whether reading must wait: the pull queue is full, the application
    /// paused input (`pause_input()`), or another loop of this server is
    /// more than `MAX_PENDING_BYTES` of messages behind (what we read would
    /// only pile up in its channel). TCP then pushes back on the senders;
    /// memory stays bounded.
    pub(super) fn read_paused(&self) -> bool {
        self.dispatch.blocked()
            || self.core.input_paused.load(Ordering::Relaxed)
            || self.others_behind()
    }

    /// Whether reads wait for the pause to end: paused, and not dropping
    /// what is read (see [`discarding`](Self::discarding)).
    fn reads_wait(&self) -> bool {
        self.read_paused() && !self.discarding()
    }

    /// Whether another loop (or a foreign thread's backlog) has too much of
    /// our messages to apply yet; polled every `BACKOFF` while it lasts.
    pub(super) fn others_behind(&self) -> bool {
        self.core
            .loops
            .iter()
            .enumerate()
            .any(|(i, l)| i != self.idx && l.pending.load(Ordering::Relaxed) > MAX_PENDING_BYTES)
            || shared::foreign_backlog()
    }
}

/// What the bytes of one read did (see [`take_input`]).
enum Input {
    Taken,
    /// A callback kicked the client: the rest of the read was dropped.
    Kicked,
    /// The server began stopping: the rest of the read was dropped.
    Stopped,
    /// A frame over the limit (counted and logged).
    TooLarge,
    /// `pause_input()` came: the hand-out stopped after a message, with
    /// this many bytes taken; the rest is for after the resume.
    Paused(usize),
}

/// Decodes `data`, read from `conn` (just now, or stashed by a pause), and
/// hands its messages to `dispatch`, counting them; stops delivering once a
/// callback has kicked the client, or once the server is no longer
/// `reading` (`stop_input()`, or `stop()`: a message handed out after it
/// began could not be answered, sends fail then); stops decoding once
/// input is paused (`pause_input()`: the rest is the caller's to keep).
/// Starts or keeps the clock of a frame left unfinished.
#[inline]
fn take_input(
    conn: &mut Connection,
    data: &[u8],
    now: Instant,
    dispatch: &mut Dispatch,
    counters: &LoopCounters,
    core: &Core,
) -> Input {
    let (reading, paused) = (&core.reading, &core.input_paused);
    let passing = &core.passing[dispatch.idx];
    let client = conn.client;
    let mut frames = 0u64;
    // What ended the hand-out early, if anything: the rest is dropped.
    let mut cut = Input::Taken;
    let mut kicks = dispatch.kicks.get();
    let kicks_before = kicks;
    let res = conn.decoder.decode_while(data, |msg| {
        frames += 1;
        // Counted before it is handed out: whoever is handed it (a
        // callback, a thread taking events) and then reads the stats finds
        // it counted.
        LoopCounters::add(&counters.msgs_in, 1);
        if !matches!(cut, Input::Taken) {
            return true;
        }
        // Through the input gate: once `stop_input()` (or `stop()`) has
        // returned, nothing more is handed out (see `input_gate.rs`).
        let Some(pass) = passing.enter(reading) else {
            cut = Input::Stopped;
            return true;
        };
        dispatch.message(counters, &client, msg, pass);
        // (Moved by a kick or a `pause_input()` of a callback on this
        // thread: a pause from another thread is seen at the next read.)
        if dispatch.kicks.get() != kicks {
            match shared::done_here(client.id) {
                shared::DoneHere::Kicked => {
                    cut = Input::Kicked;
                    return true;
                }
                // The rest waits for its resume.
                shared::DoneHere::Paused => return false,
                shared::DoneHere::Nothing => {}
            }
            kicks = dispatch.kicks.get();
            return !paused.load(Ordering::Relaxed);
        }
        true
    });
    // Paused by a callback here (asked once per read, not with a flag the
    // closure sets: that cost a few instructions a frame): its
    // `PauseClient`, applied next, finds it paused already, and the loop's
    // next read of it, before the command is applied, hands out nothing.
    if dispatch.kicks.get() != kicks_before
        && shared::done_here(client.id) == shared::DoneHere::Paused
    {
        conn.paused = true;
    }
    if !matches!(cut, Input::Taken) {
        return cut;
    }
    let res = match res {
        Ok(took) if took < data.len() => {
            // Paused after a whole frame: nothing unfinished is held.
            conn.frame_started = None;
            return Input::Paused(took);
        }
        res => res,
    };
    if res.is_err() {
        // (Counted by the close, if it is the one that happens: a kick
        // posted meanwhile may come first.)
        // Debug: the application is told (the reason `FrameTooLarge`).
        log::debug!("tcphub: client {client} sent a frame over the limit");
        return Input::TooLarge;
    }
    // A frame left unfinished starts (or keeps) its clock: it keeps it only
    // if it is the one the clock was started for (no frame finished in this
    // read).
    conn.frame_started = match (conn.decoder.buffered(), frames) {
        (0, _) => None,
        (_, 0) => Some(conn.frame_started.unwrap_or(now)),
        _ => Some(now),
    };
    Input::Taken
}

/// The client ended its sending side: delivers a last message the framing
/// completes at the end (raw, or a line without its newline) and says how
/// the input ended — cleanly, or in the middle of a frame.
fn end_of_input(
    conn: &mut Connection,
    dispatch: &mut Dispatch,
    counters: &LoopCounters,
    pass: Pass<'_>,
) -> DisconnectReason {
    match conn.decoder.finish() {
        Ok(None) => DisconnectReason::ClosedByPeer,
        Ok(Some(last)) => {
            LoopCounters::add(&counters.msgs_in, 1);
            dispatch.message(counters, &conn.client, &last, pass);
            DisconnectReason::ClosedByPeer
        }
        Err(_) => DisconnectReason::Io(io::ErrorKind::UnexpectedEof),
    }
}
