//! `tcphub_server`: a [`TcpServer`] builder and, once started, its
//! [`ServerHandle`], behind one opaque pointer.

use std::ffi::{c_char, c_int};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Once, TryLockError};

use tcphub_core::{Client, Framing, ServerHandle, TcpServer};

use crate::boundary::{self, boundary, callback, non_null, Fail, UserPtr};
use crate::callbacks::{ConnectFn, DisconnectFn, FreeFn, MessageFn};
use crate::codes::*;
use crate::tuning::Tuning;

/// A tcphub server. Create with `tcphub_server_new`, configure, then
/// `tcphub_server_start`; release with `tcphub_server_free`.
///
/// The pointer is reference counted on the Rust side: the event loops of a
/// started server hold a reference, so the object outlives the last callback
/// even when `tcphub_server_free` is called from inside one.
#[derive(Debug)]
pub struct tcphub_server {
    /// Settings, callbacks and the core handle. Callbacks may call back into
    /// the API (and thus lock this) on the loop threads, so it is held only
    /// for short, non-blocking work: never while joining the loops, waiting
    /// for events or calling C.
    state: Mutex<State>,
    /// The fork generation (plus 1; 0: never locked) of the thread that
    /// locked `state` last. A child forked while a thread of its parent
    /// held the lock finds it held for good — that thread is not copied —
    /// and tells so by the generation.
    holder: AtomicU64,
    /// How many runs have started (`State::runs`, stored with it), shared
    /// with the readiness descriptors of this server: they read it without
    /// taking a reference to the server, whose last reference must stay
    /// `tcphub_server_free`'s (it runs the userdata destructor).
    started: Arc<AtomicU64>,
}

/// How many forks separate this process from the first that made a
/// server: bumped in every child by a `pthread_atfork` handler.
static FORKS: AtomicU64 = AtomicU64::new(0);

extern "C" fn forked_child() {
    // Async-signal-safe: one atomic add, in the single-threaded child.
    FORKS.fetch_add(1, Ordering::Relaxed);
}

/// Registers [`forked_child`] (once; before any server exists).
fn count_forks() {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        // SAFETY: the handler only does an atomic add; none for the
        // parent's side of the fork.
        let rc = unsafe { libc::pthread_atfork(None, None, Some(forked_child)) };
        if rc != 0 {
            eprintln!(
                "tcphub: pthread_atfork failed ({rc}): a forked child may wait for a lock for good"
            );
        }
    });
}

/// `state` could not be locked: in this forked child it is held for good
/// by a thread of the parent, which used the server at the fork. The
/// server is then the parent's, and acts stopped here.
#[derive(Debug)]
pub(crate) struct Wedged;

impl From<Wedged> for Fail {
    fn from(_: Wedged) -> Fail {
        Fail::new(
            TCPHUB_ERR_IO,
            "a thread of the parent process held the server's state at fork(): \
             the server cannot be changed in this child",
        )
    }
}

#[derive(Debug)]
pub(crate) struct State {
    port: u16,
    max_clients: usize,
    ip: Option<IpAddr>,
    framing: Framing,
    threads: Option<usize>,
    /// Idle and frame timeouts in milliseconds (0 = off).
    idle_timeout_ms: u64,
    frame_timeout_ms: u64,
    /// How long idle loops keep polling before they sleep, microseconds (0 = off).
    busy_poll_us: u64,
    /// Per-client outbound queue bound in bytes (0 = the core's default).
    max_queue_bytes: usize,
    /// The settings set in `tuning.rs`.
    tuning: Tuning,
    pub(crate) on_connect: Option<(ConnectFn, UserPtr)>,
    pub(crate) on_message: Option<(MessageFn, UserPtr)>,
    pub(crate) on_disconnect: Option<(DisconnectFn, UserPtr)>,
    pub(crate) userdata_free: Option<FreeFn>,
    /// Every distinct userdata ever registered: the destructor runs once for
    /// each when this object is dropped, which is after the last callback.
    userdata: Vec<UserPtr>,
    /// The running (or stopped, not yet released) server. Kept after a stop
    /// so that a later stop or free from outside the loops can join them.
    handle: Option<ServerHandle>,
    /// Whether `handle`'s run has callbacks: `tcphub_server_next_event`
    /// then says its events went to them, rather than "not running". The
    /// `on_*` fields may change after a stop; this stays the run's.
    callback_mode: bool,
    /// How many runs have started: `tcphub_server_start` stops the previous
    /// run without the lock, and finds by this whether another thread
    /// started one meanwhile.
    runs: u64,
    /// The process that started the last run: in a child forked since, the
    /// run (and the userdata its callbacks use) is the parent's.
    run_pid: Option<u32>,
}

