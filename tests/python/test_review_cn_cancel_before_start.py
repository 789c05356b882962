"""Review "cn" (asyncio cancellation): ``astop()`` and ``aclose()`` are
documented as "cancelling the awaiting task does not cancel the stop (the
close) but gives up waiting for it". That held only once the coroutine had
run to its first await: a task cancelled before its first step — an
``asyncio.wait_for(server.astop(), remaining)`` whose ``remaining`` ran
out, a task group failing before the task started, ``task.cancel()``
right after ``create_task`` — never began the stop or the close."""

from __future__ import annotations

import asyncio
from typing import Any, Callable

import pytest

import tcphub

from conftest import WAIT, connect, read_to_eof, wait_until


async def _cancelled_before_start(make: Callable[[], Any], how: str) -> None:
    if how == "wait_for_0":
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(make(), 0)
    elif how == "cancel":
        task = asyncio.ensure_future(make())
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    else:  # a task group whose first task fails before the other ran

        class Boom(Exception):
            pass

        async def boom() -> None:
            raise Boom

        with pytest.raises(BaseExceptionGroup):
            async with asyncio.TaskGroup() as tg:
                tg.create_task(boom())
                await asyncio.sleep(0)  # boom() fails; the group cancels the rest
                tg.create_task(make())


HOWS = ["wait_for_0", "cancel", "task_group"]


@pytest.mark.parametrize("how", HOWS)
def test_an_astop_cancelled_before_it_ran_still_stops(
    how: str, make_server: Callable[..., tcphub.TcpServer]
) -> None:
    server = make_server(framing="lines").start()
    peer = connect(server)
    try:
        asyncio.run(_cancelled_before_start(server.astop, how))
        wait_until(lambda: not server.running, what="the server to stop")
        assert read_to_eof(peer) == 0
    finally:
        peer.close()


@pytest.mark.parametrize("how", HOWS)
def test_an_aclose_cancelled_before_it_ran_still_closes(
    how: str, make_server: Callable[..., tcphub.TcpServer]
) -> None:
    server = make_server(framing="lines").start()
    client = tcphub.TcpClient("127.0.0.1", server.port, framing="lines")
    try:
        asyncio.run(_cancelled_before_start(client.aclose, how))
        wait_until(lambda: not client.is_open, timeout=WAIT, what="the client to close")
        wait_until(lambda: server.client_count == 0, what="the server to see it go")
    finally:
        client.close()
