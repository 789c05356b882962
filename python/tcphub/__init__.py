"""tcphub: a multi-client TCP server (and client) on a Rust epoll engine.

Quick start — the socket tutorial's chat relay::

    import tcphub

    server = tcphub.TcpServer(8001, 100, framing="lines")

    @server.on_message
    def relay(client, data):
        server.send_all(f"{client}: ".encode() + data)

    server.start()
    server.wait()          # Ctrl-C to stop

Callbacks run on one dispatcher thread (never on the I/O threads), after
the fact: a client may have left by the time its callback runs, and a
reply to it then raises ``NoSuchClient``. Without
callbacks, consume ``server.events()``, ``server.poll()`` or
``server.aevents()`` (asyncio). ``TcpClient`` is the client side
(``recv()``, or ``await TcpClient.aconnect(...)``, ``await client.arecv()``
and ``async for`` in asyncio).
Errors derive from ``TcpHubError``; a bind failure is a ``BindError``, an
``OSError`` with ``errno`` set.

In a child process forked (``os.fork()``) while a server or client runs,
it acts as stopped: its threads stay in the parent, sends raise
``NotRunning``, and ``stop()``, ``close()`` and the child's exit return at
once, leaving the parent's connections alone.
A child forked inside a callback (on the dispatcher thread) should end
with ``os._exit()``; returning from the callback ends it too.
"""

from ._tcphub import (
    DEFAULT_MAX_FRAME,
    DEFAULT_MAX_LINE,
    DEFAULT_MAX_QUEUE_BYTES,
    MAX_BUSY_POLL,
    MAX_THREADS,
    DEFAULT_BACKLOG,
    DEFAULT_BUSY_POLL,
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_EVENT_CAPACITY,
    DEFAULT_LINGER,
    EVENT_QUEUE_BYTES,
    MAX_FULL_MESSAGE,
    MAX_KEEPALIVE,
    BindError,
    Client,
    ClientEvent,
    ConnectError,
    Event,
    EventIterator,
    FrameTooLarge,
    InvalidConfig,
    InvalidMessage,
    IoError,
    NoSuchAddr,
    NoSuchClient,
    NotRunning,
    QueueFull,
    ReadyFd,
    Stats,
    TcpClient,
    TcpHubError,
    TcpServer,
    Timeout,
    __version__,
    engine_log_level,
    set_engine_log_level,
)
from . import _runtime as _runtime  # noqa: F401  (atexit cleanup)

__all__ = [
    "engine_log_level",
    "set_engine_log_level",
    "DEFAULT_MAX_FRAME",
    "DEFAULT_MAX_LINE",
    "DEFAULT_MAX_QUEUE_BYTES",
    "MAX_BUSY_POLL",
    "MAX_THREADS",
    "DEFAULT_BACKLOG",
    "DEFAULT_BUSY_POLL",
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_EVENT_CAPACITY",
    "DEFAULT_LINGER",
    "EVENT_QUEUE_BYTES",
    "MAX_FULL_MESSAGE",
    "MAX_KEEPALIVE",
    "BindError",
    "Client",
    "ClientEvent",
    "ConnectError",
    "Event",
    "EventIterator",
    "FrameTooLarge",
    "InvalidConfig",
    "InvalidMessage",
    "IoError",
    "NoSuchAddr",
    "NoSuchClient",
    "NotRunning",
    "QueueFull",
    "ReadyFd",
    "Stats",
    "TcpClient",
    "TcpHubError",
    "TcpServer",
    "Timeout",
    "__version__",
]
