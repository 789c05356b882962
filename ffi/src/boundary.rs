//! The C boundary: every exported function runs its body inside
//! [`boundary`], which catches panics, turns failures into the function's
//! error value and records the thread's `tcphub_last_error()` text. Pointer
//! and argument checks ([`non_null`], [`bytes`], [`c_str`], [`framing`])
//! return a [`Fail`] instead of crashing; callback invocations run inside
//! [`callback`].

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

use tcphub_core::{Framing, DEFAULT_MAX_FRAME, DEFAULT_MAX_LINE};

use crate::codes::*;

/// Why a call failed: the code to return and the detail for `tcphub_last_error()`.
///
/// Boxed, so that a `Result<T, Fail>` of a small `T` is two registers: the
/// success path of every call (a relay's sends among them) moves no more.
#[derive(Debug)]
pub(crate) struct Fail(Box<FailInner>);

#[derive(Debug)]
struct FailInner {
    code: c_int,
    detail: String,
    /// The OS error number behind the failure, 0 when there is none (see
    /// `tcphub_last_errno`).
    os_error: c_int,
    /// The resolver's `EAI_*` code behind the failure, 0 when there is none
    /// (see `tcphub_last_gai_error`).
    gai_error: c_int,
}

impl Fail {
    #[cold]
    pub(crate) fn new(code: c_int, detail: impl Into<String>) -> Fail {
        Fail(Box::new(FailInner {
            code,
            detail: detail.into(),
            os_error: 0,
            gai_error: 0,
        }))
    }

    pub(crate) fn invalid(detail: impl Into<String>) -> Fail {
        Fail::new(TCPHUB_ERR_INVALID_ARG, detail)
    }

    /// The core's `NotRunning` ("not running") from a server that was
    /// started, said as what it means there: a server never started gets
    /// its own message, and this one should read differently.
    #[cold]
    pub(crate) fn stopped(self) -> Fail {
        if self.0.code == TCPHUB_ERR_NOT_RUNNING {
            Fail::new(
                TCPHUB_ERR_NOT_RUNNING,
                "the server is stopped (or stopping)",
            )
        } else {
            self
        }
    }
}

impl From<tcphub_core::Error> for Fail {
    #[cold]
    fn from(e: tcphub_core::Error) -> Fail {
        // The core's code table is the single source of the numbers.
        let mut fail = Fail::new(-e.code(), e.to_string());
        fail.0.os_error = os_error(&e);
        fail.0.gai_error = e.resolver_code().unwrap_or(0);
        fail
    }
}

/// The `errno` behind a core error (`Error::io_error`), as Python's
/// `OSError.errno` has it: the OS code, or `ETIMEDOUT` for a timeout the
/// core measured itself (a connect timeout, which has no OS code, as a
/// timed-out `connect(2)` would), `EINTR` for a connect cancelled
/// (`tcphub_connect_cancel`); 0 for an error no OS call reported.
fn os_error(e: &tcphub_core::Error) -> c_int {
    e.io_error().map_or(0, |io| {
        io.raw_os_error().unwrap_or(match io.kind() {
            std::io::ErrorKind::TimedOut => libc::ETIMEDOUT,
            std::io::ErrorKind::Interrupted => libc::EINTR,
            _ => 0,
        })
    })
}

/// What an exported function returns when its body failed.
pub(crate) trait FfiReturn {
    /// The value for a failure with `code`.
    fn failed(code: c_int) -> Self;
}

impl FfiReturn for c_int {
    fn failed(code: c_int) -> c_int {
        code
    }
}

impl FfiReturn for () {
    fn failed(_: c_int) {}
}

impl FfiReturn for bool {
    fn failed(_: c_int) -> bool {
        false
    }
}

impl FfiReturn for u16 {
    fn failed(_: c_int) -> u16 {
        0
    }
}

impl FfiReturn for usize {
    fn failed(_: c_int) -> usize {
        0
    }
}

impl FfiReturn for u64 {
    fn failed(_: c_int) -> u64 {
        0
    }
}

