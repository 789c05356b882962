"""The TcpClient wrapper against a tcphub server."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import re
import socket
import struct
import threading

import pytest

import tcphub
from conftest import WAIT, full_backlog_listener, read_to_eof, wait_until


def test_send_recv_round_trip(echo_server):
    with tcphub.TcpClient("127.0.0.1", echo_server.port, framing="lines") as client:
        assert client.is_open and client.is_connected
        assert client.peer_address == ("127.0.0.1", echo_server.port)
        assert client.framing == "lines"
        assert client.max_len == tcphub.DEFAULT_MAX_LINE
        client.send(b"ping")
        client.send(bytearray(b"pong"))
        assert client.recv(timeout=WAIT) == b"ping"
        assert client.recv(timeout=WAIT) == b"pong"
        with pytest.raises(tcphub.Timeout) as exc:
            client.recv(timeout=0.05)
        assert isinstance(exc.value, TimeoutError)
        assert "open" in repr(client)
    assert not client.is_open
    with pytest.raises(tcphub.NotRunning):
        client.send(b"late")
    assert client.recv(timeout=WAIT) is None  # closed for good


def test_iteration_ends_when_the_server_stops(echo_server):
    client = tcphub.TcpClient("localhost", echo_server.port, framing="lines")
    for i in range(3):
        client.send(b"m%d" % i)
    got = []
    for msg in client:
        got.append(msg)
        if len(got) == 3:
            echo_server.stop()
    assert got == [b"m0", b"m1", b"m2"]
    # Ended for good: the iterator stays exhausted (as the server's events()
    # iterator does).
    assert next(client, None) is None and list(client) == []
    client.close()


def test_frame_too_large_and_connect_refused(echo_server):
    with tcphub.TcpClient("127.0.0.1", echo_server.port, framing="lines", max_len=4) as client:
        assert client.max_len == 4
        with pytest.raises(tcphub.FrameTooLarge):
            client.send(b"too long")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound but not listening: connections are refused
        with pytest.raises(tcphub.ConnectError) as exc:
            tcphub.TcpClient("127.0.0.1", port, connect_timeout=5.0)
    assert isinstance(exc.value, ConnectionError)
    assert exc.value.errno == errno.ECONNREFUSED
    assert exc.value.address == ("127.0.0.1", port)


def test_connect_error_names_every_address_of_a_name():
    # "localhost" may resolve to several addresses (::1 and 127.0.0.1);
    # when none accepts, the message names each one with its error.
    # The port is held, bound and not listening, on both loopback addresses
    # (on 127.0.0.1 alone without IPv6): refused, and no other test's
    # server can take it meanwhile.
    # A host whose hosts file names ::1 but whose loopback has no IPv6 (as
    # in many containers) cannot hold ::1: that address fails another way
    # ("address not available"), and is still named with its error.
    with contextlib.ExitStack() as held:
        port = 0
        have_v6 = False
        for _ in range(20):
            held.close()
            v4 = held.enter_context(socket.socket())
            v4.bind(("127.0.0.1", 0))
            port = v4.getsockname()[1]
            try:
                v6 = held.enter_context(socket.socket(socket.AF_INET6))
                v6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                v6.bind(("::1", port))
                have_v6 = True
                break
            except OSError as e:
                if e.errno != errno.EADDRINUSE:
                    break  # no IPv6 here
        with pytest.raises(tcphub.ConnectError) as exc:
            tcphub.TcpClient("localhost", port, connect_timeout=5.0)
    found = socket.getaddrinfo("localhost", port, type=socket.SOCK_STREAM)
    assert found
    for family, _, _, _, sockaddr in found:
        ip = f"[{sockaddr[0]}]" if family == socket.AF_INET6 else sockaddr[0]
        if family == socket.AF_INET or have_v6:
            assert f"{ip}:{port}: connection refused" in str(exc.value)
        else:
            assert re.search(rf"{re.escape(ip)}:{port}: [a-z]", str(exc.value)), str(exc.value)
    # The error's address and number are the first address's.
    first = found[0]
    assert exc.value.address == (first[4][0], port)
    if first[0] == socket.AF_INET or have_v6:
        assert exc.value.errno == errno.ECONNREFUSED


def test_server_sees_client_disconnect(make_server):
    server = make_server(framing="lines").start()
    client = tcphub.TcpClient("127.0.0.1", server.port, framing="lines")
    client.send(b"bye")
    client.close()
    # Up to the disconnect, however slow the machine: a gap of a fixed few
    # seconds between two events ended the iteration early.
    events = []
    for e in server.events(timeout=WAIT):
        events.append(e)
        if e.kind == "disconnect":
            break
    assert [e.kind for e in events] == ["connect", "message", "disconnect"]
    assert server.poll() == []  # nothing after the disconnect
    assert events[1].data == b"bye"
    assert events[2].reason == "closed by peer"
    wait_until(lambda: server.client_count == 0)



def test_shutdown_write_sends_everything_then_end_of_stream():
    import threading

    listener = socket.create_server(("127.0.0.1", 0))
    received = []
    # Set once the test has half-closed twice: the server's answer and
    # close, which end the client, wait for it (a close that came first
    # made the second shutdown_write() raise NotRunning, as documented).
    checked = threading.Event()

    def serve():
        # Reads to end-of-stream, then answers and closes: a server that
        # needs the client's half-close to know the request is complete.
        conn, _ = listener.accept()
        with conn:
            data = b""
            while chunk := conn.recv(65536):
                data += chunk
            received.append(data)
            checked.wait(WAIT)
            conn.sendall(b"got %d lines\n" % data.count(b"\n"))

    t = threading.Thread(target=serve)
    t.start()
    client = tcphub.TcpClient("127.0.0.1", listener.getsockname()[1], framing="lines")
    for i in range(100):
        client.send(b"r%d" % i)
    client.shutdown_write()
    client.shutdown_write()  # idempotent
    with pytest.raises(tcphub.NotRunning):
        client.send(b"after the half-close")
    checked.set()
    # The reply comes after the server saw the end; its close ends the client.
    assert list(client) == [b"got 100 lines"]
    t.join(WAIT)
    listener.close()
    assert received == [b"".join(b"r%d\n" % i for i in range(100))]
    assert not client.is_open
    with pytest.raises(tcphub.NotRunning):
        client.shutdown_write()
    client.close()


def test_shutdown_write_collects_every_reply_from_a_python_server(echo_server):
    # The server's callbacks run on its dispatcher thread, after the
    # end-of-stream was read: the connection is held open for their replies.
    client = tcphub.TcpClient("127.0.0.1", echo_server.port, framing="lines")
    for i in range(100):
        client.send(b"r%d" % i)
    client.shutdown_write()
    assert list(client) == [b"r%d" % i for i in range(100)]
    assert not client.is_open
    client.close()


def test_dropping_a_client_does_not_hold_the_gil_while_it_flushes():
    import sys
    import threading

    # A peer that accepts (in the kernel) and is read only once the client
    # is being dropped: the close flushes 24 MB, so it can finish before
    # its linger time (WAIT) runs out only if another Python thread reads
    # the peer meanwhile, which needs the GIL again and again. With the GIL
    # held for the close, the reader could run only once the linger had run
    # out and the unsent messages were dropped: it would get less than sent.
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(1)
    client = tcphub.TcpClient(
        "127.0.0.1", lst.getsockname()[1], framing="lines", linger=WAIT, max_queue_bytes=64 << 20
    )
    for _ in range(400):  # 24 MB: more than the socket buffers take
        client.send(b"x" * 60000)
    sent = 400 * 60001  # each with its "\n"
    go = threading.Event()
    got = []

    def reader():
        go.wait(WAIT)
        try:
            conn, _ = lst.accept()
        except OSError as e:
            got.append(f"no connection: {e!r}")
            return
        with conn:
            got.append(read_to_eof(conn))

    lst.settimeout(WAIT)
    t = threading.Thread(target=reader)
    t.start()
    # The reader must not start before the close does (it could drain the
    # queue first): with no forced switches, the GIL passes from this
    # thread only where it waits, and the first wait after go.set() is the
    # close's (a close holding the GIL would not let it pass at all).
    interval = sys.getswitchinterval()
    sys.setswitchinterval(WAIT)
    try:
        go.set()
        del client  # the last reference: closes, flushing for up to linger
    finally:
        sys.setswitchinterval(interval)
    t.join(WAIT)
    lst.close()
    assert got == [sent], "the close did not let the reader run (Python stalled)"


def test_a_zero_connect_timeout_is_invalid_config(echo_server):
    # Not a ConnectError ("cannot set a 0 duration timeout", no errno): the
    # connection was never tried, the value is out of range.
    with pytest.raises(tcphub.InvalidConfig, match="connect_timeout"):
        tcphub.TcpClient("127.0.0.1", echo_server.port, connect_timeout=0)
    with pytest.raises(tcphub.InvalidConfig, match="connect_timeout"):
        tcphub.TcpClient("127.0.0.1", echo_server.port, connect_timeout=1e-12)


def test_an_infinite_or_huge_timeout_is_refused_with_a_message_that_says_why(echo_server):
    # It said "timeout must be a non-negative number of seconds, not inf",
    # and printed 1e300 as 301 digits.
    with tcphub.TcpClient("127.0.0.1", echo_server.port, framing="lines") as client:
        for t in (float("inf"), 1e300):
            with pytest.raises(tcphub.InvalidConfig, match="finite") as info:
                client.recv(timeout=t)
            assert len(str(info.value)) < 200
        with pytest.raises(tcphub.InvalidConfig, match="non-negative.*-1"):
            client.recv(timeout=-1)
    with pytest.raises(tcphub.InvalidConfig, match="finite.*inf"):
        echo_server.wait(timeout=float("inf"))


def test_zero_reconnect_delays_are_invalid_config(echo_server):
    # Zero would redial a server that is down in a busy loop.
    for initial, most in [(0, 0), (0, 1.0), (0.1, 0)]:
        with pytest.raises(tcphub.InvalidConfig, match="reconnect"):
            tcphub.TcpClient(
                "127.0.0.1",
                echo_server.port,
                reconnect=True,
                reconnect_initial=initial,
                reconnect_max=most,
            )
    # Without reconnect the delays are not used, so zero is not checked;
    # a value no delay can be (negative, NaN) is refused all the same (it
    # was taken silently).
    tcphub.TcpClient("127.0.0.1", echo_server.port, reconnect_initial=0).close()
    for name, bad in [("reconnect_initial", -1.0), ("reconnect_max", float("nan"))]:
        with pytest.raises(tcphub.InvalidConfig, match=name):
            tcphub.TcpClient("127.0.0.1", echo_server.port, **{name: bad})


def test_zero_reconnect_max_attempts_is_invalid_config(echo_server):
    # 0 attempts is no reconnect at all (None: no limit); it used to be
    # taken, and a drop was then reported as the drop, not as giving up.
    with pytest.raises(tcphub.InvalidConfig, match="max_attempts"):
        tcphub.TcpClient("127.0.0.1", echo_server.port, reconnect=True, reconnect_max_attempts=0)


def test_reconnect_max_attempts_without_reconnect_is_invalid_config(echo_server):
    # It was taken and ignored: a client meant to give up after 3 attempts
    # silently never reconnected at all.
    msg = "reconnect_max_attempts applies only with reconnect=True"
    for off in ({}, {"reconnect": False}):
        kwargs = dict(off, reconnect_max_attempts=3)
        with pytest.raises(tcphub.InvalidConfig, match=msg):
            tcphub.TcpClient("127.0.0.1", echo_server.port, **kwargs)
        # Raised by the call, as the constructor's other checks are.
        with pytest.raises(tcphub.InvalidConfig, match=msg):
            tcphub.TcpClient.aconnect("127.0.0.1", echo_server.port, **kwargs)
    # None (the default, no limit) is no limit to ignore.
    tcphub.TcpClient("127.0.0.1", echo_server.port, reconnect_max_attempts=None).close()


def test_reconnect_gives_up_after_max_attempts(make_server):
    # The core's Reconnect::max_attempts and ClientBuilder::event_capacity
    # (C: reconnect_max_attempts and event_capacity in tcphub_client_options)
    # had no Python keyword: a Python client could only redial for ever.
    server = make_server(framing="lines").start()
    client = tcphub.TcpClient(
        "127.0.0.1",
        server.port,
        framing="lines",
        reconnect=True,
        reconnect_initial=0.01,
        reconnect_max=0.02,
        reconnect_max_attempts=2,
    )
    wait_until(lambda: server.client_count == 1, what="the client to connect")
    server.stop()  # nothing listens any more: both redials are refused
    assert client.recv(timeout=WAIT) is None  # gave up: closed for good
    assert not client.is_open
    # The final reason is that reconnecting gave up, not the drop before
    # the attempts ("closed by peer"), which it kept.
    assert client.disconnect_reason == "gave up reconnecting after 2 attempts"
    client.close()
    assert client.disconnect_reason == "gave up reconnecting after 2 attempts"


def test_event_capacity_reaches_the_core(echo_server):
    with pytest.raises(tcphub.InvalidConfig, match="event_capacity"):
        tcphub.TcpClient("127.0.0.1", echo_server.port, event_capacity=0)
    # A queue of one message still delivers a burst (the client stops
    # reading while it is full, then goes on).
    with tcphub.TcpClient(
        "127.0.0.1", echo_server.port, framing="lines", event_capacity=1
    ) as client:
        for i in range(20):
            client.send(b"m%d" % i)
        assert [client.recv(timeout=WAIT) for _ in range(20)] == [b"m%d" % i for i in range(20)]


def _raw_server_and_client(**kwargs):
    """A plain listening socket playing a (hostile) server, a client on it,
    and the server's end of the connection."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    client = tcphub.TcpClient("127.0.0.1", listener.getsockname()[1], **kwargs)
    conn, _ = listener.accept()
    listener.close()
    return client, conn


