//! `tcphub connect` and `tcphub send`: the tutorial's client side.

use std::io::{BufRead, Read, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Args;
use tcphub::{ClientEvent, DisconnectReason, Framing, TcpClient};

use crate::{FramingArg, UsageError};

#[derive(Debug, Args)]
pub(crate) struct ConnectArgs {
    /// Server address, e.g. 127.0.0.1:8001.
    addr: String,
    /// Message framing (must match the server's).
    #[arg(long, value_enum, default_value_t = FramingArg::Lines)]
    framing: FramingArg,
    /// After stdin ends, everything is sent and the sending side is shut
    /// (half-close), keep printing messages until the server closes, or
    /// for SECS seconds neither a message has come nor has the server
    /// taken (acknowledged) more of what was sent, then close.
    #[arg(long, value_name = "SECS", default_value = "1", value_parser = crate::secs, allow_hyphen_values = true)]
    quiet_after_eof: Duration,
    /// Turn TCP keepalive on: probe the server after this many seconds
    /// without traffic, and end when 3 probes go unanswered (its host
    /// vanished; probes max(SECS/3, 1) s apart, SECS in whole seconds:
    /// found about twice SECS after its last traffic from 3 s up). At most
    /// 32767.
    #[arg(long, value_name = "SECS", value_parser = crate::keepalive_secs, allow_hyphen_values = true)]
    keepalive: Option<Duration>,
}

#[derive(Debug, Args)]
pub(crate) struct SendArgs {
    /// Server address, e.g. 127.0.0.1:8001.
    addr: String,
    /// The message to send, its bytes as given (not only UTF-8: e.g.
    /// $'\xff\xfe' in bash; no NUL byte, which no argument can hold —
    /// `connect` reads any bytes from stdin; at most the framing's limit:
    /// 64 KiB for lines; no newline in it under lines framing). It may
    /// begin with '-' ("-hi there"), once the address is given; one that
    /// is an option of this command (-h, --help, -v, --framing ...) is
    /// read as that option, as usual: put `--` before it
    /// (tcphub send ADDR -- -h).
    #[arg(allow_hyphen_values = true)]
    message: std::ffi::OsString,
    /// Wait up to SECS seconds for a reply and print it (under raw
    /// framing, which has no message boundaries: what comes until the
    /// server pauses for 0.2 s; without it, the command ends once the
    /// server's system has acknowledged the message, failing if that does
    /// not come within 2 s: a refusal by a full hub that comes later goes
    /// unseen).
    #[arg(long, value_name = "SECS", value_parser = crate::secs, allow_hyphen_values = true)]
    wait_reply: Option<Duration>,
    /// Message framing (must match the server's).
    #[arg(long, value_enum, default_value_t = FramingArg::Lines)]
    framing: FramingArg,
}

/// How a server address is written, for error messages.
const HOST_PORT: &str = "expected HOST:PORT, e.g. 127.0.0.1:8001, [::1]:8001 or localhost:8001";

/// Resolves `addr` as typed: `IP:PORT`, `[IPv6]:PORT` or `NAME:PORT`. A
/// failure names what was typed, and an address without a port or a host
/// says so (a usage error, exit code 2) rather than blame the resolver.
fn resolve(addr: &str) -> Result<Vec<SocketAddr>, Box<dyn std::error::Error>> {
    let usage = |msg: String| -> Box<dyn std::error::Error> { Box::new(UsageError(msg)) };
    if addr.is_empty() {
        return Err(usage(format!("no server address given ({HOST_PORT})")));
    }
    // (":8001"; not "::1", an IPv6 address, which has no port either.)
    if addr.starts_with(':') && !addr.starts_with("::") {
        return Err(usage(format!("{addr}: no host ({HOST_PORT})")));
    }
    // The port as typed: after "]:" for an IPv6 address in brackets, else
    // after the last colon, as std reads it ("::1:8001" too), unless the
    // whole is an address (no port: said below). Port 0 or one past 65535
    // is no server's port: a usage error here, not a failed connect or
    // lookup.
    let port = match addr.strip_prefix('[') {
        Some(rest) => rest.split_once("]:").map(|(_, p)| p),
        None if tcphub::parse_ip(addr).is_some() => None,
        None => addr.rsplit_once(':').map(|(_, p)| p),
    };
    // No port ("127.0.0.1:", "[::1]:") is said first, as a bad one is:
    // before anything about the host ("127.0.0.010:" lacks its port).
    if port == Some("") {
        return Err(usage(format!("{addr}: no port ({HOST_PORT})")));
    }
    if let Some(p) = port {
        if !matches!(p.parse::<u16>(), Ok(1..)) {
            return Err(usage(format!(
                "{addr}: bad port {p}: a port is a number from 1 to 65535 ({HOST_PORT})"
            )));
        }
    }
    // A host in numbers and dots that is no IPv4 address ("127.0.0.010"):
    // the resolver would read a leading zero as octal (127.0.0.8) and
    // connect elsewhere than the text says; refused as the library does.
    if let Some((host, _)) = addr.rsplit_once(':').filter(|_| port.is_some()) {
        if !host.contains([':', '[']) {
            if let Err(why) = tcphub::client_host(host) {
                return Err(usage(format!("{addr}: {why}")));
            }
        }
    }
    let resolved = match addr.to_socket_addrs() {
        Ok(addrs) => return Ok(addrs.collect()),
        Err(e) => e,
    };
    // An address alone ("::1", "127.0.0.1", "localhost"): std splits "::1"
    // at its last colon and looks up ":" as a host name. Or with an empty
    // port ("127.0.0.1:"), which std calls an invalid port value (said
    // above already, where the port is found).
    if tcphub::parse_ip(addr).is_some() || !addr.contains(':') || addr.ends_with(':') {
        return Err(usage(format!("{addr}: no port ({HOST_PORT})")));
    }
    // Not a form of address at all, rather than a name that did not
    // resolve: "[::1]80" (no ':' after the bracket), "1.2.3.4:80:90" or
    // "::1:x" (a host with colons, an IPv6 address, needs the brackets).
    let unbracketed = || {
        addr.rsplit_once(':')
            .is_some_and(|(host, _)| host.contains(':'))
    };
    if (addr.starts_with('[') && !addr.contains("]:")) || (!addr.starts_with('[') && unbracketed())
    {
        return Err(usage(format!(
            "{addr}: not an address (an IPv6 address goes in brackets; {HOST_PORT})"
        )));
    }
    Err(format!("cannot resolve {addr}: {resolved}").into())
}

/// `why` as printed when a connection is lost, with a hint where the
/// likely cause is this side's `--framing`: a frame "too large" (a text
/// line read as a length header, or a long stream with no newline) or the
/// server's end in the middle of one, from a server that speaks another
/// framing.
fn explained(why: &DisconnectReason, framing: Framing) -> String {
    match why {
        DisconnectReason::FrameTooLarge => format!(
            "{why} (over {} bytes; is the server's framing {}? see --framing)",
            framing.max_len().unwrap_or(usize::MAX),
            FramingArg::name_of(framing)
        ),
        DisconnectReason::Io(std::io::ErrorKind::UnexpectedEof) => format!(
            "{why} (is the server's framing {}? see --framing)",
            FramingArg::name_of(framing)
        ),
        _ => why.to_string(),
    }
}

/// Resolves `addr` here (so a failure names what was typed) and connects,
/// with TCP keepalive after `keepalive` if set.
fn open(
    addr: &str,
    framing: Framing,
    keepalive: Option<Duration>,
) -> Result<TcpClient, Box<dyn std::error::Error>> {
    let addrs = resolve(addr)?;
    // A hub that ends the connection (it stops, kicks us, or is full)
    // discards what still comes: what is queued then is dropped and
    // counted (`unsent`), rather than written to it and taken for sent.
    let mut builder = TcpClient::builder(&addrs[..])
        .framing(framing)
        .connect_timeout(Duration::from_secs(10))
        .write_after_server_eof(false);
    if let Some(idle) = keepalive {
        builder = builder.keepalive(idle);
    }
    Ok(builder.connect()?)
}

fn write_message(out: &mut impl Write, msg: &[u8], framing: Framing) -> std::io::Result<()> {
    out.write_all(msg)?;
    if framing != Framing::Raw {
        out.write_all(b"\n")?;
    }
    Ok(())
}

fn print_message(out: &mut impl Write, msg: &[u8], framing: Framing) -> std::io::Result<()> {
    write_message(out, msg, framing)?;
    out.flush()
}

/// Whether `e` (from printing) means stdout's reader has gone (`| head -1`):
/// nothing more is wanted, which is no failure.
fn reader_gone(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::BrokenPipe
}

/// A failed write to stdout (a full disk, `>/dev/full`), named as such:
/// the bare system error would not say what failed.
fn stdout_failed(e: std::io::Error) -> Box<dyn std::error::Error> {
    format!("cannot write to stdout: {e}").into()
}

/// Where the stdin thread of `connect` is.
const READING: u8 = 0;
/// stdin ended and every line was handed to the client.
const STDIN_DONE: u8 = 1;
/// A line could not be sent (the connection is gone): exit non-zero.
const SEND_FAILED: u8 = 2;
/// The main thread closed the connection on purpose (stdout's reader is
/// gone): a send failing now is no error to report.
const CLOSING: u8 = 3;
/// The connection ended before all of stdin was sent: exit non-zero.
const CLOSED_EARLY: u8 = 4;
/// Reading stdin failed (its error is in the `read_error` slot): exit non-zero.
const STDIN_FAILED: u8 = 5;
/// A line read from stdin is not handed to the client yet: a connection
/// that ends now ends before all of stdin was sent.
const SENDING: u8 = 6;

/// Once the connection has ended, how long the main thread of `connect`
/// waits for the stdin thread to pick up another line (it reads on at once
/// while a file or pipe has more; at a terminal it waits for the user)
/// before it takes stdin for idle.
const STDIN_PICKUP: Duration = Duration::from_millis(200);
/// Once the connection has ended, how long at most the main thread waits
/// for the stdin thread to find the line it holds unsendable (it does at
/// once: sends fail once the connection is closed).
const STDIN_SETTLE: Duration = Duration::from_secs(5);

pub(crate) fn connect(args: ConnectArgs) -> Result<(), Box<dyn std::error::Error>> {
    let framing = args.framing.framing();
    let quiet = args.quiet_after_eof;
    let client = open(&args.addr, framing, args.keepalive)?;
    log::info!(
        "connected to {} from {}",
        client.peer_addr(),
        client.local_addr()
    );
    let sender = client.clone();
    let state = Arc::new(AtomicU8::new(READING));
    let stdin_state = state.clone();
    // Why stdin could not be read, for the main thread to report.
    let read_error = Arc::new(Mutex::new(None::<std::io::Error>));
    let stdin_error = read_error.clone();
    // stdin is read on its own thread; the main thread prints what arrives.
    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        let mut stdin = stdin.lock();
        let mut line = Vec::new();
        loop {
            match next_input(&mut stdin, framing, &mut line) {
                Ok(Input::Message) => {}
                Ok(Input::End) => break,
                Ok(Input::TooLong(max)) => {
                    crate::complain(format_args!(
                        "send failed: a line over the frame limit of {max} bytes"
                    ));
                    stdin_state.store(SEND_FAILED, Ordering::Release);
                    sender.close();
                    return;
                }
                // No end of input (it was taken for one: exit code 0): stop
                // sending, and the main thread says why.
                Err(e) => {
                    *stdin_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                    stdin_state.store(STDIN_FAILED, Ordering::Release);
                    sender.close();
                    return;
                }
            }
            // Holding a line: a connection that ends now must not look like
            // one that ended with everything sent (not over CLOSING).
            if stdin_state
                .compare_exchange(READING, SENDING, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
            {
                return;
            }
            // send() never blocks: when the queue is full, wait for room
            // (backpressure on stdin) instead of dropping input.
            loop {
                match sender.send(&line) {
                    Ok(()) => {
                        let _ = stdin_state.compare_exchange(
                            SENDING,
                            READING,
                            Ordering::AcqRel,
                            Ordering::Acquire,
                        );
                        break;
                    }
                    Err(tcphub::Error::QueueFull { .. }) if sender.is_open() => {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    Err(_) if stdin_state.load(Ordering::Acquire) == CLOSING => return,
                    // The connection ended (the server closed it, or refused
                    // us: its notice is printed by the main thread); the
                    // main thread says so once, not as a failed "send" (a
                    // full queue that can no longer drain included).
                    Err(tcphub::Error::NotRunning | tcphub::Error::QueueFull { .. }) => {
                        stdin_state.store(CLOSED_EARLY, Ordering::Release);
                        return;
                    }
                    Err(e) => {
                        crate::complain(format_args!("send failed: {e}"));
                        stdin_state.store(SEND_FAILED, Ordering::Release);
                        sender.close();
                        return;
                    }
                }
            }
        }
        // Half-close: the server sees end-of-stream after the last line and
        // (a tcphub server does) answers it, then closes — which ends us.
        let _ = sender.shutdown_write();
        stdin_state.store(STDIN_DONE, Ordering::Release);
    });
    // Buffered, flushed whenever no message is waiting: a write per message
    // (stdout is line-buffered) drained a busy connection too slowly, and
    // the server cut it off as a slow consumer.
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock());
    let mut unflushed = false;
    let mut last_message = Instant::now();
    let mut saw_eof = false;
    // What the server's system had not acknowledged at the last look: while
    // it falls the server is still taking our input, which keeps the quiet
    // time from starting (a slow reader is not cut off by the close's
    // linger time). Then, once closed, what was left unacknowledged.
    let mut unacked = None;
    let mut closed_unacked = None;
    // Why the connection ended, when that was an error (reset, a frame over
    // the limit, ...) rather than a close by either side.
    let mut lost = None;
    loop {
        let done = state.load(Ordering::Acquire) == STDIN_DONE;
        if done && !saw_eof {
            // The quiet time counts from the end of input, not from a
            // message that came before it.
            saw_eof = true;
            last_message = Instant::now();
        }
        if done && client.is_open() {
            let now = client.unacknowledged_bytes();
            if now.is_some_and(|n| n > 0 && Some(n) != unacked) {
                last_message = Instant::now(); // still taking it
            }
            unacked = now;
        }
        if done && client.queued_bytes() == 0 && last_message.elapsed() >= quiet {
            // Flushed; the server has been quiet (replies, acknowledgements)
            // long enough.
            if client.is_open() {
                closed_unacked = unacked;
            }
            client.close();
        }
        let wait = if unflushed {
            Duration::ZERO
        } else {
            Duration::from_millis(50)
        };
        let event = client.next_event(wait);
        let printed = match &event {
            Ok(ClientEvent::Message(m)) => {
                last_message = Instant::now();
                unflushed = true;
                write_message(&mut out, m, framing)
            }
            // Nothing more waiting (or the connection ended): show what came.
            _ if unflushed => {
                unflushed = false;
                out.flush()
            }
            _ => Ok(()),
        };
        if let Err(e) = printed {
            if reader_gone(&e) {
                state.store(CLOSING, Ordering::Release);
                client.close();
                return Ok(());
            }
            return Err(stdout_failed(e));
        }
        match event {
            Ok(ClientEvent::Message(_)) => {}
            Ok(ClientEvent::Disconnected(why)) => match why {
                DisconnectReason::ClosedLocally => {}
                DisconnectReason::ClosedByPeer => log::info!("disconnected: {why}"),
                _ => lost = Some(why),
            },
            Ok(ClientEvent::Closed) | Err(tcphub::Error::NotRunning) => break,
            Ok(_) | Err(tcphub::Error::Timeout) => {
                if done && client.queued_bytes() > 0 {
                    last_message = Instant::now(); // the quiet time starts once all is sent
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    // Messages accepted but dropped at the end: the server ended the
    // connection while they waited (they are not sent to a hub that only
    // discards them).
    let unsent = match client.unsent() {
        0 => String::new(),
        1 => " (1 message queued was dropped)".to_owned(),
        n => format!(" ({n} messages queued were dropped)"),
    };
    let input_left = match settled(&state) {
        SEND_FAILED => Some("not everything read from stdin could be sent".to_owned()),
        SENDING | CLOSED_EARLY => Some(format!(
            "the connection closed before everything read from stdin was sent{unsent}"
        )),
        STDIN_FAILED => {
            let e = read_error.lock().unwrap_or_else(|p| p.into_inner()).take();
            let why = e.map_or_else(|| "unknown error".to_owned(), |e| e.to_string());
            Some(format!("cannot read stdin: {why}"))
        }
        _ if !unsent.is_empty() => Some(format!(
            "the server closed the connection before everything read from stdin was sent{unsent}"
        )),
        _ => None,
    };
    // Out of linger time after our close: the server had stopped taking
    // our input (nothing acknowledged for the quiet time and the linger
    // time), not a lost connection.
    if let (Some(DisconnectReason::Io(std::io::ErrorKind::TimedOut)), Some(n)) =
        (&lost, closed_unacked.filter(|&n| n > 0))
    {
        let left = input_left.map_or_else(String::new, |l| format!("; {l}"));
        return Err(format!(
            "the server stopped taking the input: {n} bytes sent were not acknowledged \
             when the connection closed{left}"
        )
        .into());
    }
    // A reset (a hub that stopped with our input unread, say) ends the
    // connection as an error; what of stdin it left unsent is said too.
    match (lost, input_left) {
        (Some(why), Some(left)) => {
            Err(format!("connection lost: {}; {left}", explained(&why, framing)).into())
        }
        (Some(why), None) => Err(format!("connection lost: {}", explained(&why, framing)).into()),
        (None, Some(left)) => Err(left.into()),
        (None, None) => Ok(()),
    }
}

/// What [`next_input`] found.
enum Input {
    /// A message to send is in the buffer.
    Message,
    /// stdin has ended.
    End,
    /// A line went past the framing's limit (this many bytes): it cannot
    /// be sent, and is not read to its end (which may never come).
    TooLong(usize),
}

/// Reads the next message from stdin into `buf`: a line without its end
/// (`\n` or `\r\n`, the framing's to add), or, under raw framing, the
/// bytes as they are, as much as is there (no waiting for a newline).
/// Memory stays bounded by the frame limit, or the reader's buffer.
fn next_input(
    stdin: &mut impl BufRead,
    framing: Framing,
    buf: &mut Vec<u8>,
) -> std::io::Result<Input> {
    buf.clear();
    let Some(max) = framing.max_len() else {
        let chunk = stdin.fill_buf()?;
        if chunk.is_empty() {
            return Ok(Input::End);
        }
        buf.extend_from_slice(chunk);
        let n = chunk.len();
        stdin.consume(n);
        return Ok(Input::Message);
    };
    // Room for the longest line and its `\r\n`.
    let room = max.saturating_add(2);
    // (`Read::take` on the reference: the reader itself goes on.)
    if Read::take(&mut *stdin, room as u64).read_until(b'\n', buf)? == 0 {
        return Ok(Input::End);
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
    } else if buf.len() >= room {
        return Ok(Input::TooLong(max));
    }
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    Ok(Input::Message)
}

/// The stdin thread's state once the connection has ended, after giving
/// it the chance to pick up more input and find that it cannot be sent
/// (see [`STDIN_PICKUP`]): the main thread may see the end first, and
/// then took input that was never sent for input that had all gone.
fn settled(state: &AtomicU8) -> u8 {
    let start = Instant::now();
    loop {
        let now = state.load(Ordering::Acquire);
        let waited = start.elapsed();
        let wait = match now {
            READING => waited < STDIN_PICKUP,
            SENDING => waited < STDIN_SETTLE,
            _ => false,
        };
        if !wait {
            return now;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// How long `tcphub send` without `--wait-reply` waits for its message to
/// be written before it closes (the close then waits for the
/// acknowledgement).
const FLUSH_WAIT: Duration = Duration::from_secs(10);

/// Why `tcphub send` failed when the server ended the connection first.
const NOT_SENT: &str = "the server closed the connection before the message was sent";

/// Why a message was not sent, by how the connection ended: the server
/// closed it ([`NOT_SENT`]), or a fault ended it — a reset, an error, a
/// frame over the limit that came first — which is said, as `--wait-reply`
/// says it.
fn not_sent(why: Option<DisconnectReason>, framing: Framing) -> String {
    match why {
        Some(
            why @ (DisconnectReason::FrameTooLarge
            | DisconnectReason::Reset
            | DisconnectReason::Io(_)),
        ) => format!(
            "connection lost before the message was sent: {}",
            explained(&why, framing)
        ),
        _ => NOT_SENT.to_owned(),
    }
}

/// `err`, followed by what the server said before it closed (a full hub's
/// notice), if anything.
fn with_what_it_said(mut err: String, said: String) -> Box<dyn std::error::Error> {
    if !said.is_empty() {
        err.push_str(&format!(" (it said: {said})"));
    }
    err.into()
}

/// The messages `client` received before its connection ended (a refusal's
/// notice, say), as text on one line.
fn said_before_closing(client: &TcpClient) -> String {
    let mut said = Vec::new();
    while let Ok(msg) = client.recv_timeout(Duration::ZERO) {
        said.push(String::from_utf8_lossy(&msg).trim_end().to_owned());
    }
    said.join(" / ")
}

pub(crate) fn send(args: SendArgs) -> Result<(), Box<dyn std::error::Error>> {
    let framing = args.framing.framing();
    // A bad --wait-reply is a usage error (clap): nothing is sent.
    let wait = args.wait_reply;
    // Nor is a message the framing refuses (over the frame limit, a
    // newline under lines): said before connecting (a chat hub would
    // announce a join and a leave for nothing).
    if let Err(e @ (tcphub::Error::FrameTooLarge { .. } | tcphub::Error::InvalidMessage { .. })) =
        framing.encode(&message_bytes(&args.message))
    {
        return Err(Box::new(UsageError(e.to_string())));
    }
    let client = open(&args.addr, framing, None)?;
    match client.send(&message_bytes(&args.message)) {
        // The client ends when the server closes (a full hub refuses that
        // way): say what the server said before it closed, if anything.
        Err(tcphub::Error::NotRunning) => {
            let err = not_sent(client.disconnect_reason(), framing);
            return Err(with_what_it_said(err, said_before_closing(&client)));
        }
        r => r?,
    }
    // Whether the server answered (a reply, or its close): then it had the
    // message, whatever becomes of the connection after.
    let mut answered = false;
    // The reply, for the error below when it was a refusal.
    let mut reply_text = String::new();
    if let Some(wait) = wait {
        let secs = wait.as_secs_f64();
        // No deadline past what an `Instant` can hold (`--wait-reply 1e19`
        // is a valid value): waiting that long is waiting for ever.
        let deadline = Instant::now().checked_add(wait);
        match client.recv_timeout(wait) {
            Ok(mut reply) => {
                answered = true;
                if framing == Framing::Raw {
                    more_of_a_raw_reply(&client, &mut reply, deadline);
                }
                reply_text = String::from_utf8_lossy(&reply).trim_end().to_owned();
                match print_message(&mut std::io::stdout().lock(), &reply, framing) {
                    Err(e) if !reader_gone(&e) => return Err(stdout_failed(e)),
                    _ => {}
                }
            }
            Err(tcphub::Error::Timeout) => log::info!("no reply within {secs} s"),
            // A close by the server is an answer; a fault (a reset, a frame
            // over the limit) lost what came, as for `connect`.
            Err(tcphub::Error::NotRunning) => match client.disconnect_reason() {
                None | Some(DisconnectReason::ClosedByPeer | DisconnectReason::ClosedLocally) => {
                    answered = true;
                    log::info!("the server closed the connection")
                }
                Some(why) => {
                    return Err(format!("connection lost: {}", explained(&why, framing)).into())
                }
            },
            Err(e) => return Err(e.into()),
        }
    }
    if wait.is_none() {
        // Written before the close starts, so that a server that ends the
        // connection first is seen ending it — with what it said before,
        // delivered (a full hub's notice, which the close would not read).
        let _ = client.flush(FLUSH_WAIT);
    }
    client.close();
    // The server ended the connection before the message was written (a
    // full hub refusing us, say): it was dropped, not sent — though what
    // the server said came as a reply.
    if client.unsent() > 0 {
        let mut said = said_before_closing(&client);
        if said.is_empty() {
            said = reply_text;
        }
        let err = not_sent(client.disconnect_reason(), framing);
        return Err(with_what_it_said(err, said));
    }
    // Unanswered, the close waits until the server has acknowledged the
    // message (or the linger time passes): a reset or an error meanwhile
    // means it may never have got it.
    match client.disconnect_reason().filter(|_| !answered) {
        Some(why @ (DisconnectReason::Reset | DisconnectReason::Io(_))) => Err(format!(
            "the connection failed before the server acknowledged the message: {why}"
        )
        .into()),
        _ => Ok(()),
    }
}

/// Raw framing has no message boundaries: a reply is what comes until the
/// server pauses for [`RAW_REPLY_PAUSE`] (or closes, or `deadline`, if
/// any), not the first read alone (4 KiB of a 5,000-byte echo).
fn more_of_a_raw_reply(client: &TcpClient, reply: &mut Vec<u8>, deadline: Option<Instant>) {
    loop {
        let left = deadline.map_or(Duration::MAX, |d| {
            d.saturating_duration_since(Instant::now())
        });
        if left.is_zero() {
            return;
        }
        match client.recv_timeout(left.min(RAW_REPLY_PAUSE)) {
            Ok(more) => reply.extend_from_slice(&more),
            Err(_) => return, // a pause, or the end (said by the caller's checks)
        }
    }
}

/// How long a raw reply may pause before it counts as complete.
const RAW_REPLY_PAUSE: Duration = Duration::from_millis(200);

/// The bytes of a message given as an argument, as the shell passed them.
#[cfg(unix)]
fn message_bytes(arg: &std::ffi::OsStr) -> std::borrow::Cow<'_, [u8]> {
    use std::os::unix::ffi::OsStrExt;
    std::borrow::Cow::Borrowed(arg.as_bytes())
}

/// The bytes of a message given as an argument (elsewhere than Unix: its
/// text, with what is not Unicode replaced).
#[cfg(not(unix))]
fn message_bytes(arg: &std::ffi::OsStr) -> std::borrow::Cow<'_, [u8]> {
    std::borrow::Cow::Owned(arg.to_string_lossy().into_owned().into_bytes())
}