impl State {
    fn running(&self) -> bool {
        self.handle.as_ref().is_some_and(|h| h.is_running())
    }

    fn configurable(&self) -> Result<(), Fail> {
        if self.running() {
            Err(Fail::new(
                TCPHUB_ERR_ALREADY_RUNNING,
                "cannot change a running server; stop it first",
            ))
        } else {
            Ok(())
        }
    }

    pub(crate) fn remember(&mut self, userdata: UserPtr) {
        if !userdata.0.is_null() && !self.userdata.contains(&userdata) {
            self.userdata.push(userdata);
        }
    }

    /// The core builder for this configuration. Each closure holds `keep`,
    /// so the C object lives as long as any event loop that may call it.
    fn builder(&self, keep: &Arc<tcphub_server>) -> TcpServer {
        let mut b = TcpServer::new(self.port, self.max_clients).framing(self.framing);
        if let Some(ip) = self.ip {
            b = b.bind(ip);
        }
        if self.idle_timeout_ms > 0 {
            b = b.idle_timeout(std::time::Duration::from_millis(self.idle_timeout_ms));
        }
        if self.frame_timeout_ms > 0 {
            b = b.frame_timeout(std::time::Duration::from_millis(self.frame_timeout_ms));
        }
        if self.max_queue_bytes > 0 {
            b = b.max_queue_bytes(self.max_queue_bytes);
        }
        b = b.busy_poll(std::time::Duration::from_micros(self.busy_poll_us));
        b = self.tuning.apply(b);
        if let Some(n) = self.threads {
            b = b.threads(n);
        }
        b = crate::callbacks::wire(self, b, keep);
        b
    }
}

impl tcphub_server {
    /// Runs `f` with the core handle. Inside one of this server's callbacks
    /// that is the handle the engine passed in, used as is; elsewhere a
    /// clone taken under the lock. Sends from callbacks (a relay's hot path)
    /// thus take no lock and touch no reference count.
    pub(crate) fn with_handle<R>(
        &self,
        f: impl FnOnce(&ServerHandle) -> Result<R, Fail>,
    ) -> Result<R, Fail> {
        let (srv, handle, _) = crate::callbacks::current();
        if std::ptr::eq(srv, self) && !handle.is_null() {
            // SAFETY: as in `with_started`.
            return f(unsafe { &*handle }).map_err(Fail::stopped);
        }
        let handle = self.lock().map_err(|_| forked_run())?.handle.clone();
        f(&handle.ok_or_else(never_started)?).map_err(Fail::stopped)
    }

    /// As [`with_handle`](Self::with_handle), but `None` when the server was
    /// never started: for queries whose documented answer is then 0, which
    /// is no failure and so must not replace `tcphub_last_error()`.
    pub(crate) fn with_started<R>(&self, f: impl FnOnce(&ServerHandle) -> R) -> Option<R> {
        let (srv, handle, _) = crate::callbacks::current();
        if std::ptr::eq(srv, self) && !handle.is_null() {
            // SAFETY: set by `in_callback` from a reference that lives
            // for the whole callback, which is still running on this thread
            // (the mark is removed when the callback returns).
            return Some(f(unsafe { &*handle }));
        }
        // (Wedged in a forked child: the parent's run, stopped here.)
        let handle = self.lock().ok()?.handle.clone()?;
        Some(f(&handle))
    }

