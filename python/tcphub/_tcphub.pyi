"""Type stubs for the native module ``tcphub._tcphub`` (checked by mypy stubtest)."""

from types import TracebackType
from typing_extensions import Buffer
from typing import (
    Any,
    AsyncGenerator,
    AsyncIterator,
    Callable,
    Coroutine,
    Dict,
    Iterable,
    Iterator,
    List,
    Literal,
    Optional,
    Tuple,
    Type,
    TypeVar,
    final,
)

__all__ = [
    "__version__",
    "engine_log_level",
    "set_engine_log_level",
    "DEFAULT_MAX_LINE",
    "DEFAULT_MAX_FRAME",
    "DEFAULT_MAX_QUEUE_BYTES",
    "MAX_THREADS",
    "MAX_BUSY_POLL",
    "MAX_KEEPALIVE",
    "DEFAULT_BUSY_POLL",
    "DEFAULT_LINGER",
    "DEFAULT_BACKLOG",
    "DEFAULT_EVENT_CAPACITY",
    "DEFAULT_CONNECT_TIMEOUT",
    "MAX_FULL_MESSAGE",
    "EVENT_QUEUE_BYTES",
    "TcpServer",
    "TcpClient",
    "Client",
    "ClientEvent",
    "Event",
    "Stats",
    "EventIterator",
    "ReadyFd",
    "TcpHubError",
    "InvalidConfig",
    "BindError",
    "ConnectError",
    "NoSuchClient",
    "NoSuchAddr",
    "NotRunning",
    "FrameTooLarge",
    "InvalidMessage",
    "QueueFull",
    "Timeout",
    "IoError",
]

__version__: str
DEFAULT_MAX_LINE: int
DEFAULT_MAX_FRAME: int
DEFAULT_MAX_QUEUE_BYTES: int
MAX_THREADS: int
"""Most event-loop threads a ``TcpServer`` takes (``threads``)."""
MAX_BUSY_POLL: float
"""Longest ``busy_poll`` a ``TcpServer`` takes, in seconds."""
MAX_KEEPALIVE: float
"""Longest ``keepalive`` a ``TcpServer`` or ``TcpClient`` takes, in seconds."""
DEFAULT_BUSY_POLL: float
"""``TcpServer``'s default ``busy_poll``, in seconds (5 µs)."""
DEFAULT_LINGER: float
"""The default ``linger`` of ``TcpServer`` and ``TcpClient``, in seconds."""
DEFAULT_BACKLOG: int
"""``TcpServer``'s default listen ``backlog``."""
DEFAULT_EVENT_CAPACITY: int
"""The default ``event_capacity`` of ``TcpServer`` and ``TcpClient`` (events)."""
DEFAULT_CONNECT_TIMEOUT: float
"""``TcpClient``'s default ``connect_timeout``, in seconds."""
MAX_FULL_MESSAGE: int
"""Longest server notice (``full_message``, ``per_ip_full_message``,
``idle_timeout_message``, ``frame_timeout_message``,
``frame_too_large_message``) a ``TcpServer`` takes, framed, in bytes."""
EVENT_QUEUE_BYTES: int
"""Message bytes an event queue holds at most (with ``event_capacity``
events): past either, the server or client stops reading. One message
longer than this (a ``max_len`` above it) still fits an empty queue."""

_OnConnect = TypeVar("_OnConnect", bound=Callable[["Client"], object])
_OnMessage = TypeVar("_OnMessage", bound=Callable[["Client", bytes], object])
_OnDisconnect = TypeVar("_OnDisconnect", bound=Callable[["Client", str], object])
_OnError = TypeVar("_OnError", bound=Callable[[BaseException, "Event"], object])
_S = TypeVar("_S", bound="TcpServer")

class TcpHubError(Exception):
    """Base class of every error raised by tcphub.

    Example::

        try:
            server.send(client_id, data)
        except tcphub.NoSuchClient:
            pass  # it left meanwhile
        except tcphub.TcpHubError as e:
            print("not sent:", e)"""

class InvalidConfig(TcpHubError, ValueError):
    """A configuration value is out of range (e.g. zero threads or max_len)."""

class BindError(TcpHubError, OSError):
    """The listening socket could not be bound (address in use, permission
    denied).

    An ``OSError`` with ``errno`` set, as ``socket.bind`` raises; attribute
    ``address`` holds the ``(ip, port)`` that was asked for."""

    address: Tuple[str, int]

class ConnectError(TcpHubError, ConnectionError):
    """An outgoing connection could not be established (refused, timed out).

    A ``ConnectionError`` with ``errno`` set where the OS gave one
    (``ETIMEDOUT`` for ``connect_timeout``), and an instance of the built-in
    class that ``errno`` has, as ``socket``'s errors are
    (``ConnectionRefusedError``, ``TimeoutError``); attribute ``address`` holds
    the ``(ip, port)`` that was dialled (the first one, whose ``errno`` this
    is, when a name resolved to several: the message names each address tried
    with its error). A name that does not resolve raises a ``ConnectError``
    that is also a ``socket.gaierror``, with ``address`` ``None``."""

    address: Optional[Tuple[str, int]]

class NoSuchClient(TcpHubError, LookupError):
    """No connected client has this id (it never existed or has disconnected).

    Attribute ``client_id`` holds the id that was asked for."""

    client_id: Optional[int]

class NoSuchAddr(NoSuchClient):
    """No connected client has this remote address (``send_to``).

    Attribute ``address`` holds the ``(ip, port)`` that was asked for, the ip
    as ``Client.ip`` gives it (``"[::1]"`` and ``"::1%1"`` as ``"::1"``,
    ``"::ffff:127.0.0.1"`` as ``"127.0.0.1"``)."""

    address: Tuple[str, int]

class NotRunning(TcpHubError):
    """The server or client is not running: never started, stopped or closed."""

class FrameTooLarge(TcpHubError, ValueError):
    """A message is longer than the framing allows.

    Attributes ``length`` (the message) and ``limit`` (the framing's max_len)."""

    length: int
    limit: int

class InvalidMessage(TcpHubError, ValueError):
    """A message the framing cannot carry as it is: under lines framing, one
    containing a newline (it would arrive as several messages). Raised by every
    send before anything is queued; use length framing for binary or multi-line
    messages."""

class QueueFull(TcpHubError):
    """A bounded outbound queue has no room for the message.

    Attributes ``queued`` (bytes waiting) and ``limit`` (the bound)."""

    queued: int
    limit: int

class Timeout(TcpHubError, TimeoutError):
    """A timed wait ran out (a ``TimeoutError``, like ``socket.timeout``)."""

class IoError(TcpHubError, OSError):
    """Any other operating-system failure, with ``errno`` set where known."""

def set_engine_log_level(level: int) -> None:
    """Passes the engine's own lines at ``level`` and above (a ``logging``
    level: ``logging.DEBUG`` for its debug lines, ``5`` for trace, above
    ``logging.ERROR`` none) to ``logging`` from now on, as records of the
    ``tcphub.*`` loggers; the default is ``logging.INFO``. ``logging``'s own
    levels and handlers still decide what is shown::

        logging.basicConfig(level=logging.DEBUG)
        tcphub.set_engine_log_level(logging.DEBUG)
    """

def engine_log_level() -> int:
    """The level ``set_engine_log_level`` set: ``logging``'s number (5 for
    trace; ``logging.CRITICAL`` when no line is passed on)::

        if tcphub.engine_log_level() > logging.DEBUG:
            tcphub.set_engine_log_level(logging.DEBUG)
    """

def _os_error(
    cls: Type[OSError], args: Tuple[Any, ...], builtin: Type[OSError]
) -> OSError:
    """Rebuilds a pickled tcphub ``OSError`` of a finer built-in class."""

def _client(id: int, ip: str, port: int) -> Client:
    """Rebuilds a pickled ``Client``."""

def _event(kind: str, client: Client, data: Optional[bytes], reason: Optional[str]) -> Event:
    """Rebuilds a pickled ``Event``."""

def _client_event(
    kind: str,
    data: Optional[bytes],
    reason: Optional[str],
    attempt: Optional[int],
    delay: Optional[float],
    local_address: Optional[Tuple[str, int]],
) -> ClientEvent:
    """Rebuilds a pickled ``ClientEvent``."""

def _stats(counters: Dict[str, int]) -> Stats:
    """Rebuilds a pickled ``Stats``."""

@final
class Client:
    """A connected client: its id and remote address. Like ``Event``,
    ``ClientEvent`` and ``Stats``, a value that pickles (e.g. for a process
    pool) and copies.

    Example (its properties)::

        @server.on_connect
        def joined(client):
            print(client)          # 127.0.0.1:50312 (IPv6: [::1]:50312)
            print(client.id)       # 3
            print(client.address)  # ('127.0.0.1', 50312): client.ip, client.port"""

    @property
    def id(self) -> int:
        """Unique in the process and never reused — across servers and a
        server's restarts — growing in accept order. A ``Client`` passed
        to a server's methods stands for its id alone; given to another
        server, it names no client there (``NoSuchClient``, or ``None``)."""
    @property
    def ip(self) -> str:
        """The client's remote IP address as text (what ``send_to`` expects)."""
    @property
    def port(self) -> int:
        """The client's remote port."""
    @property
    def address(self) -> Tuple[str, int]:
        """``(ip, port)``, like ``socket.getpeername()``."""
    def __eq__(self, other: object, /) -> bool: ...
    def __ne__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...
    def __reduce__(self) -> Tuple[Any, Tuple[Any, ...]]: ...

