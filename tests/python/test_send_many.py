"""TcpServer.send_many: one message to a set of clients (a topic's subscribers)."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
from typing import Dict, Set

import pytest

import tcphub
from conftest import LineReader, connect, wait_until


def test_only_the_listed_connected_clients_get_it_once(make_server):
    server = make_server(framing="lines", threads=2)
    server.start()
    socks = [connect(server) for _ in range(4)]
    wait_until(lambda: server.client_count == 4, what="4 clients")
    by_addr = {c.address: c for c in server.clients()}
    clients = [by_addr[s.getsockname()] for s in socks]
    readers = [LineReader(s) for s in socks]

    # Ids and Clients mixed, one listed twice, an id nobody has, an int
    # beyond any id: two clients reached.
    listed = [clients[2].id, clients[0], clients[2], 10**6, 2**70]
    assert server.send_many(listed, b"news") == 2
    assert server.send_many(iter({clients[1].id}), b"for one") == 1
    assert server.send_all(b"end") == 4
    assert readers[0].line() == b"news"
    assert readers[1].line() == b"for one"
    assert readers[2].line() == b"news"
    for r in readers:
        assert r.line() == b"end"
    assert server.send_many([], b"nobody") == 0
    for s in socks:
        s.close()


def test_refusals_and_bad_arguments(make_server):
    server = make_server(framing="lines")
    assert server.send_many([1], b"not started") == 0
    server.start()
    sock = connect(server)
    wait_until(lambda: server.client_count == 1, what="a client")
    ids = [c.id for c in server.clients()]
    with pytest.raises(tcphub.InvalidMessage):
        server.send_many(ids, b"two\nlines")
    with pytest.raises(TypeError, match="iterable of client ids or Clients, not int"):
        server.send_many(ids[0], b"x")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not str"):
        server.send_many("1", b"x")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        server.send_many([1.5], b"x")  # type: ignore[list-item]
    assert server.send_many(ids, bytearray(b"after")) == 1
    assert LineReader(sock).line() == b"after"
    server.stop()
    assert server.send_many(ids, b"late") == 0
    sock.close()


def test_a_pub_sub_hub_from_callbacks(make_server):
    """Subscribers of a topic get its publications in order; the publisher's
    acknowledgements come around its own copy."""
    server = make_server(framing="lines", threads=2)
    topics: Dict[bytes, Set[int]] = {}

    @server.on_message
    def on_message(client, data):
        verb, _, rest = data.partition(b" ")
        if verb == b"sub":
            topics.setdefault(rest, set()).add(client.id)
            server.send(client, b"subscribed")
        else:
            topic, _, text = rest.partition(b" ")
            server.send(client, b"before")
            server.send_many(topics.get(topic, ()), text)
            server.send(client, b"after")

    @server.on_disconnect
    def on_disconnect(client, reason):
        for subs in topics.values():
            subs.discard(client.id)

    server.start()
    socks = [connect(server) for _ in range(3)]
    readers = [LineReader(s) for s in socks]
    for s, r in zip(socks[:2], readers):
        s.sendall(b"sub news\n")
        assert r.line() == b"subscribed"
    for i in range(20):
        socks[2].sendall(b"pub news %d\n" % i)
        assert readers[2].line() == b"before"
        assert readers[2].line() == b"after"
    for r in readers[:2]:
        for i in range(20):
            assert r.line() == b"%d" % i
    socks[0].close()
    wait_until(lambda: server.client_count == 2, what="the first subscriber gone")
    socks[2].sendall(b"pub news last\n")
    assert readers[2].line() == b"before"
    assert readers[2].line() == b"after"
    assert readers[1].line() == b"last"
    for s in socks[1:]:
        s.close()


def test_a_length_that_lies_is_only_a_hint():
    """``len(clients)`` only sizes the list of ids: an iterable whose
    ``__len__`` claims more than memory holds (a lazy view, a proxy) is
    still just iterated. Before, ``Vec::with_capacity(len)`` panicked
    (``sys.maxsize``) or aborted the interpreter (``2**58``: an allocation
    failure)."""
    code = textwrap.dedent(
        """
        import sys, tcphub
        class Claims:
            def __init__(self, n, ids):
                self.n, self.ids = n, ids
            def __len__(self):
                return self.n
            def __iter__(self):
                return iter(self.ids)
        s = tcphub.TcpServer(0, 10, bind="127.0.0.1", framing="lines")
        s.start()
        for n in (sys.maxsize, 2**58, 2**40):
            assert s.send_many(Claims(n, [1, 2]), b"x") == 0, n
        s.stop()
        print("ok")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", (
        done.returncode,
        done.stdout,
        done.stderr[-2000:],
    )