def _drain(client):
    got = []
    while (msg := client.recv(timeout=WAIT)) is not None:
        got.append(msg)
    return got


def test_disconnect_reason_tells_a_hostile_server_from_a_clean_close():
    # recv() returning None alone cannot say whether the server closed
    # cleanly or broke the protocol.
    client, conn = _raw_server_and_client(framing="length", max_len=100)
    assert client.disconnect_reason is None
    conn.sendall(b"\x00\x00\x00\x02ok" + (101).to_bytes(4, "big"))  # one over max_len
    assert _drain(client) == [b"ok"]
    assert client.disconnect_reason == "frame too large"
    client.close()
    conn.close()

    client, conn = _raw_server_and_client(framing="lines")
    conn.sendall(b"one\ntw")
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()  # RST
    _drain(client)
    assert client.disconnect_reason == "connection reset"
    client.close()

    client, conn = _raw_server_and_client(framing="length")
    conn.sendall(b"\x00\x00\x00\x05ok")
    conn.close()  # FIN in the middle of a frame
    assert _drain(client) == []
    assert client.disconnect_reason == "closed in the middle of a frame"
    client.close()

    client, conn = _raw_server_and_client(framing="lines")
    conn.sendall(b"bye\n")
    conn.close()
    assert _drain(client) == [b"bye"]
    assert client.disconnect_reason == "closed by peer"
    client.close()

    client, conn = _raw_server_and_client(framing="lines")
    client.close()
    assert client.disconnect_reason == "closed locally"
    conn.close()


