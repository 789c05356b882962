"""Review (h2): a resume that comes while the callback thread keeps events
(another client's held messages) is owed: the client (or input) stays
paused in the server until the callback thread handed out what it kept
of it, then that thread resumes it — from its wait, woken by the resume,
not after a second's timeout or never. Also: ``input_paused`` answers
``False`` from the resume on, and an owed client that is kicked or ends
leaves nothing owed behind.
"""

from __future__ import annotations

import threading
from typing import Callable, Dict, List, Tuple

import tcphub
from conftest import connect, wait_until


class Log:
    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.ids: List[int] = []
        self.msgs: List[Tuple[int, bytes]] = []
        self.ended: Dict[int, str] = {}

    def of(self, cid: int) -> List[bytes]:
        with self.cond:
            return [d for c, d in self.msgs if c == cid]


def setup(make_server: Callable[..., tcphub.TcpServer],
          act: Callable[[tcphub.TcpServer, tcphub.Client, bytes], None]
          ) -> Tuple[tcphub.TcpServer, Log]:
    server = make_server(framing="lines", threads=1)
    log = Log()

    def on_connect(c: tcphub.Client) -> None:
        with log.cond:
            log.ids.append(c.id)

    def on_message(c: tcphub.Client, data: bytes) -> None:
        act(server, c, data)
        with log.cond:
            log.msgs.append((c.id, data))

    def on_disconnect(c: tcphub.Client, why: str) -> None:
        with log.cond:
            log.ended[c.id] = why

    server.on_connect(on_connect)
    server.on_message(on_message)
    server.on_disconnect(on_disconnect)
    server.start()
    return server, log


def act(server: tcphub.TcpServer, c: tcphub.Client, data: bytes) -> None:
    if data == b"hold":
        server.pause_client(c)
    elif data == b"pin":
        server.pause_input()


def held_other(server: tcphub.TcpServer, log: Log):
    """A client paused with messages held behind, never resumed: the
    callback thread keeps events from now on."""
    y = connect(server)
    wait_until(lambda: len(log.ids) == 1, what="connect")
    y.sendall(b"hold\n" + b"kept\n" * 50)
    wait_until(lambda: log.of(log.ids[0]) == [b"hold"], what="the hold")
    return y


def test_owed_client_resumed_while_another_is_held(
        make_server: Callable[..., tcphub.TcpServer]) -> None:
    server, log = setup(make_server, act)
    y = held_other(server, log)
    x = connect(server)
    wait_until(lambda: len(log.ids) == 2, what="connect")
    xid = log.ids[1]
    x.sendall(b"hold\nb\n")
    wait_until(lambda: log.of(xid)[:1] == [b"hold"], what="x's hold")
    for i in range(20):
        server.resume_client(xid)
        wait_until(lambda: server._holds_sizes()[4] == 0, what="the owed resume")
        x.sendall(b"hold\nm%d\n" % i)
        wait_until(lambda: log.of(xid)[-1:] == [b"hold"] and len(log.of(xid)) == 2 * i + 3,
                   what=f"round {i}: x read again after the resume")
    assert log.of(log.ids[0]) == [b"hold"]
    x.close()
    y.close()


def test_input_owed_resumed_while_a_client_is_held(
        make_server: Callable[..., tcphub.TcpServer]) -> None:
    server, log = setup(make_server, act)
    y = held_other(server, log)
    x = connect(server)
    wait_until(lambda: len(log.ids) == 2, what="connect")
    xid = log.ids[1]
    for i in range(20):
        x.sendall(b"pin\nm%d\n" % i)
        wait_until(lambda: len(log.of(xid)) == 2 * i + 1, what="the pin")
        assert server.input_paused
        server.resume_input()
        assert not server.input_paused
        wait_until(lambda: len(log.of(xid)) == 2 * i + 2, what=f"round {i}: input read again")
    x.close()
    y.close()


def test_owed_client_kicked_or_ending_leaves_nothing_owed(
        make_server: Callable[..., tcphub.TcpServer]) -> None:
    server, log = setup(make_server, act)
    y = held_other(server, log)
    for n in range(10):
        x = connect(server)
        wait_until(lambda: len(log.ids) == n + 2, what="connect")
        xid = log.ids[-1]
        x.sendall(b"hold\nb\n")
        wait_until(lambda: log.of(xid)[:1] == [b"hold"], what="x's hold")
        server.resume_client(xid)
        if n % 2:
            server.disconnect(xid)
        else:
            x.close()
        wait_until(lambda: xid in log.ended, what="x's end")
        wait_until(lambda: server._holds_sizes()[4] == 0, what="nothing owed")
        x.close()
    assert log.of(log.ids[0]) == [b"hold"]
    y.close()
