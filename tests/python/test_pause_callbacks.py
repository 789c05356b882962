"""``pause_client`` and ``pause_input`` with callbacks: from the call on,
the callbacks get no more messages of the paused client (or of anyone) —
also not those read before and waiting for the callback thread — until the
resume, which hands those out first, in order. A client's end
(``on_disconnect``) comes after its messages.

Every case uses one loop and a lines-framed server. "Nothing more came" is
checked against a later event: a second client's message, sent after the
pause was seen, is handed out only once everything queued before it was.
"""

from __future__ import annotations

import queue
import socket
import struct
import threading
from typing import Callable, List, Tuple

import pytest

import tcphub
from conftest import WAIT, connect, wait_until

Log = List[Tuple[str, int, bytes]]


#: What a test's ``on_message`` does after logging: ``act(server, client, data)``.
Act = Callable[[tcphub.TcpServer, tcphub.Client, bytes], None]


def logged(make_server: Callable[..., tcphub.TcpServer], log: Log, act: Act,
           connects: "List[int] | None" = None) -> tcphub.TcpServer:
    """A started one-loop lines server whose callbacks log (all on the one
    callback thread): every message, then ``act``; every end, its reason as
    data; and, given ``connects``, every connect's id."""
    server = make_server(framing="lines", threads=1)
    if connects is not None:
        noted = connects

        @server.on_connect
        def on_connect(client: tcphub.Client) -> None:
            noted.append(client.id)

    @server.on_message
    def on_message(client: tcphub.Client, data: bytes) -> None:
        log.append(("msg", client.id, data))
        act(server, client, data)

    @server.on_disconnect
    def on_disconnect(client: tcphub.Client, reason: str) -> None:
        log.append(("end", client.id, reason.encode()))

    return server.start()


def pause_client_on(word: bytes) -> Act:
    """Pauses the client that sent ``word``."""
    def act(server: tcphub.TcpServer, client: tcphub.Client, data: bytes) -> None:
        if data == word:
            server.pause_client(client)
    return act


def pause_input_on(word: bytes) -> Act:
    """Pauses input at ``word``."""
    def act(server: tcphub.TcpServer, client: tcphub.Client, data: bytes) -> None:
        if data == word:
            server.pause_input()
    return act


def of(log: Log, cid: int) -> List[bytes]:
    """The messages of client ``cid`` handed out so far, in order."""
    return [d for (k, c, d) in list(log) if k == "msg" and c == cid]


def seen(log: Log, cid: int, data: bytes) -> bool:
    return data in of(log, cid)


def two_clients(server: tcphub.TcpServer) -> Tuple[socket.socket, int, socket.socket, int]:
    a = connect(server)
    wait_until(lambda: server.client_count == 1, what="a")
    (ca,) = server.clients()
    b = connect(server)
    wait_until(lambda: server.client_count == 2, what="b")
    cb = next(c for c in server.clients() if c.id != ca.id)
    return a, ca.id, b, cb.id


def mark(b: socket.socket, cb: int, log: Log, n: int) -> None:
    """Client ``b`` sends ``mark<n>``; waits until it is handed out, so
    everything queued before it was."""
    b.sendall(b"mark%d\n" % n)
    wait_until(lambda: seen(log, cb, b"mark%d" % n), what=f"mark{n}")


def test_queued_messages_wait_for_the_resume(make_server: Callable[..., tcphub.TcpServer]) -> None:
    log: Log = []
    server = logged(make_server, log, pause_client_on(b"busy"))
    a, ca, b, cb = two_clients(server)
    # One write: the rest is read with "busy" and queued behind it.
    a.sendall(b"busy\n" + b"".join(b"a%d\n" % i for i in range(100)))
    wait_until(lambda: seen(log, ca, b"busy"), what="busy")
    mark(b, cb, log, 1)
    assert of(log, ca) == [b"busy"], "messages queued behind the pause were handed out"
    server.resume_client(ca)
    wait_until(lambda: len(of(log, ca)) == 101, what="the held messages")
    assert of(log, ca) == [b"busy"] + [b"a%d" % i for i in range(100)]
    a.sendall(b"after\n")
    wait_until(lambda: seen(log, ca, b"after"), what="a message after the resume")
    assert of(log, ca)[-1] == b"after"
    a.close()
    b.close()


