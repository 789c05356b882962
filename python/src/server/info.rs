//! What a `TcpServer` tells about itself and its clients: `clients()`,
//! `client()`, `client_count`, `stats()`, and the settings it runs with.

use pyo3::prelude::*;

use crate::args::ClientId;
use crate::dispatch::Dispatcher;
use crate::framing_name;
use crate::types::{PyClient, PyStats};

use super::PyTcpServer;

#[pymethods]
impl PyTcpServer {
    /// The connected clients, by id.
    ///
    /// Example::
    ///
    ///     for client in server.clients():
    ///         print(client.id, client.address)  # 3 ('127.0.0.1', 50312)
    fn clients(&self) -> Vec<PyClient> {
        match self.running.get() {
            Some(r) => r.handle.clients().into_iter().map(PyClient::from).collect(),
            None => Vec::new(),
        }
    }

    /// The connected client with this id (or that ``Client``'s), or ``None``.
    ///
    /// Example::
    ///
    ///     if server.client(client_id) is None:
    ///         print("gone")
    fn client(&self, client_id: ClientId) -> Option<PyClient> {
        let ClientId::Id(client_id) = client_id else {
            return None;
        };
        self.running
            .get()?
            .handle
            .client(client_id)
            .map(PyClient::from)
    }

    /// Number of connected clients.
    #[getter]
    fn client_count(&self) -> usize {
        self.running.get().map_or(0, |r| r.handle.client_count())
    }

    /// The server's counters.
    ///
    /// Example: see ``Stats``.
    fn stats(&self) -> PyStats {
        match self.running.get() {
            Some(r) => PyStats::from(r.handle.stats())
                .with_callback_errors(r.dispatcher.as_ref().map_or(0, Dispatcher::errors)),
            None => tcphub::Stats::default().into(),
        }
    }

    /// The port: the one actually bound once started (port 0 resolved).
    #[getter]
    fn port(&self) -> u16 {
        match self.running.get() {
            Some(r) => r.handle.local_addr().port(),
            None => self.settings.port,
        }
    }

    /// ``(ip, port)`` the server listens on (the configured one before ``start()``).
    #[getter]
    pub(super) fn address(&self) -> (String, u16) {
        (self.settings.bind.to_string(), self.port())
    }

    /// The framing name: ``"raw"``, ``"lines"`` or ``"length"``.
    #[getter]
    fn framing(&self) -> &'static str {
        framing_name(self.settings.framing)
    }

    /// The message size limit of the framing, ``None`` for raw.
    #[getter]
    fn max_len(&self) -> Option<usize> {
        self.settings.framing.max_len()
    }

    /// The most clients connected at once.
    #[getter]
    fn max_clients(&self) -> usize {
        self.settings.max_clients
    }

    /// The most clients from one IP address at once, ``None`` for no limit
    /// but ``max_clients``.
    #[getter]
    fn max_clients_per_ip(&self) -> Option<usize> {
        self.settings.max_clients_per_ip
    }

    /// How many leading bits of an IPv6 client's address count as its
    /// address for ``max_clients_per_ip`` (128: all of them).
    #[getter]
    fn per_ip_ipv6_prefix(&self) -> u8 {
        self.settings.per_ip_ipv6_prefix
    }

    /// Whether the server is running (started and not stopped).
    #[getter]
    fn running(&self) -> bool {
        self.running.get().is_some_and(|r| r.handle.is_running())
    }
}
