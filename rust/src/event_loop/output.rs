//! The output half of an [`EventLoop`]: applying the commands handles and
//! callbacks queued (in FIFO order), coalescing broadcasts, the per-client
//! queue bound and overflow policy, and flushing queues to the sockets.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::EventLoop;
use crate::broadcast::{self, Batch};
use crate::connection::Queued;
use crate::event::{ClientId, DisconnectReason};
use crate::shared::{self, Audience, Command, Overflow};
use crate::stats::LoopCounters;

/// Room for commands the work queue keeps between turns (56 bytes each).
const WORK_KEEP: usize = 4096;

/// What became of a message offered to a connection's queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Offer {
    /// Queued (and counted in `msgs_out`).
    Queued,
    /// It did not fit: the overflow policy applies.
    Full,
    /// The client is gone or on its way out (closing, or its socket failed
    /// just now): nothing more is queued for it.
    Gone,
}

impl EventLoop {
    /// Applies queued commands in order: first what callbacks on this thread
    /// queued (with, ahead of each, what other threads had posted to the
    /// channel by then: `shared::LocalLoop::catch_up`), then the rest of the
    /// channel; commands queued by callbacks while this runs join the end of
    /// the same queue.
    /// A nested call (from a callback's effects) leaves the work to the
    /// running one, so commands are never applied out of order.
    pub(super) fn pump(&mut self) {
        if self.pumping {
            return;
        }
        self.pumping = true;
        let remote = &self.core.loops[self.idx];
        remote.notified.store(false, Ordering::Release);
        remote.control.store(false, Ordering::Release);
        // Backlog bytes taken from the channel: off the count once applied.
        let mut moved = 0;
        // Older than anything still in the channel (see `catch_up`).
        shared::take_local_into(&mut self.work, &mut moved);
        // What other loops' callbacks gathered for this one, behind what
        // was posted before (see `gather.rs`).
        self.core.flush_lanes_into(self.idx, None, false);
        moved += remote.drain_into(&self.rx, &mut self.work);
        loop {
            shared::take_local_into(&mut self.work, &mut moved);
            let Some(cmd) = self.work.pop_front() else {
                break;
            };
            self.apply(cmd);
        }
        self.core.loops[self.idx].applied(moved);
        // A burst (a thread posting far ahead of this loop: up to
        // `MAX_PENDING_BYTES` of tiny messages, over a million commands)
        // would otherwise keep its room, 56 bytes a command, for good.
        if self.work.capacity() > WORK_KEEP {
            self.work.shrink_to(WORK_KEEP);
        }
        // What this loop's callbacks gathered for the others goes out now,
        // a run per loop (after a read: all of its messages).
        self.core.flush_lanes_from(self.idx);
        self.pumping = false;
    }

    fn apply(&mut self, cmd: Command) {
        match cmd {
            Command::Adopt(dealt) => self.adopt(*dealt),
            Command::Send(id, run) => {
                let msgs = run.messages() as u64;
                let gone = match self.by_id.get(&id) {
                    Some(&t) if msgs == 1 => u64::from(self.enqueue(t, run.joined) == Offer::Gone),
                    Some(&t) => {
                        let batch = Batch {
                            joined: run.joined,
                            ends: run.ends.map(Vec::from).unwrap_or_default(),
                        };
                        self.offer(t, &batch, &mut None)
                    }
                    None => msgs, // closed since the send looked it up
                };
                if gone > 0 {
                    // (Rare: only a send racing its client's end pays for it.)
                    LoopCounters::add(&self.counters().undelivered, gone);
                }
            }
            Command::SendMany(run, ids) => {
                let cap = self.core.batch_cap();
                let ends = std::mem::take(&mut self.ends);
                let batch = broadcast::coalesce_many(run, &ids, &mut self.work, cap, ends);
                self.send_many(&batch, &ids);
                self.ends = batch.ends;
                self.ends.clear();
            }
            Command::Broadcast(run, audience) => {
                let cap = self.core.batch_cap();
                let ends = std::mem::take(&mut self.ends);
                let batch = broadcast::coalesce(run, audience, &mut self.work, cap, ends);
                self.broadcast(&batch, audience);
                self.ends = batch.ends;
                self.ends.clear();
            }
            Command::PauseClient(id) => self.pause_client(id),
            Command::ResumeClient(id) => self.resume_client(id),
            Command::Kick(id) => {
                if let Some(&t) = self.by_id.get(&id) {
                    self.close_after_flush(t, DisconnectReason::Kicked);
                }
            }
            Command::Release(id) => self.released(id),
            Command::Taken(id) => self.taken(id),
            Command::StopInput => self.stop_taking_input(),
            // (Read by the turn's `read_again`, after this pump: see
            // `resume_client`.)
            Command::ResumeInput => {}
            Command::Shutdown => self.begin_shutdown(),
        }
    }

