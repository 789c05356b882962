"""Floods: clients that send faster than the Python side takes what they
send. The bounded event queue (``event_capacity`` events and
``EVENT_QUEUE_BYTES`` of messages) must bound the server's memory — while
it is full the server stops reading and TCP pushes back on the senders —
and every message of a client that was not cut must arrive, in order.
Likewise a ``TcpClient`` flooded by its server stops reading while its own
queue is full.

Memory is the process's resident set (``VmRSS``), compared with a generous
bound derived from the configured bounds, never with a timing. Each flood
is several times that bound, so a side that read on without bound would
exceed it. The senders are threads of this process sending from sockets
(the kernel's buffers are not in the resident set)."""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
import time
from typing import Callable, Dict, List, Optional

import pytest

import tcphub
from conftest import WAIT, wait_until

MIB = 1 << 20

#: How long the senders get, once the queue is full and nobody takes from
#: it, to push more than the bound allows (a server that read on would take
#: all of a flood in a fraction of this). A slower machine only makes them
#: push less: the assertions do not depend on it.
STALL = 1.0


def rss() -> int:
    """This process's resident set, in bytes."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc/self/status")


class Peak:
    """The largest resident set seen since ``base`` was taken."""

    def __init__(self) -> None:
        self.base = rss()
        self.peak = self.base
        self.lock = threading.Lock()

    def sample(self) -> None:
        now = rss()
        with self.lock:
            self.peak = max(self.peak, now)

    @property
    def growth(self) -> int:
        return self.peak - self.base


def frame(sender: int, seq: int, size: int) -> bytes:
    """A length-framed message of ``size`` bytes naming its sender and its
    place in that sender's stream."""
    body = struct.pack(">IQ", sender, seq)
    return struct.pack(">I", size) + body + b"p" * (size - len(body))


def parse(data: bytes) -> "tuple[int, int]":
    sender, seq = struct.unpack(">IQ", data[:12])
    return sender, seq


class Flooder:
    """``count`` messages of ``size`` bytes (or the sizes ``sizes`` gives,
    by sequence number) sent as fast as a blocking socket takes them, then
    a half-close; on a thread of its own."""

    def __init__(self, port: int, sender: int, count: int,
                 size: Callable[[int], int], chunk: int = 256 * 1024,
                 sock: Optional[socket.socket] = None) -> None:
        if sock is None:
            sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        self.sock = sock
        self.sock.settimeout(None)
        self.sender, self.count, self.size, self.chunk = sender, count, size, chunk
        self.sent = 0  # messages handed to the kernel whole
        self.done = threading.Event()
        self.error: Optional[BaseException] = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> "Flooder":
        self.thread.start()
        return self

    def _run(self) -> None:
        try:
            seq = 0
            while seq < self.count:
                parts, n = [], 0
                while seq < self.count and (n == 0 or n + self.size(seq) <= self.chunk):
                    f = frame(self.sender, seq, self.size(seq))
                    parts.append(f)
                    n += len(f)
                    seq += 1
                self.sock.sendall(b"".join(parts))
                self.sent = seq
            self.sock.shutdown(socket.SHUT_WR)
        except BaseException as e:  # reported by the test
            self.error = e
        finally:
            self.done.set()

    def close(self) -> None:
        self.sock.close()
        self.thread.join(WAIT)


class Tally:
    """Checks each client's messages as they are taken: sender, order,
    size; and records each client's end."""

    def __init__(self, size: Callable[[int], int]) -> None:
        self.size = size
        self.next: Dict[int, int] = {}  # sender -> next sequence number
        self.senders: Dict[int, int] = {}  # client id -> sender
        self.ends: Dict[int, str] = {}  # sender -> disconnect reason
        self.connected = 0
        self.lock = threading.Lock()

    def message(self, client_id: int, data: bytes) -> None:
        sender, seq = parse(data)
        with self.lock:
            known = self.senders.setdefault(client_id, sender)
            assert known == sender, f"client {client_id} sent as {known}, now as {sender}"
            want = self.next.get(sender, 0)
            assert seq == want, f"sender {sender}: message {seq} came where {want} was due"
            assert len(data) == self.size(seq), f"sender {sender} message {seq}: {len(data)} bytes"
            self.next[sender] = seq + 1

    def event(self, ev: tcphub.Event) -> None:
        if ev.kind == "message":
            assert ev.data is not None
            self.message(ev.client.id, ev.data)
        elif ev.kind == "connect":
            with self.lock:
                self.connected += 1
        else:
            assert ev.reason is not None
            self.disconnect(ev.client.id, ev.reason)

    def disconnect(self, client_id: int, reason: str) -> None:
        with self.lock:
            sender = self.senders.get(client_id, -client_id)
            assert sender not in self.ends, f"two ends for sender {sender}"
            self.ends[sender] = reason


