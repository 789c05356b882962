//! The settings check behind `TcpServer::validate` and `TcpServer::start`:
//! every bound a setting has, and the server's framed notices
//! (`full_message`, `per_ip_full_message`, `idle_timeout_message`,
//! `frame_timeout_message`, `frame_too_large_message`).

use std::sync::Arc;

use super::{MAX_BUSY_POLL, MAX_THREADS};
use crate::error::{at_least_one, more_than_zero, Error, Result};
use crate::shared::{Config, MAX_FULL_MESSAGE};

/// The checks of `TcpServer::validate` and `TcpServer::start`; the
/// notices that are set, framed.
pub(super) fn check(config: &Config) -> Result<Notices> {
    // max_clients 0 would accept every connection only to close it at once.
    at_least_one("max_clients", config.max_clients)?;
    if let Some(n) = config.max_clients_per_ip {
        at_least_one("max_clients_per_ip", n)?;
    }
    if !(1..=128).contains(&config.per_ip_ipv6_prefix) {
        return Err(Error::InvalidConfig(format!(
            "per_ip_ipv6_prefix must be 1 to 128, not {}",
            config.per_ip_ipv6_prefix
        )));
    }
    at_least_one("threads", config.threads)?;
    if config.threads > MAX_THREADS {
        // Checked before anything is sized by it: a count from C such
        // as `(size_t)-1` must be an error, not an abort on allocation.
        return Err(Error::InvalidConfig(format!(
            "threads must be at most {MAX_THREADS}, not {}",
            config.threads
        )));
    }
    at_least_one("max_queue_bytes", config.max_queue_bytes)?;
    at_least_one("event_capacity", config.event_capacity)?;
    more_than_zero("idle_timeout", config.idle_timeout)?;
    more_than_zero("frame_timeout", config.frame_timeout)?;
    more_than_zero("keepalive", config.keepalive)?;
    more_than_zero("hold_for_replies", config.hold_for_replies)?;
    if let Some(idle) = config.keepalive {
        // Past what the kernel takes. Checked here with the rest, not only
        // when `start` rounds it: `validate` (Python's constructor) let it
        // through, to fail far from the mistake.
        crate::connection::keepalive_secs(idle)?;
    }
    if config.busy_poll > MAX_BUSY_POLL {
        return Err(Error::InvalidConfig(format!(
            "busy_poll must be at most {MAX_BUSY_POLL:?}, not {:?}",
            config.busy_poll
        )));
    }
    if config.backlog < 1 {
        return Err(Error::InvalidConfig(format!(
            "backlog must be at least 1, not {}",
            config.backlog
        )));
    }
    config.framing.validate()?;
    Ok(Notices {
        full: framed("full_message", config.full_message.as_ref(), config)?,
        per_ip_full: framed(
            "per_ip_full_message",
            config.per_ip_full_message.as_ref(),
            config,
        )?,
        idle: framed("idle_timeout_message", config.idle_message.as_ref(), config)?,
        frame_timeout: framed(
            "frame_timeout_message",
            config.frame_timeout_message.as_ref(),
            config,
        )?,
        frame_too_large: framed(
            "frame_too_large_message",
            config.frame_too_large_message.as_ref(),
            config,
        )?,
    })
}

/// The server's own notices, framed by `check`.
pub(super) struct Notices {
    pub full: Option<Arc<[u8]>>,
    pub per_ip_full: Option<Arc<[u8]>>,
    pub idle: Option<Arc<[u8]>>,
    pub frame_timeout: Option<Arc<[u8]>>,
    pub frame_too_large: Option<Arc<[u8]>>,
}

/// The notice `msg` (the setting `name`) framed, at most
/// [`MAX_FULL_MESSAGE`] bytes once framed.
fn framed(name: &str, msg: Option<&Arc<[u8]>>, config: &Config) -> Result<Option<Arc<[u8]>>> {
    let Some(msg) = msg else {
        return Ok(None);
    };
    let frame = config
        .framing
        .encode(msg)
        .map_err(|e| Error::InvalidConfig(format!("{name}: {e}")))?;
    if frame.len() > MAX_FULL_MESSAGE {
        return Err(Error::InvalidConfig(format!(
            "{name}: {} bytes framed, at most {MAX_FULL_MESSAGE}",
            frame.len()
        )));
    }
    Ok(Some(frame))
}
