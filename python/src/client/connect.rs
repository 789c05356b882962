//! Connecting a `TcpClient`: the constructor's arguments, checked (for
//! `TcpClient(...)` and `aconnect()` alike), and the name lookup and
//! connect on a helper thread, waited for in slices so Ctrl-C or a
//! cancelled `aconnect()` ends the wait — and the connect itself, through
//! the core's `ConnectCancel`.

use std::time::Duration;

use crossbeam_channel::RecvTimeoutError;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use tcphub::{ConnectCancel, Error, Reconnect, TcpClient};

use super::PyTcpClient;
use crate::args::Port;
use crate::errors::IntoPy;
use crate::{duration, framing_from_str, positive_duration, SIGNAL_SLICE};

/// A `TcpClient(...)` call's arguments, checked: what connecting needs,
/// for the constructor and for `aconnect()` (whose checks run at the call,
/// before its helper thread starts).
#[derive(Clone)]
pub(super) struct ConnectArgs {
    host: String,
    port: u16,
    framing: tcphub::Framing,
    connect_timeout: Duration,
    reconnect: Option<Reconnect>,
    max_queue_bytes: usize,
    nodelay: bool,
    linger: Duration,
    event_capacity: usize,
    keepalive: Option<Duration>,
    write_after_server_eof: bool,
}

impl ConnectArgs {
    /// Checks the constructor's arguments (`InvalidConfig` for a bad value).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn check(
        py: Python<'_>,
        host: String,
        port: Port,
        framing: &str,
        max_len: Option<usize>,
        connect_timeout: f64,
        reconnect: bool,
        reconnect_initial: f64,
        reconnect_max: f64,
        reconnect_max_attempts: Option<u32>,
        max_queue_bytes: usize,
        nodelay: bool,
        linger: f64,
        event_capacity: usize,
        keepalive: Option<f64>,
        write_after_server_eof: bool,
    ) -> PyResult<Self> {
        let framing = framing_from_str(py, framing, max_len)?;
        // The host and the port apart, checked at the call (`aconnect` too,
        // not at its await): an empty host, or one with the port written
        // into it ("127.0.0.1:8001"), which the lookup would fail to resolve
        // as "127.0.0.1:8001:8001" — read as an unreachable server.
        // (Unbracketed for the lookup: "[::1]" → "::1".)
        let host = match tcphub::client_host(&host) {
            Ok(h) => h.to_owned(),
            Err(why) => return Err(crate::errors::invalid_config(py, why)),
        };
        if port.0 == 0 {
            // The kernel would refuse it as if the server were down.
            return Err(crate::errors::invalid_config(
                py,
                "port 0 is no server's port".into(),
            ));
        }
        if reconnect_max_attempts.is_some() && !reconnect {
            // Taken and ignored, it read as a limit on reconnecting while
            // the client did not reconnect at all.
            return Err(crate::errors::invalid_config(
                py,
                "reconnect_max_attempts applies only with reconnect=True".into(),
            ));
        }
        let connect_timeout = positive_duration(py, connect_timeout, "connect_timeout")?;
        if connect_timeout.is_zero() {
            return Err(crate::errors::invalid_config(
                py,
                "connect_timeout must be more than 0 seconds".into(),
            ));
        }
        let linger = duration(py, linger, "linger")?;
        let keepalive = keepalive
            .map(|s| positive_duration(py, s, "keepalive"))
            .transpose()?;
        // Checked whether or not reconnecting is on: a value no policy can
        // take (negative, NaN) is a mistake either way. (Zero, refused by
        // the core only with reconnecting on, passes here: the message
        // asks for a positive number, what a delay in use must be.)
        let policy = Reconnect {
            initial: positive_duration(py, reconnect_initial, "reconnect_initial")?,
            max: positive_duration(py, reconnect_max, "reconnect_max")?,
            max_attempts: reconnect_max_attempts,
        };
        Ok(ConnectArgs {
            host,
            port: port.0,
            framing,
            connect_timeout,
            reconnect: reconnect.then_some(policy),
            max_queue_bytes,
            nodelay,
            linger,
            event_capacity,
            keepalive,
            write_after_server_eof,
        })
    }

    /// Resolves the name and connects, on a helper thread, waiting for it in
    /// slices so neither a slow name lookup nor the connect holds the GIL;
    /// `give_up` runs between the slices (Ctrl-C's check) and its error ends
    /// the wait and cancels the connect, so the thread ends at once (a name
    /// lookup under way cannot be cancelled: the thread ends after it, not
    /// dialling). A connection made just before that is dropped, which
    /// closes it.
    pub(super) fn connect(
        self,
        py: Python<'_>,
        mut give_up: impl FnMut() -> PyResult<()>,
    ) -> PyResult<PyTcpClient> {
        let framing = self.framing;
        let cancel = ConnectCancel::new();
        let (tx, rx) = crossbeam_channel::bounded(1);
        let dial_cancel = cancel.clone();
        std::thread::Builder::new()
            .name("tcphub-connect".into())
            .spawn(move || {
                // `builder` resolves `host` (getaddrinfo), unbracketed by
                // `check`.
                let mut builder = TcpClient::builder((self.host.as_str(), self.port))
                    .framing(self.framing)
                    .connect_timeout(self.connect_timeout)
                    .max_queue_bytes(self.max_queue_bytes)
                    .nodelay(self.nodelay)
                    .linger(self.linger)
                    .event_capacity(self.event_capacity)
                    .write_after_server_eof(self.write_after_server_eof)
                    .cancel_with(&dial_cancel);
                if let Some(policy) = self.reconnect {
                    builder = builder.reconnect(policy);
                }
                if let Some(idle) = self.keepalive {
                    builder = builder.keepalive(idle);
                }
                let _ = tx.send(builder.connect());
            })
            .map_err(|source| Error::Io {
                context: "starting the connect thread",
                source,
            })
            .py_err(py)?;
        loop {
            match py.detach(|| rx.recv_timeout(SIGNAL_SLICE)) {
                Ok(connected) => {
                    return Ok(PyTcpClient::tracked(connected.py_err(py)?, framing));
                }
                Err(RecvTimeoutError::Timeout) => {
                    if let Err(e) = give_up() {
                        cancel.cancel();
                        return Err(e);
                    }
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(PyRuntimeError::new_err("the connect thread panicked"))
                }
            }
        }
    }
}
