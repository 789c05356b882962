"""What a user moving from the socket tutorial's TCPServer runs into."""

from __future__ import annotations

import copy
import errno
import functools
import pickle
import socket
import threading
from typing import List

import pytest

import tcphub
from conftest import WAIT, callback_errors_of_a_line, wait_until


@pytest.mark.parametrize("decorator", ["on_connect", "on_message", "on_disconnect", "on_error"])
def test_an_async_def_callback_is_refused_when_registered(make_server, decorator):
    # The dispatcher calls callbacks on its own thread; an `async def` one
    # only made a coroutine nobody awaited: the callback silently never ran.
    server = make_server(framing="lines")

    async def handler(*args: object) -> None:
        pass

    class Handler:
        async def method(self, *args: object) -> None:
            pass

    for func in (handler, functools.partial(handler), Handler().method):
        with pytest.raises(TypeError, match="aevents"):
            getattr(server, decorator)(func)

    async def gen(*args: object):  # an async generator function, same story
        yield

    with pytest.raises(TypeError, match="aevents"):
        getattr(server, decorator)(gen)
    server.start()
    assert server.running


def test_a_callback_returning_a_coroutine_is_reported_not_left_unawaited(make_server):
    # An object whose `__call__` is `async def` passes for a plain callable;
    # its coroutine is closed (no "never awaited" warning) and reported as
    # the callback's TypeError.
    server = make_server(framing="lines")

    class AsyncHandler:
        async def __call__(self, client: tcphub.Client, data: bytes) -> None:
            pass

    server.on_message(AsyncHandler())
    reported = callback_errors_of_a_line(server)
    assert len(reported) == 1
    assert isinstance(reported[0], TypeError)
    assert "coroutine" in str(reported[0])
    assert server.stats().callback_errors == 1


def _refusing(held: socket.socket) -> int:
    """A loopback port bound by ``held`` and not listening: connects are
    refused while it is held. (Released, it could be any process's next
    listening port on a shared machine.)"""
    held.bind(("127.0.0.1", 0))
    return held.getsockname()[1]


def test_a_refused_connect_is_caught_by_connectionrefusederror_as_with_socket():
    # The tutorial's client: `except ConnectionRefusedError: print("server
    # not running")`. socket.create_connection raises that class; tcphub's
    # ConnectError only derived from ConnectionError, so the except missed.
    with socket.socket() as held:
        port = _refusing(held)
        with pytest.raises(socket.error) as plain:
            socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        assert isinstance(plain.value, ConnectionRefusedError)
        with pytest.raises(ConnectionRefusedError) as info:
            tcphub.TcpClient("127.0.0.1", port)
        e = info.value
        assert isinstance(e, tcphub.ConnectError) and isinstance(e, tcphub.TcpHubError)
        assert e.errno == errno.ECONNREFUSED and e.address == ("127.0.0.1", port)
        assert type(e).__name__ == "ConnectError" and type(e).__module__ == "tcphub"
        # One class per errno family, and it pickles (multiprocessing) as itself.
        with pytest.raises(ConnectionRefusedError) as again:
            tcphub.TcpClient("127.0.0.1", port)
        assert type(again.value) is type(e)
        back = pickle.loads(pickle.dumps(e))
        assert type(back) is type(e) and back.errno == e.errno and back.address == e.address
        assert str(back) == str(e)


def test_a_name_that_does_not_resolve_is_caught_by_socket_gaierror_as_with_socket():
    # socket.create_connection raises socket.gaierror for a name that does
    # not resolve; tcphub's ConnectError was only a ConnectionError. (A
    # label over 63 bytes fails in the resolver without asking any name
    # server; Python's own socket refuses it even earlier, in its IDNA codec.)
    name = "a" * 64 + ".invalid"
    with pytest.raises(socket.gaierror) as info:
        tcphub.TcpClient(name, 1)
    e = info.value
    assert isinstance(e, tcphub.ConnectError) and e.address is None
    assert type(e).__name__ == "ConnectError" and type(e).__module__ == "tcphub"
    assert "cannot resolve" in str(e)
    # With the resolver's code, as socket's (its errno was None).
    assert e.errno == socket.EAI_NONAME, e.args
    assert e.strerror.endswith("Name or service not known"), e.args
    back = pickle.loads(pickle.dumps(e))
    assert type(back) is type(e) and str(back) == str(e) and back.address is None
    assert back.errno == e.errno


