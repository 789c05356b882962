"""The chat examples as processes: ``examples/python/chat_server.py`` and
``chat_client.py`` (what they say, how they end, Ctrl-C and closed pipes)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys

import pytest

from conftest import EXAMPLES, WAIT, LineReader, dash_m_hub, finish, running_example, spawn_python


EXAMPLE = EXAMPLES / "chat_server.py"


def test_example_chat_server_runs():
    with running_example("chat_server.py") as (port, _), \
            socket.create_connection(("127.0.0.1", port), timeout=WAIT) as a:
        ra = LineReader(a)
        a.sendall(b"hello\n")
        assert ra.line().endswith(b"connected")
        assert ra.line() == b"%s:%d: hello" % (a.getsockname()[0].encode(), a.getsockname()[1])


def test_example_chat_server_tells_the_sender_when_a_line_is_too_long_to_relay():
    # 65,530 bytes fit the 64 KiB line limit; with the "<ip:port>: " prefix
    # they do not: send_all raised in the callback (a traceback on stderr)
    # and the sender was told nothing.
    with running_example("chat_server.py") as (port, _), \
            socket.create_connection(("127.0.0.1", port), timeout=WAIT) as a:
        ra = LineReader(a)
        me = "%s:%d" % a.getsockname()
        assert ra.line() == f"client {me} connected".encode()
        a.sendall(b"x" * 65530 + b"\n" + b"short\n")
        notice = ra.line()
        assert notice.startswith(b"message not relayed: "), notice[:80]
        assert ra.line() == f"{me}: short".encode()


def test_example_chat_server_does_not_tell_a_leaver_of_its_own_leave():
    # A client that half-closes (`printf 'hi\n' | ncat`) is held open for
    # the replies to its last lines, broadcasts included: the example's
    # leave notice went to the leaver too, as its last line, unlike
    # `tcphub serve` and `python -m tcphub serve`.
    with running_example("chat_server.py") as (port, _):
        a = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        ra = LineReader(a)
        me = "%s:%d" % a.getsockname()
        assert ra.line() == f"client {me} connected".encode()
        b = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        rb = LineReader(b)
        assert ra.line().endswith(b" connected")
        assert rb.line().endswith(b" connected")
        a.sendall(b"bye\n")
        a.shutdown(socket.SHUT_WR)
        assert rb.line() == f"{me}: bye".encode()
        assert rb.line() == f"client {me} disconnected (closed by peer)".encode()
        a.settimeout(WAIT)
        while chunk := a.recv(65536):  # to the hub's close
            ra.buf += chunk
        assert ra.buf == f"{me}: bye\n".encode()
        a.close()
        b.close()


def test_example_chat_server_stops_gracefully_on_sigterm():
    # SIGTERM (what `kill` and service managers send) killed it outright
    # (exit -15): only Ctrl-C was handled.
    with running_example("chat_server.py", stop=signal.SIGTERM) as (port, ended):
        a = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        ra = LineReader(a)
        assert ra.line().endswith(b"connected")
    assert "stopping" in ended.out
    # The hub closed the connection: end of stream after anything it sent.
    a.settimeout(WAIT)
    while chunk := a.recv(65536):
        ra.buf += chunk
    a.close()


CLIENT_EXAMPLE = EXAMPLE.with_name("chat_client.py")


def test_example_chat_client_talks_and_leaves_at_end_of_input():
    server = dash_m_hub()  # the chat hub of python -m tcphub, on 127.0.0.1
    watcher = socket.create_connection(server.address, timeout=WAIT)
    seen = LineReader(watcher)
    seen.line()  # its own join notice
    proc = subprocess.Popen(
        [sys.executable, str(CLIENT_EXAMPLE), *map(str, server.address)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None and proc.stderr is not None
    try:
        m = re.fullmatch(r"connected from (\S+)\n", proc.stderr.readline())
        assert m
        me = m.group(1)
        assert seen.line() == f"client {me} connected".encode()
        proc.stdin.write("hello from the example\n")
        proc.stdin.flush()
        assert seen.line() == f"{me}: hello from the example".encode()
        out, err = finish(proc)  # closes stdin: end of input, it half-closes
        assert proc.returncode == 0, err
        assert f"{me}: hello from the example\n" in out
        assert seen.line() == f"client {me} disconnected (closed by peer)".encode()
    finally:
        if proc.poll() is None:
            proc.kill()
        watcher.close()
        server.stop()


def _chat_client_typing(typed: bytes) -> "tuple[bytes, str, list[bytes]]":
    """Runs chat_client.py against a hub with ``typed`` as its whole input;
    returns its stdout, its stderr and the lines a watcher got from it."""
    server = dash_m_hub()
    watcher = socket.create_connection(server.address, timeout=WAIT)
    seen = LineReader(watcher)
    seen.line()  # its own join notice
    try:
        proc = subprocess.Popen(
            [sys.executable, str(CLIENT_EXAMPLE), *map(str, server.address)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            out, err = proc.communicate(typed, timeout=WAIT)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            pytest.fail(f"chat_client.py did not finish\nstdout: {out!r}\nstderr: {err!r}")
        assert proc.returncode == 0, err
        got: "list[bytes]" = []
        while not got or not got[-1].endswith(b" disconnected (closed by peer)"):
            got.append(seen.line())
        return out, err.decode(), got
    finally:
        watcher.close()
        server.stop()


def test_example_chat_client_skips_a_line_too_long_to_send():
    # A line over the 64 KiB frame limit raised in the input thread: a
    # traceback, and no more input was read nor the end of input acted on.
    out, err, seen = _chat_client_typing(b"x" * 70000 + b"\nafter\n")
    assert "Traceback" not in err, err
    assert "not sent: message of 70000 bytes exceeds the frame limit" in err, err
    assert seen[-2].endswith(b": after"), seen
    assert b": after\n" in out


def test_example_chat_client_sends_bytes_that_are_not_utf8_as_typed():
    # Text-mode stdin: a line that is not UTF-8 raised in the input thread
    # (a traceback; later lines and the end of input were lost: a hang).
    out, err, seen = _chat_client_typing(b"caf\xe9 \xff\nafter\n")
    assert "Traceback" not in err, err
    said = [line.split(b": ", 1)[1] for line in seen if b": " in line]
    assert said == [b"caf\xe9 \xff", b"after"], seen


def test_example_chat_client_leaves_cleanly_on_ctrl_c_while_its_input_is_open():
    # Ctrl-C with stdin still open (someone at the terminal): the input
    # thread waited in sys.stdin.buffer, holding its lock, and the exiting
    # interpreter aborted ("Fatal Python error: _enter_buffered_busy",
    # SIGABRT) instead of leaving with exit code 0.
    server = dash_m_hub()
    typing = subprocess.Popen(["sleep", str(WAIT)], stdout=subprocess.PIPE)  # stdin: open, silent
    proc = subprocess.Popen(
        [sys.executable, str(CLIENT_EXAMPLE), *map(str, server.address)],
        stdin=typing.stdout,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().endswith(" connected\n")  # its own join: it is receiving
        proc.send_signal(signal.SIGINT)
        out, err = finish(proc)
        assert "Fatal Python error" not in err, err
        assert proc.returncode == 0, err
    finally:
        if proc.poll() is None:
            proc.kill()
        typing.kill()
        typing.wait()
        assert typing.stdout is not None
        typing.stdout.close()
        server.stop()


def test_example_chat_client_ends_quietly_when_its_stdout_goes_away():
    # `chat_client.py … | head -1`: the next print raised BrokenPipeError,
    # a traceback and exit code 1.
    server = dash_m_hub()
    r, w = os.pipe()
    proc = subprocess.Popen(
        [sys.executable, str(CLIENT_EXAMPLE), *map(str, server.address)],
        stdin=subprocess.PIPE,
        stdout=w,
        stderr=subprocess.PIPE,
    )
    os.close(w)
    try:
        with os.fdopen(r, "rb") as reader:
            assert reader.readline().endswith(b" connected\n")  # then the reader goes away
        try:
            _, err = proc.communicate(b"one\ntwo\n", timeout=WAIT)
        except subprocess.TimeoutExpired:
            proc.kill()
            pytest.fail("chat_client.py did not finish")
        assert b"Traceback" not in err, err
        assert proc.returncode == 0, err
    finally:
        if proc.poll() is None:
            proc.kill()
        server.stop()


@pytest.mark.parametrize("what", ["port in use", "port out of range"])
def test_example_chat_server_says_why_it_cannot_start_in_one_line(what):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1] if what == "port in use" else 70000
        proc = spawn_python("", str(EXAMPLE), "--port", str(port), "--bind", "127.0.0.1")
        out, err = finish(proc)
    assert proc.returncode == 1, err
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    assert err.startswith("chat_server: "), err
    assert ("address in use" if what == "port in use" else "65535") in err


@pytest.mark.parametrize("what", ["refused", "port out of range"])
def test_example_chat_client_says_why_it_cannot_connect_in_one_line(what):
    with socket.socket() as closed:  # bound, not listening: a connect is refused
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        proc = subprocess.Popen(
            [sys.executable, str(CLIENT_EXAMPLE), "127.0.0.1", str(port if what == "refused" else 70000)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        out, err = finish(proc)
    assert proc.returncode == 1, err
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    assert err.startswith("chat_client: "), err
    assert ("connection refused" if what == "refused" else "65535") in err
