"""Process-wide housekeeping for the native classes (private).

- Servers are tracked from ``start()`` so those still running at interpreter
  exit are stopped (atexit); the last callbacks of those and of servers
  dropped without ``stop()`` run before the exit, with a bound on how long
  stuck callbacks can delay it. Clients still open are closed after that.
- ``_aevents`` implements ``TcpServer.aevents()``; ``_arecv`` and
  ``_aiter_client`` implement ``TcpClient.arecv()`` and ``async for``,
  waiting on the object's ``ReadyFd`` watched by the running loop
  (``_await_ready``, no thread); ``_astop`` and ``_aclose`` implement
  ``astop()``, ``aclose()`` and ``async with``, and ``_aconnect``
  ``TcpClient.aconnect()``, each on a helper thread (``_in_thread``).
"""

from __future__ import annotations

import asyncio
import atexit
import collections.abc
import math
import threading
import time
import types
import weakref
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, Callable, Optional, TypeVar

if TYPE_CHECKING:
    from ._tcphub import Event, ReadyFd, TcpClient, TcpServer

_servers: "weakref.WeakSet[TcpServer]" = weakref.WeakSet()

#: Seconds ``_stop_all`` waits, in all, for callbacks that do not return.
EXIT_TIMEOUT = 5.0

#: Every this many steps of an async iteration (or ``arecv()`` calls), the
#: event loop runs once before the next is taken: a busy client or server
#: always has a message ready, so a step never waits, and the loop's other
#: tasks, timers and cancellations would wait for as long as that lasts.
_YIELD_EVERY = 64
_taken_without_waiting = 0

#: Seconds each slice of an ``aclose()``'s or ``astop()``'s wait lasts on
#: its helper thread, between looks at whether the awaiting task gave up.
_CLOSE_SLICE = 0.1


async def _let_the_loop_run() -> None:
    """Lets the event loop run once every ``_YIELD_EVERY`` calls (before
    anything is taken, so a cancellation there loses nothing)."""
    global _taken_without_waiting
    _taken_without_waiting += 1
    if _taken_without_waiting >= _YIELD_EVERY:
        _taken_without_waiting = 0
        await asyncio.sleep(0)


def _track(server: "TcpServer") -> None:
    _servers.add(server)


def _close_clients() -> None:
    from ._tcphub import TcpClient

    # Every client not dropped yet is closed as close() does (flushing up
    # to its linger; Ctrl-C ends the wait): the module teardown may never
    # free one (a daemon thread still running), and its queue would be lost.
    TcpClient._close_all()


# Registered first so that it runs last (atexit runs in reverse): after the
# servers were stopped, as when the teardown dropped the clients.
atexit.register(_close_clients)


@atexit.register
def _stop_all() -> None:
    from ._tcphub import TcpServer

    # Each stop flushes (up to the server's linger) without waiting for the
    # callbacks; then the last callbacks of every server run, those of
    # servers dropped without stop() included (stopped then, but not
    # waited for), within one bound.
    for server in list(_servers):
        server._stop_with_timeout(0.0)
    TcpServer._wait_for_callbacks(EXIT_TIMEOUT)


