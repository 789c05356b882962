"""Pull mode: events() with a timeout, poll() batches, aevents() under asyncio."""

from __future__ import annotations

import asyncio
import socket
import threading

import pytest

import tcphub
from conftest import WAIT, connect, wait_until


def test_events_iterator_with_timeout(make_server):
    server = make_server(framing="lines").start()
    s = connect(server)
    s.sendall(b"one\ntwo\n")
    s.close()
    seen = []
    for event in server.events(timeout=WAIT):
        seen.append(event)
        if event.kind == "disconnect":
            break
    assert [e.kind for e in seen] == ["connect", "message", "message", "disconnect"]
    assert [e.data for e in seen[1:3]] == [b"one", b"two"]
    assert seen[3].reason == "closed by peer"
    assert seen[0].data is None and seen[0].reason is None
    assert len({e.client.id for e in seen}) == 1
    assert "kind='message'" in repr(seen[1])

    # Nothing more comes: the iteration ends after the timeout.
    assert list(server.events(timeout=0.1)) == []


def test_an_events_iterator_that_timed_out_stays_exhausted(make_server):
    # Python's iterator protocol: once __next__ has raised StopIteration it
    # must keep raising it. A timed-out events() iterator yielded again when
    # an event came later (a `for` loop resumed on it saw the "end" undone).
    server = make_server(framing="lines").start()
    events = server.events(timeout=0.05)
    assert list(events) == []  # timed out: exhausted
    s = connect(server)
    s.sendall(b"late\n")
    wait_until(lambda: server.client_count == 1, what="the client to connect")
    assert next(events, None) is None
    assert list(events) == []
    # Nothing is lost: a new iterator gets what came.
    fresh = server.events(timeout=WAIT)
    assert [next(fresh).kind, next(fresh).data] == ["connect", b"late"]
    s.close()
    # The same for an iterator that ended because the server stopped.
    server.stop()
    assert list(fresh)[-1].kind == "disconnect"
    assert next(fresh, None) is None


def test_events_iterator_ends_when_server_stops(make_server):
    server = make_server(framing="lines").start()
    s = connect(server)
    wait_until(lambda: server.client_count == 1)
    server.stop()
    kinds = [(e.kind, e.reason) for e in server.events()]  # no timeout: ends on stop
    assert kinds == [("connect", None), ("disconnect", "server stopped")]
    s.close()


def test_poll_takes_batches(make_server):
    server = make_server(framing="lines").start()
    s = connect(server)
    s.sendall(b"".join(b"m%d\n" % i for i in range(100)))
    got = []
    while len(got) < 101:
        batch = server.poll(32, timeout=WAIT)
        assert 1 <= len(batch) <= 32
        got.extend(batch)
    assert [e.data for e in got[1:]] == [b"m%d" % i for i in range(100)]
    assert server.poll(10, timeout=0.0) == []
    s.close()
    server.stop()
    assert [e.kind for e in server.poll(10)] == ["disconnect"]
    with pytest.raises(tcphub.NotRunning):
        server.poll(10, timeout=1.0)


def test_poll_replies_reach_a_client_that_half_closed(make_server):
    # The client sends its requests and shuts down its sending side; the
    # connection is held for the replies until the next poll().
    server = make_server(framing="lines").start()
    s = connect(server)
    s.sendall(b"".join(b"q%d\n" % i for i in range(50)))
    s.shutdown(socket.SHUT_WR)
    ended = False
    while not ended:
        for e in server.poll(timeout=WAIT):
            if e.kind == "message":
                server.send(e.client.id, b"re: " + e.data)
            ended = ended or e.kind == "disconnect"
    server.poll()  # dealt with: releases the connection
    s.settimeout(WAIT)
    got = b""
    while chunk := s.recv(65536):
        got += chunk
    assert got == b"".join(b"re: q%d\n" % i for i in range(50))
    s.close()


