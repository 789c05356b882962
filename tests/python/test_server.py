"""TcpServer over loopback: callbacks, broadcast, send_to, errors, lifecycle."""

from __future__ import annotations

import errno
import socket
import threading
import traceback
from typing import List, Tuple

import pytest

import tcphub
from conftest import WAIT, LineReader, connect, wait_until


def test_three_clients_and_a_broadcast(make_server):
    server = make_server(framing="lines")
    joined: List[tcphub.Client] = []

    @server.on_connect
    def on_connect(client):
        joined.append(client)

    @server.on_message
    def on_message(client, data):
        server.send_all(b"%d says " % client.id + data)

    server.start()
    socks = [connect(server) for _ in range(3)]
    wait_until(lambda: len(joined) == 3 and server.client_count == 3, what="3 clients")
    assert len({c.id for c in joined}) == 3  # unique (in the process)
    assert {c.address for c in server.clients()} == {s.getsockname() for s in socks}

    socks[1].sendall(b"hello, room\n")
    readers = [LineReader(s) for s in socks]
    sender = next(c for c in joined if c.address == socks[1].getsockname())
    for r in readers:
        assert r.line() == b"%d says hello, room" % sender.id

    # send_all returns how many clients it was queued for.
    assert server.send_all(b"direct") == 3
    for r in readers:
        assert r.line() == b"direct"
    stats = server.stats()
    assert stats.clients == 3 and stats.accepted == 3 and stats.msgs_in == 1
    for s in socks:
        s.close()


def test_send_all_exclude_skips_the_sender(make_server):
    server = make_server(framing="lines")

    @server.on_message
    def on_message(client, data):
        server.send_all(data, exclude=client.id)

    server.start()
    socks = [connect(server) for _ in range(3)]
    wait_until(lambda: server.client_count == 3, what="3 clients")
    readers = [LineReader(s) for s in socks]
    socks[0].sendall(b"from 0\n")
    for r in readers[1:]:
        assert r.line() == b"from 0"
    # A broadcast to all after it: client 0's next line shows it got nothing.
    me = next(c for c in server.clients() if c.address == socks[0].getsockname())
    assert server.send_all(b"not 0", exclude=me.id) == 2
    assert server.send_all(b"all", exclude=10**9) == 3  # nobody has that id
    for r in readers[1:]:
        assert r.line() == b"not 0"
    for r in readers:
        assert r.line() == b"all"
    with pytest.raises(TypeError):
        server.send_all(b"x", me.id)  # keyword only: not mistaken for data
    for s in socks:
        s.close()


def test_send_to_reaches_only_that_client(make_server):
    server = make_server(framing="lines").start()
    a, b = connect(server), connect(server)
    wait_until(lambda: server.client_count == 2)
    ip, port = b.getsockname()
    server.send_to(ip, port, b"just you")
    reader_b = LineReader(b)
    assert reader_b.line() == b"just you"
    # A broadcast after it: a's first line shows it got nothing before. (A
    # short wait for silence would pass as well while the server had not
    # got to writing yet.)
    assert server.send_all(b"all") == 2
    assert LineReader(a).line() == b"all"
    assert reader_b.line() == b"all"

    with pytest.raises(tcphub.NoSuchAddr) as exc:
        server.send_to("127.0.0.1", 1, b"nobody")
    assert exc.value.address == ("127.0.0.1", 1)
    assert isinstance(exc.value, tcphub.NoSuchClient) and isinstance(exc.value, LookupError)
    with pytest.raises(ValueError):
        server.send_to("not-an-ip", 1, b"x")
    a.close()
    b.close()


def test_send_to_a_malformed_ip_raises_a_tcphub_error(make_server):
    # C reports a malformed ip as TCPHUB_ERR_INVALID_ARG, the code of
    # Error::InvalidConfig; Python raised a bare ValueError that an
    # ``except tcphub.TcpHubError`` did not catch.
    server = make_server().start()
    with pytest.raises(tcphub.InvalidConfig) as exc:
        server.send_to("not-an-ip", 1, b"x")
    assert isinstance(exc.value, tcphub.TcpHubError) and isinstance(exc.value, ValueError)
    assert "not-an-ip" in str(exc.value)


