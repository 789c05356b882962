//! Accepting: the listening socket, owned by loop 0, which accepts until
//! `WouldBlock` (at most `ACCEPT_BUDGET` a turn) and deals each connection to the loop owning the fewest
//! clients (itself directly, others by `Command::Adopt`).
//!
//! Tried and measured slower: the listener in every loop's epoll set (with
//! `EPOLLEXCLUSIVE`), each loop keeping what it accepts while it owns about
//! as many clients as the fewest (accept burst 46.0–55.9 k against
//! 52.9–57.8 k conns/s in 4 alternating rounds; see BENCHMARKS.md). Also
//! tried: one `SO_REUSEPORT` listener per loop, each keeping its own
//! accepts — at most +9 % on the burst, inside the noise, no gain in the
//! capacity run, and it spreads clients by address hash instead of load.

use std::io::{self, Write};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use socket2::{Domain, Protocol, Socket, Type};

use super::EventLoop;
use crate::connection::{close_politely, set_keepalive};
use crate::error::{Error, Result};
use crate::event::Client;
use crate::shared::{Command, Config, Core};
use crate::stats::LoopCounters;

/// How long after an accept failure for lack of resources (`EMFILE`) it is
/// tried again.
const ACCEPT_RETRY: Duration = Duration::from_millis(50);

/// Most connections accepted in one turn of the loop. Past it, the rest of
/// the backlog waits for the next turn (`EventLoop::accept_more`), so a
/// connect storm — peers connecting as fast as the loop accepts — cannot
/// keep loop 0 from its own clients, its commands and its timers for as
/// long as the storm lasts.
const ACCEPT_BUDGET: usize = 128;

/// Pull mode: events waiting for room in a full queue (in every loop's
/// backlog together) past which loop 0 stops accepting until the
/// application makes room. Not at the first:
/// a consumer that falls behind for a moment must not keep clients from
/// being accepted; but without a bound, clients that come and go while it
/// does (kicked, say) would add two events each for as long as it lasts.
pub(super) const ACCEPT_PAUSE_BACKLOG: usize = 1024;

/// How often a run of accept failures, or of connections refused because
/// the server is full, is logged again; and how long a run of refusals at
/// `max_clients_per_ip` must be quiet to be over.
pub(super) const REPEAT_LOG: Duration = Duration::from_secs(10);

/// "1 connection", "2 connections"; with `more`, "1 more connection".
fn connections(n: u64, more: bool) -> String {
    let more = if more { "more " } else { "" };
    format!("{n} {more}connection{}", if n == 1 { "" } else { "s" })
}

/// A run of accept failures for lack of resources, or of connections
/// refused because the server is full: logged at its start, then at most
/// once per [`REPEAT_LOG`] — not once per connection, which a connect
/// storm would turn into thousands of lines a second.
#[derive(Debug)]
pub(super) struct Run {
    since: Instant,
    /// Failures (refusals) so far.
    count: u64,
    /// Those not yet in a log line.
    unlogged: u64,
    /// When this run was last logged.
    logged: Instant,
    /// When the last one of this run was counted.
    last: Instant,
}

impl Run {
    fn new(now: Instant) -> Self {
        Run {
            since: now,
            count: 1,
            unlogged: 0,
            logged: now,
            last: now,
        }
    }

    /// Whether the run has been quiet (nothing counted) for [`REPEAT_LOG`]:
    /// over, for a run that nothing else ends.
    fn quiet(&self, now: Instant) -> bool {
        now.duration_since(self.last) >= REPEAT_LOG
    }

    /// Counts one more in the run in `slot`, starting one when there is
    /// none: what to log now, if anything.
    fn count_in(slot: &mut Option<Run>, now: Instant) -> Logged {
        let Some(r) = slot else {
            *slot = Some(Run::new(now));
            return Logged::First;
        };
        r.count += 1;
        r.unlogged += 1;
        r.last = now;
        if now.duration_since(r.logged) < REPEAT_LOG {
            return Logged::Not;
        }
        let previous = std::mem::replace(&mut r.logged, now);
        Logged::Again {
            since: r.since,
            count: r.count,
            unlogged: std::mem::take(&mut r.unlogged),
            previous,
        }
    }
}

