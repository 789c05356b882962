"""TcpClient.aconnect(): connecting from asyncio without blocking the event loop.

The slow connects are to a loopback listener whose accept backlog is full
(conftest's ``full_backlog_listener``): the kernel drops their SYNs, so they
stay pending until the test makes room.
"""

from __future__ import annotations

import asyncio
import errno
import glob
import inspect
import signal
import socket
import threading

import pytest

import tcphub
from conftest import WAIT, full_backlog_listener, wait_until


#: Seconds a given-up connect's threads may take to end: far less than the
#: connect's timeout (3 * WAIT), far more than the one wait slice (0.1 s)
#: it takes.
_ENDS_SOON = 5.0


def _threads(prefix: str) -> list:
    """Names of this process's threads whose names start with ``prefix``:
    Python's (``tcphub-aconnect``) and native ones (the core's
    ``tcphub-connect``), which only ``/proc`` lists."""
    names = [t.name for t in threading.enumerate()]
    for comm in glob.glob("/proc/self/task/*/comm"):
        try:
            with open(comm) as f:
                names.append(f.read().strip())
        except (FileNotFoundError, ProcessLookupError):
            # The thread ended meanwhile: the open fails, or (gVisor) the
            # read of a file opened just before it ended.
            pass
    return [n for n in names if n.startswith(prefix)]


def _refused_port(held: socket.socket) -> int:
    """A port bound by ``held`` and not listening: connects are refused."""
    held.bind(("127.0.0.1", 0))
    return held.getsockname()[1]


def _accept_the_one_not_in(lst: socket.socket, fill: list, timeout: float = WAIT) -> socket.socket:
    """Accepts from ``lst`` (a full backlog, now drained) until the
    connection whose peer is none of the ``fill`` sockets arrives; closes
    the others."""
    mine = {s.getsockname() for s in fill}
    lst.settimeout(timeout)
    while True:
        conn, peer = lst.accept()  # socket.timeout fails the test
        if peer not in mine:
            return conn
        conn.close()


def test_aconnect_returns_a_connected_client_usable_with_async_with(echo_server):
    async def main():
        async with await tcphub.TcpClient.aconnect(
            "127.0.0.1", echo_server.port, framing="lines"
        ) as client:
            assert type(client) is tcphub.TcpClient
            assert client.is_open and client.is_connected and client.framing == "lines"
            assert client.peer_address == ("127.0.0.1", echo_server.port)
            client.send(b"ping")
            assert await client.arecv(timeout=WAIT) == b"ping"
        return client

    client = asyncio.run(main())
    assert not client.is_open  # __aexit__ closed it
    wait_until(lambda: echo_server.client_count == 0, what="the server to see the close")


def test_aconnect_takes_the_constructors_arguments(echo_server):
    # One parameter list, twice in the Rust source: a test keeps them equal.
    assert inspect.signature(tcphub.TcpClient.aconnect) == inspect.signature(tcphub.TcpClient)

    async def main():
        client = await tcphub.TcpClient.aconnect(
            "localhost", echo_server.port, framing="length", max_len=4, linger=0.5
        )
        with client:
            assert client.framing == "length"
            with pytest.raises(tcphub.FrameTooLarge):
                client.send(b"12345")

    asyncio.run(main())


_BAD_ARGUMENTS = [
    ((), {"connect_timeout": 0}),
    ((), {"connect_timeout": -1.0}),
    ((), {"framing": "bogus"}),
    ((), {"framing": "raw", "max_len": 10}),
    ((), {"linger": float("nan")}),
    ((), {"keepalive": -1.0}),
    ((), {"reconnect_initial": -1.0}),
    ((), {"reconnect_max_attempts": 3}),
    ((), {"event_capacity": -1}),
    ((), {"max_queue_bytes": -1}),
    ((), {"no_such_option": 1}),
    (("extra",), {}),
]


@pytest.mark.parametrize("extra_args, kwargs", _BAD_ARGUMENTS)
def test_a_bad_argument_raises_at_the_call_as_the_constructor_does(extra_args, kwargs):
    with socket.socket() as held:
        port = _refused_port(held)
        with pytest.raises(Exception) as by_constructor:
            tcphub.TcpClient("127.0.0.1", port, *extra_args, **kwargs)
        assert not isinstance(by_constructor.value, tcphub.ConnectError)
        before = threading.active_count()
        # Raised by the call itself, outside any event loop: nothing was
        # scheduled and no thread started.
        with pytest.raises(type(by_constructor.value)) as by_aconnect:
            tcphub.TcpClient.aconnect("127.0.0.1", port, *extra_args, **kwargs)
        assert threading.active_count() == before
    if not isinstance(by_constructor.value, TypeError):  # (which names the function)
        assert str(by_aconnect.value) == str(by_constructor.value)