@pytest.mark.parametrize("host", ["localhost", "example.com", "my-host"])
def test_send_to_a_host_name_says_it_wants_the_clients_ip_address(make_server, host):
    # send_to picks a connected client by its remote IP address and port and
    # resolves no name; the message said "invalid configuration: not an IP
    # address: ..." (no configuration was involved).
    server = make_server().start()
    with pytest.raises(tcphub.InvalidConfig) as exc:
        server.send_to(host, 1, b"x")
    msg = str(exc.value)
    assert isinstance(exc.value, ValueError)
    assert "configuration" not in msg, msg
    assert "the client's IP address (e.g. '127.0.0.1' or '::1')" in msg, msg
    assert f"got the host name '{host}'" in msg, msg
    assert "not resolved" in msg, msg
    # Malformed text that is no host name either is not called one.
    for bad in ["127.0.0.300", "[::1]:80"]:
        with pytest.raises(tcphub.InvalidConfig) as exc:
            server.send_to(bad, 1, b"x")
        msg = str(exc.value)
        assert "configuration" not in msg and "host name" not in msg, msg
        assert f"the client's IP address (e.g. '127.0.0.1' or '::1'), got '{bad}'" in msg, msg


def test_send_and_disconnect_by_id(make_server):
    server = make_server(framing="lines").start()
    s = connect(server)
    wait_until(lambda: server.client_count == 1)
    (client,) = server.clients()
    assert server.client(client.id) == client
    assert server.client(client.id + 100) is None
    server.send(client.id, bytearray(b"by id"))
    reader = LineReader(s)
    assert reader.line() == b"by id"
    server.disconnect(client.id)
    s.settimeout(WAIT)
    assert s.recv(100) == b""  # kicked: EOF
    with pytest.raises(tcphub.NoSuchClient) as exc:
        server.send(client.id, b"gone")
    assert exc.value.client_id == client.id
    s.close()


def test_length_framing_and_frame_too_large(make_server):
    server = make_server(framing="length", max_len=8).start()
    s = connect(server)
    wait_until(lambda: server.client_count == 1)
    assert server.send_all(b"abc") == 1
    s.settimeout(WAIT)
    got = b""
    while len(got) < 7:
        got += s.recv(100)
    assert got == b"\x00\x00\x00\x03abc"
    with pytest.raises(tcphub.FrameTooLarge) as exc:
        server.send_all(b"123456789")
    assert (exc.value.length, exc.value.limit) == (9, 8)
    assert isinstance(exc.value, ValueError)
    s.close()


def test_bind_conflict_raises_oserror_with_eaddrinuse(make_server):
    first = make_server().start()
    second = tcphub.TcpServer(first.port, 10, bind="127.0.0.1")
    with pytest.raises(OSError) as exc:
        second.start()
    assert exc.value.errno == errno.EADDRINUSE
    assert isinstance(exc.value, tcphub.BindError)
    assert isinstance(exc.value, tcphub.TcpHubError)
    assert exc.value.address == ("127.0.0.1", first.port)
    assert "address in use" in str(exc.value)
    assert not second.running


def test_bind_takes_an_ipv6_address_in_brackets():
    # As `tcphub serve --bind`, `python -m tcphub serve --bind`, TcpClient's
    # host and send_to take it ("listening on [::1]:PORT" prints it so);
    # bind="[::1]" raised InvalidConfig. A zone or a bracketed IPv4 address
    # is still no address to bind.
    try:
        server = tcphub.TcpServer(0, 10, bind="[::1]").start()
    except tcphub.BindError:
        pytest.skip("no IPv6 loopback")
    try:
        assert server.address == ("::1", server.port)
    finally:
        server.stop()
    for bad in ["[127.0.0.1]", "[::1]:80", "::1%lo", "[::1%1]", "[localhost]"]:
        with pytest.raises(tcphub.InvalidConfig, match="bind"):
            tcphub.TcpServer(0, 10, bind=bad)


