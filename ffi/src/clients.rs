//! `tcphub_client_info`: who is connected — `tcphub_server_clients` and
//! `tcphub_server_client_info` — and where the server itself listens
//! (`tcphub_server_local_addr`).

use std::ffi::{c_char, c_int};

use tcphub_core::{Client, ClientRef, Error};

use crate::boundary::{boundary, Fail};
use crate::client::write_addr;
use crate::codes::*;
use crate::events::ip_text;
use crate::server::{server, tcphub_server};

/// A connected client: its id and remote address.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct tcphub_client_info {
    /// The id callbacks and events carry.
    pub client_id: u64,
    /// The client's remote IP address as NUL-terminated text (an IPv4
    /// client of a dual-stack server as plain IPv4).
    pub ip: [c_char; TCPHUB_IP_LEN],
    /// The client's remote port.
    pub port: u16,
}

impl From<Client> for tcphub_client_info {
    fn from(c: Client) -> tcphub_client_info {
        tcphub_client_info {
            client_id: c.id,
            ip: ip_text(c.addr),
            port: c.addr.port(),
        }
    }
}

/// Lists the connected clients: writes up to `capacity` of them to
/// `clients_out` (in no particular order) and their total number to
/// `*count_out` — more than `capacity` means the list was cut short; call
/// again with more room. `clients_out` may be NULL when `capacity` is 0
/// (just count). A server never started, or whose stop has finished, has
/// none; while a stop flushes, the clients it still writes to are listed
/// (as `tcphub_server_client_count` counts them). Clients come and go
/// meanwhile: the list is one moment's.
///
/// Returns `TCPHUB_ERR_NULL` for a NULL `s` or `count_out`, or a NULL
/// `clients_out` with `capacity` above 0 (`*count_out` is then 0).
///
/// ```c
/// size_t cap = 64, n;
/// tcphub_client_info *list = malloc(cap * sizeof *list);
/// while (tcphub_server_clients(s, list, cap, &n) == TCPHUB_OK && n > cap) {
///     cap = n + 16; // more came: make room and ask again
///     list = realloc(list, cap * sizeof *list);
/// }
/// for (size_t i = 0; i < n && i < cap; i++)
///     printf("%llu %s:%u\n", (unsigned long long)list[i].client_id, list[i].ip, (unsigned)list[i].port);
/// free(list);
/// ```
///
/// # Safety
///
/// `s` is NULL or a live server; `clients_out` is NULL or has room for
/// `capacity` entries; `count_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tcphub_server_clients(
    s: *const tcphub_server,
    clients_out: *mut tcphub_client_info,
    capacity: usize,
    count_out: *mut usize,
) -> c_int {
    boundary("tcphub_server_clients", || {
        if count_out.is_null() {
            return Err(Fail::new(TCPHUB_ERR_NULL, "count_out is NULL"));
        }
        // SAFETY: non-NULL and writable by the caller's promise; zeroed
        // first so that it is defined on every failure.
        unsafe { count_out.write(0) };
        if clients_out.is_null() && capacity > 0 {
            return Err(Fail::new(TCPHUB_ERR_NULL, "clients_out is NULL"));
        }
        // SAFETY: the caller's promise.
        let srv = unsafe { server(s)? };
        let all = srv.with_started(|h| h.clients()).unwrap_or_default();
        for (i, c) in all.iter().take(capacity).enumerate() {
            // SAFETY: `i < capacity`, and `clients_out` has room for
            // `capacity` entries by the caller's promise.
            unsafe { clients_out.add(i).write((*c).into()) };
        }
        // SAFETY: as above.
        unsafe { count_out.write(all.len()) };
        Ok(TCPHUB_OK)
    })
}

/// Writes client `client_id`'s address to `*info_out`.
///
/// Inside `on_disconnect`, the client leaving is found too (that callback
/// is passed only its id), as is every client in its own `on_connect` and
/// `on_message`.
///
/// Returns `TCPHUB_ERR_NO_SUCH_CLIENT` when it is not connected (also once
/// a stop has finished; while a stop flushes, a client still written to is
/// found), `TCPHUB_ERR_NOT_RUNNING` for a server never started,
/// `TCPHUB_ERR_NULL`. On failure `*info_out` is zeroed.
///
/// # Safety
///
/// `s` is NULL or a live server; `info_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tcphub_server_client_info(
    s: *const tcphub_server,
    client_id: u64,
    info_out: *mut tcphub_client_info,
) -> c_int {
    boundary("tcphub_server_client_info", || {
        if info_out.is_null() {
            return Err(Fail::new(TCPHUB_ERR_NULL, "info_out is NULL"));
        }
        // SAFETY: non-NULL and writable; an all-zero info is valid.
        unsafe { info_out.write(std::mem::zeroed()) };
        // SAFETY: the caller's promise.
        let srv = unsafe { server(s)? };
        let client = srv.with_handle(|h| {
            h.client(client_id)
                .or_else(|| srv.leaving(client_id))
                .ok_or_else(|| Error::NoSuchClient(ClientRef::Id(client_id)).into())
        })?;
        // SAFETY: as above.
        unsafe { info_out.write(client.into()) };
        Ok(TCPHUB_OK)
    })
}

/// The address the server listens on: writes its IP as NUL-terminated text
/// to `ip_out` (e.g. "127.0.0.1", "::" for a dual-stack server) and its
/// port to `*port_out` — the real one when it was created with port 0, as
/// `tcphub_server_port`. After a stop, the last run's address (no longer
/// listening). Any thread.
///
/// ```c
/// char ip[TCPHUB_IP_LEN];
/// uint16_t port;
/// if (tcphub_server_local_addr(s, ip, &port) == TCPHUB_OK)
///     printf("listening on %s port %u\n", ip, (unsigned)port);
/// ```
///
/// Returns `TCPHUB_ERR_NULL` for a NULL argument,
/// `TCPHUB_ERR_NOT_RUNNING` when the server was never started. On failure
/// `ip_out` is the empty string and `*port_out` 0.
///
/// # Safety
///
/// `s` is NULL or a live server; `ip_out` is NULL or has room for
/// `TCPHUB_IP_LEN` chars; `port_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tcphub_server_local_addr(
    s: *const tcphub_server,
    ip_out: *mut c_char,
    port_out: *mut u16,
) -> c_int {
    boundary("tcphub_server_local_addr", || {
        // SAFETY: the caller's promise.
        unsafe {
            write_addr(ip_out, port_out, || {
                server(s)?.with_handle(|h| Ok(h.local_addr()))
            })
        }
    })
}