def test_an_ipv6_host_may_come_in_brackets():
    # tcphub prints IPv6 addresses as "[::1]:PORT"; TcpClient("[::1]", port)
    # failed with "cannot resolve the server address [::1]:PORT".
    try:
        server = tcphub.TcpServer(0, 10, bind="::1", framing="lines").start()
    except tcphub.BindError:
        pytest.skip("no IPv6 loopback")
    try:
        with tcphub.TcpClient("[::1]", server.port, framing="lines") as client:
            assert client.peer_address == ("::1", server.port)
    finally:
        server.stop()


def test_an_ipv4_mapped_address_is_reported_as_ipv4(echo_server):
    # The server lists the client as 127.0.0.1; the client said
    # ::ffff:127.0.0.1 for both ends of the same connection.
    try:
        client = tcphub.TcpClient(
            "::ffff:127.0.0.1",
            echo_server.port,
            framing="lines",
            reconnect=True,
            reconnect_initial=0.01,
            reconnect_max=0.05,
        )
    except tcphub.ConnectError as e:
        pytest.skip(f"cannot dial an IPv4-mapped address here: {e}")
    with client:
        assert client.peer_address == ("127.0.0.1", echo_server.port)
        wait_until(lambda: echo_server.client_count == 1)
        (seen,) = echo_server.clients()
        assert client.local_address == seen.address
        assert seen.address[0] == "127.0.0.1"
        echo_server.disconnect(seen.id)
        while True:
            ev = client.next_event(timeout=WAIT)
            assert ev is not None
            if ev.kind == "reconnected":
                break
        wait_until(lambda: echo_server.client_count == 1)
        (again,) = echo_server.clients()
        assert ev.local_address == client.local_address == again.address
        assert client.peer_address == ("127.0.0.1", echo_server.port)