    /// Client `id` if it is the one leaving in this server's
    /// `on_disconnect` running on this thread: no longer listed by the
    /// engine, but the callback may still ask who it was.
    pub(crate) fn leaving(&self, id: u64) -> Option<Client> {
        let (srv, _, leaving) = crate::callbacks::current();
        if !std::ptr::eq(srv, self) || leaving.is_null() {
            return None;
        }
        // SAFETY: set by `in_callback` from a reference that lives for the
        // whole callback, which is still running on this thread.
        let leaving = unsafe { &*leaving };
        (leaving.id == id).then_some(*leaving)
    }

    /// The handle of the last `start`, if any (running or stopped).
    pub(crate) fn last_handle(&self) -> Result<Option<ServerHandle>, Wedged> {
        Ok(self.lock()?.handle.clone())
    }

    /// Locks `state`, unless this is a forked child where a thread of the
    /// parent held it at the fork: it would wait for good.
    pub(crate) fn lock(&self) -> Result<MutexGuard<'_, State>, Wedged> {
        let me = FORKS.load(Ordering::Relaxed) + 1;
        let guard = match self.state.try_lock() {
            Ok(g) => g,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) => {
                // Held by a thread of an earlier generation — a parent's —
                // it stays held here. (0: its first holder has not said
                // who it is yet; one of this process, surely.)
                let holder = self.holder.load(Ordering::Acquire);
                if holder != 0 && holder != me {
                    return Err(Wedged);
                }
                self.state.lock().unwrap_or_else(|p| p.into_inner())
            }
        };
        self.holder.store(me, Ordering::Release);
        Ok(guard)
    }

    /// A clone of the core handle of a run in pull mode, taken without
    /// holding the lock afterwards, for `tcphub_server_next_event`: a run
    /// with callbacks has no events to take, which "not running" alone
    /// would misname.
    pub(crate) fn pull_handle(&self) -> Result<ServerHandle, Fail> {
        self.pull_run().map(|(handle, _)| handle)
    }

    /// [`pull_handle`](Self::pull_handle) and the number of its run (how
    /// many runs had started then), read together.
    pub(crate) fn pull_run(&self) -> Result<(ServerHandle, u64), Fail> {
        let st = self.lock().map_err(|_| forked_run())?;
        let handle = st.handle.clone().ok_or_else(never_started)?;
        if st.callback_mode {
            return Err(Fail::new(
                TCPHUB_ERR_NOT_RUNNING,
                "the server has callbacks: its events go to them, not to tcphub_server_next_event",
            ));
        }
        Ok((handle, st.runs))
    }

    /// The count of runs started (see `started`), for a readiness
    /// descriptor to keep.
    pub(crate) fn started_runs(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.started)
    }
}

/// Why a wedged forked child's server (see [`Wedged`]) does nothing.
fn forked_run() -> Fail {
    Fail::new(
        TCPHUB_ERR_NOT_RUNNING,
        "the server's run is the parent process's (forked)",
    )
}

fn never_started() -> Fail {
    Fail::new(TCPHUB_ERR_NOT_RUNNING, "the server was never started")
}

impl Drop for tcphub_server {
    fn drop(&mut self) {
        let st = self.state.get_mut().unwrap_or_else(|p| p.into_inner());
        if st.run_pid.is_some_and(|pid| pid != std::process::id()) {
            // A forked child freeing a server its parent started: the
            // parent's run still uses the userdata (see the header).
            return;
        }
        if let Some(free) = st.userdata_free {
            for ud in st.userdata.drain(..) {
                // SAFETY: the application registered `free` for its userdata.
                callback("userdata_free", || unsafe { free(ud.0) });
            }
        }
    }
}

/// `s` as a reference.
///
/// # Safety
///
/// `s` is NULL or a live pointer from `tcphub_server_new`.
pub(crate) unsafe fn server<'a>(s: *const tcphub_server) -> Result<&'a tcphub_server, Fail> {
    // SAFETY: forwarded caller promise.
    unsafe { non_null(s, "server") }
}

