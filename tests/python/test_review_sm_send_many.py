"""Review (send_many) through Python: the size limit is inclusive and one
byte over raises FrameTooLarge with nothing sent; negative ids, another
server's ids and an iterable that raises part way send nothing and do
not crash; repeats count once on both sides of the 8-client threshold."""

from __future__ import annotations

from typing import Iterator

import pytest

import tcphub
from conftest import LineReader, connect, wait_until


def test_limits_strangers_and_a_failing_iterable(make_server):
    server = make_server(framing="lines", max_len=16, threads=2)
    other = make_server(framing="lines")
    server.start()
    other.start()
    socks = [connect(server) for _ in range(10)]
    theirs = connect(other)
    wait_until(lambda: server.client_count == 10, what="10 clients")
    wait_until(lambda: other.client_count == 1, what="their client")
    by_addr = {c.address: c.id for c in server.clients()}
    ids = [by_addr[s.getsockname()] for s in socks]
    readers = [LineReader(s) for s in socks]
    their_id = other.clients()[0].id

    assert server.send_many(ids, b"0123456789abcdef") == 10
    for few_or_all in (ids[:3], ids):
        with pytest.raises(tcphub.FrameTooLarge):
            server.send_many(few_or_all, b"0123456789abcdefg")
    assert server.send_many([their_id] * 20, b"not yours") == 0
    assert server.send_many([-1, -(2**70), their_id], b"nobody") == 0

    def failing() -> Iterator[int]:
        yield ids[0]
        raise RuntimeError("part way")

    with pytest.raises(RuntimeError, match="part way"):
        server.send_many(failing(), b"never")
    assert server.send_many([ids[1]] * 5 + [ids[2]], b"few") == 2
    assert server.send_many(ids * 3, b"many") == 10
    assert server.send_all(b"end") == 10
    for k, r in enumerate(readers):
        assert r.line() == b"0123456789abcdef"
        if k in (1, 2):
            assert r.line() == b"few"
        assert r.line() == b"many"
        assert r.line() == b"end"
    assert other.send_all(b"theirs") == 1
    assert LineReader(theirs).line() == b"theirs"
    for s in socks + [theirs]:
        s.close()
