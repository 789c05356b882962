"""Review (hd): ``pause_client`` / ``pause_input`` with callbacks under
random pauses, resumes and kicks from the callbacks and from worker threads
at once, many clients on several I/O threads.

Checked throughout: each client's messages come in order, none lost (but
after its kick), none after its ``on_disconnect``; no ``on_message`` of a
paused client, nor while input is paused, once the pause call returned.

"Once the call returned" without a race of the test's own: every pause,
resume and kick is made under ``ctl`` together with its bookkeeping, and
every callback starts by taking ``ctl`` and a number. A pause from another
thread may still meet one callback already on its way (taken out of the
queue before the call, its Python code not yet started): a callback
numbered two past the number current at the pause's return is certainly
later. A pause from a callback is in effect for the very next one.
"""

from __future__ import annotations

import random
import socket
import threading
import time
from typing import Callable, Dict, List, Optional, Set

import pytest

import tcphub
from conftest import WAIT, connect, wait_until


class Book:
    """The test's view of the holds, and what the callbacks saw."""

    def __init__(self, server: tcphub.TcpServer, seed: int) -> None:
        self.server = server
        self.ctl = threading.RLock()
        self.n = 0  # callbacks started
        self.paused: Dict[int, int] = {}  # client -> first callback number it bars
        self.input_bar: Optional[int] = None
        self.kicked: Set[int] = set()
        self.got: Dict[int, List[int]] = {}
        self.connected: List[int] = []
        self.ended: Dict[int, int] = {}  # client -> disconnects seen
        self.errors: List[str] = []
        self.quiet = False  # the callbacks stop pausing
        self.stop_now = False  # the next on_connect stops the server
        self.stopped_in_cb = threading.Event()
        self.rng = random.Random(seed)

    def begin(self) -> int:
        self.n += 1
        return self.n

    # Under ctl, each with its bookkeeping. `bar`: 1 from a callback, 2
    # from another thread (see the module doc).
    def pause(self, cid: int, bar: int) -> None:
        try:
            self.server.pause_client(cid)
        except (tcphub.NoSuchClient, tcphub.NotRunning):
            return
        self.paused.setdefault(cid, self.n + bar)

    def resume(self, cid: int) -> None:
        self.paused.pop(cid, None)
        try:
            self.server.resume_client(cid)
        except (tcphub.NoSuchClient, tcphub.NotRunning):
            pass

    def pause_input(self, bar: int) -> None:
        self.server.pause_input()
        if self.input_bar is None:
            self.input_bar = self.n + bar

    def resume_input(self) -> None:
        self.input_bar = None
        self.server.resume_input()

    def kick(self, cid: int) -> None:
        self.kicked.add(cid)  # its held messages may come now (its end)
        try:
            self.server.disconnect(cid)
        except (tcphub.NoSuchClient, tcphub.NotRunning):
            pass


def wire(server: tcphub.TcpServer, book: Book, kicks: bool) -> None:
    @server.on_connect
    def on_connect(client: tcphub.Client) -> None:
        with book.ctl:
            book.begin()
            book.connected.append(client.id)
            stop = book.stop_now
        if stop:
            server.stop()
            book.stopped_in_cb.set()

    @server.on_message
    def on_message(client: tcphub.Client, data: bytes) -> None:
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
            if r < 0.05:
                book.pause(cid, 1)
            elif r < 0.07:
                book.pause_input(1)
            elif r < 0.12 and book.paused:
                book.resume(book.rng.choice(list(book.paused)))
            elif r < 0.13 and book.input_bar is not None:
                book.resume_input()
            elif kicks and r < 0.132:
                other = book.rng.choice(book.connected)
                if other not in book.ended:
                    book.kick(other)

    @server.on_disconnect
    def on_disconnect(client: tcphub.Client, reason: str) -> None:
        with book.ctl:
            book.begin()
            book.ended[client.id] = book.ended.get(client.id, 0) + 1
            book.paused.pop(client.id, None)


def worker(book: Book, rounds: int, seed: int, kicks: bool,
           until: Callable[[], bool] = lambda: False) -> None:
    """Up to `rounds` random steps, until `until()`."""
    rng = random.Random(seed)
    for _ in range(rounds):
        if until():
            return
        with book.ctl:
            live = [c for c in book.connected if c not in book.ended]
            if not live:
                continue
            r = rng.random()
            cid = rng.choice(live)
            if r < 0.35:
                book.pause(cid, 2)
            elif r < 0.7:
                book.resume(cid)
            elif r < 0.8:
                book.pause_input(2)
            elif r < 0.97:
                book.resume_input()
            elif kicks:
                book.kick(cid)
        time.sleep(0)  # lets the callbacks run between two steps


