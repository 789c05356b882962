//! Review "ag": the public API against the Rust API Guidelines checklist
//! (C-COMMON-TRAITS, C-SEND-SYNC, C-GOOD-ERR, C-CONV). Most of these are
//! compile-time assertions: the file does not build when a type loses a
//! trait the guidelines (and this crate's docs) promise.

use std::error::Error as StdError;
use std::fmt::{Debug, Display};
use std::hash::Hash;
use std::io;

use tcphub::{
    Client, ClientBuilder, ClientEvent, ClientId, ClientRef, ConnectCancel, Decoder,
    DisconnectReason, Error, Event, Events, FlushMark, FrameError, Framing, Overflow, ReadyFd,
    Reconnect, ServerHandle, Stats, TcpClient, TcpServer,
};

fn assert_send_sync<T: Send + Sync>() {}
fn assert_send<T: Send>() {}
fn assert_debug<T: Debug>() {}
fn assert_value<T: Debug + Clone + PartialEq + Eq + Send + Sync + 'static>() {}
fn assert_copy_hash<T: Copy + Hash + Eq>() {}
fn assert_error<T: StdError + Send + Sync + 'static>() {}

/// The handles the docs call `Send + Sync` ("Cheap to clone, `Send +
/// Sync`; every method may be called from any thread"), and the ones
/// meant to be handed to other threads (a receiver per consumer thread, a
/// cancel token for another thread, a descriptor for another event loop).
#[test]
fn review_ag_handles_are_send_sync_and_clone() {
    assert_send_sync::<ServerHandle>();
    assert_send_sync::<TcpClient>();
    assert_send_sync::<Events>();
    assert_send_sync::<ConnectCancel>();
    assert_send_sync::<ReadyFd>();
    fn clone<T: Clone>() {}
    clone::<ServerHandle>();
    clone::<TcpClient>();
    clone::<Events>();
    clone::<ConnectCancel>();
    // Builders can be made on one thread and started on another.
    assert_send::<TcpServer>();
    assert_send::<ClientBuilder>();
    assert_send::<Decoder>();
}

/// C-DEBUG: every public type is `Debug` (the crate denies
/// `missing_debug_implementations`; this checks the re-exports).
#[test]
fn review_ag_every_public_type_is_debug() {
    assert_debug::<TcpServer>();
    assert_debug::<ServerHandle>();
    assert_debug::<TcpClient>();
    assert_debug::<ClientBuilder>();
    assert_debug::<Events>();
    assert_debug::<ReadyFd>();
    assert_debug::<ConnectCancel>();
    assert_debug::<Decoder>();
    assert_debug::<Error>();
    assert_debug::<FrameError>();
}

/// C-DEBUG-NONEMPTY: the manual `Debug`s say something.
#[test]
fn review_ag_debug_is_never_empty() {
    let server = TcpServer::new(0, 1)
        .bind("127.0.0.1".parse().unwrap())
        .start()
        .unwrap();
    let client = TcpClient::connect(server.local_addr()).unwrap();
    let events = server.events();
    let ready = events.ready_fd().unwrap();
    for text in [
        format!("{:?}", TcpServer::new(0, 1)),
        format!("{server:?}"),
        format!("{client:?}"),
        format!("{:?}", TcpClient::builder(server.local_addr())),
        format!("{events:?}"),
        format!("{ready:?}"),
        format!("{:?}", ConnectCancel::new()),
        format!("{:?}", Decoder::new(Framing::Raw)),
        format!("{:?}", FrameError::TooLarge { max: 1 }),
        format!("{:?}", Error::Timeout),
    ] {
        assert!(!text.is_empty(), "an empty Debug");
        assert!(
            !text.ends_with("{ .. }") && text != "\"\"",
            "a Debug saying nothing: {text}"
        );
    }
    client.close();
    server.stop();
}