@final
class Event:
    """One thing that happened on a server: a client connected, sent a message,
    or disconnected.

    ``kind`` is ``"connect"``, ``"message"`` or ``"disconnect"``; ``data`` is
    the message for ``"message"`` events and ``reason`` the disconnect reason
    for ``"disconnect"`` events (``None`` otherwise). Events of one client
    arrive in order: connect, its messages, then exactly one disconnect.
    When a client only finished sending (reason ``"closed by peer"``, or
    ``"closed in the middle of a frame"``), its connection stays open for
    replies to its last messages until the next event is asked for, by any
    thread (or ``linger`` passes; with ``hold_for_replies`` set, until you
    ``disconnect()`` it or that time passes): ``send`` and ``send_all`` still
    reach it
    (``send_all`` does not count it). So does a notice about its leaving sent
    on this event (in ``on_disconnect`` too): leave it out with
    ``send_all(data, exclude=client.id)``.

    Example (its properties)::

        for event in server.events():
            if event.kind == "message":
                server.send(event.client, b"pong: " + event.data)
            elif event.kind == "disconnect":
                print(event.client, "left:", event.reason)  # ... left: closed by peer"""

    @property
    def kind(self) -> Literal["connect", "message", "disconnect"]:
        """``"connect"``, ``"message"`` or ``"disconnect"``."""
    @property
    def client(self) -> Client:
        """The client the event is about."""
    @property
    def data(self) -> Optional[bytes]:
        """The message (one frame) for ``"message"`` events, else ``None``."""
    @property
    def reason(self) -> Optional[str]:
        """Why the client left, for ``"disconnect"`` events, else ``None``: one of
        ``"closed by peer"``, ``"connection reset"``,
        ``"closed in the middle of a frame"``, ``"i/o error: ..."``,
        ``"frame too large"``, ``"slow consumer"``,
        ``"idle timeout"``, ``"frame not finished in time"``
        (``frame_timeout``),
        ``"kicked"``, ``"server stopped"``."""
    def __eq__(self, other: object, /) -> bool: ...
    def __ne__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...
    def __reduce__(self) -> Tuple[Any, Tuple[Any, ...]]: ...

@final
class ClientEvent:
    """One thing that happened on a client's connection, from
    ``client.next_event()``.

    ``kind`` is ``"message"`` (``data`` holds it), ``"disconnect"`` (the
    connection ended; ``reason`` says why), ``"reconnecting"`` (attempt
    ``attempt`` comes after ``delay`` seconds), ``"reconnected"`` (attempt
    ``attempt`` succeeded from ``local_address`` — the place to log in or
    subscribe again) or ``"closed"`` (the client is closed for good; the
    last event). Fields that do not apply are ``None``.

    Example (its properties; with ``reconnect=True``)::

        while (event := client.next_event()) is not None:  # None after "closed"
            if event.kind == "message":
                print(event.data)
            elif event.kind == "disconnect":
                print("lost:", event.reason)  # lost: closed by peer
            elif event.kind == "reconnecting":
                print(f"attempt {event.attempt} in {event.delay:.2f} s")
            elif event.kind == "reconnected":
                client.send(b"login alice")  # log in again"""

    @property
    def kind(self) -> Literal["message", "disconnect", "reconnecting", "reconnected", "closed"]:
        """``"message"``, ``"disconnect"``, ``"reconnecting"``, ``"reconnected"``
        or ``"closed"``."""
    @property
    def data(self) -> Optional[bytes]:
        """The message, for ``"message"``."""
    @property
    def reason(self) -> Optional[str]:
        """Why the connection ended, for ``"disconnect"`` (as
        ``disconnect_reason``)."""
    @property
    def attempt(self) -> Optional[int]:
        """The reconnect attempt, for ``"reconnecting"`` and ``"reconnected"``:
        1 for the first after a drop, unless the connection that dropped
        lasted under a second — then the count goes on from the attempt
        that made it (see ``TcpClient``'s ``reconnect``). While the event
        queue is full, a ``"reconnecting"`` still waiting for room is
        replaced by the next attempt's, so attempt numbers may skip."""
    @property
    def delay(self) -> Optional[float]:
        """Seconds until that attempt, for ``"reconnecting"`` (0 when a
        connection lost during ``close()`` is redialled at once to flush
        what is queued)."""
    @property
    def local_address(self) -> Optional[Tuple[str, int]]:
        """``(ip, port)`` of this end of the new connection, for
        ``"reconnected"``."""
    def __eq__(self, other: object, /) -> bool: ...
    def __ne__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...
    def __reduce__(self) -> Tuple[Any, Tuple[Any, ...]]: ...

@final
class Stats:
    """A snapshot of a server's counters since it started (``server.stats()``).

    Example (its properties)::

        s = server.stats()
        print(f"{s.clients} connected, {s.accepted} accepted, {s.msgs_in} in")
        log.info("tcphub %s", s.as_dict())  # {'accepted': 3, 'bytes_in': ...}"""

    @property
    def clients(self) -> int:
        """Clients connected now. A connection held open for replies after its
        disconnect event is not counted here but in ``disconnected``, though
        it keeps its place toward ``max_clients`` until it closes."""
    @property
    def accepted(self) -> int:
        """Connections accepted and admitted."""
    @property
    def rejected(self) -> int:
        """Connections refused because ``max_clients`` were connected."""
    @property
    def rejected_per_ip(self) -> int:
        """Connections refused because ``max_clients_per_ip`` were connected
        from the same IP address (not counted in ``rejected``)."""
    @property
    def disconnected(self) -> int:
        """Admitted connections (see ``accepted``) that have ended, for any
        reason; a refused one counts only in ``rejected``."""
    @property
    def msgs_in(self) -> int:
        """Messages (frames) received from clients."""
    @property
    def bytes_in(self) -> int:
        """Bytes read from client sockets (framing included)."""
    @property
    def msgs_out(self) -> int:
        """Messages queued for delivery, counted once per recipient."""
    @property
    def bytes_out(self) -> int:
        """Bytes written to client sockets (framing included): admitted
        clients', the server's notices to them included, not the notice to a
        refused connection (``full_message``)."""
    @property
    def dropped(self) -> int:
        """Messages dropped for a client whose queue was full
        (``overflow="drop"``)."""
    @property
    def undelivered(self) -> int:
        """Messages for one client that were not queued because the client had
        left, or was leaving, by the time the server got to them: a ``send``,
        ``send_to`` or ``send_many`` (once per client it counted) that
        returned while the client was disconnecting or
        the server stopping ran out of linger time before it got to them; the
        message (a broadcast's too) whose overflow cut a client as a slow
        consumer under ``overflow="disconnect"``; and messages (broadcasts too)
        that did not fit the queue of a client held
        open for replies after its disconnect event, under
        ``overflow="disconnect"`` (the first ends the hold and closes the
        client, so later broadcasts skip it: at most one broadcast message
        counts per held client; under
        ``overflow="drop"`` they count in ``dropped``, like anyone's).
        Broadcasts are otherwise not counted here."""
    @property
    def slow_consumers(self) -> int:
        """Clients disconnected as slow consumers (reason ``"slow consumer"``).
        A client held open for replies after its disconnect event whose queue
        overflows under ``overflow="disconnect"`` is closed but not counted
        here: it had already left."""
    @property
    def unwritten(self) -> int:
        """Messages queued for a client (so counted in ``msgs_out``) that were
        not written to it in full because its connection ended first: it was
        cut as a slow consumer, its linger time ran out while it closed (a
        kick, a timeout, its leaving, the stop), a write failed, or it reset.
        Such a connection is reset, so its peer sees an error, not a clean
        end. Written means taken by the kernel. Under ``framing="raw"``, which
        has no message boundaries on the wire, a run of sends joined into one
        write that was partly written counts whole."""
    @property
    def frame_too_large(self) -> int:
        """Clients disconnected for sending an oversize frame."""
    @property
    def idle_timeouts(self) -> int:
        """Clients disconnected for idling."""
    @property
    def frame_timeouts(self) -> int:
        """Clients disconnected for not completing a frame in time
        (``frame_timeout``)."""
    @property
    def callback_errors(self) -> int:
        """Exceptions raised by the callbacks (each went to ``on_error``, or to
        ``sys.unraisablehook`` — but for a ``NotRunning`` raised after
        ``stop()`` began); the server keeps running after each."""
    def as_dict(self) -> Dict[str, int]:
        """The counters as a ``dict`` (e.g. for logging or JSON).

        Example: see ``Stats``."""
    def __eq__(self, other: object, /) -> bool: ...
    def __ne__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...
    def __reduce__(self) -> Tuple[Any, Tuple[Any, ...]]: ...

