"""``repr()`` of the value classes and the server, as a Python user reads
them in a log line, a traceback or a failed assertion: bounded for big
messages, unambiguous (quotes escaped, no rounding that makes two unequal
values print alike), and plain English."""

from __future__ import annotations

import pickle

import tcphub
from tcphub import _tcphub as native

from conftest import WAIT, wait_until

#: A message far larger than any log line should hold.
BIG = 1 << 20


def _message_event(make_server, data: bytes) -> "tuple[tcphub.Event, tcphub.ClientEvent]":
    """A server ``Event`` and a client ``ClientEvent`` each carrying ``data``."""
    server = make_server(framing="length", max_len=BIG).start()
    with tcphub.TcpClient("127.0.0.1", server.port, framing="length", max_len=BIG) as client:
        client.send(data)
        event = next(e for e in server.events(timeout=WAIT) if e.kind == "message")
        server.send(event.client, data)
        reply = client.next_event(timeout=WAIT)
        assert reply is not None and reply.kind == "message"
        return event, reply


def test_review_pg_repr_of_big_message_is_bounded(make_server):
    event, reply = _message_event(make_server, b"x" * BIG)
    for value in (event, reply):
        text = repr(value)
        # The start of the message and its size, not a megabyte of b'xxx...'.
        assert len(text) < 300, (type(value).__name__, len(text))
        assert "data=b'xxxx" in text, text
        assert str(BIG) in text, text
        # The value itself is whole.
        assert value.data == b"x" * BIG
        assert pickle.loads(pickle.dumps(value)) == value


def test_review_pg_repr_of_small_message_is_whole(make_server):
    event, reply = _message_event(make_server, b"hello\x00'\"")
    assert f"data={event.data!r}" in repr(event)
    assert f"data={reply.data!r}" in repr(reply)


def test_review_pg_repr_quotes_text_as_python_does():
    client = native._client(7, "127.0.0.1", 5000)
    # A pickled event (rebuilt as pickle rebuilds it) may carry any reason.
    event = native._event("disconnect", client, None, "i/o error: can't write")
    assert f"reason={event.reason!r}" in repr(event), repr(event)
    ce = native._client_event("disconnect", None, "i/o error: can't write", None, None, None)
    assert f"reason={ce.reason!r}" in repr(ce), repr(ce)


def test_review_pg_repr_keeps_unequal_delays_apart():
    a = native._client_event("reconnecting", None, None, 1, 0.0001, None)
    b = native._client_event("reconnecting", None, None, 1, 0.0002, None)
    assert a != b
    assert repr(a) != repr(b), repr(a)
    assert f"delay={a.delay!r}" in repr(a)


def test_review_pg_server_repr_counts_in_english(make_server):
    server = make_server().start()
    with tcphub.TcpClient("127.0.0.1", server.port):
        wait_until(lambda: server.client_count == 1, what="the client")
        assert "(running, 1 client)" in repr(server), repr(server)