/// What [`Run::count_in`] calls for.
enum Logged {
    /// Nothing: the run was logged less than [`REPEAT_LOG`] ago.
    Not,
    /// The run's first line: it has just begun.
    First,
    /// A line about the run again.
    Again {
        /// When it began.
        since: Instant,
        /// Counted in all.
        count: u64,
        /// Counted since it was last logged.
        unlogged: u64,
        /// When it was last logged.
        previous: Instant,
    },
}

/// The log lines of connections refused at `max_clients_per_ip`: the
/// first of a run, then a count at most once per [`REPEAT_LOG`] (a host
/// connecting in a loop must not fill the log). Admissions do not end a
/// run (a host refused in a loop while others connect is one run); being
/// quiet for `REPEAT_LOG` does, and a later refusal is the first of a new
/// one.
#[derive(Debug)]
pub(super) struct PerIpRefusals {
    run: Option<Run>,
    /// The bits of an IPv6 address counted (`per_ip_ipv6_prefix`).
    v6_prefix: u8,
}

impl Default for PerIpRefusals {
    /// Without a run; IPv6 clients counted by their whole address.
    fn default() -> PerIpRefusals {
        PerIpRefusals::new(128)
    }
}

impl PerIpRefusals {
    /// Without a run, for a server counting IPv6 clients by their first
    /// `v6_prefix` bits (`TcpServer::per_ip_ipv6_prefix`; the lines name
    /// the network).
    pub(super) fn new(v6_prefix: u8) -> PerIpRefusals {
        PerIpRefusals {
            run: None,
            v6_prefix,
        }
    }

    /// Counts a connection from `addr` refused at `max` per address; the
    /// line to log, if it is time for one. (A quiet run is ended first, by
    /// [`end_if_quiet`](Self::end_if_quiet) at each connection's arrival.)
    fn refused(&mut self, addr: std::net::SocketAddr, max: usize, now: Instant) -> Option<String> {
        let v6_prefix = self.v6_prefix;
        match Run::count_in(&mut self.run, now) {
            Logged::Not => None,
            Logged::First => Some(format!(
                "tcphub: refusing {addr}: {} from {} already (max_clients_per_ip {max})",
                connections(max as u64, false),
                crate::server::per_ip_source(addr.ip(), v6_prefix)
            )),
            Logged::Again {
                unlogged, previous, ..
            } => {
                let one = match addr.ip() {
                    std::net::IpAddr::V6(_) if v6_prefix < 128 => "network",
                    _ => "address",
                };
                Some(format!(
                    "tcphub: refused {} in {:.0?}, the last from {addr}: too many from \
                     one {one} (max_clients_per_ip {max})",
                    connections(unlogged, true),
                    now.duration_since(previous)
                ))
            }
        }
    }

    /// Ends the run if it has been quiet for [`REPEAT_LOG`]; the line for
    /// its refusals not yet logged, if any.
    fn end_if_quiet(&mut self, max: usize, now: Instant) -> Option<String> {
        self.run.as_ref().filter(|r| r.quiet(now))?;
        self.end(max, now, "none since")
    }

    /// When [`end_if_quiet`](Self::end_if_quiet) has a line to log: the
    /// loop wakes for it then, so a run's last refusals are logged even if
    /// no connection arrives after them. `None` when nothing waits (a run
    /// whose refusals were all logged ends at the next arrival, silently).
    pub(super) fn due(&self) -> Option<Instant> {
        let r = self.run.as_ref().filter(|r| r.unlogged > 0)?;
        Some(r.last + REPEAT_LOG)
    }

    /// Ends the run as the server stops; the line for its refusals not yet
    /// logged, if any.
    fn end_at_stop(&mut self, max: usize, now: Instant) -> Option<String> {
        self.end(max, now, "stopping")
    }

