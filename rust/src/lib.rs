//! # tcphub
//!
//! A multi-client TCP server library: bind a port, accept many clients,
//! receive their messages, send to all of them ([`ServerHandle::send_all`]) or
//! to one picked by its remote ip:port ([`ServerHandle::send_to`]), and hear
//! when clients join, speak and leave — with framed messages, bounded memory,
//! thread-safe handles, graceful stop, and a small pool of epoll event-loop
//! threads instead of a thread per client.
//!
//! ```
//! use tcphub::{Framing, TcpServer};
//! use std::io::{BufRead, BufReader, Write};
//!
//! // A chat relay: every line a client sends goes to every client.
//! let server = TcpServer::new(0, 100)
//!     .bind("127.0.0.1".parse()?)
//!     .framing(Framing::lines())
//!     .on_message(|srv, _client, msg| {
//!         srv.send_all(msg);
//!     })
//!     .start()?;
//!
//! let mut alice = std::net::TcpStream::connect(server.local_addr())?;
//! alice.write_all(b"hello, room\n")?;
//! let mut line = String::new();
//! BufReader::new(&alice).read_line(&mut line)?;
//! assert_eq!(line, "hello, room\n");
//! server.stop();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Without callbacks the server runs in *pull mode*: [`ServerHandle::events`]
//! yields [`Event`]s from a bounded queue, which the application must keep
//! taking (see [`TcpServer::start`]).
//!
//! # Layout
//!
//! The data path, in the order a message travels:
//!
//! - [`server`](TcpServer) (`server.rs`) — the [`TcpServer`] builder
//!   (its settings check in `server/check.rs`, its callbacks in
//!   `server/callbacks.rs`); `start()` (`server/start.rs`) binds and
//!   spawns the loops. `handle.rs` — the
//!   [`ServerHandle`] it returns (`handle/send_many.rs`: its
//!   [`send_many`](ServerHandle::send_many) to a set of clients;
//!   `handle/input.rs`: pausing, resuming and stopping input, the server's
//!   or one client's); `server/per_ip.rs` — the per-address client limit.
//! - `event_loop.rs` — the I/O threads: epoll via mio, dispatch to
//!   callbacks or the pull queue, timers, closing;
//!   `event_loop/input.rs` — reading and decoding (paused while the event
//!   queue is full), and what a failed write still reads;
//!   `event_loop/accept.rs` — the listening socket (loop 0): accepting and
//!   dealing each connection to the loop owning the fewest clients;
//!   `event_loop/output.rs` — applying commands, queue bounds, flushing;
//!   `event_loop/lingering.rs` — keeping a closed socket open while its peer
//!   still sends, so our last bytes are not lost to a reset;
//!   `event_loop/held.rs` — pull mode: holding a half-closed peer open for
//!   the replies to its last messages; `event_loop/idle.rs` — waiting
//!   (busy polling, yielding the CPU); `event_loop/dispatch.rs` — handing
//!   events to the callbacks or the pull queue; `event_loop/clock.rs` —
//!   the idle and frame timeouts' clock, stopped while reading is paused,
//!   and for most of a turn that takes over 50 ms (a slow callback) or of
//!   a pull-mode application's work on what it took;
//!   `event_loop/timers.rs` — keeping that clock and cutting the clients
//!   past a timeout.
//! - `gather.rs` — small sends from callbacks and application threads,
//!   framed into one buffer per target loop ("lanes") that the loop takes
//!   at its next turn, in the order sent.
//! - `broadcast.rs` — joins back-to-back `send_all` frames into one buffer.
//! - `connection.rs` — one connection: socket, decoder, bounded outbound
//!   queue written with a gathering `sendmsg` (`MSG_NOSIGNAL`).
//! - [`framing`](Framing) (`framing.rs`) — [`Framing`] and its encoder;
//!   `framing/decoder.rs` — the incremental [`Decoder`].
//! - `event.rs` — [`Client`], [`Event`], [`DisconnectReason`], [`Events`].
//! - `queue.rs` — the bounded pull-mode event queue (one ring buffer behind
//!   a mutex); `outbox.rs` — its never-blocking sending side.
//! - `shared.rs` — state shared by handles and loops, the commands handles
//!   send to loops, the [`Overflow`] policy; `shared/local.rs` — the
//!   thread-local record of the loop running on a thread (a callback's
//!   commands to its own loop skip the channel); `shared/threads.rs` —
//!   joining the I/O threads, with and without a deadline.
//! - `registry.rs` — the directory of connected clients (id, address, loop).
//! - `addr.rs` — [`parse_ip`], [`parse_bind_ip`], [`parse_client_ip`] and [`unbracket_host`]:
//!   IP addresses as people write them (brackets, zones), for the bindings' and the CLI's
//!   `bind`, `send_to` and client `host`, and how a client's caller named its server.
//! - `stats.rs` — per-loop counters and the [`Stats`] snapshot.
//! - `client.rs` / `client_builder.rs` / `client_loop.rs` — [`TcpClient`]:
//!   the client side (`client_core.rs`: the state its handles share with
//!   its I/O thread), its [`ClientBuilder`], bounded send queue, pull events
//!   and [`Reconnect`] with backoff (`client_loop/reconnect.rs`, looking a
//!   server's name up again in `client_loop/lookup.rs`); `client_dispatch.rs` hands its input to
//!   callbacks or the pull queue, `client_linger.rs` keeps a closed
//!   connection open until the server has its last bytes, and
//!   `client_queue.rs` gathers sent messages into batches that still count
//!   and resend as whole messages; `client_state.rs` answers where a client
//!   stands (addresses, open or connected, why it ended, queued and lost); `client_wait.rs` lets
//!   [`TcpClient::flush`] and [`TcpClient::send_timeout`] wait for the I/O
//!   thread's writes; `client_dial.rs` dials the first connect, which a
//!   [`ConnectCancel`] ends from another thread.
//! - `error.rs` — [`Error`] and [`Result`].
//! - `fork.rs` — a server or client started before `fork()` acts as
//!   stopped in the child, which lacks its threads.
//! - `vanish.rs`, `event_loop/vanished.rs` — with keepalive on, ending a
//!   peer that vanished while our output waited for its acknowledgement
//!   (Linux's `TCP_INFO`), which keepalive does not probe for.
//! - `server/notices.rs` — the notices for a client cut for an idle or
//!   frame timeout or an oversize frame.
//! - `ready_fd.rs` — [`ReadyFd`]: a descriptor readable while pull-mode
//!   events wait, for other event loops (asyncio, tokio, `poll(2)`).
//! - `wake.rs` — an I/O thread's waker, whose descriptor is closed when
//!   the thread ends (handles kept after a stop or close hold none).
//!
//! See `ARCHITECTURE.md` in the repository for the threads and channels.
//!
//! # Logging
//!
//! The crate logs through the [`log`](https://docs.rs/log) facade, each
//! line starting `tcphub:`; install any logger to see them. What the
//! application is told anyway — a client connecting, leaving and why
//! (a slow consumer, a frame over the limit), with the detail the reason
//! lacks — is logged at `debug`, so an application that logs its own
//! disconnects does not show them twice. Above that, only what it is not
//! told otherwise, and never a line per connection:
//!
//! - `error`: a callback panicked (the server or client keeps running);
//!   epoll failed (the server stops, or the client closes), or a loop
//!   could not be woken; an I/O thread found panicked when joined (a bug
//!   to report).
//! - `warn`: a server bound to `::` that the system keeps IPv6-only (dual
//!   stack refused); `accept` failing for lack of resources (fds, memory)
//!   — once per run of failures, again every 10 s; a new connection epoll
//!   would not take (it is closed); a client given up on after its
//!   reconnect attempts; a send from a method without `try_`
//!   ([`ServerHandle::send_all`] and the like) refused for a reason other
//!   than a stop (a frame too large, say); a client's message dropped
//!   because it raced its own `shutdown_write`; `pthread_atfork` failing;
//!   a loop's send accounting not adding up at its end (a bug to report).
//! - `info`: connections refused because the server is full — the first of
//!   a run, a count every 10 s while it lasts, a total once clients are
//!   admitted again; likewise at `max_clients_per_ip` (the rest once the
//!   run has been quiet 10 s, or at the stop); accepting again after
//!   failures; a client reconnected, or its server's name resolving to new
//!   addresses.