class _ServerEvents:
    """``TcpServer.aevents()``: an async generator by its interface
    (``asend``, ``athrow``, ``aclose``; registered as
    ``collections.abc.AsyncGenerator``) but an object of its own, because a
    generator is finished by a cancelled ``anext()`` (``asyncio.wait_for``
    around it): here the next ``anext()`` goes on."""

    __slots__ = ("_server", "_max_batch", "_closed")

    def __init__(self, server: "TcpServer", max_batch: int) -> None:
        self._server = server
        self._max_batch = max_batch
        self._closed = False

    def __aiter__(self) -> "_ServerEvents":
        return self

    async def __anext__(self) -> "Event":
        from ._tcphub import NotRunning

        await _let_the_loop_run()
        while not self._closed:
            # One event at a time, without waiting: the rest of a batch taken
            # for it stays with the server (for the next aevents(), events()
            # or poll()) if this iteration is left.
            try:
                event = self._server._next_ready(self._max_batch)
            except NotRunning:
                break
            if event is not None:
                return event
            # Wait on the server's descriptor, which takes nothing: if this
            # task is cancelled meanwhile, no event is lost.
            await _await_ready(self._server, None)
        raise StopAsyncIteration

    async def asend(self, value: None) -> "Event":
        """``__anext__()`` (nothing can be sent in)."""
        return await self.__anext__()

    async def athrow(self, typ: Any, val: Any = None, tb: Any = None) -> "Event":
        """Ends the iteration and raises the exception given: an instance,
        or, as a generator's ``athrow(type, value, tb)`` does, ``type``
        made from ``value`` (``None``, a tuple of arguments, an argument
        or an instance of it). Other tasks waiting in ``anext()`` end
        their iteration."""
        error = _thrown(typ, val, tb)  # (bad arguments end nothing)
        self._end()
        raise error

    async def aclose(self) -> None:
        """Ends the iteration (what it has not taken stays with the server),
        of other tasks waiting in ``anext()`` too."""
        self._end()

    def _end(self) -> None:
        if not self._closed:
            self._closed = True
            # The tasks waiting on the server's descriptor look again (and
            # see the end): nothing else would wake them before an event.
            _wake_waits(self._server)


def _thrown(typ: Any, val: Any, tb: Any) -> BaseException:
    """The exception ``athrow(typ, val, tb)`` raises, made as a generator's
    ``throw()`` makes it (its ``TypeError`` for arguments it refuses)."""
    if isinstance(typ, BaseException):
        if val is not None:
            raise TypeError("instance exception may not have a separate value")
        error = typ
    elif isinstance(typ, type) and issubclass(typ, BaseException):
        if isinstance(val, typ):
            error = val
        elif val is None:
            error = typ()
        elif isinstance(val, tuple):
            error = typ(*val)
        else:
            error = typ(val)
    else:
        raise TypeError(
            "exceptions must be classes or instances deriving from "
            f"BaseException, not {type(typ).__name__}"
        )
    if tb is not None:
        if not isinstance(tb, types.TracebackType):
            raise TypeError("throw() third argument must be a traceback object")
        error = error.with_traceback(tb)
    return error


collections.abc.AsyncGenerator.register(_ServerEvents)


def _aevents(server: "TcpServer", max_batch: int) -> _ServerEvents:
    return _ServerEvents(server, max_batch)


class _Held(set):  # type: ignore[type-arg]
    """The futures waiting on one descriptor, held strongly by the reader
    callback the loop registered (and by nothing else that outlives the
    loop): as a task waiting in the loop's own ``sock_recv()`` is, a task
    waiting here is kept alive by what it waits for, referenced by the
    application or not (a consumer started and not kept, as is common,
    was otherwise garbage: collected, "Task was destroyed but it is
    pending!", and what came next never taken). Closing the loop drops
    its readers, and with them this. (A subclass: a ``set`` takes no
    weak reference.)"""


class _FdWait:
    """The awaits of one event loop on one server or client: its
    ``ReadyFd``, which the loop watches (``add_reader``) while any of them
    waits, and their futures. Used on that loop's thread only.

    The futures are held weakly here (their awaiting tasks hold them, and
    the loop's reader, through ``_Held``): a future refers to its loop, so
    held here it would keep the loop — the key of this entry in
    ``_fd_waits`` — alive for good when the loop is closed while a task
    waits, and with it the task and the descriptor."""

    __slots__ = ("ready", "fd", "waiters", "reading", "_held")

    def __init__(self, ready: "ReadyFd") -> None:
        self.ready = ready
        self.fd = ready.fileno()
        self.waiters: "weakref.WeakSet[asyncio.Future[None]]" = weakref.WeakSet()
        self.reading = False
        self._held: "Optional[weakref.ref[_Held]]" = None

    def held(self) -> _Held:
        """The ``_Held`` of the waits: the one the registered reader holds
        while the loop watches."""
        held = self._held() if self._held is not None else None
        if held is None:
            held = _Held()
            self._held = weakref.ref(held)
        return held

    def wake(self, loop: asyncio.AbstractEventLoop, _held: Optional[_Held] = None) -> None:
        """Wakes every await, each to look again (and arm again if it must
        wait); the loop stops watching until one does. (``_held``: what
        the reader holds.)"""
        if self.reading:
            loop.remove_reader(self.fd)
            self.reading = False
        for waiting in list(self.waiters):
            if not waiting.done():
                waiting.set_result(None)


