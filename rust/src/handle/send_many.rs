//! [`ServerHandle::send_many`]: one message to a set of clients, grouped by
//! event loop into one `Command::SendMany` each, sharing one buffer (a
//! small message to a few clients goes as a `send` each instead).

use crate::broadcast::Run;
use crate::error::Result;
use crate::event::ClientId;
use crate::gather::GATHER_SMALL;
use crate::shared::Command;

use super::{count_or_warn, ServerHandle};

/// Most clients a small (at most [`GATHER_SMALL`] bytes framed) `send_many`
/// message goes to as a `send` each. Measured
/// (64-byte messages, two loops; app threads: `tcphub-bench app-send`, callbacks:
/// a relay calling `send_many` per message): a `send` each was faster up to 4-8
/// clients, `send_many`'s shared buffer from 8-16 on.
const SEND_EACH_UP_TO: usize = 8;

impl ServerHandle {
    /// Queues `msg` for each client in `ids` that is connected, framed once
    /// into one buffer they all share — a pub/sub topic's subscribers, a
    /// chat room's members — and returns how many distinct clients that
    /// was at the call (0 when stopped or when the framing refuses `msg`;
    /// see [`try_send_many`](ServerHandle::try_send_many) for the error).
    ///
    /// Unlike [`send`](ServerHandle::send), an id that is not connected is
    /// no error: it is skipped and not counted (a subscriber list may hold
    /// clients that just left). An id listed twice gets the message once.
    /// A client held open for replies (in pull mode, or with
    /// [`hold_for_replies`](crate::TcpServer::hold_for_replies); see
    /// [`Event::Disconnected`](crate::Event::Disconnected)) is reached, as
    /// by `send`, and counted. Each client gets the message in the order
    /// of everything sent to it, as if `send` had been called for it;
    /// the clients themselves are not served in the order listed. A
    /// client whose queue is full under
    /// [`Overflow::DropMessage`](crate::Overflow::DropMessage) is counted
    /// but does not get it, as with `send_all`.
    ///
    /// Sending one buffer to many clients costs one queue entry per
    /// client and one command per event loop, where a loop of `send`
    /// calls frames and copies the message once per client; a loop joins
    /// consecutive `send_many`s to the same list into one buffer, as it
    /// joins consecutive `send_all`s. (A message of at most 1 KiB framed
    /// for at most 8 clients goes as a `send` each instead, which costs
    /// less at that size.) It still looks every listed id up, so
    /// [`send_all`](ServerHandle::send_all) stays cheaper for "everyone".
    /// The waiting rules are `send_all`'s.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::collections::HashSet;
    /// use std::io::{BufRead, BufReader, Write};
    /// use std::sync::{Arc, Mutex};
    /// use tcphub::{Framing, TcpServer};
    ///
    /// // A pub/sub hub: "sub" subscribes the sender, any other line is
    /// // published to the subscribers.
    /// let subscribers = Arc::new(Mutex::new(HashSet::new()));
    /// let leaving = subscribers.clone();
    /// let server = TcpServer::new(0, 100)
    ///     .bind("127.0.0.1".parse()?)
    ///     .framing(Framing::lines())
    ///     .on_message(move |srv, from, msg| {
    ///         let mut subs = subscribers.lock().unwrap();
    ///         if msg == b"sub" {
    ///             subs.insert(from.id);
    ///             srv.send(from.id, b"ok").ok();
    ///         } else {
    ///             let ids: Vec<u64> = subs.iter().copied().collect();
    ///             drop(subs); // not held while sending
    ///             srv.send_many(&ids, msg);
    ///         }
    ///     })
    ///     .on_disconnect(move |_, c, _| {
    ///         leaving.lock().unwrap().remove(&c.id);
    ///     })
    ///     .start()?;
    /// let mut sub = std::net::TcpStream::connect(server.local_addr())?;
    /// sub.write_all(b"sub\n")?;
    /// let mut reader = BufReader::new(sub.try_clone()?);
    /// let mut line = String::new();
    /// reader.read_line(&mut line)?;
    /// assert_eq!(line, "ok\n");
    /// let mut publisher = std::net::TcpStream::connect(server.local_addr())?;
    /// publisher.write_all(b"news\n")?;
    /// line.clear();
    /// reader.read_line(&mut line)?;
    /// assert_eq!(line, "news\n");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn send_many(&self, ids: &[ClientId], msg: &[u8]) -> usize {
        count_or_warn("send_many", self.try_send_many(ids, msg))
    }

    /// Like [`send_many`](ServerHandle::send_many), but says why nothing
    /// was sent.
    ///
    /// # Errors
    ///
    /// [`Error::NotRunning`](crate::Error::NotRunning) after `stop()`;
    /// [`Error::FrameTooLarge`](crate::Error::FrameTooLarge) when `msg`
    /// exceeds the framing's `max_len`;
    /// [`Error::InvalidMessage`](crate::Error::InvalidMessage) when it
    /// contains `\n` under [`Framing::Lines`](crate::Framing::Lines) — all
    /// before any client gets it. A `stop()` from another thread
    /// that begins during the call also gives `NotRunning`, though clients
    /// of the event loops it reached first may still get the message.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = tcphub::TcpServer::new(0, 1).bind("127.0.0.1".parse()?).start()?;
    /// assert_eq!(s.try_send_many(&[1, 2, 3], b"x")?, 0); // nobody connected
    /// s.stop();
    /// assert!(matches!(s.try_send_many(&[1], b"x"), Err(tcphub::Error::NotRunning)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_send_many(&self, ids: &[ClientId], msg: &[u8]) -> Result<usize> {
        self.check_running()?;
        // The framing's refusals before anybody is looked up.
        let framed_len = self.core.config.framing.framed_len(msg)?;
        let small = framed_len <= GATHER_SMALL;
        if small && ids.len() <= SEND_EACH_UP_TO {
            return self.send_each(ids, msg);
        }
        // The listed clients by loop, each loop's sorted and without
        // repeats (a list made sorted, e.g. from `clients()`, is not sorted
        // again).
        let loops = self.core.registry.loops_of(ids);
        let mut sizes = vec![0; self.core.loops.len()];
        for &idx in &loops {
            if let Some(n) = sizes.get_mut(idx as usize) {
                *n += 1;
            }
        }
        let mut by_loop: Vec<Vec<ClientId>> = sizes.into_iter().map(Vec::with_capacity).collect();
        for (&id, &idx) in ids.iter().zip(&loops) {
            if let Some(to) = by_loop.get_mut(idx as usize) {
                to.push(id);
            }
        }
        for to in &mut by_loop {
            if !to.is_sorted_by(|a, b| a < b) {
                to.sort_unstable();
                to.dedup();
            }
        }
        let n = by_loop.iter().map(Vec::len).sum();
        if small && n <= SEND_EACH_UP_TO {
            for (idx, to) in by_loop.iter().enumerate() {
                for &id in to {
                    self.post_send(idx, id, msg)?;
                }
            }
            return Ok(n);
        }
        if framed_len == 0 {
            return Ok(n); // an empty raw message: nothing to write
        }
        let frame = self.core.config.framing.encode(msg)?;
        for (idx, to) in by_loop.into_iter().enumerate() {
            if !to.is_empty() {
                let cmd = Command::SendMany(Run::one(frame.clone()), to.into_boxed_slice());
                self.core.post_message(idx, cmd)?;
            }
        }
        Ok(n)
    }

    /// `send_many` of a small message to a short list: a `send` to each
    /// distinct connected client, gathered (joined with the other sends to
    /// the same clients) from a callback or an application thread, which
    /// costs less than a shared buffer, the lists by loop and a command
    /// per loop. Nothing is allocated here.
    fn send_each(&self, ids: &[ClientId], msg: &[u8]) -> Result<usize> {
        let mut sent = 0;
        for (i, &id) in ids.iter().enumerate() {
            if ids[..i].contains(&id) {
                continue; // listed before
            }
            if let Some(idx) = self.core.registry.loop_of(id) {
                self.post_send(idx, id, msg)?;
                sent += 1;
            }
        }
        Ok(sent)
    }
}
