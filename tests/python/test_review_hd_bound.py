"""Review (hd): what the callback thread holds back for a pause stays
bounded while the clients keep sending — the server must not read on
while earlier messages are still held.

The work-queue pattern: a callback pauses (its client, or input) on every
message and a worker resumes. Each resume used to let the server read
what had piled up in the kernel (up to the event queue's room) while the
callback thread handed out one held message and was paused again, so the
held messages grew by nearly a read per resume, without bound.

Held = read (``stats().msgs_in``) - handed to ``on_message`` -
``pending_events`` (what the server read beyond the queue's room waits in
its own backlog: counted too). With a queue of 64 events and 1 KiB
messages one read (64 KiB) is 64 messages, and an I/O thread reads a
client up to 8 times in a turn before it looks at its commands (a pause
among them): what it reads while a pause is on its way is held too. The
bound, the queue and three such turns, leaves room for that; the growth
it catches was 12 to 22 messages per resume (about 3,600 to 6,600 after
300 resumes).
"""

from __future__ import annotations

import socket
import threading
from typing import Callable, List

import pytest

import tcphub
from conftest import WAIT, connect, wait_until

CAP = 64
MSG = b"x" * 1023 + b"\n"
BOUND = CAP + 3 * 8 * (65536 // len(MSG) + 1)
TOTAL = 40_000  # messages a client sends: far more than BOUND


def sender(sock: socket.socket, stop: threading.Event) -> threading.Thread:
    def run() -> None:
        chunk = MSG * 64
        sent = 0
        try:
            while sent < TOTAL and not stop.is_set():
                sock.sendall(chunk)
                sent += 64
        except OSError:
            pass

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


@pytest.mark.parametrize("what", ["client", "input"])
def test_held_messages_stay_bounded_under_pause_per_message(
        make_server: Callable[..., tcphub.TcpServer], what: str) -> None:
    server = make_server(framing="lines", threads=1, event_capacity=CAP)
    got: List[int] = [0]
    turn = threading.Semaphore(0)

    @server.on_message
    def on_message(client: tcphub.Client, data: bytes) -> None:
        got[0] += 1
        if what == "client":
            server.pause_client(client)
        else:
            server.pause_input()
        turn.release()

    server.start()
    a = connect(server)
    wait_until(lambda: server.client_count == 1, what="the client")
    (ca,) = server.clients()
    stop = threading.Event()
    t = sender(a, stop)
    worst = 0
    try:
        for i in range(600):
            assert turn.acquire(timeout=WAIT), f"message {i} did not come"
            held = server.stats().msgs_in - got[0] - server.pending_events
            worst = max(worst, held)
            if worst > BOUND:
                break
            if what == "client":
                server.resume_client(ca)
            else:
                server.resume_input()
    finally:
        stop.set()
        server.stop()
        a.close()
        t.join(WAIT)
    assert worst <= BOUND, f"{worst} messages read and held back (bound {BOUND})"


def test_a_resume_while_messages_are_held_reads_the_client_again(
        make_server: Callable[..., tcphub.TcpServer]) -> None:
    """While the callback thread holds b's messages, a resume of client a
    (paused by a callback before a's connect went out, so nothing of it is
    held) is applied by the callback thread: a is read again at once, with
    no other traffic to wake that thread."""
    server = make_server(framing="lines", threads=1)
    got: List[bytes] = []
    connects: List[int] = []
    go = threading.Event()
    ids: List[int] = []

    @server.on_connect
    def on_connect(client: tcphub.Client) -> None:
        connects.append(client.id)

    @server.on_message
    def on_message(client: tcphub.Client, data: bytes) -> None:
        got.append(data)
        if data == b"busy":
            server.pause_client(client)
        elif data == b"gate":
            assert go.wait(WAIT)
            server.pause_client(ids[0])  # a: its connect is still queued
            assert server.input_paused is False

    server.start()
    b = connect(server)
    wait_until(lambda: len(connects) == 1, what="b")
    b.sendall(b"busy\nh1\nh2\n")
    wait_until(lambda: b"busy" in got, what="busy")
    c = connect(server)
    wait_until(lambda: len(connects) == 2, what="c")
    c.sendall(b"gate\n")
    wait_until(lambda: b"gate" in got, what="the gate")
    a = connect(server)
    wait_until(lambda: server.client_count == 3, what="a")
    ids.append(next(x.id for x in server.clients() if x.id not in connects))
    go.set()
    wait_until(lambda: len(connects) == 3, what="a's connect")
    assert got.count(b"h1") == 0  # b's messages still held
    server.resume_client(ids[0])
    a.sendall(b"hello\n")
    wait_until(lambda: b"hello" in got, what="a's message after its resume")
    server.pause_input()
    server.resume_input()
    assert server.input_paused is False
    a.close()
    b.close()
    c.close()


if __name__ == "__main__":
    pytest.main([__file__, "-v"])