def queue_bound(capacity: int, size: int) -> int:
    """What a full event queue holds at most: ``capacity`` events, or
    ``EVENT_QUEUE_BYTES`` of messages plus one (any one message fits an
    empty queue), each with its bookkeeping (a few hundred bytes, counted
    generously)."""
    return min(capacity * (size + 512), tcphub.EVENT_QUEUE_BYTES + size + 512)


def flood_bound(capacity: int, size: int, clients: int) -> int:
    """A generous bound on what a flood may add to the resident set: the
    queue twice over (a batch taken out of it by the consumer, and the queue
    refilled meanwhile), per client a frame being decoded plus one waiting
    for room and the sender's chunk, and 48 MiB for the rest (allocator
    slack, thread stacks)."""
    return 2 * queue_bound(capacity, size) + clients * 3 * max(size, 256 * 1024) + 48 * MIB


def stall_then_check(flooders: List[Flooder], peak: Peak, bound: int,
                     queue_full: Callable[[], bool]) -> None:
    """Nobody takes from the queue: once it is full (``queue_full``), the
    senders get ``STALL`` seconds more; then none of them may have sent its
    whole flood, and the resident set has stayed within ``bound``."""
    wait_until(queue_full, what="the event queue to fill")
    deadline = time.monotonic() + STALL
    while time.monotonic() < deadline and not all(f.done.is_set() for f in flooders):
        peak.sample()
        time.sleep(0.01)
    peak.sample()
    for f in flooders:
        assert f.error is None, f"sender {f.sender}: {f.error!r}"
    assert not any(f.done.is_set() for f in flooders), (
        "a sender got its whole flood out while nobody took from the queue: "
        f"sent {[f.sent for f in flooders]} of {flooders[0].count}"
    )
    assert peak.growth <= bound, f"resident set grew {peak.growth / MIB:.1f} MiB (bound {bound / MIB:.1f} MiB)"


def finish_flood(flooders: List[Flooder], tally: Tally, peak: Peak, bound: int,
                 server: tcphub.TcpServer) -> None:
    """After the consumer took everything: every sender's messages came,
    all of them, each client ended cleanly once, nothing was dropped or cut,
    and the resident set stayed within ``bound`` throughout."""
    for f in flooders:
        assert f.done.wait(WAIT), f"sender {f.sender} did not finish"
        assert f.error is None, f"sender {f.sender}: {f.error!r}"
        assert tally.next.get(f.sender, 0) == f.count, (
            f"sender {f.sender}: {tally.next.get(f.sender, 0)} of {f.count} messages"
        )
        assert tally.ends.get(f.sender) == "closed by peer", tally.ends
    st = server.stats()
    assert (st.slow_consumers, st.dropped, st.frame_too_large, st.idle_timeouts) == (0, 0, 0, 0), st
    assert peak.growth <= bound, f"resident set grew {peak.growth / MIB:.1f} MiB (bound {bound / MIB:.1f} MiB)"


CLIENTS = 4
SMALL = 16 * 1024
#: Each sender's flood: 64 MiB, 256 MiB in all, several times the bound.
SMALL_COUNT = 64 * MIB // SMALL
CAPACITY = 256


def fixed(size: int) -> Callable[[int], int]:
    return lambda _seq: size


def start_flood(make_server, *, capacity: int, size: Callable[[int], int], count: int,
                max_len: Optional[int] = None, clients: int = CLIENTS, callbacks=None,
                **kw):
    server = make_server(framing="length", event_capacity=capacity, threads=2,
                         max_len=max_len, **kw)
    tally = Tally(size)
    if callbacks is not None:
        callbacks(server, tally)
    server.start()
    flooders = [Flooder(server.port, i, count, size) for i in range(clients)]
    return server, tally, flooders