    /// Ends the run; the line for its refusals not yet logged, closed by
    /// `ending`, if any.
    fn end(&mut self, max: usize, now: Instant, ending: &str) -> Option<String> {
        let r = self.run.take()?;
        let one = if self.v6_prefix < 128 {
            "address or network"
        } else {
            "address"
        };
        (r.unlogged > 0).then(|| {
            format!(
                "tcphub: refused {}, the last {:.0?} ago: too many from one {one} \
                 (max_clients_per_ip {max}); {ending}",
                connections(r.unlogged, true),
                now.duration_since(r.last)
            )
        })
    }
}

/// A connection loop 0 has admitted and dealt to loop `idx`, on its way to
/// that loop (directly, or as `Command::Adopt` through its channel). It
/// counts against `max_clients` (`Core::active`) and that loop
/// (`LoopRemote::clients`) from `admit` on; once the loop adopts it, the
/// loop's `close` gives the count back. Dropped before that — anywhere: a
/// loop that is stopping refuses it, a post to a finished loop fails, or it
/// is still in the channel of a loop that has just finished (the channel
/// drops what it holds with its last receiver) — it gives the count back
/// itself, so the counters cannot drift whichever way it goes.
#[derive(Debug)]
pub(crate) struct Dealt {
    /// `None` once adopted.
    stream: Option<TcpStream>,
    pub client: Client,
    /// Weak: a connection left in a channel must not keep the server alive.
    core: Weak<Core>,
    idx: usize,
}

impl Dealt {
    /// `stream`, counted against `max_clients` and loop `idx` by the caller.
    pub(crate) fn new(core: &Arc<Core>, idx: usize, stream: TcpStream, client: Client) -> Dealt {
        Dealt {
            stream: Some(stream),
            client,
            core: Arc::downgrade(core),
            idx,
        }
    }

    /// The socket, e.g. to register it before adopting it.
    pub(crate) fn stream_mut(&mut self) -> &mut TcpStream {
        self.stream
            .as_mut()
            .expect("a dealt connection is adopted only once, by value")
    }

    /// Hands the socket over to its loop, which now owns the count.
    pub(crate) fn adopt(mut self) -> TcpStream {
        self.stream
            .take()
            .expect("a dealt connection is adopted only once, by value")
    }
}

impl Drop for Dealt {
    fn drop(&mut self) {
        if self.stream.is_some() {
            // Never adopted (the socket closes with it; the peer sees EOF).
            if let Some(core) = self.core.upgrade() {
                core.release_client(self.idx, self.client.addr.ip());
            }
        }
    }
}

/// Whether an accepted socket inherits `TCP_NODELAY` from its listener
/// (Linux copies the listener's options into the connection).
const NODELAY_INHERITED: bool = cfg!(any(target_os = "linux", target_os = "android"));

/// Creates the listening socket: `SO_REUSEADDR` (so a restart can bind at
/// once), dual stack for `::`, non-blocking, large backlog, `TCP_NODELAY`
/// for the accepted sockets to inherit (when asked for).
pub(crate) fn listen(config: &Config) -> Result<TcpListener> {
    let addr = config.addr;
    let bind_err = |source: io::Error| Error::Bind { addr, source };
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))
        .map_err(bind_err)?;
    socket.set_reuse_address(true).map_err(bind_err)?;
    if addr.is_ipv6() {
        // "::" means both families, like most servers; "::1" stays IPv6-only anyway.
        if let Err(e) = socket.set_only_v6(false) {
            if addr.ip().is_unspecified() {
                // (A system that keeps IPV6_V6ONLY on: the server runs,
                // for IPv6 clients only — said, not silent.)
                log::warn!(
                    "tcphub: {addr} takes IPv6 clients only: dual stack refused ({e}); \
                     a server on 0.0.0.0 takes IPv4 clients"
                );
            }
        }
    }
    socket.set_nonblocking(true).map_err(bind_err)?;
    if config.nodelay && NODELAY_INHERITED {
        // Accepted sockets inherit it: one setsockopt per server, not per client.
        socket.set_tcp_nodelay(true).map_err(bind_err)?;
    }
    socket.bind(&addr.into()).map_err(bind_err)?;
    socket.listen(config.backlog).map_err(bind_err)?;
    Ok(TcpListener::from_std(socket.into()))
}