#: Per server or client, per event loop: its ``_FdWait`` (both weak: a
#: server, client or loop dropped takes its descriptor with it).
_fd_waits: "weakref.WeakKeyDictionary[Any, weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _FdWait]]" = (
    weakref.WeakKeyDictionary()
)
_fd_waits_lock = threading.Lock()


def _fd_wait(owner: "TcpServer | TcpClient", loop: asyncio.AbstractEventLoop) -> _FdWait:
    """The ``_FdWait`` of ``owner`` on ``loop``, made on first use: every
    ``aevents()`` of a server, and every ``arecv()`` and ``async for`` of
    a client, on that loop shares one descriptor."""
    with _fd_waits_lock:
        per_loop = _fd_waits.get(owner)
        if per_loop is None:
            per_loop = weakref.WeakKeyDictionary()
            _fd_waits[owner] = per_loop
        wait = per_loop.get(loop)
        if wait is None:
            wait = _FdWait(owner.ready_fd())
            per_loop[loop] = wait
        return wait


def _wake_waits(owner: "TcpServer | TcpClient") -> None:
    """Wakes every await on ``owner``'s descriptor, on every loop, each to
    look again (another loop's from its own thread)."""
    with _fd_waits_lock:
        per_loop = _fd_waits.get(owner)
        waits = list(per_loop.items()) if per_loop is not None else []
    try:
        running: Optional[asyncio.AbstractEventLoop] = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    for loop, wait in waits:
        if loop is running:
            wait.wake(loop)
        elif not loop.is_closed():
            try:
                loop.call_soon_threadsafe(wait.wake, loop)
            except RuntimeError:  # closed meanwhile: no one waits there
                pass


async def _await_ready(owner: "TcpServer | TcpClient", timeout: Optional[float]) -> None:
    """Waits up to ``timeout`` seconds (``None``: no limit) until something
    can be taken from ``owner`` (or nothing more can come), taking nothing:
    on its ``ReadyFd``, watched by the running loop — no thread. Cancelling
    the awaiting task loses nothing."""
    loop = asyncio.get_running_loop()
    wait = _fd_wait(owner, loop)
    if not wait.ready.arm():
        # Something can be taken now. This arm read what the descriptor
        # had, which may have been the wakeup of other awaits here: they
        # look again too.
        wait.wake(loop)
        return
    waiting: "asyncio.Future[None]" = loop.create_future()
    wait.waiters.add(waiting)
    held = wait.held()
    held.add(waiting)
    if not wait.reading:
        loop.add_reader(wait.fd, wait.wake, loop, held)
        wait.reading = True
    try:
        await asyncio.wait([waiting], timeout=timeout)
    finally:
        wait.waiters.discard(waiting)
        held.discard(waiting)
        if not wait.waiters and wait.reading and not loop.is_closed():
            loop.remove_reader(wait.fd)
            wait.reading = False
        # (Not on a closed loop, whose task is being collected: cancelling
        # would schedule a callback there and raise.)
        if not loop.is_closed():
            waiting.cancel()


_T = TypeVar("_T")


async def _ready(value: _T) -> _T:
    """``value``, awaitable (``__aenter__``)."""
    return value


async def _exit_after(obj: "TcpServer | TcpClient", exc_type: Optional[type]) -> bool:
    """``__aexit__``: ``astop()`` or ``aclose()``, returning ``False`` so
    that an exception raised in the ``async with`` block propagates
    whatever it returned. A block left by a cancellation (Ctrl-C ending
    ``asyncio.run`` among them) only begins the stop or close and gives up
    waiting for it, as a cancelled ``astop()`` or ``aclose()`` does: the
    clean-up of a cancelled task does not wait up to ``linger``."""
    from ._tcphub import TcpServer

    cancelled = exc_type is not None and issubclass(
        exc_type, (asyncio.CancelledError, KeyboardInterrupt)
    )
    if isinstance(obj, TcpServer):
        if not cancelled:
            await obj.astop()
            return False
        obj.stop(0.0)  # begins it
    else:
        if not cancelled:
            await obj.aclose()
            return False
        obj.close(0.0)  # begins it
    obj._give_up()
    return False


