//! The one error type of the crate, [`Error`], and its [`Result`] alias.

use std::io;
use std::net::SocketAddr;

use crate::ClientId;

/// Everything that can go wrong when calling into tcphub.
///
/// Each variant carries the context needed to act on it (the address that
/// failed to bind, the client that was not found) and, where the operating
/// system reported the failure, the original [`io::Error`] as its source.
/// The C binding maps each variant to exactly one `TCPHUB_ERR_*` code and the
/// Python binding to exactly one exception class (see [`Error::code`]).
///
/// # Examples
///
/// ```
/// use tcphub::{Error, TcpServer};
///
/// let first = TcpServer::new(0, 10).bind("127.0.0.1".parse()?).start()?;
/// let port = first.local_addr().port();
/// match TcpServer::new(port, 10).bind("127.0.0.1".parse()?).start() {
///     Err(Error::Bind { addr, source }) => {
///         assert_eq!(addr.port(), port);
///         assert_eq!(source.kind(), std::io::ErrorKind::AddrInUse);
///     }
///     other => panic!("expected a bind error, got {other:?}"),
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The listening socket could not be created, bound or put into listening state.
    #[error("cannot listen on {addr}: {}", describe_io(source))]
    Bind {
        /// The address that was asked for.
        addr: SocketAddr,
        /// What the operating system said (address in use, permission denied, ...).
        #[source]
        source: io::Error,
    },
    /// An outgoing connection could not be established.
    ///
    /// When the server's name resolved to several addresses and every one
    /// failed, `addr` and `source` are the *first* address tried (the one
    /// the resolver prefers, e.g. `::1` for `localhost`) and `others` the
    /// rest, in the order they were tried; the message names them all:
    /// `cannot connect to [::1]:5: connection refused; 127.0.0.1:5:
    /// connection refused`. A connect cancelled by a
    /// [`ConnectCancel`](crate::ConnectCancel) names the address it was
    /// dialling (or was to dial next), with a `source` of kind
    /// [`Interrupted`](io::ErrorKind::Interrupted) ("connect cancelled"),
    /// and in `others` the addresses that had failed before it.
    #[error(
        "cannot connect to {addr}: {}{}",
        describe_io(source),
        describe_others(others)
    )]
    Connect {
        /// The address that was dialled (the first one, when several were).
        addr: SocketAddr,
        /// What the operating system said about `addr` (connection
        /// refused, timed out, ...).
        #[source]
        source: io::Error,
        /// The other addresses dialled after `addr`, each with its error;
        /// empty when the name resolved to one address. (For a cancelled
        /// connect, those that failed before `addr`.)
        others: Vec<(SocketAddr, io::Error)>,
    },
    /// The address given to a client did not resolve to any socket address
    /// (unknown host name, malformed address). Reported like [`Error::Connect`]
    /// by the C and Python bindings. [`resolver_code`](Error::resolver_code)
    /// gives the resolver's `EAI_*` code.
    #[error("cannot resolve the server address {target}: {}", describe_io(source))]
    Resolve {
        /// The address as the caller gave it (e.g. `localhost:8001`).
        target: String,
        /// What the resolver said.
        #[source]
        source: io::Error,
    },
    /// No connected client has this id or this remote address (it never
    /// existed or has disconnected). Returned by `send`, `disconnect` (by id)
    /// and `send_to` (by address).
    #[error("no client {0} is connected")]
    NoSuchClient(ClientRef),
    /// The server (or client) is not running: it was never started, or it
    /// was stopped (closed), and a receiver has nothing more to give. The
    /// message says so (the variant does not know which of them it was).
    #[error("not running: never started, or stopped or closed")]
    NotRunning,
    /// A pull-mode call ([`Events::recv_timeout`](crate::Events::recv_timeout),
    /// [`Events::recv_batch`](crate::Events::recv_batch)) on a server that
    /// runs in callback mode: a callback was set, so its events go to the
    /// callbacks and none is queued for a receiver. The C and Python
    /// bindings report it as [`Error::NotRunning`] (code 6), as a
    /// receiver with nothing more to give.
    ///
    /// ```
    /// use std::time::Duration;
    /// let server = tcphub::TcpServer::new(0, 1)
    ///     .bind("127.0.0.1".parse()?)
    ///     .on_message(|_, _, _| {})
    ///     .start()?;
    /// let err = server.events().recv_timeout(Duration::from_secs(1)).unwrap_err();
    /// assert!(matches!(err, tcphub::Error::CallbackMode));
    /// assert_eq!(err.code(), 6);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[error("the server has callbacks: its events go to them, none to a pull receiver")]
    CallbackMode,
    /// A message is longer than the framing allows (`max_len`, or 4 GiB − 1 for length-prefixed frames).
    #[error("message of {len} bytes exceeds the frame limit of {max} bytes")]
    FrameTooLarge {
        /// Length of the message that was refused.
        len: usize,
        /// The configured limit.
        max: usize,
    },
    /// A message the framing cannot carry as it is: for
    /// [`Framing::Lines`](crate::Framing::Lines), one containing `\n`
    /// (sent as it is, it would arrive as several messages). Refused by
    /// every send before anything is queued. `reason` says what is wrong
    /// and is the whole message.
    ///
    /// ```
    /// use tcphub::{Error, Framing};
    /// let err = Framing::lines().encode(b"two\nlines").unwrap_err();
    /// assert!(matches!(err, Error::InvalidMessage { .. }));
    /// assert_eq!(
    ///     err.to_string(),
    ///     "message contains a newline, which Lines framing cannot carry: use length-prefixed framing"
    /// );
    /// ```
    #[error("{reason}")]
    InvalidMessage {
        /// What is wrong with the message, as a sentence.
        reason: &'static str,
    },
    /// A bounded outbound queue has no room for the message. Against the
    /// limit each queued message (the refused one too) also counts 48
    /// bytes of bookkeeping, so a queue of tiny messages is full while its
    /// bytes are far below the limit; the message says so.
    #[error(
        "outbound queue full ({queued} bytes queued, plus {} bytes of bookkeeping per message, limit {limit})",
        crate::connection::ENTRY_OVERHEAD
    )]
    QueueFull {
        /// Bytes of messages already waiting (without their bookkeeping).
        queued: usize,
        /// The configured bound.
        limit: usize,
    },
    /// A configuration value is out of range (e.g. zero I/O threads).
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    /// A timed wait ran out.
    #[error("timed out")]
    Timeout,
    /// Any other I/O failure, with what was being done.
    #[error("{context}: {}", describe_io(source))]
    Io {
        /// What tcphub was doing when it failed.
        context: &'static str,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

impl Error {
    /// A stable small integer naming the variant; the C binding returns its negation.
    ///
    /// | code | variant |
    /// |---|---|
    /// | 1 | reserved (NULL argument, C only) |
    /// | 2 | [`Error::InvalidConfig`] |
    /// | 3 | [`Error::Bind`] |
    /// | 4 | [`Error::Connect`] / [`Error::Resolve`] |
    /// | 5 | [`Error::NoSuchClient`] |
    /// | 6 | [`Error::NotRunning`] / [`Error::CallbackMode`] |
    /// | 7 | [`Error::FrameTooLarge`] |
    /// | 8 | [`Error::QueueFull`] |
    /// | 9 | [`Error::Timeout`] |
    /// | 10 | [`Error::Io`] |
    /// | 11 | [`Error::InvalidMessage`] |
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(tcphub::Error::NotRunning.code(), 6);
    /// ```
    pub fn code(&self) -> i32 {
        match self {
            Error::InvalidConfig(_) => 2,
            Error::Bind { .. } => 3,
            Error::Connect { .. } | Error::Resolve { .. } => 4,
            Error::NoSuchClient(_) => 5,
            Error::NotRunning | Error::CallbackMode => 6,
            Error::FrameTooLarge { .. } => 7,
            Error::QueueFull { .. } => 8,
            Error::Timeout => 9,
            Error::Io { .. } => 10,
            Error::InvalidMessage { .. } => 11,
        }
    }

    /// The operating system error behind this one, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(tcphub::Error::NotRunning.io_error().is_none());
    /// ```
    pub fn io_error(&self) -> Option<&io::Error> {
        match self {
            Error::Bind { source, .. }
            | Error::Connect { source, .. }
            | Error::Resolve { source, .. }
            | Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }

    /// The resolver's code behind an [`Error::Resolve`]: the `EAI_*` value
    /// `getaddrinfo` returned, as `<netdb.h>` defines it (`EAI_NONAME` for
    /// a name that does not exist, `EAI_AGAIN` when no name server
    /// answered) and as Python's `socket.gaierror` carries it in `errno`.
    /// `None` for every other error, for a resolver failure the system
    /// reported as an OS error (`EAI_SYSTEM`: see [`io_error`](Error::io_error)),
    /// and where the code cannot be told (not Unix).
    ///
    /// # Examples
    ///
    /// ```
    /// // A label over 63 bytes fails in the resolver without asking any
    /// // name server.
    /// let name = format!("{}.invalid:80", "a".repeat(64));
    /// let err = tcphub::TcpClient::connect(name.as_str()).unwrap_err();
    /// assert!(matches!(err, tcphub::Error::Resolve { .. }));
    /// # #[cfg(unix)]
    /// assert_eq!(err.resolver_code(), Some(libc::EAI_NONAME));
    /// assert_eq!(tcphub::Error::NotRunning.resolver_code(), None);
    /// ```
    pub fn resolver_code(&self) -> Option<i32> {
        match self {
            Error::Resolve { source, .. } if source.raw_os_error().is_none() => eai_code(source),
            _ => None,
        }
    }
}

/// An [`io::Error`] for code that works in `io::Result` (`?` in a function
/// returning one): of the wrapped OS error's kind where there is one
/// ([`Error::Bind`], [`Error::Connect`], [`Error::Resolve`], [`Error::Io`]),
/// else the kind that says the same ([`TimedOut`](io::ErrorKind::TimedOut)
/// for [`Error::Timeout`], [`WouldBlock`](io::ErrorKind::WouldBlock) for
/// [`Error::QueueFull`], [`NotConnected`](io::ErrorKind::NotConnected) for
/// [`Error::NotRunning`], [`NotFound`](io::ErrorKind::NotFound) for
/// [`Error::NoSuchClient`], [`Unsupported`](io::ErrorKind::Unsupported) for
/// [`Error::CallbackMode`], [`InvalidInput`](io::ErrorKind::InvalidInput)
/// for a refused message or setting). The `Error` itself is kept inside:
/// the message is the same, its source is the OS error, and
/// [`get_ref`](io::Error::get_ref) and a downcast give it back.
///
/// # Examples
///
/// ```
/// fn wait() -> std::io::Result<()> {
///     Err(tcphub::Error::Timeout)?
/// }
/// let err = wait().unwrap_err();
/// assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
/// assert_eq!(err.to_string(), "timed out");
/// let inner = err.get_ref().and_then(|e| e.downcast_ref::<tcphub::Error>());
/// assert!(matches!(inner, Some(tcphub::Error::Timeout)));
/// ```
impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        let kind = match &e {
            Error::Bind { source, .. }
            | Error::Connect { source, .. }
            | Error::Resolve { source, .. }
            | Error::Io { source, .. } => source.kind(),
            Error::NoSuchClient(_) => io::ErrorKind::NotFound,
            Error::NotRunning => io::ErrorKind::NotConnected,
            Error::CallbackMode => io::ErrorKind::Unsupported,
            Error::FrameTooLarge { .. }
            | Error::InvalidMessage { .. }
            | Error::InvalidConfig(_) => io::ErrorKind::InvalidInput,
            Error::QueueFull { .. } => io::ErrorKind::WouldBlock,
            Error::Timeout => io::ErrorKind::TimedOut,
        };
        io::Error::new(kind, e)
    }
}