def test_invalid_configuration():
    with pytest.raises(tcphub.InvalidConfig) as info:
        tcphub.TcpServer(0, 10, framing="xml")  # type: ignore[arg-type]
    # Every accepted name is listed, the alias "len" too.
    assert '"raw", "lines" or "length" (or "len"), not "xml"' in str(info.value)
    with pytest.raises(ValueError):
        tcphub.TcpServer(0, 10, bind="localhost:80")
    with pytest.raises(tcphub.InvalidConfig):
        tcphub.TcpServer(0, 10, framing="raw", max_len=10)
    with pytest.raises(tcphub.InvalidConfig):
        tcphub.TcpServer(0, 10, linger=-1.0)
    with pytest.raises(tcphub.InvalidConfig):
        tcphub.TcpServer(0, 10, bind="127.0.0.1", threads=0).start()
    for backlog in (0, -5):  # as C's tcphub_server_set_backlog refuses them
        with pytest.raises(tcphub.InvalidConfig, match="backlog"):
            tcphub.TcpServer(0, 10, bind="127.0.0.1", backlog=backlog).start()
    # As Python's own socket module: OverflowError naming the range.
    for port in (70000, -1, 2**70):
        with pytest.raises(OverflowError, match="port must be 0-65535"):
            tcphub.TcpServer(port, 10)
    with pytest.raises(OverflowError, match="port must be 0-65535, got 65536"):
        tcphub.TcpClient("127.0.0.1", 65536)
    with pytest.raises(TypeError):
        tcphub.TcpServer("80", 10)  # type: ignore[arg-type]
    with tcphub.TcpServer(0, 10, bind="127.0.0.1") as server:
        with pytest.raises(OverflowError, match="got 99999"):
            server.send_to("127.0.0.1", 99999, b"x")


def test_context_manager_starts_and_stops():
    with tcphub.TcpServer(0, 10, bind="127.0.0.1") as server:
        assert server.running
        port = server.port
        s = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        wait_until(lambda: server.client_count == 1)
    assert not server.running
    with s:
        s.settimeout(WAIT)
        assert s.recv(10) == b""  # the server closed the connection
    # The port is free again.
    with tcphub.TcpServer(port, 10, bind="127.0.0.1") as again:
        assert again.port == port


def test_lifecycle_errors(make_server):
    server = make_server()
    assert not server.running
    assert server.send_all(b"x") == 0
    with pytest.raises(tcphub.NotRunning):
        server.send(1, b"x")
    with pytest.raises(tcphub.NotRunning):
        server.poll()
    server.start()
    with pytest.raises(RuntimeError):
        server.start()
    with pytest.raises(RuntimeError):
        server.on_message(lambda c, d: None)
    server.stop()
    server.stop()  # idempotent
    assert server.send_all(b"x") == 0
    with pytest.raises(tcphub.NotRunning):
        server.send(1, b"x")
    assert "stopped" in repr(server)


def test_callbacks_refuse_pull_mode(make_server):
    server = make_server()
    server.on_connect(lambda c: None)
    server.start()
    with pytest.raises(RuntimeError):
        server.events()
    with pytest.raises(RuntimeError):
        server.poll()


def test_exception_in_callback_is_unraisable_and_server_keeps_running(make_server, unraisable):
    server = make_server(framing="lines")

    @server.on_message
    def on_message(client, data):
        if data == b"boom":
            raise ZeroDivisionError("callback failed")
        server.send(client.id, data)

    server.start()
    s = connect(server)
    s.sendall(b"boom\n")
    unraisable.wait(1)
    (args,) = unraisable.seen
    assert isinstance(args.exc_value, ZeroDivisionError)
    assert args.object is on_message
    # Still serving the same client, and new ones.
    s.sendall(b"still here\n")
    assert LineReader(s).line() == b"still here"
    t = connect(server)
    t.sendall(b"new\n")
    assert LineReader(t).line() == b"new"


def test_on_error_receives_callback_exceptions(make_server):
    server = make_server(framing="lines")
    errors: List[Tuple[BaseException, tcphub.Event]] = []
    seen = threading.Event()

    @server.on_connect
    def on_connect(client):
        raise KeyError("no welcome")

    @server.on_error
    def on_error(exc, event):
        errors.append((exc, event))
        seen.set()

    server.start()
    s = connect(server)
    assert seen.wait(WAIT)
    exc, event = errors[0]
    assert isinstance(exc, KeyError)
    assert event.kind == "connect" and event.client.address == s.getsockname()
    # Counted, as the core counts panicking Rust callbacks; also without
    # on_error (the exception then goes to sys.unraisablehook).
    wait_until(lambda: server.stats().callback_errors == 1)
    assert server.stats().as_dict()["callback_errors"] == 1
    s.close()