async def _in_thread(
    fn: Callable[[], _T],
    name: str,
    abandon: Optional[Callable[[_T], None]] = None,
    on_cancel: Optional[Callable[[], None]] = None,
) -> _T:
    """Runs ``fn`` (a blocking ``stop()``, ``close()`` or connect) on a
    thread of its own and waits for it without blocking the event loop,
    returning what it returns or raising what it raises. Cancelling the
    waiting task leaves ``fn`` to finish (``on_cancel`` is called, to tell
    it); what it then returns, which no one takes, goes to ``abandon`` (off
    the event loop)."""
    loop = asyncio.get_running_loop()
    done: "asyncio.Future[_T]" = loop.create_future()
    # Cleared once the task no longer awaits `done`: the thread then
    # abandons what `fn` returned itself instead of handing it over.
    waiting = True

    def abandon_in_thread(result: _T) -> None:
        if abandon is not None:
            threading.Thread(target=abandon, args=(result,), name=name).start()

    def succeed(result: _T) -> None:
        if done.cancelled():
            abandon_in_thread(result)
        else:
            done.set_result(result)

    def fail(error: BaseException) -> None:
        if not done.cancelled():
            done.set_exception(error)

    def post(settle: Callable[[Any], None], value: Any) -> bool:
        """Hands ``value`` to ``settle`` on the event loop; ``False`` when
        the loop has closed (nobody is waiting)."""
        try:
            loop.call_soon_threadsafe(settle, value)
            return True
        except RuntimeError:
            return False

    def run() -> None:
        try:
            result = fn()
        except BaseException as e:  # handed to the awaiting task
            if waiting:
                post(fail, e)
            return
        if waiting and post(succeed, result):
            return
        if abandon is not None:
            abandon(result)

    # Not the loop's default executor: a stop may wait up to `linger`, and
    # its few workers are the application's.
    threading.Thread(target=run, name=name).start()
    try:
        return await done
    except BaseException:
        waiting = False
        if on_cancel is not None:
            on_cancel()
        # Cancelled after `succeed` had set the result but before the task
        # resumed: no one takes it.
        if done.done() and not done.cancelled() and done.exception() is None:
            abandon_in_thread(done.result())
        raise


def _close(client: "TcpClient") -> None:
    client.close()


def _until_done(
    finish: "Callable[[Optional[float]], bool]",
    give_up: "Callable[[], None]",
    timeout: Optional[float],
    gave_up: threading.Event,
) -> bool:
    """A blocking ``close(timeout)`` or ``stop(timeout)`` (``finish``) on a
    helper thread, in slices. Once the awaiting task gave up (``gave_up``:
    it was cancelled — Ctrl-C ending ``asyncio.run`` too, which reaches
    only the main thread), it gives up as the interrupted call would have
    on the main thread (``give_up``): neither the exit nor dropping the
    object waits for the flush, which goes on in the background while the
    process lives, and this thread ends instead of holding the exit."""
    if timeout is not None and not (0 < timeout < math.inf):
        return finish(timeout)  # no wait to slice (or the call's own error)
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        left = _CLOSE_SLICE
        if deadline is not None:
            left = min(left, max(0.0, deadline - time.monotonic()))
        if finish(left):
            return True
        if gave_up.is_set():
            give_up()
            return False
        if deadline is not None and time.monotonic() >= deadline:
            return False


