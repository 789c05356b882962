//! Lingering sockets whose reads stop at their budget are read again on
//! the next turn (`Lingering::again`, c724915). A second review's checks:
//! peers that flood their lingering sockets without end do not starve the
//! loop's other clients (each socket gets at most its budget per turn, as a
//! client's read does), and once they stop sending — their sockets still
//! open, our last bytes still unacknowledged, so they linger on — the loop
//! sleeps again instead of turning without a wait for a re-read list that
//! finds nothing. In a file of its own: it finds the loop's thread by its
//! name among the process's threads.
#![cfg(target_os = "linux")]

mod support;

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::*;
use tcphub::{DisconnectReason, Framing, TcpServer};

/// Peers kicked while they flood.
const FLOODERS: usize = 8;

/// CPU time (user + system, in clock ticks) the thread has used.
fn cpu_ticks(tid: &str) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).expect("stat");
    // After the command's ")": state is field 3, utime 14, stime 15.
    let rest = &stat[stat.rfind(')').expect("comm") + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

/// A thread writing lines on `stream` as fast as it can until `stop` (or a
/// write fails); counts the bytes written in `sent`.
fn flood(
    mut stream: std::net::TcpStream,
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicUsize>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        stream
            .set_write_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let mut line = vec![b'x'; 4095];
        line.push(b'\n');
        let chunk = line.repeat(16);
        while !stop.load(Ordering::Acquire) {
            match stream.write(&chunk) {
                Ok(n) => {
                    sent.fetch_add(n, Ordering::Relaxed);
                }
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(_) => break,
            }
        }
    })
}

#[test]
fn flooding_lingering_peers_neither_starve_others_nor_keep_a_quiet_loop_awake() {
    let gone = Disconnects::new();
    let server = TcpServer::new(0, 100)
        .bind(localhost())
        .threads(1)
        .framing(Framing::lines())
        // Longer than any wait here: only the peers end their sockets.
        .linger(Duration::from_secs(120))
        .on_message(move |srv, c, msg| {
            if msg == b"bye" {
                for _ in 0..4 {
                    srv.send(c.id, &vec![b'g'; GOODBYE_LINE]).expect("goodbye");
                }
                srv.disconnect(c.id).expect("kick");
            } else if msg.first() != Some(&b'x') {
                let _ = srv.send(c.id, msg); // echo
            }
        })
        .on_disconnect(gone.recorder())
        .start()
        .unwrap();
    room_for_goodbye(&server);
    let addr = server.local_addr();

    // Peers that do not read (the goodbye stays unacknowledged: their
    // sockets linger) and flood from before their kick on.
    let stop = Arc::new(AtomicBool::new(false));
    let mut floods = Vec::new();
    let mut peers = Vec::new();
    let mut sent = Vec::new();
    for _ in 0..FLOODERS {
        let mut p = Peer::connect_with_rcvbuf(addr, 4096);
        let id = p.id_on(&server);
        p.send_line("bye");
        let n = Arc::new(AtomicUsize::new(0));
        floods.push(flood(
            p.stream.try_clone().unwrap(),
            stop.clone(),
            n.clone(),
        ));
        sent.push(n);
        assert_eq!(gone.wait_for(id), DisconnectReason::Kicked);
        peers.push(p);
    }
    // Their sockets are lingering and read: the floods go on.
    for n in &sent {
        let before = n.load(Ordering::Relaxed);
        wait_until("a lingering socket read on", || {
            n.load(Ordering::Relaxed) > before + (4 << 20)
        });
    }

    // Meanwhile another client is served.
    let mut other = Peer::connect(addr);
    for i in 0..200 {
        let msg = format!("ping {i}");
        other.send_line(&msg);
        assert_eq!(other.read_line(), msg);
    }

    // The floods stop; the sockets stay open (nothing acknowledged, no
    // end), so they linger, and nothing is left to read.
    stop.store(true, Ordering::Release);
    for f in floods {
        f.join().unwrap();
    }
    let tids = threads_named("tcphub-io-0");
    assert_eq!(tids.len(), 1, "one loop thread: {tids:?}");
    let tid = &tids[0];
    // Whatever was in the kernel is read (its re-read list empties).
    let (ours, mut quiet) = (server.local_addr(), 0);
    wait_until("the floods read up", || {
        let unread: u64 = peers
            .iter()
            .filter_map(|p| socket_queues(ours, p.addr()).map(|(_, unread)| unread))
            .sum();
        quiet = if unread == 0 { quiet + 1 } else { 0 };
        quiet > 3
    });
    // A quiet loop sleeps: a thread asleep uses no CPU, one that turns
    // without waiting uses all it gets (at least a good part of a core
    // even on a loaded machine), a few ticks of 100 a second at most for
    // the ack scans every 50 ms.
    let (t0, c0) = (Instant::now(), cpu_ticks(tid));
    std::thread::sleep(Duration::from_secs(2));
    let (wall, used) = (t0.elapsed(), cpu_ticks(tid) - c0);
    let wall_ticks = wall.as_millis() as u64 / 10;
    assert!(
        used * 10 < wall_ticks,
        "the loop used {used} ticks of CPU in {wall_ticks} with nothing to do"
    );
    // Their ends close the lingering sockets; the stop does not wait.
    for p in &peers {
        p.shutdown_write();
    }
    for mut p in peers {
        let (got, clean) = p.drain_until_closed();
        assert!(clean, "a reset after {} bytes", got.len());
        assert_eq!(got, goodbye());
    }
    server.stop();
}
