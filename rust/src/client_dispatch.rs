//! The client's event delivery: messages and connection events to the
//! callbacks and the pull queue (`Dispatch`), and how a connection's input
//! ends (`end_of_input`; `Gone`, after our write found it gone), for the
//! I/O thread in `client_loop`.

use std::io;
use std::time::Instant;

use crate::client::{ClientCore, TcpClient};
use crate::client_builder::ClientEvent;
use crate::connection::{Connection, ReadOutcome};
use crate::event::DisconnectReason;
use crate::outbox::Outbox;

/// Hands events to callbacks or the pull queue (with a backlog that pauses
/// reading while the queue is full).
pub(crate) struct Dispatch {
    pub(crate) handle: TcpClient,
    pub(crate) outbox: Outbox<ClientEvent>,
    /// Nothing more of the input being delivered is: the client was closed
    /// before the read that brought it (set by `ClientLoop::read` before
    /// each read), or by a callback of this read. Taken before the read,
    /// not at each message: what had arrived when `close()` was called is
    /// delivered even while another thread's `close()` lands in the middle
    /// of decoding it.
    pub(crate) cut: bool,
}

impl Dispatch {
    fn core(&self) -> &ClientCore {
        self.handle.core()
    }

    pub(crate) fn blocked(&self) -> bool {
        self.outbox.blocked()
    }

    fn guarded(&self, what: &str, f: impl FnOnce()) {
        if crate::shared::call_guarded(f) {
            log::error!(
                "tcphub: the client {what} callback (connected to {}) panicked; \
                 the client keeps running",
                self.handle.peer_addr()
            );
        }
    }

    pub(crate) fn message(&mut self, msg: &[u8]) {
        if self.cut {
            // Closed before this read, or by a callback of it: nothing more
            // is delivered, as a server's callback that disconnects a
            // client gets none of the rest of its input.
            return;
        }
        let cbs = &self.core().callbacks;
        let any_callback = cbs.on_message.is_some() || cbs.on_event.is_some();
        if let Some(cb) = &cbs.on_message {
            self.guarded("on_message", || cb(&self.handle, msg));
        }
        if cbs.on_event.is_some() || self.outbox.is_active() {
            self.event(ClientEvent::Message(msg.to_vec()), false);
        }
        if any_callback
            && self
                .core()
                .closed_by_callback
                .load(std::sync::atomic::Ordering::Acquire)
        {
            // Only a close from this client's own callbacks: one from
            // another thread mid-read leaves the read in hand delivered.
            self.cut = true;
        }
    }

    pub(crate) fn event(&mut self, ev: ClientEvent, specific: bool) {
        if let ClientEvent::Disconnected(why) = &ev {
            self.core().set_disconnect_reason(why.clone());
        }
        let cbs = &self.core().callbacks;
        if specific {
            if let (Some(cb), ClientEvent::Disconnected(why)) = (&cbs.on_disconnect, &ev) {
                self.guarded("on_disconnect", || cb(&self.handle, why));
            }
        }
        if let Some(cb) = &cbs.on_event {
            self.guarded("on_event", || cb(&self.handle, &ev));
        }
        if matches!(ev, ClientEvent::Reconnecting { .. }) {
            // While the pull queue is full, failed attempts would queue an
            // event each without bound (nothing is read meanwhile, so
            // nothing else comes): the consumer gets the latest.
            self.outbox
                .push_superseding(ev, |last| matches!(last, ClientEvent::Reconnecting { .. }));
        } else {
            self.outbox.push(ev);
        }
    }

    pub(crate) fn drain_backlog(&mut self) {
        self.outbox.drain();
    }
}

/// The server ended its sending side: delivers a last message the
/// framing completes at the end (raw, or a line without its newline) and
/// says how the input ended — cleanly, or in the middle of a frame.
pub(crate) fn end_of_input(conn: &mut Connection, dispatch: &mut Dispatch) -> DisconnectReason {
    match conn.decoder.finish() {
        Ok(None) => DisconnectReason::ClosedByPeer,
        Ok(Some(last)) => {
            dispatch.message(&last);
            DisconnectReason::ClosedByPeer
        }
        Err(_) => DisconnectReason::Io(io::ErrorKind::UnexpectedEof),
    }
}

/// Decodes `data`, just read from `conn`, and delivers its messages;
/// false when the server sent a frame over the limit (nothing after it is
/// delivered).
pub(crate) fn take_input(conn: &mut Connection, data: &[u8], dispatch: &mut Dispatch) -> bool {
    conn.decoder.decode(data, |m| dispatch.message(m)).is_ok()
}

/// How the connection was found gone by our side (see `ClientLoop::gone` in `client_loop`).
#[derive(Debug)]
pub(crate) struct Gone {
    pub(crate) reason: DisconnectReason,
    /// A write found it: it took the socket's error, so the read after it
    /// finds a plain end of input even after a reset — a frame unfinished
    /// there was cut and is not delivered (as when the read comes first and
    /// fails with the reset), and the write's reason stands.
    pub(crate) by_write: bool,
    /// When: the connection's life ended here, not when its input is read
    /// to the end (see `STABLE_AFTER` in `ClientLoop::lost`).
    pub(crate) at: Instant,
}

impl Gone {
    /// One read of a connection found gone: delivers what it brought;
    /// the reason the connection ends for once the input ended, or `None`
    /// while more may be read.
    pub(crate) fn input_end(
        &self,
        outcome: ReadOutcome,
        conn: &mut Connection,
        rbuf: &[u8],
        dispatch: &mut Dispatch,
    ) -> Option<DisconnectReason> {
        match outcome {
            ReadOutcome::Data(n) => {
                if take_input(conn, &rbuf[..n], dispatch) {
                    return None;
                }
                Some(if self.by_write {
                    self.reason.clone()
                } else {
                    DisconnectReason::FrameTooLarge
                })
            }
            ReadOutcome::WouldBlock => Some(self.reason.clone()),
            ReadOutcome::Eof if self.by_write => Some(self.reason.clone()),
            ReadOutcome::Eof => Some(end_of_input(conn, dispatch)),
            ReadOutcome::Failed(_) if self.by_write => Some(self.reason.clone()),
            ReadOutcome::Failed(reason) => Some(reason),
        }
    }
}
