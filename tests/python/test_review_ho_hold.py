"""Review ho: a pull-mode application's hold of what it took slows the
idle clock also for an event an iterator kept from an earlier batch."""

from __future__ import annotations

import socket
import time
from typing import Callable

import tcphub

from conftest import WAIT, wait_until


def test_a_loop_body_slower_than_the_idle_timeout_answers_a_request_taken_in_a_batch(
    make_server: Callable[..., tcphub.TcpServer],
) -> None:
    """The request comes out of ``events()`` second in a batch (after its
    client's ``Connected``): kept by the iterator, not taken from the
    engine's queue at that step. Working on it for longer than
    ``idle_timeout`` does not get the client cut as idle meanwhile."""
    server = make_server(framing="lines", idle_timeout=2.0)
    server.start()
    with socket.create_connection(("127.0.0.1", server.port), timeout=WAIT) as sock:
        sock.sendall(b"job\n")
        # Both events queued: the iterator takes them in one batch.
        wait_until(lambda: server.pending_events >= 2, what="Connected and the message")
        answered = False
        for ev in server.events(timeout=WAIT):
            if ev.kind == "message":
                time.sleep(5.0)  # the work, well over the idle timeout
                server.send(ev.client.id, b"done")
                answered = True
                break
        assert answered
        assert sock.makefile("rb").readline() == b"done\n"
