//! Starting and stopping the servers under test, each in its own process.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A server implementation the benchmark knows how to start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `tcphub serve` (the CLI on the Rust engine), one event loop per core.
    Tcphub,
    /// `tcphub serve --threads 1`: one event loop.
    Tcphub1,
    /// `tcphub serve --busy-poll-us 0`: loops sleep as soon as they run out
    /// of work (the default polls 5 µs first).
    TcphubSpin,
    /// The tuned tokio baseline (`tokio-hub`).
    Tokio,
    /// `tokio-hub --coalesce`: the relay forwards all complete frames of
    /// one read as one shared buffer — by hand, the coalescing tcphub's
    /// engine does behind `send_all` (relay only; its echo is `tokio`'s).
    TokioCoalesced,
    /// A plain asyncio server in Python (`bench/asyncio_hub.py`).
    Asyncio,
    /// `ncat --broker` (relay only; does not send a frame back to its sender).
    Ncat,
    /// `python -m tcphub serve` (Python callbacks on the dispatcher thread).
    PyCallback,
    /// `bench/py_relay.py --variant poll` (Python, batch pull).
    PyPoll,
    /// `examples/c/relay_server` (C, callbacks through libtcphub).
    C,
    /// `bench/c_epoll_echo.c`: a minimal epoll echo server in C, two
    /// threads, echoing each read's bytes as they came — the least
    /// user-space work per message, a ceiling for every server on the host
    /// (echo and capacity only).
    EpollC,
}

impl Kind {
    /// Name used on the command line and in the report.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Tcphub => "tcphub",
            Kind::Tcphub1 => "tcphub-1-loop",
            Kind::TcphubSpin => "tcphub-no-busy-poll",
            Kind::Tokio => "tokio",
            Kind::TokioCoalesced => "tokio-coalesced",
            Kind::Asyncio => "asyncio",
            Kind::Ncat => "ncat-broker",
            Kind::PyCallback => "tcphub-python-callback",
            Kind::PyPoll => "tcphub-python-poll",
            Kind::C => "tcphub-c",
            Kind::EpollC => "c-epoll-minimal",
        }
    }

    /// Parses a name given on the command line.
    pub fn parse(s: &str) -> Result<Kind, String> {
        [
            Kind::Tcphub,
            Kind::Tcphub1,
            Kind::TcphubSpin,
            Kind::Tokio,
            Kind::TokioCoalesced,
            Kind::Asyncio,
            Kind::Ncat,
            Kind::PyCallback,
            Kind::PyPoll,
            Kind::C,
            Kind::EpollC,
        ]
        .into_iter()
        .find(|k| k.name() == s)
        .ok_or_else(|| format!("unknown server {s:?}"))
    }

    /// Whether the relay sends a frame back to its sender too.
    pub fn self_delivery(self) -> bool {
        self != Kind::Ncat
    }

    /// Whether it has an echo mode.
    pub fn echoes(self) -> bool {
        matches!(
            self,
            Kind::Tcphub
                | Kind::Tcphub1
                | Kind::TcphubSpin
                | Kind::Tokio
                | Kind::Asyncio
                | Kind::EpollC
        )
    }

    /// Whether it has a relay mode (for the fan-out).
    pub fn relays(self) -> bool {
        self != Kind::EpollC
    }

    /// Whether the capacity and accept-burst scenarios run against it.
    pub fn capacity(self) -> bool {
        matches!(
            self,
            Kind::Tcphub | Kind::Tcphub1 | Kind::Tokio | Kind::EpollC
        )
    }

    /// Slow servers get smaller runs (rates are per second either way).
    pub fn scale(self) -> f64 {
        match self {
            Kind::Asyncio => 0.1,
            _ => 1.0,
        }
    }
}

/// Where to find the programs.
#[derive(Debug, Clone)]
pub struct Env {
    /// Directory holding `tcphub` and `tokio-hub` (the cargo target dir).
    pub bin_dir: PathBuf,
    /// Repository root (for bench/*.py and examples/).
    pub root: PathBuf,
    /// Python with `tcphub` installed (for the Python variants).
    pub python: String,
}

