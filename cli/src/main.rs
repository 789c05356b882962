//! `tcphub`: run a chat, relay or echo hub on the tcphub engine, talk to one
//! interactively, or send a one-shot message.
//!
//! ```text
//! tcphub serve [--bind 0.0.0.0] [--port 8001] [--max 100] [--max-per-ip N] [--per-ip-v6-prefix BITS]
//!              [--framing lines|len|raw]
//!              [--mode chat|relay|echo] [--idle-timeout SECS] [--frame-timeout SECS]
//!              [--keepalive SECS] [--stats SECS] [--threads N] [--busy-poll-us MICROS]
//! tcphub connect HOST:PORT [--framing lines|len|raw] [--quiet-after-eof SECS] [--keepalive SECS]
//! tcphub send HOST:PORT MESSAGE [--framing lines|len|raw] [--wait-reply SECS]
//! ```

mod client_cmds;
mod serve;
mod stderr;

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// A multi-client TCP hub: chat, relay or echo, on an epoll event loop.
#[derive(Debug, Parser)]
#[command(name = "tcphub", version, about)]
struct Cli {
    /// More log output (-v: debug, -vv: trace). RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a hub server.
    Serve(serve::ServeArgs),
    /// Interactive client: stdin lines, without their \n or \r\n (raw framing: its bytes), go to the server, messages are printed.
    Connect(client_cmds::ConnectArgs),
    /// Connect, send one message (with --wait-reply: wait for a reply and print it), close.
    Send(client_cmds::SendArgs),
}

/// Wire framing, as named on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum FramingArg {
    /// Newline-delimited text (works with ncat and telnet).
    Lines,
    /// 4-byte big-endian length prefix.
    #[value(alias = "length")]
    Len,
    /// No framing: bytes as they arrive.
    Raw,
}

impl FramingArg {
    /// The command-line name of `f`.
    pub(crate) fn name_of(f: tcphub::Framing) -> &'static str {
        match f {
            tcphub::Framing::Lines { .. } => "lines",
            tcphub::Framing::LengthPrefixed { .. } => "len",
            tcphub::Framing::Raw => "raw",
        }
    }

    pub(crate) fn framing(self) -> tcphub::Framing {
        match self {
            FramingArg::Lines => tcphub::Framing::lines(),
            FramingArg::Len => tcphub::Framing::length_prefixed(),
            FramingArg::Raw => tcphub::Framing::Raw,
        }
    }
}

/// Value parser for `SECS` flags: seconds, 0 or more (a bad value is a
/// usage error, exit code 2, before anything runs).
pub(crate) fn secs(text: &str) -> Result<std::time::Duration, String> {
    let secs = text
        .parse::<f64>()
        .ok()
        .filter(|s| *s >= 0.0) // not negative, not NaN
        .ok_or_else(|| "must be a number of seconds, 0 or more".to_string())?;
    // `inf`, `1e300`: "0 or more" would be no reason (they are).
    std::time::Duration::try_from_secs_f64(secs).map_err(|_| {
        format!(
            "must be a finite number of seconds below {:e}",
            std::time::Duration::MAX.as_secs_f64()
        )
    })
}

/// Value parser for counts that must be 1 or more (`--max`, `--threads`):
/// 0 is a usage error, exit code 2, not a failed start.
pub(crate) fn at_least_one(text: &str) -> Result<usize, String> {
    text.parse::<usize>()
        .ok()
        .filter(|&n| n >= 1)
        .ok_or_else(|| format!("must be a whole number from 1 to {}", usize::MAX))
}

/// Value parser for `--threads`: 1 to [`tcphub::MAX_THREADS`] (past it
/// the server would refuse to start; a usage error, exit code 2, instead).
pub(crate) fn threads(text: &str) -> Result<usize, String> {
    text.parse::<usize>()
        .ok()
        .filter(|n| (1..=tcphub::MAX_THREADS).contains(n))
        .ok_or_else(|| format!("must be a whole number from 1 to {}", tcphub::MAX_THREADS))
}

