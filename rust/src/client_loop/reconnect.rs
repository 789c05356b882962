//! Reconnecting, for the client's I/O thread: scheduling an attempt with
//! backoff and jitter, dialling each address of it in turn, giving up past
//! `max_attempts`, and taking a connection made into service.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::Interest;

use super::lookup::Lookup;
use super::{ClientLoop, Link, STREAM};
use crate::addr::canonical;
use crate::client_builder::{refused_by_itself, ClientEvent};
use crate::connection::Connection;
use crate::event::{Client, DisconnectReason};
use crate::framing::Decoder;
use crate::shared::deadline_after;

impl ClientLoop {
    pub(super) fn schedule(&mut self, attempt: u32) {
        let Some(policy) = self.core.config.reconnect else {
            self.link = Link::Down;
            return;
        };
        if policy.max_attempts.is_some_and(|m| attempt > m) {
            let attempts = attempt - 1;
            log::warn!(
                "tcphub: giving up on {} after {attempts} attempts",
                self.peer
            );
            if attempts > 0 {
                // The final reason, set before `Closed` is reported: the
                // drop's reason (already reported) is not why it ended.
                self.core
                    .set_disconnect_reason(DisconnectReason::ReconnectGaveUp { attempts });
            }
            self.link = Link::Down;
            return;
        }
        // Closing (`close()` may still be among the posted commands,
        // `ClientCore::posted`: `on_disconnect` closed) with messages queued: the first redial is dialled at once
        // (see `timers`), and the event says so.
        let closing = self.closing.is_some() || self.core.closed();
        let delay = if closing && !self.dialled_on_close {
            Duration::ZERO
        } else {
            policy.delay(attempt, self.random())
        };
        if !closing {
            // A lookup that finished while the connection was up is taken
            // first, so the one started now is this drop's, found by the
            // time the attempt dials, as a rule (see `lookup`).
            self.take_lookup();
            if let Some(lookup) = &mut self.lookup {
                lookup.start();
            }
        }
        self.link = Link::Waiting {
            attempt,
            at: deadline_after(delay),
        };
        self.dispatch
            .event(ClientEvent::Reconnecting { attempt, delay }, true);
    }

    pub(super) fn timers(&mut self) {
        let now = Instant::now();
        match &self.link {
            // Closing with messages queued: connect now rather than after
            // the backoff (once; later attempts wait it out), so they can
            // still go out within the linger time.
            Link::Waiting { attempt, at }
                if *at <= now || (self.closing.is_some() && !self.dialled_on_close) =>
            {
                let attempt = *attempt;
                if self.closing.is_some() {
                    if self.unsent.is_empty() {
                        self.link = Link::Down;
                        return;
                    }
                    self.dialled_on_close = true;
                }
                self.dial(attempt, 0);
            }
            Link::Connecting {
                attempt,
                tried,
                deadline,
                ..
            } if *deadline <= now => {
                let (attempt, tried) = (*attempt, *tried);
                log::debug!("tcphub: reconnect attempt {attempt} timed out");
                self.dial_failed = io::ErrorKind::TimedOut;
                self.abandon_address(attempt, tried);
            }
            _ => {}
        }
    }

    /// The `k`-th address to dial in a reconnect attempt: the one that
    /// worked last, then the others in resolution order (as the first
    /// connection tried them), so a name with several addresses fails over.
    /// The one that worked last only while the name still resolves to it.
    fn target(&self, k: usize) -> Option<SocketAddr> {
        let last = self.targets.contains(&self.peer).then_some(self.peer);
        let others = self.targets.iter().copied().filter(|a| *a != self.peer);
        last.into_iter().chain(others).nth(k)
    }

    /// The addresses a finished lookup of the server's name found, if any,
    /// become the ones to dial.
    fn take_lookup(&mut self) {
        if let Some(found) = self.lookup.as_mut().and_then(Lookup::found) {
            // Said only when the addresses changed, not their order (a
            // round-robin name answers in a new order each time).
            let same =
                found.len() == self.targets.len() && found.iter().all(|a| self.targets.contains(a));
            if !same {
                log::info!("tcphub: the server's name now resolves to {found:?}");
            }
            self.targets = found;
        }
    }