@pytest.mark.parametrize("consumer", ["poll", "iterator", "aevents"])
def test_pull_mode_flood_is_bounded_and_loses_nothing(make_server, consumer):
    size = fixed(SMALL)
    server, tally, flooders = start_flood(make_server, capacity=CAPACITY, size=size,
                                          count=SMALL_COUNT)
    peak = Peak()
    bound = flood_bound(CAPACITY, SMALL, CLIENTS)
    try:
        for f in flooders:
            f.start()
        stall_then_check(flooders, peak, bound, lambda: server.pending_events >= CAPACITY)
        ended = lambda: len(tally.ends) == CLIENTS  # noqa: E731
        taken = 0

        def take(ev: tcphub.Event) -> None:
            nonlocal taken
            tally.event(ev)
            taken += 1
            if taken % 64 == 0:
                peak.sample()

        deadline = time.monotonic() + WAIT
        if consumer == "poll":
            while not ended() and time.monotonic() < deadline:
                for ev in server.poll(64, timeout=1.0):
                    take(ev)
        elif consumer == "iterator":
            for ev in server.events(timeout=WAIT, max_batch=64):
                take(ev)
                if ended():
                    break
        else:
            async def consume() -> None:
                async for ev in server.aevents(max_batch=64):
                    take(ev)
                    if taken % 16 == 0:
                        await asyncio.sleep(0)  # other tasks run meanwhile
                    if ended():
                        break

            asyncio.run(asyncio.wait_for(consume(), WAIT))
        finish_flood(flooders, tally, peak, bound, server)
    finally:
        for f in flooders:
            f.close()


def test_callback_mode_flood_with_a_slow_on_message_is_bounded_and_loses_nothing(make_server):
    size = fixed(SMALL)
    gate = threading.Event()
    peak_box: List[Peak] = []
    errors: List[BaseException] = []

    def callbacks(server: tcphub.TcpServer, tally: Tally) -> None:
        count = 0

        @server.on_message
        def on_message(client: tcphub.Client, data: bytes) -> None:
            nonlocal count
            gate.wait(WAIT)  # slow: held until the queue behind it is full
            tally.message(client.id, data)
            count += 1
            if count % 64 == 0:
                peak_box[0].sample()

        @server.on_disconnect
        def on_disconnect(client: tcphub.Client, reason: str) -> None:
            tally.disconnect(client.id, reason)

        @server.on_error
        def on_error(exc: BaseException, ev: tcphub.Event) -> None:
            errors.append(exc)

    server, tally, flooders = start_flood(make_server, capacity=CAPACITY, size=size,
                                          count=SMALL_COUNT, callbacks=callbacks)
    peak = Peak()
    peak_box.append(peak)
    bound = flood_bound(CAPACITY, SMALL, CLIENTS)
    try:
        for f in flooders:
            f.start()
        # The callback thread holds its batch; the queue behind it fills.
        stall_then_check(flooders, peak, bound, lambda: server.pending_events >= CAPACITY)
        gate.set()
        wait_until(lambda: len(tally.ends) == CLIENTS or bool(errors), what="every client's end")
        assert errors == []
        finish_flood(flooders, tally, peak, bound, server)
    finally:
        gate.set()
        for f in flooders:
            f.close()


#: Messages near the largest frame: max_len itself, and a byte short of it.
LARGE_MAX = 2 * MIB


def near_max(seq: int) -> int:
    return LARGE_MAX - (seq % 2)


