//! Dialling a server for a client's first connect
//! ([`ClientBuilder::connect`](crate::ClientBuilder::connect)), one address
//! at a time: a non-blocking `connect(2)` waited for with `poll(2)` on the
//! socket and on the wake socket (one end of a Unix socket pair, which
//! `cancel` writes to) of a [`ConnectCancel`],
//! so another thread can end the wait at once instead of it running on to
//! the connect timeout. (The redials need none of this: the client's I/O
//! thread waits for them in its own poll, and `close()` ends them.)

use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

/// Cancels a client's first connect from another thread.
///
/// Given to [`ClientBuilder::cancel_with`](crate::ClientBuilder::cancel_with),
/// a token ends that builder's [`connect`](crate::ClientBuilder::connect)
/// once [`cancel`](ConnectCancel::cancel) is called: a connect under way is
/// given up at once (its socket closed), no further address is dialled, and
/// `connect` fails with [`Error::Connect`](crate::Error::Connect) for the
/// address it was dialling (or would have dialled next), whose source is
/// an [`io::Error`] of kind [`Interrupted`](io::ErrorKind::Interrupted)
/// ("connect cancelled"). A name lookup cannot be cancelled: one still
/// running in [`TcpClient::builder`](crate::TcpClient::builder) ends first,
/// then `connect` fails without dialling.
///
/// Clones share one state: cancelling any cancels all. A cancelled token
/// stays cancelled. It is no concern of a client already connected: its
/// redials end with [`TcpClient::close`](crate::TcpClient::close).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tcphub::{ConnectCancel, Error, TcpClient};
///
/// let cancel = ConnectCancel::new();
/// let server = tcphub::TcpServer::new(0, 10).bind("127.0.0.1".parse()?).start()?;
/// let builder = TcpClient::builder(server.local_addr()).cancel_with(&cancel);
/// // E.g. an application's "Stop" button, on another thread:
/// std::thread::spawn({
///     let cancel = cancel.clone();
///     move || cancel.cancel()
/// })
/// .join()
/// .unwrap();
/// assert!(cancel.is_cancelled());
/// match builder.connect() {
///     Err(Error::Connect { source, .. }) => {
///         assert_eq!(source.kind(), std::io::ErrorKind::Interrupted)
///     }
///     other => panic!("{other:?}"),
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Default)]
pub struct ConnectCancel {
    inner: Arc<Shared>,
}

/// What a token's clones share.
#[derive(Default)]
struct Shared {
    /// Set by `cancel`: a dialler checks it before each address and after
    /// each wakeup.
    cancelled: AtomicBool,
    /// The socket pair whose first end a dialler polls besides its
    /// socket, and which `cancel` makes readable by writing to the second
    /// (a pair, not an eventfd: the crate builds for macOS too). Made by
    /// the first connect that waits, once its socket is made (so a process
    /// out of descriptors fails that connect as it fails any), and kept as
    /// long as the token; behind a lock so that a `cancel` either finds it
    /// or sets the flag before the dialler's check that follows its making.
    wake: Mutex<Option<Arc<(UnixStream, UnixStream)>>>,
}

impl std::fmt::Debug for ConnectCancel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectCancel")
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}

impl ConnectCancel {
    /// A token not cancelled yet.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!tcphub::ConnectCancel::new().is_cancelled());
    /// ```
    pub fn new() -> ConnectCancel {
        ConnectCancel::default()
    }

    /// Cancels the connects this token was given to (and any given it
    /// later): the one under way returns at once. Callable from any
    /// thread, any number of times; never blocks for long (it writes a byte
    /// to a non-blocking socket under a lock held only by other `cancel`s
    /// and by a connect starting its wait).
    ///
    /// # Examples
    ///
    /// ```
    /// let cancel = tcphub::ConnectCancel::new();
    /// cancel.cancel();
    /// cancel.cancel(); // no harm
    /// assert!(cancel.clone().is_cancelled());
    /// ```
    pub fn cancel(&self) {
        self.inner.cancelled.store(true, Ordering::SeqCst);
        if let Some(pair) = lock(&self.inner.wake).as_ref() {
            // It can fail only with WouldBlock, once the pair's buffer is
            // full of earlier cancels' bytes: readable already.
            let _ = (&pair.1).write(&[1]);
        }
    }