    /// Starts connecting to the `k`-th address of `attempt`, or the next
    /// one that can be dialled; with none left, the attempt failed. An
    /// attempt starts (`k` 0) with what the name was last found to be.
    fn dial(&mut self, attempt: u32, mut k: usize) {
        if k == 0 {
            self.take_lookup();
        }
        while let Some(addr) = self.target(k) {
            let res = TcpStream::connect(addr).and_then(|mut stream| {
                self.poll
                    .registry()
                    .register(&mut stream, STREAM, Interest::READABLE | Interest::WRITABLE)
                    .map(|()| stream)
            });
            match res {
                Ok(stream) => {
                    self.link = Link::Connecting {
                        stream,
                        addr,
                        attempt,
                        tried: k,
                        deadline: deadline_after(self.core.config.connect_timeout),
                    };
                    return;
                }
                Err(e) => {
                    log::debug!("tcphub: reconnect attempt {attempt} to {addr}: {e}");
                    self.dial_failed = e.kind();
                }
            }
            k += 1;
        }
        self.abandon_attempt(attempt);
    }

    /// Connecting to the `tried`-th address failed: dial the next one.
    fn abandon_address(&mut self, attempt: u32, tried: usize) {
        if let Link::Connecting { mut stream, .. } = std::mem::replace(&mut self.link, Link::Down) {
            let _ = self.poll.registry().deregister(&mut stream);
        }
        self.dial(attempt, tried + 1);
    }

    /// Every address of a reconnect attempt failed: schedule the next
    /// attempt, or end when closing — with messages that are dropped now,
    /// the reason says how the dial failed (it kept the earlier drop's).
    fn abandon_attempt(&mut self, attempt: u32) {
        if self.closing.is_some() {
            if !self.unsent.is_empty() {
                self.core
                    .set_disconnect_reason(DisconnectReason::Io(self.dial_failed));
            }
            self.link = Link::Down;
        } else {
            self.schedule(attempt + 1);
        }
    }

    /// A readiness event on a connecting socket: done, failed, or not yet.
    pub(super) fn finish_connect(&mut self) {
        let Link::Connecting {
            stream,
            addr,
            attempt,
            tried,
            ..
        } = &self.link
        else {
            return;
        };
        let (addr, attempt, tried) = (*addr, *attempt, *tried);
        let mut local = None;
        let failed = match stream.take_error() {
            Ok(Some(e)) | Err(e) => Some(e),
            Ok(None) => match stream.peer_addr() {
                Ok(peer) => {
                    local = stream.local_addr().ok();
                    (local == Some(peer)).then(|| refused_by_itself(addr))
                }
                Err(e) if e.kind() == io::ErrorKind::NotConnected => return, // still in progress
                Err(e) => Some(e),
            },
        };
        if let Some(e) = failed {
            log::debug!("tcphub: reconnect attempt {attempt} to {addr}: {e}");
            self.dial_failed = e.kind();
            self.abandon_address(attempt, tried);
            return;
        }
        let Link::Connecting { stream, .. } = std::mem::replace(&mut self.link, Link::Down) else {
            return;
        };
        self.peer = addr;
        let _ = stream.set_nodelay(self.core.config.nodelay);
        if let Some(idle) = self.core.config.keepalive {
            let _ = crate::connection::set_keepalive(&stream, idle);
        }
        // Reported canonical, as the server reports this connection.
        let local = canonical(local.unwrap_or(self.peer));
        let mut conn = Connection::new(
            stream,
            Client {
                id: 0,
                addr: self.peer,
            },
            Decoder::new(self.core.config.framing),
            Instant::now(),
        );
        self.frames
            .restore(&mut conn, std::mem::take(&mut self.unsent));
        self.core.socket.publish(&conn.stream);
        self.link = Link::Up(Box::new(conn));
        self.up_since = (Instant::now(), attempt);
        self.read_pending = true;
        // A bad frame stopped decoding the last connection only
        // (`input_off`): this one's input is decoded again.
        self.input_off = false;
        *self.core.addrs.write().unwrap_or_else(|p| p.into_inner()) = (local, canonical(self.peer));
        self.core.connected.store(true, Ordering::Release);
        log::info!("tcphub: reconnected to {} (attempt {attempt})", self.peer);
        self.dispatch.event(
            ClientEvent::Reconnected {
                attempt,
                local_addr: local,
            },
            true,
        );
    }

    /// xorshift64*: jitter only, no need for a real RNG.
    fn random(&mut self) -> f64 {
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        let x = self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D);
        (x >> 11) as f64 / (1u64 << 53) as f64
    }
}