/// A running server process.
#[derive(Debug)]
pub struct Server {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl Server {
    /// Starts `kind` in `mode` ("relay" or "echo") on a free port and waits
    /// until it accepts connections.
    pub fn start(kind: Kind, mode: &str, env: &Env) -> Result<Server, String> {
        let port = free_port()?;
        let p = port.to_string();
        let exe = |name: &str| env.bin_dir.join(name);
        let mut cmd = match kind {
            Kind::Tcphub => {
                let mut c = Command::new(exe("tcphub"));
                c.args(serve_args(&p, mode)).env("RUST_LOG", "warn");
                c
            }
            Kind::Tcphub1 => {
                let mut c = Command::new(exe("tcphub"));
                c.args(serve_args(&p, mode))
                    .args(["--threads", "1"])
                    .env("RUST_LOG", "warn");
                c
            }
            Kind::TcphubSpin => {
                let mut c = Command::new(exe("tcphub"));
                c.args(serve_args(&p, mode))
                    .args(["--busy-poll-us", "0"])
                    .env("RUST_LOG", "warn");
                c
            }
            Kind::Tokio => {
                let mut c = Command::new(exe("tokio-hub"));
                c.args(["--port", &p, "--mode", mode]);
                c
            }
            Kind::TokioCoalesced => {
                let mut c = Command::new(exe("tokio-hub"));
                c.args(["--port", &p, "--mode", mode, "--coalesce"]);
                c
            }
            Kind::Asyncio => {
                let mut c = Command::new(&env.python);
                c.arg(env.root.join("bench/asyncio_hub.py"))
                    .args(["--port", &p, "--mode", mode]);
                c
            }
            Kind::Ncat => {
                let mut c = Command::new("ncat");
                c.args([
                    "--broker",
                    "--listen",
                    "127.0.0.1",
                    &p,
                    "--max-conns",
                    "20000",
                ]);
                c
            }
            Kind::PyCallback => {
                let mut c = Command::new(&env.python);
                c.args(["-m", "tcphub"]).args(serve_args(&p, mode));
                c
            }
            Kind::PyPoll => {
                let mut c = Command::new(&env.python);
                c.arg(env.root.join("bench/py_relay.py"))
                    .args(["--port", &p, "--variant", "poll"]);
                c
            }
            Kind::C => {
                let mut c = Command::new(env.root.join("target/bench-c/relay_server"));
                c.arg(&p);
                c
            }
            Kind::EpollC => {
                if mode != "echo" {
                    return Err(format!("{} has no {mode} mode", kind.name()));
                }
                let mut c = Command::new(env.root.join("target/bench-c/c_epoll_echo"));
                c.args([p.as_str(), "2"]);
                c
            }
        };
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", kind.name()))?;
        let mut server = Server {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if TcpStream::connect_timeout(&server.addr, Duration::from_secs(1)).is_ok() {
                // The probe connection is closed at once; give the server a
                // moment to notice so it is not counted in later runs.
                std::thread::sleep(Duration::from_millis(50));
                return Ok(server);
            }
            if let Ok(Some(st)) = server.child.try_wait() {
                return Err(format!("{} exited before listening: {st}", kind.name()));
            }
            if Instant::now() > deadline {
                server.stop();
                return Err(format!("{} did not start listening", kind.name()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops the process (SIGTERM, then SIGKILL after 5 s).
    pub fn stop(&mut self) {
        // SAFETY: sending a signal to our own child.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.stop();
        }
    }
}

/// `serve` arguments shared by the tcphub CLI and `python -m tcphub`.
fn serve_args<'a>(port: &'a str, mode: &'a str) -> [&'a str; 11] {
    [
        "serve",
        "--bind",
        "127.0.0.1",
        "--port",
        port,
        "--max",
        "20000",
        "--framing",
        "len",
        "--mode",
        mode,
    ]
}

fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    l.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}
