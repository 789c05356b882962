//! Network namespaces for the tests of peers that vanish or whose path
//! fails or loses packets (`keepalive_dead_peer.rs`, `review_vanish.rs`,
//! `review_lossy_path.rs`): on loopback a peer cannot vanish — its kernel
//! answers for it — so these tests move their thread into a namespace of
//! its own (`unshare(CLONE_NEWNET)`, root only) and take its loopback
//! down, or put the peer in a second namespace behind a veth pair
//! (iproute2's `ip`) and cut that, or behind a router namespace whose
//! queues drop packets ([`Route`], with `tc`).

use std::net::TcpStream;
use std::sync::mpsc;

use super::TIMEOUT;

/// Moves this thread (and the threads it starts from now on) into a new
/// network namespace with its loopback interface up. `false` when this
/// process may not (not root) and the test should be skipped — unless
/// `TCPHUB_REQUIRE_NETNS` is set (`scripts/test.sh` sets it as root): then
/// it fails the test.
pub fn own_network() -> bool {
    // SAFETY: plain system call; it affects this thread only.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
        let err = std::io::Error::last_os_error();
        assert!(
            std::env::var_os("TCPHUB_REQUIRE_NETNS").is_none(),
            "TCPHUB_REQUIRE_NETNS is set but no network namespace could be made: {err}"
        );
        eprintln!("skipped: a network namespace needs root ({err})");
        return false;
    }
    set_loopback(true);
    true
}

/// Brings this namespace's `lo` up or down (`SIOCSIFFLAGS`).
pub fn set_loopback(up: bool) {
    // SAFETY: an ioctl on a socket we own with a zeroed, NUL-terminated
    // `ifreq`; the socket is closed after.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
        let mut req: libc::ifreq = std::mem::zeroed();
        for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
            *dst = *src as libc::c_char;
        }
        let got = libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut req);
        assert_eq!(got, 0, "SIOCGIFFLAGS: {}", std::io::Error::last_os_error());
        let flags = req.ifr_ifru.ifru_flags;
        let up_flags = (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
        req.ifr_ifru.ifru_flags = if up {
            flags | up_flags
        } else {
            flags & !up_flags
        };
        let set = libc::ioctl(fd, libc::SIOCSIFFLAGS, &req);
        assert_eq!(set, 0, "SIOCSIFFLAGS: {}", std::io::Error::last_os_error());
        libc::close(fd);
    }
}