def test_aevents_with_a_real_event_loop(make_server):
    server = make_server(framing="lines").start()

    async def main():
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"hello from asyncio\n")
        await writer.drain()
        seen = []
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:  # the loop stays responsive while aevents() waits
                ticks += 1
                await asyncio.sleep(0.01)

        tick_task = asyncio.create_task(ticker())
        async for event in server.aevents():
            seen.append(event)
            if event.kind == "message":
                server.send(event.client.id, event.data.upper())
                assert await asyncio.wait_for(reader.readline(), WAIT) == b"HELLO FROM ASYNCIO\n"
                server.stop()
        tick_task.cancel()
        writer.close()
        return seen, ticks

    seen, ticks = asyncio.run(asyncio.wait_for(main(), WAIT))
    assert [(e.kind, e.reason) for e in seen] == [
        ("connect", None),
        ("message", None),
        ("disconnect", "server stopped"),
    ]
    assert ticks > 0


def test_aevents_cancellation_loses_no_event(make_server):
    server = make_server(framing="lines").start()

    async def first_event(timeout):
        async for event in server.aevents():
            return event
        return None

    async def main():
        # Cancel a consumer while it waits with nothing queued...
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(first_event(None), 0.05)
        s = connect(server)
        # ...then the event that arrives afterwards is still there for the next one.
        ev = await asyncio.wait_for(first_event(None), WAIT)
        s.close()
        return ev

    ev = asyncio.run(main())
    assert ev is not None and ev.kind == "connect"


def test_cancelled_aevents_waits_share_one_helper_thread(make_server):
    # A poll loop (`wait_for(<next of a new aevents()>, short)`) cancels a
    # wait each turn; each generator had a helper thread of its own, alive
    # until its wait ended (up to 0.25 s): they piled up. As TcpClient's
    # arecv(), the waits of a server now share the one in flight.
    server = make_server(framing="lines").start()

    async def first_event():
        async for event in server.aevents():
            return event
        return None

    async def main():
        base = threading.active_count()
        peak = 0
        for _ in range(200):
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(first_event(), 0.001)
            peak = max(peak, threading.active_count() - base)
        assert peak <= 3, peak
        s = connect(server)  # no event was lost to the cancellations
        ev = await asyncio.wait_for(first_event(), WAIT)
        s.close()
        return ev

    ev = asyncio.run(main())
    assert ev is not None and ev.kind == "connect"
    wait_until(lambda: not [t for t in threading.enumerate() if t.name.startswith("tcphub-")
                            and "aevents" in t.name])


def test_an_event_loop_closed_under_a_waiting_aevents_adds_no_error(make_server, unraisable):
    # A loop closed with a task still waiting in aevents() (run_until_complete
    # left by Ctrl-C, say): asyncio warns "Task was destroyed but it is
    # pending!" when it is collected, as for any task. Closing the wait
    # raised "RuntimeError: Event loop is closed" on top of that
    # (sys.unraisablehook, from the helper's finally).
    import gc

    server = make_server(framing="lines").start()

    async def consume():
        async for _ in server.aevents():
            pass

    loop = asyncio.new_event_loop()
    task = loop.create_task(consume())
    loop.run_until_complete(asyncio.sleep(0.1))  # the task waits by then
    loop.close()
    del task
    gc.collect()
    assert unraisable.seen == []


def test_aevents_leaving_mid_batch_loses_no_event(make_server):
    server = make_server(framing="lines").start()
    s = connect(server)
    s.sendall(b"a\nb\nc\n")
    wait_until(lambda: server.stats().msgs_in == 3, what="three messages in")

    async def first_event():
        async for event in server.aevents():
            return event  # leaves the iteration with the rest of a batch taken
        return None

    async def main():
        return [await asyncio.wait_for(first_event(), WAIT) for _ in range(4)]

    seen = asyncio.run(main())
    s.close()
    assert [(e.kind, e.data) for e in seen] == [
        ("connect", None),
        ("message", b"a"),
        ("message", b"b"),
        ("message", b"c"),
    ]


def test_aevents_leaves_the_default_executor_free(make_server):
    import concurrent.futures
    import time

    servers = [make_server().start() for _ in range(8)]

    async def consume(server):
        async for _ in server.aevents():
            pass

    async def main():
        loop = asyncio.get_running_loop()
        loop.set_default_executor(concurrent.futures.ThreadPoolExecutor(max_workers=2))
        tasks = [asyncio.create_task(consume(s)) for s in servers]
        await asyncio.sleep(0.3)  # every consumer waits for events now
        delays = []
        for _ in range(5):
            t0 = time.monotonic()
            await loop.run_in_executor(None, time.monotonic)  # as getaddrinfo does
            delays.append(time.monotonic() - t0)
        for s in servers:
            s.stop()
        await asyncio.wait_for(asyncio.gather(*tasks), WAIT)
        return delays

    delays = asyncio.run(main())
    # Idle consumers must not hold the executor's workers: with them queued
    # there, each call waited for several of their 0.25 s waits.
    assert min(delays) < 0.2, delays