@pytest.mark.parametrize("port", [70000, -1, "8001"])
def test_a_bad_port_raises_at_the_call_as_the_constructor_does(port):
    with pytest.raises((OverflowError, TypeError)) as by_constructor:
        tcphub.TcpClient("127.0.0.1", port)
    with pytest.raises(type(by_constructor.value)):
        tcphub.TcpClient.aconnect("127.0.0.1", port)


@pytest.mark.parametrize(
    "host, port, why",
    [
        ("", 8001, "the host is empty"),
        ("127.0.0.1", 0, "port 0 is no server's port"),
        ("127.0.0.1:8001", 8001, 'includes a port: pass the host alone ("127.0.0.1")'),
        ("[::1]:8001", 8001, 'includes a port: pass the host alone ("::1")'),
        ("localhost:8001", 8001, 'includes a port: pass the host alone ("localhost")'),
    ],
)
def test_a_bad_host_or_port_is_invalid_config_at_the_call(host, port, why):
    # Checked with the other arguments, so aconnect raises at the call,
    # not at its await (it did for an empty host and port 0). A port
    # written into the host failed the lookup as "127.0.0.1:8001:8001",
    # which read as an unreachable server.
    with pytest.raises(tcphub.InvalidConfig) as by_constructor:
        tcphub.TcpClient(host, port)
    assert why in str(by_constructor.value)
    with pytest.raises(tcphub.InvalidConfig) as by_aconnect:
        tcphub.TcpClient.aconnect(host, port)
    assert str(by_aconnect.value) == str(by_constructor.value)


@pytest.mark.parametrize(
    "host, port, kwargs",
    [
        ("127.0.0.1", 8001, {"keepalive": 0}),
        ("127.0.0.1", 8001, {"reconnect": True, "reconnect_initial": 0}),
        ("127.0.0.1", 8001, {"reconnect": True, "reconnect_max_attempts": 0}),
    ],
)
def test_what_the_core_checks_is_the_constructors_invalid_config_from_the_await(host, port, kwargs):
    # The core checks these when it connects (on the connect thread, for
    # the constructor too), before it dials: they come from the await.
    with pytest.raises(tcphub.InvalidConfig) as by_constructor:
        tcphub.TcpClient(host, port, **kwargs)
    with pytest.raises(tcphub.InvalidConfig) as by_aconnect:
        asyncio.run(tcphub.TcpClient.aconnect(host, port, **kwargs))
    assert str(by_aconnect.value) == str(by_constructor.value)


def test_a_refused_connect_raises_the_constructors_connect_error():
    with socket.socket() as held:
        port = _refused_port(held)
        with pytest.raises(tcphub.ConnectError) as by_constructor:
            tcphub.TcpClient("127.0.0.1", port, connect_timeout=5.0)
        with pytest.raises(ConnectionRefusedError) as by_aconnect:
            asyncio.run(tcphub.TcpClient.aconnect("127.0.0.1", port, connect_timeout=5.0))
    e = by_aconnect.value
    assert type(e) is type(by_constructor.value)
    assert isinstance(e, tcphub.ConnectError)
    assert e.errno == errno.ECONNREFUSED
    assert e.address == ("127.0.0.1", port)
    assert str(e) == str(by_constructor.value)


def test_a_name_that_does_not_resolve_is_the_constructors_gaierror():
    # (A label over 63 bytes fails in the resolver without asking any name
    # server.)
    name = "a" * 64 + ".invalid"
    with pytest.raises(tcphub.ConnectError) as by_constructor:
        tcphub.TcpClient(name, 1)
    with pytest.raises(socket.gaierror) as by_aconnect:
        asyncio.run(tcphub.TcpClient.aconnect(name, 1))
    assert type(by_aconnect.value) is type(by_constructor.value)
    assert isinstance(by_aconnect.value, tcphub.ConnectError)
    assert str(by_aconnect.value) == str(by_constructor.value)


def test_other_tasks_run_while_a_connect_waits_and_a_cancel_ends_the_wait():
    # The constructor would hold the event loop for the whole connect
    # (connect_timeout, 90 s here); the ticker would not tick.
    async def main(port):
        ticked = asyncio.Event()

        async def ticker():
            for _ in range(5):
                await asyncio.sleep(0.01)
            ticked.set()

        connecting = asyncio.ensure_future(
            tcphub.TcpClient.aconnect("127.0.0.1", port, connect_timeout=3 * WAIT)
        )
        ticking = asyncio.ensure_future(ticker())
        done, _ = await asyncio.wait(
            [connecting, asyncio.ensure_future(ticked.wait())],
            timeout=WAIT,
            return_when=asyncio.FIRST_COMPLETED,
        )
        assert ticked.is_set() and connecting not in done
        await ticking
        connecting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await connecting

    with full_backlog_listener() as (lst, _):
        asyncio.run(main(lst.getsockname()[1]))
        # The helper thread gave up at once, not at the connect's timeout,
        # and cancelled the connect, whose thread ends too.
        wait_until(
            lambda: not _threads("tcphub-aconnect") and not _threads("tcphub-connect"),
            timeout=_ENDS_SOON,
            what="the helper and connect threads to end",
        )


