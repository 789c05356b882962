"""Process-wide housekeeping for the native classes (private).

- Servers are tracked from ``start()`` so those still running at interpreter
  exit are stopped (atexit), with a bound on how long a stuck callback can
  delay the exit.
- ``_aevents`` implements ``TcpServer.aevents()``.
"""

from __future__ import annotations

import asyncio
import atexit
import weakref
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, AsyncGenerator

if TYPE_CHECKING:
    from ._tcphub import Event, TcpServer

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
