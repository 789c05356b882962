"""Review (statistics): ``server.stats()`` carries the core's counters, each
field its own (a scenario of known, mostly distinct values), and its
``as_dict()`` keys are the stub's properties."""

from __future__ import annotations

import socket

import tcphub
from conftest import WAIT, connect, wait_until


def _connect_from(ip: str, port: int) -> socket.socket:
    s = socket.socket()
    s.bind((ip, 0))
    s.settimeout(WAIT)
    s.connect(("127.0.0.1", port))
    return s


def _read_n(sock: socket.socket, n: int) -> bytes:
    got = b""
    while len(got) < n:
        chunk = sock.recv(n - len(got))
        assert chunk, "closed early"
        got += chunk
    return got


def test_each_stats_field_carries_its_own_counter():
    server = tcphub.TcpServer(0, 4, bind="127.0.0.1", framing="lines", max_len=16,
                              threads=2, max_clients_per_ip=3)
    server.start()
    try:
        port = server.port
        a, b, c = connect(server), connect(server), connect(server)
        wait_until(lambda: server.client_count == 3, what="3 clients")
        d = connect(server)  # a fourth from 127.0.0.1
        wait_until(lambda: server.stats().rejected_per_ip == 1, what="the per-IP refusal")
        e = _connect_from("127.0.0.2", port)
        wait_until(lambda: server.client_count == 4, what="4 clients")
        f = _connect_from("127.0.0.3", port)
        g = _connect_from("127.0.0.4", port)
        wait_until(lambda: server.stats().rejected == 2, what="the refusals")
        a.sendall(b"abcd\n" * 5)
        c.sendall(b"01234567890123456789\n")  # over max_len 16: cut
        wait_until(lambda: server.stats().disconnected == 1, what="the cut")
        assert server.send_all(b"xy") == 3
        for _ in range(3):
            server.send_to("127.0.0.1", a.getsockname()[1], b"xy")
        assert _read_n(a, 12) == b"xy\n" * 4
        assert _read_n(b, 3) == b"xy\n"
        assert _read_n(e, 3) == b"xy\n"
        # (Bytes in are counted as read, their messages as decoded, just after.)
        wait_until(lambda: server.stats().bytes_out == 18 and server.stats().bytes_in == 46
                   and server.stats().msgs_in == 5, what="the bytes and messages counted")
        got = server.stats().as_dict()
        assert got == {
            "clients": 3, "accepted": 4, "rejected": 2, "rejected_per_ip": 1,
            "disconnected": 1, "frame_too_large": 1, "msgs_in": 5, "bytes_in": 46,
            "msgs_out": 6, "bytes_out": 18, "dropped": 0, "undelivered": 0,
            "unwritten": 0, "slow_consumers": 0, "idle_timeouts": 0,
            "frame_timeouts": 0, "callback_errors": 0,
        }
        st = server.stats()
        for key, value in got.items():
            assert getattr(st, key) == value, key
        stub = (tcphub.__file__.rsplit("/", 1)[0]) + "/_tcphub.pyi"
        with open(stub) as fh:
            text = fh.read()
        stats_block = text.split("class Stats:", 1)[1].split("\nclass ", 1)[0]
        for key in got:
            assert f"def {key}(self) -> int:" in stats_block, key
        server.stop()
        end = server.stats()
        assert (end.clients, end.accepted, end.disconnected) == (0, 4, 4)
    finally:
        server.stop()
        for s in (a, b, c, d, e, f, g):
            s.close()