    /// Queues `batch` for every client of this loop in `audience`.
    fn broadcast(&mut self, batch: &Batch, audience: Audience) {
        let msgs = batch.messages();
        // Made the first time a client cannot take the whole batch.
        let mut parts: Option<Vec<Arc<[u8]>>> = None;
        for t in 0..self.conns.len() {
            // A held connection (pull mode: its peer finished sending) gets
            // broadcasts too while held: the application may still be
            // answering its last messages, which it handles before asking
            // for the next event (which releases it) — a relay's or a
            // chat's `send_all` of them included.
            if !matches!(&self.conns[t], Some(c) if audience.has(c.client.id)) {
                continue;
            }
            if msgs == 1 {
                self.enqueue(t, batch.joined.clone());
            } else {
                self.offer(t, batch, &mut parts);
            }
        }
    }

    /// Queues `batch` for each client of this loop in `ids` (`send_many`);
    /// one that has gone since the call looked it up counts its messages
    /// as undelivered.
    fn send_many(&mut self, batch: &Batch, ids: &[ClientId]) {
        let msgs = batch.messages();
        let mut parts: Option<Vec<Arc<[u8]>>> = None;
        let mut gone = 0;
        for id in ids {
            gone += match self.by_id.get(id) {
                Some(&t) if msgs == 1 => {
                    u64::from(self.enqueue(t, batch.joined.clone()) == Offer::Gone)
                }
                Some(&t) => self.offer(t, batch, &mut parts),
                None => msgs, // closed since the send looked it up
            };
        }
        if gone > 0 {
            LoopCounters::add(&self.counters().undelivered, gone);
        }
    }

    /// Queues the messages of `batch` (more than one) for connection `t`:
    /// all at once if they fit, else one by one, as sent, so the overflow
    /// policy sees single messages (`parts`: the batch's messages split,
    /// made the first time they are needed). Returns how many found the
    /// connection gone.
    fn offer(&mut self, t: usize, batch: &Batch, parts: &mut Option<Vec<Arc<[u8]>>>) -> u64 {
        match self.try_enqueue(t, batch.joined.clone(), batch.messages()) {
            Offer::Queued => 0,
            Offer::Gone => batch.messages(),
            Offer::Full => {
                let mut gone = 0;
                for part in parts.get_or_insert_with(|| batch.parts()).iter() {
                    gone += u64::from(self.enqueue(t, part.clone()) == Offer::Gone);
                }
                gone
            }
        }
    }

    /// Queues one message for connection `t`, applying the overflow policy
    /// when it does not fit.
    fn enqueue(&mut self, t: usize, frame: Arc<[u8]>) -> Offer {
        let offer = self.try_enqueue(t, frame, 1);
        if offer == Offer::Full {
            self.overflowed(t, 1);
        }
        offer
    }