@final
class EventIterator(Iterator[Event]):
    """Iterator over a server's events, returned by ``TcpServer.events()``.

    Each step blocks (without holding the GIL) until the next event. The
    iteration ends when the server has stopped and every event was taken, or,
    with a ``timeout``, when no event arrived for that many seconds. Events
    are fetched in batches internally, so iterating a busy server is cheap;
    leaving the iteration (``break``) loses none of them: those already
    fetched go to the next ``events()``, ``poll()`` or ``aevents()``.
    One iterator may be shared by several threads: they take turns, and each
    event goes to exactly one of them. (A client that finished sending is
    held open for replies until the next event is asked for — by any
    thread: with several, reply before asking for more; or, with
    ``hold_for_replies``, until you ``disconnect()`` it.)

    Once the iteration has ended (the server stopped, or the ``timeout``
    passed without an event) the iterator stays exhausted, as Python's
    iterator protocol asks: events that come later are left for the next
    ``events()``, ``poll()`` or ``aevents()``.

    Example::

        for event in server.events(timeout=1.0):  # ends after 1 s without one
            handle(event)
        # no event for a second: do something else, then iterate again"""

    def __iter__(self) -> "EventIterator": ...
    def __next__(self) -> Event: ...

@final
class ReadyFd:
    """A file descriptor that becomes readable when events can be taken, for
    waiting in an event loop of your own (``selectors``, trio's
    ``wait_readable``, GLib) instead of a thread blocked in ``recv``;
    asyncio's ``aevents()``, ``arecv()`` and ``async for`` wait on one.

    Call ``arm()`` before each wait: ``False`` means something can be taken
    now (take it with ``poll()`` / ``recv(timeout=0)``, then arm again);
    ``True`` means wait for the descriptor to become readable — at the next
    event, or when nothing more can come (the server stopped, the client
    closed: the takes then say so). It stays readable until the next
    ``arm()``, which reads what made it so; do not read it yourself. A
    wakeup may be spurious (another consumer took the event first): take
    what there is and arm again. ``close()`` (or dropping it) closes the
    descriptor.

    Example::

        import selectors
        ready = server.ready_fd()
        sel = selectors.DefaultSelector()
        sel.register(ready, selectors.EVENT_READ)
        while True:
            for event in server.poll(timeout=0):  # NotRunning once stopped and drained
                handle(event)
            if ready.arm():
                sel.select(timeout=1.0)"""

    def fileno(self) -> int:
        """The descriptor (for ``selectors``, ``loop.add_reader`` and the like).
        Raises ``ValueError`` once closed.

        Example: see the class's."""
    def arm(self) -> bool:
        """Readies the descriptor for a wait: ``True`` when nothing can be
        taken now, and the descriptor becomes readable at the next event (or
        the end); ``False`` when something can be taken now, without arming.
        Takes nothing. For a server it counts as asking for more events, as
        a wait does (it ends the default hold of clients whose
        ``Disconnected`` was taken). Raises ``ValueError`` once closed.

        Example: see the class's."""
    def close(self) -> None:
        """Closes the descriptor (and stops watching the queue). Idempotent.

        Example::

            with server.ready_fd() as ready:  # closed when the block ends
                sel.register(ready, selectors.EVENT_READ)
                ..."""
    @property
    def closed(self) -> bool:
        """Whether ``close()`` was called."""
    def __enter__(self) -> "ReadyFd": ...
    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> bool: ...

_Data = Buffer  # any bytes-like object, as socket.send takes
_ClientRef = int | Client  # a client id, or the Client itself