impl EventLoop {
    pub(super) fn accept_all(&mut self) {
        self.accept_more = false;
        if self.stopping.is_some() {
            return;
        }
        for _ in 0..ACCEPT_BUDGET {
            if self.dispatch.full_for_new_clients() {
                // Pull mode, the event queue full and this many events
                // waiting for room: a client accepted now could not be
                // reported either, and its `Connected` (and, were it
                // disconnected meanwhile, its `Disconnected`) would add to
                // them without bound. New connections wait in the listen
                // backlog instead, as input waits in the sockets, until the
                // application makes room (which wakes this loop).
                self.accept_more = true;
                return;
            }
            let Some(listener) = &self.listener else {
                return;
            };
            match listener.accept() {
                // A run of accept failures ends with the backlog served
                // (`WouldBlock`), or once accepts have gone on without a
                // failure for `REPEAT_LOG`; not at the next success: at the
                // limit, each client that leaves frees one descriptor for
                // one accept, and that started a run (a warning) per client.
                Ok((stream, addr)) => {
                    if self
                        .accept_failing
                        .as_ref()
                        .is_some_and(|f| f.quiet(Instant::now()))
                    {
                        self.accepting_again();
                    }
                    self.admit(stream, addr);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.accepting_again();
                    return;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if is_transient_accept_error(&e) => {
                    log::debug!("tcphub: a connection was lost before it was accepted: {e}");
                    continue;
                }
                Err(e) => {
                    // EMFILE/ENFILE/ENOBUFS/ENOMEM: pending connections stay queued;
                    // with edge-triggered polling we must come back ourselves.
                    self.accept_failed(&e);
                    self.accept_retry = Some(Instant::now() + ACCEPT_RETRY);
                    return;
                }
            }
        }
        // Budget used up: more may wait, and with edge-triggered polling no
        // new edge comes for them. The next turn accepts again, after the
        // events it finds.
        self.accept_more = true;
    }

    /// Logs an accept failure: the first of a run, then at most once per
    /// [`REPEAT_LOG`] — not at every retry (20 a second) or every
    /// connection that arrives meanwhile.
    fn accept_failed(&mut self, e: &io::Error) {
        let now = Instant::now();
        match Run::count_in(&mut self.accept_failing, now) {
            Logged::Not => {}
            Logged::First => log::warn!(
                "tcphub: accept failed: {e}; new connections wait in the backlog, \
                 retrying every {} ms and as more arrive",
                ACCEPT_RETRY.as_millis()
            ),
            Logged::Again { since, count, .. } => log::warn!(
                "tcphub: accept still failing after {:.0?} ({count} attempts): {e}",
                now.duration_since(since)
            ),
        }
    }

    /// Ends a run of accept failures, if one was going on: the backlog is
    /// empty, or accepts have not failed for a while (see `accept_all`).
    fn accepting_again(&mut self) {
        if let Some(f) = self.accept_failing.take() {
            log::info!(
                "tcphub: accepting again after {:.0?} ({} failed attempts)",
                f.since.elapsed(),
                f.count
            );
        }
    }

    /// Logs a new connection the poller would not take (`ENOSPC`: the
    /// user's epoll watches used up; `ENOMEM`), which is dropped: each at
    /// debug; a warning at the first of a run, then at most once per
    /// [`REPEAT_LOG`] with the count — server-wide trouble that a connect
    /// storm made a warning per connection (review lg).
    pub(super) fn register_failed(&mut self, client: &Client, e: &io::Error) {
        log::debug!("tcphub: cannot register client {client}: {e}; dropped");
        let now = Instant::now();
        match Run::count_in(&mut self.register_failing, now) {
            Logged::Not => {}
            Logged::First => log::warn!(
                "tcphub: cannot register new connections with the poller ({e}): \
                 dropping them, the first {}",
                client.addr
            ),
            Logged::Again {
                unlogged, previous, ..
            } => log::warn!(
                "tcphub: dropped {} in {:.0?}: cannot register them with the poller ({e})",
                connections(unlogged, true),
                now.duration_since(previous)
            ),
        }
    }

    /// Ends a run of registration failures that has been quiet for
    /// [`REPEAT_LOG`], at a connection registered.
    pub(super) fn registering_again(&mut self) {
        if self.register_failing.is_none() {
            return; // the usual case: no clock read per connection
        }
        let now = Instant::now();
        if let Some(r) = self.register_failing.take_if(|r| r.quiet(now)) {
            log::info!(
                "tcphub: registering connections again ({} dropped in all)",
                connections(r.count, false)
            );
        }
    }

    fn admit(&mut self, stream: TcpStream, addr: std::net::SocketAddr) {
        self.end_quiet_per_ip_run();
        let core = &self.core;
        if core.active.load(Ordering::Acquire) >= core.config.max_clients {
            LoopCounters::add(&self.counters().rejected, 1);
            let max = core.config.max_clients;
            let now = Instant::now();
            match Run::count_in(&mut self.refusing, now) {
                Logged::Not => {}
                Logged::First => {
                    log::info!("tcphub: refusing {addr}: the server is full (max_clients {max})")
                }
                Logged::Again {
                    since, unlogged, ..
                } => log::info!(
                    "tcphub: refused {} in {:.0?}: the server is full (max_clients {max})",
                    connections(unlogged, true),
                    now.duration_since(since)
                ),
            }
            let notice = self.core.config.full_frame.clone();
            self.refuse(stream, notice.as_ref());
            return;
        }
        let addr = crate::addr::canonical(addr);
        if !core.admit_ip(addr.ip()) {
            LoopCounters::add(&self.counters().rejected_per_ip, 1);
            self.refused_per_ip(addr);
            let notice = self.core.config.per_ip_full_frame.clone();
            self.refuse(stream, notice.as_ref());
            return;
        }
        core.active.fetch_add(1, Ordering::AcqRel);
        if let Some(r) = self.refusing.take() {
            log::info!(
                "tcphub: admitting clients again after {:.0?} full ({} refused)",
                r.since.elapsed(),
                connections(r.count, false)
            );
        }
        let id = crate::shared::new_client_id();
        if core.config.nodelay && !NODELAY_INHERITED {
            let _ = stream.set_nodelay(true);
        }
        if let Some(idle) = core.config.keepalive {
            // (Whole seconds, at least 1: rounded up once by `start()`.)
            let _ = set_keepalive(&stream, idle);
        }
        let client = Client { id, addr };
        let target = self.pick_loop();
        let dealt = Dealt::new(&self.core, target, stream, client);
        if target == self.idx {
            self.adopt(dealt);
        } else {
            self.core.post(target, Command::Adopt(Box::new(dealt)));
        }
    }

    /// Closes a refused connection after `notice`: the peer sees EOF after
    /// it. Lingering (as a kicked client's socket does, in a place a
    /// client's socket may take back) keeps a peer that is still sending
    /// from getting a reset that throws away the notice's unsent rest.
    fn refuse(&mut self, mut stream: TcpStream, notice: Option<&Arc<[u8]>>) {
        if let Some(notice) = notice {
            // A new connection's send buffer holds it (it is at most
            // MAX_FULL_MESSAGE bytes); if not, the peer gets less.
            let _ = stream.write(notice);
        }
        let input = close_politely(&mut stream, &mut self.rbuf);
        self.linger_refused(stream, input);
    }

    /// Logs a connection from `addr` refused at `max_clients_per_ip`
    /// (see [`PerIpRefusals`]).
    fn refused_per_ip(&mut self, addr: std::net::SocketAddr) {
        let max = self.core.config.max_clients_per_ip.unwrap_or(usize::MAX);
        if let Some(line) = self.refusing_per_ip.refused(addr, max, Instant::now()) {
            log::info!("{line}");
        }
    }

    /// Ends a run of refusals at `max_clients_per_ip` that has been quiet
    /// for [`REPEAT_LOG`], logging those not yet in a line. Looked at
    /// whenever a connection arrives, and at each turn once such a line is
    /// due ([`PerIpRefusals::due`], which `poll_timeout` wakes the loop for).
    pub(super) fn end_quiet_per_ip_run(&mut self) {
        self.log_per_ip_run_end(PerIpRefusals::end_if_quiet);
    }

    /// Logs the refusals at `max_clients_per_ip` not yet in a line, as the
    /// server stops.
    pub(super) fn end_per_ip_run_at_stop(&mut self) {
        self.log_per_ip_run_end(PerIpRefusals::end_at_stop);
    }

    /// Logs the line `end` gives for the run of per-address refusals.
    fn log_per_ip_run_end(
        &mut self,
        end: fn(&mut PerIpRefusals, usize, Instant) -> Option<String>,
    ) {
        let max = self.core.config.max_clients_per_ip.unwrap_or(usize::MAX);
        if let Some(line) = end(&mut self.refusing_per_ip, max, Instant::now()) {
            log::info!("{line}");
        }
    }

    /// The loop a new client goes to: the one owning the fewest clients;
    /// among equals, the next in turn (so an even spread stays round-robin).
    /// Counts the client against it.
    fn pick_loop(&mut self) -> usize {
        let loops = &self.core.loops;
        let start = self.next_target % loops.len();
        self.next_target = self.next_target.wrapping_add(1);
        let mut best = (start, usize::MAX);
        for k in 0..loops.len() {
            let i = (start + k) % loops.len();
            let n = loops[i].clients.load(Ordering::Relaxed);
            if n < best.1 {
                best = (i, n);
            }
        }
        loops[best.0].clients.fetch_add(1, Ordering::Relaxed);
        best.0
    }
}

/// Errors about one connection, lost before it was accepted, that accept
/// may report: keep accepting. Besides `ECONNABORTED`, Linux passes on a
/// network error already pending on the new connection (accept(2), "Error
/// handling": treat them "like `EAGAIN` by retrying"). Each such error
/// took its connection off the backlog, so retrying at once cannot spin.
/// Anything else (`EMFILE`, `ENOBUFS`, `EPERM` from a security module, …)
/// may leave the backlog as it was and is retried after a pause.
fn is_transient_accept_error(e: &io::Error) -> bool {
    if matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    ) {
        return true;
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if let Some(errno) = e.raw_os_error() {
        return matches!(
            errno,
            libc::ENETDOWN
                | libc::EPROTO
                | libc::ENOPROTOOPT
                | libc::EHOSTDOWN
                | libc::ENONET
                | libc::EHOSTUNREACH
                | libc::EOPNOTSUPP
                | libc::ENETUNREACH
        );
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TcpServer;

    /// Refusals at `max_clients_per_ip`: one line at a run's start, then
    /// counts at most every `REPEAT_LOG` (each counting only what came
    /// since the last), and a run quiet for `REPEAT_LOG` ends with its
    /// unlogged rest, so the next refusal starts a new one. Before, the
    /// run never ended: later lines lumped old and new refusals together,
    /// and a last refusal was never logged.
    #[test]
    fn per_ip_refusal_runs_log_their_start_counts_and_end() {
        let (a, b): (std::net::SocketAddr, std::net::SocketAddr) = (
            "10.0.0.1:5000".parse().unwrap(),
            "10.0.0.2:6000".parse().unwrap(),
        );
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut run = PerIpRefusals::default();
        let first = run.refused(a, 1, at(0)).expect("a run's first is logged");
        assert!(
            first.contains("refusing 10.0.0.1:5000: 1 connection from 10.0.0.1"),
            "{first}"
        );
        assert_eq!(run.refused(a, 1, at(1)), None, "within REPEAT_LOG: counted");
        assert_eq!(run.end_if_quiet(1, at(9)), None, "not quiet yet");
        let count = run.refused(b, 1, at(10)).expect("REPEAT_LOG on: a count");
        assert!(
            count.contains("refused 2 more connections in 10s"),
            "{count}"
        );
        assert!(count.contains("the last from 10.0.0.2:6000"), "{count}");
        assert_eq!(run.refused(b, 1, at(12)), None);
        assert_eq!(run.end_if_quiet(1, at(21)), None, "quiet for 9 s only");
        let end = run
            .end_if_quiet(1, at(22))
            .expect("quiet: the rest is logged");
        assert!(end.contains("refused 1 more connection,"), "{end}");
        assert!(
            end.contains("10s ago") && end.contains("none since"),
            "{end}"
        );
        let again = run
            .refused(a, 3, at(100))
            .expect("a new run's first is logged");
        assert!(
            again.contains("refusing 10.0.0.1:5000: 3 connections from"),
            "{again}"
        );
        assert_eq!(run.due(), None, "all logged: nothing to wake for");
        // A run whose refusals were all logged ends without a line.
        assert_eq!(run.end_if_quiet(3, at(110)), None);
        assert!(run.refused(a, 3, at(111)).is_some(), "ended all the same");
        assert_eq!(run.refused(a, 3, at(112)), None);
        assert_eq!(run.due(), Some(at(122)), "the rest is due once quiet");
        let stop = run.end_at_stop(3, at(115)).expect("the stop logs the rest");
        assert!(
            stop.contains("refused 1 more connection, the last 3s ago")
                && stop.contains("stopping"),
            "{stop}"
        );
        assert_eq!(run.due(), None);
        assert_eq!(run.end_at_stop(3, at(116)), None, "nothing left");
    }

    #[test]
    fn per_ip_refusals_name_the_ipv6_network_counted() {
        let a: std::net::SocketAddr = "[2001:db8:1:2::5]:5000".parse().unwrap();
        let b: std::net::SocketAddr = "[2001:db8:1:2::6]:6000".parse().unwrap();
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut run = PerIpRefusals::new(64);
        let first = run.refused(a, 2, at(0)).expect("a run's first is logged");
        assert!(
            first.contains("refusing [2001:db8:1:2::5]:5000: 2 connections from 2001:db8:1:2::/64"),
            "{first}"
        );
        let count = run.refused(b, 2, at(10)).expect("REPEAT_LOG on: a count");
        assert!(count.contains("too many from one network"), "{count}");
        let mut whole = PerIpRefusals::default();
        let first = whole.refused(a, 2, at(0)).expect("logged");
        assert!(first.contains("from 2001:db8:1:2::5 already"), "{first}");
    }

    /// With `per_ip_ipv6_prefix(64)`, IPv6 clients of one /64 share the
    /// limit and give their places back to it; IPv4 clients and other
    /// networks count apart.
    #[test]
    fn ipv6_clients_of_one_network_share_their_per_ip_limit() {
        let server = TcpServer::new(0, 100)
            .bind("127.0.0.1".parse().expect("ip"))
            .threads(1)
            .max_clients_per_ip(2)
            .per_ip_ipv6_prefix(64)
            .start()
            .expect("start");
        let core = server.core().clone();
        server.stop(); // no loop touches the counts any more
        let ip = |s: &str| s.parse::<std::net::IpAddr>().expect("ip");
        assert!(core.admit_ip(ip("2001:db8:1:2::1")));
        assert!(core.admit_ip(ip("2001:db8:1:2:ffff::9")));
        assert!(
            !core.admit_ip(ip("2001:db8:1:2::3")),
            "a third from the /64"
        );
        assert!(core.admit_ip(ip("2001:db8:1:3::1")), "another /64");
        assert!(core.admit_ip(ip("10.0.0.1")));
        assert!(core.admit_ip(ip("10.0.0.1")));
        assert!(!core.admit_ip(ip("10.0.0.1")));
        // Given back by another address of the network, as each leaves.
        core.active.fetch_add(1, Ordering::SeqCst);
        core.loops[0].clients.fetch_add(1, Ordering::SeqCst);
        core.release_client(0, ip("2001:db8:1:2::1"));
        assert!(core.admit_ip(ip("2001:db8:1:2::3")), "a place given back");
        assert!(!core.admit_ip(ip("2001:db8:1:2::4")));
    }

    /// A connected socket pair on loopback (the server's side as mio's).
    fn socket_pair() -> (TcpStream, std::net::TcpStream) {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let peer = std::net::TcpStream::connect(l.local_addr().expect("addr")).expect("connect");
        let (ours, _) = l.accept().expect("accept");
        (TcpStream::from_std(ours), peer)
    }

    /// A connection dealt to loop 1 that is still in loop 1's channel when
    /// the channel's last receiver goes (the loop has finished: it drained
    /// its channel, then a late `Adopt` from loop 0 arrived) gives back its
    /// count against `max_clients` and the loop, and its peer sees EOF.
    #[test]
    fn a_dealt_connection_left_in_a_finished_loops_channel_gives_its_count_back() {
        let server = TcpServer::new(0, 4)
            .bind("127.0.0.1".parse().expect("ip"))
            .threads(2)
            .max_clients_per_ip(2)
            .start()
            .expect("start");
        let core = server.core().clone();
        server.stop(); // no loop touches the counts any more
        assert_eq!(core.active.load(Ordering::SeqCst), 0);
        let (stream, mut peer) = socket_pair();
        let client = Client {
            id: 1,
            addr: peer.local_addr().expect("addr"),
        };
        // What `admit` and `pick_loop` count when dealing it to loop 1.
        assert!(core.admit_ip(client.addr.ip()));
        core.active.fetch_add(1, Ordering::SeqCst);
        core.loops[1].clients.fetch_add(1, Ordering::SeqCst);
        let (tx, rx) = crossbeam_channel::unbounded();
        tx.send(Command::Adopt(Box::new(Dealt::new(
            &core, 1, stream, client,
        ))))
        .expect("queued");
        drop(rx); // the loop's last receiver: what the channel holds is dropped
        assert_eq!(core.active.load(Ordering::SeqCst), 0, "max_clients count");
        let per_ip = core.per_ip.lock().expect("per_ip").clone();
        assert!(per_ip.is_empty(), "max_clients_per_ip count: {per_ip:?}");
        assert_eq!(
            core.loops[1].clients.load(Ordering::SeqCst),
            0,
            "loop count"
        );
        peer.set_read_timeout(Some(Duration::from_secs(20)))
            .expect("timeout");
        let mut buf = [0u8; 1];
        assert_eq!(std::io::Read::read(&mut peer, &mut buf).expect("EOF"), 0);
    }

    /// The words of the lines for a run of per-address refusals: an IPv6
    /// client counted by its whole address (`per_ip_ipv6_prefix` 128, the
    /// default) is refused as one *address*, and a run's last line says
    /// "one address" unless IPv6 clients are counted by network, when it
    /// says "one address or network". (Mutation testing, review mb: the
    /// tests above checked only the /64 words.)
    #[test]
    fn review_mb_per_ip_refusal_lines_name_an_address_unless_counting_networks() {
        let a: std::net::SocketAddr = "[2001:db8:1:2::5]:5000".parse().unwrap();
        let b: std::net::SocketAddr = "[2001:db8:1:2::6]:6000".parse().unwrap();
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut whole = PerIpRefusals::default();
        assert!(whole.refused(a, 2, at(0)).is_some(), "a run's first");
        let count = whole.refused(b, 2, at(10)).expect("REPEAT_LOG on: a count");
        assert!(count.contains("too many from one address"), "{count}");
        assert_eq!(whole.refused(b, 2, at(11)), None);
        let end = whole.end_at_stop(2, at(12)).expect("the rest");
        assert!(
            end.contains("too many from one address (max_clients_per_ip 2)"),
            "{end}"
        );
        let mut by_network = PerIpRefusals::new(64);
        assert!(by_network.refused(a, 2, at(0)).is_some());
        assert_eq!(by_network.refused(b, 2, at(1)), None);
        let end = by_network.end_at_stop(2, at(2)).expect("the rest");
        assert!(
            end.contains("too many from one address or network (max_clients_per_ip 2)"),
            "{end}"
        );
    }
}
