//! The server's input, as a whole: [`ServerHandle::pause_input`] and
//! [`resume_input`](ServerHandle::resume_input) (backpressure: the loops
//! leave what clients send in the kernel for a while), and
//! [`stop_input`](ServerHandle::stop_input) (the first half of a two-phase
//! shutdown: from then on what clients send is read and dropped); and one
//! client's: [`pause_client`](ServerHandle::pause_client) and
//! [`resume_client`](ServerHandle::resume_client).

use std::sync::atomic::Ordering;

use crate::error::Result;
use crate::event::ClientId;
use crate::shared::Command;

use super::ServerHandle;

impl ServerHandle {
    /// The first half of a two-phase shutdown: the server takes no more
    /// input from any client — no `on_message` is called and no message
    /// queued for [`events`](ServerHandle::events) from now on — while
    /// everything else goes on: sends reach the clients, the events already
    /// in the queue stay there to take, and what your worker threads are
    /// still answering gets out. Then call [`stop`](ServerHandle::stop),
    /// which flushes and closes as usual. Idempotent; there is no undo.
    /// It returns once no loop is still handing out a message it took
    /// before the call (at most a loop's push into the queue, or its move
    /// of what waited for room: microseconds; it never waits for a
    /// callback), so an event taken after it returns was in the queue when
    /// it did.
    ///
    /// What was read but not handed out yet (in pull mode also the messages
    /// waiting for room in a full queue), and what the clients send
    /// afterwards, is dropped — as with `stop()`; only a callback already
    /// running when another thread calls this is handed its message. The
    /// loops go on reading, to drop what comes: a client that keeps
    /// writing is not held up (and reads its replies), and a client that
    /// leaves is noticed, closed (or held for replies, as usual) and
    /// reported, which frees its place. Nobody is idle or slow on the
    /// server's account: the idle and frame timeouts wait. New clients are
    /// still accepted (and closed by the stop as `ServerStopped`, where
    /// refusing them would leave them in the listen backlog to be reset).
    /// Useless on a stopped server, and harmless.
    ///
    /// # Examples
    ///
    /// A request/response service in pull mode: stop taking requests, answer
    /// the ones taken, then stop.
    ///
    /// ```
    /// use std::io::{BufRead, BufReader, Write};
    /// use std::time::Duration;
    /// use tcphub::{Event, Framing, TcpServer};
    ///
    /// let server = TcpServer::new(0, 10)
    ///     .bind("127.0.0.1".parse()?)
    ///     .framing(Framing::lines())
    ///     .start()?;
    /// let events = server.events();
    /// let mut alice = std::net::TcpStream::connect(server.local_addr())?;
    /// alice.write_all(b"ping\n")?;
    /// let id = loop {
    ///     if let Event::Message(c, _) = events.recv_timeout(Duration::from_secs(10))? {
    ///         break c.id;
    ///     }
    /// };
    /// server.stop_input(); // no more requests are taken…
    /// server.send(id, b"pong")?; // …and the answers still go out
    /// server.stop();
    /// let mut line = String::new();
    /// BufReader::new(alice).read_line(&mut line)?;
    /// assert_eq!(line, "pong\n");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn stop_input(&self) {
        // Returns once no loop is still handing out a message it looked
        // at the flag for before the change (every caller waits).
        if !self.core.close_input() {
            return;
        }
        for idx in 0..self.core.loops.len() {
            self.core.post(idx, Command::StopInput);
        }
        log::debug!(
            "tcphub: server on {} takes no more input",
            self.core.local_addr
        );
    }

    /// Pauses reading from every client, until
    /// [`resume_input`](ServerHandle::resume_input): backpressure for an
    /// application whose work queue is full (a worker pool fed by
    /// `on_message`, say). The loops leave what clients send in the
    /// kernel, so TCP slows the senders down; nothing is lost or dropped.
    /// Everything else goes on: sends and broadcasts reach the clients,
    /// new clients are accepted (and reported), queued events stay to
    /// take.
    ///
    /// From a callback of this server it takes effect at once: no
    /// `on_message` on that loop after it (what it had read and not
    /// handed out yet waits too), so a work queue paused at its bound gets
    /// nothing more. From another thread it takes effect at each loop's
    /// next read (a loop in the middle of one hands out the rest of it: at
    /// most 64 KiB of input); events already queued for
    /// [`events`](ServerHandle::events) stay to take. While paused, the
    /// idle and frame timeouts wait (nobody is idle on the server's
    /// account), and a client that leaves or resets is noticed only once
    /// input resumes, keeping its place among `max_clients` meanwhile
    /// (not one held for replies, its end reported already: its reset
    /// closes it at once).
    /// Not counted: one `resume_input` ends any number of pauses. After
    /// [`stop_input`](ServerHandle::stop_input) input is read to be dropped,
    /// paused or not. Callable from any thread and from inside a callback;
    /// harmless on a stopped server.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{BufRead, BufReader, Write};
    /// use std::time::Duration;
    /// use tcphub::{Event, Framing, TcpServer};
    ///
    /// let server = TcpServer::new(0, 10)
    ///     .bind("127.0.0.1".parse()?)
    ///     .framing(Framing::lines())
    ///     .start()?;
    /// let events = server.events();
    /// server.pause_input();
    /// let mut alice = std::net::TcpStream::connect(server.local_addr())?;
    /// alice.write_all(b"ping\n")?;
    /// assert!(matches!(events.recv_timeout(Duration::from_secs(10))?, Event::Connected(_)));
    /// // Paused: the message waits in the kernel.
    /// assert!(events.recv_timeout(Duration::from_millis(100)).is_err());
    /// assert!(server.input_paused());
    /// server.resume_input();
    /// let Event::Message(_, msg) = events.recv_timeout(Duration::from_secs(10))? else {
    ///     panic!("the message, once resumed")
    /// };
    /// assert_eq!(msg, b"ping");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn pause_input(&self) {
        if !self.core.input_paused.swap(true, Ordering::SeqCst) {
            log::debug!("tcphub: server on {} pauses input", self.core.local_addr);
        }
        crate::shared::paused_here(&self.core);
    }

    /// Ends [`pause_input`](ServerHandle::pause_input): every loop reads
    /// what its clients sent meanwhile. Harmless when not paused, and on a
    /// stopped server.
    ///
    /// # Examples
    ///
    /// (A message held back by the pause and read at the resume: see
    /// [`pause_input`](ServerHandle::pause_input).)
    ///
    /// ```
    /// let server = tcphub::TcpServer::new(0, 1).bind("127.0.0.1".parse()?).start()?;
    /// server.pause_input();
    /// server.pause_input(); // not counted: one resume ends both
    /// server.resume_input();
    /// assert!(!server.input_paused());
    /// server.resume_input(); // harmless when not paused
    /// server.stop();
    /// server.resume_input(); // and on a stopped server
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn resume_input(&self) {
        if !self.core.input_paused.swap(false, Ordering::SeqCst) || self.core.origin.forked() {
            return;
        }
        // Wakes each loop, which then reads the connections left unread.
        for idx in 0..self.core.loops.len() {
            self.core.post(idx, Command::ResumeInput);
        }
        log::debug!("tcphub: server on {} resumes input", self.core.local_addr);
    }

    /// Whether input is paused ([`pause_input`](ServerHandle::pause_input)
    /// without a [`resume_input`](ServerHandle::resume_input) since).
    ///
    /// # Examples
    ///
    /// ```
    /// let server = tcphub::TcpServer::new(0, 1).bind("127.0.0.1".parse()?).start()?;
    /// assert!(!server.input_paused());
    /// server.pause_input();
    /// assert!(server.input_paused());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn input_paused(&self) -> bool {
        self.core.input_paused.load(Ordering::SeqCst)
    }

    /// Backpressure for one client: its loop reads nothing more from it
    /// until [`resume_client`](ServerHandle::resume_client), so what it
    /// sends waits in the kernel and TCP slows it down — a client whose
    /// jobs the application cannot take yet, while the others go on.
    /// Sends to it go on as usual. Called from a callback on the client's
    /// own message it takes effect at once: the rest of the read in hand
    /// waits for the resume. From any other thread, what the client sends
    /// after the call returned waits for the resume (its loop applies a
    /// posted pause before it hands out what it reads next); what the loop
    /// had read of it by then may still be handed out.
    ///
    /// While paused the client's idle and frame timeouts wait (its clocks
    /// start again at the resume), and a client that closes its side is
    /// noticed only once resumed. One that is gone — it reset, keepalive
    /// found it gone, or a write to it failed — is closed at once, after
    /// what it sent before its end is read and handed out. Not counted: one `resume_client`
    /// ends any number of pauses. It acts alone, not with
    /// [`pause_input`](ServerHandle::pause_input): a client is read when
    /// neither holds it.
    ///
    /// Like a send, called from an application thread it (and
    /// [`resume_client`](ServerHandle::resume_client)) waits while the
    /// client's loop is more than 64 MiB behind (each pause or resume
    /// counts its command's size), so a thread toggling pauses faster than
    /// the loop applies them does not grow memory without limit; from
    /// inside a server callback it never waits.
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchClient`](crate::Error::NoSuchClient) when no client
    /// has this id, [`Error::NotRunning`](crate::Error::NotRunning) once
    /// the server has stopped.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Write;
    /// use std::sync::mpsc;
    /// use std::time::Duration;
    /// use tcphub::{Framing, TcpServer};
    ///
    /// let (tx, rx) = mpsc::channel();
    /// let server = TcpServer::new(0, 10)
    ///     .bind("127.0.0.1".parse()?)
    ///     .framing(Framing::lines())
    ///     .on_message(move |srv, c, job| {
    ///         if job == b"busy" {
    ///             srv.pause_client(c.id).unwrap(); // the next lines wait
    ///         }
    ///         tx.send((c.id, job.to_vec())).unwrap();
    ///     })
    ///     .start()?;
    /// let mut alice = std::net::TcpStream::connect(server.local_addr())?;
    /// alice.write_all(b"busy\nnext\n")?;
    /// let (id, first) = rx.recv_timeout(Duration::from_secs(10))?;
    /// assert_eq!(first, b"busy");
    /// assert!(rx.recv_timeout(Duration::from_millis(100)).is_err()); // paused
    /// server.resume_client(id)?;
    /// assert_eq!(rx.recv_timeout(Duration::from_secs(10))?.1, b"next");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn pause_client(&self, id: ClientId) -> Result<()> {
        let idx = self.owner(id)?;
        self.core.post(idx, Command::PauseClient(id));
        Ok(())
    }

    /// Ends [`pause_client`](ServerHandle::pause_client): the client's loop
    /// reads it again, what it sent meanwhile first. Harmless on a client
    /// that is not paused.
    ///
    /// # Errors
    ///
    /// As [`pause_client`](ServerHandle::pause_client).
    ///
    /// # Examples
    ///
    /// (A client paused from its own callback and resumed from another
    /// thread: see [`pause_client`](ServerHandle::pause_client).)
    ///
    /// ```
    /// use std::time::Duration;
    /// use tcphub::{Error, Event, TcpClient, TcpServer};
    ///
    /// let server = TcpServer::new(0, 10).bind("127.0.0.1".parse()?).start()?;
    /// let events = server.events();
    /// let _alice = TcpClient::connect(server.local_addr())?;
    /// let Event::Connected(alice) = events.recv_timeout(Duration::from_secs(10))? else {
    ///     panic!("alice connects first")
    /// };
    /// server.resume_client(alice.id)?; // not paused: harmless
    /// server.pause_client(alice.id)?;
    /// server.resume_client(alice.id)?;
    /// assert!(matches!(server.resume_client(u64::MAX), Err(Error::NoSuchClient(_))));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn resume_client(&self, id: ClientId) -> Result<()> {
        let idx = self.owner(id)?;
        self.core.post(idx, Command::ResumeClient(id));
        Ok(())
    }
}