def test_one_events_iterator_shared_by_two_threads(make_server):
    import threading

    server = make_server(framing="lines").start()
    # No timeout: the threads end at the stop below, once every event is
    # taken. (With one, a pause as long on a busy machine ended the shared
    # iterator for both threads before the disconnects came.)
    it = server.events(max_batch=1)
    taken = [[], []]
    errors = []

    def consume(mine):
        try:
            for event in it:
                mine.append(event)
        except Exception as e:  # e.g. RuntimeError('Already mutably borrowed')
            errors.append(e)

    threads = [threading.Thread(target=consume, args=(taken[i],)) for i in range(2)]
    for t in threads:
        t.start()
    socks = [connect(server) for _ in range(20)]
    for s in socks:
        s.sendall(b"hi\n")
    wait_until(lambda: sum(map(len, taken)) >= 40, what="40 events taken")
    assert errors == []
    for s in socks:
        s.close()
    wait_until(lambda: sum(map(len, taken)) >= 60, what="the 20 disconnects taken")
    server.stop()
    for t in threads:
        t.join(WAIT)
        assert not t.is_alive()
    assert errors == []
    # Every event went to exactly one of the threads: 20 connects, 20
    # messages, 20 disconnects.
    kinds = [e.kind for e in taken[0] + taken[1]]
    assert kinds.count("connect") == 20 and kinds.count("message") == 20
    assert kinds.count("disconnect") == 20


def test_a_huge_timeout_waits_instead_of_panicking(make_server):
    # sys.maxsize seconds ("forever") must not overflow the deadline: a
    # pyo3 PanicException is a BaseException that `except Exception` misses.
    import sys
    import threading

    server = make_server(framing="lines").start()
    forever = float(sys.maxsize)
    s = connect(server)
    assert server.poll(1, timeout=forever)[0].kind == "connect"
    s.sendall(b"hi\n")
    assert next(iter(server.events(timeout=forever))).data == b"hi"
    client = tcphub.TcpClient("127.0.0.1", server.port, framing="lines")
    assert server.poll(1, timeout=forever)[0].kind == "connect"
    server.send(server.clients()[-1].id, b"back")
    assert client.recv(timeout=forever) == b"back"
    threading.Timer(0.2, server.stop).start()
    assert server.wait(timeout=forever) is True
    client.close()
    s.close()


def test_leaving_an_events_loop_mid_batch_loses_no_event(make_server):
    # `for e in server.events(): ... break` must not drop the rest of the
    # batch the iterator took from the queue: the next consumer of the
    # server (events(), aevents(), poll()) gets it.
    server = make_server(framing="lines").start()
    s = connect(server)
    s.sendall(b"".join(b"m%d\n" % i for i in range(50)))
    wait_until(lambda: server.stats().msgs_in == 50, what="50 messages in")
    seen = []
    for event in server.events(timeout=WAIT):
        seen.append(event)
        break  # leaves with the rest of the batch taken
    it = server.events(timeout=WAIT)
    seen.append(next(it))
    del it  # dropped mid-batch as well

    async def one_async():
        async for event in server.aevents():
            return event
        return None

    seen.append(asyncio.run(asyncio.wait_for(one_async(), WAIT)))
    while len(seen) < 51:
        batch = server.poll(256, timeout=WAIT)
        assert batch, f"events lost: have {len(seen)} of 51"
        seen.extend(batch)
    assert seen[0].kind == "connect"
    assert [e.data for e in seen[1:]] == [b"m%d" % i for i in range(50)]
    s.close()