class _BeginsIfCancelledFirst(collections.abc.Coroutine):  # type: ignore[type-arg]
    """``astop()``'s or ``aclose()``'s coroutine (``inner``): a task
    cancelled before its first step (``asyncio.wait_for`` with no time
    left, a task group failing before the task ran, ``cancel()`` right
    after ``create_task``) runs none of a coroutine, so the stop or close,
    which a cancel does not cancel, never began: here that first
    ``throw()`` begins it (``begin``) and gives up waiting for it, as a
    cancel during the wait does. Otherwise just ``inner``: one never
    awaited does nothing."""

    __slots__ = ("_inner", "_begin", "_started")

    def __init__(self, inner: "collections.abc.Coroutine[Any, Any, bool]", begin: Callable[[], None]) -> None:
        self._inner = inner
        self._begin = begin
        self._started = False

    def __await__(self) -> "_BeginsIfCancelledFirst":
        return self

    def __iter__(self) -> "_BeginsIfCancelledFirst":
        return self

    def __next__(self) -> Any:
        return self.send(None)

    def send(self, value: Any) -> Any:
        self._started = True
        return self._inner.send(value)

    def throw(self, typ: Any, val: Any = None, tb: Any = None) -> Any:
        if not self._started:
            self._started = True
            self._begin()
        if val is None and tb is None:
            return self._inner.throw(typ)
        return self._inner.throw(typ, val, tb)  # (the old signature, as given)

    def close(self) -> None:
        self._inner.close()


def _begin_and_give_up(obj: "TcpServer | TcpClient", finish: "Callable[[float], bool]") -> Callable[[], None]:
    def begin() -> None:
        finish(0.0)  # begins it, without waiting
        obj._give_up()

    return begin


async def _aclose_wait(client: "TcpClient", timeout: Optional[float]) -> bool:
    gave_up = threading.Event()
    close = lambda: _until_done(client.close, client._give_up, timeout, gave_up)  # noqa: E731
    return await _in_thread(close, "tcphub-aclose", on_cancel=gave_up.set)


def _aclose(client: "TcpClient", timeout: Optional[float]) -> _BeginsIfCancelledFirst:
    """``TcpClient.aclose()``."""
    return _BeginsIfCancelledFirst(_aclose_wait(client, timeout), _begin_and_give_up(client, client.close))


async def _astop_wait(server: "TcpServer", timeout: Optional[float]) -> bool:
    gave_up = threading.Event()
    stop = lambda: _until_done(server.stop, server._give_up, timeout, gave_up)  # noqa: E731
    return await _in_thread(stop, "tcphub-astop", on_cancel=gave_up.set)


def _astop(server: "TcpServer", timeout: Optional[float]) -> _BeginsIfCancelledFirst:
    """``TcpServer.astop()``."""
    return _BeginsIfCancelledFirst(_astop_wait(server, timeout), _begin_and_give_up(server, server.stop))


async def _aconnect(connect: "Callable[[threading.Event], TcpClient]") -> "TcpClient":
    """``TcpClient.aconnect()``: ``connect`` (the checked arguments, bound)
    connects on a helper thread, giving up when the event is set; a client
    it makes that the awaiting task does not take is closed."""
    gave_up = threading.Event()
    try:
        return await _in_thread(lambda: connect(gave_up), "tcphub-aconnect", _close)
    finally:
        gave_up.set()  # (once connected, nothing reads it)


async def _next_message(client: "TcpClient", deadline: Optional[float]) -> Optional[bytes]:
    """The next message (``None`` at the end), waiting on the client's
    ``ReadyFd`` (``_await_ready``), which takes nothing."""
    from ._tcphub import Timeout

    await _let_the_loop_run()
    loop = asyncio.get_running_loop()
    while True:
        try:
            return client.recv(timeout=0)  # takes it here, on the loop's thread
        except Timeout:
            pass
        left = None
        if deadline is not None:
            left = deadline - loop.time()
            if left <= 0:
                raise Timeout("no message in time")
        await _await_ready(client, left)


async def _arecv(client: "TcpClient", timeout: Optional[float]) -> Optional[bytes]:
    loop = asyncio.get_running_loop()
    deadline = None if timeout is None else loop.time() + timeout
    return await _next_message(client, deadline)


class _ClientMessages:
    """``async for message in client``: an async iterator (not a generator,
    which a cancelled ``anext()`` would end for good)."""

    __slots__ = ("_client",)

    def __init__(self, client: "TcpClient") -> None:
        self._client = client

    def __aiter__(self) -> "_ClientMessages":
        return self

    async def __anext__(self) -> bytes:
        message = await _next_message(self._client, None)
        if message is None:
            raise StopAsyncIteration
        return message


def _aiter_client(client: "TcpClient") -> _ClientMessages:
    return _ClientMessages(client)
