//! The callbacks a [`TcpServer`] calls ([`on_connect`](TcpServer::on_connect),
//! [`on_message`](TcpServer::on_message),
//! [`on_disconnect`](TcpServer::on_disconnect)): setting any of them runs
//! the server in callback mode (`event_loop/dispatch.rs` calls them).

use crate::event::{Client, DisconnectReason};
use crate::handle::ServerHandle;

use super::TcpServer;

impl TcpServer {
    /// Called when a client connects, on the event-loop thread that owns it.
    ///
    /// Callbacks run on the I/O thread that owns the client: keep them short
    /// (a slow callback delays the other clients of the same loop, not those
    /// of other loops). Any `ServerHandle` method may be called inside,
    /// `stop()` included — use the handle each callback is given: a
    /// `ServerHandle` captured by the closure itself keeps the server alive
    /// (dropping your handles then no longer stops it). A panic is caught,
    /// logged and counted.
    ///
    /// Setting any callback runs the server in callback mode: an event
    /// whose callback is not set is dropped, and
    /// [`ServerHandle::events`] yields nothing (its iterator ends at once).
    /// So with `on_connect` or [`on_disconnect`](TcpServer::on_disconnect)
    /// alone, e.g. for logging, the clients' messages go nowhere: set
    /// [`on_message`](TcpServer::on_message) too, or set no callback and
    /// take every event from `events()`.
    ///
    /// # Examples
    ///
    /// ```
    /// let b = tcphub::TcpServer::new(0, 10).on_connect(|srv, c| {
    ///     let _ = srv.send(c.id, b"welcome");
    /// });
    /// ```
    pub fn on_connect<F>(mut self, f: F) -> TcpServer
    where
        F: Fn(&ServerHandle, &Client) + Send + Sync + 'static,
    {
        self.callbacks.on_connect = Some(Box::new(f));
        self
    }

    /// Called for each message, in order per client, on the client's loop thread.
    /// The slice is valid only during the call.
    ///
    /// # Examples
    ///
    /// ```
    /// let b = tcphub::TcpServer::new(0, 10).on_message(|srv, c, msg| {
    ///     let _ = srv.send(c.id, msg); // echo
    /// });
    /// ```
    pub fn on_message<F>(mut self, f: F) -> TcpServer
    where
        F: Fn(&ServerHandle, &Client, &[u8]) + Send + Sync + 'static,
    {
        self.callbacks.on_message = Some(Box::new(f));
        self
    }

    /// Called once when a client's connection ends, with the reason. The
    /// client is already gone from [`ServerHandle::clients`].
    ///
    /// It is the client's last callback: a client's callbacks run in order
    /// on the thread of the loop that owns it, so no `on_message` for it
    /// runs during or after its `on_disconnect` — the place to drop what
    /// you keep about it (keyed by [`Client::id`], which is never reused).
    /// It is a callback like the others: setting it alone puts the server
    /// in callback mode and drops the messages (see
    /// [`on_connect`](TcpServer::on_connect)).
    ///
    /// # Examples
    ///
    /// ```
    /// let b = tcphub::TcpServer::new(0, 10).on_disconnect(|_srv, c, why| {
    ///     eprintln!("{} left: {why}", c.addr);
    /// });
    /// ```
    ///
    /// State per client — here a pub/sub hub's subscriptions — kept beside
    /// the server and cleaned up when the client leaves:
    ///
    /// ```
    /// use std::collections::{HashMap, HashSet};
    /// use std::io::Write;
    /// use std::sync::{Arc, Mutex};
    /// use std::time::{Duration, Instant};
    /// use tcphub::{ClientId, Framing, TcpServer};
    ///
    /// let subs: Arc<Mutex<HashMap<ClientId, HashSet<String>>>> = Arc::default();
    /// let (on_msg, on_gone) = (subs.clone(), subs.clone());
    /// let server = TcpServer::new(0, 100)
    ///     .bind("127.0.0.1".parse()?)
    ///     .framing(Framing::lines())
    ///     .on_message(move |srv, c, msg| {
    ///         let line = String::from_utf8_lossy(msg);
    ///         if let Some(topic) = line.strip_prefix("SUBSCRIBE ") {
    ///             on_msg.lock().unwrap().entry(c.id).or_default().insert(topic.into());
    ///         } else if let Some((topic, text)) =
    ///             line.strip_prefix("PUBLISH ").and_then(|r| r.split_once(' '))
    ///         {
    ///             // Collect first, send after: no lock held while sending.
    ///             let to: Vec<ClientId> = on_msg.lock().unwrap().iter()
    ///                 .filter(|(_, topics)| topics.contains(topic))
    ///                 .map(|(id, _)| *id)
    ///                 .collect();
    ///             for id in to {
    ///                 let _ = srv.send(id, text.as_bytes()); // it may have left meanwhile
    ///             }
    ///         }
    ///     })
    ///     .on_disconnect(move |_srv, c, _why| {
    ///         on_gone.lock().unwrap().remove(&c.id);
    ///     })
    ///     .start()?;
    ///
    /// let mut alice = std::net::TcpStream::connect(server.local_addr())?;
    /// alice.write_all(b"SUBSCRIBE news\n")?;
    /// let deadline = Instant::now() + Duration::from_secs(10);
    /// while subs.lock().unwrap().is_empty() && Instant::now() < deadline {
    ///     std::thread::sleep(Duration::from_millis(5));
    /// }
    /// assert_eq!(subs.lock().unwrap().len(), 1);
    /// drop(alice); // she leaves: her subscriptions go with her
    /// while !subs.lock().unwrap().is_empty() && Instant::now() < deadline {
    ///     std::thread::sleep(Duration::from_millis(5));
    /// }
    /// assert!(subs.lock().unwrap().is_empty());
    /// server.stop();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn on_disconnect<F>(mut self, f: F) -> TcpServer
    where
        F: Fn(&ServerHandle, &Client, &DisconnectReason) + Send + Sync + 'static,
    {
        self.callbacks.on_disconnect = Some(Box::new(f));
        self
    }
}