/// The `EAI_*` code behind a failed lookup: the standard library keeps only
/// `gai_strerror`'s text ("failed to lookup address information: Name or
/// service not known"), so that text is matched against each code's.
#[cfg(unix)]
fn eai_code(e: &io::Error) -> Option<i32> {
    let text = e.to_string();
    [
        libc::EAI_NONAME,
        libc::EAI_AGAIN,
        libc::EAI_FAIL,
        libc::EAI_FAMILY,
        libc::EAI_SERVICE,
        libc::EAI_SOCKTYPE,
        libc::EAI_BADFLAGS,
        libc::EAI_MEMORY,
        libc::EAI_OVERFLOW,
    ]
    .into_iter()
    .find(|&code| {
        // SAFETY: gai_strerror returns a static NUL-terminated string, or
        // NULL on some systems for an unknown code (checked before reading).
        let name = unsafe {
            let s = libc::gai_strerror(code);
            (!s.is_null()).then(|| std::ffi::CStr::from_ptr(s))
        };
        name.and_then(|s| s.to_str().ok())
            .is_some_and(|s| !s.is_empty() && text.ends_with(s))
    })
}

#[cfg(not(unix))]
fn eai_code(_: &io::Error) -> Option<i32> {
    None
}

/// `InvalidConfig` naming `name` unless `value` is at least 1: the one
/// wording of the server's and the client's count settings.
pub(crate) fn at_least_one(name: &str, value: usize) -> Result<()> {
    if value == 0 {
        return Err(Error::InvalidConfig(format!("{name} must be at least 1")));
    }
    Ok(())
}