@pytest.mark.parametrize("kind", [bytearray, memoryview])
def test_a_bytes_like_object_is_no_list_of_ids(make_server, kind):
    """Like ``bytes`` and ``str``, a ``bytearray`` or ``memoryview`` (the
    data, passed first by mistake) is refused, not read as the ids of its
    byte values. Before, ``send_many(bytearray(b"\\x01"), b"x")`` sent to
    client 1."""
    server = make_server(framing="lines")
    server.start()
    sock = connect(server)
    wait_until(lambda: server.client_count == 1, what="a client")
    (client,) = server.clients()
    # The client's id as a byte where it fits (ids are unique in the
    # process, so later in a test run it is past 255): refused either way.
    with pytest.raises(TypeError, match="iterable of client ids or Clients"):
        server.send_many(kind(bytes([client.id & 0xFF])), b"by mistake")
    assert server.send_all(b"next") == 1
    assert LineReader(sock).line() == b"next"
    sock.close()


def test_an_error_from_len_is_raised_not_swallowed(make_server):
    """``len(clients)`` is a length hint as ``list()`` takes it (PEP 424):
    no ``__len__`` (a generator) is fine, but an exception from one (a
    KeyboardInterrupt arriving there included) is raised, and nobody gets
    the message. Before, it was dropped and the message sent."""

    class Broken:
        def __init__(self, ids):
            self.ids = ids

        def __len__(self):
            raise ValueError("no length today")

        def __iter__(self):
            return iter(self.ids)

    server = make_server(framing="lines")
    server.start()
    sock = connect(server)
    wait_until(lambda: server.client_count == 1, what="a client")
    (client,) = server.clients()
    with pytest.raises(ValueError, match="no length today"):
        server.send_many(Broken([client.id]), b"not this")
    assert server.send_many((c for c in [client]), b"from a generator") == 1
    reader = LineReader(sock)
    assert reader.line() == b"from a generator"
    sock.close()


def test_a_client_held_for_replies_is_reached_and_counted(make_server):
    """Pull mode: a client that finished sending is reported gone but held
    open for replies until the next call for events; ``send_many`` reaches
    it and counts it, as ``send`` reaches it (``send_all`` reaches it but
    does not count it)."""
    server = make_server(framing="lines", threads=2)
    server.start()
    leaving, staying = connect(server), connect(server)
    wait_until(lambda: server.client_count == 2, what="2 clients")
    ids = {c.address: c.id for c in server.clients()}
    gone, there = ids[leaving.getsockname()], ids[staying.getsockname()]
    leaving.shutdown(socket.SHUT_WR)
    disconnected = None
    while disconnected is None:
        for e in server.poll(timeout=5.0):
            if e.kind == "disconnect":
                disconnected = e.client.id
    assert disconnected == gone
    assert server.send_many([gone, there], b"bye") == 2
    assert server.send_all(b"all") == 1
    server.poll()  # dealt with: releases the held connection
    leaving.settimeout(5.0)
    got = b""
    while chunk := leaving.recv(65536):
        got += chunk
    assert got == b"bye\nall\n"
    reader = LineReader(staying)
    assert reader.line() == b"bye"
    assert reader.line() == b"all"
    staying.close()
    leaving.close()