def test_arecv_and_async_for(echo_server):
    async def main():
        with tcphub.TcpClient("127.0.0.1", echo_server.port, framing="lines") as client:
            client.send(b"one")
            assert await client.arecv(timeout=WAIT) == b"one"
            with pytest.raises(tcphub.Timeout):
                await client.arecv(timeout=0.05)
            # A cancelled wait takes nothing: the next message still arrives.
            waiting = asyncio.ensure_future(client.arecv())
            await asyncio.sleep(0.05)
            waiting.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiting
            client.send(b"two")
            assert await asyncio.wait_for(client.arecv(), WAIT) == b"two"
            client.send(b"three")
            client.send(b"four")
            client.shutdown_write()  # the server answers, then closes
            assert [m async for m in client] == [b"three", b"four"]
            assert await client.arecv(timeout=WAIT) is None  # closed for good

    asyncio.run(main())


def test_async_for_lets_other_tasks_run(echo_server):
    # The waits happen off the event loop: a ticker keeps ticking meanwhile.
    async def main():
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        t = asyncio.ensure_future(ticker())
        with tcphub.TcpClient("127.0.0.1", echo_server.port, framing="lines") as client:
            with pytest.raises(tcphub.Timeout):
                await client.arecv(timeout=0.3)
        t.cancel()
        assert ticks >= 2  # 0 if the waits blocked the event loop

    asyncio.run(main())


