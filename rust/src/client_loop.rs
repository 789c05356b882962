//! The client's I/O thread: one `mio::Poll` driving one connection through
//! its life — up, dropped, waiting with backoff, reconnecting, closed —
//! carrying unsent frames across reconnects.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::queue::Sender;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

use crate::client::{ClientCore, TcpClient};
use crate::client_builder::ClientEvent;
use crate::client_dispatch::{end_of_input, take_input, Dispatch, Gone};
use crate::client_linger::AckWait;
use crate::client_queue::{Batch, Frames, Posted};
use crate::connection::{reset_on_close, Connection, ReadOutcome};
use crate::error::{Error, Result};
use crate::event::{Client, DisconnectReason};
use crate::framing::Decoder;
use crate::outbox::Outbox;
use crate::shared::deadline_after;
use crate::vanish::{look, Look, Schedule, Suspect};
use lookup::Lookup;

mod lookup;
mod reconnect;

pub(crate) const WAKER: Token = Token(0);
const STREAM: Token = Token(1);
/// Largest read buffer; a client starts with [`READ_BUF_MIN`] and grows it
/// (fourfold) only when a read fills it, so one that gets small messages
/// does not hold 64 KiB for its whole life (the server's loops share one
/// buffer among all their connections; a client has its own).
const READ_BUF: usize = 64 * 1024;
const READ_BUF_MIN: usize = 4 * 1024;
const READ_BUDGET: usize = 16;

/// A request from a client handle to its I/O thread.
#[derive(Debug)]
pub(crate) enum ClientCmd {
    /// Flush and close.
    Close,
    /// Flush, then shut the sending side (`TcpClient::shutdown_write`).
    ShutdownWrite,
}

/// Where `TcpClient::shutdown_write` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WriteSide {
    Open,
    /// Asked for: shut once a connection is up and its queue is written.
    ShutPending,
    /// Shut: the server's end-of-stream ends the client, no reconnect.
    Shut,
}

/// Where the connection is in its life.
#[derive(Debug)]
enum Link {
    Up(Box<Connection>),
    Connecting {
        stream: TcpStream,
        /// The address dialled.
        addr: SocketAddr,
        attempt: u32,
        /// Which address of the attempt this is (see `ClientLoop::target`).
        tried: usize,
        deadline: Instant,
    },
    Waiting {
        attempt: u32,
        at: Instant,
    },
    Down,
}

struct ClientLoop {
    core: Arc<ClientCore>,
    poll: Poll,
    /// The I/O thread's half of `ClientCore::posted`: swapped with it each
    /// turn, so both keep their room and sending allocates nothing.
    posted: Posted,
    /// Where the messages end in the batches queued on the connection.
    frames: Frames,
    /// The address of the current (or last) connection.
    peer: SocketAddr,
    /// Every address the server's name resolved to, in resolution order
    /// (when it was last looked up, see `lookup`).
    targets: Vec<SocketAddr>,
    /// The server's name, looked up again for the redials (`None`: it was
    /// named by address).
    lookup: Option<Lookup>,
    link: Link,
    /// Messages waiting while no connection is up.
    unsent: VecDeque<Batch>,
    dispatch: Dispatch,
    /// Read buffer: [`READ_BUF_MIN`] bytes, grown up to [`READ_BUF`] by full reads.
    rbuf: Box<[u8]>,
    /// Input may be left unread (budget used up or pull queue full).
    read_pending: bool,
    /// Closing, the server sent a frame the decoder refused: what it sends
    /// on this connection is read only to find its end, and discarded
    /// (nothing is delivered after `close()`, and a bad frame is no reason
    /// to give up the flush; the server's end still ends it, as without
    /// the frame); a redial's connection is decoded again (`finish_connect`).
    input_off: bool,
    /// Set by `close()`: flush until this deadline, then finish.
    closing: Option<Instant>,
    /// Closing with everything written: waiting for the server to have it
    /// all (see `client_linger`).
    ack_wait: Option<AckWait>,
    /// The server ended its sending side while messages were still queued
    /// for it (no reconnect, or closing; and `write_after_server_eof` on,
    /// not the default): reading stops, the queue is flushed until the
    /// deadline — the server may still be reading, as a tcphub server does
    /// after a client's EOF — and then the connection ends for this reason.
    peer_done: Option<(DisconnectReason, Instant)>,
    /// The connection's write or half-close found it gone: nothing more is
    /// written, and what the server sent before the end is read and
    /// delivered (as the pull queue makes room, like any input), then the
    /// connection ends — for this reason, or (after the half-close) for
    /// how the input ended. See `found_gone` and `Gone::input_end`.
    gone: Option<Gone>,
    write_side: WriteSide,
    rng: u64,
    /// When the current connection came up, and by which reconnect attempt
    /// (0: the first connection).
    up_since: (Instant, u32),
    /// Whether, since `close()`, a reconnect was dialled without waiting
    /// out its backoff: only the first is, so a server that accepts and
    /// drops every connection is not hammered for the linger time.
    dialled_on_close: bool,
    /// How the latest dial of a reconnect attempt failed: the reason a
    /// close that could not connect to flush its messages gives.
    dial_failed: io::ErrorKind,
    /// With keepalive on: when to look for a server that vanished with our
    /// output unacknowledged (`crate::vanish`), and what the look that first
    /// found the connection unanswered saw.
    vanish: Option<Schedule>,
    vanish_suspect: Option<Suspect>,
}

