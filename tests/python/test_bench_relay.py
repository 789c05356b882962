"""bench/py_relay.py, the benchmark's Python relays (callback and batch
pull): every client gets every frame sent, each sender's in order, and
SIGTERM stops it cleanly — so the benchmark's bindings rows cannot rot
unnoticed until a full run (``tcphub-bench smoke`` runs before the venv
exists)."""

from __future__ import annotations

import re
import signal
import socket
import struct
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import pytest

from conftest import WAIT, finish

RELAY = Path(__file__).resolve().parents[2] / "bench" / "py_relay.py"

CLIENTS = 3
PER_CLIENT = 300
HELLO = 0xFFFFFFFF


def recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise AssertionError(f"connection closed after {len(buf)} of {n} bytes")
        buf += chunk
    return buf


@pytest.mark.parametrize("variant", ["callback", "poll"])
def test_bench_relay_delivers_every_frame_to_every_client_in_order(variant: str) -> None:
    proc = subprocess.Popen(
        [sys.executable, str(RELAY), "--port", "0", "--variant", variant],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        m = re.fullmatch(r"listening on 127\.0\.0\.1:(\d+)\n", line)
        assert m, f"no listening line: {line!r}"
        socks: List[socket.socket] = []
        for who in range(CLIENTS):
            # A hello each client already in (and the new one) must get:
            # the relay has taken the new client in before anyone sends.
            socks.append(socket.create_connection(("127.0.0.1", int(m.group(1))), timeout=WAIT))
            socks[-1].sendall(struct.pack(">III", 8, who, HELLO))
            for s in socks:
                assert recv_exact(s, 12) == struct.pack(">III", 8, who, HELLO)
        # Each client sends its frames (sender, seq) in one write, so they
        # interleave at the relay with the other clients'.
        for who, s in enumerate(socks):
            s.sendall(
                b"".join(struct.pack(">III", 8, who, seq) for seq in range(PER_CLIENT))
            )
        for s in socks:
            got: Dict[int, List[int]] = {who: [] for who in range(CLIENTS)}
            for _ in range(CLIENTS * PER_CLIENT):
                length, who, seq = struct.unpack(">III", recv_exact(s, 12))
                assert length == 8
                got[who].append(seq)
            assert all(seqs == list(range(PER_CLIENT)) for seqs in got.values()), got
        for s in socks:
            s.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = finish(proc)
    assert proc.returncode == 0, err
    assert "Traceback" not in err, err
