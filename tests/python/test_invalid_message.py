"""Lines framing refuses a message containing a newline with
``tcphub.InvalidMessage`` (a ``ValueError``), in every send, before anything
is queued: it used to be sent as it was and arrived as several lines."""

from __future__ import annotations

import asyncio
import threading

import pytest

import tcphub

from conftest import WAIT, LineReader, connect, wait_until


def test_server_sends_refuse_a_newline_and_queue_nothing(make_server):
    server = make_server(framing="lines").start()
    a, b = connect(server), connect(server)
    wait_until(lambda: server.client_count == 2)
    first, second = sorted(server.clients(), key=lambda c: c.id)

    with pytest.raises(tcphub.InvalidMessage) as exc:
        server.send_all(b"a\nb")
    assert isinstance(exc.value, ValueError)
    assert isinstance(exc.value, tcphub.TcpHubError)
    assert "newline" in str(exc.value)
    with pytest.raises(tcphub.InvalidMessage):
        server.send_all(bytearray(b"x\n"), exclude=first)
    with pytest.raises(tcphub.InvalidMessage):
        server.send(second, memoryview(b"hi\n"))
    with pytest.raises(tcphub.InvalidMessage):
        server.send(second.id, b"\n")
    with pytest.raises(tcphub.InvalidMessage):
        server.send_to(second.ip, second.port, b"one\r\ntwo")
    assert server.stats().msgs_out == 0

    # Nothing of those was queued: the valid messages are the first to come.
    # A '\r' is sent as it is (a relay must forward every line it received).
    assert server.send_all(b"after") == 2
    server.send(second, b"cr\r")
    ra, rb = LineReader(a), LineReader(b)
    assert ra.line() == b"after"
    assert rb.line() == b"after"
    assert rb.line() == b"cr\r"
    a.close()
    b.close()


def test_a_callback_gets_the_error_too(make_server):
    server = make_server(framing="lines")
    seen = []
    done = threading.Event()

    @server.on_message
    def reply(client: tcphub.Client, data: bytes) -> None:
        for send in (
            lambda: server.send(client, data + b"\n"),
            lambda: server.send_all(b"two\nlines"),
        ):
            try:
                send()
            except tcphub.InvalidMessage as e:
                seen.append(type(e))
        server.send(client, b"ok")
        done.set()

    server.start()
    s = connect(server)
    s.sendall(b"probe\n")
    assert done.wait(WAIT)
    assert seen == [tcphub.InvalidMessage] * 2
    assert LineReader(s).line() == b"ok"
    s.close()


def test_client_sends_refuse_a_newline_and_queue_nothing(echo_server):
    with tcphub.TcpClient("127.0.0.1", echo_server.port, framing="lines") as client:
        with pytest.raises(tcphub.InvalidMessage):
            client.send(b"x\ny")
        with pytest.raises(tcphub.InvalidMessage):
            client.send(b"\n", timeout=1.0)
        with pytest.raises(tcphub.InvalidMessage):
            client.send(b"hi\n", timeout=None)
        assert client.queued_bytes == 0
        client.send(b"fine")
        assert client.recv(WAIT) == b"fine"


def test_async_client_sends_refuse_a_newline(echo_server):
    async def main() -> None:
        client = await tcphub.TcpClient.aconnect("127.0.0.1", echo_server.port, framing="lines")
        async with client:
            with pytest.raises(tcphub.InvalidMessage):
                client.send(b"a\nb")
            client.send(b"fine")
            assert await client.arecv(WAIT) == b"fine"

    asyncio.run(main())


def test_length_framing_carries_newlines(make_server):
    server = make_server(framing="length").start()
    s = connect(server)
    wait_until(lambda: server.client_count == 1)
    assert server.send_all(b"a\nb") == 1
    s.settimeout(WAIT)
    got = b""
    while len(got) < 7:
        got += s.recv(100)
    assert got == b"\x00\x00\x00\x03a\nb"
    s.close()


def test_a_full_message_holding_a_newline_is_refused_under_lines():
    with pytest.raises(tcphub.InvalidConfig) as exc:
        tcphub.TcpServer(0, 1, bind="127.0.0.1", framing="lines", full_message=b"full\n")
    assert "newline" in str(exc.value)
    tcphub.TcpServer(0, 1, bind="127.0.0.1", framing="raw", full_message=b"full\n")
