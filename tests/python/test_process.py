"""Whole-process behaviour: Ctrl-C during a blocking wait, exit with a
running server, and ``python -m tcphub serve`` (in a child Python, or its
hub built in-process)."""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import tcphub
from conftest import EXAMPLES, WAIT, LineReader, example_server, finish


def _spawn(code: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, *(["-c", textwrap.dedent(code)] if code else []), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_sigint_ends_a_blocking_events_wait():
    proc = _spawn(
        """
        import tcphub
        server = tcphub.TcpServer(0, 10, bind="127.0.0.1").start()
        try:
            print("ready", flush=True)
            for event in server.events():      # blocks: no client, no timeout
                print("event", event, flush=True)
        except KeyboardInterrupt:
            print("interrupted", flush=True)
        """
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    proc.send_signal(signal.SIGINT)
    out, err = finish(proc)
    assert out.strip() == "interrupted", err
    assert proc.returncode == 0, err


def test_sigint_ends_a_blocking_client_recv_and_wait():
    proc = _spawn(
        """
        import tcphub
        server = tcphub.TcpServer(0, 10, bind="127.0.0.1")
        server.on_message(lambda c, d: None)
        server.start()
        client = tcphub.TcpClient("127.0.0.1", server.port)
        try:
            print("ready", flush=True)
            client.recv()
        except KeyboardInterrupt:
            print("recv interrupted", flush=True)
        try:
            print("ready", flush=True)
            server.wait()
        except KeyboardInterrupt:
            print("wait interrupted", flush=True)
        """
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    proc.send_signal(signal.SIGINT)
    assert proc.stdout.readline().strip() == "recv interrupted"
    assert proc.stdout.readline().strip() == "ready"
    proc.send_signal(signal.SIGINT)
    out, err = finish(proc)
    assert out.strip() == "wait interrupted", err
    assert proc.returncode == 0, err


def test_running_server_is_stopped_cleanly_at_exit():
    proc = _spawn(
        """
        import socket, tcphub
        server = tcphub.TcpServer(0, 10, bind="127.0.0.1", framing="lines")

        @server.on_disconnect
        def left(client, reason):
            print("left:", reason, flush=True)

        server.start()
        sock = socket.create_connection(("127.0.0.1", server.port))
        while server.client_count == 0:
            pass
        print("exiting", flush=True)
        # no stop(): the interpreter exits with the server running
        """
    )
    out, err = finish(proc)
    assert out.split("\n")[:2] == ["exiting", "left: server stopped"], err
    assert proc.returncode == 0, err


def test_python_dash_m_serve_chat_mode():
    proc = _spawn("", "-m", "tcphub", "serve", "--bind", "127.0.0.1", "--port", "0")
    assert proc.stderr is not None
    try:
        line = proc.stderr.readline()
        m = re.search(r"listening on 127\.0\.0\.1:(\d+) \(chat mode, lines framing", line)
        assert m, line
        port = int(m.group(1))
        a = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        ra = LineReader(a)
        a_addr = "%s:%d" % a.getsockname()
        assert ra.line() == f"client {a_addr} connected".encode()
        b = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        rb = LineReader(b)
        b_addr = "%s:%d" % b.getsockname()
        assert ra.line() == rb.line() == f"client {b_addr} connected".encode()
        b.sendall(b"hi all\n")
        assert ra.line() == rb.line() == f"{b_addr}: hi all".encode()
        b.close()
        assert ra.line() == f"client {b_addr} disconnected (closed by peer)".encode()
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = finish(proc)
    assert proc.returncode == 0, err
    assert "stopped:" in err
    a.settimeout(WAIT)
    assert a.recv(100) == b""  # the hub closed our connection on the way out


def test_python_dash_m_serve_bind_conflict():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        proc = _spawn("", "-m", "tcphub", "serve", "--bind", "127.0.0.1", "--port", str(port))
        out, err = finish(proc)
    assert proc.returncode == 1
    assert err.strip().splitlines()[-1] == f"tcphub: cannot listen on 127.0.0.1:{port}: address in use"


EXAMPLE = EXAMPLES / "chat_server.py"


def test_example_chat_server_runs():
    proc, port = example_server("chat_server.py")
    try:
        a = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        ra = LineReader(a)
        a.sendall(b"hello\n")
        assert ra.line().endswith(b"connected")
        assert ra.line() == b"%s:%d: hello" % (a.getsockname()[0].encode(), a.getsockname()[1])
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = finish(proc)
    assert proc.returncode == 0, err


def test_example_chat_server_tells_the_sender_when_a_line_is_too_long_to_relay():
    # 65,530 bytes fit the 64 KiB line limit; with the "<ip:port>: " prefix
    # they do not: send_all raised in the callback (a traceback on stderr)
    # and the sender was told nothing.
    proc, port = example_server("chat_server.py")
    try:
        a = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        ra = LineReader(a)
        me = "%s:%d" % a.getsockname()
        assert ra.line() == f"client {me} connected".encode()
        a.sendall(b"x" * 65530 + b"\n" + b"short\n")
        notice = ra.line()
        assert notice.startswith(b"message not relayed: "), notice[:80]
        assert ra.line() == f"{me}: short".encode()
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = finish(proc)
    assert proc.returncode == 0, err
    assert "Traceback" not in err, err


def test_example_chat_server_does_not_tell_a_leaver_of_its_own_leave():
    # A client that half-closes (`printf 'hi\n' | ncat`) is held open for
    # the replies to its last lines, broadcasts included: the example's
    # leave notice went to the leaver too, as its last line, unlike
    # `tcphub serve` and `python -m tcphub serve`.
    proc, port = example_server("chat_server.py")
    try:
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
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = finish(proc)
    assert proc.returncode == 0, err


def test_example_chat_server_stops_gracefully_on_sigterm():
    # SIGTERM (what `kill` and service managers send) killed it outright
    # (exit -15): only Ctrl-C was handled.
    proc, port = example_server("chat_server.py")
    try:
        a = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        ra = LineReader(a)
        assert ra.line().endswith(b"connected")
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = finish(proc)
    assert proc.returncode == 0, err
    assert "stopping" in out
    # The hub closed the connection: end of stream after anything it sent.
    a.settimeout(WAIT)
    while chunk := a.recv(65536):
        ra.buf += chunk
    a.close()


CLIENT_EXAMPLE = EXAMPLE.with_name("chat_client.py")


def test_example_chat_client_talks_and_leaves_at_end_of_input():
    server = _hub()  # the chat hub of python -m tcphub, on 127.0.0.1
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
    server = _hub()
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
        got = []
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
    server = _hub()
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
    server = _hub()
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
        proc = _spawn("", str(EXAMPLE), "--port", str(port), "--bind", "127.0.0.1")
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


def test_stop_under_load_from_main_and_from_a_callback():
    """Relay traffic from 20 clients while stop() comes from the main thread
    and from inside a callback at once; the process must finish (no deadlock)."""
    proc = _spawn(
        """
        import socket, threading, tcphub
        for round in range(5):
            server = tcphub.TcpServer(0, 50, bind="127.0.0.1", framing="lines", linger=0.5)
            count = [0]

            @server.on_message
            def relay(client, data):
                count[0] += 1
                server.send_all(data)
                server.stats(); server.clients()
                if count[0] == 300:
                    server.stop()

            @server.on_disconnect
            def left(client, reason):
                server.send_all(b"left")

            server.start()
            socks = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(20)]
            stop_flag = threading.Event()

            def blast(s):
                try:
                    while not stop_flag.is_set():
                        s.sendall(b"x" * 50 + b"\\n")
                except OSError:
                    pass

            def drain(s):
                try:
                    while s.recv(65536):
                        pass
                except OSError:
                    pass

            threads = [threading.Thread(target=f, args=(s,)) for s in socks for f in (blast, drain)]
            for t in threads:
                t.start()
            while server.running and count[0] < 300:
                server.wait(timeout=0.01)
            server.stop()
            stop_flag.set()
            for s in socks:
                s.close()
            for t in threads:
                t.join()
            print("round", round, "ok", flush=True)
        """
    )
    out, err = finish(proc)
    assert proc.returncode == 0, err
    assert out.count("ok") == 5, (out, err)


def test_sigint_ends_a_wait_for_a_shared_events_iterator():
    # Two threads share one iterator; the main thread waits for its turn
    # while the other waits for an event. Ctrl-C must end the main wait.
    # A thread is inside a call to the iterator when its top frame is the
    # one function that makes the call and it has let the GIL go: with no
    # forced GIL switches (a long switch interval), it lets it go there only
    # in that call's waits.
    proc = _spawn(
        """
        import sys, threading, time
        import tcphub
        sys.setswitchinterval(60)
        server = tcphub.TcpServer(0, 10, bind="127.0.0.1").start()
        it = server.events()

        def work():
            for _ in it:
                pass

        def take_a_turn():
            return next(it)

        def wait_until_in(thread, func):
            code = func.__code__
            while sys._current_frames().get(thread.ident).f_code is not code:
                time.sleep(0.005)                # lets the GIL go

        worker = threading.Thread(target=work)
        worker.start()
        wait_until_in(worker, work)              # the worker holds the turn
        main = threading.current_thread()
        watcher = threading.Thread(
            target=lambda: (wait_until_in(main, take_a_turn), print("waiting", flush=True)))
        failsafe = threading.Timer(10, server.stop)  # unblocks a broken build
        failsafe.start()
        started = time.monotonic()
        try:
            print("ready", flush=True)
            watcher.start()
            take_a_turn()
            print("returned", flush=True)
        except KeyboardInterrupt:
            print(f"interrupted after {time.monotonic() - started:.1f} s", flush=True)
        failsafe.cancel()
        server.stop()
        worker.join()
        watcher.join()
        """
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    assert proc.stdout.readline().strip() == "waiting"  # for its turn
    proc.send_signal(signal.SIGINT)
    out, err = finish(proc)
    m = re.fullmatch(r"interrupted after (\d+\.\d) s", out.strip())
    assert m, (out, err)
    # Ctrl-C ended the wait, not the failsafe stop 10 s after it began.
    assert float(m.group(1)) < 8, (out, err)


def test_sigint_ends_a_blocking_client_connect():
    # A listener whose accept backlog is full: the kernel drops our SYNs,
    # so the connect waits for connect_timeout unless Ctrl-C ends it. The
    # connect is under way once the main thread's top frame is connect()
    # and it has let the GIL go (no forced switches: only in its waits).
    proc = _spawn(
        """
        import select, socket, sys, threading, time
        import tcphub
        sys.setswitchinterval(60)
        lst = socket.socket()
        lst.bind(("127.0.0.1", 0))
        lst.listen(0)
        fill = []
        for _ in range(4):
            s = socket.socket()
            s.setblocking(False)
            try:
                s.connect(lst.getsockname())
            except BlockingIOError:
                pass
            fill.append(s)
        # One of them connected: the accept queue is full.
        _, connected, _ = select.select([], fill, [], 30)
        assert any(s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0 for s in connected)

        def connect():
            return tcphub.TcpClient("127.0.0.1", lst.getsockname()[1], connect_timeout=10)

        main = threading.current_thread()

        def watch():
            while sys._current_frames().get(main.ident).f_code is not connect.__code__:
                time.sleep(0.005)
            print("waiting", flush=True)

        watcher = threading.Thread(target=watch)
        started = time.monotonic()
        try:
            print("ready", flush=True)
            watcher.start()
            connect()
            print("connected", flush=True)
        except KeyboardInterrupt:
            print(f"interrupted after {time.monotonic() - started:.1f} s", flush=True)
        except tcphub.ConnectError as e:
            print(f"{e} after {time.monotonic() - started:.1f} s", flush=True)
        watcher.join()
        """
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    assert proc.stdout.readline().strip() == "waiting"  # in the connect
    proc.send_signal(signal.SIGINT)
    out, err = finish(proc)
    m = re.fullmatch(r"interrupted after (\d+\.\d) s", out.strip())
    assert m, (out, err)
    # Ctrl-C ended the connect, not its 10 s timeout.
    assert float(m.group(1)) < 8, (out, err)


def _hub(*flags: str) -> tcphub.TcpServer:
    from tcphub.__main__ import build_parser, make_hub

    args = build_parser().parse_args(["serve", "--bind", "127.0.0.1", "--port", "0", *flags])
    server = make_hub(args)
    server.start()
    return server


def test_python_dash_m_chat_tells_the_sender_when_a_line_is_too_long_to_relay():
    # 65,530 bytes fit the 64 KiB line limit; with the "<ip:port>: " prefix
    # they do not: the hub refused it silently (an exception in its callback).
    server = _hub("--busy-poll-us", "0")
    try:
        s = socket.create_connection(server.address, timeout=WAIT)
        r = LineReader(s)
        me = "%s:%d" % s.getsockname()
        assert r.line() == f"client {me} connected".encode()
        s.sendall(b"x" * 65530 + b"\n")
        notice = r.line()
        assert notice.startswith(b"message not relayed: "), notice[:80]
        assert b"over the frame limit of 65536" in notice
        s.sendall(b"short\n")
        assert r.line() == f"{me}: short".encode()
        s.close()
    finally:
        server.stop()


def test_python_dash_m_chat_tells_a_connection_over_max_that_it_is_full_like_the_cli():
    server = _hub("--max", "1")
    try:
        a = socket.create_connection(server.address, timeout=WAIT)
        me = "%s:%d" % a.getsockname()
        assert LineReader(a).line() == f"client {me} connected".encode()
        with socket.create_connection(server.address, timeout=WAIT) as refused:
            got = b""
            while chunk := refused.recv(64):
                got += chunk
        assert got == b"server full (1 connected)\n"
        a.close()
    finally:
        server.stop()


def test_python_dash_m_chat_refuses_one_address_past_max_per_ip_like_the_cli():
    server = _hub("--max", "10", "--max-per-ip", "1")
    try:
        a = socket.create_connection(server.address, timeout=WAIT)
        me = "%s:%d" % a.getsockname()
        reader = LineReader(a)
        assert reader.line() == f"client {me} connected".encode()
        with socket.create_connection(server.address, timeout=WAIT) as refused:
            got = b""
            while chunk := refused.recv(64):
                got += chunk
        assert got == b"too many connections from your address (at most 1)\n"
        # Another address still gets in.
        with socket.create_connection(
            server.address, timeout=WAIT, source_address=("127.0.0.2", 0)
        ) as b:
            other = "%s:%d" % b.getsockname()
            assert reader.line() == f"client {other} connected".encode()
        a.close()
    finally:
        server.stop()


def test_python_dash_m_takes_per_ip_v6_prefix_like_the_cli():
    server = _hub("--max-per-ip", "1", "--per-ip-v6-prefix", "64")
    try:
        assert server.per_ip_ipv6_prefix == 64
    finally:
        server.stop()
    from tcphub.__main__ import build_parser

    with pytest.raises(SystemExit) as exit:
        build_parser().parse_args(["serve", "--per-ip-v6-prefix", "129"])
    assert exit.value.code == 2


def _last_words(*flags: str, send: bytes = b"") -> bytes:
    """What a lone client of a hub run with ``flags`` is told (after its
    join notice in chat mode), having sent ``send``, up to the end."""
    server = _hub(*flags)
    try:
        with socket.create_connection(server.address, timeout=WAIT) as s:
            me = "%s:%d" % s.getsockname()
            r = LineReader(s)
            if "--mode" not in flags:
                assert r.line() == f"client {me} connected".encode()
            s.sendall(send)
            got = r.buf
            while chunk := s.recv(4096):
                got += chunk
            return got
    finally:
        server.stop()


def test_python_dash_m_chat_tells_a_client_cut_off_by_a_timeout_why_like_the_cli():
    # `tcphub serve` in chat mode tells such a client why before the end;
    # this hub (the same one) gave it a bare end-of-stream.
    flags = ("--idle-timeout", "1.5", "--frame-timeout", "0.5")
    assert _last_words(*flags) == b"disconnected: nothing sent for 1.5 s (idle timeout)\n"
    assert (
        _last_words(*flags, send=b"never ends")
        == b"disconnected: a message not finished within 0.5 s (frame timeout)\n"
    )
    # Whole seconds without a ".0", as the CLI writes them.
    whole = _last_words("--idle-timeout", "1")
    assert whole == b"disconnected: nothing sent for 1 s (idle timeout)\n"
    # Only the chat hub adds to its clients' streams.
    assert _last_words("--mode", "echo", "--idle-timeout", "0.3") == b""


def test_python_dash_m_chat_tells_a_client_over_the_frame_limit_why_like_the_cli():
    too_long = b"x" * (tcphub.DEFAULT_MAX_LINE + 100) + b"\nafter\n"
    assert (
        _last_words(send=too_long)
        == b"disconnected: a message over 65536 bytes (frame too large)\n"
    )
    # Cut off too (a line read as a length header), but not told.
    got = _last_words("--framing", "len", "--mode", "echo", send=b"hello\n")
    assert got == b"", "only the chat hub adds to its clients' streams"


def test_python_dash_m_chat_with_raw_framing_ends_each_notice_with_a_newline():
    server = _hub("--framing", "raw")
    try:
        a = socket.create_connection(server.address, timeout=WAIT)
        a_addr = "%s:%d" % a.getsockname()
        want = f"client {a_addr} connected\n".encode()
        got = b""
        while len(got) < len(want):
            chunk = a.recv(4096)
            assert chunk, got
            got += chunk
        assert got == want
        a.close()
    finally:
        server.stop()


@pytest.mark.parametrize(
    "flags",
    [
        ["--bind", "nonsense"],
        ["--port", "70000"],
        ["--port", "-1"],
        ["--max", "-1"],
        ["--threads", "-1"],
        ["--threads", "x"],
        ["--max", "0"],
        ["--threads", "0"],
        # Past the core's bounds (the server would refuse them): usage
        # errors too, as in `tcphub serve`; they used to exit 1.
        ["--threads", "100000"],
        ["--busy-poll-us", "2000000"],
        ["--frame-timeout", "0"],
        ["--keepalive", "0"],
        ["--keepalive", "32768"],
        # Positive but past the engine's durations (a review: exit 1, a
        # failed start, where `tcphub serve` says usage error), or past
        # what a Python wait takes (--stats: a traceback in its thread).
        ["--idle-timeout", "inf"],
        ["--frame-timeout", "1e300"],
        ["--keepalive", "1e-10"],
        ["--idle-timeout", "1e-10"],
        ["--stats", "1e10"],
        ["--stats", "nan"],
    ],
)
def test_python_dash_m_serve_refuses_bad_values_like_the_cli(flags, capsys):
    # As `tcphub serve` (clap) does: a usage error and exit code 2, no traceback.
    from tcphub.__main__ import main

    with pytest.raises(SystemExit) as exit_info:
        main(["serve", *flags])
    assert exit_info.value.code == 2
    assert f"argument {flags[0]}: " in capsys.readouterr().err


def test_python_dash_m_serve_bounds_are_the_cores():
    # The flags' bounds are the server's, not copies that could drift.
    from tcphub.__main__ import build_parser

    parser = build_parser()
    ok = parser.parse_args(
        ["serve", "--threads", str(tcphub.MAX_THREADS), "--busy-poll-us", str(tcphub.MAX_BUSY_POLL * 1e6)]
    )
    tcphub.TcpServer(0, 1, threads=ok.threads, busy_poll=ok.busy_poll_us / 1e6)
    with pytest.raises(tcphub.InvalidConfig, match="threads must be at most"):
        tcphub.TcpServer(0, 1, threads=tcphub.MAX_THREADS + 1)


def test_python_dash_m_serve_takes_length_for_len_as_tcphub_serve_does():
    # `tcphub serve --framing length` is `len`; python -m tcphub serve
    # refused it (usage error), though its flags are tcphub serve's.
    server = _hub("--framing", "length", "--mode", "echo")
    try:
        s = socket.create_connection(server.address, timeout=WAIT)
        s.sendall(b"\0\0\0\2hi")
        got = b""
        while len(got) < 6:
            chunk = s.recv(64)
            assert chunk, got
            got += chunk
        assert got == b"\0\0\0\2hi"
        s.close()
    finally:
        server.stop()


_SLOW_RESOLVER = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* getaddrinfo as with an unreachable DNS server, for one test name only:
 * it says when it starts, says when the file named by TCPHUB_TICKED exists
 * (created by a Python thread, which needs the GIL), and gives up after
 * SLOW_SECONDS in all. */
#define SLOW_SECONDS 30
int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                struct addrinfo **res) {
    if (node && strcmp(node, "slow.tcphub.invalid") == 0) {
        static const char start[] = "looking up\n";
        static const char ticked[] = "ticked during the lookup\n";
        (void)!write(1, start, sizeof start - 1);
        const char *flag = getenv("TCPHUB_TICKED");
        int said = 0;
        for (int i = 0; i < SLOW_SECONDS * 100; i++) {
            if (!said && flag && access(flag, F_OK) == 0) {
                (void)!write(1, ticked, sizeof ticked - 1);
                said = 1;
            }
            usleep(10000);
        }
        return EAI_NONAME;
    }
    int (*real)(const char *, const char *, const struct addrinfo *, struct addrinfo **) =
        (int (*)(const char *, const char *, const struct addrinfo *, struct addrinfo **))
            dlsym(RTLD_NEXT, "getaddrinfo");
    return real(node, service, hints, res);
}
"""


def test_a_slow_name_lookup_holds_neither_the_gil_nor_ctrl_c(tmp_path):
    import shutil

    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("needs a C compiler for the slow-resolver shim")
    src = tmp_path / "slow_resolver.c"
    src.write_text(_SLOW_RESOLVER)
    lib = tmp_path / "slow_resolver.so"
    subprocess.run([cc, "-shared", "-fPIC", "-o", str(lib), str(src), "-ldl"], check=True)
    code = textwrap.dedent(
        """
        import os, threading, time
        import tcphub
        def tick():
            time.sleep(0.05)  # the lookup is under way by now, or soon
            # Python code: runs only if the lookup let the GIL go.
            open(os.environ["TCPHUB_TICKED"], "w").close()
        t = threading.Thread(target=tick)
        print("ready", flush=True)
        started = time.monotonic()
        t.start()
        try:
            tcphub.TcpClient("slow.tcphub.invalid", 8001)
            print("connected", flush=True)
        except KeyboardInterrupt:
            print(f"interrupted after {time.monotonic() - started:.1f} s", flush=True)
        except tcphub.ConnectError:
            print(f"not resolved after {time.monotonic() - started:.1f} s", flush=True)
        t.join()
        """
    )
    import os

    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "LD_PRELOAD": str(lib), "TCPHUB_TICKED": str(tmp_path / "ticked")},
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    assert proc.stdout.readline().strip() == "looking up"  # the shim says so
    # Another Python thread ran while the name was being looked up: the
    # lookup does not hold the GIL (held, this would wait out its 30 s).
    assert proc.stdout.readline().strip() == "ticked during the lookup"
    proc.send_signal(signal.SIGINT)
    out, err = finish(proc)
    m = re.fullmatch(r"interrupted after (\d+\.\d) s", out.strip())
    assert m, (out, err)
    # Ctrl-C ended the wait, not the lookup's end (30 s after it began).
    assert float(m.group(1)) < 20, (out, err)


def test_sigint_ends_the_flush_wait_of_stop_and_close():
    # A peer that never reads: the stop's (or close's) flush can only end at
    # the 600 s linger. Ctrl-C must get through; a later call finishes the
    # job once the peer has gone. The call is waiting once the main
    # thread's top frame is the function that makes it and it has let the
    # GIL go (no forced switches: only in the call's waits).
    proc = _spawn(
        """
        import socket, sys, threading, time
        import tcphub
        sys.setswitchinterval(60)
        main = threading.current_thread()

        def announce_when_in(func):
            def watch():
                while sys._current_frames().get(main.ident).f_code is not func.__code__:
                    time.sleep(0.005)
                print("waiting", flush=True)
            watcher = threading.Thread(target=watch)
            watcher.start()
            return watcher

        server = tcphub.TcpServer(0, 10, bind="127.0.0.1", linger=600.0,
                                  max_queue_bytes=64 << 20).start()
        peer = socket.create_connection(("127.0.0.1", server.port))
        while server.client_count < 1:
            time.sleep(0.01)
        for _ in range(16):
            server.send_all(b"x" * (1 << 20))
        def stop():
            server.stop()

        try:
            print("ready", flush=True)
            watcher = announce_when_in(stop)
            stop()
            print("stop returned", flush=True)
        except KeyboardInterrupt:
            print("stop interrupted", flush=True)
        watcher.join()
        peer.close()
        server.stop()
        print("stopped", flush=True)

        lst = socket.create_server(("127.0.0.1", 0))
        client = tcphub.TcpClient("127.0.0.1", lst.getsockname()[1], linger=600.0,
                                  max_queue_bytes=64 << 20)
        conn, _ = lst.accept()
        for _ in range(32):
            client.send(b"y" * (1 << 20))
        def close():
            client.close()

        try:
            print("ready", flush=True)
            watcher = announce_when_in(close)
            close()
            print("close returned", flush=True)
        except KeyboardInterrupt:
            print("close interrupted", flush=True)
        watcher.join()
        conn.close()
        client.close()
        print("closed", flush=True)
        """
    )
    assert proc.stdout is not None
    # A child stuck in the wait is killed, so the reads below end (with "").
    import threading

    killer = threading.Timer(WAIT, proc.kill)
    killer.start()
    for what in ("stop", "close"):
        assert proc.stdout.readline().strip() == "ready"
        assert proc.stdout.readline().strip() == "waiting"  # in the flush wait
        proc.send_signal(signal.SIGINT)
        assert proc.stdout.readline().strip() == f"{what} interrupted"
        assert proc.stdout.readline().strip() == ("stopped" if what == "stop" else "closed")
    out, err = finish(proc)
    killer.cancel()
    assert proc.returncode == 0, err


@pytest.mark.parametrize("mode", ["chat", "relay"])
def test_python_dash_m_answers_a_client_that_half_closes_like_the_cli(mode):
    # `printf 'hi\n' | ncat HOST PORT` (or a piped `tcphub connect`) sends,
    # then half-closes: `tcphub serve` answers it (join notice, its own line
    # relayed) before closing; the Python hub sent it nothing, as its
    # broadcasts no longer reach a client whose end was already read.
    server = _hub("--mode", mode)
    try:
        for _ in range(3):
            s = socket.create_connection(server.address, timeout=WAIT)
            me = "%s:%d" % s.getsockname()
            s.sendall(b"hi\n")
            s.shutdown(socket.SHUT_WR)
            got = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                got += chunk
            s.close()
            want = f"client {me} connected\n{me}: hi\n" if mode == "chat" else "hi\n"
            assert got == want.encode()
    finally:
        server.stop()


def test_python_dash_m_serve_stops_on_sigint_even_when_started_with_it_ignored():
    # A shell starts background jobs (`python -m tcphub serve &` in a
    # script) with SIGINT ignored; `tcphub serve` still stops on it, and so
    # must this one (Python installs no SIGINT handler when it is ignored).
    proc = subprocess.Popen(
        [sys.executable, "-m", "tcphub", "serve", "--bind", "127.0.0.1", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    assert proc.stderr is not None
    assert "listening on" in proc.stderr.readline()
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail("python -m tcphub serve ignored SIGINT")
    assert proc.returncode == 0
    assert "stopped:" in proc.stderr.read()


@pytest.mark.parametrize("bind", ["::1", "[::1]"])
def test_python_dash_m_serve_names_an_ipv6_address_in_brackets(bind):
    # As `tcphub serve` does ("listening on [::1]:PORT"): a bare "::1:PORT"
    # cannot be told from an address, nor pasted into `tcphub connect`. And
    # it takes the address back as it prints it, brackets included.
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback")
    proc = _spawn("", "-m", "tcphub", "serve", "--bind", bind, "--port", "0")
    assert proc.stderr is not None
    try:
        line = proc.stderr.readline()
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = finish(proc)
    assert re.search(r"listening on \[::1\]:\d+ \(chat mode", line), line + err
    assert proc.returncode == 0, err


@pytest.mark.parametrize("bad", ["localhost", "[127.0.0.1]", "::1%1"])
def test_python_dash_m_serve_refuses_a_bind_that_is_no_ip_address(bad):
    proc = _spawn("", "-m", "tcphub", "serve", "--bind", bad, "--port", "0")
    out, err = finish(proc)
    assert proc.returncode == 2, (bad, err)
    assert "not an IP address" in err, err


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_python_dash_m_serve_stops_cleanly_on_a_signal_right_after_listening(sig):
    # `tcphub serve` never misses a signal that comes right after its
    # "listening on" line; this one raised KeyboardInterrupt outside its
    # try: a traceback, exit status -SIGINT, and no graceful stop.
    for _ in range(8):
        proc = _spawn("", "-m", "tcphub", "serve", "--bind", "127.0.0.1", "--port", "0")
        assert proc.stderr is not None
        assert "listening on" in proc.stderr.readline()
        proc.send_signal(sig)
        out, err = finish(proc)
        assert proc.returncode == 0, err
        assert "Traceback" not in err, err
        assert "stopped:" in err, err


def test_python_dash_m_serve_frame_timeout_cuts_a_line_never_finished_like_the_cli():
    server = _hub("--mode", "echo", "--frame-timeout", "0.5", "--busy-poll-us", "0")
    try:
        slow = socket.create_connection(server.address, timeout=WAIT)
        fine = socket.create_connection(server.address, timeout=WAIT)
        slow.sendall(b"never ends")
        assert slow.recv(100) == b""  # the hub ended the connection
        fine.sendall(b"still here\n")
        assert LineReader(fine).line() == b"still here"
        assert server.stats().frame_timeouts == 1
        slow.close()
        fine.close()
    finally:
        server.stop()


def _keepalive_ticks(local: int, peer: int):
    """The keepalive timer (ticks, 100 a second) of the socket from port
    ``local`` to port ``peer`` in /proc/net/tcp; None without one."""
    with open("/proc/net/tcp") as f:
        for line in f.read().splitlines()[1:]:
            fields = line.split()
            port = lambda s: int(s.rsplit(":", 1)[1], 16)  # noqa: E731
            if port(fields[1]) == local and port(fields[2]) == peer:
                timer, when = fields[5].split(":")
                return int(when, 16) if timer == "02" else None
    return None


def test_python_dash_m_serve_keepalive_turns_it_on_like_the_cli():
    server = _hub("--keepalive", "3")
    try:
        s = socket.create_connection(server.address, timeout=WAIT)
        deadline = time.monotonic() + WAIT
        while server.client_count < 1:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        ticks = _keepalive_ticks(server.port, s.getsockname()[1])
        assert ticks is not None and ticks <= 300, ticks
        s.close()
    finally:
        server.stop()


def test_the_stats_line_counts_lost_messages_apart_from_drops() -> None:
    """``--stats``: the messages sent to clients that had left and those cut
    off unwritten are "lost", beside the drops of full queues."""
    from tcphub.__main__ import _summary

    rebuild = tcphub._tcphub._stats  # what unpickling a Stats calls
    a = rebuild({})
    b = rebuild({"dropped": 2, "undelivered": 3, "unwritten": 4})
    assert "| drops 2 lost 7 slow 0 rejected 0" in _summary(a, b, 1.0)


def _dash_m_hub_log(*flags: str, clients: int, expect: str, limit_fds: "int | None" = None) -> str:
    """Runs ``python -m tcphub serve`` with ``flags``, opens ``clients``
    connections to it (holding them), waits (bounded) for a logged line
    matching ``expect``, stops the hub with SIGINT and returns everything
    it logged."""
    import resource

    def lower_fd_limit() -> None:
        if limit_fds is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (limit_fds, limit_fds))

    proc = subprocess.Popen(
        [sys.executable, "-m", "tcphub", "serve", "--bind", "127.0.0.1", "--port", "0", *flags],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lower_fd_limit,
    )
    assert proc.stderr is not None
    lines: "queue.Queue[str]" = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(l) for l in proc.stderr], daemon=True)
    held = []
    log = ""
    try:
        first = proc.stderr.readline()
        log = first
        m = re.search(r"listening on [\d.]+:(\d+)", first)
        assert m, first
        reader.start()
        for _ in range(clients):
            held.append(socket.create_connection(("127.0.0.1", int(m.group(1))), timeout=WAIT))
        deadline = time.monotonic() + WAIT
        while not re.search(expect, log, re.M) and time.monotonic() < deadline:
            try:
                log += lines.get(timeout=0.1)
            except queue.Empty:
                pass
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=WAIT)
        reader.join(timeout=WAIT)
        while not lines.empty():
            log += lines.get()
    finally:
        for s in held:
            s.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, log
    assert re.search(expect, log, re.M), log
    return log


def test_python_dash_m_serve_logs_the_engines_refusals_like_the_cli():
    # `tcphub serve` logs a connection refused at a full hub (the engine's
    # own line); `python -m tcphub serve` logged nothing of it.
    _dash_m_hub_log(
        "--max", "1", clients=2,
        expect=r"^INFO tcphub: refusing 127\.0\.0\.1:\d+: the server is full \(max_clients 1\)$",
    )


def test_python_dash_m_serve_says_when_it_cannot_accept_like_the_cli():
    # Out of descriptors, the hub stops taking clients; `tcphub serve` says
    # so ("accept failed: Too many open files"), `python -m tcphub serve`
    # went silent.
    _dash_m_hub_log(
        "--mode", "echo", "--threads", "1", clients=60, limit_fds=40,
        expect=r"^WARNING tcphub: accept failed: .*os error 24",
    )