/// `InvalidConfig` naming `name` if a duration that is set is zero. Zero is
/// not "off" (that is not calling the setter): a timeout that cuts at the
/// first check, keepalive probing every second (C's 0 means off).
pub(crate) fn more_than_zero(name: &str, value: Option<std::time::Duration>) -> Result<()> {
    if value.is_some_and(|t| t.is_zero()) {
        return Err(Error::InvalidConfig(format!(
            "{name} must be more than zero"
        )));
    }
    Ok(())
}

/// How a call named the client it did not find (see [`Error::NoSuchClient`]).
///
/// # Examples
///
/// ```
/// use tcphub::{ClientRef, Error, TcpServer};
/// let s = TcpServer::new(0, 1).bind("127.0.0.1".parse()?).start()?;
/// assert!(matches!(s.send(42, b"hi"), Err(Error::NoSuchClient(ClientRef::Id(42)))));
/// let nobody: std::net::SocketAddr = "127.0.0.1:9".parse()?;
/// let err = s.send_to(nobody.ip(), nobody.port(), b"hi").unwrap_err();
/// assert!(matches!(err, Error::NoSuchClient(ClientRef::Addr(a)) if a == nobody));
/// assert_eq!(err.to_string(), "no client at 127.0.0.1:9 is connected");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientRef {
    /// By id (`send`, `disconnect`).
    Id(ClientId),
    /// By remote address (`send_to`).
    Addr(SocketAddr),
}