/// The body of a setter named `name`: checks, in this order, that `s` is
/// not NULL, that the server is not running, and then (in `set`) the
/// argument, which `set` stores. The state comes before the argument, so a
/// running server is reported as such (`TCPHUB_ERR_ALREADY_RUNNING`)
/// whatever the argument — the same answer as for a good one.
///
/// # Safety
///
/// `s` is NULL or a live server.
pub(crate) unsafe fn setter(
    name: &'static str,
    s: *mut tcphub_server,
    set: impl FnOnce(&mut State) -> Result<(), Fail>,
) -> c_int {
    boundary(name, || {
        // SAFETY: the caller's promise.
        let srv = unsafe { server(s)? };
        let mut st = srv.lock()?;
        st.configurable()?;
        set(&mut st)?;
        Ok(TCPHUB_OK)
    })
}

/// [`setter`] for the `tuning.rs` settings: `set` gets only those.
///
/// # Safety
///
/// `s` is NULL or a live server.
pub(crate) unsafe fn tune(
    name: &'static str,
    s: *mut tcphub_server,
    set: impl FnOnce(&mut Tuning) -> Result<(), Fail>,
) -> c_int {
    // SAFETY: the caller's promise.
    unsafe { setter(name, s, |st| set(&mut st.tuning)) }
}

/// Creates a server for `port` (0: the system picks a free one, see
/// `tcphub_server_port`) admitting at most `max_clients` clients at once
/// (at least 1: `tcphub_server_start` refuses 0 with
/// `TCPHUB_ERR_INVALID_ARG`).
/// It listens on 0.0.0.0 with `TCPHUB_FRAMING_RAW` and one event-loop thread
/// per core unless configured otherwise. Nothing is bound until
/// `tcphub_server_start`.
///
/// Returns NULL only if the object cannot be created (see `tcphub_last_error`).
/// Release it with `tcphub_server_free`.
/// A whole server, from new to start: see `tcphub_server_on_message`.
#[no_mangle]
pub extern "C" fn tcphub_server_new(port: u16, max_clients: usize) -> *mut tcphub_server {
    boundary("tcphub_server_new", || {
        count_forks();
        let server = tcphub_server {
            holder: AtomicU64::new(0),
            started: Arc::new(AtomicU64::new(0)),
            state: Mutex::new(State {
                port,
                max_clients,
                ip: None,
                framing: Framing::Raw,
                threads: None,
                idle_timeout_ms: 0,
                frame_timeout_ms: 0,
                busy_poll_us: tcphub_core::DEFAULT_BUSY_POLL.as_micros() as u64,
                max_queue_bytes: 0,
                tuning: Tuning::default(),
                on_connect: None,
                on_message: None,
                on_disconnect: None,
                userdata_free: None,
                userdata: Vec::new(),
                handle: None,
                callback_mode: false,
                runs: 0,
                run_pid: None,
            }),
        };
        Ok(Arc::into_raw(Arc::new(server)).cast_mut())
    })
}

/// Sets the local IP address to listen on, as text: "127.0.0.1", "::1",
/// "0.0.0.0" (the default), or "::" (IPv6 and IPv4); an IPv6 address may
/// also come in brackets (`"[::1]"`), as tcphub prints addresses.
///
/// Returns `TCPHUB_ERR_INVALID_ARG` for text that is not an IP address
/// (a host name, a port, an IPv6 zone: the server binds an address alone),
/// `TCPHUB_ERR_ALREADY_RUNNING` while the server runs.
///
/// # Safety
///
/// `s` is NULL or a live server; `ip` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn tcphub_server_set_bind_ip(
    s: *mut tcphub_server,
    ip: *const c_char,
) -> c_int {
    // SAFETY: the caller's promise.
    unsafe {
        setter("tcphub_server_set_bind_ip", s, |st| {
            // SAFETY: the caller's promise.
            let text = boundary::c_str(ip, "ip")?;
            let ip = tcphub_core::parse_bind_ip(text)
                .ok_or_else(|| Fail::invalid(format!("not an IP address: {text:?}")))?;
            st.ip = Some(ip);
            Ok(())
        })
    }
}

