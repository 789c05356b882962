//! `tcphub-bench`: load generator and side-by-side comparison.
//!
//! ```text
//! tcphub-bench compare [--servers tcphub,tokio,asyncio,ncat-broker,...] [--rounds 3]
//!                      [--quick] [--out BENCHMARKS.md] [--svg bench/fanout.svg]
//! tcphub-bench smoke                       # seconds; checks delivery, not speed
//! tcphub-bench fanout   --addr HOST:PORT --receivers 100 --messages 100000 [--no-self]
//! tcphub-bench echo     --addr HOST:PORT --clients 100 --inflight 8 --secs 5
//! tcphub-bench capacity --addr HOST:PORT --pid PID --conns 10000
//! tcphub-bench accept-burst --addr HOST:PORT --pid PID --conns 10000
//! tcphub-bench client   [--addr HOST:PORT] --messages 200000 --sizes 64,4096
//!                       [--modes pull,callback,plain] [--rounds 3] [--window N]
//! tcphub-bench app-send --threads 4 --messages 250000 --receivers 10
//!                       [--mode all|each|many] [--callbacks] [--rounds 3]   # in-process server
//! ```
//! All scenarios speak 4-byte big-endian length-prefixed frames, with 64-byte
//! payloads except the client scenario's (`--sizes`).

mod app_send;
mod capacity;
mod client;
mod load;
mod report;
mod servers;
mod tables;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

use report::{human, median};
use servers::{Env, Kind, Server};
use tables::{render, Results};

#[derive(Debug, Parser)]
#[command(name = "tcphub-bench", about = "tcphub load generator and comparison")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Run every scenario against several servers, alternating, and write the report.
    Compare {
        /// Comma-separated servers: tcphub, tcphub-1-loop, tcphub-no-busy-poll, tokio, tokio-coalesced, asyncio, ncat-broker,
        /// tcphub-python-callback, tcphub-python-poll, tcphub-c, c-epoll-minimal (echo and capacity only).
        #[arg(
            long,
            default_value = "tcphub,tokio,tokio-coalesced,asyncio,ncat-broker"
        )]
        servers: String,
        /// Rounds per scenario (medians are reported).
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// Smaller runs (for a quick look; numbers are noisier).
        #[arg(long)]
        quick: bool,
        /// Markdown report to write.
        #[arg(long, default_value = "BENCHMARKS.md")]
        out: PathBuf,
        /// SVG chart of fan-out throughput against receivers.
        #[arg(long, default_value = "bench/fanout.svg")]
        svg: PathBuf,
        /// Python with tcphub installed, for the Python servers.
        #[arg(long, default_value = "python3")]
        python: String,
        /// Note added to the report (e.g. what changed since the last run).
        #[arg(long, default_value = "")]
        note: String,
    },
    /// A few seconds against tcphub, tokio, asyncio and ncat (the last two
    /// when installed): every message must arrive.
    Smoke,
    /// Fan-out against a running server.
    Fanout {
        #[arg(long)]
        addr: SocketAddr,
        #[arg(long, default_value_t = 100)]
        receivers: usize,
        #[arg(long, default_value_t = 100_000)]
        messages: u64,
        /// The server does not send a frame back to its sender (ncat --broker).
        #[arg(long)]
        no_self: bool,
        /// Check every byte of every payload, not only its length and
        /// sequence number (slows the generator's receiving thread).
        #[arg(long)]
        check_payload: bool,
    },
    /// Echo latency against a running server.
    Echo {
        #[arg(long)]
        addr: SocketAddr,
        #[arg(long, default_value_t = 100)]
        clients: usize,
        #[arg(long, default_value_t = 8)]
        inflight: usize,
        #[arg(long, default_value_t = 5.0)]
        secs: f64,
    },
    /// Idle-connection capacity against a running echo server.
    Capacity {
        #[arg(long)]
        addr: SocketAddr,
        #[arg(long)]
        pid: u32,
        #[arg(long, default_value_t = 10_000)]
        conns: usize,
        /// Generator threads opening the connections.
        #[arg(long, default_value_t = CAPACITY_THREADS)]
        threads: usize,
    },
    /// The accept rate of a running echo server with the generator out of
    /// the way (it is stopped while each batch fills its listen backlog).
    AcceptBurst {
        #[arg(long)]
        addr: SocketAddr,
        #[arg(long)]
        pid: u32,
        #[arg(long, default_value_t = 10_000)]
        conns: usize,
    },
    /// The client side: round trips through a tcphub `TcpClient` (pull and
    /// callback mode) and a plain `std::net::TcpStream` baseline, each
    /// message checked back in order, against an echo server.
    Client {
        /// A running echo server (length-prefixed frames); without it,
        /// `tcphub serve --mode echo` is started for the run.
        #[arg(long)]
        addr: Option<SocketAddr>,
        /// Round trips per run.
        #[arg(long, default_value_t = 200_000)]
        messages: u64,
        /// Payload sizes in bytes, comma-separated (at least 9 each).
        #[arg(long, default_value = "64,4096")]
        sizes: String,
        /// Comma-separated: pull, callback (tcphub), plain (std, BufWriter/BufReader).
        #[arg(long, default_value = "pull,callback,plain")]
        modes: String,
        /// Rounds (modes alternate their order; medians are reported).
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// Most messages in flight (default: about 1 MiB of payload).
        #[arg(long)]
        window: Option<u64>,
    },
    /// Application threads' sends (not a relay's callbacks): a server in
    /// this process, `--threads` threads each sending `--messages` 64-byte
    /// frames to every one of `--receivers` plain TCP clients, which check
    /// each sender's order.
    AppSend {
        #[arg(long, default_value_t = 4)]
        threads: usize,
        #[arg(long, default_value_t = 250_000)]
        messages: u64,
        #[arg(long, default_value_t = 10)]
        receivers: usize,
        /// all: one `send_all` per message; each: one `send` per receiver
        /// and message, receivers in turn (a relay written by hand); many:
        /// one `send_many` naming every receiver per message.
        #[arg(long, default_value = "all")]
        mode: String,
        /// Send from the server's `on_message` instead: `--threads`
        /// publisher connections write the messages, and the callback
        /// sends each on (`all`: to everyone but its publisher).
        #[arg(long)]
        callbacks: bool,
        /// Rounds (the median is reported).
        #[arg(long, default_value_t = 3)]
        rounds: usize,
    },
}

