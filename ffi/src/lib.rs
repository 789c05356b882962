//! # tcphub-ffi
//!
//! The C ABI of tcphub: `libtcphub.so` / `libtcphub.a` and the header
//! `include/tcphub.h`, generated from this crate by cbindgen (settings in
//! `cbindgen.toml`; `tests/header.rs` fails when the committed header differs
//! from what cbindgen makes of these sources).
//!
//! This crate only translates: C arguments into the core's types, the core's
//! [`Error`](tcphub_core::Error) and [`DisconnectReason`](tcphub_core::DisconnectReason)
//! into integer codes (through their `code()` methods, so the numbers live in
//! one place), and C callbacks into closures. Every decision about sockets,
//! framing, queues and threads is made by the `tcphub` crate.
//!
//! # Layout
//!
//! - `boundary.rs` — the one helper every exported function runs inside
//!   (`boundary()`): catches panics, turns NULL and invalid
//!   arguments and core errors into codes, records `tcphub_last_error()`.
//! - `codes.rs` — `TCPHUB_OK`, `TCPHUB_ERR_*`, `TCPHUB_REASON_*`,
//!   `TCPHUB_FRAMING_*`, `TCPHUB_EVENT_*`, `tcphub_strerror`, `tcphub_last_error`.
//! - `server.rs` — `tcphub_server`: configuration, start/stop.
//! - `callbacks.rs` — the callback types, `tcphub_server_on_*`, and the
//!   mark that lets a callback's sends use the engine's handle lock-free.
//! - `sends.rs` — `tcphub_server_send_all`, `_send_all_except`, `_send_to`,
//!   `_send`, `_disconnect`.
//! - `tuning.rs` — the less common settings: overflow policy, linger,
//!   keepalive, `TCP_NODELAY`, backlog, pull-queue capacity, the notice
//!   for refused connections.
//! - `stats.rs` — `tcphub_stats`, `tcphub_server_stats`.
//! - `stopping.rs` — `tcphub_server_stop_timeout`, `_begin_stop`, `_wait`,
//!   `_stop_input`.
//! - `clients.rs` — `tcphub_client_info`: `tcphub_server_clients`,
//!   `tcphub_server_client_info`.
//! - `events.rs` — pull mode: `tcphub_event`, `tcphub_server_next_event`.
//! - `input.rs` — backpressure: `tcphub_server_pause_input`,
//!   `_resume_input`, `_input_paused`.
//! - `client.rs` — `tcphub_client`: connect, send, receive with a timeout,
//!   close (also with a deadline), whether it is open, what it has queued,
//!   the addresses of its connection.
//! - `client_events.rs` — `tcphub_client_event`, `tcphub_client_next_event`:
//!   messages, drops, reconnects and the final close.
//! - `client_options.rs` — `tcphub_client_options`,
//!   `tcphub_client_connect_with`: every client setting, reconnect included.
//! - `connect_cancel.rs` — `tcphub_connect_cancel`: ends a connect under
//!   way from another thread.
//! - `engine_log.rs` — `tcphub_set_log_callback`, `TCPHUB_LOG_*`: the
//!   engine's own log lines to a C function, through a bounded queue and
//!   a "tcphub-log" thread.

#![deny(missing_docs, missing_debug_implementations, rust_2018_idioms)]
// The C names are the API: `tcphub_server`, `tcphub_event`, ...
#![allow(non_camel_case_types)]

mod boundary;
pub mod callbacks;
pub mod client;
pub mod client_events;
pub mod client_options;
pub mod clients;
pub mod codes;
pub mod connect_cancel;
pub mod engine_log;
pub mod events;
pub mod input;
pub mod ready;
pub mod sends;
pub mod server;
pub mod stats;
pub mod stopping;
pub mod tuning;

pub use callbacks::*;
pub use client::*;
pub use client_events::*;
pub use client_options::*;
pub use clients::*;
pub use codes::*;
pub use connect_cancel::*;
pub use engine_log::*;
pub use events::*;
pub use input::*;
pub use sends::*;
pub use server::*;
pub use stats::*;
pub use stopping::*;
pub use tuning::*;
