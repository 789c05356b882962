"""A review of asyncio with pauses (pull mode): ``aevents()`` waiting
through ``pause_input()`` / ``pause_client()`` and their resumes, from
coroutines and from other threads; what a pause still hands out; a stop
while paused. No defect was found here: these pin what was checked."""

from __future__ import annotations

import asyncio
import random
import socket
import threading
import time
from typing import Dict, List, Tuple

import tcphub

from conftest import WAIT, wait_until


def _server(**kw: object) -> tcphub.TcpServer:
    return tcphub.TcpServer(0, 20, framing="lines", bind="127.0.0.1", **kw).start()  # type: ignore[arg-type]


def _send_in_background(sock: socket.socket, data: bytes) -> None:
    threading.Thread(target=sock.sendall, args=(data,), daemon=True).start()


async def _until(pred, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + WAIT
    while not pred():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.005)


def test_a_resume_from_another_thread_wakes_a_waiting_aevents() -> None:
    server = _server()

    async def main() -> List[tcphub.Event]:
        got: List[tcphub.Event] = []

        async def consume() -> None:
            async for ev in server.aevents():
                got.append(ev)

        task = asyncio.create_task(consume())
        with socket.create_connection(("127.0.0.1", server.port), timeout=WAIT) as c:
            await _until(lambda: len(got) == 1, "the connect")
            pause = threading.Thread(target=server.pause_input)
            pause.start()
            pause.join()
            c.sendall(b"a\nb\n")
            # Paused: nothing more comes while the consumer waits.
            await asyncio.sleep(0.2)
            assert len(got) == 1, got
            resume = threading.Thread(target=server.resume_input)
            resume.start()
            resume.join()
            await _until(lambda: len(got) == 3, "the messages after the resume")
            # A stop while paused and waiting ends the iteration.
            server.pause_input()
            c.sendall(b"c\n")
            await server.astop()
            await asyncio.wait_for(task, WAIT)
        return got

    got = asyncio.run(main())
    assert [e.kind for e in got] == ["connect", "message", "message", "disconnect"]
    assert [e.data for e in got[1:3]] == [b"a", b"b"]
    assert got[3].reason == "server stopped"


def test_pause_client_per_client_work_queues_from_the_consuming_task() -> None:
    # The work-queue pattern in pull mode: the consuming task pauses a
    # client whose queue reached its bound, its worker task resumes it
    # (from the loop or from a thread) once caught up. Every message
    # comes, in order, and nothing hangs; a small event queue makes the
    # I/O threads stall on it too.
    server = _server(event_capacity=16, threads=2)
    n, clients, limit = 3000, 6, 4
    rng = random.Random(7)

    async def main() -> Dict[int, List[int]]:
        queues: Dict[int, "asyncio.Queue[Tuple[int, int]]"] = {}
        seen: Dict[int, List[int]] = {}
        total = [0]
        done = asyncio.Event()

        async def worker(cid: int) -> None:
            q = queues[cid]
            while True:
                k, i = await q.get()
                seen.setdefault(k, []).append(i)
                total[0] += 1
                if total[0] == n * clients:
                    done.set()
                if q.qsize() <= limit // 2:
                    if rng.random() < 0.5:
                        server.resume_client(cid)
                    else:
                        await asyncio.to_thread(server.resume_client, cid)
                if rng.random() < 0.1:
                    await asyncio.sleep(0.001)

        async def consume() -> None:
            async for ev in server.aevents(max_batch=5):
                if ev.kind == "connect":
                    queues[ev.client.id] = asyncio.Queue()
                    asyncio.create_task(worker(ev.client.id))
                elif ev.kind == "message":
                    q = queues[ev.client.id]
                    k, i = map(int, ev.data.split())
                    q.put_nowait((k, i))
                    if q.qsize() >= limit:
                        server.pause_client(ev.client)

        task = asyncio.create_task(consume())
        socks = [socket.create_connection(("127.0.0.1", server.port), timeout=WAIT) for _ in range(clients)]
        try:
            for k, s in enumerate(socks):
                _send_in_background(s, b"".join(b"%d %d\n" % (k, i) for i in range(n)))
            await asyncio.wait_for(done.wait(), WAIT)
        finally:
            await server.astop()
            await asyncio.wait_for(task, WAIT)
            for s in socks:
                s.close()
        return seen

    seen = asyncio.run(main())
    assert sorted(seen) == list(range(clients))
    for k in seen:
        assert seen[k] == list(range(n)), k


def test_a_pause_in_pull_mode_still_hands_out_the_queue_and_the_rest_of_a_read() -> None:
    # As documented: what a full queue holds, and the rest of the read
    # that filled it (at most 64 KiB of input per I/O thread), still comes
    # after pause_input(); nothing more until the resume, which brings the
    # rest in order.
    capacity, lines = 32, 100_000
    server = _server(event_capacity=capacity, threads=1)
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=WAIT) as c:
            assert [e.kind for e in server.poll(1, timeout=WAIT)] == ["connect"]
            _send_in_background(c, b"".join(b"%07d\n" % i for i in range(lines)))  # 8 bytes each
            wait_until(lambda: server.pending_events >= capacity, what="a full queue")
            server.pause_input()
            taken: List[int] = []
            while True:
                evs = server.poll(256, timeout=1.0)
                if not evs:
                    break
                taken.extend(int(e.data) for e in evs if e.data is not None)
            # (A line cut by the read's end makes one more.)
            assert len(taken) <= capacity + 65536 // 8 + 1, len(taken)
            server.resume_input()
            while len(taken) < lines:
                evs = server.poll(256, timeout=WAIT)
                assert evs, f"only {len(taken)} of {lines} lines after the resume"
                taken.extend(int(e.data) for e in evs if e.data is not None)
            assert taken == list(range(lines))
    finally:
        server.stop()
