"""Review "cn" (asyncio): a client or server dropped open on an event
loop's thread — a task cancelled while it held one outside ``async with``,
the usual way — does not hold the loop for the flush (up to ``linger``):
the flush goes on in the background, as a drop inside a callback does,
and still completes."""

from __future__ import annotations

import asyncio
import gc
import socket
import time
from typing import Any, Callable, List

import pytest

import tcphub

from conftest import WAIT, read_to_eof, wait_until

#: 32 MiB queued (more than the kernel's buffers hold) to a peer that
#: reads nothing until the loop has ended.
CHUNK, COUNT = 1 << 20, 32


def _slow_peer_listener() -> socket.socket:
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(1)
    return lst


async def _ticks_during(drop: Callable[[], None]) -> float:
    """How long ``drop()`` and the next few turns of the loop (where what
    the last await left referenced goes) held the loop (seconds)."""
    t0 = time.monotonic()
    drop()
    for _ in range(3):
        await asyncio.sleep(0)
        gc.collect()
    return time.monotonic() - t0


def test_a_client_dropped_open_on_the_loop_does_not_hold_it_for_the_flush() -> None:
    # Before: the drop flushed on the loop's thread, for up to linger (WAIT
    # here: the loop stood still that long, ~2 s with the default linger).
    with _slow_peer_listener() as lst:
        conns: List[socket.socket] = []

        async def main() -> float:
            client = await tcphub.TcpClient.aconnect(
                "127.0.0.1", lst.getsockname()[1], framing="length", linger=WAIT,
                max_queue_bytes=COUNT * CHUNK * 2,
            )
            conn, _ = lst.accept()
            conns.append(conn)
            for _ in range(COUNT):
                client.send(b"x" * CHUNK)
            holder: List[Any] = [client]
            del client

            def drop() -> None:
                holder.clear()
                gc.collect()

            return await _ticks_during(drop)

        held = asyncio.run(main())
        try:
            assert held < WAIT / 3, f"the drop held the event loop {held:.1f} s"
            # The flush went on in the background: everything arrives.
            assert read_to_eof(conns[0]) == COUNT * (CHUNK + 4)
        finally:
            for c in conns:
                c.close()


def test_a_server_dropped_running_on_the_loop_does_not_hold_it_for_the_flush() -> None:
    reader = socket.socket()

    async def main() -> float:
        server = tcphub.TcpServer(0, 10, bind="127.0.0.1", framing="length", linger=WAIT,
                                  max_queue_bytes=COUNT * CHUNK * 2).start()
        reader.connect(("127.0.0.1", server.port))
        wait_until(lambda: server.client_count == 1, what="the client")
        (cid,) = server.clients()
        for _ in range(COUNT):
            server.send(cid, b"x" * CHUNK)
        holder: List[Any] = [server]
        del server

        def drop() -> None:
            holder.clear()
            gc.collect()

        return await _ticks_during(drop)

    try:
        held = asyncio.run(main())
        assert held < WAIT / 3, f"the drop held the event loop {held:.1f} s"
        assert read_to_eof(reader) == COUNT * (CHUNK + 4)
    finally:
        reader.close()


@pytest.mark.parametrize("what", ["client", "server"])
def test_off_the_loop_a_dropped_object_still_flushes(what: str) -> None:
    # Off any loop the drop is as before (the dropping thread waits, as
    # documented); what was queued arrives either way.
    reader = socket.socket()
    with _slow_peer_listener() as lst:
        if what == "client":
            obj: Any = tcphub.TcpClient("127.0.0.1", lst.getsockname()[1], framing="length",
                                        linger=WAIT)
            peer, _ = lst.accept()
            obj.send(b"y" * 1000)
        else:
            obj = tcphub.TcpServer(0, 10, bind="127.0.0.1", framing="length", linger=WAIT).start()
            reader.connect(("127.0.0.1", obj.port))
            wait_until(lambda: obj.client_count == 1, what="the client")
            obj.send(obj.clients()[0], b"y" * 1000)
            peer = reader
        del obj
        gc.collect()
        try:
            assert read_to_eof(peer) == 1004
        finally:
            peer.close()
            reader.close()