def test_on_error_gets_the_exception_with_its_traceback(make_server):
    # So that on_error can log where the callback failed
    # (traceback.format_exception(exc), logging's exc_info=exc).
    server = make_server(framing="lines")
    got: List[BaseException] = []
    seen = threading.Event()

    @server.on_message
    def on_message(client, data):
        raise ValueError("bad message")

    @server.on_error
    def on_error(exc, event):
        got.append(exc)
        seen.set()

    server.start()
    s = connect(server)
    s.sendall(b"x\n")
    assert seen.wait(WAIT)
    (exc,) = got
    assert exc.__traceback__ is not None
    assert "on_message" in "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    s.close()


def test_an_on_error_that_raises_reports_the_callbacks_exception_too(make_server, unraisable):
    # As in `except Exception as exc: on_error(exc)`: the new exception's
    # __context__ is the one being handled ("During handling of the above
    # exception, another exception occurred").
    server = make_server(framing="lines")

    @server.on_message
    def on_message(client, data):
        if data == b"reraise":
            raise KeyError("re-raised as it is")
        raise ValueError("the callback's")

    @server.on_error
    def on_error(exc, event):
        if isinstance(exc, KeyError):
            raise exc
        raise RuntimeError("on_error's own")

    server.start()
    s = connect(server)
    s.sendall(b"x\nreraise\n")
    unraisable.wait(2)
    first, second = unraisable.seen
    assert first.object is on_error
    assert isinstance(first.exc_value, RuntimeError)
    assert isinstance(first.exc_value.__context__, ValueError)
    assert isinstance(second.exc_value, KeyError)
    assert second.exc_value.__context__ is None  # no cycle to itself


def test_callback_errors_counts_exceptions_without_on_error(make_server, unraisable):
    server = make_server(framing="lines")

    @server.on_message
    def on_message(client, data):
        if data == b"boom":
            raise RuntimeError("boom")

    assert server.stats().callback_errors == 0
    server.start()
    s = connect(server)
    s.sendall(b"fine\nboom\nboom\nfine\n")
    wait_until(lambda: server.stats().callback_errors == 2)
    assert "callback_errors=2" in repr(server.stats())


def test_stop_from_inside_a_callback(make_server):
    server = make_server(framing="lines")
    reasons: List[str] = []

    @server.on_message
    def on_message(client, data):
        if data == b"stop":
            server.stop()
            server.send_all(b"ignored after stop")  # returns 0, does not raise

    @server.on_disconnect
    def on_disconnect(client, reason):
        reasons.append(reason)

    server.start()
    a, b = connect(server), connect(server)
    wait_until(lambda: server.client_count == 2)
    a.sendall(b"stop\n")
    assert server.wait(timeout=WAIT)
    assert not server.running
    server.stop()  # joins the dispatcher: every callback has run
    assert reasons == ["server stopped", "server stopped"]
    for s in (a, b):
        with s:
            s.settimeout(WAIT)
            assert s.recv(100) == b""


def test_wait_timeout_and_repr(make_server):
    server = make_server(framing="lines")
    assert "not started" in repr(server)
    server.start()
    assert server.wait(timeout=0.05) is False
    assert f":{server.port} lines (running" in repr(server)
    assert server.framing == "lines" and server.max_len == tcphub.DEFAULT_MAX_LINE
    assert server.address == ("127.0.0.1", server.port)


def test_two_hundred_clients_lose_nothing(make_server):
    """200 clients each send numbered lines; the echo brings every one back in order."""
    n_clients, n_msgs = 200, 25
    server = make_server(max_clients=n_clients, framing="lines")
    received: dict = {}

    @server.on_message
    def echo(client, data):
        received.setdefault(client.id, []).append(data)
        server.send(client.id, data)

    server.start()
    socks = [connect(server) for _ in range(n_clients)]
    wait_until(lambda: server.client_count == n_clients, what="200 clients")
    for i, s in enumerate(socks):
        s.sendall(b"".join(b"%d:%d\n" % (i, seq) for seq in range(n_msgs)))
    for i, s in enumerate(socks):
        assert LineReader(s).lines(n_msgs) == [b"%d:%d" % (i, seq) for seq in range(n_msgs)]
    assert sum(len(v) for v in received.values()) == n_clients * n_msgs
    assert server.stats().msgs_in == n_clients * n_msgs
    for s in socks:
        s.close()


