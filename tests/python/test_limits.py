"""Server limits and loop settings from Python: frame_timeout (slowloris
defence), idle_timeout, busy_poll, the full_message of refused connections,
the notices of clients cut off by a timeout."""

from __future__ import annotations

import socket
from typing import Callable, List

import pytest

import tcphub

from conftest import WAIT, wait_until


def test_frame_timeout_cuts_an_unfinished_frame(
    make_server: Callable[..., tcphub.TcpServer],
) -> None:
    server = make_server(framing="lines", frame_timeout=0.3)
    reasons: List[str] = []

    @server.on_disconnect
    def left(client: tcphub.Client, reason: str) -> None:
        reasons.append(reason)

    server.start()
    with socket.create_connection(("127.0.0.1", server.port), timeout=WAIT) as sock:
        sock.sendall(b"a line that never ends")
        wait_until(lambda: len(reasons) == 1, what="the frame timeout")
        assert sock.recv(16) == b""  # the server closed the connection
    assert reasons == ["frame not finished in time"]
    assert f'``"{reasons[0]}"``' in (tcphub.Event.reason.__doc__ or ""), "documented reason"
    assert server.stats().frame_timeouts == 1
    assert server.stats().as_dict()["frame_timeouts"] == 1


def test_idle_timeout_cuts_a_silent_client(make_server: Callable[..., tcphub.TcpServer]) -> None:
    server = make_server(framing="lines", idle_timeout=0.3)
    events = server.start().events(timeout=WAIT)
    with socket.create_connection(("127.0.0.1", server.port), timeout=WAIT):
        kinds = [next(events).kind, next(events).kind]
    assert kinds == ["connect", "disconnect"]
    assert server.stats().idle_timeouts == 1


def test_a_blocking_callback_does_not_stall_io(make_server: Callable[..., tcphub.TcpServer]) -> None:
    """While a Python callback blocks, the I/O threads keep accepting and
    sending; the messages that arrived meanwhile are handled, in order,
    once it returns."""
    import threading

    server = make_server(framing="lines")
    release = threading.Event()
    seen: List[bytes] = []

    @server.on_message
    def got(client: tcphub.Client, data: bytes) -> None:
        seen.append(data)
        if data == b"block":
            release.wait(WAIT)

    server.start()
    a = socket.create_connection(("127.0.0.1", server.port), timeout=WAIT)
    a.sendall(b"block\n")
    wait_until(lambda: seen == [b"block"], what="the callback to block")
    # The callback is blocked: connections are still accepted and served.
    b = socket.create_connection(("127.0.0.1", server.port), timeout=WAIT)
    wait_until(lambda: server.client_count == 2, what="the second client")
    assert server.send_all(b"still here") == 2
    for sock in (a, b):
        assert sock.makefile("rb").readline() == b"still here\n"
    b.sendall(b"one\ntwo\n")
    release.set()
    wait_until(lambda: seen == [b"block", b"one", b"two"], what="the queued messages")
    a.close()
    b.close()


def test_a_callback_slower_than_the_idle_timeout_answers_its_client(
    make_server: Callable[..., tcphub.TcpServer],
) -> None:
    """A callback working on a request longer than ``idle_timeout`` does
    not get its own client cut as idle meanwhile (the client waits for the
    answer); once the callbacks are done, the idle clock runs again."""
    import time

    server = make_server(framing="lines", idle_timeout=1.0)
    reasons: List[str] = []

    @server.on_message
    def slow(client: tcphub.Client, data: bytes) -> None:
        time.sleep(3.0)  # well over the idle timeout
        server.send(client.id, b"done")

    @server.on_disconnect
    def left(client: tcphub.Client, reason: str) -> None:
        reasons.append(reason)

    server.start()
    with socket.create_connection(("127.0.0.1", server.port), timeout=WAIT) as sock:
        sock.sendall(b"job\n")
        assert sock.makefile("rb").readline() == b"done\n"
        assert reasons == []
        wait_until(lambda: reasons == ["idle timeout"], what="the idle timeout after the answer")
        assert sock.recv(16) == b""


def test_busy_polling_server_serves_round_trips(
    make_server: Callable[..., tcphub.TcpServer],
) -> None:
    server = make_server(framing="lines", busy_poll=0.0002)

    @server.on_message
    def echo(client: tcphub.Client, data: bytes) -> None:
        server.send(client.id, data)

    server.start()
    with socket.create_connection(("127.0.0.1", server.port), timeout=WAIT) as sock:
        reader = sock.makefile("rb")
        for i in range(50):
            sock.sendall(b"ping %d\n" % i)
            assert reader.readline() == b"ping %d\n" % i