/// Sets how messages are delimited: `TCPHUB_FRAMING_RAW` (default),
/// `TCPHUB_FRAMING_LINES` or `TCPHUB_FRAMING_LENGTH_PREFIXED`, with the
/// largest accepted message in bytes (`max_len` 0: the framing's default;
/// RAW, which has no frames, takes only 0). Messages sent are framed the
/// same way.
///
/// Returns `TCPHUB_ERR_INVALID_ARG` for an unknown framing value or a
/// `max_len` other than 0 with `TCPHUB_FRAMING_RAW` (the setting is then
/// left as it was),
/// `TCPHUB_ERR_ALREADY_RUNNING` while the server runs.
///
/// # Safety
///
/// `s` is NULL or a live server.
#[no_mangle]
pub unsafe extern "C" fn tcphub_server_set_framing(
    s: *mut tcphub_server,
    framing: tcphub_framing,
    max_len: usize,
) -> c_int {
    // SAFETY: the caller's promise.
    unsafe {
        setter("tcphub_server_set_framing", s, |st| {
            st.framing = boundary::framing(framing, max_len)?;
            Ok(())
        })
    }
}

/// Disconnects clients that send nothing for `timeout_ms` milliseconds with
/// `TCPHUB_REASON_IDLE_TIMEOUT` (0, the default, turns it off). The clock
/// does not run while the server is not reading (its pull-mode event queue
/// full, input paused, or another event loop far behind: a client's last
/// message may be waiting for room meanwhile), nor for most of a turn of
/// an event loop that takes over 50 ms (a slow callback, or many callbacks'
/// work in one turn): it runs for 50 ms or an eighth of such a turn,
/// whichever is longer, so a loop whose turns are all that long still
/// times clients out, at worst eight times later. In pull mode, likewise
/// while the application works on the event it took before it calls
/// `tcphub_server_next_event` again or arms its ready fd (with several
/// threads taking events, a call by any of them ends it; the client may
/// be waiting for the answer): the clock runs for 50 ms or an eighth of
/// that time, and until an event loop first sees it (at its next
/// wakeup, a quarter of the shorter timeout at the latest).
/// Takes effect at the next `tcphub_server_start`.
///
/// Returns `TCPHUB_ERR_ALREADY_RUNNING` while the server runs.
///
/// # Safety
///
/// `s` is NULL or a live server.
#[no_mangle]
pub unsafe extern "C" fn tcphub_server_set_idle_timeout(
    s: *mut tcphub_server,
    timeout_ms: u64,
) -> c_int {
    // SAFETY: the caller's promise.
    unsafe {
        setter("tcphub_server_set_idle_timeout", s, |st| {
            st.idle_timeout_ms = timeout_ms;
            Ok(())
        })
    }
}

/// A frame that has started must be complete within `timeout_ms`
/// milliseconds, else the client is cut with `TCPHUB_REASON_FRAME_TIMEOUT`
/// (defends against clients that drip a frame byte by byte; 0, the default,
/// turns it off). The clock does not run while the server is not reading
/// (its pull-mode event queue full, or another event loop far behind: TCP
/// then holds the client's bytes back), nor for most of a turn of an event
/// loop that takes over 50 ms or of a pull-mode application's work on the
/// event it took, as the idle clock
/// (`tcphub_server_set_idle_timeout`). Takes effect at the next
/// `tcphub_server_start`.
///
/// Returns `TCPHUB_ERR_ALREADY_RUNNING` while the server runs.
///
/// # Safety
///
/// `s` is NULL or a live server.
#[no_mangle]
pub unsafe extern "C" fn tcphub_server_set_frame_timeout(
    s: *mut tcphub_server,
    timeout_ms: u64,
) -> c_int {
    // SAFETY: the caller's promise.
    unsafe {
        setter("tcphub_server_set_frame_timeout", s, |st| {
            st.frame_timeout_ms = timeout_ms;
            Ok(())
        })
    }
}