const WINDOW: u64 = 20_000;
/// Generator threads of a capacity run.
const CAPACITY_THREADS: usize = 2;
/// Everything after this line of BENCHMARKS.md is hand-written and kept
/// when the measured part is regenerated.
const ANALYSIS_MARKER: &str = "<!-- analysis: kept across runs -->";

fn main() {
    let cli = Cli::parse();
    capacity::raise_fd_limit();
    let r = match cli.cmd {
        Cmd::Compare {
            servers,
            rounds,
            quick,
            out,
            svg,
            python,
            note,
        } => compare(&servers, rounds.max(1), quick, &out, &svg, python, &note),
        Cmd::Smoke => smoke(),
        Cmd::Fanout {
            addr,
            receivers,
            messages,
            no_self,
            check_payload,
        } => load::fanout(addr, receivers, messages, !no_self, WINDOW, check_payload).map(|f| {
            println!(
                "fanout {receivers} receivers x {messages}: {} deliveries/s, {:.1} MB/s ({:.2} s)",
                human(f.deliveries_per_sec),
                f.mb_per_sec,
                f.secs
            )
        }),
        Cmd::Echo {
            addr,
            clients,
            inflight,
            secs,
        } => load::echo(
            addr,
            clients,
            inflight,
            Duration::from_millis(500),
            Duration::from_secs_f64(secs),
        )
        .map(|e| {
            println!(
                "echo {clients}x{inflight}: {} msgs/s, p50 {:.0} us, p99 {:.0} us, p99.9 {:.0} us",
                human(e.msgs_per_sec),
                e.p50_us,
                e.p99_us,
                e.p999_us
            )
        }),
        Cmd::Capacity {
            addr,
            pid,
            conns,
            threads,
        } => capacity::capacity(addr, conns, threads, pid).map(|c| {
            println!(
                "capacity {conns}: {:.0} bytes RSS/conn, {} conns/s",
                c.rss_per_conn,
                human(c.accept_per_sec)
            )
        }),
        Cmd::AcceptBurst { addr, pid, conns } => capacity::accept_burst(addr, conns, pid)
            .map(|r| println!("accept burst {conns}: {} conns/s", human(r))),
        Cmd::Client {
            addr,
            messages,
            sizes,
            modes,
            rounds,
            window,
        } => client_bench(addr, messages, &sizes, &modes, rounds.max(1), window),
        Cmd::AppSend {
            threads,
            messages,
            receivers,
            mode,
            callbacks,
            rounds,
        } => app_send_bench(
            &mode,
            threads.max(1),
            messages,
            receivers.max(1),
            callbacks,
            rounds.max(1),
        ),
    };
    if let Err(e) = r {
        eprintln!("tcphub-bench: {e}");
        std::process::exit(1);
    }
}

