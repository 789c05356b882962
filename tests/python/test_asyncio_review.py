"""Found by an asyncio review: a busy iteration starved the event loop, a
timed-out ``anext()`` ended the iteration for good, and Ctrl-C during
``aclose()`` or ``astop()`` left the exit waiting for the whole linger."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import threading
import time
from typing import Any, AsyncIterator, Callable

import pytest
import tcphub

from conftest import WAIT, connect, wait_until


def _flood(send: Callable[[], Any], done: threading.Event) -> threading.Thread:
    """A thread calling ``send`` until ``done`` is set (or WAIT passed)."""

    def run() -> None:
        end = time.monotonic() + WAIT
        while not done.is_set() and time.monotonic() < end:
            try:
                send()
            except (tcphub.QueueFull, TimeoutError):  # (full: the test goes on)
                time.sleep(0.001)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


async def _consume(it: AsyncIterator[Any]) -> None:
    async for _ in it:
        pass


def _timeout_fires_under_a_flood(it: AsyncIterator[Any]) -> float:
    """Seconds until ``wait_for(consume, 0.3)`` fires while messages keep
    coming: it never did while the flood lasted (no await suspended)."""

    async def main() -> float:
        t0 = time.monotonic()
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(_consume(it), 0.3)
        return time.monotonic() - t0

    return asyncio.run(main())


def test_async_for_over_a_flooded_client_lets_the_loop_run(echo_server: tcphub.TcpServer) -> None:
    client = tcphub.TcpClient("127.0.0.1", echo_server.port, framing="lines")
    done = threading.Event()
    flood = _flood(lambda: client.send(b"x" * 16), done)
    try:
        wait_until(lambda: echo_server.stats().msgs_out > 10_000, what="echoes on their way")
        took = _timeout_fires_under_a_flood(client.__aiter__())
    finally:
        done.set()
        flood.join(WAIT)
        client.close()
    assert took < WAIT / 2, took


def test_aevents_of_a_flooded_server_lets_the_loop_run(make_server: Callable[..., tcphub.TcpServer]) -> None:
    server = make_server(framing="lines").start()
    sock = connect(server)
    # Short sends: once the held-up server stops reading, a blocked
    # sendall would hold the flood thread (and its join) for WAIT.
    sock.settimeout(0.05)
    done = threading.Event()
    flood = _flood(lambda: sock.sendall(b"y\n" * 64), done)
    try:
        wait_until(lambda: server.pending_events > 1_000, what="events queued")
        took = _timeout_fires_under_a_flood(server.aevents())
    finally:
        done.set()
        flood.join(WAIT)
        sock.close()
    assert took < WAIT / 2, took


def test_a_timed_out_anext_does_not_end_the_iteration(make_server: Callable[..., tcphub.TcpServer]) -> None:
    # Async generators: the timeout's cancellation finished them, and the
    # next anext() raised StopAsyncIteration while the server ran and the
    # client was open.
    server = make_server(framing="lines").start()
    client = tcphub.TcpClient("127.0.0.1", server.port, framing="lines")

    async def main() -> None:
        events = server.aevents()
        first = await asyncio.wait_for(events.__anext__(), WAIT)
        assert first.kind == "connect"
        messages = client.__aiter__()
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(messages.__anext__(), 0.05)
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(events.__anext__(), 0.05)
        client.send(b"hello")
        ev = await asyncio.wait_for(events.__anext__(), WAIT)
        assert ev.kind == "message" and ev.data == b"hello"
        server.send(ev.client.id, b"back")
        assert await asyncio.wait_for(messages.__anext__(), WAIT) == b"back"

    try:
        asyncio.run(main())
    finally:
        client.close()


_CTRL_C_DURING = """
import asyncio, os, signal, socket, sys, time
import tcphub

lst = socket.create_server(("127.0.0.1", 0))
# The peers' receive buffers are small (the accepted socket inherits the
# listener's): left to the kernel, a receive buffer may start at tcp_rmem's
# default, which a host may set to 32 MiB, and the whole 16 MiB then queued was
# flushed into it before Ctrl-C came ("returned", not "interrupted").
lst.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
WHAT = sys.argv[1]
kept = []  # the peers, open (not reading) until the process ends

def non_reader(port):
    peer = socket.socket()
    peer.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    peer.connect(("127.0.0.1", port))
    return peer

async def main():
    if WHAT == "astop":
        server = tcphub.TcpServer(0, 10, bind="127.0.0.1", linger=600.0,
                                  max_queue_bytes=64 << 20).start()
        kept.append(non_reader(server.port))
        while server.client_count < 1:
            await asyncio.sleep(0.01)
        for _ in range(32):  # past the server's send buffer, which may grow to 16 MiB
            server.send_all(b"x" * (1 << 20))
        closing = server.astop()
        if WHAT == "astop_in_async_with":
            async def in_block():
                async with server:
                    await server.astop()
            closing = in_block()
    else:
        client = await tcphub.TcpClient.aconnect("127.0.0.1", lst.getsockname()[1],
                                                 linger=600.0, max_queue_bytes=64 << 20)
        kept.append(lst.accept()[0])
        for _ in range(32):
            client.send(b"y" * (1 << 20))
        closing = client.aclose()
        if WHAT == "aclose_in_async_with":
            async def in_block():
                async with client:
                    await client.aclose()
            closing = in_block()
    asyncio.get_running_loop().call_later(0.5, os.kill, os.getpid(), signal.SIGINT)
    print("waiting", flush=True)
    await closing
    print("returned", flush=True)

try:
    asyncio.run(main())
except KeyboardInterrupt:
    print("interrupted", flush=True)
"""


@pytest.mark.parametrize("what", ["aclose", "astop", "aclose_in_async_with", "astop_in_async_with"])
def test_ctrl_c_during_an_await_of_the_flush_lets_the_program_leave(what: str) -> None:
    # The flush ran on a helper thread that Ctrl-C does not reach, and the
    # exit joined it: the whole 600 s linger (killed after WAIT here). In
    # an `async with`, its exit then began a second wait for the flush,
    # which nothing cancelled (a review of the first fix).
    if sys.platform == "win32":
        pytest.skip("SIGINT")
    t0 = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_CTRL_C_DURING), what],
        capture_output=True,
        text=True,
        timeout=WAIT * 2,
    )
    took = time.monotonic() - t0
    assert proc.stdout.split() == ["waiting", "interrupted"], proc.stderr
    assert proc.returncode == 0, proc.stderr
    assert took < WAIT, took


def test_awaits_that_time_out_leave_nothing_on_the_descriptor_wait(make_server: Callable[..., tcphub.TcpServer]) -> None:
    # The wait on a client's descriptor lives while anyone waits on it (one
    # task parked in arecv() here): each await that timed out must take its
    # future away (the helper-thread wait before it left its wake-up, ~0.5
    # MB a second for a poll loop: a review of that change).
    from tcphub import _runtime

    server = make_server(framing="lines").start()
    client = tcphub.TcpClient("127.0.0.1", server.port, framing="lines")

    async def main() -> int:
        parked = asyncio.ensure_future(client.arecv())
        for _ in range(300):
            with pytest.raises(tcphub.Timeout):
                await client.arecv(timeout=0.001)
        wait = _runtime._fd_waits[client][asyncio.get_running_loop()]
        left = len(wait.waiters)
        parked.cancel()
        return left

    try:
        assert asyncio.run(main()) <= 1  # the parked one's
    finally:
        client.close()