/// Lets an event loop that has run out of work keep polling for up to
/// `micros` microseconds, yielding its CPU between polls, before it sleeps
/// (default 5; 0 turns it off). Fewer sleep/wake cycles under steady load,
/// at the price of at most that much CPU per wakeup that finds nothing more
/// to do. While on, a loop that keeps finding work also yields its CPU
/// after a turn at most every 200 µs, so threads waiting for its core are
/// not held off until the scheduler tick. Takes effect at the next
/// `tcphub_server_start`, which fails with `TCPHUB_ERR_INVALID_ARG` for
/// more than 1000000 (1 s).
///
/// Returns `TCPHUB_ERR_ALREADY_RUNNING` while the server runs.
///
/// # Safety
///
/// `s` is NULL or a live server.
#[no_mangle]
pub unsafe extern "C" fn tcphub_server_set_busy_poll(s: *mut tcphub_server, micros: u64) -> c_int {
    // SAFETY: the caller's promise.
    unsafe {
        setter("tcphub_server_set_busy_poll", s, |st| {
            st.busy_poll_us = micros;
            Ok(())
        })
    }
}

/// Bounds the bytes waiting to be written to each client (0: the default,
/// 4 MiB); each queued message also counts 48 bytes of bookkeeping. A client
/// whose queue would grow past it is disconnected with
/// `TCPHUB_REASON_SLOW_CONSUMER` — or, under `TCPHUB_OVERFLOW_DROP_MESSAGE`
/// (`tcphub_server_set_overflow`), keeps its connection and loses that
/// message. One message larger than the bound is still queued when the
/// client's queue is empty (so any message can be sent); while it is being
/// written, what follows it meets the bound by itself (so a client reading
/// it gets that too; the queue holds at most that message plus the bound);
/// a timeout notice
/// (`tcphub_server_set_idle_timeout_message`, at most 4096 bytes) is
/// queued past it. Any other value is the bound as given, as for the Rust core's
/// `TcpServer::max_queue_bytes`; there is no "no limit" value, but
/// `SIZE_MAX` (like any bound beyond the memory) in effect removes the
/// bound: a client that does not read then keeps in memory everything sent
/// to it. Takes effect at the next `tcphub_server_start`.
///
/// Returns `TCPHUB_ERR_ALREADY_RUNNING` while the server runs.
///
/// # Safety
///
/// `s` is NULL or a live server.
#[no_mangle]
pub unsafe extern "C" fn tcphub_server_set_max_queue_bytes(
    s: *mut tcphub_server,
    bytes: usize,
) -> c_int {
    // SAFETY: the caller's promise.
    unsafe {
        setter("tcphub_server_set_max_queue_bytes", s, |st| {
            st.max_queue_bytes = bytes;
            Ok(())
        })
    }
}

/// Sets the number of event-loop threads (default: one per core). Zero and
/// more than 4096 are reported by `tcphub_server_start` as
/// `TCPHUB_ERR_INVALID_ARG`. Takes effect at the next `tcphub_server_start`.
///
/// Returns `TCPHUB_ERR_ALREADY_RUNNING` while the server runs.
///
/// # Safety
///
/// `s` is NULL or a live server.
#[no_mangle]
pub unsafe extern "C" fn tcphub_server_set_threads(s: *mut tcphub_server, threads: usize) -> c_int {
    // SAFETY: the caller's promise.
    unsafe {
        setter("tcphub_server_set_threads", s, |st| {
            st.threads = Some(threads);
            Ok(())
        })
    }
}

