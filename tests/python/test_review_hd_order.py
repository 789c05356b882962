"""Review (hd) of ``pause_client`` / ``pause_input`` with callbacks: a
client's order across the two kinds of hold.

``resume_input`` hands out what input held; a client paused meanwhile keeps
its share aside in a queue of its own. A callback among them that pauses
input again leaves the rest of what input held where it was — then the
same client's later events (its end) must still come after those.

Every case uses one loop and a lines-framed server; the steps are ordered
by waits on ``pending_events`` and on callbacks (an extra client's
``on_connect`` is handed out only after everything queued before it was
taken).
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Callable, List, Tuple

import pytest

import tcphub
from conftest import WAIT, connect, wait_until

Log = List[Tuple[str, int, bytes]]


def of(log: Log, cid: int) -> List[Tuple[str, bytes]]:
    return [(k, d) for (k, c, d) in list(log) if c == cid]


#: What ``on_message`` does after logging: ``act(server, client, data)``.
Act = Callable[[tcphub.TcpServer, tcphub.Client, bytes], None]


class Hub:
    """A started one-loop lines server whose callbacks log every message
    and end (``log``) and note every connect (``connects``). A message
    ``gate`` waits for ``go``, then pauses input — what is sent meanwhile
    queues behind it; after any other message ``act`` runs. With
    ``kick_on_connect`` set, the next ``on_connect`` kicks ``ids[0]`` (a
    kick from a callback)."""

    def __init__(self, make_server: Callable[..., tcphub.TcpServer],
                 act: "Act | None" = None, **kw: object) -> None:
        self.server = server = make_server(framing="lines", threads=1, **kw)
        self.log: Log = []
        self.connects: List[int] = []
        self.ids: List[int] = []
        self.go = threading.Event()
        self.kick_on_connect = threading.Event()

        @server.on_connect
        def on_connect(client: tcphub.Client) -> None:
            self.connects.append(client.id)
            if self.kick_on_connect.is_set():
                self.kick_on_connect.clear()
                server.disconnect(self.ids[0])

        @server.on_message
        def on_message(client: tcphub.Client, data: bytes) -> None:
            self.log.append(("msg", client.id, data))
            if data == b"gate":
                assert self.go.wait(WAIT)
                server.pause_input()
            elif act is not None:
                act(server, client, data)

        @server.on_disconnect
        def on_disconnect(client: tcphub.Client, reason: str) -> None:
            self.log.append(("end", client.id, reason.encode()))

        server.start()

    def two_clients(self) -> Tuple[socket.socket, int, socket.socket, int]:
        """Clients a and b, connected and announced; ``ids`` is ``[a]``."""
        a = connect(self.server)
        wait_until(lambda: len(self.connects) == 1, what="a")
        b = connect(self.server)
        wait_until(lambda: len(self.connects) == 2, what="b")
        ca, cb = self.connects
        self.ids.append(ca)
        return a, ca, b, cb

    def gated(self, b: socket.socket, cb: int) -> None:
        """b sends the gate; waits until its callback has begun."""
        b.sendall(b"gate\n")
        wait_until(lambda: ("msg", b"gate") in of(self.log, cb), what="the gate")

    def announced(self) -> None:
        """Connects one more client and waits for its ``on_connect``:
        everything queued before it was taken by then."""
        n = len(self.connects)
        extra = connect(self.server)
        wait_until(lambda: len(self.connects) > n, what="the extra client's connect")
        extra.close()


@pytest.mark.parametrize("kick_from", ["other thread", "callback"])
def test_an_end_never_overtakes_messages_left_in_the_input_hold(
        make_server: Callable[..., tcphub.TcpServer], kick_from: str) -> None:
    """Input holds a1, a2, b1, a3. At its resume a1's callback pauses its
    own client (a2 goes to the client's queue) and b1's pauses input again
    (a3 stays with input). Client a is then kicked: its end must come after
    a3 (and, kicked by a callback, a3 is not handed out at all)."""
    def act(server: tcphub.TcpServer, client: tcphub.Client, data: bytes) -> None:
        if data == b"a1":
            server.pause_client(client)
        elif data == b"b1":
            server.pause_input()

    hub = Hub(make_server, act)
    server, log, go, announced = hub.server, hub.log, hub.go, hub.announced
    a, ca, b, cb = hub.two_clients()
    hub.gated(b, cb)
    # Queued behind the gate, in this order: a1 a2 b1 a3.
    a.sendall(b"a1\na2\n")
    wait_until(lambda: server.pending_events == 2, what="a1 a2 queued")
    b.sendall(b"b1\n")
    wait_until(lambda: server.pending_events == 3, what="b1 queued")
    a.sendall(b"a3\n")
    wait_until(lambda: server.pending_events == 4, what="a3 queued")
    go.set()
    announced()  # all four held by input now
    assert of(log, ca) == []
    server.resume_input()
    wait_until(lambda: ("msg", b"b1") in of(log, cb), what="b1 (pauses input)")
    announced()  # a1 out, a2 in a's queue, a3 still held by input
    assert of(log, ca) == [("msg", b"a1")]
    if kick_from == "callback":
        hub.kick_on_connect.set()
        announced()
    else:
        server.disconnect(ca)
        wait_until(lambda: server.client(ca) is None, what="a gone")
        announced()
    server.resume_input()
    wait_until(lambda: ("end", b"kicked") in of(log, ca), what="a's end")
    b.sendall(b"mark\n")
    wait_until(lambda: ("msg", b"mark") in of(log, cb), what="the mark")
    mine = of(log, ca)
    assert mine[-1] == ("end", b"kicked"), f"a's end came before its messages: {mine}"
    if kick_from == "callback":
        assert mine == [("msg", b"a1"), ("end", b"kicked")], mine
    else:
        assert mine == [("msg", b"a1"), ("msg", b"a2"), ("msg", b"a3"),
                        ("end", b"kicked")], mine
    a.close()
    b.close()


def test_pause_input_from_a_held_message_handed_out_at_its_clients_end(
        make_server: Callable[..., tcphub.TcpServer]) -> None:
    """Client a, paused, holds h1 h2 h3; it is kicked (from another
    thread), so its end hands them out. h1's callback pauses input: from
    then on no ``on_message`` until ``resume_input()`` — h2, h3 and a's end
    wait for it, in order."""
    def act(server: tcphub.TcpServer, client: tcphub.Client, data: bytes) -> None:
        if data == b"busy":
            server.pause_client(client)
        elif data == b"h1":
            server.pause_input()

    hub = Hub(make_server, act)
    server, log = hub.server, hub.log
    a, ca, b, cb = hub.two_clients()
    a.sendall(b"busy\nh1\nh2\nh3\n")
    wait_until(lambda: ("msg", b"busy") in of(log, ca), what="busy")
    b.sendall(b"mark\n")  # after a's held messages: taken once they are
    wait_until(lambda: ("msg", b"mark") in of(log, cb), what="the mark")
    assert of(log, ca) == [("msg", b"busy")]
    server.disconnect(ca)
    wait_until(lambda: ("msg", b"h1") in of(log, ca), what="h1 (pauses input)")
    hub.announced()
    assert of(log, ca) == [("msg", b"busy"), ("msg", b"h1")], \
        "on_message called after pause_input() returned"
    server.resume_input()
    wait_until(lambda: ("end", b"kicked") in of(log, ca), what="a's end")
    assert of(log, ca) == [("msg", b"busy"), ("msg", b"h1"), ("msg", b"h2"),
                           ("msg", b"h3"), ("end", b"kicked")]
    a.close()
    b.close()


def test_a_kick_from_a_callback_drops_what_input_holds_of_a_half_closed_client(
        make_server: Callable[..., tcphub.TcpServer]) -> None:
    """``hold_for_replies``: client a sends a1 and half-closes; input is
    paused with a1 and a's end queued, so both are held. A callback kicks
    a (still held open for replies): as for any kick from a callback, the
    rest of what a sent (a1) is not handed to ``on_message``; its end
    still comes."""
    hub = Hub(make_server, hold_for_replies=60.0)
    server, log, go, announced = hub.server, hub.log, hub.go, hub.announced
    kick_on_connect = hub.kick_on_connect
    a, ca, b, cb = hub.two_clients()
    hub.gated(b, cb)
    a.sendall(b"a1\n")
    a.shutdown(socket.SHUT_WR)
    wait_until(lambda: server.pending_events == 2, what="a1 and a's end queued")
    go.set()
    announced()  # a1 and a's end held by input
    assert of(log, ca) == []
    kick_on_connect.set()
    announced()  # the kick, from a callback
    assert not kick_on_connect.is_set()
    server.resume_input()
    wait_until(lambda: any(k == "end" for (k, _) in of(log, ca)), what="a's end")
    assert of(log, ca) == [("end", b"closed by peer")], of(log, ca)
    a.close()
    b.close()


def test_a_held_end_starts_the_reply_window_only_when_handed_out(
        make_server: Callable[..., tcphub.TcpServer]) -> None:
    """``hold_for_replies``: a half-closed client's end waits behind its
    message while input is paused, for longer than the window; its window
    runs from the hand-out, so the reply made at the resume still goes."""
    window = 0.3
    def act(server: tcphub.TcpServer, client: tcphub.Client, data: bytes) -> None:
        server.send(client, b"re " + data)

    hub = Hub(make_server, act, hold_for_replies=window)
    server, log = hub.server, hub.log
    a, ca, b, cb = hub.two_clients()
    hub.gated(b, cb)
    a.sendall(b"q1\n")
    a.shutdown(socket.SHUT_WR)
    wait_until(lambda: server.pending_events == 2, what="q1 and a's end queued")
    hub.go.set()
    hub.announced()
    assert of(log, ca) == []
    time.sleep(3 * window)  # (not a wait for anything: the window would pass)
    server.resume_input()
    a.settimeout(WAIT)
    got = b""
    while not got.endswith(b"\n"):
        chunk = a.recv(100)
        assert chunk, f"a closed before its reply: {got!r}"
        got += chunk
    assert got == b"re q1\n"
    wait_until(lambda: ("end", b"closed by peer") in of(log, ca), what="a's end")
    a.close()
    b.close()


if __name__ == "__main__":
    pytest.main([__file__, "-v"])
