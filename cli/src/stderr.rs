//! Writes to stderr that never wait for it. A hub whose stderr is a pipe
//! nobody reads (full at 64 KiB, say `subprocess.Popen(stderr=PIPE)` never
//! read) must go on serving and stop on a signal, not wait in a log line
//! for ever — its event loops log joins and leaves, and its stop logs too.
//! So a line that stderr cannot take at once is dropped and counted, and
//! the next line that goes through is preceded by
//! `tcphub: N log lines dropped (stderr was full)`.
//!
//! Every line the command writes goes through [`write`]: the log records
//! (the logger's target is [`Sink`]), the `--stats` summaries and the
//! `tcphub: ...` complaints. A file, `/dev/null` or a terminal that is read
//! takes every line.

use std::io::Write;
use std::os::fd::AsRawFd;
use std::sync::{Mutex, PoisonError};

/// Lines dropped since the last one written; the lock also keeps lines
/// whole (one writer at a time).
static DROPPED: Mutex<u64> = Mutex::new(0);

/// What a pipe takes in one piece once it has room for anything
/// (`PIPE_BUF`): a line that long goes whole or not at all.
const PIECE: usize = 4096;

/// Writes `bytes` (whole lines) to stderr if it can take them now, or
/// drops and counts them; a failure to write (`2>/dev/full`, a closed pipe)
/// is ignored, as a dropped line.
pub(crate) fn write(bytes: &[u8]) {
    let mut dropped = DROPPED.lock().unwrap_or_else(PoisonError::into_inner);
    let stderr = std::io::stderr();
    let mut out = stderr.lock();
    if !writable_now(&out) {
        *dropped += 1;
        return;
    }
    let mut line = std::borrow::Cow::Borrowed(bytes);
    if *dropped > 0 {
        let n = std::mem::take(&mut *dropped);
        let s = if n == 1 { "" } else { "s" };
        let mut both = format!("tcphub: {n} log line{s} dropped (stderr was full)\n").into_bytes();
        both.extend_from_slice(bytes);
        line = both.into();
    }
    put(&mut out, &line, &mut dropped);
}

/// Writes `bytes` a [`PIECE`] at a time, each once stderr has room; the
/// rest of a long line that stderr stops taking midway is dropped.
fn put(out: &mut std::io::StderrLock<'_>, bytes: &[u8], dropped: &mut u64) {
    for (i, piece) in bytes.chunks(PIECE).enumerate() {
        if i > 0 && !writable_now(out) {
            *dropped += 1;
            return;
        }
        if out.write_all(piece).is_err() {
            return;
        }
    }
}

/// Whether stderr takes a write now without waiting (a pipe with room
/// takes up to [`PIECE`] bytes); also when writing would fail at once (no
/// reader, a closed descriptor): the write says so and is ignored.
fn writable_now(out: &impl AsRawFd) -> bool {
    let mut fd = libc::pollfd {
        fd: out.as_raw_fd(),
        events: libc::POLLOUT,
        revents: 0,
    };
    loop {
        // SAFETY: one valid pollfd, a zero timeout.
        let n = unsafe { libc::poll(&mut fd, 1, 0) };
        if n >= 0 {
            return n > 0;
        }
        if std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return true;
        }
    }
}

/// The logger's target: each record through [`write`].
#[derive(Debug)]
pub(crate) struct Sink;

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        write(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