/// Value parser for `--busy-poll-us`: a whole number of microseconds, 0
/// to [`tcphub::MAX_BUSY_POLL`], every bad value (negative, fractional,
/// past the bound) saying that range, as `python -m tcphub serve` does.
pub(crate) fn busy_poll_micros(text: &str) -> Result<u64, String> {
    let most = tcphub::MAX_BUSY_POLL.as_micros() as u64;
    text.parse::<u64>()
        .ok()
        .filter(|n| *n <= most)
        .ok_or_else(|| format!("must be a whole number of microseconds from 0 to {most}"))
}

/// A command line the command cannot use (a server address without a
/// port, say) found past clap's own checks: reported as
/// `tcphub: <message>`, with the usage-error exit code 2 as clap's are.
#[derive(Debug)]
pub(crate) struct UsageError(pub(crate) String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Value parser for `--bind`: an IP address, IPv6 also in brackets
/// (`[::1]`, as `listening on [::1]:8001` prints it). A name or a zone is a
/// usage error that says what is taken (a zone cannot be bound to: the
/// server takes an address alone).
pub(crate) fn bind_ip(text: &str) -> Result<std::net::IpAddr, String> {
    tcphub::parse_bind_ip(text).ok_or_else(|| {
        "must be an IP address, e.g. 0.0.0.0, 127.0.0.1, :: or [::1] \
             (not a host name, no %zone)"
            .to_string()
    })
}

/// [`secs`], above zero.
pub(crate) fn positive_secs(text: &str) -> Result<std::time::Duration, String> {
    const POSITIVE: &str = "must be a positive number of seconds";
    if !text.parse::<f64>().is_ok_and(|s| s > 0.0) {
        return Err(POSITIVE.to_string());
    }
    // Positive: `secs` says why past its range (`inf`, `1e300`).
    let d = secs(text)?;
    if d.is_zero() {
        // 1e-12 is positive, but below the nanosecond durations count in.
        return Err(format!("{POSITIVE}, 1e-9 at least"));
    }
    Ok(d)
}

/// `--keepalive`: positive seconds, at most [`tcphub::MAX_KEEPALIVE`] (the
/// engine would refuse more only once the hub starts or the client
/// connects; a usage error says so before anything runs, as for every
/// other bad value).
pub(crate) fn keepalive_secs(text: &str) -> Result<std::time::Duration, String> {
    let most = tcphub::MAX_KEEPALIVE;
    positive_secs(text).and_then(|d| {
        if d > most {
            Err(format!(
                "must be at most {} seconds (the most the kernel takes)",
                most.as_secs()
            ))
        } else {
            Ok(d)
        }
    })
}

/// Writes `tcphub: <msg>` and a newline to stderr, as one write, ignoring
/// a failure: a stderr that cannot be written (`2>/dev/full`, a closed
/// pipe) must not turn an error into a panic (exit code 101) nor end the
/// thread that was reporting it before it has done its part.
pub(crate) fn complain(msg: impl std::fmt::Display) {
    to_stderr(format_args!("tcphub: {msg}"));
}

/// Writes `line` and a newline to stderr as one write, ignoring a failure
/// (see [`complain`]; `eprintln!` panics instead), and never waiting for
/// stderr: dropped (and counted) when it would (see [`stderr`]).
pub(crate) fn to_stderr(line: impl std::fmt::Display) {
    stderr::write(format!("{line}\n").as_bytes());
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let default_level = match cli.verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    let mut logger =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(default_level));
    // Through a writer that never waits for stderr (see `stderr`). The
    // logger colours only its own stderr target by itself: the same choice
    // (a terminal, NO_COLOR, CLICOLOR...) unless RUST_LOG_STYLE makes one.
    if std::env::var_os("RUST_LOG_STYLE").is_none_or(|s| s == "auto") {
        let colour = anstream::AutoStream::choice(&std::io::stderr());
        logger.write_style(if colour == anstream::ColorChoice::Never {
            env_logger::WriteStyle::Never
        } else {
            env_logger::WriteStyle::Always
        });
    }
    logger
        .target(env_logger::Target::Pipe(Box::new(stderr::Sink)))
        .format_target(false)
        .init();
    let result = match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Connect(args) => client_cmds::connect(args),
        Command::Send(args) => client_cmds::send(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            complain(&e);
            if e.is::<UsageError>() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
