"""pause_input() / resume_input(): backpressure. While paused the server
leaves what clients send in the kernel; on resume every message arrives,
in order."""

from __future__ import annotations

import queue
import socket
import threading

import pytest

import tcphub
from conftest import WAIT, LineReader, connect


def test_refused_before_start_and_harmless_after_stop(make_server):
    server = make_server(framing="lines")
    assert server.input_paused is False
    with pytest.raises(tcphub.NotRunning, match="not started"):
        server.pause_input()
    with pytest.raises(tcphub.NotRunning, match="not started"):
        server.resume_input()
    server.start()
    server.stop()
    server.pause_input()
    server.resume_input()


def test_paused_input_arrives_in_order_on_resume(make_server):
    server = make_server(framing="lines").start()
    server.pause_input()
    server.pause_input()  # not counted
    assert server.input_paused
    s = connect(server)
    events = server.events(timeout=WAIT)
    joined = next(events)
    assert joined.kind == "connect"  # accepting goes on
    s.sendall(b"".join(b"line %d\n" % i for i in range(100)))
    server.send(joined.client, b"sends go on")
    assert LineReader(s).line() == b"sends go on"
    assert server.poll(timeout=0.3) == []
    server.resume_input()
    assert not server.input_paused
    got = []
    for ev in server.events(timeout=WAIT):
        got.append(ev.data)
        if len(got) == 100:
            break
    assert got == [b"line %d" % i for i in range(100)]
    s.close()


def test_a_callback_pauses_at_its_bound_and_a_worker_resumes(make_server):
    # The pattern pause_input() is for: on_message feeds a bounded queue,
    # pauses at its bound; the worker resumes once it has drained.
    limit, count = 20, 3000
    server = make_server(framing="lines", event_capacity=64)
    jobs: "queue.Queue[bytes]" = queue.Queue()
    paused = []
    # Pause and resume decided under one lock (apart, a pause could land
    # after the worker's last look at an emptied queue).
    lock = threading.Lock()

    @server.on_message
    def on_message(client: tcphub.Client, data: bytes) -> None:
        with lock:
            jobs.put(data)
            if jobs.qsize() >= limit and not server.input_paused:
                server.pause_input()
                paused.append(jobs.qsize())

    done = []

    def worker() -> None:
        while len(done) < count:
            done.append(jobs.get(timeout=WAIT))
            with lock:
                if jobs.qsize() < limit // 2 and server.input_paused:
                    server.resume_input()

    server.start()
    t = threading.Thread(target=worker)
    t.start()
    s = connect(server)
    line = b"x" * 1000
    s.sendall(b"".join(b"%05d %s\n" % (i, line) for i in range(count)))
    t.join(WAIT * 2)
    assert not t.is_alive()
    assert done == [b"%05d %s" % (i, line) for i in range(count)]
    assert paused, "never paused"
    s.close()


def test_a_client_that_leaves_while_paused_is_reported_on_resume(make_server):
    server = make_server(framing="lines").start()
    server.pause_input()
    s = connect(server)
    s.sendall(b"last words\n")
    s.shutdown(socket.SHUT_WR)
    events = server.events(timeout=WAIT)
    assert next(events).kind == "connect"
    assert server.poll(timeout=0.2) == []  # nothing read while paused
    server.resume_input()
    rest = [next(events), next(events)]
    assert [(e.kind, e.data if e.kind == "message" else e.reason) for e in rest] == [
        ("message", b"last words"),
        ("disconnect", "closed by peer"),
    ]
    s.close()


def test_a_paused_client_waits_while_another_is_served(make_server):
    server = make_server(framing="lines", threads=1).start()
    events = server.events(timeout=WAIT)
    a = connect(server)
    ca = next(events).client
    b = connect(server)
    cb = next(events).client
    server.pause_client(ca)
    server.pause_client(ca.id)  # not counted; an id does too
    # One loop: the pause is applied before this send reaches b.
    server.send(cb, b"sync")
    assert LineReader(b).line() == b"sync"
    a.sendall(b"".join(b"a%d\n" % i for i in range(50)))
    b.sendall(b"from b\n")
    ev = next(events)
    assert (ev.client, ev.data) == (cb, b"from b")
    assert server.poll(timeout=0.3) == []
    server.send(ca, b"sends go on")
    assert LineReader(a).line() == b"sends go on"
    server.resume_client(ca)
    got = []
    for ev in events:
        assert ev.client == ca
        got.append(ev.data)
        if len(got) == 50:
            break
    assert got == [b"a%d" % i for i in range(50)]
    server.resume_client(ca)  # harmless when not paused
    with pytest.raises(tcphub.NoSuchClient):
        server.pause_client(999_999)
    a.close()
    b.close()
    server.stop()
    with pytest.raises(tcphub.NotRunning, match="stopped"):
        server.resume_client(ca)