def test_next_event_reports_drops_and_reconnects(echo_server):
    # recv() skips everything but messages: a reconnecting client could not
    # tell it had to log in again. next_event() shows the reconnect.
    client = tcphub.TcpClient(
        "127.0.0.1",
        echo_server.port,
        framing="lines",
        reconnect=True,
        reconnect_initial=0.01,
        reconnect_max=0.05,
    )
    with pytest.raises(tcphub.Timeout):
        client.next_event(timeout=0.01)
    client.send(b"hi")
    ev = client.next_event(timeout=WAIT)
    assert ev is not None and ev.kind == "message" and ev.data == b"hi"
    assert ev.reason is None and ev.attempt is None
    wait_until(lambda: echo_server.client_count == 1)
    echo_server.disconnect(echo_server.clients()[0].id)
    kinds = []
    while True:
        ev = client.next_event(timeout=WAIT)
        assert ev is not None
        kinds.append(ev.kind)
        if ev.kind == "disconnect":
            assert ev.reason == "closed by peer"
        if ev.kind == "reconnecting":
            assert ev.attempt == 1 and 0 < ev.delay <= 0.05
        if ev.kind == "reconnected":
            assert ev.local_address == client.local_address
            break
    assert kinds == ["disconnect", "reconnecting", "reconnected"], kinds
    client.send(b"logged in again")  # e.g. a login after each reconnect
    assert client.recv(timeout=WAIT) == b"logged in again"
    client.close()
    assert [client.next_event(timeout=WAIT).kind for _ in range(2)] == ["disconnect", "closed"]
    assert client.next_event(timeout=WAIT) is None
    assert "kind='closed'" not in repr(ev) and "reconnected" in repr(ev)


