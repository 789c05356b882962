//! What [`TcpServer::start`] does: check the settings, bind and listen,
//! build the state the loops share ([`Core`]) and spawn the event-loop
//! threads, loop 0 taking the listener.

use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::{Arc, Mutex, OnceLock};

use super::{check, TcpServer};
use crate::error::{Error, Result};
use crate::event_loop;
use crate::handle::ServerHandle;
use crate::outbox::QueueLoad;
use crate::registry::Registry;
use crate::shared::{Core, StopGuard};
use crate::stats::LoopCounters;

/// Starts `server` (see [`TcpServer::start`] for what and its errors).
pub(super) fn start(server: TcpServer) -> Result<ServerHandle> {
    let TcpServer {
        mut config,
        callbacks,
    } = server;
    let notices = check(&config)?;
    config.full_frame = notices.full;
    config.per_ip_full_frame = notices.per_ip_full;
    config.idle_frame = notices.idle;
    config.frame_timeout_frame = notices.frame_timeout;
    config.frame_too_large_frame = notices.frame_too_large;
    // The kernel counts keepalive in whole seconds and refuses 0 (which
    // would leave its default, two hours): rounded up here, once, not
    // at every accept.
    config.keepalive = config
        .keepalive
        .map(crate::connection::keepalive_secs)
        .transpose()?;
    let listener = event_loop::listen(&config)?;
    // Canonical (an IPv4-mapped address as IPv4), as clients are
    // reported and as a client reports its server.
    let local_addr = listener
        .local_addr()
        .map(crate::addr::canonical)
        .map_err(|source| Error::Io {
            context: "reading the bound address",
            source,
        })?;
    // Bounded by `event_load` (count and bytes), not by preallocation.
    let (events_tx, events_rx) = crate::queue::queue();
    let pull_mode = !callbacks.any();
    let mut parts = Vec::with_capacity(config.threads);
    let mut remotes = Vec::with_capacity(config.threads);
    for _ in 0..config.threads {
        let (part, remote) = event_loop::LoopParts::new()?;
        parts.push(part);
        remotes.push(remote);
    }
    let wakers = remotes.iter().map(|r| r.waker.clone()).collect();
    let event_load = Arc::new(QueueLoad::new(config.event_capacity, wakers));
    let counters: Box<[LoopCounters]> = (0..config.threads)
        .map(|_| LoopCounters::default())
        .collect();
    let passing: Arc<[crate::input_gate::Passing]> =
        (0..config.threads).map(|_| Default::default()).collect();
    let core = Arc::new(Core {
        config,
        local_addr,
        running: AtomicBool::new(true),
        reading: Arc::new(AtomicBool::new(true)),
        passing,
        input_paused: AtomicBool::new(false),
        origin: crate::fork::Origin::here(),
        lanes: crate::gather::Lanes::new(remotes.len()),
        loops: remotes,
        counters,
        registry: Registry::default(),
        active: AtomicUsize::new(0),
        per_ip: Mutex::default(),
        callbacks,
        events_rx,
        leftovers: Arc::default(),
        releases: Arc::default(),
        event_load,
        threads: Mutex::new(Vec::new()),
        user_token: OnceLock::new(),
    });
    let guard = Arc::new(StopGuard { core: core.clone() });
    let _ = core.user_token.set(Arc::downgrade(&guard));
    let mut listener = Some(listener);
    // Held while the loops are spawned: a handle that a callback passes
    // out meanwhile (loop 0, spawned last, may already be serving) can
    // call `stop()`, which must then wait here and join every loop, not
    // find the list still empty and return with the loops running.
    let mut handles = core.threads.lock().unwrap_or_else(|p| p.into_inner());
    // Loop 0, which owns the listener and deals every client, is spawned
    // last: until then no loop has a client, so no callback runs. A spawn
    // that fails then joins loops that ran none — a callback waiting for a
    // lock the caller of `start()` holds (the C server's) would wait for
    // good, and the caller for it (review "hg").
    let mut order: Vec<_> = parts.into_iter().enumerate().collect();
    order.rotate_left(1);
    for (idx, part) in order {
        let internal = ServerHandle {
            core: core.clone(),
            guard: None,
            speaker: Some(crate::handle::Speaker::new(idx)),
        };
        let tx = if pull_mode {
            Some(events_tx.clone())
        } else {
            None
        };
        let l = if idx == 0 { listener.take() } else { None };
        match event_loop::spawn(idx, part, internal, l, tx) {
            Ok(h) => handles.push(h),
            Err(e) => {
                drop(handles); // (`stop` joins them, taking the lock)
                core.stop();
                return Err(e);
            }
        }
    }
    drop(handles);
    drop(events_tx);
    log::debug!("tcphub: listening on {local_addr}");
    Ok(ServerHandle {
        core,
        guard: Some(guard),
        speaker: None,
    })
}