@final
class TcpServer:
    r"""A multi-client TCP server.

    ``TcpServer(port, max_clients)`` configures a server; ``start()`` binds and
    starts it (or use it as a context manager). Port 0 picks a free port; read
    the real one from ``port``.

    Register callbacks with the ``on_connect`` / ``on_message`` /
    ``on_disconnect`` decorators before ``start()``: they run on one
    dispatcher thread, in order per client, never on the I/O threads (so
    they are plain functions: an ``async def`` one raises ``TypeError``;
    from asyncio, consume ``aevents()`` instead). An
    exception in a callback is passed to ``on_error`` if set, otherwise to
    ``sys.unraisablehook``; the server keeps running. (Once ``stop()`` has
    begun, no more messages reach ``on_message`` — those read but not yet
    handed to it are dropped — but a callback already running finishes,
    and a reply it sends raises ``NotRunning``: without ``on_error`` that
    one is counted in ``callback_errors`` but not reported.) Without
    callbacks the server runs in pull mode: consume ``events()``,
    ``poll()`` or ``aevents()``.

    Every method is thread-safe and may be called from inside a callback,
    ``stop()`` included. Servers still running at interpreter exit are stopped.
    A running server that is dropped stops as ``stop()`` does: the dropping
    thread waits up to ``linger`` (the GIL released; Ctrl-C does not cut
    that wait) — on an asyncio event loop's thread, a thread of its own
    does instead, so the loop runs on.
    A running server is not stopped by ``del`` when its callbacks refer back
    to it (an application object holding both): the cycle keeps it serving
    until ``stop()`` or exit, so stop servers explicitly (``with`` does).

    Constructor parameters (nothing is bound until ``start()``; durations
    are in seconds):

    - ``port``: TCP port, 0 for any free one. ``max_clients``: most clients
      connected at once (more are accepted and closed).
      ``max_clients_per_ip``: most clients from one IP address at once
      (``None``, the default: no limit but ``max_clients``); more from it
      are accepted and closed, counted in ``stats().rejected_per_ip``, so
      one host cannot take all of ``max_clients``. A client's place comes
      back when its connection is closed (in pull mode a client that
      finished sending is held for replies until the next call for
      events). An IPv4 client on a dual-stack listener counts as its IPv4
      address, an IPv6 one by all 128 bits unless ``per_ip_ipv6_prefix``
      says otherwise; clients behind one NAT share an address. When the
      server is full as well, ``max_clients`` decides: the connection
      counts in ``stats().rejected``.
      ``per_ip_ipv6_prefix``: IPv6 clients whose addresses share their
      first this many bits (1 to 128; default 128: each address on its
      own) share one ``max_clients_per_ip`` limit. An IPv6 host is commonly
      given a whole /64 and can connect from any address in it; 64 counts
      such a host once. IPv4 clients always count by their whole address.
    - ``framing``: how messages are delimited — ``"raw"`` (each read is a
      message), ``"lines"`` (newline-terminated; sending a message holding a
      newline raises ``InvalidMessage``, and one ending in ``\r`` arrives
      without it) or ``"length"`` (4-byte big-endian length prefix).
      ``max_len``: longest accepted message for lines/length framing
      (default ``DEFAULT_MAX_LINE`` / ``DEFAULT_MAX_FRAME``).
    - ``bind``: local IP address (``"::"`` for IPv6 and IPv4; IPv6 also in
      brackets, ``"[::1]"``).
    - ``threads``: event-loop threads (``None``: one per core).
    - ``max_queue_bytes``: bound of each client's outbound queue (default
      ``DEFAULT_MAX_QUEUE_BYTES``, 4 MiB); ``overflow``: ``"disconnect"`` a
      client whose queue is full (reason ``"slow consumer"``), or ``"drop"``
      the message.
    - ``idle_timeout`` cuts a client that sends nothing for that long,
      ``frame_timeout`` one that takes longer than that to complete a
      started frame (slowloris defence); their clocks do not run while the
      server is not reading (e.g. its event queue full), and they run at an
      eighth of the speed while the application works on events it took
      (a slow callback, or the body of a loop over ``events()``; 50 ms of
      it at least) until it asks for more — with several threads taking
      events, until any of them does: their clients wait for the
      answers; ``None`` (the default) turns either off, and 0 is
      ``InvalidConfig``. ``keepalive``:
      TCP keepalive probes after that long without traffic (``None``: off;
      at most 32,767 s), then every third of it; 3 unanswered end the
      connection (reason ``"i/o error: timed out"``), about twice that time
      after the client's last traffic (also while data sent to it waits to
      be acknowledged).
    - ``nodelay``: ``TCP_NODELAY`` on accepted sockets. ``backlog``: listen
      backlog (default 4096).
    - ``linger``: how long ``stop()`` keeps flushing, and how long a client
      that finished sending is held open for replies after its disconnect
      event was taken (pull mode, callbacks included).
    - ``hold_for_replies``: seconds a client that finished sending (a
      half-close after its request, as ``nc -N`` does) is kept open for
      replies — for answers that come from worker threads. Its disconnect
      is reported as usual, but ``send()`` and broadcasts still reach it
      until you ``disconnect()`` it (do, once it is answered: the client
      waits for that end), that long has passed since its disconnect event
      was handed out (to ``on_disconnect``, or by ``events()``,
      ``poll()`` or ``aevents()``), a write to it fails or the client
      resets it, or the stop. ``None`` (the default): held only until the
      next event is taken, as above.
    - ``event_capacity``: events the server's event queue holds (default
      65,536; and at most ``EVENT_QUEUE_BYTES`` of messages); while it is
      full, the server stops reading from clients. What was taken out of
      it in a batch waits besides: the rest of a batch an iterator took
      and has not handed out (up to ``max_batch`` events, counted in
      ``pending_events``, which may exceed ``event_capacity`` by that
      much), the batch the callback thread is running (up to 256) and
      the messages it holds back for a pause (``pause_client``).
    - ``busy_poll``: how long an I/O thread that ran out of work keeps
      polling (yielding the CPU) before it sleeps — fewer wakeups under
      steady load, at most that much CPU per wakeup; default 5e-6, 0 turns
      it off, at most 1 (``InvalidConfig`` beyond).
    - ``full_message``: bytes sent (framed) to each connection refused
      because ``max_clients`` are connected, just before it is closed, so
      the peer learns why; at most 4096 bytes framed.
      ``per_ip_full_message``: likewise, for each connection refused because
      ``max_clients_per_ip`` from its address are connected.
    - ``idle_timeout_message``, ``frame_timeout_message``: bytes sent
      (framed) to each client cut off by ``idle_timeout`` or
      ``frame_timeout``, after what was queued for it and before its
      connection is closed, so the peer learns why instead of seeing a bare
      end-of-stream (the disconnect event still gives the timeout as the
      reason); queued even when the client's queue is full, at most 4096
      bytes framed, not counted in ``stats().msgs_out`` (its bytes, once
      written, are in ``bytes_out``).
    - ``frame_too_large_message``: likewise, for each client cut off for a
      frame over ``max_len`` (what it sends after is read and discarded
      until the notice is acknowledged); a peer speaking another framing
      learns that it was cut off, though it may not decode the notice.
      Never sent under raw framing, where no frame is too large.

    Raises ``InvalidConfig`` (a ``ValueError``) for bad values — every value
    ``start()`` would refuse (zero ``max_clients``, ``threads``,
    ``max_queue_bytes``, ``event_capacity`` or ``max_len``, a ``backlog``
    below 1, a zero timeout or ``max_clients_per_ip``, a ``per_ip_ipv6_prefix``
    outside 1 to 128, a notice
    (``full_message``, ``per_ip_full_message``, ``idle_timeout_message``,
    ``frame_timeout_message``, ``frame_too_large_message``) too long or,
    under lines framing, holding a newline) is refused here,
    and so is a negative or too large count (``max_clients=-1``), the
    message naming the argument; a ``port`` outside 0–65535 raises
    ``OverflowError``, as ``socket`` does.

    Example (a chat relay; port 0 picks a free port)::

        server = TcpServer(0, 100, framing="lines")

        @server.on_message
        def relay(client, data):
            server.send_all(f"{client}: ".encode() + data, exclude=client)

        with server:  # start(); stop() when the block ends
            print("listening on port", server.port)
            server.wait()  # until a stop (Ctrl-C interrupts)

    Its properties (``port``, ``address``, ``framing``, ``max_len``,
    ``max_clients``, ``running``, ``client_count``...) read back the settings
    and the state as in this example."""

    def __new__(
        cls,
        port: int = 0,
        max_clients: int = 1024,
        *,
        max_clients_per_ip: Optional[int] = None,
        per_ip_ipv6_prefix: int = 128,
        framing: Literal["raw", "lines", "length", "len"] = "raw",
        bind: str = "0.0.0.0",
        max_len: Optional[int] = None,
        threads: Optional[int] = None,
        max_queue_bytes: int = 4194304,
        overflow: Literal["disconnect", "drop"] = "disconnect",
        idle_timeout: Optional[float] = None,
        frame_timeout: Optional[float] = None,
        keepalive: Optional[float] = None,
        nodelay: bool = True,
        backlog: int = 4096,
        linger: float = 2.0,
        hold_for_replies: Optional[float] = None,
        event_capacity: int = 65536,
        busy_poll: float = 5e-6,
        full_message: Optional[_Data] = None,
        per_ip_full_message: Optional[_Data] = None,
        idle_timeout_message: Optional[_Data] = None,
        frame_timeout_message: Optional[_Data] = None,
        frame_too_large_message: Optional[_Data] = None,
    ) -> "TcpServer": ...
    def on_connect(self, func: _OnConnect) -> _OnConnect:
        """Decorator: ``func(client)`` is called when a client connects.

        A server's callbacks run one at a time, in order, on its dispatcher
        thread (not the I/O threads): they never run at the same time. Any
        callback puts the server in callback mode: an event whose callback
        is not set is dropped, and ``events()``/``poll()``/``aevents()``
        raise ``RuntimeError`` — with ``on_connect`` or ``on_disconnect``
        alone, the clients' messages go nowhere. A callback must not be
        ``async def``.

        The callbacks run after the fact, not on the I/O threads as Rust's
        and C's do: by the time one runs, its client may already have left
        (it reset, or was cut off for a frame over ``max_len`` or as a slow
        consumer; its ``on_disconnect`` comes next), and a reply to it —
        a welcome from ``on_connect`` included — raises ``NoSuchClient``
        (``send_to``: ``NoSuchAddr``, one) and ``client()`` gives ``None``.
        Catch it where you reply; a client that only finished sending is
        still reached (see ``Event``).

        Example (``on_disconnect`` too)::

            @server.on_connect
            def joined(client):
                try:
                    server.send(client, f"welcome, {client.ip}:{client.port}".encode())
                except tcphub.NoSuchClient:
                    pass  # it left before this ran (see above)

            @server.on_disconnect
            def left(client, reason):
                print(client, "left:", reason)  # 127.0.0.1:50312 left: closed by peer"""
    def on_message(self, func: _OnMessage) -> _OnMessage:
        """Decorator: ``func(client, data: bytes)`` is called for each message
        (one frame), in order per client. Its client may already have left,
        as for ``on_connect``: a reply raises ``NoSuchClient`` then.

        Example: see the class's (a relay)."""
    def on_disconnect(self, func: _OnDisconnect) -> _OnDisconnect:
        """Decorator: ``func(client, reason: str)`` is called once when a
        client leaves (see ``Event.reason`` for the reasons). It is the
        client's last callback — the place to drop what you keep about it,
        keyed by ``client.id`` (never reused while the server runs).

        Example: see ``on_connect``."""
    def on_error(self, func: _OnError) -> _OnError:
        """Decorator: ``func(exc, event)`` is called when another callback raises
        (instead of ``sys.unraisablehook``). What ``func`` itself raises goes
        to ``sys.unraisablehook``, with ``exc`` as its ``__context__``.

        Example::

            @server.on_message
            def handle(client, data):
                int(data)  # raises ValueError for b"x"

            @server.on_error
            def oops(exc, event):
                print(f"{event.kind} from {event.client}: {exc!r}")"""
    def start(self: _S) -> _S:
        """Binds, listens and starts serving; returns the server itself.

        Raises ``BindError`` (an ``OSError`` with ``errno``, e.g.
        ``EADDRINUSE``)
        when the address cannot be bound (bad settings were refused by the
        constructor), ``RuntimeError`` when already started (a stopped server
        cannot be
        restarted: create a new one) or stopped before it was started.

        Example::

            server = TcpServer(0, 10).start()
            print(server.port)  # the port the system picked"""
    def stop(self, timeout: Optional[float] = None) -> bool:
        """Stops gracefully: stop accepting, flush queued messages (up to
        ``linger`` seconds), report every client as disconnected with reason
        ``"server stopped"``, wait for the last callbacks and release the port.
        Idempotent; concurrent calls all wait. Ctrl-C interrupts the wait for
        the flush and the last callbacks (the server is stopping by then; a
        later ``stop()`` waits for the rest, but the interpreter's exit and
        dropping the server do not: the flush goes on in the background while
        the process lives). Inside a callback
        — of this server or of any other — it starts the stop and returns;
        the remaining callbacks run after the current one returns. Once the
        stop has begun no message is handed to ``on_message`` (those received
        but not handed out yet are dropped: a reply to them could not be
        sent); ``on_connect`` and ``on_disconnect`` still run. Before
        ``start()`` it marks the server stopped (``start()`` then raises
        ``RuntimeError``), so a stop asked for early is not lost.

        ``timeout`` (seconds; ``None``: no limit) bounds the wait, flush and
        last callbacks together (give or take a tenth of a second): past it
        the stop goes on in the background and a later ``stop()`` waits for
        the rest. Returns whether the server has stopped (``False`` when the
        time ran out, and inside a callback)::

            if not server.stop(timeout=5.0):
                print("a callback is still running")"""
    def _stop_with_timeout(self, timeout: float) -> bool: ...
    def _give_up(self) -> None: ...
    @staticmethod
    def _wait_for_callbacks(timeout: float) -> bool: ...
    def wait(self, timeout: Optional[float] = None) -> bool:
        """Blocks until the server has stopped (by ``stop()`` from another
        thread or a callback) — its queues flushed (up to ``linger``), its
        clients closed — and its last callbacks (the ``"server stopped"``
        disconnects) have run, or ``timeout`` seconds passed; returns whether
        it stopped. Ctrl-C interrupts the wait. Inside a callback it does not
        wait for the callbacks (they run after it).
        Raises ``NotRunning`` before ``start()`` (there is nothing to wait
        for: without it, ``wait()`` would block for good), unless ``stop()``
        came first: then the server has stopped, and it returns ``True``.

        Example::

            @server.on_message
            def command(client, data):
                if data == b"quit":
                    server.stop()  # from a callback: starts the stop, returns

            server.start()
            server.wait()  # returns True once the "quit" stopped it"""
    def stop_input(self) -> None:
        """The first half of a two-phase shutdown: the server takes no more
        input — no ``on_message`` call (messages received but not handed out
        yet are dropped) and no message event from now on — while everything
        else goes on: sends reach the clients, the events already queued stay
        to take, and the answers your worker threads are still making get
        out. Then call ``stop()``, which flushes and closes as usual.
        The server goes on reading, to drop what comes: a client that keeps
        writing is not held up, and one that leaves is closed and reported
        as usual. Meanwhile the idle and frame timeouts wait, and new clients
        are still accepted (the stop closes them). Idempotent, no undo;
        harmless
        on a stopped server. Raises ``NotRunning`` before ``start()`` (unless
        ``stop()`` came first)::

            server.stop_input()      # no more requests...
            pool.shutdown(wait=True) # ...the ones taken are answered
            server.stop()"""
    def pause_input(self) -> None:
        """Pauses reading from every client until ``resume_input()``:
        backpressure for when your work queue is full (a worker pool fed by
        ``on_message``). The server leaves what clients send in the kernel, so
        TCP slows the senders down; nothing is lost. Sends, broadcasts and
        accepting go on. With callbacks it takes effect at once: from the call
        on, ``on_message`` is not called until ``resume_input()`` — the
        messages read before and waiting for the callback thread are held back
        (not counted in ``pending_events``) and handed out first at the
        resume, in order — so a work queue paused at its bound gets nothing
        more (called from another thread, one ``on_message`` the callback
        thread was already starting may still run); connects still come,
        and a client's end comes after its held
        messages. In pull mode it takes effect at each I/O thread's next
        read: the events already queued stay to take, and so does the rest
        of a read in hand (at most 64 KiB of input per I/O thread; while the
        queue is full it waits for room, not counted in ``pending_events``).
        While paused the idle and frame timeouts wait, and a client that
        leaves is noticed once input resumes. Not counted: one
        ``resume_input()`` ends any number of pauses. Any thread, also a
        callback; harmless on a stopped server. Raises ``NotRunning`` before
        ``start()`` (unless
        ``stop()`` came first). Decide the pause and the resume under one
        lock: checked and acted on apart, a pause can land after the workers'
        last look at an emptied queue, and nobody resumes::

            def on_message(client, data):
                with lock:
                    jobs.append((client, data))
                    if len(jobs) >= LIMIT:
                        server.pause_input()  # a worker resumes it"""
    def resume_input(self) -> None:
        """Ends ``pause_input()``: the server reads what clients sent
        meanwhile; with callbacks, the messages held back go out first, and
        the server reads again once they have.
        Harmless when not paused and on a stopped server; raises
        ``NotRunning`` before ``start()`` (unless ``stop()`` came first).

        Example: see ``pause_input()``."""
    @property
    def input_paused(self) -> bool:
        """Whether input is paused (``pause_input()`` without a
        ``resume_input()`` since); ``False`` before ``start()``."""
    def send_all(self, data: _Data, *, exclude: Optional[_ClientRef] = None) -> int:
        """Queues ``data`` for every connected client, or every one but client
        ``exclude`` (an id or a ``Client``, e.g. the sender of a message being
        relayed; one not connected excludes nobody); returns how many clients
        were
        connected at the call (0 when the server is not running), each of
        which gets it unless it leaves first or its queue is full (under
        ``overflow="drop"`` it is dropped for that one). A client that
        finished sending and is held open for replies (see ``Event``) gets
        it too but is not counted, its own leave notice included: pass
        ``exclude=client.id`` for that. Raises ``FrameTooLarge`` when
        ``data`` exceeds the framing's ``max_len``, ``InvalidMessage`` when
        it contains a newline under lines framing (no client gets it then).

        Example: see the class's (a relay). ``send_all(b"news")`` reaches every
        client; with ``exclude=sender`` every one but the sender."""
    def send_many(self, clients: Iterable[_ClientRef], data: _Data) -> int:
        """Queues ``data`` for each connected client among ``clients`` (an
        iterable of ids or ``Client`` objects: a topic's subscribers, a room's
        members), framed once into one buffer they share; returns how many
        distinct listed clients were connected at the call (0 when the
        server is not running). A client that is not connected is skipped,
        not an error (unlike ``send``), and one listed twice gets it once;
        one that finished sending and is held open for replies (see
        ``Event``) is reached and counted, as ``send`` reaches it.
        Each gets it unless it leaves first or its queue is full, in the
        order of everything sent to it. Cheaper than a ``send`` per client
        for many clients: one buffer and one call into the engine. Raises
        ``FrameTooLarge``, ``InvalidMessage`` (a newline in ``data`` under
        lines framing; no client gets it then), ``TypeError`` when
        ``clients`` is not an iterable of ids or ``Client`` objects (a
        ``str``, ``bytes``, ``bytearray`` or memoryview of bytes is refused:
        it would iterate as characters or byte values).

        Example::

            members = rooms["lobby"]  # a set of client ids
            reached = server.send_many(members, b"lobby: hello")"""
    def send_to(self, ip: str, port: int, data: _Data) -> None:
        """Queues ``data`` for the client whose remote address is ``ip:port``.
        ``ip`` as ``Client.ip`` gives it, or in brackets (``"[::1]"``, as in
        ``str(client)``), with an IPv6 zone (``"fe80::1%eth0"``, ignored), or
        an IPv4 client's IPv4-mapped address (``"::ffff:127.0.0.1"``).
        A client is found from its ``on_connect`` (or ``Connected`` event)
        on, not from the moment its ``connect()`` returns: the kernel
        completes the handshake before the server accepts it. Should two
        connected clients share the address (a server on ``0.0.0.0``
        reached at two of its addresses from one host's same port, or the
        same IPv6 link-local address on two interfaces, the zone being
        ignored), it goes to the one that connected last; ``send`` with its
        id reaches either.

        Raises ``NoSuchAddr`` when no client is connected from there,
        ``NotRunning``, ``FrameTooLarge``, ``InvalidMessage`` (a newline in
        ``data`` under lines framing); ``InvalidConfig`` (a ``ValueError``)
        for an ``ip`` that is no IP address — a host name included: it is not
        resolved, since clients are found by the address they connected from.

        Example::

            server.send_to("127.0.0.1", 50312, b"hello")  # as str(client) names it"""
    def send(self, client_id: _ClientRef, data: _Data) -> None:
        """Queues ``data`` for client ``client_id`` (an id, or the ``Client``
        itself, as a callback or an event gives it).

        Raises ``NoSuchClient`` when it is not connected, ``NotRunning``,
        ``FrameTooLarge``, ``InvalidMessage`` (a newline in ``data`` under
        lines framing: it would arrive as several messages).

        Example::

            try:
                server.send(client_id, b"your turn")
            except tcphub.NoSuchClient:
                pass  # it left meanwhile"""
    def disconnect(self, client_id: _ClientRef) -> None:
        """Disconnects client ``client_id`` (an id or a ``Client``; its
        disconnect reason is ``"kicked"``); called from a callback of this
        server (e.g. that
        client's own ``on_message``), the rest of what the client sent is
        dropped, not handed to ``on_message``; from any other thread,
        nothing it sends after the call returned is handed out (what was
        read of it by then may still be). Like a send, it may wait while the
        server is over 64 MiB of commands behind (a kick counts its size).
        Raises ``NoSuchClient``,
        ``NotRunning``.

        Example::

            @server.on_message
            def command(client, data):
                if data == b"bye":
                    server.send(client, b"see you")  # written before the close
                    server.disconnect(client)"""
    def pause_client(self, client_id: _ClientRef) -> None:
        """Backpressure for one client (an id or a ``Client``): the server reads
        nothing more from it until ``resume_client()``, so what it sends waits
        in the kernel and TCP slows it down, while the others are served;
        sends to it go on. With callbacks it takes effect at once (also for
        a client listed by ``clients()`` whose ``on_connect`` has not come
        yet: that still comes): from the call on, no callback gets more of the
        client — what was read of it before and waits for the callback thread
        is held back (not counted in ``pending_events``) — until
        ``resume_client()``, which hands that out first, in order (called
        from another thread, one ``on_message`` of the client that the
        callback thread was already starting may still run). A callback
        that pauses its own client (``on_message``) gets the client's next
        message only after the resume. In pull mode what the client sends
        after the call returned waits for the resume; what its I/O thread
        had read of it by then is still handed out. While paused its idle and
        frame timeouts wait, and its end is
        noticed at the resume (or at once, after what it sent, held or not,
        when it resets, keepalive finds it gone or a write to it fails). Not
        counted: one ``resume_client()`` ends any number of pauses. Like a
        send, it (and ``resume_client()``) may wait while the server is over
        64 MiB of commands behind (each pause or resume counts its size).
        Raises
        ``NoSuchClient``, ``NotRunning``.

        Example (one client at a time per job; see ``pause_input()`` for all)::

            @server.on_message
            def job(client, data):
                server.pause_client(client)  # no more from it until done
                pool.submit(work, client, data).add_done_callback(
                    lambda _: server.resume_client(client))"""
    def resume_client(self, client_id: _ClientRef) -> None:
        """Ends ``pause_client()``: the server reads the client again, what it
        sent meanwhile first; with callbacks, what the callback thread held
        of it goes out before that (called from a callback: right after
        it), and the server reads it again once that has gone out. Harmless
        when it is not paused. Raises ``NoSuchClient``, ``NotRunning``.

        Example: see ``pause_client()``."""
    def _kicks_pending(self) -> int: ...
    def _holds_sizes(self) -> Tuple[int, int, int, int, int]: ...
    def clients(self) -> List[Client]:
        """The connected clients, by id.

        Example::

            for client in server.clients():
                print(client.id, client.address)  # 3 ('127.0.0.1', 50312)"""
    def client(self, client_id: _ClientRef) -> Optional[Client]:
        """The connected client with this id (or that ``Client``'s), or ``None``.

        Example::

            if server.client(client_id) is None:
                print("gone")"""
    @property
    def client_count(self) -> int:
        """Number of connected clients."""
    @property
    def pending_events(self) -> int:
        """How many events wait to be taken right now, as Rust's
        ``events().len()``: in pull mode, by ``events()``, ``poll()`` or
        ``aevents()`` (those an iterator took in a batch and has not handed
        out included) — the consumer's backlog; with callbacks, by the
        callback thread (not counting the batch it is running, nor what it
        holds back for a pause) — how far the callbacks are behind. While the
        queue is at ``event_capacity`` (or
        its messages hold 64 MiB) the server stops reading from clients; the
        rest of the read that filled it (at most 64 KiB of input per I/O
        thread) waits for room, not counted here.
        Events queued at a stop count until taken; 0 before ``start()``.
        Asking takes nothing and does not end a finished client's hold (see
        ``Event``)."""
    def stats(self) -> Stats:
        """The server's counters.

        Example: see ``Stats``."""
    @property
    def port(self) -> int:
        """The port: the one actually bound once started (port 0 resolved)."""
    @property
    def address(self) -> Tuple[str, int]:
        """``(ip, port)`` the server listens on (the configured one before
        ``start()``)."""
    @property
    def framing(self) -> Literal["raw", "lines", "length"]:
        """The framing name: ``"raw"``, ``"lines"`` or ``"length"``."""
    @property
    def max_len(self) -> Optional[int]:
        """The message size limit of the framing, ``None`` for raw."""
    @property
    def max_clients(self) -> int:
        """The most clients connected at once."""
    @property
    def max_clients_per_ip(self) -> Optional[int]:
        """The most clients from one IP address at once, ``None`` for no limit
        but ``max_clients``."""
    @property
    def per_ip_ipv6_prefix(self) -> int:
        """How many leading bits of an IPv6 client's address count as its
        address for ``max_clients_per_ip`` (128: all of them)."""
    @property
    def running(self) -> bool:
        """Whether the server is running (started and not stopped)."""
    def events(self, timeout: Optional[float] = None, *, max_batch: int = 256) -> EventIterator:
        """The pull-mode events as an iterator (see ``EventIterator``).

        With ``timeout=None`` the iteration ends when the server has stopped
        and
        every event was taken; with a timeout it also ends when no event
        arrives for ``timeout`` seconds. An iterator that has ended stays
        exhausted (later events go to the next ``events()``, ``poll()`` or
        ``aevents()``). Ctrl-C interrupts the wait.
        Raises ``NotRunning`` before ``start()`` and ``RuntimeError`` when the
        server has callbacks.

        Example (pull mode: no callbacks)::

            server = TcpServer(0, 100, framing="lines").start()
            for event in server.events():  # until the server stops
                if event.kind == "message":
                    server.send(event.client, b"pong: " + event.data)
                elif event.kind == "disconnect":
                    print(event.client, "left:", event.reason)"""
    def poll(self, max_events: int = 256, timeout: Optional[float] = 0.0) -> List[Event]:
        """Takes up to ``max_events`` events, waiting up to ``timeout`` seconds
        for the first one (0: do not wait; ``None``: until one comes);
        returns a list, empty on timeout. Ctrl-C interrupts the wait.

        The cheap way to consume a busy server: one call per batch. Raises
        ``NotRunning`` once the server has stopped and every event was taken
        (or before ``start()``), ``RuntimeError`` when the server has
        callbacks.

        Example::

            while running:
                for event in server.poll(max_events=1024, timeout=0.5):
                    handle(event)
                do_other_work()"""
    def aevents(self, *, max_batch: int = 256) -> AsyncGenerator[Event, None]:
        """The pull-mode events as an async iterator for asyncio:
        ``async for event in server.aevents(): ...``. Ends when the server has
        stopped and every event was taken. It waits on a ``ready_fd()`` the
        event loop watches (``add_reader``), one per server and loop: no
        thread, not the loop's default executor; leaving the loop
        (``break``, cancelling the consuming task) loses no event: those
        already taken in a batch go to the next ``aevents()``, ``events()``
        or ``poll()``; after an ``anext()`` cancelled by a timeout
        (``asyncio.wait_for``) the iteration goes on.

        Example::

            async def serve(server):
                async for event in server.aevents():
                    if event.kind == "message":
                        server.send(event.client, event.data)  # echo"""
    def ready_fd(self) -> ReadyFd:
        """A ``ReadyFd``: a file descriptor that becomes readable when an event
        can be taken (after its ``arm()``), for waiting in an event loop of
        your own; ``aevents()`` waits on one. Raises ``NotRunning`` before
        ``start()``, ``RuntimeError`` when the server has callbacks,
        ``IoError`` when the system gives no descriptors.

        Example: see ``ReadyFd``."""
    def _next_ready(self, max_batch: int) -> Optional[Event]: ...
    def __enter__(self: _S) -> _S: ...
    def __exit__(
        self,
        _exc_type: Optional[Type[BaseException]] = None,
        _exc: Optional[BaseException] = None,
        _tb: Optional[TracebackType] = None,
    ) -> bool: ...
    def astop(self, timeout: Optional[float] = None) -> Coroutine[Any, Any, bool]:
        """``stop()`` for asyncio: ``await server.astop()`` stops the server on
        a helper thread, so the event loop keeps running while queued
        messages are flushed (up to ``linger`` seconds) and the last callbacks
        run. ``timeout`` and the result are ``stop()``'s. Cancelling the
        awaiting task (Ctrl-C ending ``asyncio.run`` too) does not cancel the
        stop but gives up waiting for it, as Ctrl-C does a ``stop()``:
        neither the exit nor dropping the server waits for the flush or the
        last callbacks (``timeout`` bounds the wait instead).
        Example::

            async def main():
                server = TcpServer(0, 10).start()
                ...
                await server.astop(timeout=5)"""
    def __aenter__(self: _S) -> Coroutine[Any, Any, _S]: ...
    def __aexit__(
        self,
        _exc_type: Optional[Type[BaseException]] = None,
        _exc: Optional[BaseException] = None,
        _tb: Optional[TracebackType] = None,
    ) -> Coroutine[Any, Any, bool]: ...