fn env(python: String) -> Result<Env, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let bin_dir = exe.parent().ok_or("no exe dir")?.to_path_buf();
    // The repository this binary was built from (bench/..): found wherever
    // the binary lives, even with CARGO_TARGET_DIR outside the repository.
    let root = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(|d| PathBuf::from(d).join(".."))
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".."));
    Ok(Env {
        bin_dir,
        root,
        python,
    })
}

/// The client scenario, against `addr` or an echo server started for it.
fn client_bench(
    addr: Option<SocketAddr>,
    messages: u64,
    sizes: &str,
    modes: &str,
    rounds: usize,
    window: Option<u64>,
) -> Result<(), String> {
    let sizes: Vec<usize> = sizes
        .split(',')
        .map(|s| s.trim().parse().map_err(|e| format!("size {s:?}: {e}")))
        .collect::<Result<_, _>>()?;
    let modes: Vec<client::Mode> = modes
        .split(',')
        .map(|s| client::Mode::parse(s.trim()))
        .collect::<Result<_, _>>()?;
    let mut own = None;
    let addr = match addr {
        Some(a) => a,
        None => {
            own.insert(Server::start(
                Kind::Tcphub,
                "echo",
                &env("python3".into())?,
            )?)
            .addr
        }
    };
    let r = client::compare(addr, &modes, &sizes, messages, rounds, window);
    if let Some(mut s) = own {
        s.stop();
    }
    r
}

/// The application-send scenario, `rounds` times; prints each and the median.
fn app_send_bench(
    mode: &str,
    threads: usize,
    messages: u64,
    receivers: usize,
    callbacks: bool,
    rounds: usize,
) -> Result<(), String> {
    let mode = app_send::Mode::parse(mode)?;
    let from = if callbacks { "publishers" } else { "threads" };
    let mut rates = Vec::new();
    for round in 1..=rounds {
        let r = app_send::run(mode, threads, messages, receivers, callbacks)?;
        println!(
            "round {round}/{rounds} app-send {mode:?} {threads} {from} x {messages} to {receivers}: \
             {} deliveries/s ({:.2} s)",
            human(r.deliveries_per_sec),
            r.secs
        );
        rates.push(r.deliveries_per_sec);
    }
    println!(
        "app-send {mode:?} {threads} {from} x {messages} to {receivers}: median {} deliveries/s",
        human(median(&rates))
    );
    Ok(())
}

/// Runs the smoke checks: correctness in seconds.
/// Smoke-runs `kind`'s relay (a fan-out, every frame checked) and, when it
/// has one, its echo, and says so on one line; the echo server is returned
/// still running, for the caller's further checks.
fn smoke_server(kind: Kind, env: &Env) -> Result<Option<Server>, String> {
    let mut s = Server::start(kind, "relay", env)?;
    let f = load::fanout(s.addr, 20, 2_000, kind.self_delivery(), 500, true)
        .map_err(|e| format!("{}: {e}", kind.name()))?;
    s.stop();
    print!(
        "smoke {}: fanout 20 x 2000 delivered in order ({:.2} s)",
        kind.name(),
        f.secs
    );
    if !kind.echoes() {
        println!();
        return Ok(None);
    }
    let s = Server::start(kind, "echo", env)?;
    let e = load::echo(
        s.addr,
        10,
        4,
        Duration::from_millis(100),
        Duration::from_millis(400),
    )
    .map_err(|e| format!("{}: {e}", kind.name()))?;
    if e.msgs_per_sec <= 0.0 {
        return Err(format!("{}: no echo round trips", kind.name()));
    }
    println!(", echo ok ({} round trips/s)", human(e.msgs_per_sec));
    Ok(Some(s))
}

