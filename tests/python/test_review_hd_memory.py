"""Review (hd): what the callback thread's holds remember stays bounded by
the clients connected, however often clients are paused and resumed, and
however many come and go (``_holds_sizes()``: live, ending, paused,
resumed and not yet seen by the callback thread, resumed and still paused
in the server)."""

from __future__ import annotations

import threading
from typing import Callable, List

import pytest

import tcphub
from conftest import connect, wait_until


def test_pauses_and_resumes_of_an_idle_client_do_not_pile_up(
        make_server: Callable[..., tcphub.TcpServer]) -> None:
    """A worker pausing and resuming an idle client (a rate limiter's
    tick): nothing comes from it, so the callback thread looks at the
    resumes only with its next event — they must not accumulate until
    then."""
    server = make_server(framing="lines", threads=1)
    connects: List[int] = []
    server.on_connect(lambda c: connects.append(c.id))
    server.on_message(lambda c, d: None)
    server.start()
    a = connect(server)
    wait_until(lambda: len(connects) == 1, what="the connect")
    (ca,) = connects
    for _ in range(20000):
        server.pause_client(ca)
        server.resume_client(ca)
    live, ending, held, resumed, owed = server._holds_sizes()
    assert (live, ending, held, owed) == (1, 0, 0, 0)
    assert resumed <= live, f"{resumed} resumes remembered for {live} client(s)"
    a.close()


def test_clients_that_come_and_go_leave_nothing_behind(
        make_server: Callable[..., tcphub.TcpServer]) -> None:
    """Clients connect, send, are paused by ``on_message`` and resumed
    or kicked while paused; once all have ended the holds track
    nothing (but the last client, connected to look)."""
    server = make_server(framing="lines", threads=2, max_clients=200)
    ends: List[int] = []
    lock = threading.Lock()
    to_resume: List[int] = []

    @server.on_message
    def on_message(client: tcphub.Client, data: bytes) -> None:
        server.pause_client(client)
        if data.endswith(b"r"):
            with lock:
                to_resume.append(client.id)

    @server.on_disconnect
    def on_disconnect(client: tcphub.Client, reason: str) -> None:
        with lock:
            ends.append(client.id)

    server.start()
    rounds, per = 20, 20
    for r in range(rounds):
        socks = [connect(server) for _ in range(per)]
        for i, s in enumerate(socks):
            s.sendall(b"x%d%s\n" % (i, b"r" if i % 2 else b""))
        wait_until(lambda: len(to_resume) >= (r + 1) * per // 2, what="the messages")
        with lock:
            ids = list(to_resume)
        for cid in ids:
            try:
                server.resume_client(cid)
            except tcphub.NoSuchClient:
                pass
        for c in server.clients():  # the others stay paused: kicked
            if c.id not in ids:
                server.disconnect(c)
        for s in socks:
            s.close()
        wait_until(lambda: len(ends) == (r + 1) * per, what="the ends")
    last = connect(server)
    wait_until(lambda: server.client_count == 1, what="the last client")
    last.sendall(b"x\n")  # an event: the callback thread looks at the resumes
    wait_until(lambda: server._holds_sizes()[2] == 1, what="the last message")
    assert server._holds_sizes() == (1, 0, 1, 0, 0)
    last.close()


if __name__ == "__main__":
    pytest.main([__file__, "-v"])