#![deny(missing_docs, missing_debug_implementations, rust_2018_idioms)]

mod addr;
mod broadcast;
mod client;
mod client_builder;
mod client_core;
mod client_dial;
mod client_dispatch;
mod client_linger;
mod client_loop;
mod client_queue;
mod client_state;
mod client_wait;
mod connection;
mod error;
mod event;
mod event_loop;
mod fork;
mod framing;
mod gather;
mod handle;
mod input_gate;
mod outbox;
mod queue;
mod ready_fd;
mod registry;
mod server;
mod shared;
mod stats;
mod vanish;
mod wake;

pub use addr::{client_host, parse_bind_ip, parse_client_ip, parse_ip, unbracket_host};
pub use client::TcpClient;
pub use client_builder::{ClientBuilder, ClientEvent, Reconnect, DEFAULT_CONNECT_TIMEOUT};
pub use client_dial::ConnectCancel;
pub use client_wait::FlushMark;
pub use connection::MAX_KEEPALIVE;
pub use error::{ClientRef, Error, Result};
pub use event::{Client, ClientId, DisconnectReason, Event, Events};
pub use framing::{Decoder, FrameError, Framing, DEFAULT_MAX_FRAME, DEFAULT_MAX_LINE};
pub use handle::ServerHandle;
pub use ready_fd::ReadyFd;
pub use server::{
    TcpServer, DEFAULT_BACKLOG, DEFAULT_BUSY_POLL, DEFAULT_EVENT_CAPACITY, DEFAULT_LINGER,
    DEFAULT_MAX_QUEUE_BYTES, MAX_BUSY_POLL, MAX_THREADS,
};
pub use shared::{Overflow, EVENT_QUEUE_BYTES, MAX_FULL_MESSAGE};
pub use stats::Stats;

