//! `tcphub serve`: the hub. Chat mode is the socket tutorial's behaviour
//! (join/leave notices, messages relayed with the sender's address, a
//! "server full" notice to connections over `--max`); relay
//! sends every frame verbatim to everyone; echo sends it back to its sender.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use tcphub::{ServerHandle, Stats, TcpServer};

use crate::FramingArg;

/// What the hub does with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Mode {
    /// Announce joins and leaves; relay `<ip:port>: <text>` to everyone.
    Chat,
    /// Send every frame verbatim to every client, sender included.
    Relay,
    /// Send every frame back to its sender only.
    Echo,
}

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Local address to listen on ("::" for IPv6 + IPv4; "[::1]" is taken too).
    #[arg(long, default_value = "0.0.0.0", value_parser = crate::bind_ip)]
    bind: IpAddr,
    /// Port to listen on (0 picks a free one, named in the "listening on" log line).
    #[arg(long, default_value_t = 8001, allow_hyphen_values = true)]
    port: u16,
    /// Most clients connected at once; more are accepted and closed.
    #[arg(long, default_value_t = 100, value_parser = crate::at_least_one, allow_hyphen_values = true)]
    max: usize,
    /// Most clients from one IP address at once (default: no limit but
    /// --max); more from it are accepted and closed, so one host cannot
    /// take every place.
    #[arg(long, value_name = "N", value_parser = crate::at_least_one, allow_hyphen_values = true)]
    max_per_ip: Option<usize>,
    /// Count IPv6 clients for --max-per-ip by the first BITS bits of their
    /// address (1 to 128, default 128: each address on its own); 64 counts
    /// a host that has a whole /64 once. IPv4 addresses count whole.
    /// Needs --max-per-ip.
    #[arg(long, value_name = "BITS", default_value_t = 128, requires = "max_per_ip",
          value_parser = clap::value_parser!(u8).range(1..=128), allow_hyphen_values = true)]
    per_ip_v6_prefix: u8,
    /// Message framing.
    #[arg(long, value_enum, default_value_t = FramingArg::Lines)]
    framing: FramingArg,
    /// Hub behaviour.
    #[arg(long, value_enum, default_value_t = Mode::Chat)]
    mode: Mode,
    /// Disconnect clients silent for this many seconds.
    #[arg(long, value_name = "SECS", value_parser = crate::positive_secs, allow_hyphen_values = true)]
    idle_timeout: Option<Duration>,
    /// Disconnect clients that start a message and do not finish it within
    /// this many seconds (a defence against "slowloris" clients that hold a
    /// connection open by sending a byte now and then).
    #[arg(long, value_name = "SECS", value_parser = crate::positive_secs, allow_hyphen_values = true)]
    frame_timeout: Option<Duration>,
    /// Turn TCP keepalive on: probe a client after this many seconds without
    /// traffic, and drop it when 3 probes go unanswered (its host vanished
    /// without closing; probes max(SECS/3, 1) s apart, SECS in whole
    /// seconds: found about twice SECS after its last traffic from 3 s up).
    /// At most 32767.
    #[arg(long, value_name = "SECS", value_parser = crate::keepalive_secs, allow_hyphen_values = true)]
    keepalive: Option<Duration>,
    /// Print a one-line summary to stderr every SECS seconds.
    #[arg(long, value_name = "SECS", value_parser = crate::positive_secs, allow_hyphen_values = true)]
    stats: Option<Duration>,
    /// Event-loop threads (default: one per core).
    #[arg(long, value_parser = crate::threads, allow_hyphen_values = true)]
    threads: Option<usize>,
    /// Let event loops that ran out of work keep polling this many
    /// microseconds before they sleep (fewer wakeups under steady load; 0:
    /// sleep at once; at most 1000000, a second).
    #[arg(long, value_name = "MICROS", default_value_t = tcphub::DEFAULT_BUSY_POLL.as_micros() as u64,
          value_parser = crate::busy_poll_micros, allow_hyphen_values = true)]
    busy_poll_us: u64,
}

