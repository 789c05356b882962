"""Review (td): ``pause_client`` from other threads of clients listed by
``clients()`` whose connect the callback thread has not handed out yet
(``Holds.early``), mixed with pauses of input, resumes, kicks and the
stop, on several I/O threads.

Checked: each client's messages in order, none lost (but after its kick),
none after its end, none of a paused client (nor while input is paused)
once the pause returned (see ``test_review_hd_stress``: a callback
numbered two past the pause's is certainly later); every pause ends
(no client left unread), and the holds are empty at the end.
"""

from __future__ import annotations

import random
import socket
import threading
from typing import Callable, List

import pytest

import tcphub
from conftest import WAIT, connect, wait_until
from test_review_hd_stress import Book


def wire(server: tcphub.TcpServer, book: Book, gate: List[threading.Event]) -> None:
    @server.on_connect
    def on_connect(client: tcphub.Client) -> None:
        with book.ctl:
            book.begin()
            book.connected.append(client.id)

    @server.on_message
    def on_message(client: tcphub.Client, data: bytes) -> None:
        if data == b"wait":
            gate[0].wait(WAIT)
            return
        with book.ctl:
            n = book.begin()
            cid = client.id
            if cid in book.ended:
                book.errors.append(f"{cid}: {data!r} after its end")
            bar = book.paused.get(cid)
            if bar is not None and n >= bar and cid not in book.kicked:
                book.errors.append(f"{cid}: {data!r} while paused (#{n}, bar {bar})")
            if book.input_bar is not None and n >= book.input_bar:
                book.errors.append(f"{cid}: {data!r} while input paused (#{n})")
            book.got.setdefault(cid, []).append(int(data))
            if book.quiet:
                return
            r = book.rng.random()
            if r < 0.03:
                book.pause(cid, 1)
            elif r < 0.04:
                book.pause_input(1)
            elif r < 0.10 and book.paused:
                book.resume(book.rng.choice(list(book.paused)))
            elif r < 0.11 and book.input_bar is not None:
                book.resume_input()

    @server.on_disconnect
    def on_disconnect(client: tcphub.Client, reason: str) -> None:
        with book.ctl:
            book.begin()
            book.ended[client.id] = book.ended.get(client.id, 0) + 1
            book.paused.pop(client.id, None)


def early_worker(book: Book, server: tcphub.TcpServer, rounds: int, seed: int,
                 kicks: bool, spare: int) -> None:
    """Pauses and resumes clients listed by the server (whether their
    connect was handed out or not), now and then input; a few kicks."""
    rng = random.Random(seed)
    for _ in range(rounds):
        with book.ctl:
            listed = [c.id for c in server.clients() if c.id != spare]
            if not listed:
                continue
            cid = rng.choice(listed)
            r = rng.random()
            if r < 0.45:
                book.pause(cid, 2)
            elif r < 0.85:
                book.resume(cid)
            elif r < 0.9:
                book.pause_input(2)
            elif r < 0.98:
                book.resume_input()
            elif kicks:
                book.kick(cid)


@pytest.mark.parametrize("threads,seed,kicks", [(2, 1, False), (4, 2, True), (4, 3, True)])
def test_early_pauses_from_threads_hold_and_end(
        make_server: Callable[..., tcphub.TcpServer], threads: int, seed: int,
        kicks: bool) -> None:
    server = make_server(framing="lines", threads=threads, max_clients=200)
    book = Book(server, seed)
    gate = [threading.Event()]
    wire(server, book, gate)
    server.start()
    blocker = connect(server)
    wait_until(lambda: server.client_count == 1, what="the blocker")
    (spare,) = [c.id for c in server.clients()]
    socks: List[socket.socket] = []
    per = 60
    for rnd in range(6):
        gate[0] = threading.Event()
        blocker.sendall(b"wait\n")
        # The callback thread is (about to be) busy: the new clients'
        # connects and messages wait for it while they are paused.
        new = [connect(server) for _ in range(12)]
        for s in new:
            s.sendall(b"".join(b"%d\n" % i for i in range(per)))
        socks.extend(new)
        workers = [threading.Thread(target=early_worker,
                                    args=(book, server, 300, seed * 100 + rnd * 10 + k, kicks, spare))
                   for k in range(2)]
        for t in workers:
            t.start()
        for t in workers:
            t.join(WAIT * 4)
            assert not t.is_alive()
        gate[0].set()
    with book.ctl:
        book.quiet = True
        book.resume_input()
        for cid in list(book.paused):
            book.resume(cid)

    def done() -> bool:
        with book.ctl:
            return len(book.connected) == len(socks) + 1 and all(
                len(book.got.get(c, [])) == per or c in book.kicked
                for c in book.connected[1:])

    wait_until(done, what="every message of the clients not kicked")
    for s in socks + [blocker]:
        s.close()
    wait_until(lambda: len(book.ended) == len(socks) + 1, what="every end")
    wait_until(lambda: server._holds_sizes() == (0, 0, 0, 0, 0), what="holds empty")
    assert server.stop(timeout=WAIT)
    assert book.errors == [], book.errors[:10]
    for cid, ns in book.got.items():
        if cid in book.kicked:
            assert ns == list(range(len(ns))), f"kicked client {cid}: {ns}"
        else:
            assert ns == list(range(per)), f"client {cid}: {ns}"
    assert all(v == 1 for v in book.ended.values()), book.ended
    assert server._holds_sizes() == (0, 0, 0, 0, 0)


@pytest.mark.parametrize("threads", [2, 4])
def test_stop_while_pauses_wait_for_their_connects(
        make_server: Callable[..., tcphub.TcpServer], threads: int) -> None:
    """Clients paused before their connect was handed out when the server
    stops: every connect gets its end, no message of them after the pause,
    and nothing is left in the holds."""
    server = make_server(framing="lines", threads=threads, max_clients=200)
    book = Book(server, 5)
    gate = [threading.Event()]
    wire(server, book, gate)
    server.start()
    blocker = connect(server)
    blocker.sendall(b"wait\n")
    socks = [connect(server) for _ in range(20)]
    for s in socks:
        s.sendall(b"".join(b"%d\n" % i for i in range(50)))
    wait_until(lambda: server.client_count == 21, what="the connects")
    with book.ctl:
        for c in server.clients():
            book.pause(c.id, 2)
        assert server._holds_sizes()[2] >= 20
    stopper = threading.Thread(target=server.stop, kwargs={"timeout": WAIT})
    stopper.start()
    gate[0].set()
    stopper.join(WAIT * 2)
    assert not stopper.is_alive()
    for s in socks + [blocker]:
        s.close()
    assert book.errors == [], book.errors[:10]
    assert sorted(book.ended) == sorted(book.connected)
    assert server._holds_sizes() == (0, 0, 0, 0, 0)
