"""stop_input(): the first half of a two-phase shutdown. No more requests
are taken, the ones taken are answered, then stop() closes as usual."""

from __future__ import annotations

import gc
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

import tcphub
from conftest import WAIT, LineReader, connect, read_to_eof, wait_until


def test_refused_before_start(make_server):
    server = make_server(framing="lines")
    with pytest.raises(tcphub.NotRunning, match="not started"):
        server.stop_input()


def test_pull_mode_answers_what_it_took(make_server):
    server = make_server(framing="lines").start()
    s = connect(server)
    s.sendall(b"question 1\n")
    events = server.events(timeout=WAIT)
    asked = next(e for e in events if e.kind == "message")
    server.stop_input()
    server.stop_input()  # idempotent
    assert server.running
    s.sendall(b"question 2\n")  # never handed out
    server.send(asked.client, b"answer to " + asked.data)
    assert LineReader(s).line() == b"answer to question 1"
    assert server.poll(timeout=0.3) == []
    server.stop()
    assert read_to_eof(s) == 0
    rest = list(server.events(timeout=WAIT))
    assert [(e.kind, e.reason) for e in rest] == [("disconnect", "server stopped")]
    s.close()


def test_a_worker_pool_answers_after_the_input_stopped(make_server):
    server = make_server(framing="lines")
    go = threading.Event()
    handed = []
    pool = ThreadPoolExecutor(max_workers=2)

    def work(client: tcphub.Client, data: bytes) -> None:
        go.wait(WAIT)
        server.send(client, b"done: " + data)

    @server.on_message
    def on_message(client: tcphub.Client, data: bytes) -> None:
        handed.append(data)
        pool.submit(work, client, data)

    server.start()
    s = connect(server)
    s.sendall(b"job 1\n")
    wait_until(lambda: handed == [b"job 1"], what="the job")
    server.stop_input()
    s.sendall(b"job 2\n")
    go.set()
    pool.shutdown(wait=True)
    assert LineReader(s).line() == b"done: job 1"
    server.stop()
    assert read_to_eof(s) == 0
    assert handed == [b"job 1"]
    s.close()


def test_messages_queued_for_the_callbacks_are_dropped(make_server):
    # Messages the core had read and queued for the callback thread before
    # stop_input() are not handed to on_message after it, as at a stop.
    server = make_server(framing="lines")
    release = threading.Event()
    handed = []

    @server.on_message
    def on_message(client: tcphub.Client, data: bytes) -> None:
        handed.append(data)
        release.wait(WAIT)  # the first one holds the callback thread

    server.start()
    s = connect(server)
    s.sendall(b"".join(b"m%d\n" % i for i in range(50)))
    wait_until(lambda: server.stats().msgs_in == 50, what="all 50 read")
    # (The first one in the callback before stop_input(): read is not yet
    # taken by the callback thread, and on a loaded machine it may not be.)
    wait_until(lambda: handed == [b"m0"], what="the first one in the callback")
    server.stop_input()
    release.set()
    server.stop()
    assert handed == [b"m0"]
    s.close()


def test_harmless_after_a_stop_that_came_before_start(make_server):
    server = make_server(framing="lines")
    server.stop()
    server.stop_input()  # stopped: nothing to stop, no error


def test_a_client_that_leaves_meanwhile_is_reported(make_server):
    # The server goes on reading to drop what comes: a client's end is seen.
    server = make_server(framing="lines")
    left = []
    server.on_disconnect(lambda client, reason: left.append(reason))
    server.start()
    s = connect(server)
    wait_until(lambda: server.client_count == 1, what="the client")
    server.stop_input()
    s.sendall(b"dropped\n")
    s.close()
    wait_until(lambda: left == ["closed by peer"], what="its disconnect")
    assert server.client_count == 0


@pytest.mark.skipif(
    sys.version_info >= (3, 12),
    reason="from 3.12 a collection runs between bytecodes, not at an allocation",
)
@pytest.mark.parametrize("action", ["stop_input", "disconnect"])
def test_no_on_message_after_a_stop_made_while_its_arguments_were(make_server, action):
    # Before Python 3.12 a garbage collection runs when an object is
    # allocated: while the callback thread makes an on_message call's
    # arguments, finalizers (Python code) can run, and so can other threads.
    # A stop_input() (or a kick of that client) made there must still keep
    # that on_message from being called: it is looked at again once the
    # arguments are made.
    server = make_server(framing="lines")
    handed: list[bytes] = []
    done = threading.Event()
    speaker: list[tcphub.Client] = []

    class Stops:
        me: object = None

        def __del__(self) -> None:
            if action == "stop_input":
                server.stop_input()
            else:
                server.disconnect(speaker[0])
            done.set()

    @server.on_message
    def on_message(client: tcphub.Client, data: bytes) -> None:
        handed.append(data)
        if data == b"first":
            speaker.append(client)
            garbage = Stops()
            garbage.me = garbage  # a cycle: only a collection finalizes it
            # Collect at the next allocation of a tracked object: the first
            # such once this returns (and the cycle is garbage, still in the
            # youngest generation) is of the next call's arguments (the test
            # thread allocates nothing while it waits).
            gc.set_threshold(1)

    thresholds = gc.get_threshold()
    gc.collect()
    server.start()
    s = connect(server)
    try:
        s.sendall(b"first\nsecond\n")
        assert done.wait(WAIT), "the cycle was collected"
    finally:
        gc.set_threshold(*thresholds)
    server.stop()
    assert handed == [b"first"]
    s.close()
