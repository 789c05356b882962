"""ReadyFd: a descriptor readable when events can be taken, and the asyncio
methods that wait on one (no thread per awaited server or client)."""

from __future__ import annotations

import asyncio
import gc
import os
import selectors
import threading
from typing import Any, Callable, List, Optional

import pytest

import tcphub
from conftest import WAIT, connect, wait_until


def readable(ready: tcphub.ReadyFd, timeout: float) -> bool:
    with selectors.DefaultSelector() as sel:
        sel.register(ready, selectors.EVENT_READ)
        return bool(sel.select(timeout))


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_a_server_s_descriptor_wakes_when_armed_and_not_before(make_server: Callable[..., tcphub.TcpServer]) -> None:
    server = make_server(framing="lines").start()
    with server.ready_fd() as ready:
        assert ready.arm() is True
        assert not readable(ready, 0.05)
        s = connect(server)
        assert readable(ready, WAIT)
        assert ready.arm() is False  # an event waits
        assert [e.kind for e in server.poll(timeout=0)] == ["connect"]
        assert ready.arm() is True
        s.sendall(b"hi\n")
        assert readable(ready, WAIT)
        assert [e.data for e in server.poll(timeout=0)] == [b"hi"]
        # Events taken in a batch but not handed out yet count as ready.
        s.sendall(b"a\nb\n")
        wait_until(lambda: server.stats().msgs_in == 3, what="both lines in")
        first = server._next_ready(256)  # takes both, hands out one
        assert first is not None and first.data == b"a"
        assert ready.arm() is False, "the second line waits among those taken"
        assert [e.data for e in server.poll(timeout=0)] == [b"b"]
        assert ready.arm() is True
        s.close()
        server.stop()
        assert readable(ready, WAIT)
        assert ready.arm() is False  # stopped: the takes answer at once
    assert ready.closed
    with pytest.raises(ValueError):
        ready.fileno()


def test_a_client_s_descriptor_wakes_for_a_message(echo_server: tcphub.TcpServer) -> None:
    with tcphub.TcpClient("127.0.0.1", echo_server.port, framing="lines") as client:
        ready = client.ready_fd()
        assert "ReadyFd(fd=" in repr(ready)
        assert ready.arm() is True
        client.send(b"ping")
        assert readable(ready, WAIT)
        assert client.recv(timeout=0) == b"ping"
        ready.close()
        ready.close()
        assert repr(ready) == "ReadyFd(closed)"


def test_a_callback_server_has_none(make_server: Callable[..., tcphub.TcpServer]) -> None:
    server = make_server(framing="lines")
    server.on_message(lambda c, d: None)
    server.start()
    with pytest.raises(RuntimeError):
        server.ready_fd()


def test_many_clients_awaited_at_once_start_no_thread(echo_server: tcphub.TcpServer) -> None:
    # Each awaited client had a helper thread waiting for it (50 here).
    clients = [tcphub.TcpClient("127.0.0.1", echo_server.port, framing="lines") for _ in range(50)]

    async def main() -> List[Optional[bytes]]:
        base = threading.active_count()
        waits = [asyncio.ensure_future(c.arecv(timeout=WAIT)) for c in clients]
        await asyncio.sleep(0.2)  # all of them waiting
        grown = threading.active_count() - base
        for i, c in enumerate(clients):
            c.send(b"m%d" % i)
        got = await asyncio.gather(*waits)
        assert grown <= 0, f"{grown} threads for 50 awaited clients"
        return got

    try:
        assert asyncio.run(main()) == [b"m%d" % i for i in range(50)]
    finally:
        for c in clients:
            c.close()


def test_several_tasks_awaiting_one_client_each_get_a_message(echo_server: tcphub.TcpServer) -> None:
    # One descriptor per client and loop, shared by the tasks: a task that
    # finds a message ready reads the descriptor, and the others must look
    # again rather than wait on a descriptor nobody armed.
    async def main() -> List[Optional[bytes]]:
        with tcphub.TcpClient("127.0.0.1", echo_server.port, framing="lines") as client:
            waits = [asyncio.ensure_future(client.arecv(timeout=WAIT)) for _ in range(4)]
            await asyncio.sleep(0.05)
            for i in range(4):
                client.send(b"m%d" % i)
                await asyncio.sleep(0.01)
            return sorted(await asyncio.gather(*waits))  # type: ignore[type-var]

    assert asyncio.run(main()) == [b"m0", b"m1", b"m2", b"m3"]


