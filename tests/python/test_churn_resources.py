"""Long-run resource bounds, in short: after a warm-up, a few hundred
cycles of churn through the binding leave the gc-tracked objects, the
allocated blocks, the open descriptors and the threads where they were, and
free every message payload once its callback or event is done with it.

The long runs behind it (20,000+ cycles of each shape, C and Python,
sampling RSS, malloc'd bytes, descriptors and threads) are in
RELIABILITY.md; this keeps the cheap part of them in the suite. A leak of
one object, block or descriptor per cycle would break a bound by several
times; the slack covers caches that fill once and the interpreter's own
bookkeeping, never a rate.
"""

from __future__ import annotations

import gc
import os
import socket
import sys
import threading
from typing import Callable, Dict, List

import pytest

import tcphub

from conftest import WAIT, LineReader, connect, wait_until

pytestmark = pytest.mark.skipif(
    not os.path.isdir("/proc/self/task"), reason="counts threads and fds in /proc"
)

#: Cycles measured, after WARM cycles that fill caches and freelists.
CYCLES = 300
WARM = 50


def _counts() -> Dict[str, int]:
    gc.collect()
    return {
        "objects": len(gc.get_objects()),
        "blocks": sys.getallocatedblocks(),
        "fds": len(os.listdir("/proc/self/fd")),
        "threads": len(os.listdir("/proc/self/task")),
    }


def assert_no_growth(
    cycle: Callable[[int], None],
    cycles: int = CYCLES,
    max_blocks: int = CYCLES // 3,
    windows: int = 3,
) -> None:
    """Runs ``cycle`` WARM times, then ``cycles`` times; the counts after are
    those before, within a constant (threads and fds once the last ones
    have ended; ``max_blocks`` allocated blocks). A window of ``cycles``
    that grew more is followed by another, up to ``windows``: a leak grows
    every window by ``cycles`` or more, while a cache that fills once, or
    the interpreter's own noise, does not come back each time (CPython
    3.13 grew 76-191 blocks in some windows of 300 client cycles, review
    wn)."""
    for i in range(WARM):
        cycle(i)
    done = WARM
    seen = []
    for _ in range(windows):
        before = _counts()
        for i in range(cycles):
            cycle(done + i)
        done += cycles

        def settled() -> bool:
            now = _counts()
            return now["threads"] <= before["threads"] and now["fds"] <= before["fds"]

        wait_until(settled, what="threads and descriptors back to where they were")
        after = _counts()
        grew = {k: after[k] - before[k] for k in before}
        # A leak of one per cycle would be ``cycles``. Measured: |growth| <= 16
        # objects and <= 10 blocks, but 190-360 blocks in 900 start/stop cycles
        # (~300 in 3,000, then flat over 40,000: something non-gc allocated
        # under start() that fills once, ~20 KB; not identified).
        if grew["objects"] < 40 and grew["blocks"] < max_blocks:
            return
        seen.append(grew)
    raise AssertionError(f"grew in each of {windows} windows of {cycles} cycles: {seen}")


def test_callback_churn_leaves_nothing_behind() -> None:
    server = tcphub.TcpServer(0, bind="127.0.0.1", framing="lines")
    seen: Dict[str, int] = {"connect": 0, "disconnect": 0}

    @server.on_connect
    def joined(client: tcphub.Client) -> None:
        seen["connect"] += 1

    @server.on_message
    def echo(client: tcphub.Client, data: bytes) -> None:
        server.send(client, data)
        if len(data) % 2:
            raise ValueError("a callback that raises (on_error takes it)")

    @server.on_disconnect
    def left(client: tcphub.Client, reason: str) -> None:
        seen["disconnect"] += 1

    errors: List[int] = []

    @server.on_error
    def on_error(exc: BaseException, event: tcphub.Event) -> None:
        errors.append(1)

    refs = {f.__name__: sys.getrefcount(f) for f in (joined, echo, left)}

    def cycle(i: int) -> None:
        s = connect(server)
        line = b"m" * (i % 7 + 1)
        s.sendall(line + b"\n")
        assert LineReader(s).line() == line
        s.close()

    with server:
        assert_no_growth(cycle)
        wait_until(lambda: seen["disconnect"] == WARM + CYCLES, what="every disconnect")
    assert seen["connect"] == WARM + CYCLES
    assert len(errors) == sum(1 for i in range(WARM + CYCLES) if (i % 7 + 1) % 2)
    assert {f.__name__: sys.getrefcount(f) for f in (joined, echo, left)} == refs