@final
class TcpClient:
    """A connection to a tcphub (or any compatible) server.

    ``TcpClient(host, port, framing="lines")`` connects at once (raising
    ``ConnectError``, a ``ConnectionError`` with ``errno``, on failure);
    from asyncio, ``await TcpClient.aconnect(host, port, ...)`` connects
    without blocking the event loop.
    ``send()`` never blocks by default: it frames the message and queues it
    for a background I/O thread, raising ``QueueFull`` when the bounded queue
    is full — or, given a ``timeout``, waits that long for room.
    ``flush()`` waits until what was queued has been written.
    ``recv()`` returns the next message. With ``reconnect=True`` a
    dropped connection is re-established with capped, jittered exponential
    backoff while ``send()`` keeps queueing. Use it as a context manager or
    call ``close()``; iterating yields messages until the connection closes.
    Clients still open at interpreter exit are closed (flushed, as
    ``close()`` does) once the servers still running were stopped.

    Constructor parameters (durations are in seconds):

    - ``host``, ``port``: the server — a name or an IP address (an IPv6
      address also in brackets, ``"[::1]"``, as tcphub prints addresses),
      and its port apart: ``"127.0.0.1:8001"`` as the host is
      ``InvalidConfig``, as are an empty host, port 0 and numbers and dots
      that are no IPv4 address (``"127.0.0.010"``, which the system's
      resolver would read as 127.0.0.8: a leading zero is octal).
      The name lookup and the connect run with the GIL released; Ctrl-C
      interrupts the wait for them and ends the connect (a name lookup
      under way finishes on its helper thread). They block the calling thread (up to
      ``connect_timeout`` per address): from asyncio, use
      ``await TcpClient.aconnect(host, port, ...)``, which takes the same
      arguments and runs them on a helper thread. An
      empty host or port 0 raises
      ``InvalidConfig`` (a ``ValueError``), not ``ConnectError``.
    - ``framing``: ``"raw"``, ``"lines"`` or ``"length"``, as the server's
      (under ``"lines"``, ``send`` raises ``InvalidMessage`` for a message
      holding a newline);
      ``max_len``: longest message for lines/length framing, both ways
      (default ``DEFAULT_MAX_LINE`` / ``DEFAULT_MAX_FRAME``).
    - ``connect_timeout``: time allowed for each connection attempt.
    - ``reconnect``: re-establish dropped connections, waiting between
      ``reconnect_initial`` and ``reconnect_max`` seconds (both more than
      zero, else ``InvalidConfig``), giving up after
      ``reconnect_max_attempts`` failed attempts in a row (``None``: never;
      at least 1; given without ``reconnect=True``, ``InvalidConfig``).
      Attempt *n* waits between half and all of
      ``min(reconnect_initial * 2**(n-1), reconnect_max)``. A connection
      that drops less than a second after it was made counts as a failed
      attempt: the count (and the backoff) goes on instead of starting
      again at 1, so a server that accepts and closes at once is not
      hammered — and ``reconnect_max_attempts`` applies across such drops.
      A ``host`` name is looked up again for the redials, so a server back
      at another address (a restarted container, a DNS failover) is found
      there.
    - ``max_queue_bytes`` bounds what ``send()`` has queued (default
      ``DEFAULT_MAX_QUEUE_BYTES``, 4 MiB; past it, ``QueueFull``).
    - ``nodelay``: ``TCP_NODELAY`` on the socket. ``keepalive``: TCP
      keepalive probes after that long without traffic, on every connection
      (``None``, the default: off; 0 or over 32,767 s is
      ``InvalidConfig``), so a server whose host vanished is found even by a
      client that only receives, about twice that time after its last
      traffic.
    - ``linger``: how long ``close()`` keeps flushing and waiting for the
      server to acknowledge what it wrote (also when an open client is
      dropped, by ``del`` or the garbage collector: the dropping thread
      waits, the GIL released, and Ctrl-C does not cut that wait; call
      ``close(timeout=...)`` to bound it; on an asyncio event loop's thread
      a thread of its own waits instead, so the loop runs on), and, with
      ``write_after_server_eof=True`` and without ``reconnect``, how long
      what is queued is still written after the server ended its sending
      side.
    - ``write_after_server_eof`` (default ``False``): what happens to
      messages still queued when the server ends its sending side without
      ``reconnect`` (or while closing). ``False``: the server's end ends
      the connection at once and they are dropped, counted in ``unsent``.
      ``True``: they are still written, within ``linger`` (a server that
      half-closed may still read them); ``disconnect_reason`` is
      ``"closed by peer"`` either way. The default suits a tcphub server,
      and any server that closes rather than half-closes: one that ended
      the connection (stopped, kicked or timed out the client) reads and
      discards what still arrives, so written on, those messages would be
      lost with an end that looks clean. Choose ``True`` for a server known
      to half-close and read on (one that sends its last request and
      half-closes to wait for the answer, say). With ``reconnect`` the queue waits
      for the next connection either way.
    - ``event_capacity`` bounds the events waiting to be taken: received
      messages (``recv()``), and the drops and reconnects ``next_event()``
      reports, which ``recv()`` skips (default 65,536; while full, the
      client stops reading).

    Raises ``InvalidConfig`` (a ``ValueError``) for bad values, a negative
    or too large count (``event_capacity=-1``) included, before it dials.

    Example::

        with TcpClient("127.0.0.1", 8001, framing="lines") as client:
            client.send(b"hello")
            print(client.recv(timeout=5))  # the server's answer
        # closed here: what was queued was flushed first

    Its properties (``local_address``, ``peer_address``, ``is_open``,
    ``is_connected``, ``queued_bytes``, ``unsent``, ``disconnect_reason``...)
    answer where the client stands, e.g. ``client.disconnect_reason`` after
    a ``recv()`` that returned ``None``."""

    def __new__(
        cls,
        host: str,
        port: int,
        *,
        framing: Literal["raw", "lines", "length", "len"] = "raw",
        max_len: Optional[int] = None,
        connect_timeout: float = 10.0,
        reconnect: bool = False,
        reconnect_initial: float = 0.1,
        reconnect_max: float = 30.0,
        reconnect_max_attempts: Optional[int] = None,
        max_queue_bytes: int = 4194304,
        nodelay: bool = True,
        linger: float = 2.0,
        event_capacity: int = 65536,
        keepalive: Optional[float] = None,
        write_after_server_eof: bool = False,
    ) -> "TcpClient": ...
    @staticmethod
    def aconnect(
        host: str,
        port: int,
        *,
        framing: Literal["raw", "lines", "length", "len"] = "raw",
        max_len: Optional[int] = None,
        connect_timeout: float = 10.0,
        reconnect: bool = False,
        reconnect_initial: float = 0.1,
        reconnect_max: float = 30.0,
        reconnect_max_attempts: Optional[int] = None,
        max_queue_bytes: int = 4194304,
        nodelay: bool = True,
        linger: float = 2.0,
        event_capacity: int = 65536,
        keepalive: Optional[float] = None,
        write_after_server_eof: bool = False,
    ) -> Coroutine[Any, Any, "TcpClient"]:
        """Connects without blocking the event loop, for asyncio:
        ``client = await TcpClient.aconnect(host, port, ...)`` takes the
        constructor's arguments and returns the connected ``TcpClient``.

        A bad argument raises what the constructor raises: at the call for
        most (a type, a framing, a negative duration, an empty host, a host
        with the port written into it, port 0), from the ``await`` for
        those the connect itself checks before it dials (a zero
        ``keepalive`` or reconnect setting), as the constructor checks them
        on its connect thread. The name lookup and the connect
        run on a helper thread, and fail as the constructor's do
        (``ConnectError``: a ``ConnectionRefusedError`` for a refused
        connect, also a ``socket.gaierror`` for a name that does not
        resolve). Cancelling the awaiting task (``asyncio.wait_for``, a task
        group) gives the connect up: the connect under way ends (within
        0.1 s), and a connection made just before is closed.

        Example::

            async with await TcpClient.aconnect("127.0.0.1", 8001, framing="lines") as client:
                client.send(b"hello")
                reply = await client.arecv(timeout=5)"""
    def send(self, data: _Data, timeout: Optional[float] = 0.0) -> None:
        """Queues ``data`` (framed) for sending. With ``timeout=0`` (the
        default) it never blocks: a full queue raises ``QueueFull`` at once.
        A positive ``timeout`` waits up to that many seconds for room in the
        queue (``None``: as long as it takes) and raises ``QueueFull`` when
        none came; a message larger than ``max_queue_bytes`` by itself waits
        for the queue to empty (only an empty queue takes it). The wait
        releases the GIL; Ctrl-C interrupts it.

        Raises ``QueueFull``, ``FrameTooLarge``, ``InvalidMessage`` (a
        newline in ``data`` under lines framing, at once: nothing is
        queued), or ``NotRunning`` once closed
        or after ``shutdown_write()`` (its message says which; also when that
        happens during the wait).

        Example::

            for i in range(100_000):
                client.send(b"%d" % i, timeout=1.0)  # waits for room instead of QueueFull
            client.flush(timeout=5)"""
    def flush(self, timeout: Optional[float] = None) -> None:
        """Waits until every message queued before the call has been written
        to the socket (handed to the system, not yet acknowledged by the
        server: ``close()`` waits for that), up to ``timeout`` seconds
        (``None``: as long as it takes). Returns at once when nothing is
        queued; messages other threads send meanwhile are not waited for.
        With ``reconnect=True`` it keeps waiting while the client is between
        connections. The wait releases the GIL; Ctrl-C interrupts it.

        Raises ``Timeout`` (a ``TimeoutError``) when the time ran out, and
        ``NotRunning`` when the messages will never be written: the client
        was closed (the close's own flush is waited for) or its connection
        ended for good with them unsent.

        Example: see ``send()``."""
    def recv(self, timeout: Optional[float] = None) -> Optional[bytes]:
        """The next message, waiting up to ``timeout`` seconds (``None``: until
        one
        comes). Returns ``None`` once the connection is closed for good (like
        ``socket.recv`` returning ``b""``). Raises ``Timeout`` (a
        ``TimeoutError``) when nothing came in time. Ctrl-C interrupts the
        wait.

        Example::

            while (msg := client.recv()) is not None:  # until the server closes
                print(msg)
            print("ended:", client.disconnect_reason)  # e.g. closed by peer"""
    def next_event(self, timeout: Optional[float] = None) -> Optional[ClientEvent]:
        """The next event on the connection — a message, a drop, a reconnect
        attempt or its success, the final close (see ``ClientEvent``) —
        waiting up to ``timeout`` seconds (``None``: no limit). ``None`` once
        the ``"closed"`` event was taken. Raises ``Timeout`` (a
        ``TimeoutError``) when nothing came in time. It shares the queue
        with ``recv()``, which skips all but messages: with ``reconnect=True``
        a ``"reconnected"`` event is where to log in or subscribe again.
        Ctrl-C interrupts the wait.

        Example: see ``ClientEvent``."""
    def arecv(self, timeout: Optional[float] = None) -> Coroutine[Any, Any, Optional[bytes]]:
        """The next message, for asyncio: ``await client.arecv()``. ``None``
        once the connection is closed for good; raises ``Timeout`` when none
        came within ``timeout`` seconds (``None``: no limit). It waits on a
        ``ready_fd()`` the event loop watches (``add_reader``), one per client
        and loop, no thread; the wait takes nothing, so cancelling the
        awaiting task (``asyncio.wait_for``, a task group) loses no message.

        Example::

            async def read_all(client):
                async for msg in client:  # arecv() until the connection ends
                    print(msg)
                reply = await client.arecv(timeout=5)  # None: it has ended"""
    def __aiter__(self) -> AsyncIterator[bytes]: ...
    def ready_fd(self) -> ReadyFd:
        """A ``ReadyFd``: a file descriptor that becomes readable when a
        message (or the end) can be taken (after its ``arm()``), for waiting
        in an event loop of your own; ``arecv()`` and ``async for`` wait on
        one. Raises ``IoError`` when the system gives no descriptors.

        Example (as ``ReadyFd``'s, taking with ``recv(timeout=0)``)::

            ready = client.ready_fd()
            sel.register(ready, selectors.EVENT_READ)
            if ready.arm():
                sel.select(timeout=5.0)
            try:
                msg = client.recv(timeout=0)
            except tcphub.Timeout:
                pass  # a spurious wakeup: arm again"""
    def _give_up(self) -> None: ...
    @staticmethod
    def _close_all() -> None: ...
    def shutdown_write(self) -> None:
        """Finishes sending (a TCP half-close): what is queued is written, then
        the sending side is shut so the server reads end-of-stream. Messages
        keep arriving until the server closes its side, which ends the client
        for good (no reconnect); later ``send`` calls raise ``NotRunning``.
        Idempotent. Raises ``NotRunning`` once closed.

        Example (a last request, then its answer)::

            client.send(b"last request")
            client.shutdown_write()  # the server reads end-of-stream after it
            answer = client.recv(timeout=5)
            assert client.recv(timeout=5) is None  # the server closed"""
    def close(self, timeout: Optional[float] = None) -> bool:
        """Closes gracefully: flush what is queued (up to ``linger`` seconds),
        shut the connection down and stop the I/O thread. Once everything is
        written the socket stays open (what arrives is discarded) until the
        server has acknowledged all of it or ended its side, within the same
        ``linger``. When ``linger`` runs out first, what is still queued is
        dropped (counted by ``unsent``) and the connection is reset, so the
        server does not take its end for all there was (the reset drops
        what was written but not yet sent too); with only the
        acknowledgement missing, what was written is left to the system,
        which goes on sending it after the close: it may still arrive,
        nothing confirms it; ``disconnect_reason`` then says
        ``"i/o error: timed out"`` instead of ``"closed locally"``
        (``"connection reset"`` if the server reset it meanwhile); a
        server that ended its side before the flush was done (before the
        call, too) closed first: ``"closed by peer"``.
        Messages received before the call can still be taken; what arrives
        after it is discarded. Idempotent. Ctrl-C
        interrupts the wait for the flush (the client is closing by then; a
        later ``close()`` waits for the rest, but dropping the client, at
        exit too, does not: the flush goes on in the background while the
        process lives).

        ``timeout`` (seconds; ``None``, the default: as long as the flush
        takes) bounds the wait: ``close(timeout)`` returns ``True`` once
        closed, ``False`` when the close was still under way at the timeout
        — it goes on in the background, and a later ``close()`` waits for
        the rest. Inside a server's callback it starts the close and
        returns at once, as a server's ``stop()`` does there (a callback
        waiting up to ``linger`` would hold up every later callback):
        ``True`` only if the close had already finished.

        Example::

            if not client.close(timeout=5):
                print("still flushing")  # goes on in the background
            elif client.disconnect_reason != "closed locally":
                print("close:", client.disconnect_reason)  # e.g. i/o error: timed out"""
    @property
    def local_address(self) -> Tuple[str, int]:
        """``(ip, port)`` of this end of the current (or last) connection."""
    @property
    def peer_address(self) -> Tuple[str, int]:
        """``(ip, port)`` of the server."""
    @property
    def is_open(self) -> bool:
        """Whether the client is open: not closed, and not given up after a drop
        (after ``shutdown_write()`` it stays open to receive while ``send``
        raises ``NotRunning``)."""
    @property
    def is_connected(self) -> bool:
        """Whether a connection is up right now (false while reconnecting)."""
    @property
    def queued_bytes(self) -> int:
        """Bytes accepted by ``send`` and not yet written to the socket."""
    @property
    def unacknowledged_bytes(self) -> Optional[int]:
        """Bytes written to the connection that the server's system has not
        acknowledged yet (sent but not known to have arrived); with
        ``queued_bytes``, what stands between ``send`` and the server having
        it. ``None`` while no connection is up and where the system does not
        say (it does on Linux). Watching it fall tells a slow but steady
        reader from a stopped one, e.g. before a ``close()`` whose
        ``linger`` would run out while the server is still taking the data."""
    @property
    def unsent(self) -> int:
        """Messages accepted by ``send`` that were never written whole: those
        still queued when the client ended for good and were dropped (the
        connection lost without ``reconnect`` or reconnecting gave up,
        ``close()`` out of ``linger`` time, or the server's end of its
        sending side under ``write_after_server_eof=False``). 0 while the
        client is open: what is queued then may still be written. Messages
        written but never read by the server are not counted."""
    @property
    def disconnect_reason(self) -> Optional[str]:
        """Why the most recent connection ended, as the server's disconnect
        events say it (``"closed by peer"``, ``"closed locally"``,
        ``"connection reset"``, ``"frame too large"``,
        ``"closed in the middle of a frame"``, ...); ``None`` while none has.
        Once ``recv()``
        returns ``None`` it tells a clean close from a fault. With
        ``reconnect=True`` it keeps the last drop's reason while
        reconnecting; once reconnecting gave up (after
        ``reconnect_max_attempts`` failed attempts) it is the final reason,
        ``"gave up reconnecting after N attempts"``; likewise a ``close()``
        between connections whose redial to flush the queued messages fails
        gives that dial's error (``"i/o error: connection refused"``, say)
        as they are dropped."""
    @property
    def framing(self) -> Literal["raw", "lines", "length"]:
        """The framing name: ``"raw"``, ``"lines"`` or ``"length"``."""
    @property
    def max_len(self) -> Optional[int]:
        """The message size limit of the framing (``send`` refuses longer
        messages with ``FrameTooLarge``; a longer one from the server ends
        the connection), ``None`` for raw."""
    def __iter__(self) -> "TcpClient": ...
    def __next__(self) -> bytes: ...
    def __enter__(self) -> "TcpClient": ...
    def __exit__(
        self,
        _exc_type: Optional[Type[BaseException]] = None,
        _exc: Optional[BaseException] = None,
        _tb: Optional[TracebackType] = None,
    ) -> bool: ...
    def aclose(self, timeout: Optional[float] = None) -> Coroutine[Any, Any, bool]:
        """``close()`` for asyncio: ``await client.aclose()`` closes the client
        on a helper thread, so the event loop keeps running while what is
        queued is flushed (up to ``linger`` seconds). ``timeout`` and the
        result are ``close()``'s. Cancelling the awaiting task (Ctrl-C ending
        ``asyncio.run`` too) does not cancel the close but gives up waiting
        for it, as Ctrl-C does a ``close()``: neither the exit nor dropping
        the client waits for the flush, which goes on in the background
        while the process lives (``timeout`` bounds the wait instead).

        Example::

            client = await TcpClient.aconnect("127.0.0.1", 8001)
            client.send(b"bye")
            await client.aclose(timeout=5)"""
    def __aenter__(self) -> Coroutine[Any, Any, "TcpClient"]: ...
    def __aexit__(
        self,
        _exc_type: Optional[Type[BaseException]] = None,
        _exc: Optional[BaseException] = None,
        _tb: Optional[TracebackType] = None,
    ) -> Coroutine[Any, Any, bool]: ...