/// A count where -1 says "not known" (`tcphub_client_unacknowledged_bytes`).
impl FfiReturn for i64 {
    fn failed(_: c_int) -> i64 {
        -1
    }
}

impl<T> FfiReturn for *mut T {
    fn failed(_: c_int) -> *mut T {
        std::ptr::null_mut()
    }
}

impl FfiReturn for *const c_char {
    fn failed(_: c_int) -> *const c_char {
        c"".as_ptr()
    }
}

thread_local! {
    /// Text of this thread's last failure, handed out by `tcphub_last_error()`.
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
    /// The OS error number of this thread's last failure (0: none), handed
    /// out by `tcphub_last_errno()`; set with `LAST_ERROR`.
    static LAST_ERRNO: Cell<c_int> = const { Cell::new(0) };
    /// The resolver's code of this thread's last failure (0: none), handed
    /// out by `tcphub_last_gai_error()`; set with `LAST_ERROR`.
    static LAST_GAI_ERROR: Cell<c_int> = const { Cell::new(0) };
}

/// `text` for C, a NUL byte in it written `\0` (C would end the string
/// there).
pub(crate) fn c_text(text: &str) -> CString {
    CString::new(text.replace('\0', "\\0")).expect("NUL bytes were escaped")
}

fn set_last_error(func: &str, detail: &str, os_error: c_int, gai_error: c_int) {
    let text = c_text(&format!("{func}: {detail}"));
    // `try_with`: during thread teardown the slot may be gone; then the
    // detail is simply not kept.
    let _ = LAST_ERROR.try_with(|slot| *slot.borrow_mut() = text);
    let _ = LAST_ERRNO.try_with(|slot| slot.set(os_error));
    let _ = LAST_GAI_ERROR.try_with(|slot| slot.set(gai_error));
}

/// The disconnect reason last handed to a thread, and its text once asked
/// for (`tcphub_disconnect_detail`): kept as the reason, and written out
/// only when asked, so a disconnect costs no formatting for programs that
/// never ask.
#[derive(Default)]
struct LastDisconnect {
    why: Option<tcphub_core::DisconnectReason>,
    text: CString,
}

thread_local! {
    static LAST_DISCONNECT: RefCell<LastDisconnect> = RefCell::default();
}

/// Notes `why` as the disconnect reason last handed to this thread: an
/// `on_disconnect` about to run here, a disconnect event taken here, a
/// client's final reason asked for here.
pub(crate) fn note_disconnect(why: &tcphub_core::DisconnectReason) {
    let _ = LAST_DISCONNECT.try_with(|slot| slot.borrow_mut().why = Some(why.clone()));
}

/// Pointer to this thread's last disconnect text (valid until the next).
pub(crate) fn last_disconnect_ptr() -> *const c_char {
    LAST_DISCONNECT
        .try_with(|slot| {
            let mut last = slot.borrow_mut();
            if let Some(why) = last.why.take() {
                last.text = CString::new(why.to_string()).unwrap_or_default();
            }
            last.text.as_ptr()
        })
        .unwrap_or(c"".as_ptr())
}

/// This thread's last failure's OS error number (0: none).
pub(crate) fn last_errno() -> c_int {
    LAST_ERRNO.try_with(Cell::get).unwrap_or(0)
}

/// This thread's last failure's resolver code (0: none).
pub(crate) fn last_gai_error() -> c_int {
    LAST_GAI_ERROR.try_with(Cell::get).unwrap_or(0)
}

/// Pointer to this thread's last error text (valid until the next failure here).
pub(crate) fn last_error_ptr() -> *const c_char {
    LAST_ERROR
        .try_with(|slot| slot.borrow().as_ptr())
        .unwrap_or(c"".as_ptr())
}

fn panic_text(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic".to_string()
    }
}

