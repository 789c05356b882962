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
"""Longest ``full_message`` a ``TcpServer`` takes, framed, in bytes."""
EVENT_QUEUE_BYTES: int
"""Message bytes an event queue holds at most (with ``event_capacity``
events): past either, the server or client stops reading."""

_OnConnect = TypeVar("_OnConnect", bound=Callable[["Client"], object])
_OnMessage = TypeVar("_OnMessage", bound=Callable[["Client", bytes], object])
_OnDisconnect = TypeVar("_OnDisconnect", bound=Callable[["Client", str], object])
_OnError = TypeVar("_OnError", bound=Callable[[BaseException, "Event"], object])
_S = TypeVar("_S", bound="TcpServer")

class TcpHubError(Exception):
    """Base class of every error raised by tcphub."""

class InvalidConfig(TcpHubError, ValueError):
    """A configuration value is out of range."""

class BindError(TcpHubError, OSError):
    """The listening socket could not be bound; ``errno`` is set."""

    address: Tuple[str, int]

class ConnectError(TcpHubError, ConnectionError):
    """An outgoing connection could not be established (``address`` is None
    when the address given did not resolve; of several addresses, it is the
    first tried, and the message names each one with its error). Also an
    instance of the built-in class its ``errno`` has, as ``socket``'s errors
    are: a refused connection is a ``ConnectionRefusedError``, and a name
    that does not resolve a ``socket.gaierror``."""

    address: Optional[Tuple[str, int]]

class NoSuchClient(TcpHubError, LookupError):
    """No connected client has this id."""

    client_id: Optional[int]

class NoSuchAddr(NoSuchClient):
    """No connected client has this remote address."""

    address: Tuple[str, int]

class NotRunning(TcpHubError):
    """The server or client is not running."""

class FrameTooLarge(TcpHubError, ValueError):
    """A message is longer than the framing allows."""

    length: int
    limit: int

class InvalidMessage(TcpHubError, ValueError):
    """A message the framing cannot carry as it is: under lines framing, one
    containing a newline (it would arrive as several messages). Raised by
    every send before anything is queued."""

class QueueFull(TcpHubError):
    """A bounded outbound queue has no room for the message."""

    queued: int
    limit: int

class Timeout(TcpHubError, TimeoutError):
    """A timed wait ran out."""

class IoError(TcpHubError, OSError):
    """Any other operating-system failure."""

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
    """A connected client: its id and remote address."""

    @property
    def id(self) -> int: ...
    @property
    def ip(self) -> str: ...
    @property
    def port(self) -> int: ...
    @property
    def address(self) -> Tuple[str, int]: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __ne__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...
    def __reduce__(self) -> Tuple[Any, Tuple[Any, ...]]: ...

@final
class Event:
    """One thing that happened on a server."""

    @property
    def kind(self) -> Literal["connect", "message", "disconnect"]: ...
    @property
    def client(self) -> Client: ...
    @property
    def data(self) -> Optional[bytes]: ...
    @property
    def reason(self) -> Optional[str]: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __ne__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...
    def __reduce__(self) -> Tuple[Any, Tuple[Any, ...]]: ...

@final
class ClientEvent:
    """One thing that happened on a client's connection (``TcpClient.next_event()``)."""

    @property
    def kind(self) -> Literal["message", "disconnect", "reconnecting", "reconnected", "closed"]: ...
    @property
    def data(self) -> Optional[bytes]: ...
    @property
    def reason(self) -> Optional[str]: ...
    @property
    def attempt(self) -> Optional[int]: ...
    @property
    def delay(self) -> Optional[float]: ...
    @property
    def local_address(self) -> Optional[Tuple[str, int]]: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __ne__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...
    def __reduce__(self) -> Tuple[Any, Tuple[Any, ...]]: ...

@final
class Stats:
    """A snapshot of a server's counters."""

    @property
    def clients(self) -> int: ...
    @property
    def accepted(self) -> int: ...
    @property
    def rejected(self) -> int: ...
    @property
    def disconnected(self) -> int: ...
    @property
    def msgs_in(self) -> int: ...
    @property
    def bytes_in(self) -> int: ...
    @property
    def msgs_out(self) -> int: ...
    @property
    def bytes_out(self) -> int: ...
    @property
    def dropped(self) -> int: ...
    @property
    def undelivered(self) -> int: ...
    @property
    def slow_consumers(self) -> int: ...
    @property
    def frame_too_large(self) -> int: ...
    @property
    def idle_timeouts(self) -> int: ...
    @property
    def frame_timeouts(self) -> int: ...
    @property
    def callback_errors(self) -> int: ...
    def as_dict(self) -> Dict[str, int]: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __ne__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...
    def __reduce__(self) -> Tuple[Any, Tuple[Any, ...]]: ...

@final
class EventIterator(Iterator[Event]):
    """Iterator over a server's events (``TcpServer.events()``)."""

    def __iter__(self) -> "EventIterator": ...
    def __next__(self) -> Event: ...

_Data = Buffer  # any bytes-like object, as socket.send takes
_ClientRef = int | Client  # a client id, or the Client itself