def test_a_callback_that_pauses_every_message_gets_one_per_resume(
        make_server: Callable[..., tcphub.TcpServer]) -> None:
    server = make_server(framing="lines", threads=1)
    got: List[bytes] = []
    turn = threading.Semaphore(0)

    @server.on_message
    def on_message(client: tcphub.Client, data: bytes) -> None:
        got.append(data)
        server.pause_client(client)  # one at a time: a worker resumes
        turn.release()

    server.start()
    a = connect(server)
    wait_until(lambda: server.client_count == 1, what="the client")
    (ca,) = server.clients()
    a.sendall(b"".join(b"j%d\n" % i for i in range(40)))
    for i in range(40):
        assert turn.acquire(timeout=WAIT), f"job {i} did not come"
        # The next job is never handed out before this resume.
        assert len(got) == i + 1, f"{len(got)} jobs handed out while paused after job {i}"
        server.resume_client(ca)
    assert got == [b"j%d" % i for i in range(40)]
    a.close()


def test_a_resume_from_another_callback(make_server: Callable[..., tcphub.TcpServer]) -> None:
    """``resume_client`` on the callback thread itself (from another
    client's ``on_message``): the held messages come right after that
    callback."""
    log: Log = []
    ids: List[int] = []

    def act(server: tcphub.TcpServer, client: tcphub.Client, data: bytes) -> None:
        if data == b"busy":
            server.pause_client(client)
        elif data == b"go":
            server.resume_client(ids[0])

    server = logged(make_server, log, act)
    a, ca, b, cb = two_clients(server)
    ids.append(ca)
    a.sendall(b"busy\nx1\nx2\n")
    wait_until(lambda: seen(log, ca, b"busy"), what="busy")
    mark(b, cb, log, 1)
    assert of(log, ca) == [b"busy"]
    b.sendall(b"go\n")
    wait_until(lambda: len(of(log, ca)) == 3, what="the held messages")
    assert of(log, ca) == [b"busy", b"x1", b"x2"]
    a.close()
    b.close()


def test_a_reset_hands_out_the_held_messages_then_the_end(
        make_server: Callable[..., tcphub.TcpServer]) -> None:
    log: Log = []
    server = logged(make_server, log, pause_client_on(b"busy"))
    a, ca, b, cb = two_clients(server)
    a.sendall(b"busy\nh1\nh2\n")
    wait_until(lambda: seen(log, ca, b"busy"), what="busy")
    mark(b, cb, log, 1)
    assert of(log, ca) == [b"busy"]
    # A reset is noticed while paused; what was read comes first.
    a.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    a.close()
    wait_until(lambda: any(k == "end" and c == ca for (k, c, _) in list(log)), what="a's end")
    mine = [(k, d) for (k, c, d) in list(log) if c == ca]
    assert [d for (k, d) in mine if k == "msg"] == [b"busy", b"h1", b"h2"]
    assert mine[-1][0] == "end"
    b.close()


def test_a_close_while_paused_ends_after_the_held_messages(
        make_server: Callable[..., tcphub.TcpServer]) -> None:
    log: Log = []
    server = logged(make_server, log, pause_client_on(b"busy"))
    a, ca, b, cb = two_clients(server)
    a.sendall(b"busy\nh1\nh2\n")
    wait_until(lambda: seen(log, ca, b"busy"), what="busy")
    mark(b, cb, log, 1)  # one loop: the pause is in effect by now
    a.close()  # noticed at the resume
    mark(b, cb, log, 2)
    assert of(log, ca) == [b"busy"]
    assert not any(k == "end" for (k, _, _) in list(log))
    server.resume_client(ca)
    wait_until(lambda: any(k == "end" and c == ca for (k, c, _) in list(log)), what="a's end")
    mine = [(k, d) for (k, c, d) in list(log) if c == ca]
    assert mine == [("msg", b"busy"), ("msg", b"h1"), ("msg", b"h2"), ("end", b"closed by peer")]
    b.close()