/// Runs the body of exported function `func`: a panic becomes
/// `TCPHUB_ERR_PANIC`, a [`Fail`] its code; either is recorded for
/// `tcphub_last_error()` and reported as `T`'s failure value (the code, NULL,
/// 0, false, ...). Nothing unwinds into C.
pub(crate) fn boundary<T: FfiReturn>(
    func: &'static str,
    body: impl FnOnce() -> Result<T, Fail>,
) -> T {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(value)) => value,
        Ok(Err(fail)) => {
            set_last_error(func, &fail.0.detail, fail.0.os_error, fail.0.gai_error);
            T::failed(fail.0.code)
        }
        Err(payload) => {
            set_last_error(
                func,
                &format!("internal panic: {}", panic_text(&*payload)),
                0,
                0,
            );
            T::failed(TCPHUB_ERR_PANIC)
        }
    }
}

/// Runs one invocation of a C callback (and the translation around it) so
/// that a panic on our side never unwinds through the event loop's frames
/// into or out of C code. The panic is reported on stderr and in the
/// thread's `tcphub_last_error()`; the server keeps running.
pub(crate) fn callback(name: &'static str, call: impl FnOnce()) {
    if let Err(payload) = catch_unwind(AssertUnwindSafe(call)) {
        let text = format!(
            "internal panic around the callback: {}",
            panic_text(&*payload)
        );
        eprintln!("tcphub: {name}: {text}");
        set_last_error(name, &text, 0, 0);
    }
}

/// `p` as a reference, or `TCPHUB_ERR_NULL` naming the argument.
///
/// # Safety
///
/// `p` is NULL or points to a live `T` for the returned lifetime.
pub(crate) unsafe fn non_null<'a, T>(p: *const T, arg: &str) -> Result<&'a T, Fail> {
    // SAFETY: the caller promises `p` is NULL or valid.
    unsafe { p.as_ref() }.ok_or_else(|| Fail::new(TCPHUB_ERR_NULL, format!("{arg} is NULL")))
}

/// The `len` bytes at `data`; NULL is accepted only with `len` 0, and no
/// object is larger than `isize::MAX` bytes (a larger `len` is a negative
/// length converted to `size_t`, e.g. a failed `read()`'s -1).
///
/// # Safety
///
/// `data` is NULL or points to `len` readable bytes that outlive the result.
pub(crate) unsafe fn bytes<'a>(data: *const u8, len: usize) -> Result<&'a [u8], Fail> {
    // SAFETY: the caller's promise.
    unsafe { named_bytes("data", data, len) }
}

/// As [`bytes`], for a parameter not called `data`: `name` is how the
/// header calls it, for `tcphub_last_error()`.
///
/// # Safety
///
/// As for [`bytes`].
pub(crate) unsafe fn named_bytes<'a>(
    name: &str,
    data: *const u8,
    len: usize,
) -> Result<&'a [u8], Fail> {
    if len > isize::MAX as usize {
        return Err(Fail::invalid(format!(
            "len {len} is larger than any object"
        )));
    }
    if data.is_null() {
        return if len == 0 {
            Ok(&[])
        } else {
            Err(Fail::new(
                TCPHUB_ERR_NULL,
                format!("{name} is NULL but len is {len}"),
            ))
        };
    }
    // SAFETY: the caller promises `len` readable bytes at a non-NULL `data`.
    Ok(unsafe { std::slice::from_raw_parts(data, len) })
}

/// The `n` client ids at `ids` (NULL with `n` 0: none), checked as
/// [`named_bytes`] checks bytes, and aligned.
///
/// # Safety
///
/// `ids` is NULL or points to `n` readable `u64`s that outlive the result.
pub(crate) unsafe fn client_ids<'a>(ids: *const u64, n: usize) -> Result<&'a [u64], Fail> {
    if n > isize::MAX as usize / std::mem::size_of::<u64>() {
        return Err(Fail::invalid(format!("n_ids {n} is larger than any array")));
    }
    if ids.is_null() {
        return if n == 0 {
            Ok(&[])
        } else {
            Err(Fail::new(
                TCPHUB_ERR_NULL,
                format!("ids is NULL but n_ids is {n}"),
            ))
        };
    }
    if !ids.is_aligned() {
        return Err(Fail::invalid("ids is not aligned for uint64_t"));
    }
    // SAFETY: non-NULL, aligned, and `n` readable ids by the caller's promise.
    Ok(unsafe { std::slice::from_raw_parts(ids, n) })
}

