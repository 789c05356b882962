"""Whole-process behaviour: Ctrl-C during a blocking wait, exit with a
running server, stops under load and slow name lookups. (``python -m
tcphub serve`` is in ``test_dash_m_serve.py``, the chat examples in
``test_examples_chat.py``.)"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import textwrap

import pytest

from conftest import WAIT, finish, spawn_python


def test_sigint_ends_a_blocking_events_wait():
    proc = spawn_python(
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
    proc = spawn_python(
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
    proc = spawn_python(
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


def test_stop_under_load_from_main_and_from_a_callback():
    """Relay traffic from 20 clients while stop() comes from the main thread
    and from inside a callback at once; the process must finish (no deadlock)."""
    proc = spawn_python(
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
    proc = spawn_python(
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
    proc = spawn_python(
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
    proc = spawn_python(
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