def test_kicking_a_paused_client_drops_its_held_messages(
        make_server: Callable[..., tcphub.TcpServer]) -> None:
    log: Log = []
    ids: List[int] = []

    def act(server: tcphub.TcpServer, client: tcphub.Client, data: bytes) -> None:
        if data == b"busy":
            server.pause_client(client)
        elif data == b"kick":
            server.disconnect(ids[0])

    server = logged(make_server, log, act)
    a, ca, b, cb = two_clients(server)
    ids.append(ca)
    a.sendall(b"busy\nh1\nh2\n")
    wait_until(lambda: seen(log, ca, b"busy"), what="busy")
    b.sendall(b"kick\n")
    wait_until(lambda: any(k == "end" and c == ca for (k, c, _) in list(log)), what="a's end")
    assert [(k, d) for (k, c, d) in list(log) if c == ca] == [("msg", b"busy"), ("end", b"kicked")]
    a.close()
    b.close()


def test_stop_with_held_messages_ends_every_client(
        make_server: Callable[..., tcphub.TcpServer]) -> None:
    log: Log = []
    server = logged(make_server, log, pause_client_on(b"busy"))
    a, ca, b, cb = two_clients(server)
    a.sendall(b"busy\nh1\nh2\n")
    wait_until(lambda: seen(log, ca, b"busy"), what="busy")
    mark(b, cb, log, 1)
    assert server.stop(timeout=WAIT)
    ends = sorted(c for (k, c, _) in list(log) if k == "end")
    assert ends == sorted([ca, cb])
    # A stop skips messages not yet handed out, held ones too.
    assert of(log, ca) == [b"busy"]
    a.close()
    b.close()


def test_other_clients_are_served_while_one_is_held(
        make_server: Callable[..., tcphub.TcpServer]) -> None:
    log: Log = []
    server = logged(make_server, log, pause_client_on(b"busy"))
    a, ca, b, cb = two_clients(server)
    a.sendall(b"busy\n" + b"h\n" * 10)
    wait_until(lambda: seen(log, ca, b"busy"), what="busy")
    b.sendall(b"".join(b"b%d\n" % i for i in range(200)))
    wait_until(lambda: len(of(log, cb)) == 200, what="b's messages")
    assert of(log, cb) == [b"b%d" % i for i in range(200)]
    assert of(log, ca) == [b"busy"]
    server.resume_client(ca)
    wait_until(lambda: len(of(log, ca)) == 11, what="a's held messages")
    a.close()
    b.close()



def test_pauses_and_resumes_from_a_worker_keep_every_clients_order(
        make_server: Callable[..., tcphub.TcpServer]) -> None:
    """Clients each send a numbered run; ``on_message`` pauses the sender on
    every seventh message and a worker thread resumes it. Every client's
    messages all come, in order, and none while it is paused."""
    server = make_server(framing="lines", threads=2)
    got: "dict[int, List[int]]" = {}
    paused: "set[int]" = set()
    lock = threading.Lock()
    to_resume: "queue.Queue[int]" = queue.Queue()
    errors: List[str] = []

    @server.on_message
    def on_message(client: tcphub.Client, data: bytes) -> None:
        n = int(data)
        with lock:
            if client.id in paused:
                errors.append(f"{client.id} got {n} while paused")
            got.setdefault(client.id, []).append(n)
            if n % 7 == 3:
                paused.add(client.id)
                server.pause_client(client)
                to_resume.put(client.id)

    def worker() -> None:
        while (cid := to_resume.get()) >= 0:
            with lock:
                paused.discard(cid)
            try:
                server.resume_client(cid)
            except tcphub.NoSuchClient:
                pass

    server.start()
    t = threading.Thread(target=worker)
    t.start()
    try:
        socks = [connect(server) for _ in range(8)]
        per = 300
        for s in socks:
            s.sendall(b"".join(b"%d\n" % i for i in range(per)))
        wait_until(lambda: sum(len(v) for v in list(got.values())) == 8 * per,
                   what="every message")
        assert errors == []
        assert len(got) == 8
        for cid, ns in got.items():
            assert ns == list(range(per)), f"client {cid} out of order"
        for s in socks:
            s.close()
    finally:
        to_resume.put(-1)
        t.join(WAIT)



