"""Process-wide housekeeping for the native classes (private).

- Servers are tracked from ``start()`` so those still running at interpreter
  exit are stopped (atexit), with a bound on how long a stuck callback can
  delay the exit.
- ``_aevents`` implements ``TcpServer.aevents()``; ``_arecv`` and
  ``_aiter_client`` implement ``TcpClient.arecv()`` and ``async for``.
"""

from __future__ import annotations

import asyncio
import atexit
import weakref
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, AsyncGenerator, Optional

if TYPE_CHECKING:
    from ._tcphub import Event, TcpClient, TcpServer

_servers: "weakref.WeakSet[TcpServer]" = weakref.WeakSet()

#: Seconds ``_stop_all`` waits for a callback that does not return.
EXIT_TIMEOUT = 5.0

#: Seconds one helper-thread wait in ``aevents()`` lasts before re-checking.
_AEVENTS_WAIT = 0.25


def _track(server: "TcpServer") -> None:
    _servers.add(server)


@atexit.register
def _stop_all() -> None:
    for server in list(_servers):
        server._stop_with_timeout(EXIT_TIMEOUT)


async def _aevents(server: "TcpServer", max_batch: int) -> AsyncGenerator["Event", None]:
    from ._tcphub import NotRunning

    loop = asyncio.get_running_loop()
    # A helper thread of its own (started at the first wait): waits on the
    # loop's default executor would hold its few workers, delaying every
    # other use of it (getaddrinfo, to_thread) and the other consumers.
    waiter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tcphub-aevents")
    try:
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
            # Wait on the helper thread without taking anything: if this task
            # is cancelled meanwhile, no event is lost.
            await loop.run_in_executor(waiter, server._wait_ready, _AEVENTS_WAIT)
    finally:
        waiter.shutdown(wait=False)


async def _next_message(
    client: "TcpClient", waiter: "list[ThreadPoolExecutor]", deadline: Optional[float]
) -> Optional[bytes]:
    """The next message (``None`` at the end), waiting on a helper thread
    (made at the first wait, kept in ``waiter``) that takes nothing."""
    from ._tcphub import Timeout

    loop = asyncio.get_running_loop()
    while True:
        try:
            return client.recv(timeout=0)  # takes it here, on the loop's thread
        except Timeout:
            pass
        left = _AEVENTS_WAIT
        if deadline is not None:
            left = min(left, deadline - loop.time())
            if left <= 0:
                raise Timeout("no message in time")
        if not waiter:
            waiter.append(ThreadPoolExecutor(max_workers=1, thread_name_prefix="tcphub-arecv"))
        await loop.run_in_executor(waiter[0], client._wait_ready, left)


async def _arecv(client: "TcpClient", timeout: Optional[float]) -> Optional[bytes]:
    loop = asyncio.get_running_loop()
    deadline = None if timeout is None else loop.time() + timeout
    waiter: "list[ThreadPoolExecutor]" = []
    try:
        return await _next_message(client, waiter, deadline)
    finally:
        for w in waiter:
            w.shutdown(wait=False)


async def _aiter_client(client: "TcpClient") -> AsyncGenerator[bytes, None]:
    waiter: "list[ThreadPoolExecutor]" = []
    try:
        while (message := await _next_message(client, waiter, None)) is not None:
            yield message
    finally:
        for w in waiter:
            w.shutdown(wait=False)
