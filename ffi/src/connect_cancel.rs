//! `tcphub_connect_cancel`: ends a `tcphub_client_connect_with` under way
//! from another thread (the core's `ConnectCancel`).

use std::ffi::c_int;

use tcphub_core::ConnectCancel;

use crate::boundary::{boundary, Fail};
use crate::codes::*;

/// Cancels a client's connect from another thread. Create one with
/// `tcphub_connect_cancel_new`, put it in `tcphub_client_options.cancel`,
/// and call `tcphub_connect_cancel_cancel` from any thread (a "Stop" button,
/// a shutdown): the `tcphub_client_connect_with` under way returns at once
/// with `TCPHUB_ERR_CONNECT`, `tcphub_last_errno()` `EINTR` and "connect
/// cancelled" in `tcphub_last_error()`; no further address is dialled (none
/// at all once it is cancelled first). A name lookup cannot be cancelled:
/// one under way ends first. A cancelled token stays cancelled; one token
/// may serve several connects. It is no concern of a client already
/// connected: its redials end with `tcphub_client_close`.
#[derive(Debug)]
pub struct tcphub_connect_cancel {
    token: ConnectCancel,
}

impl tcphub_connect_cancel {
    /// The core's token, to give a connect.
    pub(crate) fn token(&self) -> &ConnectCancel {
        &self.token
    }
}

/// A new token, not cancelled. Returns NULL only if it cannot be created
/// (see `tcphub_last_error`). Release it with `tcphub_connect_cancel_free`.
///
/// A connect another thread can end (`cancel` made here, freed once the connect returned):
/// ```c
/// tcphub_client_options o;
/// tcphub_client_options_init(&o);
/// o.connect_timeout_ms = 60000;
/// o.cancel = cancel;
/// tcphub_client *c;
/// int rc = tcphub_client_connect_with(host, port, &o, &c); // TCPHUB_ERR_CONNECT once cancelled
///
/// // another thread, to give up:
/// tcphub_connect_cancel_cancel(cancel); // the connect ends now
/// ```
#[no_mangle]
pub extern "C" fn tcphub_connect_cancel_new() -> *mut tcphub_connect_cancel {
    boundary("tcphub_connect_cancel_new", || {
        Ok(Box::into_raw(Box::new(tcphub_connect_cancel {
            token: ConnectCancel::new(),
        })))
    })
}

/// Cancels the connects given `c` (and those given it later). Any thread,
/// any number of times; it never blocks for long.
///
/// Returns `TCPHUB_ERR_NULL` for NULL.
///
/// # Safety
///
/// `c` is NULL or a live token.
#[no_mangle]
pub unsafe extern "C" fn tcphub_connect_cancel_cancel(c: *const tcphub_connect_cancel) -> c_int {
    boundary("tcphub_connect_cancel_cancel", || {
        // SAFETY: NULL or live, by the caller's promise.
        let Some(c) = (unsafe { c.as_ref() }) else {
            return Err(Fail::new(TCPHUB_ERR_NULL, "the connect cancel is NULL"));
        };
        c.token.cancel();
        Ok(TCPHUB_OK)
    })
}

/// Whether `c` was cancelled (false for NULL).
///
/// # Safety
///
/// `c` is NULL or a live token.
#[no_mangle]
pub unsafe extern "C" fn tcphub_connect_cancel_is_cancelled(
    c: *const tcphub_connect_cancel,
) -> bool {
    boundary("tcphub_connect_cancel_is_cancelled", || {
        // SAFETY: NULL or live, by the caller's promise.
        Ok(unsafe { c.as_ref() }.is_some_and(|c| c.token.is_cancelled()))
    })
}

/// Releases `c`. NULL is a no-op. A connect under way keeps its own share
/// of the token (cancelling it is then no longer possible from here), but
/// free it only once no `tcphub_client_connect_with` given it can still be
/// starting: one reads the pointer as it starts.
///
/// # Safety
///
/// `c` is NULL or a live token, not used again after this call.
#[no_mangle]
pub unsafe extern "C" fn tcphub_connect_cancel_free(c: *mut tcphub_connect_cancel) {
    boundary("tcphub_connect_cancel_free", || {
        if !c.is_null() {
            // SAFETY: made by `Box::into_raw` in `tcphub_connect_cancel_new`;
            // the caller gives it up now.
            drop(unsafe { Box::from_raw(c) });
        }
        Ok(())
    })
}
