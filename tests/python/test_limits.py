"""Server limits from Python: frame_timeout (slowloris defence), idle_timeout."""

from __future__ import annotations

import socket
from typing import Callable, List

import tcphub

from conftest import WAIT, wait_until


def test_frame_timeout_cuts_an_unfinished_frame(
    make_server: Callable[..., tcphub.TcpServer],
) -> None:
    server = make_server(framing="lines", frame_timeout=0.3)
    reasons: List[str] = []

    @server.on_disconnect
    def left(client: tcphub.Client, reason: str) -> None:
        reasons.append(reason)

    server.start()
    with socket.create_connection(("127.0.0.1", server.port), timeout=WAIT) as sock:
        sock.sendall(b"a line that never ends")
        wait_until(lambda: len(reasons) == 1, what="the frame timeout")
        assert sock.recv(16) == b""  # the server closed the connection
    assert reasons == ["frame not finished in time"]
    assert server.stats().frame_timeouts == 1
    assert server.stats().as_dict()["frame_timeouts"] == 1


def test_idle_timeout_cuts_a_silent_client(make_server: Callable[..., tcphub.TcpServer]) -> None:
    server = make_server(framing="lines", idle_timeout=0.3)
    events = server.start().events(timeout=WAIT)
    with socket.create_connection(("127.0.0.1", server.port), timeout=WAIT):
        kinds = [next(events).kind, next(events).kind]
    assert kinds == ["connect", "disconnect"]
    assert server.stats().idle_timeouts == 1