def test_two_event_loops_on_one_server_each_wait_on_their_own_descriptor(
    make_server: Callable[..., tcphub.TcpServer],
) -> None:
    server = make_server(framing="lines").start()
    got: List[str] = []
    lock = threading.Lock()

    async def consume() -> None:
        async for event in server.aevents(max_batch=1):
            with lock:
                got.append(event.kind)

    threads = [threading.Thread(target=asyncio.run, args=(consume(),)) for _ in range(2)]
    for t in threads:
        t.start()
    socks = [connect(server) for _ in range(20)]
    wait_until(lambda: got.count("connect") == 20, what="20 connects")
    for s in socks:
        s.close()
    wait_until(lambda: got.count("disconnect") == 20, what="20 disconnects")
    server.stop()
    for t in threads:
        t.join(WAIT)
        assert not t.is_alive(), "aevents() did not end at the stop"


def test_descriptors_go_with_their_clients(echo_server: tcphub.TcpServer) -> None:
    async def one() -> None:
        with tcphub.TcpClient("127.0.0.1", echo_server.port, framing="lines") as c:
            c.send(b"x")
            assert await c.arecv(timeout=WAIT) == b"x"

    asyncio.run(one())  # imports and first-use allocations
    gc.collect()
    before = open_fds()
    for _ in range(20):
        asyncio.run(one())
    gc.collect()
    wait_until(lambda: open_fds() <= before, what=f"fds back to {before} (now {open_fds()})")


def test_a_look_that_reads_the_descriptor_wakes_the_other_waits(echo_server: tcphub.TcpServer) -> None:
    # A message arrives while the loop is busy: the descriptor turns
    # readable unseen. Another await then arms (reading it), finds the
    # message and returns without taking it: the waiting task must look
    # again, or it sleeps on a descriptor nobody armed.
    import time

    from tcphub import _runtime

    async def main() -> Optional[bytes]:
        with tcphub.TcpClient("127.0.0.1", echo_server.port, framing="lines") as client:
            waiting = asyncio.ensure_future(client.arecv(timeout=WAIT))
            await asyncio.sleep(0.05)  # armed, waiting
            client.send(b"m0")
            time.sleep(0.5)  # the loop busy: the echo comes meanwhile
            await _runtime._await_ready(client, 0)  # ready at once
            return await asyncio.wait_for(waiting, 5)

    assert asyncio.run(main()) == b"m0"


def test_a_loop_closed_while_a_task_waits_lets_its_descriptor_go(
    echo_server: tcphub.TcpServer, make_server: Callable[..., tcphub.TcpServer]
) -> None:
    # From a review: a loop closed (not by asyncio.run) while a task waited
    # in arecv() or aevents() kept the loop, the task and the ReadyFd (two
    # descriptors) alive for good: 20 descriptors over 10 loops.
    pull = make_server(framing="lines").start()

    async def server_events() -> None:
        async for _ in pull.aevents():
            pass

    with tcphub.TcpClient("127.0.0.1", echo_server.port, framing="lines") as client:

        def once(waiter: Callable[[], Any]) -> None:
            loop = asyncio.new_event_loop()
            loop.set_exception_handler(lambda *_: None)  # "destroyed but pending"
            task = loop.create_task(waiter())
            loop.run_until_complete(asyncio.sleep(0.05))  # the task waits
            assert not task.done()
            loop.close()

        once(client.arecv)
        once(server_events)
        gc.collect()
        before = open_fds()
        for _ in range(10):
            once(client.arecv)
            once(server_events)
        gc.collect()
        wait_until(lambda: open_fds() <= before, what=f"fds back to {before} (now {open_fds()})")