def test_an_os_error_without_a_finer_builtin_class_keeps_the_plain_class(make_server):
    busy = make_server().start()
    with pytest.raises(tcphub.BindError) as info:
        tcphub.TcpServer(busy.port, bind="127.0.0.1").start()
    assert type(info.value) is tcphub.BindError  # EADDRINUSE: OSError has no subclass for it
    assert info.value.errno == errno.EADDRINUSE
    back = pickle.loads(pickle.dumps(info.value))
    assert type(back) is tcphub.BindError and back.address == info.value.address


def test_the_client_a_callback_is_given_names_that_client_where_an_id_is_taken(make_server):
    # `on_message(client, data)` hands a Client; `server.send(client, ...)`
    # raised "'tcphub.Client' object cannot be interpreted as an integer".
    server = make_server(framing="lines")
    seen: List[tcphub.Client] = []
    done = threading.Event()

    @server.on_message
    def reply(client: tcphub.Client, data: bytes) -> None:
        seen.append(client)
        assert server.client(client) == client
        server.send(client, b"to you: " + data)
        server.send_all(b"to the others", exclude=client)
        server.disconnect(client)
        done.set()

    with server:
        a = tcphub.TcpClient("127.0.0.1", server.port, framing="lines")
        b = tcphub.TcpClient("127.0.0.1", server.port, framing="lines")
        with a, b:
            a.send(b"hi")
            assert done.wait(WAIT)
            assert a.recv(WAIT) == b"to you: hi"
            assert a.recv(WAIT) is None and a.disconnect_reason == "closed by peer"
            assert b.recv(WAIT) == b"to the others"
            gone = seen[0]
            with pytest.raises(tcphub.NoSuchClient) as info:
                server.send(gone, b"x")
            assert info.value.client_id == gone.id
            assert server.client(gone) is None
    with pytest.raises(TypeError):
        server.send("1", b"x")  # type: ignore[arg-type]


def test_events_clients_and_stats_pickle_and_copy(make_server):
    # Handing events to a process pool (CPU-bound handling off the event
    # thread) pickles them: "cannot pickle 'tcphub.Event' object", and
    # copy.copy() failed the same way.
    server = make_server(framing="lines").start()
    with tcphub.TcpClient(
        "127.0.0.1", server.port, framing="lines", reconnect=True, reconnect_initial=0.01
    ) as client:
        client.send(b"hi")
        events: List[tcphub.Event] = []
        while len(events) < 2:
            events += server.poll(10, WAIT)
        server.disconnect(events[0].client)
        while len(events) < 3:
            events += server.poll(10, WAIT)
        client_events = [client.next_event(WAIT) for _ in range(3)]
    assert [e.kind for e in events] == ["connect", "message", "disconnect"]
    assert [e.kind for e in client_events] == ["disconnect", "reconnecting", "reconnected"]
    stats = server.stats()
    for value in [*events, events[0].client, *client_events, stats]:
        for back in (pickle.loads(pickle.dumps(value)), copy.copy(value), copy.deepcopy(value)):
            assert type(back) is type(value)
            assert repr(back) == repr(value)
            # Values: a copy equals the original and hashes the same.
            assert back == value and not (back != value)
            assert hash(back) == hash(value)
    back = pickle.loads(pickle.dumps(events[1]))
    assert back.client == events[1].client and back.data == b"hi" and back.reason is None
    assert pickle.loads(pickle.dumps(events[2])).reason == "kicked"
    assert pickle.loads(pickle.dumps(stats)).as_dict() == stats.as_dict()
    again = pickle.loads(pickle.dumps(client_events[2]))
    assert again.attempt == client_events[2].attempt
    assert again.local_address == client_events[2].local_address
    # Different fields, or another type, are not equal.
    assert events[0] != events[1] and events[1] != events[2]
    assert client_events[0] != client_events[1]
    assert events[0] != events[0].client and events[1] != b"hi"
    assert len({events[1], pickle.loads(pickle.dumps(events[1]))}) == 1


@pytest.mark.parametrize("name", ["event_capacity", "max_queue_bytes"])
def test_a_zero_client_bound_is_named_alone(name):
    # "max_queue_bytes and event_capacity must be at least 1" for either:
    # the server's message names the one that is wrong.
    with socket.socket() as held, pytest.raises(tcphub.InvalidConfig) as info:
        tcphub.TcpClient("127.0.0.1", _refusing(held), **{name: 0})  # type: ignore[arg-type]
    other = {"event_capacity": "max_queue_bytes", "max_queue_bytes": "event_capacity"}[name]
    assert f"{name} must be at least 1" in str(info.value)
    assert other not in str(info.value)