pub(crate) fn run(args: ServeArgs) -> Result<(), Box<dyn std::error::Error>> {
    let mut builder = TcpServer::new(args.port, args.max)
        .bind(args.bind)
        .framing(args.framing.framing());
    if let Some(t) = args.threads {
        builder = builder.threads(t);
    }
    if let Some(n) = args.max_per_ip {
        builder = builder
            .max_clients_per_ip(n)
            .per_ip_ipv6_prefix(args.per_ip_v6_prefix);
    }
    builder = builder.busy_poll(std::time::Duration::from_micros(args.busy_poll_us));
    if let Some(idle) = args.idle_timeout {
        builder = builder.idle_timeout(idle);
    }
    if let Some(t) = args.frame_timeout {
        if args.framing == FramingArg::Raw {
            // Raw input has no frames to finish: the limit would never act.
            log::warn!("--frame-timeout has no effect under raw framing (it has no frames)");
        }
        builder = builder.frame_timeout(t);
    }
    if let Some(idle) = args.keepalive {
        builder = builder.keepalive(idle);
    }
    let stats_every = args.stats;
    // The hub's own notices are lines; raw framing adds no line end itself.
    let end = if args.framing == FramingArg::Raw {
        "\n"
    } else {
        ""
    };
    builder = match args.mode {
        Mode::Chat => {
            // A client cut off by a timeout is told why, as a refused one is.
            if let Some(idle) = args.idle_timeout {
                let secs = idle.as_secs_f64();
                builder = builder.idle_timeout_message(format!(
                    "disconnected: nothing sent for {secs} s (idle timeout){end}"
                ));
            }
            if let Some(t) = args.frame_timeout {
                let secs = t.as_secs_f64();
                builder = builder.frame_timeout_message(format!(
                    "disconnected: a message not finished within {secs} s (frame timeout){end}"
                ));
            }
            // So is one cut off for a message over the limit (a client of
            // another framing too: its line read as a length header).
            if let Some(max) = args.framing.framing().max_len() {
                builder = builder.frame_too_large_message(format!(
                    "disconnected: a message over {max} bytes (frame too large)"
                ));
            }
            // And one refused for its address's count, as a full hub's is.
            if let Some(n) = args.max_per_ip {
                builder = builder.per_ip_full_message(format!(
                    "too many connections from your address (at most {n}){end}"
                ));
            }
            chat(builder, args.max, end)
        }
        Mode::Relay => builder
            .on_connect(|_, c| joined(c))
            .on_message(|srv, _, msg| {
                srv.send_all(msg);
            })
            .on_disconnect(|_, c, why| left(c, why)),
        Mode::Echo => builder
            .on_connect(|_, c| joined(c))
            .on_message(|srv, c, msg| {
                let _ = srv.send(c.id, msg);
            })
            .on_disconnect(|_, c, why| left(c, why)),
    };
    // Install the signal handlers before listening, so a signal that comes
    // right after the "listening" line is never missed.
    // The arrival stamps first: a signal's handlers run in the order they
    // were installed, so its stamp is there when the iterator hands it out.
    stamp_arrivals()?;
    let mut signals = Signals::new([SIGINT, SIGTERM])?;
    let server = builder.start()?;
    log::info!(
        "listening on {} ({:?} mode, {:?} framing, at most {})",
        server.local_addr(),
        args.mode,
        args.framing,
        count(args.max as u64, "client")
    );
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let reporter = stats_every.map(|every| spawn_stats(server.clone(), every, done_rx));
    let first = signals.forever().next();
    // When the request arrived (the last of its deliveries taken with it).
    let first_arrived = first.map_or(0, arrived);
    if let Some(sig) = first {
        log::info!("signal {sig}: stopping");
    }
    // No more summary lines: the hub is stopping.
    drop(done_tx);
    if let Some(r) = reporter {
        let _ = r.join();
    }
    // The stop waits (up to the linger time) for clients to take what is
    // queued for them; a second signal meanwhile means "now" — but not the
    // same signal arriving within `SAME_REQUEST` of the first: `timeout`
    // (and a terminal's Ctrl-C to a process group) delivers one request as
    // two signals microseconds apart, which must not skip the graceful
    // stop. Judged by when the repeat arrived, not by when this thread
    // takes it: that may be much later (a loaded machine; this thread
    // starts only now).
    std::thread::spawn(move || {
        for sig in signals.forever() {
            if same_request(first, first_arrived, sig) {
                continue;
            }
            log::warn!("signal {sig} again: exiting without waiting for the clients");
            std::process::exit(128 + sig);
        }
    });
    server.stop();
    let s = server.stats();
    // The refusals too: the log said only the first of a run of them (and
    // their total once the hub had room again, which a hub stopped while
    // full never had).
    let mut tail = if s.rejected > 0 {
        format!(
            ", {} refused (server full)",
            count(s.rejected, "connection")
        )
    } else {
        String::new()
    };
    if s.rejected_per_ip > 0 {
        tail += &format!(
            ", {} refused (too many from one address)",
            count(s.rejected_per_ip, "connection")
        );
    }
    let not_delivered = s.dropped + lost(&s);
    if not_delivered > 0 {
        tail += &format!(
            ", {} not delivered (dropped from full queues, sent after the client left, or cut off unwritten)",
            count(not_delivered, "message")
        );
    }
    log::info!(
        "stopped: {} served, {} in, {} out{tail}",
        count(s.accepted, "client"),
        count(s.msgs_in, "message"),
        s.msgs_out
    );
    Ok(())
}

