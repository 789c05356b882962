//! A `tcphub serve` whose stderr is a pipe the test holds, read only when
//! the test says: full, it is the stderr nobody reads.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::process::{Child, Stdio};
use std::sync::mpsc;

use super::{bin, listening_port};

/// A running hub, its stderr a pipe: its lines are read up to "listening
/// on", then no more until [`PipedHub::drain`].
pub struct PipedHub {
    pub child: Child,
    pub port: u16,
    read: Option<BufReader<File>>,
    /// Another descriptor of the pipe's write end (to fill it with).
    write: Option<OwnedFd>,
    /// The bytes [`PipedHub::fill`] put in the pipe.
    filled: usize,
}

impl PipedHub {
    pub fn start(args: &[&str]) -> PipedHub {
        let mut fds = [0; 2];
        // SAFETY: two ints to fill.
        let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
        assert_eq!(rc, 0, "pipe2: {}", std::io::Error::last_os_error());
        // SAFETY: both just made, owned here alone.
        let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        let ours = w.try_clone().expect("dup the write end");
        let child = bin()
            .arg("serve")
            .args(["--bind", "127.0.0.1", "--port", "0"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(w))
            .spawn()
            .expect("spawn tcphub serve");
        let mut read = BufReader::new(File::from(r));
        let mut line = String::new();
        while !line.contains("listening on") {
            line.clear();
            let n = read.read_line(&mut line).expect("read the hub's stderr");
            assert!(n > 0, "the hub ended before listening");
        }
        let port = listening_port(&line);
        PipedHub {
            child,
            port,
            read: Some(read),
            write: Some(ours),
            filled: 0,
        }
    }

    /// Fills the pipe to the brim (nothing unread by the hub's own lines
    /// so far, it has written none since "listening on"): from here on, a
    /// write of the hub's to stderr waits until [`PipedHub::drain`] — or
    /// would, were it a plain write.
    pub fn fill(&mut self) {
        let w = self.write.take().expect("fill once");
        // A description of our own, non-blocking: setting O_NONBLOCK on a
        // dup would set it on the hub's stderr too.
        let mut fill = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(format!("/proc/self/fd/{}", w.as_raw_fd()))
            .expect("reopen the pipe's write end");
        drop(w);
        for size in [4096, 1] {
            let chunk = vec![b'x'; size];
            loop {
                match fill.write(&chunk) {
                    Ok(n) => self.filled += n,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(e) => panic!("filling the pipe: {e}"),
                }
            }
        }
    }

    /// Reads the hub's stderr from now on: the filling at once (the pipe
    /// has room for a line of the hub's on return), then its lines, until
    /// it ends.
    pub fn drain(&mut self) -> mpsc::Receiver<String> {
        drop(self.write.take());
        let mut read = self.read.take().expect("drain once");
        let mut filling = vec![0; self.filled];
        read.read_exact(&mut filling)
            .expect("read the filling back");
        assert!(
            filling.iter().all(|&b| b == b'x'),
            "the hub wrote before it"
        );
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = Vec::new();
            loop {
                line.clear();
                match read.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        if tx
                            .send(String::from_utf8_lossy(&line).into_owned())
                            .is_err()
                        {
                            break;
                        }
                    }
                }
            }
        });
        rx
    }
}

impl Drop for PipedHub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends `sig` to `pid`.
pub fn signal(pid: u32, sig: i32) {
    // SAFETY: a plain kill(2).
    let rc = unsafe { libc::kill(pid as libc::pid_t, sig) };
    assert_eq!(rc, 0, "kill: {}", std::io::Error::last_os_error());
}