def test_busy_poll_must_not_be_negative(make_server: Callable[..., tcphub.TcpServer]) -> None:
    import pytest

    with pytest.raises(tcphub.InvalidConfig):
        make_server(busy_poll=-1.0)


def test_refused_connection_gets_the_full_message(
    make_server: Callable[..., tcphub.TcpServer],
) -> None:
    server = make_server(max_clients=1, framing="lines", full_message=b"server full")
    events = server.start().events(timeout=WAIT)
    with socket.create_connection(("127.0.0.1", server.port), timeout=WAIT):
        assert next(events).kind == "connect"
        with socket.create_connection(("127.0.0.1", server.port), timeout=WAIT) as refused:
            got = b""
            while chunk := refused.recv(64):
                got += chunk
        assert got == b"server full\n"  # the notice, then end-of-stream
        assert server.stats().rejected == 1


def test_a_connection_past_max_clients_per_ip_is_refused_until_a_place_is_free(
    make_server: Callable[..., tcphub.TcpServer],
) -> None:
    server = make_server(
        framing="lines",
        max_clients_per_ip=1,
        per_ip_full_message=b"one per address",
    )
    assert server.max_clients_per_ip == 1
    assert make_server().max_clients_per_ip is None
    events = server.start().events(timeout=WAIT)
    first = socket.create_connection(("127.0.0.1", server.port), timeout=WAIT)
    assert next(events).kind == "connect"
    # Another address is not limited by this one's.
    other = socket.create_connection(
        ("127.0.0.1", server.port), timeout=WAIT, source_address=("127.0.0.2", 0)
    )
    joined = next(events)
    assert (joined.kind, joined.client.ip) == ("connect", "127.0.0.2")
    with socket.create_connection(("127.0.0.1", server.port), timeout=WAIT) as refused:
        assert _read_to_eof(refused) == b"one per address\n"
    stats = server.stats()
    assert (stats.rejected_per_ip, stats.rejected) == (1, 0)
    assert stats.as_dict()["rejected_per_ip"] == 1
    first.shutdown(socket.SHUT_WR)
    left = next(events)
    assert left.kind == "disconnect"
    # Its place is given back once the connection is closed: here (pull
    # mode) at the next call for events, which ends its hold for replies
    # (it no longer counts in client_count from its disconnect event on).
    assert server.poll(timeout=0) == []
    assert first.recv(1) == b"", "closed by the server"
    first.close()
    with socket.create_connection(("127.0.0.1", server.port), timeout=WAIT):
        assert next(events).kind == "connect"
    other.close()


def test_zero_max_clients_per_ip_is_invalid_config(
    make_server: Callable[..., tcphub.TcpServer],
) -> None:
    with pytest.raises(tcphub.InvalidConfig, match="max_clients_per_ip"):
        make_server(max_clients_per_ip=0)
    with pytest.raises(tcphub.InvalidConfig, match="max_clients_per_ip"):
        make_server(max_clients_per_ip=-1)
    with pytest.raises(tcphub.InvalidConfig, match="per_ip_full_message"):
        make_server(framing="lines", per_ip_full_message=b"two\nlines")


def test_per_ip_ipv6_prefix_is_checked_and_ipv4_still_counts_whole(
    make_server: Callable[..., tcphub.TcpServer],
) -> None:
    assert make_server().per_ip_ipv6_prefix == 128
    for bad in (0, 129, 300, -1):
        with pytest.raises(tcphub.InvalidConfig, match="per_ip_ipv6_prefix"):
            make_server(per_ip_ipv6_prefix=bad)
    server = make_server(max_clients_per_ip=1, per_ip_ipv6_prefix=64)
    assert server.per_ip_ipv6_prefix == 64
    events = server.start().events(timeout=WAIT)
    with socket.create_connection(("127.0.0.1", server.port), timeout=WAIT), \
            socket.create_connection(("127.0.0.1", server.port), timeout=WAIT,
                                     source_address=("127.0.0.2", 0)):
        assert [next(events).kind for _ in range(2)] == ["connect", "connect"]
        with socket.create_connection(("127.0.0.1", server.port), timeout=WAIT) as refused:
            assert _read_to_eof(refused) == b""
        assert server.stats().rejected_per_ip == 1


def test_full_message_over_the_limit_is_refused(
    make_server: Callable[..., tcphub.TcpServer],
) -> None:
    with pytest.raises(tcphub.InvalidConfig, match="full_message"):
        make_server(full_message=bytearray(5000))


def _read_to_eof(sock: socket.socket) -> bytes:
    got = b""
    while chunk := sock.recv(4096):
        got += chunk
    return got


