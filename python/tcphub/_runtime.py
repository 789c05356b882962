"""Process-wide housekeeping for the native classes (private).

- Servers are tracked from ``start()`` so those still running at interpreter
  exit are stopped (atexit); the last callbacks of those and of servers
  dropped without ``stop()`` run before the exit, with a bound on how long
  stuck callbacks can delay it. Clients still open are closed after that.
- ``_aevents`` implements ``TcpServer.aevents()``; ``_arecv`` and
  ``_aiter_client`` implement ``TcpClient.arecv()`` and ``async for``;
  ``_in_thread`` implements ``astop()``, ``aclose()`` and ``async with``,
  and, with ``_aconnect``, ``TcpClient.aconnect()``.
"""

from __future__ import annotations

import asyncio
import atexit
import threading
import weakref
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, AsyncGenerator, Awaitable, Callable, Optional, TypeVar

if TYPE_CHECKING:
    from ._tcphub import Event, TcpClient, TcpServer

_servers: "weakref.WeakSet[TcpServer]" = weakref.WeakSet()

#: Seconds ``_stop_all`` waits, in all, for callbacks that do not return.
EXIT_TIMEOUT = 5.0

#: Seconds one helper-thread wait in ``aevents()`` lasts before re-checking.
_AEVENTS_WAIT = 0.25


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


async def _aevents(server: "TcpServer", max_batch: int) -> AsyncGenerator["Event", None]:
    from ._tcphub import NotRunning

    while True:
        # One event at a time, without waiting: the rest of a batch taken
        # for it stays with the server (for the next aevents(), events()
        # or poll()) if this iteration is left.
        try:
            event = server._next_ready(max_batch)
        except NotRunning:
            return
        if event is not None:
            yield event
            continue
        # Wait on the server's helper thread (not the loop's default
        # executor, whose few workers would be held), which takes nothing:
        # if this task is cancelled meanwhile, no event is lost.
        await _await_shared(_shared_wait(server, "tcphub-aevents"), None)


#: The wait in flight for each server or client (by ``id``; the waiting
#: thread holds the object, so the id is not reused meanwhile): see
#: ``_shared_wait``.
_shared_waits: "dict[int, Future[bool]]" = {}
_shared_waits_lock = threading.Lock()


def _shared_wait(owner: "TcpServer | TcpClient", name: str) -> "Future[bool]":
    """The helper-thread wait (``owner._wait_ready``) in flight for
    ``owner``, or a new one on a thread called ``name``.

    Every ``aevents()`` of a server, and every ``arecv()`` and ``async for``
    of a client, shares it: a cancelled wait (``asyncio.wait_for`` around
    it, a poll loop) leaves its thread to the next one instead of one thread
    per call that lingers until its wait ends."""
    with _shared_waits_lock:
        fut = _shared_waits.get(id(owner))
        if fut is None:
            fut = Future()
            fut.set_running_or_notify_cancel()  # no waiter can cancel it for the others
            # Not a daemon: it ends within one wait, and interpreter exit
            # joins it rather than stopping it inside the native wait.
            threading.Thread(target=_shared_wait_thread, args=(owner, fut), name=name).start()
            # (start() raises, recording nothing, when no thread can start)
            _shared_waits[id(owner)] = fut
        return fut


def _shared_wait_thread(owner: "TcpServer | TcpClient", fut: "Future[bool]") -> None:
    try:
        ready = owner._wait_ready(_AEVENTS_WAIT)
    except BaseException as e:  # handed to the waiters
        with _shared_waits_lock:
            del _shared_waits[id(owner)]
        fut.set_exception(e)
        return
    with _shared_waits_lock:
        # Before the waiters wake: one that must wait again starts a new wait.
        del _shared_waits[id(owner)]
    fut.set_result(ready)


async def _await_shared(shared: "Future[bool]", timeout: Optional[float]) -> None:
    """Waits for the shared wait, up to ``timeout`` seconds (``None``: until
    it ends); cancelling the caller cancels only its own view of it."""
    waiting = asyncio.wrap_future(shared)
    try:
        # Up to the deadline: the shared wait may have begun earlier.
        await asyncio.wait([waiting], timeout=timeout)
        if waiting.done():
            waiting.result()
    finally:
        # (Not on a closed loop, whose task is being collected: cancelling
        # would schedule a callback there and raise.)
        if not waiting.get_loop().is_closed():
            waiting.cancel()


_T = TypeVar("_T")


async def _ready(value: _T) -> _T:
    """``value``, awaitable (``__aenter__``)."""
    return value


async def _exit_after(done: Awaitable[Any]) -> bool:
    """``__aexit__``: awaits ``done`` (an ``astop()`` or ``aclose()``) and
    returns ``False``, so that an exception raised in the ``async with``
    block propagates whatever ``done`` returned."""
    await done
    return False


async def _in_thread(
    fn: Callable[[], _T], name: str, abandon: Optional[Callable[[_T], None]] = None
) -> _T:
    """Runs ``fn`` (a blocking ``stop()``, ``close()`` or connect) on a
    thread of its own and waits for it without blocking the event loop,
    returning what it returns or raising what it raises. Cancelling the
    waiting task leaves ``fn`` to finish; what it then returns, which no
    one takes, goes to ``abandon`` (off the event loop)."""
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
        # Cancelled after `succeed` had set the result but before the task
        # resumed: no one takes it.
        if done.done() and not done.cancelled() and done.exception() is None:
            abandon_in_thread(done.result())
        raise


def _close(client: "TcpClient") -> None:
    client.close()


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
    helper thread (``_shared_wait``), which takes nothing."""
    from ._tcphub import Timeout

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
        await _await_shared(_shared_wait(client, "tcphub-arecv"), left)


async def _arecv(client: "TcpClient", timeout: Optional[float]) -> Optional[bytes]:
    loop = asyncio.get_running_loop()
    deadline = None if timeout is None else loop.time() + timeout
    return await _next_message(client, deadline)


async def _aiter_client(client: "TcpClient") -> AsyncGenerator[bytes, None]:
    while (message := await _next_message(client, None)) is not None:
        yield message