/// A connection lost sooner than this after it was made counts as a failed
/// reconnect attempt (backoff keeps growing, `max_attempts` applies), so a
/// server that accepts and closes at once is not hammered.
const STABLE_AFTER: Duration = Duration::from_secs(1);

/// Starts the client's I/O thread with an established connection.
pub(crate) fn spawn(
    handle: TcpClient,
    poll: Poll,
    mut stream: TcpStream,
    peer: SocketAddr,
    targets: Vec<SocketAddr>,
    name: Option<(String, u16)>,
    tx: Option<Sender<ClientEvent>>,
) -> Result<JoinHandle<()>> {
    poll.registry()
        .register(&mut stream, STREAM, Interest::READABLE | Interest::WRITABLE)
        .map_err(|source| Error::Io {
            context: "registering the client socket",
            source,
        })?;
    let core = handle.core().clone();
    let event_load = core.event_load.clone();
    let framing = core.config.framing;
    let keepalive = core.config.keepalive;
    let conn = Connection::new(
        stream,
        Client { id: 0, addr: peer },
        Decoder::new(framing),
        Instant::now(),
    );
    core.socket.publish(&conn.stream);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
        ^ (Arc::as_ptr(&core) as u64).rotate_left(17)
        ^ std::process::id() as u64;
    let lookup = name
        .filter(|_| core.config.reconnect.is_some())
        .map(Lookup::new);
    let mut lp = ClientLoop {
        core,
        poll,
        posted: Posted::default(),
        frames: Frames::default(),
        peer,
        targets,
        lookup,
        link: Link::Up(Box::new(conn)),
        unsent: VecDeque::new(),
        dispatch: Dispatch {
            handle,
            outbox: Outbox::new(tx, event_load),
            cut: false,
        },
        rbuf: vec![0; READ_BUF_MIN].into_boxed_slice(),
        read_pending: false,
        input_off: false,
        closing: None,
        ack_wait: None,
        peer_done: None,
        gone: None,
        write_side: WriteSide::Open,
        rng: seed | 1,
        up_since: (Instant::now(), 0),
        dialled_on_close: false,
        dial_failed: io::ErrorKind::TimedOut,
        vanish: Schedule::new(keepalive, Instant::now()),
        vanish_suspect: None,
    };
    std::thread::Builder::new()
        .name("tcphub-client".into())
        .spawn(move || {
            crate::shared::mark_io_thread();
            let _ = lp.core.io_thread.set(std::thread::current().id());
            // Its waker's descriptor closes with the thread (`wake.rs`).
            let _release = crate::wake::ReleaseOnExit(lp.core.waker.clone());
            lp.run()
        })
        .map_err(|source| Error::Io {
            context: "spawning the client thread",
            source,
        })
}