fn smoke() -> Result<(), String> {
    let env = env("python3".into())?;
    for kind in [Kind::Tcphub, Kind::Tokio] {
        let mut s = smoke_server(kind, &env)?.ok_or("no echo server")?;
        if kind == Kind::Tcphub {
            // The client side, in order both ways, small and large messages.
            for (size, n) in [(64, 5_000), (4096, 500)] {
                for mode in [
                    client::Mode::Pull,
                    client::Mode::Callback,
                    client::Mode::Plain,
                ] {
                    client::run(s.addr, mode, n, size, client::default_window(size))
                        .map_err(|e| format!("client {} {size} B: {e}", mode.name()))?;
                }
            }
            println!("smoke tcphub: client pull, callback and std round trips in order");
        }
        let c = capacity::capacity(s.addr, 200, CAPACITY_THREADS, s.pid())?;
        let b = capacity::accept_burst(s.addr, 200, s.pid())?;
        println!(
            "smoke {}: 200 connections served ({} conns/s), \
             200 more accepted in a burst ({} conns/s)",
            kind.name(),
            human(c.accept_per_sec),
            human(b)
        );
        s.stop();
    }
    // The hand-coalescing relay too: its frames must stay whole and in order.
    smoke_server(Kind::TokioCoalesced, &env)?;
    // The other baselines `compare` runs, so their invocations cannot rot
    // unnoticed until a full run: skipped (and said so) when the program
    // is not installed.
    for kind in [Kind::Asyncio, Kind::Ncat] {
        let prog = if kind == Kind::Ncat {
            "ncat"
        } else {
            "python3"
        };
        if std::process::Command::new(prog)
            .arg("--version")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_err()
        {
            println!("smoke {}: SKIPPED ({prog} not found)", kind.name());
            continue;
        }
        smoke_server(kind, &env)?;
    }
    // Application threads' sends, each mode, every sender's order checked.
    for callbacks in [false, true] {
        let from = if callbacks { "publishers" } else { "threads" };
        for mode in [
            app_send::Mode::All,
            app_send::Mode::Each,
            app_send::Mode::Many,
        ] {
            // 12 receivers: `send_many` takes its shared-buffer path.
            let r = app_send::run(mode, 3, 2_000, 12, callbacks)?;
            println!(
                "smoke tcphub: app-send {mode:?} 3 {from} x 2000 to 12 delivered in order ({:.2} s)",
                r.secs
            );
        }
    }
    println!("smoke: ok");
    Ok(())
}