@pytest.mark.parametrize("how", ["cancel", "wait_for"])
def test_a_connect_the_task_gave_up_ends_and_connects_nothing(how):
    # Before, the given-up connect ran on to its connect_timeout (90 s
    # here), a "tcphub-connect" thread each, and connected when the
    # backlog had room (closing that connection at once).
    async def give_up(port):
        connect = tcphub.TcpClient.aconnect("127.0.0.1", port, connect_timeout=3 * WAIT)
        if how == "wait_for":
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(connect, 0.2)
            return
        connecting = asyncio.ensure_future(connect)
        for _ in range(10):
            await asyncio.sleep(0.01)  # (only so that the connect is under way)
        assert not connecting.done()
        connecting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await connecting

    with full_backlog_listener() as (lst, fill):
        asyncio.run(give_up(lst.getsockname()[1]))
        wait_until(
            lambda: not _threads("tcphub-connect") and not _threads("tcphub-aconnect"),
            timeout=_ENDS_SOON,
            what="the given-up connect's threads to end",
        )
        # Room in the backlog as it is accepted from: a probe connects, and
        # nothing came before it but the sockets that fill the backlog (the
        # given-up connect's socket is closed: no SYN of it is resent).
        with socket.socket() as probe:
            probe.setblocking(False)
            try:
                probe.connect(lst.getsockname())
            except BlockingIOError:
                pass
            with _accept_the_one_not_in(lst, fill) as conn:
                assert conn.getpeername() == probe.getsockname()


def test_many_cancelled_aconnects_leave_no_connect_thread():
    # asyncio.wait_for(aconnect(...), short) against a server that does not
    # answer: each cancelled connect ends, instead of holding a thread for
    # its connect_timeout (cancel rate x timeout threads).
    async def main(port):
        for _ in range(10):
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(
                    tcphub.TcpClient.aconnect("127.0.0.1", port, connect_timeout=3 * WAIT), 0.05
                )

    with full_backlog_listener() as (lst, _):
        asyncio.run(main(lst.getsockname()[1]))
        wait_until(
            lambda: not _threads("tcphub-connect") and not _threads("tcphub-aconnect"),
            timeout=_ENDS_SOON,
            what="the cancelled connects' threads to end",
        )


def test_ctrl_c_in_the_constructor_ends_the_connect():
    # Ctrl-C's check runs between the constructor's wait slices; an
    # exception from a signal handler stands for KeyboardInterrupt here.
    class Interrupt(Exception):
        pass

    def interrupt(signum, frame):
        raise Interrupt()

    old = signal.signal(signal.SIGALRM, interrupt)
    try:
        with full_backlog_listener() as (lst, _):
            signal.setitimer(signal.ITIMER_REAL, 0.2)
            with pytest.raises(Interrupt):
                tcphub.TcpClient("127.0.0.1", lst.getsockname()[1], connect_timeout=3 * WAIT)
            wait_until(
                lambda: not _threads("tcphub-connect"),
                timeout=_ENDS_SOON,
                what="the interrupted connect's thread to end",
            )
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def test_cancels_racing_the_connect_leave_no_connection_open():
    # Cancelled at every moment around the end of the connect (before it,
    # just as it hands the client over, after): each connection made is
    # either returned (and closed here) or closed by aconnect.
    with socket.socket() as lst:
        lst.bind(("127.0.0.1", 0))
        lst.listen(128)
        port = lst.getsockname()[1]

        async def main():
            returned = 0
            for i in range(60):
                try:
                    client = await asyncio.wait_for(
                        tcphub.TcpClient.aconnect("127.0.0.1", port), (i % 20) * 0.002
                    )
                except asyncio.TimeoutError:
                    continue
                returned += 1
                client.close()
            return returned

        asyncio.run(main())
        # Every connect has ended (its client handed over or dropped) once
        # its threads have: then every connection made is in the backlog.
        wait_until(
            lambda: not _threads("tcphub-aconnect") and not _threads("tcphub-connect"),
            what="the connect threads to end",
        )
        lst.setblocking(False)
        conns = []
        while True:
            try:
                conns.append(lst.accept()[0])
            except BlockingIOError:
                break
        assert conns  # some connected at least
        for conn in conns:
            with conn:
                conn.settimeout(WAIT)
                assert conn.recv(1) == b""  # a timeout here: a client was left open