def test_pull_churn_leaves_nothing_behind() -> None:
    server = tcphub.TcpServer(0, bind="127.0.0.1", framing="lines").start()

    def take(kind: str) -> None:
        while True:
            events = server.poll(4, timeout=WAIT)
            assert events, f"no {kind} event"
            for ev in events:
                if ev.kind == "message":
                    server.send(ev.client, ev.data or b"")
            if any(ev.kind == kind for ev in events):
                return

    def cycle(i: int) -> None:
        s = connect(server)
        s.sendall(b"pull %d\n" % i)
        take("message")
        assert LineReader(s).line() == b"pull %d" % i
        s.close()
        take("disconnect")

    try:
        assert_no_growth(cycle)
    finally:
        server.stop()


def test_client_churn_leaves_nothing_behind() -> None:
    server = tcphub.TcpServer(0, bind="127.0.0.1", framing="lines")

    @server.on_message
    def echo(client: tcphub.Client, data: bytes) -> None:
        server.send(client, data)

    def cycle(i: int) -> None:
        c = tcphub.TcpClient("127.0.0.1", server.port, framing="lines")
        c.send(b"c%d" % i)
        assert c.recv(timeout=WAIT) == b"c%d" % i
        if i % 2:
            c.close()  # else dropped unclosed: the drop closes it
        with pytest.raises(ConnectionRefusedError):
            tcphub.TcpClient("127.0.0.1", refused)

    # Bound, not listening: connects are refused (a port merely unused
    # could be picked as a connect's own port, which then connects to itself).
    with socket.socket() as held, server:
        held.bind(("127.0.0.1", 0))
        refused = held.getsockname()[1]
        assert_no_growth(cycle)


def test_servers_started_and_stopped_leave_nothing_behind() -> None:
    # Half of them with callbacks that refer back to the server (a cycle
    # the collector breaks through __traverse__/__clear__ once stopped).
    import weakref

    alive: "weakref.WeakSet[tcphub.TcpServer]" = weakref.WeakSet()

    def cycle(i: int) -> None:
        server = tcphub.TcpServer(0, bind="127.0.0.1", framing="lines", threads=1)
        if i % 2:

            @server.on_message
            def echo(client: tcphub.Client, data: bytes) -> None:
                server.send(client, data)

        server.start()
        alive.add(server)
        if i % 4 == 1:
            s = connect(server)
            s.sendall(b"x\n")
            assert LineReader(s).line() == b"x"
            s.close()
        server.stop()

    assert_no_growth(cycle, cycles=3 * CYCLES, max_blocks=2 * CYCLES)
    gc.collect()
    assert len(alive) == 0


def test_payloads_are_freed_after_their_callback_and_event() -> None:
    # A payload kept by the application has no other reference once its
    # callback returned (or its event was dropped): its count is that of a
    # copy held the same way.
    server = tcphub.TcpServer(0, bind="127.0.0.1", framing="lines")
    kept: List[bytes] = []
    copies: List[bytes] = []
    done = threading.Event()

    @server.on_message
    def keep(client: tcphub.Client, data: bytes) -> None:
        kept.append(data)
        copies.append(bytes(bytearray(data)))
        if len(kept) == 20:
            done.set()

    with server:
        s = connect(server)
        s.sendall(b"".join(b"payload %d\n" % i for i in range(20)))
        assert done.wait(WAIT)
        s.close()
    assert [sys.getrefcount(d) for d in kept] == [sys.getrefcount(c) for c in copies]

    pull = tcphub.TcpServer(0, bind="127.0.0.1", framing="lines").start()
    try:
        s = connect(pull)
        s.sendall(b"pulled\n")
        datas: List[bytes] = []
        while not datas:
            for ev in pull.poll(4, timeout=WAIT):
                if ev.data is not None:
                    datas.append(ev.data)
        del ev
        holder = [bytes(bytearray(datas[0]))]
        assert sys.getrefcount(datas[0]) == sys.getrefcount(holder[0])
        s.close()
    finally:
        pull.stop()