def send_all(socks: List[socket.socket], per: int, chunk: int) -> None:
    gone: Set[int] = set()  # kicked meanwhile
    for start in range(0, per, chunk):
        for k, s in enumerate(socks):
            if k in gone:
                continue
            try:
                s.sendall(b"".join(b"%d\n" % i for i in range(start, min(per, start + chunk))))
            except OSError:
                gone.add(k)


def check_orders(book: Book, per: int) -> None:
    assert book.errors == [], book.errors[:10]
    for cid, ns in book.got.items():
        if cid in book.kicked:
            assert ns == list(range(len(ns))), f"kicked client {cid}: {ns}"
        else:
            assert ns == list(range(per)), f"client {cid} lost or reordered: {ns}"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_pauses_resumes_and_kicks_keep_order_and_hold(
        make_server: Callable[..., tcphub.TcpServer], seed: int) -> None:
    server = make_server(framing="lines", threads=3, max_clients=64)
    book = Book(server, seed)
    wire(server, book, kicks=True)
    server.start()
    clients, per = 24, 500
    socks = [connect(server) for _ in range(clients)]
    wait_until(lambda: len(book.connected) == clients, what="the connects")

    def most_came() -> bool:  # the workers' steps span the traffic
        with book.ctl:
            return sum(len(v) for v in book.got.values()) >= clients * per * 0.9

    workers = [threading.Thread(target=worker,
                                args=(book, 20000, seed * 10 + k, True, most_came))
               for k in range(2)]
    for t in workers:
        t.start()
    send_all(socks, per, 20)
    for t in workers:
        t.join(WAIT * 4)
        assert not t.is_alive()
    with book.ctl:
        book.quiet = True
        book.resume_input()
        for cid in list(book.paused):
            book.resume(cid)

    def done() -> bool:
        with book.ctl:
            return all(len(book.got.get(c, [])) == per or c in book.kicked
                       for c in book.connected)

    wait_until(done, what="every message of the clients not kicked")
    for s in socks:
        s.close()
    wait_until(lambda: len(book.ended) == clients, what="every end")
    assert server.stop(timeout=WAIT)
    check_orders(book, per)
    assert all(v == 1 for v in book.ended.values()), book.ended
    assert server._holds_sizes() == (0, 0, 0, 0, 0)


@pytest.mark.parametrize("how", ["stop", "stop_input", "stop_in_callback"])
def test_a_stop_while_things_are_held(
        make_server: Callable[..., tcphub.TcpServer], how: str) -> None:
    """Paused clients and input hold messages when the server stops (or
    stops input): no hang, no message handed out after, every connect
    gets its one disconnect, orders kept."""
    server = make_server(framing="lines", threads=2, max_clients=64)
    book = Book(server, 7)
    wire(server, book, kicks=False)
    server.start()
    clients, per = 10, 200
    socks = [connect(server) for _ in range(clients)]
    wait_until(lambda: len(book.connected) == clients, what="the connects")
    send_all(socks, per, 50)
    w = threading.Thread(target=worker, args=(book, 150, 99, False))
    w.start()
    w.join(WAIT * 4)
    assert not w.is_alive()
    with book.ctl:
        # Something held, for sure: one client paused, and input.
        book.pause(book.connected[0], 2)
        book.pause_input(2)
    if how == "stop":
        assert server.stop(timeout=WAIT)
    elif how == "stop_input":
        server.stop_input()
        with book.ctl:
            book.quiet = True
            book.resume_input()
            for cid in list(book.paused):
                book.resume(cid)
        extra = connect(server)  # a mark: its connect comes after the releases
        wait_until(lambda: len(book.connected) == clients + 1, what="the mark")
        extra.close()
        assert server.stop(timeout=WAIT)
    else:
        with book.ctl:
            book.stop_now = True
        extra = connect(server)
        assert book.stopped_in_cb.wait(WAIT)
        assert server.stop(timeout=WAIT)
        extra.close()
    for s in socks:
        s.close()
    assert book.errors == [], book.errors[:10]
    assert sorted(book.ended) == sorted(book.connected)
    assert all(v == 1 for v in book.ended.values()), book.ended
    for cid, ns in book.got.items():
        assert ns == list(range(len(ns))), f"client {cid}: {ns}"
    assert server._holds_sizes() == (0, 0, 0, 0, 0)


if __name__ == "__main__":
    pytest.main([__file__, "-v"])