fn compare(
    list: &str,
    rounds: usize,
    quick: bool,
    out: &PathBuf,
    svg: &PathBuf,
    python: String,
    note: &str,
) -> Result<(), String> {
    let env = env(python)?;
    let kinds: Vec<Kind> = list
        .split(',')
        .map(|s| Kind::parse(s.trim()))
        .collect::<Result<_, _>>()?;
    let fan_ns: &[usize] = if quick { &[10, 100] } else { &[10, 100, 1000] };
    // Enough that the fastest servers run for about a second per fan-out.
    let deliveries = if quick { 2_000_000.0 } else { 20_000_000.0 };
    let echo_secs = if quick { 1.0 } else { 4.0 };
    let cap_conns = if quick { 2_000 } else { 10_000 };
    let mut res = Results::default();
    let mut failures = Vec::new();
    for round in 0..rounds {
        // Alternate the order every round so no server always runs first.
        let order: Vec<Kind> = if round % 2 == 0 {
            kinds.clone()
        } else {
            kinds.iter().rev().cloned().collect()
        };
        for &n in fan_ns {
            for &k in order.iter().filter(|k| k.relays()) {
                let m = ((deliveries * k.scale() / n as f64) as u64).max(200);
                let scen = format!("fanout-{n}");
                eprint!("round {}/{rounds} {scen} {} ... ", round + 1, k.name());
                match Server::start(k, "relay", &env).and_then(|mut s| {
                    let r = load::fanout(s.addr, n, m, k.self_delivery(), WINDOW, false);
                    s.stop();
                    r
                }) {
                    Ok(f) => {
                        eprintln!("{} deliveries/s", human(f.deliveries_per_sec));
                        res.add(&scen, k, vec![f.deliveries_per_sec, f.mb_per_sec]);
                    }
                    Err(e) => {
                        eprintln!("FAILED: {e}");
                        failures.push(format!("{scen} {}: {e}", k.name()));
                    }
                }
            }
        }
        for &k in order.iter().filter(|k| k.echoes()) {
            eprint!("round {}/{rounds} echo {} ... ", round + 1, k.name());
            match Server::start(k, "echo", &env).and_then(|mut s| {
                let r = load::echo(
                    s.addr,
                    100,
                    8,
                    Duration::from_millis(500),
                    Duration::from_secs_f64(echo_secs),
                );
                s.stop();
                r
            }) {
                Ok(e) => {
                    eprintln!("{} msgs/s p99 {:.0} us", human(e.msgs_per_sec), e.p99_us);
                    res.add(
                        "echo",
                        k,
                        vec![e.msgs_per_sec, e.p50_us, e.p99_us, e.p999_us],
                    );
                }
                Err(e) => {
                    eprintln!("FAILED: {e}");
                    failures.push(format!("echo {}: {e}", k.name()));
                }
            }
        }
        for &k in order.iter().filter(|k| k.capacity()) {
            eprint!("round {}/{rounds} capacity {} ... ", round + 1, k.name());
            match Server::start(k, "echo", &env).and_then(|mut s| {
                let r = capacity::capacity(s.addr, cap_conns, CAPACITY_THREADS, s.pid());
                s.stop();
                r
            }) {
                Ok(c) => {
                    eprintln!(
                        "{:.0} B/conn, {} conns/s",
                        c.rss_per_conn,
                        human(c.accept_per_sec)
                    );
                    res.add("capacity", k, vec![c.rss_per_conn, c.accept_per_sec]);
                }
                Err(e) => {
                    eprintln!("FAILED: {e}");
                    failures.push(format!("capacity {}: {e}", k.name()));
                }
            }
            eprint!(
                "round {}/{rounds} accept burst {} ... ",
                round + 1,
                k.name()
            );
            match Server::start(k, "echo", &env).and_then(|mut s| {
                let r = capacity::accept_burst(s.addr, cap_conns, s.pid());
                s.stop();
                r
            }) {
                Ok(r) => {
                    eprintln!("{} conns/s", human(r));
                    res.add("burst", k, vec![r]);
                }
                Err(e) => {
                    eprintln!("FAILED: {e}");
                    failures.push(format!("accept burst {}: {e}", k.name()));
                }
            }
        }
    }
    let md = render(
        &res, &kinds, fan_ns, rounds, quick, cap_conns, &failures, note,
    );
    // Keep the hand-written analysis that follows the marker in the old report.
    let mut md = md;
    if let Ok(old) = std::fs::read_to_string(out) {
        if let Some(at) = old.find(ANALYSIS_MARKER) {
            md.push('\n');
            md.push_str(&old[at..]);
        }
    }
    std::fs::write(out, &md).map_err(|e| format!("write {}: {e}", out.display()))?;
    let series: Vec<report::Series> = kinds
        .iter()
        .filter(|k| k.relays())
        .map(|&k| report::Series {
            name: k.name().into(),
            points: fan_ns
                .iter()
                .map(|&n| (n as f64, res.med(&format!("fanout-{n}"), k, 0)))
                .collect(),
        })
        .collect();
    std::fs::write(
        svg,
        report::svg_chart(
            "Fan-out: 1 sender, 64 B messages (median deliveries/s)",
            &series,
        ),
    )
    .map_err(|e| format!("write {}: {e}", svg.display()))?;
    println!("{md}");
    eprintln!("wrote {} and {}", out.display(), svg.display());
    Ok(())
}