def test_wait_returns_once_the_stop_has_closed_the_clients(make_server):
    # wait() returned as soon as another thread's stop() began: without a
    # callback thread to wait for (pull mode) it did not wait for the event
    # loops to flush and close the clients, as the core's wait (and C's)
    # does. Here the flush waits out `linger` for a client that does not
    # read, and that client's "server stopped" was not there yet.
    server = make_server(framing="raw", linger=0.5, max_queue_bytes=64 << 20).start()
    s = connect(server)
    (joined,) = server.poll(1, timeout=WAIT)
    server.send(joined.client.id, b"x" * (32 << 20))  # more than the socket buffers take
    stopping = threading.Thread(target=server.stop)
    stopping.start()
    assert server.wait(WAIT)
    left = server.poll(10, timeout=0.0)
    stopping.join(WAIT)
    s.close()
    assert [(e.kind, e.reason) for e in left] == [("disconnect", "server stopped")]


def test_pending_events_counts_the_backlog(make_server):
    # Rust's events().len(): how many events wait to be taken. Each one
    # taken lowers it; those an iterator took in a batch and has not handed
    # out still count; those queued at a stop count until taken.
    server = make_server(framing="lines")
    assert server.pending_events == 0  # not started
    server.start()
    assert server.pending_events == 0
    s = connect(server)
    s.sendall(b"one\ntwo\nthree\n")
    wait_until(lambda: server.pending_events == 4, what="four events queued")
    assert server.poll(1)[0].kind == "connect"
    assert server.pending_events == 3
    events = server.events(timeout=WAIT, max_batch=256)
    assert next(events).data == b"one"  # took the batch, handed out one
    assert server.pending_events == 2
    assert [e.data for e in server.poll(1)] == [b"two"]
    assert server.pending_events == 1
    server.stop()
    assert server.pending_events == 2  # "three" and the disconnect
    assert [e.kind for e in server.events(timeout=WAIT)] == ["message", "disconnect"]
    assert server.pending_events == 0
    s.close()


def test_pending_events_with_callbacks_is_the_callback_backlog(make_server):
    server = make_server(framing="lines")
    release = threading.Event()
    got: list = []

    @server.on_message
    def slow(client, data):
        got.append(data)
        release.wait(WAIT)

    server.start()
    s = connect(server)
    s.sendall(b"one\n")
    wait_until(lambda: got == [b"one"], what="the first callback")
    s.sendall(b"two\nthree\n")  # the callback thread is busy: they wait
    wait_until(lambda: server.pending_events == 2, what="two events waiting")
    release.set()
    wait_until(lambda: server.pending_events == 0, what="the callbacks to catch up")
    s.close()
    server.stop()


# The default hold of a client that half-closed ends when the next event is
# asked for, by any path — also when that event comes from the batch the
# iterator took with the client's end (a review: the client stayed held
# until the batch was used up, or the linger time).


def _end_then_more(server):
    """b asks and half-closes, then c connects and writes: all queued
    before anyone takes (one batch). Returns (b, c)."""
    b = connect(server)
    b.sendall(b"q\n")
    b.shutdown(socket.SHUT_WR)
    wait_until(lambda: server.pending_events >= 3, what="b's 3 events")
    c = connect(server)
    c.sendall(b"x\n")
    wait_until(lambda: server.pending_events >= 5, what="5 events queued")
    return b, c


def _answer_then_eof(b: socket.socket) -> None:
    """b gets its answer, then the end (long before the 20 s linger)."""
    b.settimeout(5.0)
    got = b""
    while chunk := b.recv(65536):
        got += chunk
    assert got == b"answer\n"


def _end_of(ev, sock) -> bool:
    return ev.kind == "disconnect" and ev.client.port == sock.getsockname()[1]


def test_the_next_event_from_the_iterators_batch_releases_a_held_client(make_server):
    server = make_server(framing="lines", linger=20.0, threads=1).start()
    b, c = _end_then_more(server)
    events = server.events(timeout=WAIT)
    for ev in events:
        if _end_of(ev, b):
            server.send(ev.client, b"answer")
            break
    assert next(events).kind == "connect"  # asked for: b is let go
    _answer_then_eof(b)
    b.close()
    c.close()


def test_the_next_event_from_aevents_batch_releases_a_held_client(make_server):
    server = make_server(framing="lines", linger=20.0, threads=1).start()
    b, c = _end_then_more(server)

    async def main() -> "tcphub.Event":
        it = server.aevents()
        async for ev in it:
            if _end_of(ev, b):
                server.send(ev.client, b"answer")
                break
        return await it.__anext__()

    assert asyncio.run(main()).kind == "connect"
    _answer_then_eof(b)
    b.close()
    c.close()
