"""``python -m tcphub serve`` (in a child Python, or its hub built
in-process): each behaviour checked against the ``tcphub serve`` CLI's."""

from __future__ import annotations

import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

import tcphub
from conftest import WAIT, LineReader, dash_m_hub, finish, spawn_python


def test_python_dash_m_serve_chat_mode():
    proc = spawn_python("", "-m", "tcphub", "serve", "--bind", "127.0.0.1", "--port", "0")
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
    with a:
        a.settimeout(WAIT)
        assert a.recv(100) == b""  # the hub closed our connection on the way out


def test_python_dash_m_serve_bind_conflict():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        proc = spawn_python("", "-m", "tcphub", "serve", "--bind", "127.0.0.1", "--port", str(port))
        out, err = finish(proc)
    assert proc.returncode == 1
    assert err.strip().splitlines()[-1] == f"tcphub: cannot listen on 127.0.0.1:{port}: address in use"


def test_python_dash_m_chat_tells_the_sender_when_a_line_is_too_long_to_relay():
    # 65,530 bytes fit the 64 KiB line limit; with the "<ip:port>: " prefix
    # they do not: the hub refused it silently (an exception in its callback).
    server = dash_m_hub("--busy-poll-us", "0")
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
    server = dash_m_hub("--max", "1")
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
    server = dash_m_hub("--max", "10", "--max-per-ip", "1")
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
    server = dash_m_hub("--max-per-ip", "1", "--per-ip-v6-prefix", "64")
    try:
        assert server.per_ip_ipv6_prefix == 64
    finally:
        server.stop()
    from tcphub.__main__ import build_parser

    with pytest.raises(SystemExit) as exit:
        build_parser().parse_args(["serve", "--per-ip-v6-prefix", "129"])
    assert exit.value.code == 2


def test_python_dash_m_refuses_per_ip_v6_prefix_without_max_per_ip_like_the_cli(capsys):
    # It would do nothing: a usage error, as clap's `requires` in `tcphub serve`.
    from tcphub.__main__ import main

    with pytest.raises(SystemExit) as exit_info:
        main(["serve", "--port", "0", "--per-ip-v6-prefix", "64"])
    assert exit_info.value.code == 2
    assert "--per-ip-v6-prefix: needs --max-per-ip" in capsys.readouterr().err


def _last_words(*flags: str, send: bytes = b"") -> bytes:
    """What a lone client of a hub run with ``flags`` is told (after its
    join notice in chat mode), having sent ``send``, up to the end."""
    server = dash_m_hub(*flags)
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
    server = dash_m_hub("--framing", "raw")
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
    server = dash_m_hub("--framing", "length", "--mode", "echo")
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


@pytest.mark.parametrize("mode", ["chat", "relay"])
def test_python_dash_m_answers_a_client_that_half_closes_like_the_cli(mode):
    # `printf 'hi\n' | ncat HOST PORT` (or a piped `tcphub connect`) sends,
    # then half-closes: `tcphub serve` answers it (join notice, its own line
    # relayed) before closing; the Python hub sent it nothing, as its
    # broadcasts no longer reach a client whose end was already read.
    server = dash_m_hub("--mode", mode)
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
    with subprocess.Popen(
        [sys.executable, "-m", "tcphub", "serve", "--bind", "127.0.0.1", "--port", "0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    ) as proc:
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
    proc = spawn_python("", "-m", "tcphub", "serve", "--bind", bind, "--port", "0")
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
    proc = spawn_python("", "-m", "tcphub", "serve", "--bind", bad, "--port", "0")
    out, err = finish(proc)
    assert proc.returncode == 2, (bad, err)
    assert "not an IP address" in err, err


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_python_dash_m_serve_stops_cleanly_on_a_signal_right_after_listening(sig):
    # `tcphub serve` never misses a signal that comes right after its
    # "listening on" line; this one raised KeyboardInterrupt outside its
    # try: a traceback, exit status -SIGINT, and no graceful stop.
    for _ in range(8):
        proc = spawn_python("", "-m", "tcphub", "serve", "--bind", "127.0.0.1", "--port", "0")
        assert proc.stderr is not None
        assert "listening on" in proc.stderr.readline()
        proc.send_signal(sig)
        out, err = finish(proc)
        assert proc.returncode == 0, err
        assert "Traceback" not in err, err
        assert "stopped:" in err, err


def test_python_dash_m_serve_frame_timeout_cuts_a_line_never_finished_like_the_cli():
    server = dash_m_hub("--mode", "echo", "--frame-timeout", "0.5", "--busy-poll-us", "0")
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
    server = dash_m_hub("--keepalive", "3")
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
        proc.stderr.close()
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


def test_python_dash_m_version_is_printed_as_the_cli_prints_it(capsys):
    # `tcphub --version` prints "tcphub 0.1.0"; `python -m tcphub --version` too.
    import tcphub
    from tcphub.__main__ import main

    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out == f"tcphub {tcphub.__version__}\n"
