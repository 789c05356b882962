//! The tables of BENCHMARKS.md: per-scenario results over the rounds, and
//! the page rendered from their medians (with the targets of issue #6).

use std::fmt::Write as _;

use crate::report::{self, human, median};
use crate::servers::Kind;
use crate::{CAPACITY_THREADS, WINDOW};

/// Per-scenario, per-server values over the rounds.
#[derive(Debug, Default)]
pub struct Results {
    rows: Vec<(String, Kind, Vec<Vec<f64>>)>,
}

impl Results {
    pub fn add(&mut self, scenario: &str, kind: Kind, values: Vec<f64>) {
        match self
            .rows
            .iter_mut()
            .find(|r| r.0 == scenario && r.1 == kind)
        {
            Some(r) => r.2.push(values),
            None => self.rows.push((scenario.to_string(), kind, vec![values])),
        }
    }

    /// Median over rounds of value `i`.
    pub fn med(&self, scenario: &str, kind: Kind, i: usize) -> f64 {
        self.rows
            .iter()
            .find(|r| r.0 == scenario && r.1 == kind)
            .map_or(f64::NAN, |r| {
                median(&r.2.iter().map(|v| v[i]).collect::<Vec<_>>())
            })
    }

    fn rounds(&self, scenario: &str, kind: Kind) -> usize {
        self.rows
            .iter()
            .find(|r| r.0 == scenario && r.1 == kind)
            .map_or(0, |r| r.2.len())
    }
}