    /// Whether [`cancel`](ConnectCancel::cancel) was called on this token
    /// or a clone of it.
    ///
    /// # Examples
    ///
    /// ```
    /// let cancel = tcphub::ConnectCancel::new();
    /// let other = cancel.clone();
    /// other.cancel();
    /// assert!(cancel.is_cancelled());
    /// ```
    pub fn is_cancelled(&self) -> bool {
        self.inner.cancelled.load(Ordering::SeqCst)
    }

    /// The socket pair to poll (its first end), made on first use.
    fn wake_pair(&self) -> io::Result<Arc<(UnixStream, UnixStream)>> {
        let mut wake = lock(&self.inner.wake);
        if let Some(pair) = wake.as_ref() {
            return Ok(pair.clone());
        }
        // Close-on-exec (std makes it so).
        let (read, write) = UnixStream::pair()?;
        write.set_nonblocking(true)?;
        let pair = Arc::new((read, write));
        *wake = Some(pair.clone());
        Ok(pair)
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // (Nothing under this lock can panic; a poisoned one holds a valid fd.)
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// What dialling one address came to.
#[derive(Debug)]
pub(crate) enum Dialled {
    /// Connected (the socket is non-blocking and close-on-exec).
    Connected(TcpStream),
    /// Refused, timed out, unreachable...: the address's error.
    Failed(io::Error),
    /// The token was cancelled: not dialled, or given up.
    Cancelled,
}

/// Dials `addr`, waiting up to `timeout` (more than zero) for the connect,
/// unless `token` is (or gets) cancelled.
pub(crate) fn dial(addr: SocketAddr, timeout: Duration, token: Option<&ConnectCancel>) -> Dialled {
    match connect(addr, timeout, token) {
        Ok(Some(stream)) => Dialled::Connected(stream),
        Ok(None) => Dialled::Cancelled,
        Err(e) => Dialled::Failed(e),
    }
}

/// The connect and its wait: `None` once cancelled (before it, nothing is
/// dialled). Results as std's `TcpStream::connect_timeout` gives them (it
/// does the same with the socket alone).
fn connect(
    addr: SocketAddr,
    timeout: Duration,
    token: Option<&ConnectCancel>,
) -> io::Result<Option<TcpStream>> {
    let cancelled = || token.is_some_and(ConnectCancel::is_cancelled);
    if cancelled() {
        return Ok(None);
    }
    // socket2 makes it close-on-exec. (Made non-blocking apart:
    // `Type::nonblocking` is not there on macOS.)
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_nonblocking(true)?;
    match socket.connect(&SockAddr::from(addr)) {
        Ok(()) => return Ok(Some(socket.into())),
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(e) => return Err(e),
    }
    // The token's pair, made now if this is its first wait: failing to
    // (no descriptor left) fails this address, as its socket would have.
    let wake = token.map(ConnectCancel::wake_pair).transpose()?;
    let mut fds = [libc::pollfd {
        fd: socket.as_raw_fd(),
        events: libc::POLLOUT,
        revents: 0,
    }; 2];
    let polled = match &wake {
        Some(wake) => {
            fds[1] = libc::pollfd {
                fd: wake.0.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            2
        }
        None => 1,
    };
    let start = Instant::now();
    loop {
        if cancelled() {
            return Ok(None); // (the socket closes with its drop)
        }
        let left = timeout.saturating_sub(start.elapsed());
        if left.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "connection timed out",
            ));
        }
        // Rounded up (a wait rounded down to 0 would spin), at most
        // what poll takes; a longer timeout waits again.
        let ms = left
            .as_nanos()
            .div_ceil(1_000_000)
            .min(libc::c_int::MAX as u128);
        for fd in &mut fds {
            fd.revents = 0;
        }
        // SAFETY: `fds` outlives the call and holds `polled` entries.
        match unsafe { libc::poll(fds.as_mut_ptr(), polled, ms as libc::c_int) } {
            -1 => {
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
                // EINTR: wait again for the time left.
            }
            0 => {}                        // the deadline: checked above
            _ if fds[1].revents != 0 => {} // cancelled: checked above
            _ => {
                // Linux reports a refused connect as POLLOUT with
                // POLLERR / POLLHUP: SO_ERROR says which it was.
                if let Some(e) = socket.take_error()? {
                    return Err(e);
                }
                if fds[0].revents & (libc::POLLHUP | libc::POLLERR) != 0 {
                    return Err(io::Error::other("no error set after POLLHUP"));
                }
                return Ok(Some(socket.into()));
            }
        }
    }
}

/// The error a cancelled connect reports for its address.
pub(crate) fn cancelled_error() -> io::Error {
    io::Error::new(io::ErrorKind::Interrupted, "connect cancelled")
}
