"""TcpClient.flush(), send(data, timeout=...) and close(timeout): waiting
for what was queued to be written, for room in the queue, and for the
close — against a server that does not read (a plain listening socket with
a small receive buffer), with the GIL released and Ctrl-C heard."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import pytest

import tcphub
from conftest import WAIT, wait_until
from test_review_interrupt import _run_until_interrupted

MSG = b"x" * (64 * 1024)
QUEUE = 256 * 1024


def _stalled(**kwargs):
    """A raw client with a small queue on a server that does not read, and
    the server's end of the connection."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    kwargs.setdefault("max_queue_bytes", QUEUE)
    client = tcphub.TcpClient("127.0.0.1", listener.getsockname()[1], **kwargs)
    conn, _ = listener.accept()
    listener.close()
    return client, conn


def _fill(client) -> int:
    """Sends until no room comes within a second: the system's buffers
    are full and the client cannot write. Returns the bytes sent."""
    sent = 0
    while True:
        try:
            client.send(MSG, timeout=1.0)
        except tcphub.QueueFull:
            break
        sent += len(MSG)
        assert sent < 1 << 30, "the queue never filled"
    assert client.queued_bytes > 0
    return sent


def _reader(conn) -> "tuple[threading.Thread, list[int]]":
    """Reads ``conn`` to its end on a thread; the list gets the byte count."""
    got: list[int] = []

    def read() -> None:
        n = 0
        conn.settimeout(WAIT)
        try:
            while chunk := conn.recv(1 << 16):
                n += len(chunk)
        except OSError:
            pass
        got.append(n)

    t = threading.Thread(target=read)
    t.start()
    return t, got


def test_flush_with_nothing_queued_returns_at_once(echo_server):
    with tcphub.TcpClient("127.0.0.1", echo_server.port, framing="lines") as client:
        assert client.flush() is None
        assert client.flush(0) is None
        client.send(b"ping")
        client.flush(timeout=WAIT)
        assert client.queued_bytes == 0
        assert client.recv(timeout=WAIT) == b"ping"


def test_flush_waits_until_the_server_reads():
    client, conn = _stalled()
    sent = _fill(client)
    with pytest.raises(tcphub.Timeout) as e:
        client.flush(timeout=0.05)
    assert isinstance(e.value, TimeoutError)
    reader, got = _reader(conn)
    client.flush(timeout=WAIT)
    assert client.queued_bytes == 0
    assert client.close() is True
    reader.join(WAIT)
    assert got == [sent]
    conn.close()


def test_send_with_a_timeout_waits_for_room():
    client, conn = _stalled()
    sent = _fill(client)
    with pytest.raises(tcphub.QueueFull):
        client.send(MSG)  # the default: never waits
    t0 = time.monotonic()
    with pytest.raises(tcphub.QueueFull) as timed_out:
        client.send(MSG, timeout=0.1)
    assert time.monotonic() - t0 >= 0.1
    # The last attempt's error, with its numbers, as a send that does not
    # wait raises it.
    assert timed_out.value.limit == QUEUE and timed_out.value.queued > 0
    reader, got = _reader(conn)
    client.send(MSG, timeout=WAIT)
    client.send(MSG, timeout=None)
    client.close()
    reader.join(WAIT)
    assert got == [sent + 2 * len(MSG)]
    conn.close()


def _tcp_wmem_max() -> int:
    try:
        with open("/proc/sys/net/ipv4/tcp_wmem") as f:
            return max(int(v) for v in f.read().split())
    except (OSError, ValueError):
        return 4 << 20