def test_cancelled_arecv_waits_share_one_helper_thread(echo_server):
    # A poll loop (`wait_for(arecv(), short)`) cancels a wait each turn. Each
    # cancelled wait kept its own helper thread until the wait ended (up to
    # 0.25 s): ~170 threads for one client. It shares the one in flight now.
    async def main():
        with tcphub.TcpClient("127.0.0.1", echo_server.port, framing="lines") as client:
            base = threading.active_count()
            peak = 0
            for _ in range(200):
                with pytest.raises(asyncio.TimeoutError):
                    await asyncio.wait_for(client.arecv(), 0.001)
                peak = max(peak, threading.active_count() - base)
            assert peak <= 3, peak
            # A timeout shorter than the wait in flight is still kept...
            with pytest.raises(tcphub.Timeout):
                await client.arecv(timeout=0.01)
            # ...and no message was lost to the cancellations.
            client.send(b"after")
            assert await client.arecv(timeout=WAIT) == b"after"

    asyncio.run(main())
    wait_until(lambda: not [t for t in threading.enumerate() if t.name.startswith("tcphub-arecv")])


def test_a_client_can_be_weakly_referenced(echo_server):
    # TcpServer could be kept in a WeakSet (a registry of open
    # connections), TcpClient raised "cannot create weak reference".
    import gc
    import weakref

    clients: "weakref.WeakSet[tcphub.TcpClient]" = weakref.WeakSet()
    client = tcphub.TcpClient("127.0.0.1", echo_server.port, framing="lines")
    clients.add(client)
    assert list(clients) == [client]
    client.close()
    del client
    gc.collect()
    assert list(clients) == []


def test_a_client_keepalive_is_taken_and_zero_is_invalid_config(echo_server):
    # The server had keepalive=; the client had none, so a client that only
    # receives never found a server whose host vanished.
    with tcphub.TcpClient(
        "127.0.0.1", echo_server.port, framing="lines", keepalive=1.5
    ) as client:
        client.send(b"ka")
        assert client.recv(timeout=WAIT) == b"ka"
    with pytest.raises(tcphub.InvalidConfig, match="keepalive"):
        tcphub.TcpClient("127.0.0.1", echo_server.port, keepalive=0)


def test_a_connect_timeout_is_connect_error_with_etimedout():
    # A listener whose accept backlog is full: the kernel drops the SYNs, so
    # the connect times out. The error had no errno (the core measures the
    # timeout itself), unlike a refused connect's ECONNREFUSED.
    with full_backlog_listener() as (lst, _):
        with pytest.raises(tcphub.ConnectError) as info:
            tcphub.TcpClient("127.0.0.1", lst.getsockname()[1], connect_timeout=0.3)
        assert info.value.errno == errno.ETIMEDOUT, info.value


def test_a_refused_send_says_why():
    # A peer that keeps its side open: the half-closed client stays open.
    with socket.socket() as ls:
        ls.bind(("127.0.0.1", 0))
        ls.listen()
        c = tcphub.TcpClient("127.0.0.1", ls.getsockname()[1], framing="lines")
        peer, _ = ls.accept()
        c.shutdown_write()
        with pytest.raises(tcphub.NotRunning, match="finished by shutdown_write"):
            c.send(b"x")
        peer.close()
        c.close()
        with pytest.raises(tcphub.NotRunning, match="the connection is closed|the client is closed"):
            c.send(b"x")