#[allow(clippy::too_many_arguments)]
pub fn render(
    res: &Results,
    kinds: &[Kind],
    fan_ns: &[usize],
    rounds: usize,
    quick: bool,
    cap_conns: usize,
    failures: &[String],
    note: &str,
) -> String {
    let mut s = String::new();
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let _ = writeln!(s, "# tcphub benchmarks\n");
    let _ = writeln!(s, "Measured on {}; commit `{commit}`; {rounds} rounds, servers alternating order each round; medians shown.{}", report::machine(), if quick { " **Quick mode** (small runs)." } else { "" });
    let _ = writeln!(s, "The load generator and every server share the same 2 cores over loopback, so absolute numbers are lower than on a real network with separate client machines; the ratios are the point.\n");
    if !note.is_empty() {
        let _ = writeln!(s, "{note}\n");
    }
    let _ = writeln!(
        s,
        "Reproduce: `scripts/bench.sh` (full) or `scripts/bench.sh --quick`.\n"
    );
    let _ = writeln!(s, "![fan-out chart](bench/fanout.svg)\n");
    let base = Kind::Tokio;
    let ratio = |a: f64, b: f64| {
        if a.is_finite() && b.is_finite() && b > 0.0 {
            format!("{:.2}×", a / b)
        } else {
            "–".into()
        }
    };
    let _ = writeln!(s, "## Fan-out\n\nOne sender sends 64-byte messages as fast as the slowest receiver allows (at most {WINDOW} ahead); each of N receivers must get every message, in order, once (checked up to an end frame the sender writes after the last). Deliveries/s = messages × receivers / time.\n");
    // The relay that coalesces by hand, when it ran: a second column.
    let strong = kinds
        .contains(&Kind::TokioCoalesced)
        .then_some(Kind::TokioCoalesced);
    let (strong_head, strong_rule) = match strong {
        Some(_) => (" vs tokio-coalesced |", "---:|"),
        None => ("", ""),
    };
    let _ = writeln!(s, "| receivers | server | deliveries/s | MB/s | vs tokio |{strong_head} rounds |\n|---:|---|---:|---:|---:|{strong_rule}---:|");
    for &n in fan_ns {
        let scen = format!("fanout-{n}");
        for &k in kinds.iter().filter(|k| k.relays()) {
            let d = res.med(&scen, k, 0);
            let vs_strong = strong
                .map(|b| format!(" {} |", ratio(d, res.med(&scen, b, 0))))
                .unwrap_or_default();
            let _ = writeln!(
                s,
                "| {n} | {} | {} | {:.1} | {} |{vs_strong} {} |",
                k.name(),
                human(d),
                res.med(&scen, k, 1),
                ratio(d, res.med(&scen, base, 0)),
                res.rounds(&scen, k)
            );
        }
    }
    let _ = writeln!(s, "\n## Echo\n\n100 clients, each keeping 8 messages of 64 bytes in flight; round trips counted after a 0.5 s warm-up (those whose echo is read before the time is up; every message still in flight must then come back). Latency from an HDR histogram of every round trip counted. The load is a closed loop: a client sends only when an echo comes back, so at a given rate the mean round trip is 800 in flight / msgs/s (Little's law), and a server stall delays only the 800 messages in flight — the ones it kept from being sent are in no histogram (coordinated omission); read the tail as a comparison between servers, not as a latency under a fixed offered load.{}\n", if kinds.contains(&Kind::EpollC) { " `c-epoll-minimal` is not a library but a ceiling: a minimal C epoll server (`bench/c_epoll_echo.c`, two threads, one `SO_REUSEPORT` listener each) that echoes each read's bytes as they came, with no framing, queues or limits — the least user-space work a server can do per message on this host." } else { "" });
    let _ = writeln!(s, "| server | msgs/s | p50 µs | p99 µs | p99.9 µs | vs tokio (msgs/s) |\n|---|---:|---:|---:|---:|---:|");
    for &k in kinds.iter().filter(|k| k.echoes()) {
        let m = res.med("echo", k, 0);
        let _ = writeln!(
            s,
            "| {} | {} | {:.0} | {:.0} | {:.0} | {} |",
            k.name(),
            human(m),
            res.med("echo", k, 1),
            res.med("echo", k, 2),
            res.med("echo", k, 3),
            ratio(m, res.med("echo", base, 0))
        );
    }
    let _ = writeln!(s, "\n## Capacity\n\n{cap_conns} connections opened by {CAPACITY_THREADS} non-blocking generator threads, at most min(1024, somaxconn/2) in progress at a time, each proven served by one echo round trip (so the listen backlog of 4096 never overflows); then all held idle; RSS growth of the server process per connection. The rate is connections opened and served per second; the generator's own `connect` calls (the kernel runs both ends of the loopback handshake in them) take more than half of the two cores. The generator does only what a client must (since 2026-11-30; rates before are ~10–15 % lower for every server): sockets created non-blocking, the local port picked at `connect` (`IP_BIND_ADDRESS_NO_PORT`), no `TCP_NODELAY`, the frame written right after `connect` — 7 system calls per connection instead of 10. *Accept burst* is the server's own accept rate with the generator out of the way: the server process is stopped (`SIGSTOP`) while min(2048, somaxconn/2) connections complete their handshakes into its listen backlog and each writes one frame, then resumed (`SIGCONT`); connections per second of draining until every echo is back, in batches up to {cap_conns}.\n");
    let _ = writeln!(
        s,
        "| server | RSS per connection | connections/s | accept burst, connections/s |\n|---|---:|---:|---:|"
    );
    for &k in kinds.iter().filter(|k| k.capacity()) {
        let _ = writeln!(
            s,
            "| {} | {:.0} B | {} | {} |",
            k.name(),
            res.med("capacity", k, 0),
            human(res.med("capacity", k, 1)),
            human(res.med("burst", k, 0))
        );
    }
    let _ = writeln!(
        s,
        "\n## Targets\n\n| target | measured | met |\n|---|---:|:---:|"
    );
    let t = Kind::Tcphub;
    let mut target = |name: String, value: f64, ok: bool, shown: String| {
        let _ = writeln!(
            s,
            "| {name} | {shown} | {} |",
            if !value.is_finite() {
                "–"
            } else if ok {
                "yes"
            } else {
                "**no**"
            }
        );
    };
    for &n in fan_ns.iter().filter(|&&n| n >= 100) {
        let scen = format!("fanout-{n}");
        let r = res.med(&scen, t, 0) / res.med(&scen, base, 0);
        target(
            format!("fan-out {n}: ≥ 2.0× tokio"),
            r,
            r >= 2.0,
            format!("{r:.2}×"),
        );
    }
    if let Some(b) = strong {
        // Not the baseline (that is the chat-example relay above):
        // shown so the fan-out lead is read for what it is.
        for &n in fan_ns.iter().filter(|&&n| n >= 100) {
            let scen = format!("fanout-{n}");
            let r = res.med(&scen, t, 0) / res.med(&scen, b, 0);
            target(
                format!(
                    "fan-out {n}: ≥ 2.0× tokio-coalesced (stronger baseline, beyond the issue)"
                ),
                r,
                r >= 2.0,
                format!("{r:.2}×"),
            );
        }
    }
    let r = res.med("echo", t, 0) / res.med("echo", base, 0);
    target(
        "echo: ≥ 1.5× tokio msgs/s".into(),
        r,
        r >= 1.5,
        format!("{r:.2}×"),
    );
    let (a, b) = (res.med("echo", t, 2), res.med("echo", base, 2));
    target(
        "echo: p99 no worse than tokio".into(),
        a / b,
        a <= b,
        format!("{a:.0} vs {b:.0} µs"),
    );
    let rss = res.med("capacity", t, 0);
    target(
        "≤ 4 KiB RSS per idle connection".into(),
        rss,
        rss <= 4096.0,
        format!("{rss:.0} B"),
    );
    let acc = res.med("capacity", t, 1);
    target(
        "≥ 40k connections/s accepted (opened and served)".into(),
        acc,
        acc >= 40_000.0,
        human(acc),
    );
    let burst = res.med("burst", t, 0);
    target(
        "≥ 40k connections/s accepted (accept burst)".into(),
        burst,
        burst >= 40_000.0,
        human(burst),
    );
    for (k, want, label) in [
        (
            Kind::PyCallback,
            0.25,
            "Python callback relay ≥ 25% of Rust (fan-out 100)",
        ),
        (Kind::C, 0.95, "C relay ≥ 95% of Rust (fan-out 100)"),
    ] {
        if kinds.contains(&k) {
            let r = res.med("fanout-100", k, 0) / res.med("fanout-100", t, 0);
            target(label.into(), r, r >= want, format!("{:.0}%", r * 100.0));
        }
    }
    if kinds.contains(&Kind::EpollC) {
        // What no server can beat here: the targets set as ratios to tokio
        // are out of reach wherever even this one misses them.
        let c = Kind::EpollC;
        let _ = writeln!(
            s,
            "\nThe ceiling on this host ({}: no framing, no queues, no limits): echo {} tokio's msgs/s, {} connections/s opened and served, {} in an accept burst.",
            c.name(),
            ratio(res.med("echo", c, 0), res.med("echo", base, 0)),
            human(res.med("capacity", c, 1)),
            human(res.med("burst", c, 0)),
        );
    }
    if !failures.is_empty() {
        let _ = writeln!(s, "\n## Failed runs\n");
        for f in failures {
            let _ = writeln!(s, "- {f}");
        }
    }
    s
}
