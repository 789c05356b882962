"""The engine's own log lines reach Python's ``logging``, under loggers named
after their Rust module (children of ``tcphub``), from a thread of their own:
before, they went nowhere, so a server refusing clients or out of
descriptors said nothing."""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
import textwrap
import threading
from typing import List

import tcphub

from conftest import WAIT, wait_until


class _Kept(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: List[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_a_refusal_at_a_full_server_is_a_logging_record() -> None:
    kept = _Kept()
    logger = logging.getLogger("tcphub")
    old_level = logger.level
    logger.addHandler(kept)
    logger.setLevel(logging.INFO)
    server = tcphub.TcpServer(0, 1, bind="127.0.0.1").start()
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=WAIT), \
                socket.create_connection(("127.0.0.1", server.port), timeout=WAIT) as second:
            assert second.recv(1) == b""  # refused: closed at once
            wait_until(lambda: any("the server is full" in r.getMessage() for r in kept.records),
                       what="the refusal logged")
    finally:
        server.stop()
        logger.removeHandler(kept)
        logger.setLevel(old_level)
    record = next(r for r in kept.records if "the server is full" in r.getMessage())
    assert record.levelno == logging.INFO
    assert record.name.startswith("tcphub."), record.name
    # The "tcphub: " a plain stderr line begins with is the logger's name here.
    assert record.getMessage().startswith("refusing 127.0.0.1:"), record.getMessage()
    assert record.getMessage().endswith("(max_clients 1)"), record.getMessage()
    # Handed over by a thread of its own, never an event loop's.
    assert record.threadName != threading.current_thread().name


def test_an_unconfigured_program_sees_the_engines_warnings_on_stderr() -> None:
    # No logging set up: Python's last resort prints warnings and errors,
    # here the accept failing for want of descriptors.
    program = textwrap.dedent(
        """
        import resource, sys, tcphub
        resource.setrlimit(resource.RLIMIT_NOFILE, (40, 40))
        server = tcphub.TcpServer(0, 100, bind="127.0.0.1", threads=1).start()
        print(server.port, flush=True)
        sys.stdin.read()  # until the test has seen the warning
        server.stop()
        """
    )
    lines: List[str] = []
    held: List[socket.socket] = []
    with subprocess.Popen([sys.executable, "-c", program], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        err = proc.stderr
        reader = threading.Thread(target=lambda: lines.extend(iter(err.readline, "")), daemon=True)
        reader.start()
        try:
            port = int(proc.stdout.readline())
            held = [socket.create_connection(("127.0.0.1", port), timeout=WAIT) for _ in range(40)]
            wait_until(lambda: any("accept failed: " in line for line in lines), what="the warning on stderr")
        finally:
            for sock in held:
                sock.close()
            proc.stdin.close()
            proc.wait(timeout=WAIT)
            reader.join(WAIT)
    assert proc.returncode == 0, "".join(lines)
    line = next(line for line in lines if "accept failed: " in line)
    assert "os error 24" in line, line