def test_flood_of_messages_near_max_len_is_bounded_by_the_queue_bytes(make_server):
    # The default event_capacity: here the 64 MiB of EVENT_QUEUE_BYTES bind.
    # One more client sends a few good frames, then one a byte over max_len:
    # it alone is cut, after its good ones; the others lose nothing.
    count = 96  # 192 MiB each
    capacity = tcphub.DEFAULT_EVENT_CAPACITY
    server, tally, flooders = start_flood(make_server, capacity=capacity, size=near_max,
                                          count=count, max_len=LARGE_MAX, clients=3)
    peak = Peak()
    bound = flood_bound(capacity, LARGE_MAX, 4)
    bad = socket.create_connection(("127.0.0.1", server.port), timeout=WAIT)
    try:
        bad.sendall(b"".join(frame(99, i, near_max(i)) for i in range(3)))
        bad.sendall(struct.pack(">I", LARGE_MAX + 1) + b"x" * 1024)
        for f in flooders:
            f.start()
        # Full by its bytes: no room for one more message near max_len.
        msgs = lambda: server.stats().msgs_in  # noqa: E731
        stall_then_check(flooders, peak, bound,
                         lambda: server.pending_events >= tcphub.EVENT_QUEUE_BYTES // LARGE_MAX - 1
                         and msgs() >= tcphub.EVENT_QUEUE_BYTES // LARGE_MAX)
        for ev in server.events(timeout=WAIT):
            tally.event(ev)
            peak.sample()
            if len(tally.ends) == 4:
                break
        assert tally.next.get(99) == 3, tally.next
        assert tally.ends.get(99) == "frame too large", tally.ends
        del tally.ends[99]
        st = server.stats()
        assert st.frame_too_large == 1, st
        for f in flooders:
            assert f.done.wait(WAIT)
            assert tally.next.get(f.sender, 0) == count, tally.next
            assert tally.ends.get(f.sender) == "closed by peer", tally.ends
        assert (st.slow_consumers, st.dropped) == (0, 0), st
        assert peak.growth <= bound, f"resident set grew {peak.growth / MIB:.1f} MiB (bound {bound / MIB:.1f} MiB)"
    finally:
        bad.close()
        for f in flooders:
            f.close()


class FloodingPeer:
    """A plain server socket whose one client gets ``count`` length-framed
    messages (sizes by ``size``) as fast as a blocking socket takes them,
    then the end (a half-close)."""

    def __init__(self, count: int, size: Callable[[int], int]) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1)
        self.port = self.listener.getsockname()[1]
        self.count, self.size = count, size
        self.flooder: Optional[Flooder] = None
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        self.listener.settimeout(WAIT)
        conn, _ = self.listener.accept()
        self.flooder = Flooder(0, 0, self.count, self.size, sock=conn)
        self.ready.set()
        self.flooder._run()

    def close(self) -> None:
        self.listener.close()
        if self.flooder is not None:
            self.flooder.sock.close()
        self.thread.join(WAIT)