@final
class TcpServer:
    """A multi-client TCP server."""

    def __new__(
        cls,
        port: int = 0,
        max_clients: int = 1024,
        *,
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
        event_capacity: int = 65536,
        busy_poll: float = 5e-6,
        full_message: Optional[_Data] = None,
    ) -> "TcpServer": ...
    def on_connect(self, func: _OnConnect) -> _OnConnect:
        """Decorator: ``func(client)`` is called when a client connects.

        A server's callbacks run one at a time, in order, on its dispatcher
        thread (not the I/O threads): they never run at the same time. Any
        callback puts the server in callback mode: an event whose callback
        is not set is dropped, and ``events()``/``poll()``/``aevents()``
        raise ``RuntimeError`` — with ``on_connect`` or ``on_disconnect``
        alone, the clients' messages go nowhere. A callback must not be
        ``async def``."""
    def on_message(self, func: _OnMessage) -> _OnMessage:
        """Decorator: ``func(client, data: bytes)`` is called for each message
        (one frame), in order per client."""
    def on_disconnect(self, func: _OnDisconnect) -> _OnDisconnect:
        """Decorator: ``func(client, reason: str)`` is called once when a
        client leaves (see ``Event.reason`` for the reasons). It is the
        client's last callback — the place to drop what you keep about it,
        keyed by ``client.id`` (never reused while the server runs)."""
    def on_error(self, func: _OnError) -> _OnError:
        """Decorator: ``func(exc, event)`` is called when another callback
        raises (instead of ``sys.unraisablehook``). What ``func`` itself
        raises goes to ``sys.unraisablehook``, with ``exc`` as its
        ``__context__``."""
    def start(self: _S) -> _S: ...
    def stop(self, timeout: Optional[float] = None) -> bool: ...
    def _stop_with_timeout(self, timeout: float) -> bool: ...
    @staticmethod
    def _wait_for_callbacks(timeout: float) -> bool: ...
    def wait(self, timeout: Optional[float] = None) -> bool: ...
    def send_all(self, data: _Data, *, exclude: Optional[_ClientRef] = None) -> int: ...
    def send_to(self, ip: str, port: int, data: _Data) -> None: ...
    def send(self, client_id: _ClientRef, data: _Data) -> None: ...
    def disconnect(self, client_id: _ClientRef) -> None: ...
    def _kicks_pending(self) -> int: ...
    def clients(self) -> List[Client]: ...
    def client(self, client_id: _ClientRef) -> Optional[Client]: ...
    @property
    def client_count(self) -> int: ...
    @property
    def pending_events(self) -> int: ...
    def stats(self) -> Stats: ...
    @property
    def port(self) -> int: ...
    @property
    def address(self) -> Tuple[str, int]: ...
    @property
    def framing(self) -> Literal["raw", "lines", "length"]: ...
    @property
    def max_len(self) -> Optional[int]: ...
    @property
    def max_clients(self) -> int: ...
    @property
    def running(self) -> bool: ...
    def events(self, timeout: Optional[float] = None, *, max_batch: int = 256) -> EventIterator: ...
    def poll(self, max_events: int = 256, timeout: Optional[float] = 0.0) -> List[Event]: ...
    def aevents(self, *, max_batch: int = 256) -> AsyncGenerator[Event, None]: ...
    def _wait_ready(self, timeout: float) -> bool: ...
    def _next_ready(self, max_batch: int) -> Optional[Event]: ...
    def __enter__(self: _S) -> _S: ...
    def __exit__(
        self,
        _exc_type: Optional[Type[BaseException]] = None,
        _exc: Optional[BaseException] = None,
        _tb: Optional[TracebackType] = None,
    ) -> bool: ...
    def astop(self, timeout: Optional[float] = None) -> Coroutine[Any, Any, bool]: ...
    def __aenter__(self: _S) -> Coroutine[Any, Any, _S]: ...
    def __aexit__(
        self,
        _exc_type: Optional[Type[BaseException]] = None,
        _exc: Optional[BaseException] = None,
        _tb: Optional[TracebackType] = None,
    ) -> Coroutine[Any, Any, bool]: ...

@final
class TcpClient:
    """A connection to a tcphub (or any compatible) server."""

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
    ) -> Coroutine[Any, Any, "TcpClient"]: ...
    def send(self, data: _Data, timeout: Optional[float] = 0.0) -> None: ...
    def flush(self, timeout: Optional[float] = None) -> None: ...
    def recv(self, timeout: Optional[float] = None) -> Optional[bytes]: ...
    def next_event(self, timeout: Optional[float] = None) -> Optional[ClientEvent]: ...
    def arecv(self, timeout: Optional[float] = None) -> Coroutine[Any, Any, Optional[bytes]]: ...
    def __aiter__(self) -> AsyncIterator[bytes]: ...
    def _wait_ready(self, timeout: float) -> bool: ...
    @staticmethod
    def _close_all() -> None: ...
    def shutdown_write(self) -> None: ...
    def close(self, timeout: Optional[float] = None) -> bool: ...
    @property
    def local_address(self) -> Tuple[str, int]: ...
    @property
    def peer_address(self) -> Tuple[str, int]: ...
    @property
    def is_open(self) -> bool: ...
    @property
    def is_connected(self) -> bool: ...
    @property
    def queued_bytes(self) -> int: ...
    @property
    def unsent(self) -> int: ...
    @property
    def disconnect_reason(self) -> Optional[str]: ...
    @property
    def framing(self) -> Literal["raw", "lines", "length"]: ...
    @property
    def max_len(self) -> Optional[int]: ...
    def __iter__(self) -> "TcpClient": ...
    def __next__(self) -> bytes: ...
    def __enter__(self) -> "TcpClient": ...
    def __exit__(
        self,
        _exc_type: Optional[Type[BaseException]] = None,
        _exc: Optional[BaseException] = None,
        _tb: Optional[TracebackType] = None,
    ) -> bool: ...
    def aclose(self, timeout: Optional[float] = None) -> Coroutine[Any, Any, bool]: ...
    def __aenter__(self) -> Coroutine[Any, Any, "TcpClient"]: ...
    def __aexit__(
        self,
        _exc_type: Optional[Type[BaseException]] = None,
        _exc: Optional[BaseException] = None,
        _tb: Optional[TracebackType] = None,
    ) -> Coroutine[Any, Any, bool]: ...
