"""Review lg: what ``python -m tcphub serve`` logs for one client's own
behaviour. A chat line that fits the frame limit but not with the address
prefix is not relayed, and its sender is told; the hub also logged a
warning for every such line, so one client wrote a warning per message to
the operator's log, without bound (as ``tcphub serve`` did)."""

from __future__ import annotations

import logging
import socket

from conftest import WAIT, LineReader, dash_m_hub


def test_review_lg_dash_m_lines_too_long_to_relay_are_not_a_warning_each(caplog):
    caplog.set_level(logging.DEBUG, logger="tcphub")
    server = dash_m_hub("--busy-poll-us", "0")
    try:
        s = socket.create_connection(server.address, timeout=WAIT)
        r = LineReader(s)
        r.line()  # its own join notice
        for _ in range(20):
            s.sendall(b"x" * 65530 + b"\n")
            assert r.line().startswith(b"message not relayed: ")
        s.close()
    finally:
        server.stop()
    about = [rec for rec in caplog.records if "not relayed" in rec.getMessage()]
    loud = [rec.getMessage() for rec in about if rec.levelno > logging.DEBUG]
    assert loud == [], f"{len(loud)} lines above debug: {loud[:3]}"
    # Still there for -v (debug), naming the client and the sizes.
    assert about, "not even at debug"
    line = about[0].getMessage()
    assert "#" in line and "127.0.0.1:" in line and "65536" in line, line