/// The README's Rust examples, compiled as doctests so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// Review "ag": the builders, and the handles whose drop stops the server
/// or closes the client, are `#[must_use]`, so a chain whose result is
/// dropped warns instead of silently configuring, or starting, nothing.
/// Each `compile_fail` below is the statement of the `no_run` example
/// (which compiles under the same lint) without its `let _ =`.
///
/// ```no_run
/// #![deny(unused_must_use)]
/// let _ = tcphub::TcpServer::new(0, 10).max_clients_per_ip(2);
/// let _ = tcphub::TcpClient::builder("127.0.0.1:1").linger(std::time::Duration::ZERO);
/// let _ = tcphub::TcpServer::new(0, 1).start().unwrap();
/// let _ = tcphub::TcpClient::connect("127.0.0.1:1").unwrap();
/// ```
///
/// ```compile_fail
/// #![deny(unused_must_use)]
/// tcphub::TcpServer::new(0, 10).max_clients_per_ip(2);
/// ```
///
/// ```compile_fail
/// #![deny(unused_must_use)]
/// tcphub::TcpClient::builder("127.0.0.1:1").linger(std::time::Duration::ZERO);
/// ```
///
/// ```compile_fail
/// #![deny(unused_must_use)]
/// tcphub::TcpServer::new(0, 1).start().unwrap();
/// ```
///
/// ```compile_fail
/// #![deny(unused_must_use)]
/// tcphub::TcpClient::connect("127.0.0.1:1").unwrap();
/// ```
#[cfg(doctest)]
#[allow(non_camel_case_types)]
struct review_ag_must_use;
