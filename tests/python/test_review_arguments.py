"""Argument checks: int arguments out of their range."""

from __future__ import annotations

import math
from typing import Any, Dict

import pytest

import tcphub

# (argument, extra settings it needs): each a count or size the core takes
# as an unsigned (or, for backlog, 32-bit) number.
SERVER_COUNTS = [
    ("max_clients", {}),
    ("threads", {}),
    ("max_queue_bytes", {}),
    ("event_capacity", {}),
    ("max_len", {"framing": "lines"}),
    ("backlog", {}),
]
CLIENT_COUNTS = [
    ("max_queue_bytes", {}),
    ("event_capacity", {}),
    ("max_len", {"framing": "lines"}),
    ("reconnect_max_attempts", {"reconnect": True}),
]


@pytest.mark.parametrize("value", [-1, -(2**40), 2**64, 2**70])
@pytest.mark.parametrize("name,extra", SERVER_COUNTS)
def test_a_server_count_out_of_range_is_invalid_config_naming_it(
    name: str, extra: Dict[str, Any], value: int
) -> None:
    # As zero is (a ValueError, so `except ValueError` catches every bad
    # value), not pyo3's bare "can't convert negative int to unsigned".
    if name == "backlog" and value == -1:
        value = -(2**31) - 1  # -1 fits the i32 (the core's own check says "at least 1")
    with pytest.raises(tcphub.InvalidConfig, match=f"{name} must be .*, not {value}"):
        tcphub.TcpServer(0, **{name: value}, **extra)


@pytest.mark.parametrize("value", [-1, 2**64])
@pytest.mark.parametrize("name,extra", CLIENT_COUNTS)
def test_a_client_count_out_of_range_is_invalid_config_naming_it(
    name: str, extra: Dict[str, Any], value: int
) -> None:
    # Refused before anything is dialled (nothing listens on port 1).
    with pytest.raises(tcphub.InvalidConfig, match=f"{name} must be .*, not {value}"):
        tcphub.TcpClient("127.0.0.1", 1, **{name: value}, **extra)


def test_a_negative_batch_size_is_invalid_config_naming_it(make_server: Any) -> None:
    server = make_server().start()
    with pytest.raises(tcphub.InvalidConfig, match="max_events must be .*, not -1"):
        server.poll(-1)
    with pytest.raises(tcphub.InvalidConfig, match="max_batch must be .*, not -1"):
        server.events(max_batch=-1)
    with pytest.raises(tcphub.InvalidConfig, match="max_batch must be .*, not -1"):
        server.aevents(max_batch=-1)


@pytest.mark.parametrize("client_id", [-1, 2**64, 2**70])
def test_a_client_id_no_client_can_have_is_no_such_client(
    make_server: Any, client_id: int
) -> None:
    # Ids are assigned from 1 up: an id outside 0..2**64-1 names no client,
    # as one that left does (documented: None, NoSuchClient, excludes
    # nobody), rather than raising OverflowError.
    server = make_server().start()
    client = tcphub.TcpClient("127.0.0.1", server.port)
    try:
        assert [e.kind for e in server.poll(1, 30.0)] == ["connect"]
        assert server.client(client_id) is None
        with pytest.raises(tcphub.NoSuchClient, match=f"no client with id {client_id} ") as e:
            server.send(client_id, b"x")
        assert e.value.client_id == client_id
        with pytest.raises(tcphub.NoSuchClient) as e:
            server.disconnect(client_id)
        assert e.value.client_id == client_id
        assert server.send_all(b"all", exclude=client_id) == 1
        assert client.recv(30.0) == b"all"
    finally:
        client.close()
    server.stop()
    with pytest.raises(tcphub.NotRunning):
        server.send(client_id, b"x")


def test_a_client_of_one_server_names_no_client_of_another(make_server: Any) -> None:
    # Ids are unique in the process: a Client (or id) from server a, given
    # to server b, names nobody there. Before, both numbered from 1 and it
    # named b's client with the same number, which got a's message.
    a = make_server().start()
    b = make_server().start()
    on_a = tcphub.TcpClient("127.0.0.1", a.port)
    on_b = tcphub.TcpClient("127.0.0.1", b.port)
    try:
        (a_conn,) = a.poll(1, 30.0)
        (b_conn,) = b.poll(1, 30.0)
        assert a_conn.kind == b_conn.kind == "connect"
        assert a_conn.client.id != b_conn.client.id
        assert b.client(a_conn.client) is None
        with pytest.raises(tcphub.NoSuchClient):
            b.send(a_conn.client, b"not for b's client")
        b.send(b_conn.client, b"for b's client")
        assert on_b.recv(30.0) == b"for b's client"
    finally:
        on_a.close()
        on_b.close()


def test_poll_with_timeout_none_waits_for_the_first_event(make_server: Any) -> None:
    # As every other timeout of the API (events(), wait(), recv(),
    # next_event(), arecv()): None is no limit. It raised TypeError ("must
    # be real number, not NoneType").
    import threading

    server = make_server().start()
    got: list = []
    poller = threading.Thread(target=lambda: got.append(server.poll(10, timeout=None)))
    poller.start()
    client = tcphub.TcpClient("127.0.0.1", server.port)
    try:
        poller.join(30.0)
        assert not poller.is_alive()
        assert [[e.kind for e in batch] for batch in got] == [["connect"]]
    finally:
        client.close()
    server.stop()
    with pytest.raises(tcphub.NotRunning):  # stopped, every event taken: at once
        while True:
            server.poll(10, None)