def test_clients_cut_off_by_a_timeout_or_an_oversize_frame_get_its_notice(
    make_server: Callable[..., tcphub.TcpServer],
) -> None:
    server = make_server(
        framing="lines",
        idle_timeout=1.5,  # the welcome (from the dispatcher) comes first
        frame_timeout=0.3,
        idle_timeout_message=b"disconnected: idle",
        frame_timeout_message=bytearray(b"disconnected: line not finished"),
        frame_too_large_message=memoryview(b"disconnected: line too long"),
    )
    reasons: List[str] = []

    @server.on_connect
    def joined(client: tcphub.Client) -> None:
        server.send(client.id, b"welcome")

    @server.on_disconnect
    def left(client: tcphub.Client, reason: str) -> None:
        reasons.append(reason)

    server.start()
    with socket.create_connection(("127.0.0.1", server.port), timeout=WAIT) as idle:
        # What was queued first, then the notice, then end-of-stream.
        assert _read_to_eof(idle) == b"welcome\ndisconnected: idle\n"
    # Each disconnect reported before the next client: the clients may be
    # on two loops, which queue their events as they get to them (a loaded
    # machine once gave "frame too large" before the slow client's reason:
    # its loop saw the slow client's close after the other loop's cut).
    wait_until(lambda: len(reasons) == 1, what="the idle client's disconnect")
    # The others wait for their welcome before they speak: under load the
    # dispatcher's on_connect could come after the cut (CI once got only
    # the notice).
    with socket.create_connection(("127.0.0.1", server.port), timeout=WAIT) as slow:
        assert slow.recv(8, socket.MSG_WAITALL) == b"welcome\n"
        slow.sendall(b"a line that never ends")
        assert _read_to_eof(slow) == b"disconnected: line not finished\n"
    wait_until(lambda: len(reasons) == 2, what="the slow client's disconnect")
    with socket.create_connection(("127.0.0.1", server.port), timeout=WAIT) as long:
        assert long.recv(8, socket.MSG_WAITALL) == b"welcome\n"
        long.sendall(b"x" * 100_000)  # past max_len without a newline
        assert _read_to_eof(long) == b"disconnected: line too long\n"
    wait_until(lambda: len(reasons) == 3, what="the three disconnects")
    assert reasons == ["idle timeout", "frame not finished in time", "frame too large"]
    assert server.stats().msgs_out == 3, "the notices are not counted as sends"


def test_a_timeout_notice_the_framing_cannot_carry_is_invalid_config(
    make_server: Callable[..., tcphub.TcpServer],
) -> None:
    with pytest.raises(tcphub.InvalidConfig, match="idle_timeout_message"):
        make_server(framing="lines", idle_timeout_message=b"two\nlines")
    with pytest.raises(tcphub.InvalidConfig, match="frame_timeout_message"):
        make_server(frame_timeout_message=bytes(5000))
    with pytest.raises(tcphub.InvalidConfig, match="frame_too_large_message"):
        make_server(framing="lines", frame_too_large_message=b"too\nlong")


def test_zero_idle_frame_and_keepalive_times_are_invalid_config(
    make_server: Callable[..., tcphub.TcpServer],
) -> None:
    # 0 cut every client at once (C's 0 means "off"; None is off here).
    for kw in ({"idle_timeout": 0}, {"frame_timeout": 0.0}, {"keepalive": 0}):
        with pytest.raises(tcphub.InvalidConfig, match=next(iter(kw))):
            make_server(framing="lines", **kw).start()


def test_a_slow_consumer_s_queued_messages_count_as_unwritten(
    make_server: Callable[..., tcphub.TcpServer],
) -> None:
    """A client that never reads is cut when its queue (64 KiB) overflows;
    the lines still queued for it then count in ``Stats.unwritten``: 62
    to 66 of 1,001 bytes — 48 bytes of bookkeeping per queued buffer, one
    per line or one per run of lines gathered together, and a partly
    written first line counts whole. Every send that returned is queued
    or undelivered."""
    server = make_server(framing="lines", threads=1, max_queue_bytes=64 * 1024)
    reasons: List[str] = []
    server.on_disconnect(lambda client, reason: reasons.append(reason))
    server.start()
    with socket.create_connection(("127.0.0.1", server.port), timeout=WAIT):
        wait_until(lambda: server.client_count == 1, what="the client")
        cid = server.clients()[0].id
        sent = 0
        while True:
            try:
                server.send(cid, b"x" * 1000)
            except tcphub.NoSuchClient:
                break
            sent += 1
            assert sent < 1_000_000, "the non-reader was never cut"
        wait_until(lambda: reasons == ["slow consumer"], what="the cut")
    server.stop()
    s = server.stats()
    assert s.slow_consumers == 1
    assert s.msgs_out + s.undelivered == sent
    assert 62 <= s.unwritten <= 66, s
    assert s.as_dict()["unwritten"] == s.unwritten