/// The NUL-terminated UTF-8 string at `p`.
///
/// # Safety
///
/// `p` is NULL or points to a NUL-terminated string that outlives the result.
pub(crate) unsafe fn c_str<'a>(p: *const c_char, arg: &str) -> Result<&'a str, Fail> {
    if p.is_null() {
        return Err(Fail::new(TCPHUB_ERR_NULL, format!("{arg} is NULL")));
    }
    // SAFETY: non-NULL and NUL-terminated by the caller's promise.
    unsafe { CStr::from_ptr(p) }
        .to_str()
        .map_err(|_| Fail::invalid(format!("{arg} is not valid UTF-8")))
}

/// The `host` argument of `tcphub_client_connect` and `_connect_with`: as
/// [`c_str`], checked and unbracketed by `tcphub_core::client_host`: an
/// empty host, or one with a port written into it (`"127.0.0.1:8001"`,
/// `"[::1]:8001"`, `"localhost:8001"`), or numbers and dots that are no
/// IPv4 address (`"127.0.0.010"`), is an argument error that says so;
/// an IPv6 address in brackets loses them.
///
/// # Safety
///
/// As for [`c_str`].
pub(crate) unsafe fn host<'a>(p: *const c_char) -> Result<&'a str, Fail> {
    // SAFETY: the caller's promise.
    let text = unsafe { c_str(p, "host")? };
    tcphub_core::client_host(text).map_err(Fail::invalid)
}

/// The core framing for a `TCPHUB_FRAMING_*` value; `max_len` 0 picks the
/// default, and is the only one RAW takes.
pub(crate) fn framing(value: tcphub_framing, max_len: usize) -> Result<Framing, Fail> {
    match value {
        // RAW has no frames, so no frame limit: one given is a mistake,
        // refused (as Python refuses `max_len` with "raw") rather than
        // dropped unseen. 0, "the framing's default", is good for any.
        TCPHUB_FRAMING_RAW if max_len != 0 => Err(Fail::invalid(format!(
            "max_len applies to TCPHUB_FRAMING_LINES and TCPHUB_FRAMING_LENGTH_PREFIXED, \
             not TCPHUB_FRAMING_RAW: give 0 with RAW, not {max_len}"
        ))),
        TCPHUB_FRAMING_RAW => Ok(Framing::Raw),
        TCPHUB_FRAMING_LINES => Ok(Framing::Lines {
            max_len: if max_len == 0 {
                DEFAULT_MAX_LINE
            } else {
                max_len
            },
        }),
        TCPHUB_FRAMING_LENGTH_PREFIXED => Ok(Framing::LengthPrefixed {
            max_len: if max_len == 0 {
                DEFAULT_MAX_FRAME
            } else {
                max_len
            },
        }),
        other => Err(Fail::invalid(format!("unknown framing value {other}"))),
    }
}

/// An application pointer handed back to C callbacks on the event-loop
/// threads. The C contract (documented in the header) makes the application
/// responsible for it being usable from those threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct UserPtr(pub(crate) *mut c_void);

impl UserPtr {
    /// The pointer. (A method, so closures capture the `Send` wrapper
    /// rather than its raw field.)
    pub(crate) fn get(self) -> *mut c_void {
        self.0
    }
}

// SAFETY: tcphub never dereferences it; it is only passed back to the
// application's own callbacks, which the header says run on other threads.
unsafe impl Send for UserPtr {}
// SAFETY: as above.
unsafe impl Sync for UserPtr {}

/// A timeout in milliseconds from C: negative means "wait without limit".
pub(crate) fn timeout(ms: c_int) -> Option<std::time::Duration> {
    u64::try_from(ms).ok().map(std::time::Duration::from_millis)
}