def test_flush_does_not_wait_for_what_is_sent_after_it():
    # The wait runs in slices (for Ctrl-C): each must wait for what was
    # queued at the call, not for what was queued since. What is sent
    # after the call is more than the system can buffer, and the server
    # reads only what was sent before it: a flush waiting for the later
    # messages would time out.
    later = 16 << 20
    if _tcp_wmem_max() > 8 << 20:
        pytest.skip("net.ipv4.tcp_wmem allows more send buffer than this test sends")
    client, conn = _stalled(max_queue_bytes=32 << 20, linger=0.1)
    chunk = b"c" * (1 << 20)
    for _ in range(8):
        client.send(chunk)
    before = 8 << 20
    result: list[object] = []
    calling = threading.Event()

    def flush() -> None:
        calling.set()
        try:
            client.flush(timeout=10.0)
            result.append("ok")
        except tcphub.TcpHubError as e:
            result.append(e)

    flusher = threading.Thread(target=flush)
    flusher.start()
    # The flush must have taken its mark before the later sends, however
    # late a loaded machine starts the thread.
    assert calling.wait(WAIT)
    time.sleep(0.3)  # pacing: a few of the flush's wait slices pass
    for _ in range(later // len(chunk)):
        client.send(chunk)
    time.sleep(0.3)  # pacing: and a few more after those sends
    conn.settimeout(WAIT)
    got = 0
    while got < before:
        got += len(conn.recv(min(1 << 16, before - got)))
    flusher.join(WAIT)
    assert result == ["ok"]
    client.close(timeout=0)
    conn.close()


def test_waits_release_the_gil():
    client, conn = _stalled()
    _fill(client)
    ticks = 0
    stop = threading.Event()

    def tick() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            time.sleep(0.001)

    t = threading.Thread(target=tick)
    t.start()
    try:
        before = ticks
        with pytest.raises(tcphub.Timeout):
            client.flush(timeout=0.3)
        with pytest.raises(tcphub.QueueFull):
            client.send(MSG, timeout=0.3)
        assert ticks > before
    finally:
        stop.set()
        t.join()
    conn.close()
    client.close(timeout=WAIT)


def test_flush_and_send_end_when_the_connection_is_lost_for_good():
    client, conn = _stalled()
    _fill(client)
    errors: list[BaseException] = []

    def send_waiting() -> None:
        try:
            client.send(MSG, timeout=WAIT)
        except tcphub.TcpHubError as e:
            errors.append(e)

    sender = threading.Thread(target=send_waiting)
    sender.start()
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    conn.close()  # a reset: the messages are dropped, no reconnect
    t0 = time.monotonic()
    with pytest.raises(tcphub.NotRunning):
        client.flush(timeout=WAIT)
    assert time.monotonic() - t0 < WAIT / 2
    sender.join(WAIT)
    assert len(errors) == 1 and isinstance(errors[0], tcphub.NotRunning)


def test_close_with_a_timeout_says_whether_it_closed():
    client, conn = _stalled(linger=600.0)
    sent = _fill(client)
    assert client.close(timeout=0.05) is False  # still flushing
    assert not client.is_open
    assert client.close(0) is False
    reader, got = _reader(conn)
    assert client.close(timeout=WAIT) is True
    assert client.close() is True  # closed stays closed
    reader.join(WAIT)
    assert got == [sent]
    conn.close()
    with pytest.raises(tcphub.InvalidConfig):
        client.close(timeout=-1)


def test_async_with_still_raises_what_its_body_raised(echo_server):
    # `aclose()` (which `__aexit__` returns) must not give close()'s True.
    async def body() -> None:
        async with tcphub.TcpClient("127.0.0.1", echo_server.port, framing="lines") as c:
            raise ValueError("from the body")

    with pytest.raises(ValueError, match="from the body"):
        asyncio.run(body())

    async def bounded() -> None:
        c = tcphub.TcpClient("127.0.0.1", echo_server.port, framing="lines")
        assert await c.aclose(timeout=WAIT) is True
        assert await c.aclose() is True  # closed stays closed

    asyncio.run(bounded())


@pytest.mark.parametrize("call", ["client.flush()", "client.send(b'z' * 65536, timeout=None)"])
def test_ctrl_c_interrupts_the_wait(call):
    out, err, code = _run_until_interrupted(
        f"""
        lst = socket.create_server(("127.0.0.1", 0))
        lst.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        client = tcphub.TcpClient("127.0.0.1", lst.getsockname()[1], linger=0.1,
                                  max_queue_bytes=256 << 10)
        conn, _ = lst.accept()
        while True:
            try:
                client.send(b"y" * 65536, timeout=0.5)
            except tcphub.QueueFull:
                break
        def wait():
            {call}
        watcher = announce_when_in(wait)
        try:
            wait()
            print("wait returned", flush=True)
        except KeyboardInterrupt:
            print("wait interrupted", flush=True)
        watcher.join()
        print("done", flush=True)
        """
    )
    assert out.split() == ["wait", "interrupted", "done"], err
    assert code == 0, err