/// Binds, listens and starts the event-loop threads. A stopped server may
/// be started again (with the same settings, on a new socket; created with
/// port 0, on a new port the system picks) — but not
/// from inside one of its own callbacks, where its previous run is still
/// ending on the calling thread. A restart first waits for a stop still
/// under way (`tcphub_server_begin_stop`, or a `_stop_timeout` that timed
/// out) to finish: its flush, its last callbacks. Client ids are never
/// reused: an id kept from a previous run names no client of the new one. When a restart fails, the server stays the
/// stopped previous run: `tcphub_server_port` and the events queued at its
/// stop are still there. A restart that succeeds discards the previous
/// run's events not yet taken (its last `TCPHUB_EVENT_DISCONNECTED`s among
/// them): in pull mode, take them first — `tcphub_server_next_event` until
/// it returns `TCPHUB_ERR_NOT_RUNNING`.
///
/// Returns `TCPHUB_ERR_BIND` when the address cannot be bound (in use,
/// permission denied), `TCPHUB_ERR_INVALID_ARG` for an invalid setting,
/// `TCPHUB_ERR_ALREADY_RUNNING` (running; called from inside one of this
/// server's callbacks; or from a callback of another server or of a
/// client while the previous run is still stopping, which a callback
/// cannot wait for), `TCPHUB_ERR_IO`.
///
/// # Safety
///
/// `s` is NULL or a live server.
#[no_mangle]
pub unsafe extern "C" fn tcphub_server_start(s: *mut tcphub_server) -> c_int {
    boundary("tcphub_server_start", || {
        // SAFETY: the caller's promise.
        let srv = unsafe { server(s)? };
        if std::ptr::eq(crate::callbacks::current().0, srv) {
            // Its loops (this thread among them) are still running: the old
            // run could not be waited for, and this callback would go on
            // with the old run's handle.
            return Err(Fail::new(
                TCPHUB_ERR_ALREADY_RUNNING,
                "cannot start a server from inside one of its own callbacks",
            ));
        }
        // Retire a previous, stopped run: joining its loops happens
        // without the lock, since their last callbacks may need it. It
        // stays the server's run meanwhile — those callbacks (and other
        // threads) still see it, not a server "never started" — and until
        // the new run has started: if that fails, the server is still the
        // stopped previous run (its port, its queued events).
        let (old, runs) = {
            let st = srv.lock()?;
            st.configurable()?;
            (st.handle.clone(), st.runs)
        };
        if let Some(old) = &old {
            old.stop();
            // From a callback of another server (or a client's), `stop`
            // could not wait: the new run must not overlap the old one's
            // last callbacks.
            if !old.stop_timeout(std::time::Duration::ZERO) {
                return Err(Fail::new(
                    TCPHUB_ERR_ALREADY_RUNNING,
                    "the previous run is still stopping, and a start from a tcphub callback \
                     cannot wait for it: start again once it has stopped",
                ));
            }
        }
        drop(old);
        // SAFETY: `s` came from `Arc::into_raw` in `tcphub_server_new` and
        // is live; this adds the reference the event loops keep.
        let keep = unsafe {
            Arc::increment_strong_count(s);
            Arc::from_raw(s.cast_const())
        };
        let mut st = srv.lock()?;
        if st.runs != runs {
            return Err(Fail::new(
                TCPHUB_ERR_ALREADY_RUNNING,
                "started concurrently by another thread",
            ));
        }
        let handle = st.builder(&keep).start()?;
        let old = st.handle.replace(handle);
        st.runs += 1;
        srv.started.store(st.runs, Ordering::Release);
        st.run_pid = Some(std::process::id());
        st.callback_mode =
            st.on_connect.is_some() || st.on_message.is_some() || st.on_disconnect.is_some();
        // The previous run (stopped above) is released without the lock.
        drop(st);
        drop(old);
        Ok(TCPHUB_OK)
    })
}

/// The port the server listens on (the real one when created with port 0),
/// or 0 if it was never started or `s` is NULL. After a stop it is still the
/// port of the last run (no longer listening).
///
/// # Safety
///
/// `s` is NULL or a live server.
#[no_mangle]
pub unsafe extern "C" fn tcphub_server_port(s: *const tcphub_server) -> u16 {
    boundary("tcphub_server_port", || {
        // SAFETY: the caller's promise.
        let srv = unsafe { server(s)? };
        Ok(srv.with_started(|h| h.local_addr().port()).unwrap_or(0))
    })
}

