"""TcpClient(write_after_server_eof=...) and TcpClient.unsent against a
plain server that does not read: by default (``write_after_server_eof=False``)
the server's end-of-stream (``shutdown(SHUT_WR)``) ends the client at once —
closed by peer, not after the linger time — and the messages still queued
are dropped and counted as unsent; with ``True`` they are still written
after it, and nothing is unsent once the server has read them."""

from __future__ import annotations

import asyncio
import inspect
import socket
import struct
import threading
import time

import pytest

import tcphub
from conftest import WAIT, wait_until

MSG = b"q" * (64 * 1024)
FRAME = 4 + len(MSG)  # length framing: a 4-byte length, then the bytes


def _stuck(write_after_server_eof: "bool | None", via_aconnect: bool = False):
    """A length-framed client (linger far beyond any wait here) on a server
    that does not read, its queue filled: messages sent until ``QueueFull``.
    Made by ``TcpClient(...)`` or ``await TcpClient.aconnect(...)``, with
    ``write_after_server_eof`` passed unless it is None.
    Returns the client, the server's end and how many ``send`` accepted."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    args = ("127.0.0.1", listener.getsockname()[1])
    # max_queue_bytes well past what the kernel's buffers take (tcp_wmem's 4 MiB
    # by default): messages stay queued once the queue is full.
    kwargs: "dict[str, object]" = dict(
        framing="length",
        linger=600.0,
        max_queue_bytes=16 << 20,
    )
    if write_after_server_eof is not None:
        kwargs["write_after_server_eof"] = write_after_server_eof
    if via_aconnect:

        async def aconnect() -> tcphub.TcpClient:
            return await tcphub.TcpClient.aconnect(*args, **kwargs)

        client = asyncio.run(aconnect())
    else:
        client = tcphub.TcpClient(*args, **kwargs)
    conn, _ = listener.accept()
    listener.close()
    sent = 0
    while True:
        try:
            client.send(MSG)
        except tcphub.QueueFull:
            break
        sent += 1
        assert sent < 10_000, "the queue never filled"
    # The socket buffers are full and the rest waits in the queue.
    wait_until(lambda: client.queued_bytes > 0, what="the queue to stay non-empty")
    assert client.is_open
    assert client.unsent == 0, "nothing is unsent while the client is open"
    return client, conn, sent


def _reset(conn: socket.socket) -> None:
    """Closes the server's end with a reset: a client still writing (a
    failed test) ends at once, so its ``close()`` does not wait out the
    linger time."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def _end_of(client: tcphub.TcpClient) -> "str | None":
    """Waits (bounded: ``Timeout`` otherwise) for the client's end."""
    assert client.recv(timeout=WAIT) is None
    assert not client.is_open
    return client.disconnect_reason


def test_the_default_is_false_in_both_signatures():
    for f in (tcphub.TcpClient, tcphub.TcpClient.aconnect):
        assert inspect.signature(f).parameters["write_after_server_eof"].default is False


@pytest.mark.parametrize("setting", [None, False], ids=["default", "False"])
@pytest.mark.parametrize("via_aconnect", [False, True], ids=["TcpClient", "aconnect"])
def test_the_servers_end_of_stream_drops_the_queue_and_counts_it(setting, via_aconnect):
    client, conn, sent = _stuck(setting, via_aconnect)
    try:
        started = time.monotonic()
        conn.shutdown(socket.SHUT_WR)  # EOF to the client
        # At once, not after the linger time (10 minutes here).
        assert _end_of(client) == "closed by peer"
        assert time.monotonic() - started < WAIT
        unsent = client.unsent
        assert isinstance(unsent, int)
        assert 0 < unsent <= sent, f"{unsent} unsent of {sent} accepted"
        assert client.queued_bytes == 0
        # What the server reads now is what was written before the end:
        # whole frames, the rest unsent. (A message cut off in the middle
        # resets the connection instead; then its bytes are not all there.)
        conn.settimeout(WAIT)
        got = 0
        try:
            while chunk := conn.recv(1 << 16):
                got += len(chunk)
        except ConnectionResetError:
            pass
        else:
            assert got % FRAME == 0, "a partial frame ended with a clean FIN"
            assert got // FRAME + unsent == sent
        client.close()
        assert client.unsent == unsent  # ended: it stays
    finally:
        _reset(conn)
        client.close()


def test_with_true_the_queue_is_still_written_after_the_servers_end_of_stream():
    client, conn, sent = _stuck(True)
    try:
        conn.shutdown(socket.SHUT_WR)
        got: "list[int]" = []

        def read() -> None:
            n = 0
            conn.settimeout(WAIT)
            while chunk := conn.recv(1 << 16):
                n += len(chunk)
            got.append(n)

        t = threading.Thread(target=read)
        t.start()
        assert _end_of(client) == "closed by peer"
        t.join(WAIT)
        assert not t.is_alive()
        assert got == [sent * FRAME]
        assert client.unsent == 0
    finally:
        _reset(conn)
        client.close()