def test_wait_returns_after_the_last_callbacks_have_run(make_server):
    # `server.wait()` then reading what the callbacks recorded is the usual
    # main program: the "server stopped" disconnects must be in by then.
    import time

    server = make_server(framing="lines")
    reasons: List[str] = []

    @server.on_message
    def on_message(client, data):
        server.stop()

    @server.on_disconnect
    def on_disconnect(client, reason):
        time.sleep(0.2)  # a callback that takes a moment (logging, a database)
        reasons.append(reason)

    server.start()
    a, b = connect(server), connect(server)
    wait_until(lambda: server.client_count == 2)
    a.sendall(b"stop\n")
    assert server.wait(timeout=WAIT) is True
    assert reasons == ["server stopped", "server stopped"]
    a.close()
    b.close()


def test_entering_a_stopped_server_again_raises(make_server):
    # A `with server:` block on a server that was stopped would otherwise
    # run against a dead server (wait() returns at once, nothing is served).
    server = make_server()
    with server:
        assert server.running
    with pytest.raises(RuntimeError, match="cannot be restarted"):
        with server:
            pytest.fail("entered a stopped server")
    with pytest.raises(RuntimeError, match="cannot be restarted"):
        server.start()
    # Entering a running server is fine (it was started by hand).
    other = make_server().start()
    with other:
        assert other.running
    assert not other.running


def test_zero_max_clients_is_invalid_config():
    with pytest.raises(tcphub.InvalidConfig, match="max_clients"):
        tcphub.TcpServer(0, 0, bind="127.0.0.1")


@pytest.mark.parametrize(
    "kw, words",
    [
        ({"max_clients": 0}, "max_clients must be at least 1"),
        ({"threads": 0}, "threads must be at least 1"),
        ({"threads": 10**6}, "threads must be at most"),
        ({"max_queue_bytes": 0}, "max_queue_bytes must be at least 1"),
        ({"event_capacity": 0}, "event_capacity must be at least 1"),
        ({"backlog": 0}, "backlog must be at least 1"),
        ({"idle_timeout": 0}, "idle_timeout must be more than zero"),
        ({"frame_timeout": 0.0}, "frame_timeout must be more than zero"),
        ({"keepalive": 0}, "keepalive must be more than zero"),
        ({"keepalive": tcphub.MAX_KEEPALIVE + 1}, "keepalive must be at most 32767 s"),
        ({"busy_poll": 1.5}, "busy_poll must be at most 1s"),
        ({"framing": "lines", "max_len": 0}, "max_len must be at least 1"),
        ({"full_message": bytes(5000)}, "full_message"),
        ({"framing": "lines", "max_len": 4, "full_message": b"too long"}, "full_message"),
    ],
)
def test_the_constructor_refuses_what_start_would(kw, words):
    # These were refused only by start(), while other bad arguments (an
    # unknown framing, a negative linger) were refused by the constructor:
    # a server built in one place and started in another failed far from
    # the mistake. Every setting is now checked by the constructor, with
    # start()'s class and message.
    with pytest.raises(tcphub.InvalidConfig, match=words) as exc:
        tcphub.TcpServer(**{"port": 0, "max_clients": 10, "bind": "127.0.0.1", **kw})
    assert str(exc.value).startswith("invalid configuration: "), exc.value


def test_a_client_kicked_by_its_own_on_message_gets_no_more_messages_through(make_server):
    # As the docstring of disconnect() says (and as in Rust and C): once a
    # callback kicks the client whose message it handles, the rest of what
    # that client sent (here: in the same write) is not handed to on_message.
    server = make_server(framing="lines", threads=1)
    seen: List[bytes] = []
    gone: List[str] = []

    @server.on_message
    def on_message(client, data):
        seen.append(data)
        if data == b"/quit":
            server.disconnect(client.id)
        else:
            server.send_all(data)

    @server.on_disconnect
    def on_disconnect(client, reason):
        gone.append(reason)

    server.start()
    quitter, other = connect(server), connect(server)
    wait_until(lambda: server.client_count == 2, what="2 clients")
    quitter.sendall(b"before\n/quit\n" + b"".join(b"spam %d\n" % i for i in range(100)))
    wait_until(lambda: gone == ["kicked"], what="the kick")
    other.sendall(b"marker\n")
    reader = LineReader(other)
    assert reader.line() == b"before"
    assert reader.line() == b"marker"
    assert seen == [b"before", b"/quit", b"marker"]
    quitter.close()
    other.close()