impl std::fmt::Display for ClientRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientRef::Id(id) => write!(f, "with id {id}"),
            ClientRef::Addr(addr) => write!(f, "at {addr}"),
        }
    }
}

/// Short human text for an I/O error: "address in use" rather than the long OS string.
fn describe_io(e: &io::Error) -> String {
    use io::ErrorKind::*;
    let short = match e.kind() {
        AddrInUse => "address in use",
        AddrNotAvailable => "address not available",
        PermissionDenied => "permission denied",
        ConnectionRefused => "connection refused",
        ConnectionReset => "connection reset",
        TimedOut => "timed out",
        NetworkUnreachable => "network unreachable",
        HostUnreachable => "host unreachable",
        NetworkDown => "network down",
        _ => return e.to_string(),
    };
    short.to_string()
}

/// The rest of a failed connect's addresses, each with its error, for the
/// message: `"; 127.0.0.1:5: connection refused"` per address.
fn describe_others(others: &[(SocketAddr, io::Error)]) -> String {
    others
        .iter()
        .map(|(addr, e)| format!("; {addr}: {}", describe_io(e)))
        .collect()
}

/// `std::result::Result` with [`Error`] as the error type.
///
/// # Examples
///
/// ```
/// fn port() -> tcphub::Result<u16> {
///     Ok(tcphub::TcpServer::new(0, 1).bind("127.0.0.1".parse().unwrap()).start()?.local_addr().port())
/// }
/// assert!(port()? > 0);
/// # Ok::<(), tcphub::Error>(())
/// ```
pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::describe_io;
    use std::io;

    #[test]
    fn connect_failures_are_told_short() {
        for (errno, short) in [
            (libc::ECONNREFUSED, "connection refused"),
            (libc::ENETUNREACH, "network unreachable"),
            (libc::EHOSTUNREACH, "host unreachable"),
            (libc::ENETDOWN, "network down"),
            (libc::ETIMEDOUT, "timed out"),
        ] {
            assert_eq!(describe_io(&io::Error::from_raw_os_error(errno)), short);
        }
        // Others keep the system's words.
        let other = io::Error::from_raw_os_error(libc::EMFILE);
        assert_eq!(describe_io(&other), other.to_string());
    }
}