def announced(server: tcphub.TcpServer, connects: List[int]) -> None:
    """Connects one more client and waits for its ``on_connect``: everything
    queued for the callback thread before it was taken by then (a message
    cannot serve as the mark while input is paused: it is not read)."""
    n = len(connects)
    extra = connect(server)
    wait_until(lambda: len(connects) > n, what="the extra client's connect")
    extra.close()


def test_pause_input_holds_the_queued_messages_of_everyone(
        make_server: Callable[..., tcphub.TcpServer]) -> None:
    log: Log = []
    connects: List[int] = []
    server = logged(make_server, log, pause_input_on(b"busy"), connects)
    a, ca, b, cb = two_clients(server)
    b.sendall(b"b0\n")
    wait_until(lambda: seen(log, cb, b"b0"), what="b0")
    # One write each: queued behind "busy" before the pause takes effect.
    a.sendall(b"busy\n" + b"".join(b"a%d\n" % i for i in range(100)))
    wait_until(lambda: seen(log, ca, b"busy"), what="busy")
    b.sendall(b"".join(b"b%d\n" % i for i in range(1, 50)))
    announced(server, connects)
    assert of(log, ca) == [b"busy"], "messages handed out while input was paused"
    server.resume_input()
    wait_until(lambda: len(of(log, ca)) == 101 and len(of(log, cb)) == 50,
               what="the held messages")
    assert of(log, ca) == [b"busy"] + [b"a%d" % i for i in range(100)]
    assert of(log, cb) == [b"b%d" % i for i in range(50)]
    a.close()
    b.close()


def test_pause_input_from_every_callback_hands_out_one_message_per_resume(
        make_server: Callable[..., tcphub.TcpServer]) -> None:
    """The work-queue pattern at its tightest: each message pauses input,
    a worker resumes it; each resume lets exactly one more through."""
    server = make_server(framing="lines", threads=1)
    got: List[bytes] = []
    turn = threading.Semaphore(0)

    @server.on_message
    def on_message(client: tcphub.Client, data: bytes) -> None:
        got.append(data)
        server.pause_input()
        turn.release()

    server.start()
    a = connect(server)
    b = connect(server)
    a.sendall(b"".join(b"a%d\n" % i for i in range(30)))
    b.sendall(b"".join(b"b%d\n" % i for i in range(30)))
    for i in range(60):
        assert turn.acquire(timeout=WAIT), f"message {i} did not come"
        assert len(got) == i + 1, f"{len(got)} messages handed out while paused after {i}"
        server.resume_input()
    assert [m for m in got if m.startswith(b"a")] == [b"a%d" % i for i in range(30)]
    assert [m for m in got if m.startswith(b"b")] == [b"b%d" % i for i in range(30)]
    a.close()
    b.close()


def test_a_kick_while_input_is_paused_waits_behind_the_held_messages(
        make_server: Callable[..., tcphub.TcpServer]) -> None:
    """A client kicked from another thread while input is paused: its
    ``on_disconnect`` comes after its held messages, at the resume (the
    order is kept); a client whose nothing is held ends at once."""
    log: Log = []
    connects: List[int] = []
    server = logged(make_server, log, pause_input_on(b"busy"), connects)
    a, ca, b, cb = two_clients(server)
    a.sendall(b"busy\nh1\nh2\n")
    wait_until(lambda: seen(log, ca, b"busy"), what="busy")
    announced(server, connects)
    server.disconnect(cb)  # nothing of b is held: ends now
    wait_until(lambda: ("end", cb, b"kicked") in log, what="b's end")
    server.disconnect(ca)
    announced(server, connects)
    assert [(k, d) for (k, c, d) in list(log) if c == ca] == [("msg", b"busy")]
    server.resume_input()
    wait_until(lambda: ("end", ca, b"kicked") in log, what="a's end")
    assert [(k, d) for (k, c, d) in list(log) if c == ca] == [
        ("msg", b"busy"), ("msg", b"h1"), ("msg", b"h2"), ("end", b"kicked")]
    a.close()
    b.close()