# (argument, extra settings, what its message asks for): durations in
# seconds. Zero is refused too for the ones that ask for a positive number
# (by the core's checks; reconnect_initial and reconnect_max with
# reconnect=True), so "non-negative" was false for them.
SERVER_DURATIONS = [
    ("idle_timeout", {}, "positive"),
    ("frame_timeout", {}, "positive"),
    ("keepalive", {}, "positive"),
    ("linger", {}, "non-negative"),
    ("busy_poll", {}, "non-negative"),
]
CLIENT_DURATIONS = [
    ("connect_timeout", {}, "positive"),
    ("keepalive", {}, "positive"),
    ("reconnect_initial", {"reconnect": True}, "positive"),
    ("reconnect_initial", {}, "positive"),
    ("reconnect_max", {"reconnect": True}, "positive"),
    ("linger", {}, "non-negative"),
]


@pytest.mark.parametrize("name,extra,kind", SERVER_DURATIONS)
def test_a_negative_server_duration_says_what_it_must_be(
    name: str, extra: Dict[str, Any], kind: str
) -> None:
    with pytest.raises(tcphub.InvalidConfig) as e:
        tcphub.TcpServer(0, **{name: -0.5}, **extra)
    assert str(e.value).endswith(f"{name} must be a {kind} number of seconds, not -0.5")


@pytest.mark.parametrize("name,extra,kind", CLIENT_DURATIONS)
def test_a_negative_client_duration_says_what_it_must_be(
    name: str, extra: Dict[str, Any], kind: str
) -> None:
    # Refused before anything is dialled (nothing listens on port 1).
    with pytest.raises(tcphub.InvalidConfig) as e:
        tcphub.TcpClient("127.0.0.1", 1, **{name: -0.5}, **extra)
    assert str(e.value).endswith(f"{name} must be a {kind} number of seconds, not -0.5")


@pytest.mark.parametrize("name,extra,kind", SERVER_DURATIONS)
def test_a_server_duration_below_a_nanosecond_is_not_called_zero(
    name: str, extra: Dict[str, Any], kind: str
) -> None:
    # It rounds to 0 ns: refused where zero is, as under a nanosecond (it
    # was "must be more than zero", untrue of 1e-10), and taken as zero
    # where zero is fine.
    if kind == "non-negative":
        tcphub.TcpServer(0, **{name: 1e-10}, **extra)
        return
    with pytest.raises(tcphub.InvalidConfig) as e:
        tcphub.TcpServer(0, **{name: 1e-10}, **extra)
    assert str(e.value).endswith(
        f"{name} of 1e-10 seconds is less than a nanosecond, the shortest it can be"
    )


@pytest.mark.parametrize("name,extra,kind", CLIENT_DURATIONS)
def test_a_client_duration_below_a_nanosecond_is_not_called_zero(
    name: str, extra: Dict[str, Any], kind: str
) -> None:
    if kind == "non-negative":
        return  # linger: zero is fine (and a client would be dialled)
    with pytest.raises(tcphub.InvalidConfig) as e:
        tcphub.TcpClient("127.0.0.1", 1, **{name: 1e-10}, **extra)
    assert str(e.value).endswith(
        f"{name} of 1e-10 seconds is less than a nanosecond, the shortest it can be"
    )


def test_a_negative_timeout_says_non_negative(make_server: Any) -> None:
    # A timeout of 0 is "do not wait": zero is fine, a negative one is not.
    server = make_server().start()
    with pytest.raises(tcphub.InvalidConfig, match="timeout must be a non-negative number"):
        server.poll(1, timeout=-0.5)
    assert server.poll(1, timeout=0) == []


def test_a_duration_out_of_range_is_shown_short_and_the_bound_is_exclusive(
    make_server: Any,
) -> None:
    # A negative one was printed in full: -1e300 as 301 digits, -1e-300 as
    # "-0." and 300 more. And 2**64 s, the first value out of range, was
    # refused as "up to 1.8446744073709552e19, not 1.8446744073709552e19".
    server = make_server().start()
    for t, shown in ((-1e300, "-1e300"), (-1e-300, "-1e-300")):
        with pytest.raises(tcphub.InvalidConfig) as e:
            server.poll(1, timeout=t)
        assert str(e.value).endswith(f"timeout must be a non-negative number of seconds, not {shown}")
        with pytest.raises(tcphub.InvalidConfig) as e:
            tcphub.TcpServer(0, idle_timeout=t)
        assert str(e.value).endswith(f"idle_timeout must be a positive number of seconds, not {shown}")
    with pytest.raises(tcphub.InvalidConfig) as e:
        server.poll(1, timeout=2.0**64)
    assert str(e.value).endswith(
        "timeout must be a finite number of seconds below 1.8446744073709552e19, not 1.8446744073709552e19"
    )
    # The largest float below 2**64 is taken (it fits in a Duration).
    tcphub.TcpServer(0, linger=math.nextafter(2.0**64, 0))