/// Whether the server runs: started and not stopped. False for NULL.
///
/// # Safety
///
/// `s` is NULL or a live server.
#[no_mangle]
pub unsafe extern "C" fn tcphub_server_is_running(s: *const tcphub_server) -> bool {
    boundary("tcphub_server_is_running", || {
        // SAFETY: the caller's promise.
        let srv = unsafe { server(s)? };
        Ok(srv.lock().is_ok_and(|st| st.running()))
    })
}

/// Number of clients connected right now: 0 for NULL, a server never
/// started or one whose stop has finished (while a stop flushes, the
/// clients it still writes to count, as `tcphub_server_clients` lists them).
///
/// # Safety
///
/// `s` is NULL or a live server.
#[no_mangle]
pub unsafe extern "C" fn tcphub_server_client_count(s: *const tcphub_server) -> usize {
    boundary("tcphub_server_client_count", || {
        // SAFETY: the caller's promise.
        let srv = unsafe { server(s)? };
        Ok(srv.with_started(|h| h.client_count()).unwrap_or(0))
    })
}

/// Stops gracefully: stop accepting, flush queued messages (up to the
/// linger time, 2 s unless set with `tcphub_server_set_linger`),
/// report every remaining client as `TCPHUB_REASON_SERVER_STOPPED`, join the
/// event-loop threads and release the port. Idempotent; stopping a server
/// that was never started is not an error. From inside a callback — of this
/// server or of any other — it starts the stop and returns at once (a thread
/// cannot join itself, and two servers stopping each other would deadlock);
/// the next stop or free from another thread waits for the loops. Once
/// the stop has begun no more input is read: no message is handed to
/// `on_message` (or queued for `tcphub_server_next_event`) whose reply
/// would be refused; only a callback already running when another thread
/// stops the server gets `TCPHUB_ERR_NOT_RUNNING` from its sends.
///
/// # Safety
///
/// `s` is NULL or a live server.
#[no_mangle]
pub unsafe extern "C" fn tcphub_server_stop(s: *mut tcphub_server) -> c_int {
    boundary("tcphub_server_stop", || {
        // SAFETY: the caller's promise.
        let srv = unsafe { server(s)? };
        if let Ok(Some(h)) = srv.last_handle() {
            h.stop();
        }
        Ok(TCPHUB_OK)
    })
}

/// Stops the server (as `tcphub_server_stop`) and releases `s`. NULL is a
/// no-op. Call it exactly once per server, and not while another thread may
/// still use `s`. Prefer calling it outside callbacks: from inside one the
/// memory is released only when the last event-loop thread ends.
///
/// # Safety
///
/// `s` is NULL or a live server, not used again after this call.
#[no_mangle]
pub unsafe extern "C" fn tcphub_server_free(s: *mut tcphub_server) {
    boundary("tcphub_server_free", || {
        if s.is_null() {
            return Ok(());
        }
        // SAFETY: `s` came from `Arc::into_raw` and the caller gives up
        // this reference now.
        let srv = unsafe { Arc::from_raw(s.cast_const()) };
        // Stopped while still the server's run: the last callbacks, which
        // run meanwhile, see it stopping, not a server never started.
        let Ok(handle) = srv.last_handle() else {
            // A forked child, whose parent used the server at the fork: the
            // run is the parent's, and so is the object, which may be
            // half-changed here.
            std::mem::forget(srv);
            return Ok(());
        };
        if let Some(h) = handle {
            h.stop();
        }
        // Dropping the handle releases the core and with it the callbacks'
        // references to `srv` (outside the lock: a last handle's drop
        // finishes the stop).
        let handle = srv.lock().ok().and_then(|mut st| st.handle.take());
        drop(handle);
        drop(srv);
        Ok(())
    })
}
