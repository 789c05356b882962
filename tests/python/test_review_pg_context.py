"""The context-manager protocol of ``TcpClient``, as ``TcpServer``'s and
a file's behave: entering an object closed by the application is a clear
error, not a block whose first use fails; the block's exception always
propagates."""

from __future__ import annotations

import asyncio

import pytest

import tcphub

from conftest import WAIT


def test_review_pg_entering_a_closed_client_raises(make_server):
    server = make_server().start()
    client = tcphub.TcpClient("127.0.0.1", server.port)
    with client:
        pass
    ran = []
    with pytest.raises(tcphub.NotRunning, match="closed"):
        with client:
            ran.append(True)
    assert not ran
    # Likewise after an explicit close().
    other = tcphub.TcpClient("127.0.0.1", server.port)
    assert other.close(timeout=WAIT)
    with pytest.raises(tcphub.NotRunning, match="closed"):
        with other:
            ran.append(True)
    assert not ran


def test_review_pg_async_entering_a_closed_client_raises(make_server):
    server = make_server().start()
    ran = []

    async def main() -> None:
        client = await tcphub.TcpClient.aconnect("127.0.0.1", server.port)
        async with client:
            pass
        with pytest.raises(tcphub.NotRunning, match="closed"):
            async with client:
                ran.append(True)
        other = await tcphub.TcpClient.aconnect("127.0.0.1", server.port)
        assert await other.aclose(timeout=WAIT)
        with pytest.raises(tcphub.NotRunning, match="closed"):
            async with other:
                ran.append(True)

    asyncio.run(main())
    assert not ran


def test_review_pg_client_ended_by_the_server_can_still_be_entered(make_server):
    # Not closed by the application: what the server sent before its end
    # is still there to take inside the block.
    server = make_server(framing="lines").start()
    client = tcphub.TcpClient("127.0.0.1", server.port, framing="lines")
    joined = next(e for e in server.events(timeout=WAIT) if e.kind == "connect")
    server.send(joined.client, b"bye")
    server.disconnect(joined.client)
    assert client.next_event(timeout=WAIT).data == b"bye"
    assert client.next_event(timeout=WAIT).kind == "disconnect"
    with client as entered:
        assert entered is client
        assert client.recv(timeout=WAIT) is None


def test_review_pg_exit_returns_false_and_the_exception_propagates(make_server):
    server = make_server()
    with pytest.raises(KeyError):
        with server:
            with tcphub.TcpClient("127.0.0.1", server.port) as client:
                raise KeyError("x")
    assert not client.is_open and not server.running
    s2 = make_server().start()
    c2 = tcphub.TcpClient("127.0.0.1", s2.port)
    assert c2.__exit__(KeyError, KeyError("x"), None) is False
    assert s2.__exit__(KeyError, KeyError("x"), None) is False


def test_review_pg_entering_a_closed_ready_fd_raises(make_server):
    # As a closed file: the ValueError fileno() and arm() raise once closed.
    server = make_server().start()
    ready = server.ready_fd()
    with ready as entered:
        assert entered is ready
    assert ready.closed
    ran = []
    with pytest.raises(ValueError, match="closed ReadyFd"):
        with ready:
            ran.append(True)
    assert not ran