/// However the thread ends (a panic too), the socket is withdrawn before
/// the connection's fields drop and close it.
impl Drop for ClientLoop {
    fn drop(&mut self) {
        self.core.socket.withdraw();
    }
}

impl ClientLoop {
    fn run(&mut self) {
        let mut events = Events::with_capacity(16);
        loop {
            let timeout = self.timeout();
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() != io::ErrorKind::Interrupted {
                    log::error!("tcphub: client poll failed: {e}");
                    self.closing = Some(Instant::now());
                }
            }
            for ev in events.iter() {
                if ev.token() != STREAM {
                    continue;
                }
                match &mut self.link {
                    Link::Up(conn) => {
                        if ev.is_writable() {
                            conn.writable = true;
                        }
                        if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
                            self.read_pending = true;
                        }
                    }
                    Link::Connecting { .. } => self.finish_connect(),
                    _ => {}
                }
            }
            self.apply_commands();
            if self.read_pending && self.may_read() && self.ack_wait.is_none() {
                self.read();
            }
            self.flush();
            self.end_after_peer_done();
            self.shut_write_when_flushed();
            self.timers();
            self.check_vanished();
            self.dispatch.drain_backlog();
            if let Some(deadline) = self.closing {
                let flushed = match &self.link {
                    // Found gone: not done before its input is read to the
                    // end, which says how it ended (`read`, closed: no
                    // waiting on the pull queue).
                    Link::Up(c) => c.queued_bytes() == 0 && self.gone.is_none(),
                    // Between connections: a connection is being made for
                    // what is queued (see `timers`), within the deadline.
                    Link::Waiting { .. } | Link::Connecting { .. } => self.unsent.is_empty(),
                    Link::Down => true,
                };
                let end = if flushed {
                    // Everything written: on until the server has it all.
                    match &mut self.link {
                        Link::Up(c) => AckWait::turn(
                            &mut self.ack_wait,
                            c,
                            &self.core.socket,
                            &mut self.rbuf,
                            &mut self.read_pending,
                            deadline,
                        ),
                        _ => Some(DisconnectReason::ClosedLocally),
                    }
                } else if Instant::now() >= deadline {
                    // Out of linger time with messages still queued: they
                    // are dropped, which is no clean local close.
                    Some(DisconnectReason::Io(io::ErrorKind::TimedOut))
                } else {
                    None
                };
                if let Some(why) = end {
                    self.finish(Some(why));
                    return;
                }
            }
            if matches!(self.link, Link::Down) {
                self.finish(None);
                return;
            }
        }
    }

    fn timeout(&self) -> Option<Duration> {
        let now = Instant::now();
        let mut t: Option<Duration> = None;
        let mut consider = |d: Duration| t = Some(t.map_or(d, |x| x.min(d)));
        if self.read_pending && self.may_read() {
            consider(Duration::ZERO);
        }
        // (Blocked on a full event queue: the receiving side wakes us when
        // it has made room, see `QueueLoad::stall`.)
        match &self.link {
            Link::Waiting { at, .. } => consider(at.saturating_duration_since(now)),
            Link::Connecting { deadline, .. } => consider(deadline.saturating_duration_since(now)),
            _ => {}
        }
        if let Some((_, d)) = &self.peer_done {
            consider(d.saturating_duration_since(now));
        }
        // Closing: the flush goes on at the writable edge, a redial's
        // progress is an event or its own deadline (above); otherwise
        // nothing changes before the linger deadline.
        if let Some(d) = self.closing {
            consider(d.saturating_duration_since(now));
        }
        if let Some(w) = &self.ack_wait {
            consider(w.next_check().saturating_duration_since(now));
        }
        if let (Some(s), Link::Up(_)) = (&self.vanish, &self.link) {
            consider(s.next.saturating_duration_since(now));
        }
        t
    }

    /// With keepalive on: ends the connection when the server vanished
    /// with our output unacknowledged (see `crate::vanish`), when a look
    /// is due. (Not while closing: the linger time bounds that.)
    fn check_vanished(&mut self) {
        let Some(s) = &mut self.vanish else {
            return; // (before reading the clock: this runs every turn)
        };
        let now = Instant::now();
        if !s.due(now) {
            return;
        }
        let detect = s.detect;
        let Link::Up(conn) = &mut self.link else {
            return;
        };
        if self.gone.is_some() || self.peer_done.is_some() || self.closing.is_some() {
            return;
        }
        match look(conn, self.vanish_suspect, now, detect) {
            Look::Fine => self.vanish_suspect = None,
            Look::Suspect(s) => self.vanish_suspect = Some(s),
            Look::Gone => {
                log::debug!("tcphub: client: no answer for {detect:?} with output unacknowledged");
                // Reset, not FIN: the kernel would otherwise go on
                // resending to the vanished server after the close.
                reset_on_close(&conn.stream);
                self.lost(DisconnectReason::Io(io::ErrorKind::TimedOut));
            }
        }
    }

    fn apply_commands(&mut self) {
        self.core.notified.store(false, Ordering::Release);
        let mut posted = std::mem::take(&mut self.posted);
        std::mem::swap(
            &mut posted,
            &mut self.core.posted.lock().unwrap_or_else(|p| p.into_inner()),
        );
        Batch::take_posted(&mut posted, |batch| match &mut self.link {
            _ if self.write_side == WriteSide::Shut => {
                // Cannot happen (`send_gate` orders sends before the
                // shutdown); if it did, they are not counted forever.
                log::warn!("tcphub: a message sent after shutdown_write was dropped");
                self.core.queued.fetch_sub(batch.len(), Ordering::AcqRel);
                self.core
                    .queued_frames
                    .fetch_sub(batch.messages(), Ordering::AcqRel);
                self.core.drain.notify(); // room for `send_timeout`
            }
            Link::Up(conn) => self.frames.push(conn, batch),
            Link::Down => {}
            _ => self.unsent.push_back(batch),
        });
        // (Messages and commands are taken together: every message `send`
        // accepted before a close or half-close is in this batch or an
        // earlier one, see `send_gate`.)
        for cmd in posted.cmds.drain(..) {
            match cmd {
                ClientCmd::Close => {
                    self.closing
                        .get_or_insert(deadline_after(self.core.config.linger));
                }
                ClientCmd::ShutdownWrite => {
                    if self.write_side == WriteSide::Open {
                        self.write_side = WriteSide::ShutPending;
                    }
                }
            }
        }
        posted.reset();
        self.posted = posted;
    }

    /// Whether reading may go on: not while the pull queue is full, unless
    /// closed (nothing is queued then).
    fn may_read(&self) -> bool {
        !self.dispatch.blocked() || self.core.closed()
    }

    fn read(&mut self) {
        self.read_pending = false;
        if self.peer_done.is_some() {
            return; // the server sends nothing more
        }
        for _ in 0..READ_BUDGET {
            // Closed (by a callback of the last read, too): what the server
            // sends now is read but not delivered (`Dispatch::message`), so
            // that its end-of-stream is seen if it comes before the close's
            // flush is done: the server then closed first (`ClosedByPeer`,
            // after the flush, as without the close — see `peer_done`).
            if !self.may_read() {
                self.read_pending = true;
                return;
            }
            let Link::Up(conn) = &mut self.link else {
                return;
            };
            // Closed now: what this read brings is not delivered (see
            // `Dispatch::cut`); closed later: it is, as it came before.
            self.dispatch.cut = self.core.closed();
            let outcome = conn.read_into(&mut self.rbuf);
            if let Some(gone) = &self.gone {
                let filled = matches!(outcome, ReadOutcome::Data(n) if n == self.rbuf.len());
                if let Some(reason) = gone.input_end(outcome, conn, &self.rbuf, &mut self.dispatch)
                {
                    self.lost(reason);
                    return;
                }
                if filled {
                    self.grow_rbuf();
                }
                continue;
            }
            match outcome {
                ReadOutcome::Data(n) => {
                    if self.input_off {
                        // Discarded: read only to see the server's end.
                    } else if !take_input(conn, &self.rbuf[..n], &mut self.dispatch) {
                        // Debug: the application is told (`FrameTooLarge`).
                        log::debug!("tcphub: server {} sent a frame over the limit", self.peer);
                        if self.core.closed() {
                            // Closing: flush on, reading on for the end
                            // that may be behind the frame.
                            self.input_off = true;
                            continue;
                        }
                        self.lost(DisconnectReason::FrameTooLarge);
                        return;
                    }
                    if n == self.rbuf.len() {
                        self.grow_rbuf();
                    }
                }
                ReadOutcome::WouldBlock => return,
                ReadOutcome::Eof => {
                    let reason = if self.input_off {
                        // The server closed first (its frame left unread).
                        DisconnectReason::ClosedByPeer
                    } else {
                        end_of_input(conn, &mut self.dispatch)
                    };
                    if self.core.config.write_after_server_eof
                        && self.core.queued.load(Ordering::Acquire) > 0
                        && (self.core.config.reconnect.is_none() || self.core.closed())
                    {
                        // The server may still read (a half-close): what
                        // `send` accepted goes out first (see `peer_done`),
                        // counting what is still in the command list (a
                        // reply `on_message` just sent to this very read).
                        // Closing, on this connection too with reconnect on
                        // (no reconnect follows a close's flush).
                        let deadline = deadline_after(self.core.config.linger);
                        self.peer_done = Some((reason, deadline));
                        return;
                    }
                    self.lost(reason);
                    return;
                }
                ReadOutcome::Failed(reason) => {
                    self.lost(reason);
                    return;
                }
            }
        }
        self.read_pending = true;
    }

    /// A read filled the buffer: more may be waiting, read bigger chunks
    /// from now on (up to [`READ_BUF`]).
    fn grow_rbuf(&mut self) {
        let n = self.rbuf.len();
        if n < READ_BUF {
            self.rbuf = vec![0; (n * 4).min(READ_BUF)].into_boxed_slice();
        }
    }

    fn flush(&mut self) {
        let Link::Up(conn) = &mut self.link else {
            return;
        };
        if !conn.writable || conn.queued_bytes() == 0 || self.gone.is_some() {
            return;
        }
        let entries_before = conn.queued_frames();
        let res = conn.flush();
        // What was written (even before a failure) has left the queue.
        let n = match res {
            Ok(n) | Err((n, _)) => n,
        };
        self.core.queued.fetch_sub(n, Ordering::AcqRel);
        self.core
            .queued_frames
            .fetch_sub(self.frames.written(conn, entries_before), Ordering::AcqRel);
        // (After the counts: a `send_timeout` it wakes sees the room.)
        self.core.drain.wrote(n);
        if let Err((_, reason)) = res {
            self.found_gone(reason, true);
        }
    }

    /// After the server's end-of-stream (see `peer_done`): ends the
    /// connection once the queue is written, or at the deadline — then the
    /// rest is dropped, which is no clean close.
    fn end_after_peer_done(&mut self) {
        let Some((reason, deadline)) = &self.peer_done else {
            return;
        };
        // What `send` accepted and is not written yet, in the connection's
        // queue or still in the command list (`apply_commands` moves it
        // in next turn).
        let unsent = self.core.queued.load(Ordering::Acquire);
        let reason = match &self.link {
            Link::Up(_) if unsent == 0 => reason.clone(),
            Link::Up(_) if Instant::now() >= *deadline => {
                DisconnectReason::Io(io::ErrorKind::TimedOut)
            }
            Link::Up(_) => return,
            _ => {
                // Already ended (a failed write): that reported it.
                self.peer_done = None;
                return;
            }
        };
        self.peer_done = None;
        self.lost(reason);
    }

    /// Shuts the sending side once asked to and everything queued is written.
    fn shut_write_when_flushed(&mut self) {
        if self.write_side != WriteSide::ShutPending || self.gone.is_some() {
            return;
        }
        let Link::Up(conn) = &mut self.link else {
            return;
        };
        if conn.queued_bytes() > 0 {
            return;
        }
        let res = self.core.socket.shut_write(&conn.stream);
        // Our FIN waits for its acknowledgement like written bytes, and
        // keepalive does not probe meanwhile: the vanished-server watch
        // must look (`vanish.rs`), or a server gone now is found only when
        // the kernel gives up resending the FIN (~15 minutes).
        conn.unconfirmed = true;
        // Everything was written; a failure means the connection is gone,
        // and there is nothing left to reconnect for.
        self.write_side = WriteSide::Shut;
        if let Err(e) = res {
            // Gone under us (a reset makes this "not connected"): how the
            // input ended says why better.
            self.found_gone(DisconnectReason::from_io(&e), false);
        }
    }

    /// The connection was found gone by a write (`by_write`) or the
    /// half-close: what the server sent before the end and is still unread
    /// — e.g. the notice a full server writes before it closes, when our
    /// unread input turned its close into a reset — is read and delivered
    /// before the connection ends (`read`, with `Gone::input_end`). As any
    /// input: while the pull queue is full it waits in the socket, so the
    /// client's memory stays bounded by the queue plus one read, not by the
    /// dead socket's receive buffer.
    fn found_gone(&mut self, reason: DisconnectReason, by_write: bool) {
        if self.peer_done.is_some() || self.input_off {
            // The server's end was read already, or its input is no longer
            // decoded (closing: there is nothing to deliver).
            self.lost(reason);
            return;
        }
        self.gone = Some(Gone {
            reason,
            by_write,
            at: Instant::now(),
        });
        // Not up any more, though its `Disconnected` follows its last
        // messages.
        self.core.connected.store(false, Ordering::Release);
        self.read_pending = true;
        if self.may_read() {
            self.read();
        }
    }

    /// The connection ended: report it, keep its unsent frames, and either
    /// schedule a reconnect or go down for good.
    fn lost(&mut self, reason: DisconnectReason) {
        let Link::Up(mut conn) = std::mem::replace(&mut self.link, Link::Down) else {
            return;
        };
        self.core.socket.withdraw();
        // A look at the next connection starts anew.
        self.vanish_suspect = None;
        // Found gone earlier by a write, its input delivered since: it
        // lasted until then, not until now.
        let ended = self.gone.take().map_or_else(Instant::now, |g| g.at);
        let _ = self.poll.registry().deregister(&mut conn.stream);
        // A frame partly written: the server must not read a FIN right
        // after its start (a lines server would take it for a whole, last
        // line); it is written again whole on the next connection.
        let cut = self.frames.cut(&conn);
        let (mut frames, written_of_first) = self.frames.take(&mut conn);
        // The partly written frame will be written again in full.
        self.core
            .queued
            .fetch_add(written_of_first, Ordering::AcqRel);
        self.core.drain.unwritten(written_of_first);
        frames.append(&mut self.unsent);
        self.unsent = frames;
        self.core.connected.store(false, Ordering::Release);
        log::debug!("tcphub: connection to {} lost: {reason}", self.peer);
        let (since, attempt) = self.up_since;
        let next = if ended.saturating_duration_since(since) < STABLE_AFTER {
            attempt + 1
        } else {
            1
        };
        // After our half-close the server's close is the end, not a fault.
        // While closing, redial only to flush what is still queued (within
        // the linger time, as `close()` while waiting to reconnect does).
        let policy = match (self.core.config.reconnect, self.closing, self.write_side) {
            (Some(p), None, WriteSide::Open | WriteSide::ShutPending) => Some(p),
            (Some(p), Some(_), WriteSide::Open | WriteSide::ShutPending)
                if !self.unsent.is_empty() =>
            {
                Some(p)
            }
            _ => None,
        };
        let last = policy.is_none_or(|p| p.max_attempts.is_some_and(|m| next > m));
        // Nor a FIN when what is queued is dropped now (no next
        // connection): the server would take the end for all there was.
        if cut || (last && self.output_left(&conn)) {
            reset_on_close(&conn.stream);
        }
        drop(conn);
        if last {
            // The end: `send` (in `on_disconnect` too) refuses from now on
            // rather than accept what can never be written.
            self.end_sends();
        }
        self.dispatch.event(ClientEvent::Disconnected(reason), true);
        // Closed by `on_disconnect` itself (its `Close` is still among the
        // posted commands, `ClientCore::posted`): redial only if something
        // is queued, as when closing.
        let policy = policy.filter(|_| {
            last || !self.core.closed() || self.core.queued.load(Ordering::Acquire) > 0
        });
        match policy {
            Some(_) => self.schedule(next), // gives up past `max_attempts`
            None => self.link = Link::Down,
        }
    }

    /// Ends the client: close the socket if up, report (`closed`: why, when
    /// this side closes it), release everything.
    fn finish(&mut self, closed: Option<DisconnectReason>) {
        if let Link::Up(mut conn) = std::mem::replace(&mut self.link, Link::Down) {
            self.core.socket.withdraw();
            let _ = self.poll.registry().deregister(&mut conn.stream);
            if self.output_left(&conn) {
                // Given up with messages unwritten (out of linger time):
                // cut the connection rather than end the stream, which the
                // server would take for all there was — after half a
                // frame, a lines server would take its start for a last
                // line.
                reset_on_close(&conn.stream);
            } else {
                conn.close_gracefully(&mut self.rbuf);
            }
            self.core.connected.store(false, Ordering::Release);
            if let Some(why) = closed {
                self.dispatch.event(ClientEvent::Disconnected(why), true);
            }
        } else if let Some(why) = closed.filter(|w| *w != DisconnectReason::ClosedLocally) {
            // Closed between connections with messages it could not write
            // (no redial made it in the linger time): no connection ends
            // here to report, but the reason says the close failed rather
            // than keep the earlier drop's, as a reconnect that gives up does.
            self.core.set_disconnect_reason(why);
        }
        self.end_sends();
        self.unsent.clear();
        // Sends accepted after the last turn (no more can be now): their
        // count is reset, nothing will write them.
        drop(std::mem::take(
            &mut *self.core.posted.lock().unwrap_or_else(|p| p.into_inner()),
        ));
        self.dispatch.event(ClientEvent::Closed, true);
        // What does not fit in the pull queue now is handed over (the
        // consumer may be the very thread joining us in `close()`).
        self.dispatch.outbox.hand_over(&self.core.leftovers);
    }

    /// Whether anything `send` accepted is not written yet: in `conn`'s
    /// queue (a frame partly written too), carried over from an earlier
    /// connection, or still among the posted commands.
    fn output_left(&self, conn: &Connection) -> bool {
        conn.queued_bytes() > 0
            || !self.unsent.is_empty()
            || self.core.queued.load(Ordering::Acquire) > 0
    }

    /// Ends `send` for good and forgets what was queued (counted in
    /// `TcpClient::unsent`). Under the write
    /// side of `send_gate`, so no `send` is between its check of `open` and
    /// its count: none counts a message after the reset.
    fn end_sends(&self) {
        let _gate = self
            .core
            .send_gate
            .write()
            .unwrap_or_else(|p| p.into_inner());
        self.core.open.store(false, Ordering::Release);
        self.core.queued.store(0, Ordering::Release);
        let dropped = self.core.queued_frames.swap(0, Ordering::AcqRel);
        self.core.unsent.fetch_add(dropped as u64, Ordering::AcqRel);
        // What was not written never will be: `flush` ends with NotRunning.
        self.core.drain.end();
    }
}
