"""Review (h2): a ``resume_client()`` of a client that is not paused is
harmless (the docstring says so, as the core's is) — also from a callback,
while the callback thread hands out events.

Such a resume, made while the callback thread keeps or hands out events,
used to pause the client in the server until the end of the batch (the
pause stood in for the check that the client is there), and the server's
resume then started the client's idle and frame clocks again: a callback
that resumes a client on every message (a "resume whoever is waiting"
pattern) kept an idle client from ever timing out.
"""

from __future__ import annotations

import threading
import time
from typing import Callable, Dict, List

import tcphub
from conftest import WAIT, connect, wait_until


def test_resume_of_unpaused_client_from_callback_leaves_its_idle_clock(
        make_server: Callable[..., tcphub.TcpServer]) -> None:
    server = make_server(framing="lines", threads=1, idle_timeout=1.0)
    ids: List[int] = []
    ended: Dict[int, str] = {}
    handled = [0]
    cond = threading.Condition()
    target: List[int] = []

    def on_connect(c: tcphub.Client) -> None:
        with cond:
            ids.append(c.id)
            cond.notify_all()

    def on_message(c: tcphub.Client, data: bytes) -> None:
        if target:
            try:
                server.resume_client(target[0])  # not paused: harmless
            except tcphub.NoSuchClient:
                pass
        with cond:
            handled[0] += 1
            cond.notify_all()

    def on_disconnect(c: tcphub.Client, why: str) -> None:
        with cond:
            ended[c.id] = why
            cond.notify_all()

    server.on_connect(on_connect)
    server.on_message(on_message)
    server.on_disconnect(on_disconnect)
    server.start()
    idle = connect(server)  # sends nothing
    wait_until(lambda: len(ids) == 1, what="the idle client's connect")
    idle_id = ids[0]
    target.append(idle_id)
    busy = connect(server)
    wait_until(lambda: len(ids) == 2, what="the busy client's connect")
    busy_id = ids[1]
    # The busy client sends a message at a time, each once the previous
    # one was handled, until the idle one is cut (1 s idle) or WAIT runs
    # out. (Should a stall of the machine cut the busy one, the idle one,
    # idle for longer, was cut before it: its end is handed out first.)
    deadline = time.monotonic() + WAIT
    while idle_id not in ended and time.monotonic() < deadline:
        with cond:
            n = handled[0]
        try:
            busy.sendall(b"m\n")
        except OSError:
            break
        with cond:
            cond.wait_for(lambda: handled[0] > n or idle_id in ended or busy_id in ended,
                          timeout=max(0.0, deadline - time.monotonic()))
            if busy_id in ended:
                break
    with cond:
        cond.wait_for(lambda: idle_id in ended or busy_id in ended,
                      timeout=max(0.0, deadline - time.monotonic()))
        why = ended.get(idle_id)
    assert why is not None and "idle" in why, (why, handled[0])
    idle.close()
    busy.close()


def test_resume_of_unpaused_client_from_another_thread_leaves_its_idle_clock(
        make_server: Callable[..., tcphub.TcpServer]) -> None:
    # Another client's messages held: the callback thread keeps events, so
    # a resume from this thread came while it did.
    server = make_server(framing="lines", threads=1, idle_timeout=1.0)
    ids: List[int] = []
    ended: Dict[int, str] = {}
    got: List[bytes] = []

    def on_message(c: tcphub.Client, data: bytes) -> None:
        if data == b"hold":
            server.pause_client(c)
        got.append(data)

    server.on_connect(lambda c: ids.append(c.id))
    server.on_message(on_message)
    server.on_disconnect(lambda c, why: ended.__setitem__(c.id, why))
    server.start()
    held = connect(server)  # paused at once, messages held behind
    wait_until(lambda: len(ids) == 1, what="the held client's connect")
    held.sendall(b"hold\n" + b"kept\n" * 50)
    wait_until(lambda: got == [b"hold"], what="the hold")
    idle = connect(server)  # sends nothing, is never paused
    wait_until(lambda: len(ids) == 2, what="the idle client's connect")
    idle_id = ids[1]
    deadline = time.monotonic() + WAIT
    while idle_id not in ended and time.monotonic() < deadline:
        try:
            server.resume_client(idle_id)  # not paused: harmless
        except tcphub.NoSuchClient:
            break
        # Whatever the resume left owed is settled before the next one.
        wait_until(lambda: server._holds_sizes()[4] == 0, what="nothing owed")
    wait_until(lambda: idle_id in ended, timeout=0.0 + max(0.0, deadline - time.monotonic()),
               what="the idle client's idle timeout")
    assert "idle" in ended[idle_id]
    assert got == [b"hold"]
    idle.close()
    held.close()
