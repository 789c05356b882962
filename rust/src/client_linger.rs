//! The end of a client's `close()` once everything is written: the sending
//! side is shut (FIN) and the socket stays open, its input read and
//! discarded, until the server has acknowledged every byte and the FIN,
//! has ended its side, or the linger time passes (`AckWait`). Closing the
//! socket at once, while the server is still sending, makes the kernel
//! answer its next bytes with a reset that throws away what was not sent
//! yet — the client's last messages, which `close()` had reported as a
//! clean close. (The server's loops linger the same way,
//! `event_loop/lingering.rs`.)

use std::io::{self, Read};
use std::time::{Duration, Instant};

use crate::client_core::SocketProbe;
use crate::connection::{peer_ended_first, unacknowledged_data, Connection};
use crate::event::DisconnectReason;

/// First wait before the acknowledgement is checked again (it cannot be
/// waited for with epoll), doubled up to [`LAST_CHECK`].
const FIRST_CHECK: Duration = Duration::from_millis(1);
const LAST_CHECK: Duration = Duration::from_millis(50);
/// Reads of discarded input per turn (then the loop comes back to it).
const READS: usize = 8;

#[derive(Debug)]
pub(crate) struct AckWait {
    next_check: Instant,
    interval: Duration,
    /// How the wait ends when the server has it all or ends its side:
    /// `ClosedByPeer` when its end had arrived before ours was sent
    /// (behind input not read yet, where reading would find it only
    /// later), `ClosedLocally` otherwise.
    end: DisconnectReason,
}

impl AckWait {
    /// Shuts `conn`'s sending side (everything queued is written) and
    /// starts waiting.
    fn start(conn: &mut Connection, probe: &SocketProbe) -> AckWait {
        let end = if peer_ended_first(&conn.stream) {
            DisconnectReason::ClosedByPeer
        } else {
            DisconnectReason::ClosedLocally
        };
        let _ = probe.shut_write(&conn.stream);
        AckWait {
            next_check: Instant::now(),
            interval: FIRST_CHECK,
            end,
        }
    }

    /// One turn of the wait in `slot` (started on the first): how the
    /// connection ended (see [`step`](AckWait::step)), `Io(TimedOut)` at
    /// the linger `deadline` when the server does not have it all by then,
    /// `None` meanwhile.
    pub(crate) fn turn(
        slot: &mut Option<AckWait>,
        conn: &mut Connection,
        probe: &SocketProbe,
        rbuf: &mut [u8],
        read_pending: &mut bool,
        deadline: Instant,
    ) -> Option<DisconnectReason> {
        let wait = slot.get_or_insert_with(|| AckWait::start(conn, probe));
        match wait.step(conn, rbuf, read_pending) {
            None if Instant::now() >= deadline => {
                Some(DisconnectReason::Io(io::ErrorKind::TimedOut))
            }
            end => end,
        }
    }

    /// When the acknowledgement is to be checked next.
    pub(crate) fn next_check(&self) -> Instant {
        self.next_check
    }

    /// One turn of the wait: discards what the server sent (when
    /// `read_pending`, cleared once nothing more is waiting) and checks
    /// the acknowledgement when due. How the connection ended — this side
    /// closed it (everything acknowledged, or the server ended its side
    /// after ours), the server did (its end came before ours, see `end`),
    /// or a fault — or `None` while waiting.
    fn step(
        &mut self,
        conn: &mut Connection,
        rbuf: &mut [u8],
        read_pending: &mut bool,
    ) -> Option<DisconnectReason> {
        if *read_pending {
            *read_pending = false;
            for i in 0..READS {
                match conn.stream.read(rbuf) {
                    Ok(0) => return Some(self.end.clone()),
                    Ok(_) if i + 1 == READS => *read_pending = true, // more next turn
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => *read_pending = true,
                    Err(e) => return Some(DisconnectReason::from_io(&e)),
                }
            }
        }
        let now = Instant::now();
        if now < self.next_check {
            return None;
        }
        if !unacknowledged_data(&conn.stream) {
            return Some(self.end.clone());
        }
        self.next_check = now + self.interval;
        self.interval = (self.interval * 2).min(LAST_CHECK);
        None
    }
}