    /// Queues `frame` (holding `msgs` messages) for connection `t`, writing
    /// to the socket first if that makes room. A connection that is gone or
    /// closing takes nothing.
    fn try_enqueue(&mut self, t: usize, frame: Arc<[u8]>, msgs: u64) -> Offer {
        let limit = self.core.config.max_queue_bytes;
        let counters = &self.core.counters[self.idx];
        let Some(conn) = self.conns.get_mut(t).and_then(|c| c.as_mut()) else {
            return Offer::Gone;
        };
        if conn.closing.is_some() || conn.write_failed.is_some() {
            return Offer::Gone; // on its way out: only what was queued before goes
        }
        let mut queued = conn.enqueue_msgs(frame, msgs, limit);
        if let Queued::Full(frame) = queued {
            // Full only by this turn's backlog? Write to the socket, then retry.
            if !conn.writable {
                queued = Queued::Full(frame);
            } else {
                match conn.flush() {
                    Ok(n) => {
                        LoopCounters::add(&counters.bytes_out, n as u64);
                        queued = conn.enqueue_msgs(frame, msgs, limit);
                    }
                    Err((n, reason)) => {
                        LoopCounters::add(&counters.bytes_out, n as u64);
                        self.close_for_write_error(t, reason);
                        return Offer::Gone;
                    }
                }
            }
        }
        match queued {
            Queued::Yes { needs_flush } => {
                LoopCounters::add(&counters.msgs_out, msgs);
                if needs_flush {
                    self.to_flush.push(t);
                }
                Offer::Queued
            }
            Queued::Full(_) => Offer::Full,
        }
    }

    /// Applies the overflow policy to `msgs` messages that did not fit
    /// into connection `t`'s queue.
    fn overflowed(&mut self, t: usize, msgs: u64) {
        let counters = &self.core.counters[self.idx];
        let Some(conn) = self.conns.get(t).and_then(|c| c.as_ref()) else {
            return;
        };
        // What the queue holds against its limit: its bytes and each
        // message's bookkeeping (`ENTRY_OVERHEAD`), so the figures add up.
        // Only for the log lines (`DropMessage` overflows are frequent).
        let client = conn.client;
        let limit = self.core.config.max_queue_bytes;
        let queued = || {
            format!(
                "{} bytes in {} messages queued (with {} bytes of bookkeeping each; limit {limit})",
                conn.queued_bytes(),
                conn.queued_frames(),
                crate::connection::ENTRY_OVERHEAD,
            )
        };
        match self.core.config.overflow {
            Overflow::DropMessage => LoopCounters::add(&counters.dropped, msgs),
            Overflow::Disconnect if conn.held => {
                // Pull mode, its peer finished sending: its `Disconnected`
                // was reported (and counted) when it was held, so it is not
                // cut as a slow consumer now; what did not fit of the
                // replies is undelivered, and the hold ends.
                LoopCounters::add(&counters.undelivered, msgs);
                log::debug!(
                    "tcphub: client {client} held for replies is not reading; {}",
                    queued()
                );
                self.close(t, DisconnectReason::SlowConsumer);
            }
            Overflow::Disconnect => {
                // The message that did not fit is not queued: undelivered,
                // as what comes for the client after it (see `Stats`).
                LoopCounters::add(&counters.undelivered, msgs);
                LoopCounters::add(&counters.slow_consumers, 1);
                // Debug, not info: the application is told (the reason
                // `SlowConsumer`) and decides what to log.
                log::debug!("tcphub: client {client} is not reading; {}", queued());
                self.close(t, DisconnectReason::SlowConsumer);
            }
        }
    }

    pub(super) fn flush_scheduled(&mut self) {
        while !self.to_flush.is_empty() {
            let list = std::mem::take(&mut self.to_flush);
            for t in list {
                if let Some(c) = self.conn_mut(t) {
                    c.flush_scheduled = false;
                    self.flush(t);
                }
            }
            self.pump();
        }
    }

    pub(super) fn flush(&mut self, t: usize) {
        let Some(conn) = self.conns.get_mut(t).and_then(|c| c.as_mut()) else {
            return;
        };
        match conn.flush() {
            Ok(n) => {
                LoopCounters::add(&self.core.counters[self.idx].bytes_out, n as u64);
                if conn.queued_bytes() == 0 {
                    if let Some((reason, _)) = conn.closing.clone() {
                        self.close(t, reason);
                    }
                }
            }
            // A connection already closing keeps the reason it is closing for.
            Err((n, reason)) => {
                LoopCounters::add(&self.core.counters[self.idx].bytes_out, n as u64);
                // (Cloned, not taken: `close` looks at it for the notice not to count.)
                match conn.closing.clone() {
                    Some((closing, _)) => self.close(t, closing),
                    None => self.close_for_write_error(t, reason),
                }
            }
        }
    }
}