/// C-COMMON-TRAITS: the value types (ids, addresses, settings, snapshots,
/// events) are `Debug + Clone + PartialEq + Eq`, and the small ones `Copy`
/// and `Hash` as well, so they can be map keys and set members.
#[test]
fn review_ag_value_types_have_the_common_traits() {
    assert_value::<Client>();
    assert_value::<ClientId>();
    assert_value::<ClientRef>();
    assert_value::<DisconnectReason>();
    assert_value::<Event>();
    assert_value::<ClientEvent>();
    assert_value::<Framing>();
    assert_value::<Overflow>();
    assert_value::<Reconnect>();
    assert_value::<Stats>();
    assert_value::<FlushMark>();
    assert_value::<FrameError>();

    assert_copy_hash::<Client>();
    assert_copy_hash::<ClientRef>();
    assert_copy_hash::<Framing>();
    // Were Copy + Eq without Hash: a settings enum, a policy, a decode
    // error and a mark could not key a map or fill a set.
    assert_copy_hash::<Overflow>();
    assert_copy_hash::<Reconnect>();
    assert_copy_hash::<FrameError>();
    assert_copy_hash::<FlushMark>();
    assert_copy_hash::<Stats>();
    fn hash<T: Hash>() {}
    hash::<DisconnectReason>();

    fn default<T: Default>() {}
    default::<Framing>();
    default::<Overflow>();
    default::<Reconnect>();
    default::<Stats>();
    default::<ConnectCancel>();

    let mut set = std::collections::HashSet::new();
    set.insert(Overflow::DropMessage);
    set.insert(Overflow::Disconnect);
    set.insert(Overflow::DropMessage);
    assert_eq!(set.len(), 2);
}

/// C-GOOD-ERR: `Error` is a `std::error::Error + Send + Sync + 'static`,
/// so it goes into `Box<dyn Error + Send + Sync>` and `anyhow`-likes;
/// `source()` is the wrapped `io::Error`.
#[test]
fn review_ag_error_is_a_good_error() {
    assert_error::<Error>();
    let boxed: Box<dyn StdError + Send + Sync> = Box::new(Error::Timeout);
    assert_eq!(boxed.to_string(), "timed out");

    let err = Error::Io {
        context: "doing something",
        source: io::Error::from(io::ErrorKind::PermissionDenied),
    };
    let source = err.source().expect("the io::Error is the source");
    let io = source.downcast_ref::<io::Error>().expect("an io::Error");
    assert_eq!(io.kind(), io::ErrorKind::PermissionDenied);
    assert!(Error::Timeout.source().is_none());
}

/// C-GOOD-ERR: `FrameError`, returned by `Decoder::decode`, was a bare
/// enum: no `Display`, no `std::error::Error`, so `?` could not put it in
/// a `Box<dyn Error>` and it could not be printed for a user.
#[test]
fn review_ag_frame_error_is_an_error() {
    assert_error::<FrameError>();
    fn display<T: Display>() {}
    display::<FrameError>();

    fn decode_all(input: &[u8]) -> Result<usize, Box<dyn StdError + Send + Sync>> {
        let mut n = 0;
        Decoder::new(Framing::Lines { max_len: 3 }).decode(input, |_| n += 1)?;
        Ok(n)
    }
    assert_eq!(decode_all(b"ab\ncd\n").unwrap(), 2);
    let err = decode_all(b"abcdef").unwrap_err();
    assert_eq!(
        err.to_string(),
        "frame exceeds the framing's limit of 3 bytes"
    );
}

/// C-CONV / C-GOOD-ERR: a `tcphub::Error` converts into an `io::Error`
/// with a kind a caller can act on (the OS error's own kind where one is
/// wrapped), keeping the message, the source and the original (by
/// downcast), so `?` works in functions returning `io::Result`.
#[test]
fn review_ag_error_converts_into_io_error() {
    fn bind_twice() -> io::Result<()> {
        let first = TcpServer::new(0, 1)
            .bind("127.0.0.1".parse().unwrap())
            .start()?;
        let _second = TcpServer::new(first.local_addr().port(), 1)
            .bind("127.0.0.1".parse().unwrap())
            .start()?;
        Ok(())
    }
    let err = bind_twice().unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
    assert!(
        err.to_string().starts_with("cannot listen on 127.0.0.1:"),
        "{err}"
    );
    assert!(err.source().is_some(), "the OS error stays the source");
    let inner = err
        .get_ref()
        .and_then(|e| e.downcast_ref::<Error>())
        .expect("the tcphub::Error inside");
    assert!(matches!(inner, Error::Bind { .. }));

    for (e, kind) in [
        (Error::Timeout, io::ErrorKind::TimedOut),
        (
            Error::QueueFull {
                queued: 1,
                limit: 1,
            },
            io::ErrorKind::WouldBlock,
        ),
        (Error::NotRunning, io::ErrorKind::NotConnected),
        (
            Error::NoSuchClient(ClientRef::Id(1)),
            io::ErrorKind::NotFound,
        ),
        (
            Error::InvalidConfig("x".into()),
            io::ErrorKind::InvalidInput,
        ),
        (
            Error::FrameTooLarge { len: 2, max: 1 },
            io::ErrorKind::InvalidInput,
        ),
    ] {
        let text = e.to_string();
        let io = io::Error::from(e);
        assert_eq!(io.kind(), kind, "{text}");
        assert_eq!(io.to_string(), text);
    }
}
