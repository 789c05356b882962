//! The `tcphub.TcpServer` constructor's settings: kept as given, turned
//! into the core's builder by `start()` (and by the constructor, which
//! validates them the way `start()` would).

use std::net::IpAddr;
use std::time::Duration;

use pyo3::prelude::*;
use tcphub::{Overflow, TcpServer};

use crate::errors::invalid_config;

/// Server settings as given to the constructor.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) port: u16,
    pub(crate) max_clients: usize,
    pub(crate) bind: IpAddr,
    pub(crate) framing: tcphub::Framing,
    pub(crate) threads: Option<usize>,
    pub(crate) max_queue_bytes: usize,
    pub(crate) overflow: Overflow,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) frame_timeout: Option<Duration>,
    pub(crate) keepalive: Option<Duration>,
    pub(crate) nodelay: bool,
    pub(crate) backlog: i32,
    pub(crate) linger: Duration,
    pub(crate) hold_for_replies: Option<Duration>,
    pub(crate) event_capacity: usize,
    pub(crate) busy_poll: Duration,
    pub(crate) full_message: Option<Vec<u8>>,
    pub(crate) max_clients_per_ip: Option<usize>,
    pub(crate) per_ip_ipv6_prefix: u8,
    pub(crate) per_ip_full_message: Option<Vec<u8>>,
    pub(crate) idle_timeout_message: Option<Vec<u8>>,
    pub(crate) frame_timeout_message: Option<Vec<u8>>,
    pub(crate) frame_too_large_message: Option<Vec<u8>>,
}

impl Settings {
    /// The core builder these settings describe.
    pub(crate) fn builder(&self) -> TcpServer {
        let mut b = TcpServer::new(self.port, self.max_clients)
            .bind(self.bind)
            .framing(self.framing)
            .max_queue_bytes(self.max_queue_bytes)
            .overflow(self.overflow)
            .nodelay(self.nodelay)
            .backlog(self.backlog)
            .linger(self.linger)
            .event_capacity(self.event_capacity)
            .busy_poll(self.busy_poll);
        if let Some(t) = self.threads {
            b = b.threads(t);
        }
        if let Some(t) = self.idle_timeout {
            b = b.idle_timeout(t);
        }
        if let Some(t) = self.frame_timeout {
            b = b.frame_timeout(t);
        }
        if let Some(t) = self.keepalive {
            b = b.keepalive(t);
        }
        if let Some(t) = self.hold_for_replies {
            b = b.hold_for_replies(t);
        }
        if let Some(msg) = &self.full_message {
            b = b.full_message(msg);
        }
        if let Some(n) = self.max_clients_per_ip {
            b = b.max_clients_per_ip(n);
        }
        b = b.per_ip_ipv6_prefix(self.per_ip_ipv6_prefix);
        if let Some(msg) = &self.per_ip_full_message {
            b = b.per_ip_full_message(msg);
        }
        if let Some(msg) = &self.idle_timeout_message {
            b = b.idle_timeout_message(msg);
        }
        if let Some(msg) = &self.frame_timeout_message {
            b = b.frame_timeout_message(msg);
        }
        if let Some(msg) = &self.frame_too_large_message {
            b = b.frame_too_large_message(msg);
        }
        b
    }
}

/// The `overflow` argument: `"disconnect"` or `"drop"`.
pub(crate) fn overflow_from_str(py: Python<'_>, overflow: &str) -> PyResult<Overflow> {
    match overflow {
        "disconnect" => Ok(Overflow::Disconnect),
        "drop" => Ok(Overflow::DropMessage),
        other => Err(invalid_config(
            py,
            format!("overflow must be \"disconnect\" or \"drop\", not {other:?}"),
        )),
    }
}