/// Runs `ip ARGS` (in the calling thread's network namespace).
pub fn ip(args: &[&str]) {
    let out = std::process::Command::new("ip")
        .args(args)
        .output()
        .expect("run ip (iproute2)");
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `ss -tino` for the established connections of this thread's namespace,
/// for failure messages and the kernel's timers.
pub fn ss() -> String {
    std::process::Command::new("ss")
        .args(["-tino", "state", "established"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// The row of the TCP socket from local port `local` to peer port `peer`
/// in this thread's network namespace (`/proc/thread-self/net/tcp`:
/// `/proc/net` is the main thread's namespace), split into its fields: `[3]`
/// the state (hex, as the kernel lists it: 01 established, 04 FIN_WAIT1),
/// `[4]` `tx_queue:rx_queue` (sent and not acknowledged, received and not
/// read, hex).
pub fn tcp_row(local: u16, peer: u16) -> Option<Vec<String>> {
    let table = std::fs::read_to_string("/proc/thread-self/net/tcp").ok()?;
    let port = |s: &str| u16::from_str_radix(s.rsplit(':').next()?, 16).ok();
    table.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        (f.len() > 4 && port(f[1]) == Some(local) && port(f[2]) == Some(peer))
            .then(|| f.iter().map(|s| s.to_string()).collect())
    })
}

/// `rx_queue` (received, not read yet) of the socket [`tcp_row`] finds.
pub fn unread(local: u16, peer: u16) -> Option<u64> {
    let row = tcp_row(local, peer)?;
    u64::from_str_radix(row[4].split_once(':')?.1, 16).ok()
}

/// `tx_queue` (sent, not acknowledged yet) of the socket [`tcp_row`] finds.
pub fn unacknowledged(local: u16, peer: u16) -> Option<u64> {
    let row = tcp_row(local, peer)?;
    u64::from_str_radix(row[4].split_once(':')?.0, 16).ok()
}

/// Our address on the cable ([`Remote::cable`]).
pub const NEAR: &str = "10.77.0.1";

/// A thread in a network namespace of its own that runs what it is given
/// there: sockets it makes, and commands it starts, are in that namespace.
pub struct Remote {
    tx: mpsc::Sender<Box<dyn FnOnce() + Send>>,
    tid: libc::pid_t,
}

impl Remote {
    /// The remote namespace, joined to the calling thread's (its own, from
    /// [`own_network`]) by a veth pair: [`NEAR`] here, 10.77.0.2 there.
    pub fn cable() -> Remote {
        let remote = Remote::spawn();
        let tid = remote.tid.to_string();
        ip(&[
            "link", "add", "tcphub0", "type", "veth", "peer", "name", "tcphub1", "netns", &tid,
        ]);
        ip(&["addr", "add", &format!("{NEAR}/30"), "dev", "tcphub0"]);
        ip(&["link", "set", "tcphub0", "up"]);
        remote.run(|| {
            ip(&["addr", "add", "10.77.0.2/30", "dev", "tcphub1"]);
            ip(&["link", "set", "tcphub1", "up"]);
        });
        remote
    }

    /// A thread in a new, empty network namespace (its loopback up).
    fn spawn() -> Remote {
        let (tx, rx) = mpsc::channel::<Box<dyn FnOnce() + Send>>();
        let (tid_tx, tid_rx) = mpsc::channel();
        std::thread::spawn(move || {
            // SAFETY: plain system calls affecting this thread only.
            let ok = unsafe { libc::unshare(libc::CLONE_NEWNET) } == 0;
            let tid = unsafe { libc::gettid() };
            tid_tx.send(ok.then_some(tid)).unwrap();
            for job in rx {
                job();
            }
        });
        let tid = tid_rx
            .recv()
            .unwrap()
            .expect("unshare for the remote namespace");
        let remote = Remote { tx, tid };
        remote.run(|| set_loopback(true));
        remote
    }

    /// Runs `f` on the remote thread and returns its result.
    pub fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = mpsc::channel();
        self.tx
            .send(Box::new(move || tx.send(f()).unwrap()))
            .unwrap();
        rx.recv_timeout(TIMEOUT)
            .expect("the remote thread answered")
    }

    /// A plain socket connected from the remote side to `addr`.
    pub fn connect(&self, addr: std::net::SocketAddr) -> TcpStream {
        self.run(move || {
            let s = TcpStream::connect_timeout(&addr, TIMEOUT).expect("connect over the veth");
            s.set_read_timeout(Some(TIMEOUT)).unwrap();
            s
        })
    }

    /// Pulls the remote end of the cable for good: our packets are
    /// dropped at our own veth, and the kernel resends them in vain.
    pub fn unplug(&self) {
        self.run(|| ip(&["link", "set", "tcphub1", "down"]));
    }

    /// Cuts the path (`up == false`) or mends it: the remote side drops
    /// its address, so what reaches it is dropped there, silently, as on a
    /// path that fails somewhere out there. (Pulling its end of the cable
    /// would drop our packets at our own veth, and something answers the
    /// moment it is plugged back in.)
    pub fn path(&self, up: bool) {
        self.run(move || {
            let verb = if up { "add" } else { "del" };
            ip(&["addr", verb, "10.77.0.2/30", "dev", "tcphub1"]);
        });
    }
}

/// The far host's address behind the router ([`Route::new`]).
pub const FAR: &str = "10.77.0.6";

/// A path with a router on it: this thread's namespace ([`NEAR`]) is cabled
/// to a `middle` namespace that forwards to a `far` one ([`FAR`]). What the
/// router queues and drops (`tc` on its two ends, [`Route::shape`]) is lost
/// out there, as on the internet: the senders' kernels learn of it only by
/// the missing acknowledgements, and resend. (A qdisc on a sender's own
/// device would tell its TCP at once that a packet did not fit, and TCP
/// would simply hold it back: no loss.)
pub struct Route {
    pub middle: Remote,
    pub far: Remote,
}

/// The router's device towards the far host ([`Route`]).
pub const TOWARDS_FAR: &str = "tcphub2";
/// The router's device towards us ([`Route`]).
pub const TOWARDS_NEAR: &str = "tcphub1";

impl Route {
    /// Namespaces and cables: tcphub0 (here, [`NEAR`]) — tcphub1 (middle,
    /// 10.77.0.2) | tcphub2 (middle, 10.77.0.5) — tcphub3 (far, [`FAR`]).
    pub fn new() -> Route {
        let middle = Remote::spawn();
        let far = Remote::spawn();
        let (mid, far_tid) = (middle.tid.to_string(), far.tid.to_string());
        ip(&[
            "link", "add", "tcphub0", "type", "veth", "peer", "name", "tcphub1", "netns", &mid,
        ]);
        ip(&["addr", "add", &format!("{NEAR}/30"), "dev", "tcphub0"]);
        ip(&["link", "set", "tcphub0", "up"]);
        ip(&["route", "add", "10.77.0.4/30", "via", "10.77.0.2"]);
        middle.run(move || {
            ip(&[
                "link", "add", "tcphub2", "type", "veth", "peer", "name", "tcphub3", "netns",
                &far_tid,
            ]);
            ip(&["addr", "add", "10.77.0.2/30", "dev", "tcphub1"]);
            ip(&["addr", "add", "10.77.0.5/30", "dev", "tcphub2"]);
            ip(&["link", "set", "tcphub1", "up"]);
            ip(&["link", "set", "tcphub2", "up"]);
            // (/proc/sys/net is the opening thread's namespace's.)
            std::fs::write("/proc/sys/net/ipv4/ip_forward", "1").expect("enable forwarding");
        });
        far.run(|| {
            ip(&["addr", "add", &format!("{FAR}/30"), "dev", "tcphub3"]);
            ip(&["link", "set", "tcphub3", "up"]);
            ip(&["route", "add", "10.77.0.0/30", "via", "10.77.0.5"]);
        });
        Route { middle, far }
    }

    /// Puts `qdisc` (`tc qdisc add dev DEV root ...` arguments, e.g.
    /// `["tbf", "rate", "200kbit", ...]`) on the router's device `dev`
    /// ([`TOWARDS_FAR`] or [`TOWARDS_NEAR`]).
    pub fn shape(&self, dev: &'static str, qdisc: &[&str]) {
        let qdisc: Vec<String> = qdisc.iter().map(|s| s.to_string()).collect();
        self.middle.run(move || {
            let out = std::process::Command::new("tc")
                .args(["qdisc", "add", "dev", dev, "root"])
                .args(&qdisc)
                .output()
                .expect("run tc (iproute2)");
            assert!(
                out.status.success(),
                "tc qdisc add dev {dev} root {qdisc:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        });
    }

    /// `tc -s qdisc show dev DEV` on the router.
    pub fn qdisc(&self, dev: &'static str) -> String {
        self.middle.run(move || {
            std::process::Command::new("tc")
                .args(["-s", "qdisc", "show", "dev", dev])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default()
        })
    }

    /// The packets the router's qdiscs on `dev` dropped so far.
    pub fn dropped(&self, dev: &'static str) -> u64 {
        self.qdisc(dev)
            .split("(dropped ")
            .skip(1)
            .filter_map(|s| s.split(',').next()?.trim().parse::<u64>().ok())
            .max()
            .unwrap_or(0)
    }
}