/// A repeat of the signal that began the stop arriving sooner than this
/// after it is the same request (sent to the process and to its group),
/// not a second one asking to skip the graceful stop.
const SAME_REQUEST: Duration = Duration::from_millis(300);

/// When SIGINT and SIGTERM last arrived: CLOCK_MONOTONIC nanoseconds, 0
/// before the first.
static ARRIVED: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];

fn arrival_slot(sig: i32) -> &'static AtomicU64 {
    &ARRIVED[usize::from(sig == SIGTERM)]
}

/// When `sig` (SIGINT or SIGTERM) last arrived, as [`ARRIVED`] has it.
fn arrived(sig: i32) -> u64 {
    arrival_slot(sig).load(Ordering::SeqCst)
}

/// Whether `sig`, taken after `first` (which arrived at `first_arrived`),
/// is that request again: the same signal, arrived within
/// [`SAME_REQUEST`] of it, however late it is taken.
fn same_request(first: Option<i32>, first_arrived: u64, sig: i32) -> bool {
    let apart = arrived(sig).saturating_sub(first_arrived);
    Some(sig) == first && apart < SAME_REQUEST.as_nanos() as u64
}

/// Installs the handlers that stamp each SIGINT and SIGTERM's arrival in
/// [`ARRIVED`].
fn stamp_arrivals() -> std::io::Result<()> {
    for sig in [SIGINT, SIGTERM] {
        let slot = arrival_slot(sig);
        let stamp = move || {
            let mut now = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            // SAFETY: a valid timespec to fill.
            unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
            let ns = (now.tv_sec as u64)
                .saturating_mul(1_000_000_000)
                .saturating_add(now.tv_nsec as u64);
            slot.store(ns.max(1), Ordering::SeqCst);
        };
        // SAFETY: the action only reads the clock (clock_gettime is
        // async-signal-safe) and stores an atomic: no lock, no allocation.
        unsafe { signal_hook::low_level::register(sig, stamp) }?;
    }
    Ok(())
}

/// `n` and `what`, plural unless one: "1 client", "2 clients".
fn count(n: u64, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

/// Prints one summary line every `every` until `done` is dropped.
fn spawn_stats(
    server: ServerHandle,
    every: Duration,
    done: mpsc::Receiver<()>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut last = server.stats();
        let mut at = Instant::now();
        while let Err(mpsc::RecvTimeoutError::Timeout) = done.recv_timeout(every) {
            let now = server.stats();
            let secs = at.elapsed().as_secs_f64().max(1e-9);
            crate::to_stderr(summary(&last, &now, secs));
            last = now;
            at = Instant::now();
        }
    })
}

fn summary(a: &Stats, b: &Stats, secs: f64) -> String {
    let rate = |x: u64, y: u64| (y.saturating_sub(x)) as f64 / secs;
    format!(
        "stats: clients {} | msgs/s in {:.0} out {:.0} | bytes/s in {:.0} out {:.0} | drops {} lost {} slow {} rejected {}",
        b.clients,
        rate(a.msgs_in, b.msgs_in),
        rate(a.msgs_out, b.msgs_out),
        rate(a.bytes_in, b.bytes_in),
        rate(a.bytes_out, b.bytes_out),
        b.dropped,
        lost(b),
        b.slow_consumers,
        b.rejected + b.rejected_per_ip,
    )
}