@pytest.mark.parametrize("size,count,capacity,consumer", [
    (SMALL, 64 * MIB * 3 // SMALL, CAPACITY, "iterator"),  # the event count binds
    (SMALL, 64 * MIB * 3 // SMALL, CAPACITY, "async for"),
    (None, 160, tcphub.DEFAULT_EVENT_CAPACITY, "iterator"),  # near max_len: the bytes bind
], ids=["small", "small-async", "near-max-len"])
def test_client_flooded_faster_than_python_reads_is_bounded(size, count, capacity, consumer):
    sizes = fixed(size) if size is not None else near_max
    biggest = size if size is not None else LARGE_MAX
    peer = FloodingPeer(count, sizes)
    peak = Peak()
    bound = flood_bound(capacity, biggest, 1)
    client = tcphub.TcpClient("127.0.0.1", peer.port, framing="length",
                              max_len=LARGE_MAX, event_capacity=capacity)
    try:
        assert peer.ready.wait(WAIT)
        f = peer.flooder
        assert f is not None
        # Nobody reads: the client's queue fills, then it stops reading.
        # (No count of its queue to wait for: the sender's progress stops.)
        deadline = time.monotonic() + STALL + 1.0
        while time.monotonic() < deadline and not f.done.is_set():
            peak.sample()
            time.sleep(0.01)
        peak.sample()
        assert f.error is None, repr(f.error)
        assert not f.done.is_set(), f"the whole flood ({f.sent} messages) got out: nobody reads"
        assert peak.growth <= bound, f"resident set grew {peak.growth / MIB:.1f} MiB (bound {bound / MIB:.1f} MiB)"
        tally = Tally(sizes)
        taken = 0

        def take(data: bytes) -> None:
            nonlocal taken
            tally.message(1, data)
            taken += 1
            if taken % 16 == 0:
                peak.sample()

        if consumer == "iterator":
            for data in client:
                take(data)
        else:
            async def consume() -> None:
                async for data in client:
                    take(data)

            asyncio.run(asyncio.wait_for(consume(), WAIT))
        assert f.done.wait(WAIT)
        assert tally.next.get(0) == count, tally.next
        assert client.disconnect_reason == "closed by peer"
        assert peak.growth <= bound, f"resident set grew {peak.growth / MIB:.1f} MiB (bound {bound / MIB:.1f} MiB)"
    finally:
        client.close()
        peer.close()


def test_pull_mode_stop_under_a_flood_leaves_each_client_a_prefix_and_one_end(make_server):
    # stop() while the queue is full and the senders are held back: what
    # was queued is still taken after it, each client's messages a prefix
    # of what it sent (none skipped), then its one disconnect.
    size = fixed(SMALL)
    server, tally, flooders = start_flood(make_server, capacity=CAPACITY, size=size,
                                          count=SMALL_COUNT)
    try:
        for f in flooders:
            f.start()
        wait_until(lambda: server.pending_events >= CAPACITY, what="the event queue to fill")
        assert server.stop(timeout=WAIT)
        with pytest.raises(tcphub.NotRunning):
            while True:
                for ev in server.poll(64, timeout=WAIT):
                    tally.event(ev)
        assert tally.connected == CLIENTS
        assert sum(tally.next.values()) > 0
        assert len(tally.ends) == CLIENTS, tally.ends
        assert set(tally.ends.values()) == {"server stopped"}, tally.ends
    finally:
        for f in flooders:
            f.close()


def test_callback_mode_stop_under_a_flood_hands_out_no_more_messages(make_server):
    # stop() while a slow on_message holds a full queue up: the callback
    # running finishes, no other message reaches on_message (those queued
    # for it are dropped, as stop() says), and every client gets its one
    # on_disconnect.
    size = fixed(SMALL)
    gate = threading.Event()
    after_stop: List[int] = []
    stopping = threading.Event()
    entered = threading.Event()

    def callbacks(server: tcphub.TcpServer, tally: Tally) -> None:
        @server.on_message
        def on_message(client: tcphub.Client, data: bytes) -> None:
            was_stopping = stopping.is_set()
            entered.set()
            gate.wait(WAIT)
            tally.message(client.id, data)
            if was_stopping:
                after_stop.append(client.id)

        @server.on_disconnect
        def on_disconnect(client: tcphub.Client, reason: str) -> None:
            tally.disconnect(client.id, reason)

    server, tally, flooders = start_flood(make_server, capacity=CAPACITY, size=size,
                                          count=SMALL_COUNT, callbacks=callbacks)
    stopper = threading.Thread(target=server.stop)
    try:
        for f in flooders:
            f.start()
        wait_until(lambda: server.pending_events >= CAPACITY, what="the event queue to fill")
        assert entered.wait(WAIT), "no message reached on_message"
        stopper.start()
        wait_until(lambda: not server.running, what="the stop to begin")
        stopping.set()
        gate.set()
        stopper.join(WAIT)
        assert not stopper.is_alive()
        assert sum(tally.next.values()) == 1, tally.next  # the one running
        assert after_stop == []
        assert len(tally.ends) == CLIENTS, tally.ends
        assert set(tally.ends.values()) == {"server stopped"}, tally.ends
    finally:
        gate.set()
        for f in flooders:
            f.close()


def test_a_batch_taken_by_an_iterator_is_not_counted_by_event_capacity(make_server):
    # event_capacity bounds the server's queue; the rest of a batch an
    # iterator took out of it waits besides (pending_events counts both),
    # so up to max_batch - 1 more events wait to be taken, never more.
    capacity, batch = 64, 64
    size = fixed(1024)
    server, tally, flooders = start_flood(make_server, capacity=capacity, size=size,
                                          count=60000, clients=2)
    try:
        for f in flooders:
            f.start()
        wait_until(lambda: server.pending_events >= capacity, what="the event queue to fill")
        it = server.events(timeout=WAIT, max_batch=batch)
        tally.event(next(it))  # takes a whole batch, hands out one
        wait_until(lambda: server.pending_events == capacity + batch - 1,
                   what="the queue to fill again behind the batch")
        assert not any(f.done.is_set() for f in flooders)
        for ev in it:
            assert server.pending_events <= capacity + batch - 1
            tally.event(ev)
            if len(tally.ends) == 2:
                break
        assert [tally.next.get(f.sender) for f in flooders] == [60000, 60000]
    finally:
        for f in flooders:
            f.close()


def read_all(sock: socket.socket, into: List[bytes]) -> None:
    """Reads ``sock`` to its end (or an error) into ``into``, one piece."""
    buf = bytearray()
    sock.settimeout(WAIT)
    try:
        while chunk := sock.recv(1 << 20):
            buf += chunk
    except OSError:
        pass
    into.append(bytes(buf))


def unframe(data: bytes) -> List[bytes]:
    out, pos = [], 0
    while pos + 4 <= len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        out.append(data[pos + 4:pos + 4 + n])
        pos += 4 + n
    return out


@pytest.mark.parametrize("mode", ["callback", "pull"])
def test_a_relay_under_a_flood_cuts_the_reader_that_stalls_and_loses_nothing_for_the_others(
        make_server, mode):
    # Senders flood a relay (on_message, or a poll() loop, sending each
    # message to the readers with send_many); one reader never reads and is
    # cut as a slow consumer; the others get every message, each sender's
    # in order.
    # 36 MB for each reader: past the stalled one's queue bound and kernel
    # buffers (at most 20 MiB), far past what a reader that reads falls
    # behind on a loaded machine.
    senders, count, size = 3, 60000, 200
    server = make_server(framing="length", threads=2, max_queue_bytes=16 * MIB)
    readers: List[int] = []
    ended: List[int] = []
    if mode == "callback":
        @server.on_message
        def relay(client: tcphub.Client, data: bytes) -> None:
            server.send_many(readers, data)

        @server.on_disconnect
        def gone(client: tcphub.Client, reason: str) -> None:
            if reason == "closed by peer":
                ended.append(client.id)
    server.start()
    got: List[List[bytes]] = [[] for _ in range(3)]
    socks = [socket.create_connection(("127.0.0.1", server.port), timeout=WAIT) for _ in got]
    stuck = socket.socket()
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stuck.connect(("127.0.0.1", server.port))
    wait_until(lambda: server.client_count == 4, what="the readers")
    readers.extend(c.id for c in server.clients())
    threads = [threading.Thread(target=read_all, args=(s, g)) for s, g in zip(socks, got)]
    for t in threads:
        t.start()
    flooders = [Flooder(server.port, i, count, fixed(size)) for i in range(senders)]
    try:
        for f in flooders:
            f.start()
        if mode == "pull":
            deadline = time.monotonic() + WAIT
            while len(ended) < senders and time.monotonic() < deadline:
                for ev in server.poll(256, timeout=1.0):
                    if ev.kind == "message":
                        server.send_many(readers, ev.data)  # type: ignore[arg-type]
                    elif ev.kind == "disconnect" and ev.reason == "closed by peer":
                        ended.append(ev.client.id)
        wait_until(lambda: len(ended) == senders, what="every sender's end")
        # (The cut comes when the stalled reader's loop gets the overflowing
        # message, possibly after the relay has sent it.)
        wait_until(lambda: server.stats().slow_consumers >= 1, what="the stalled reader's cut")
        assert server.stop(timeout=WAIT)
        assert server.stats().slow_consumers == 1
        for t in threads:
            t.join(WAIT)
        for i, g in enumerate(got):
            nxt: Dict[int, int] = {}
            for body in unframe(g[0]):
                sender, seq = parse(body)
                assert seq == nxt.get(sender, 0), f"reader {i}: sender {sender} {seq} for {nxt.get(sender, 0)}"
                nxt[sender] = seq + 1
            assert nxt == {s: count for s in range(senders)}, f"reader {i}: {nxt}"
    finally:
        stuck.close()
        for s in socks:
            s.close()
        for f in flooders:
            f.close()