def test_a_kick_from_a_callback_while_input_is_paused_drops_the_held_messages(
        make_server: Callable[..., tcphub.TcpServer]) -> None:
    log: Log = []
    ids: List[int] = []

    def act(server: tcphub.TcpServer, client: tcphub.Client, data: bytes) -> None:
        if data == b"busy":
            server.pause_input()
            server.disconnect(ids[0])  # its held messages are not handed out

    server = logged(make_server, log, act)
    a, ca, b, cb = two_clients(server)
    ids.append(ca)
    a.sendall(b"h1\nh2\n")
    wait_until(lambda: seen(log, ca, b"h2"), what="a's messages")
    a.sendall(b"h3\nh4\n")
    b.sendall(b"busy\n")
    # Its end comes while input is still paused: nothing of it is to wait for.
    wait_until(lambda: ("end", ca, b"kicked") in log, what="a's end")
    assert of(log, ca)[:2] == [b"h1", b"h2"]
    server.resume_input()
    b.sendall(b"after\n")
    wait_until(lambda: seen(log, cb, b"after"), what="b's next message")
    assert [d for d in of(log, ca)] in ([b"h1", b"h2"], [b"h1", b"h2", b"h3", b"h4"])
    a.close()
    b.close()


def test_pause_client_and_pause_input_together(
        make_server: Callable[..., tcphub.TcpServer]) -> None:
    """A client paused while input is paused stays held at the input's
    resume, the others' messages go out; its own resume hands out its
    messages, in order."""
    log: Log = []
    connects: List[int] = []
    server = logged(make_server, log, pause_input_on(b"busy"), connects)
    a, ca, b, cb = two_clients(server)
    a.sendall(b"busy\n" + b"".join(b"a%d\n" % i for i in range(20)))
    wait_until(lambda: seen(log, ca, b"busy"), what="busy")
    b.sendall(b"b0\nb1\n")
    announced(server, connects)
    server.pause_client(ca)
    server.resume_input()
    wait_until(lambda: len(of(log, cb)) == 2, what="b's messages")
    announced(server, connects)
    assert of(log, ca) == [b"busy"]
    server.resume_client(ca)
    wait_until(lambda: len(of(log, ca)) == 21, what="a's messages")
    assert of(log, ca) == [b"busy"] + [b"a%d" % i for i in range(20)]
    a.close()
    b.close()


if __name__ == "__main__":
    pytest.main([__file__, "-v"])


def test_a_pause_before_the_connect_is_handed_out_holds_what_is_queued(
        make_server: Callable[..., tcphub.TcpServer]) -> None:
    """From another thread, a client listed by ``clients()`` whose connect
    still waits for the callback thread (busy) is paused: ``on_connect``
    comes, its queued messages wait for the resume. Before, only its later
    reads stopped: what was queued went to ``on_message``."""
    log: Log = []
    connects: List[int] = []
    gate = threading.Event()

    def act(server: tcphub.TcpServer, client: tcphub.Client, data: bytes) -> None:
        if data == b"wait":
            gate.wait(WAIT)

    server = logged(make_server, log, act, connects)
    try:
        a = connect(server)
        a.sendall(b"wait\n")
        wait_until(lambda: any(d == b"wait" for (_, _, d) in list(log)), what="wait")
        (ca,) = [c.id for c in server.clients()]
        b = connect(server)
        b.sendall(b"".join(b"b%d\n" % i for i in range(50)))
        wait_until(lambda: server.client_count == 2 and server.pending_events >= 50,
                   what="b's connect and messages queued")
        cb = next(c.id for c in server.clients() if c.id != ca)
        assert cb not in connects
        server.pause_client(cb)
        assert server._holds_sizes()[2] == 1
        gate.set()
        mark(a, ca, log, 1)
        assert cb in connects
        assert of(log, cb) == [], "the queued messages of a paused client were handed out"
        server.resume_client(cb)
        wait_until(lambda: len(of(log, cb)) == 50, what="the held messages")
        assert of(log, cb) == [b"b%d" % i for i in range(50)]
        wait_until(lambda: server._holds_sizes()[2:] == (0, 0, 0), what="nothing held")
        a.close()
        b.close()
    finally:
        gate.set()