/// Messages a send took that did not reach their client, beyond the drops
/// of full queues: sent after it left, or cut off unwritten at its end.
fn lost(s: &Stats) -> u64 {
    s.undelivered + s.unwritten
}

/// The log target of the lines about clients joining and leaving (info):
/// `RUST_LOG=info,tcphub::serve::clients=warn` leaves them out of a busy
/// hub's log and keeps the rest.
const CLIENTS: &str = "tcphub::serve::clients";

fn joined(c: &tcphub::Client) {
    log::info!(target: CLIENTS, "client {} connected", c.addr);
}

fn left(c: &tcphub::Client, why: &tcphub::DisconnectReason) {
    log::info!(target: CLIENTS, "client {} disconnected ({why})", c.addr);
}

/// The chat hub's callbacks: joins and leaves announced to everyone, each
/// message relayed to everyone with its sender's address; a connection over
/// `max` is told the hub is full. `end` ends the hub's own notices (a line
/// end under raw framing, none otherwise).
fn chat(builder: TcpServer, max: usize, end: &'static str) -> TcpServer {
    builder
        .full_message(format!("server full ({max} connected){end}"))
        .on_connect(move |srv, c| {
            joined(c);
            srv.send_all(format!("client {} connected{end}", c.addr).as_bytes());
        })
        .on_message(move |srv, c, msg| {
            let mut line = format!("{}: ", c.addr).into_bytes();
            line.extend_from_slice(msg);
            // The address prefix can take a line within the limit over
            // it: tell the sender instead of dropping it silently.
            if let Err(tcphub::Error::FrameTooLarge { len, max }) = srv.try_send_all(&line) {
                let notice = format!(
                    "message not relayed: {len} bytes with the address prefix, \
                     over the frame limit of {max}"
                );
                // Debug: the client's own doing, and it is told; a line
                // per message at the default level was the client's to
                // flood the log with (review lg).
                log::debug!("client {c}: {notice}");
                let _ = srv.send(c.id, notice.as_bytes());
            }
        })
        .on_disconnect(move |srv, c, why| {
            left(c, why);
            srv.send_all(format!("client {} disconnected ({why}){end}", c.addr).as_bytes());
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A repeat is judged by its arrival, stamped by its handler before
    /// the iterator hands it out: one taken long after it arrived is still
    /// the same request (review sg).
    #[test]
    fn a_repeat_is_judged_by_its_arrival_not_when_it_is_taken() {
        // The only test here to touch signals: SIGTERM raised in this
        // process goes to these handlers, not the default action.
        stamp_arrivals().unwrap();
        let mut signals = Signals::new([SIGTERM]).unwrap();
        signal_hook::low_level::raise(SIGTERM).unwrap();
        let first = signals.forever().next();
        assert_eq!(first, Some(SIGTERM));
        let first_arrived = arrived(SIGTERM);
        assert!(first_arrived > 0);
        signal_hook::low_level::raise(SIGTERM).unwrap();
        // Taken late: a lower bound past SAME_REQUEST, not a wait for anything.
        std::thread::sleep(SAME_REQUEST * 2);
        assert_eq!(signals.forever().next(), Some(SIGTERM));
        assert!(same_request(first, first_arrived, SIGTERM));
        assert!(!same_request(first, first_arrived, SIGINT));
        // One arriving later than that is a second request.
        signal_hook::low_level::raise(SIGTERM).unwrap();
        assert_eq!(signals.forever().next(), Some(SIGTERM));
        assert!(!same_request(first, first_arrived, SIGTERM));
    }

    #[test]
    fn the_summary_counts_lost_messages_apart_from_drops() {
        let a = Stats::default();
        let mut b = Stats::default();
        b.dropped = 2;
        b.undelivered = 3;
        b.unwritten = 4;
        let line = summary(&a, &b, 1.0);
        assert!(
            line.contains("| drops 2 lost 7 slow 0 rejected 0"),
            "{line}"
        );
    }
}
