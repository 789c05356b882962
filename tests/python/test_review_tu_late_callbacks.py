"""Review tu: the socket tutorial's welcome, ported to Python.

A newcomer greets each client from ``on_connect`` (``server.send_to(c.ip,
c.port, b"welcome")``), as in Rust and C. There the callback runs on the
I/O thread before anything of the client is read, so the client is always
there. Python's callbacks run on the dispatcher thread, after the fact: a
client the engine already cut off (here for a first line over ``max_len``;
likewise one that reset, or one cut as a slow consumer) is gone when its
``on_connect`` runs, and the welcome raises ``NoSuchAddr``. Nothing in the
``on_connect`` / ``on_message`` docs said so; they now do.
"""

from __future__ import annotations

import socket
import threading
from typing import Callable, List

import tcphub

from conftest import WAIT, wait_until


def test_review_tu_on_connect_send_can_find_the_client_gone(
    make_server: Callable[..., tcphub.TcpServer],
) -> None:
    server = make_server(framing="lines", max_len=1024)
    hold = threading.Event()
    outcomes: List[str] = []
    left: List[str] = []

    @server.on_connect
    def joined(c: tcphub.Client) -> None:
        if not outcomes:  # the first client's callback holds the dispatcher back
            hold.wait(WAIT)
        try:
            server.send_to(c.ip, c.port, b"welcome")
            outcomes.append("sent")
        except tcphub.NoSuchClient as e:  # NoSuchAddr is one
            outcomes.append(type(e).__name__)

    @server.on_disconnect
    def gone(c: tcphub.Client, reason: str) -> None:
        left.append(reason)

    server.start()
    first = socket.create_connection(("127.0.0.1", server.port), timeout=WAIT)
    wait_until(lambda: server.stats().accepted == 1, what="first client accepted")
    second = socket.create_connection(("127.0.0.1", server.port), timeout=WAIT)
    try:
        second.sendall(b"x" * 4096 + b"\n")
    except OSError:
        pass  # cut off while still sending
    wait_until(lambda: server.stats().frame_too_large == 1, what="second client cut off")
    hold.set()
    wait_until(lambda: len(outcomes) == 2 and left == ["frame too large"],
               what="both on_connect callbacks and the second one's on_disconnect")
    assert outcomes == ["sent", "NoSuchAddr"]
    first.close()
    second.close()

    # The docs say so, where a newcomer reads them.
    for name in ("on_connect", "on_message"):
        doc = getattr(tcphub.TcpServer, name).__doc__ or ""
        assert "NoSuchClient" in doc and "already" in doc, (name, doc)
