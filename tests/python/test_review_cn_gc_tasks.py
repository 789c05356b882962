"""Review "cn" (asyncio cancellation safety): a task waiting in
``aevents()``, ``async for`` over a client or ``arecv()`` is kept alive
by what it waits for, as a task waiting in asyncio's own ``sock_recv()``
or a ``StreamReader`` is — whether or not the application kept a
reference to it."""

from __future__ import annotations

import asyncio
import gc
import socket
from typing import Any, Callable, Dict, List

import pytest

import tcphub

from conftest import WAIT, connect


async def _until(pred: Callable[[], bool], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    while not pred():
        if loop.time() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)


def _run_recording(main: Callable[[], Any]) -> List[Dict[str, Any]]:
    """Runs ``main()`` on a new loop; what reached the loop's exception
    handler ("Task was destroyed but it is pending!" among them)."""
    errors: List[Dict[str, Any]] = []

    async def wrapped() -> None:
        asyncio.get_running_loop().set_exception_handler(lambda _loop, ctx: errors.append(ctx))
        await main()

    asyncio.run(wrapped())
    return errors


@pytest.mark.parametrize("how", ["aevents", "async_for", "arecv"])
def test_a_waiting_task_nobody_references_survives_a_collection(
    how: str, make_server: Callable[..., tcphub.TcpServer]
) -> None:
    # Before: the futures of the descriptor wait were held weakly only, so
    # a task waiting there (fire and forget, a common pattern) was a cycle
    # of garbage: gc.collect() destroyed it ("Task was destroyed but it is
    # pending!") and what came next was never consumed.
    server = make_server(framing="lines").start()
    seen: List[Any] = []
    peer: List[socket.socket] = []

    async def main() -> None:
        if how == "aevents":

            async def consume() -> None:
                async for ev in server.aevents():
                    if ev.kind == "message":
                        seen.append(ev.data)

            asyncio.ensure_future(consume())  # no reference kept
            await asyncio.sleep(0.05)  # (only so that it waits; not needed for the check)
            gc.collect()
            peer.append(connect(server))
            peer[0].sendall(b"hello\n")
        else:
            client = await tcphub.TcpClient.aconnect("127.0.0.1", server.port, framing="lines")

            async def consume() -> None:
                if how == "async_for":
                    async for m in client:
                        seen.append(m)
                else:
                    seen.append(await client.arecv())

            asyncio.ensure_future(consume())  # no reference kept
            await asyncio.sleep(0.05)
            gc.collect()
            (cid,) = server.clients()
            server.send(cid, b"hello")
        try:
            await _until(lambda: seen == [b"hello"], "the unreferenced task to take the message")
        finally:
            for s in peer:
                s.close()
            if how != "aevents":
                await client.aclose()
            await server.astop()

    errors = _run_recording(main)
    assert [e.get("message") for e in errors] == []