def test_sends_take_any_bytes_like_object_as_socket_send_does(make_server):
    # socket.send() takes any bytes-like object; tcphub took bytes and
    # bytearray only ("'memoryview' object is not an instance of 'bytes |
    # bytearray'"), so a slice of a receive buffer had to be copied first.
    import array

    server = make_server(framing="lines", full_message=memoryview(b"full"))
    server.start()
    with tcphub.TcpClient("127.0.0.1", server.port, framing="lines") as client:
        buf = bytearray(b"..hello..")
        client.send(memoryview(buf)[2:7])
        events: List[tcphub.Event] = []
        while len(events) < 2:
            events += server.poll(10, WAIT)
        assert events[1].data == b"hello"
        who = events[0].client
        server.send(who, memoryview(b"one"))
        server.send_to(who.ip, who.port, memoryview(b"two"))
        assert server.send_all(array.array("b", b"three")) == 1
        assert [client.recv(WAIT) for _ in range(3)] == [b"one", b"two", b"three"]
        # A str is refused as socket refuses it, saying what to do.
        for call in (
            lambda: client.send("text"),
            lambda: server.send(who, "text"),
            lambda: server.send_all("text"),
            lambda: server.send_to(who.ip, who.port, "text"),
        ):
            with pytest.raises(TypeError, match="bytes-like object is required, not 'str'.*encode"):
                call()
        with pytest.raises(TypeError, match="bytes-like object is required, not 'int'"):
            server.send_all(5)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="bytes-like object is required, not 'NoneType'"):
            client.send(None)  # type: ignore[arg-type]


def test_a_send_the_client_cannot_take_says_why(make_server):
    # Every refused client send said "not running", even on a client that
    # is open (is_open True) after shutdown_write().
    server = make_server(framing="lines").start()
    client = tcphub.TcpClient("127.0.0.1", server.port, framing="lines")
    client.shutdown_write()
    assert client.is_open
    with pytest.raises(tcphub.NotRunning, match="shutdown_write"):
        client.send(b"x")
    client.close()
    with pytest.raises(tcphub.NotRunning, match="closed"):
        client.send(b"x")
    with pytest.raises(tcphub.NotRunning, match="closed"):
        client.shutdown_write()
    other = tcphub.TcpClient("127.0.0.1", server.port, framing="lines")
    # Accepted first: a connection still in the listen backlog when the
    # stop begins is reset by the kernel, not closed ("connection reset").
    # (Not `client_count == 1`: the first client, half-closed, may be the
    # one counted, held for replies until events are taken.)
    mine = other.local_address
    wait_until(
        lambda: any(c.address == mine for c in server.clients()), what="the client accepted"
    )
    server.stop()
    assert other.recv(WAIT) is None
    with pytest.raises(tcphub.NotRunning, match="closed by peer"):
        other.send(b"x")
    other.close()


def test_a_call_the_server_cannot_take_says_why(make_server):
    # Every refused server call said only "not running": a newcomer who
    # forgot start() read the same words as one whose server was stopped.
    # As a client's refusals do, the message now says which.
    server = make_server(framing="lines")
    for call in (
        lambda: server.send(1, b"x"),
        lambda: server.send_to("127.0.0.1", 1, b"x"),
        lambda: server.disconnect(1),
        lambda: server.wait(0),
        lambda: server.poll(),
        lambda: server.events(),
        lambda: server.aevents(),
    ):
        with pytest.raises(tcphub.NotRunning, match=r"not started: call start\(\)"):
            call()
    server.start()
    client = tcphub.TcpClient("127.0.0.1", server.port, framing="lines")
    (connected,) = server.poll(1, timeout=WAIT)
    server.stop()
    for call in (
        lambda: server.send(connected.client, b"x"),
        lambda: server.send(10**30, b"x"),
        lambda: server.send_to(*connected.client.address, b"x"),
        lambda: server.disconnect(connected.client),
    ):
        with pytest.raises(tcphub.NotRunning, match="the server is stopped"):
            call()
    assert [e.kind for e in server.events()] == ["disconnect"]
    with pytest.raises(tcphub.NotRunning, match="stopped and every event was taken"):
        server.poll()
    client.close()
