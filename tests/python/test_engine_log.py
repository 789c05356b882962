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
import time
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
    # Printed bare by `logging`'s last resort: the line says whose it is.
    assert line.startswith("tcphub: accept failed: "), line


def test_exit_while_a_handler_is_still_busy_with_an_engine_line_is_clean() -> None:
    # The interpreter finalizes while the "tcphub-log" thread waits in
    # `logging` (for the handler's lock, which `logging.shutdown` takes at
    # exit, behind a slow handler): the thread ends with `pthread_exit` when
    # it wants the GIL back, and that forced unwind through pyo3's call
    # aborted the process (SIGABRT, exit -6).
    program = textwrap.dedent(
        """
        import logging, threading, time, tcphub
        busy = threading.Event()
        class Slow(logging.Handler):
            def emit(self, record):
                busy.set()
                time.sleep(0.5)
        logging.getLogger("tcphub").addHandler(Slow())
        logging.getLogger("tcphub").setLevel(logging.DEBUG)
        tcphub.set_engine_log_level(logging.DEBUG)
        tcphub.TcpServer(0, 1, bind="127.0.0.1").start().stop()  # a few lines
        assert busy.wait(30)  # the first, in the handler; the others queued
        print("exiting", flush=True)
        """
    )
    for _ in range(3):
        proc = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=WAIT)
        assert proc.stdout == "exiting\n", proc.stderr
        assert proc.returncode == 0, proc.stderr


def _debug_lines(kept: logging.Handler) -> int:
    """Sends the engine's lines, debug ones too, to ``kept``; returns the
    ``tcphub`` logger's level before, for ``_done_with``."""
    logger = logging.getLogger("tcphub")
    old_level = logger.level
    logger.addHandler(kept)
    logger.setLevel(logging.DEBUG)
    tcphub.set_engine_log_level(logging.DEBUG)
    return old_level


def _done_with(kept: logging.Handler, old_level: int) -> None:
    tcphub.set_engine_log_level(logging.INFO)
    logger = logging.getLogger("tcphub")
    logger.removeHandler(kept)
    logger.setLevel(old_level)


def test_lines_logged_at_once_by_several_threads_are_all_delivered() -> None:
    # Each stop has its 4 loops log "event loop N finished" at about the
    # same moment; far fewer lines than the queue holds are ever waiting, so
    # none may be lost. A `try_lock` on the way to the queue lost a line
    # whenever two threads logged at once (and blamed a full queue), in
    # about one round in ten.
    kept = _Kept()
    old_level = _debug_lines(kept)
    try:
        for _ in range(60):
            servers = [tcphub.TcpServer(0, 10, bind="127.0.0.1", threads=4).start() for _ in range(10)]
            kept.records.clear()
            for server in servers:
                server.stop()
            wait_until(lambda: sum(" finished" in r.getMessage() for r in kept.records) >= 40
                       or any("lost" in r.getMessage() for r in kept.records),
                       what="the loops' last lines")
            lost = [r.getMessage() for r in kept.records if "lost" in r.getMessage()]
            assert not lost, lost
    finally:
        _done_with(kept, old_level)


def test_the_lost_count_comes_with_the_first_line_after_the_loss() -> None:
    # The log thread is held by a handler while lines come faster than
    # 1024 fit in the queue: the count of those lost belongs to the first
    # line queued after them. It came with the next line taken out of the
    # queue instead, one logged before the loss ("client #1 connected (476
    # earlier lines lost ...)").
    gate = threading.Event()

    class Held(_Kept):
        def emit(self, record: logging.LogRecord) -> None:
            super().emit(record)
            if len(self.records) == 1:
                gate.wait(WAIT)

    held = Held()
    old_level = _debug_lines(held)
    server = tcphub.TcpServer(0, 10000, bind="127.0.0.1").start()
    try:
        wait_until(lambda: len(held.records) == 1, what="the first line")
        for _ in range(600):  # at least 2 lines each: more than the queue holds
            socket.create_connection(("127.0.0.1", server.port), timeout=WAIT).close()
        # Each connect and each leave logged (a debug line each), and queued
        # behind the held first line.
        wait_until(lambda: server.stats().disconnected >= 600, what="the connections' ends")
    finally:
        gate.set()
        server.stop()  # more lines, after the loss
        try:
            wait_until(lambda: any("lost" in r.getMessage() for r in held.records), what="the lost count")
        finally:
            _done_with(held, old_level)
    first = next(i for i, r in enumerate(held.records) if "lost" in r.getMessage())
    # Lines 1 to 1024 were queued before the loss.
    assert first > 1024, (first, held.records[first].getMessage())


def test_set_engine_log_level_takes_logging_levels() -> None:
    try:
        assert tcphub.engine_log_level() == logging.INFO  # the default
        for level, taken in [(logging.DEBUG, logging.DEBUG), (5, 5), (1, 5), (15, logging.INFO),
                             (logging.WARNING, logging.WARNING), (logging.ERROR, logging.ERROR),
                             (logging.CRITICAL, logging.CRITICAL), (1000, logging.CRITICAL)]:
            tcphub.set_engine_log_level(level)
            assert tcphub.engine_log_level() == taken, level
    finally:
        tcphub.set_engine_log_level(logging.INFO)


def test_the_engines_debug_lines_come_only_when_asked_for() -> None:
    # A server's start says where it listens at debug level; a refusal at a
    # full server is an info line, logged after it (one queue, in order).
    kept = _Kept()
    old_level = _debug_lines(kept)  # the tcphub logger takes debug records
    try:
        for engine_level, shown in [(logging.INFO, False), (logging.DEBUG, True)]:
            tcphub.set_engine_log_level(engine_level)
            kept.records.clear()
            server = tcphub.TcpServer(0, 1, bind="127.0.0.1").start()
            port = server.port
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=WAIT), \
                        socket.create_connection(("127.0.0.1", port), timeout=WAIT) as second:
                    assert second.recv(1) == b""  # refused
                    wait_until(lambda: any("the server is full" in r.getMessage() for r in kept.records),
                               what="the refusal logged")
            finally:
                server.stop()
            listening = [r for r in kept.records if f"listening on 127.0.0.1:{port}" in r.getMessage()]
            assert bool(listening) == shown, (engine_level, [r.getMessage() for r in kept.records])
            assert all(r.levelno == logging.DEBUG for r in listening)
    finally:
        _done_with(kept, old_level)