def test_kicking_a_held_client_after_its_disconnect_leaves_nothing_behind(make_server):
    # A client that half-closes is held open for replies after its
    # disconnect event, so on_disconnect can still kick it. No event of it
    # is left to skip then: the dispatcher must not keep its id (it used
    # to keep one per such client, for good, and scan them per message).
    server = make_server(framing="lines")
    pending: List[int] = []

    @server.on_disconnect
    def on_disconnect(client, reason):
        try:
            server.disconnect(client.id)  # held: still reachable
        except tcphub.NoSuchClient:
            pass  # (the hold already ended: nothing to note either way)
        pending.append(server._kicks_pending())

    server.start()
    for i in range(5):
        sock = connect(server)
        sock.sendall(b"bye\n")
        sock.shutdown(socket.SHUT_WR)
        wait_until(lambda: len(pending) == i + 1, what="the disconnect")
        assert sock.recv(100) == b""  # then closed
        sock.close()
    assert pending == [0] * 5


def test_a_half_closed_client_kicked_by_its_own_on_message_gets_no_more_through(make_server):
    # As above, for a client that also half-closed (held, no longer listed
    # when it is kicked): the rest of what it sent is still skipped.
    server = make_server(framing="lines", threads=1)
    seen: List[bytes] = []
    gone: List[str] = []

    @server.on_message
    def on_message(client, data):
        seen.append(data)
        if data == b"/quit":
            server.disconnect(client.id)

    @server.on_disconnect
    def on_disconnect(client, reason):
        seen.append(b"kicks pending: %d" % server._kicks_pending())
        gone.append(reason)  # last: the test waits for it, then reads `seen`

    server.start()
    quitter = connect(server)
    quitter.sendall(b"before\n/quit\n" + b"".join(b"spam %d\n" % i for i in range(100)))
    quitter.shutdown(socket.SHUT_WR)
    wait_until(lambda: len(gone) == 1, what="the disconnect")
    assert seen == [b"before", b"/quit", b"kicks pending: 0"]
    quitter.close()


def test_a_send_racing_a_kick_is_counted_as_undelivered(make_server):
    # A send that returned for a client whose kick its loop applies first is
    # never written: Stats.undelivered counts it (as in Rust and C).
    server = make_server(framing="lines")
    server.start()
    sock = connect(server)
    wait_until(lambda: server.client_count == 1, what="the client")
    (client,) = server.clients()
    server.disconnect(client.id)
    try:
        server.send(client.id, b"too late")
        late = 1
    except tcphub.NoSuchClient:
        late = 0  # the kick was applied before the send looked it up
    wait_until(lambda: server.stats().undelivered == late, what="the count")
    assert server.stats().as_dict()["undelivered"] == late
    assert sock.recv(100) == b""  # kicked: EOF, nothing after it
    sock.close()


def test_send_to_takes_every_spelling_of_a_client_address(make_server):
    # Client.ip and str(client) ("[::1]:PORT") both name the client, and so
    # do an IPv6 zone and an IPv4 client's IPv4-mapped address.
    try:
        server = make_server(framing="lines", bind="::").start()
        v6 = socket.create_connection(("::1", server.port), timeout=WAIT)
    except OSError:
        pytest.skip("no IPv6 loopback")
    v4 = socket.create_connection(("127.0.0.1", server.port), timeout=WAIT)
    wait_until(lambda: server.client_count == 2, what="2 clients")
    by_port = {c.port: c for c in server.clients()}
    c4, c6 = by_port[v4.getsockname()[1]], by_port[v6.getsockname()[1]]
    assert (c4.ip, c6.ip) == ("127.0.0.1", "::1")
    spellings = [
        (c4, v4, [c4.ip, "::ffff:127.0.0.1", "[::ffff:127.0.0.1]", str(c4).rsplit(":", 1)[0]]),
        (c6, v6, [c6.ip, "[::1]", "::1%1", "[::1%lo]", str(c6).rsplit(":", 1)[0]]),
    ]
    for client, sock, forms in spellings:
        reader = LineReader(sock)
        for ip in forms:
            server.send_to(ip, client.port, b"to " + ip.encode())
            assert reader.line() == b"to " + ip.encode()
    for bad in ["[127.0.0.1]", "[::1]:80", "localhost", "::1%"]:
        with pytest.raises(ValueError):
            server.send_to(bad, c6.port, b"x")
    v4.close()
    v6.close()
