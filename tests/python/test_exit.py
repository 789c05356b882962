"""Interpreter exit: what still runs on tcphub's threads when Python
finalizes (in a child Python)."""

from __future__ import annotations

import pytest

from conftest import finish, spawn_python


def test_a_callback_still_computing_at_exit_does_not_abort_the_interpreter():
    # The exit waits EXIT_TIMEOUT for a callback that does not return, then
    # finalizes. Python < 3.14 ends a thread that runs Python code then with
    # a forced unwind, which used to reach the dispatcher's attach guard:
    # "Fatal Python error: PyGILState_Release", SIGABRT, a core dump.
    proc = spawn_python(
        """
        import socket, threading, tcphub, tcphub._runtime
        tcphub._runtime.EXIT_TIMEOUT = 0.2  # (5 s by default)
        server = tcphub.TcpServer(0, 10, bind="127.0.0.1", framing="lines")
        busy = threading.Event()

        @server.on_message
        def crunch(client, data):
            busy.set()
            while True:  # CPU-bound: runs Python code until the end
                pass

        server.start()
        sock = socket.create_connection(("127.0.0.1", server.port))
        sock.sendall(b"go\\n")
        assert busy.wait(30)
        print("exiting", flush=True)
        """
    )
    out, err = finish(proc)
    assert out == "exiting\n", err
    assert proc.returncode == 0, err


@pytest.mark.parametrize("callback", ["on_message", "on_error"])
def test_a_callback_still_computing_at_exit_never_crashes_the_exit(callback: str):
    # The forced unwind that ends such a callback's thread (above) went
    # through pyo3's call, which released the callback's argument tuple on
    # the way out: a Py_DECREF without the GIL while the main thread ran
    # the interpreter's last garbage collection: SIGSEGV in about half the
    # exits (11 of 20 of a debug build), so both cases here failed in 3 of 3
    # runs; never since, as the thread now parks before releasing anything.
    body = """
        import socket, threading, tcphub, tcphub._runtime
        tcphub._runtime.EXIT_TIMEOUT = 0.2
        server = tcphub.TcpServer(0, 10, bind="127.0.0.1", framing="lines")
        busy = threading.Event()

        def crunch(client_or_exc, data_or_event):  # not *args: that keeps the tuple
            busy.set()
            while True:
                pass

        if CALLBACK == "on_error":
            server.on_message(lambda client, data: 1 / 0)
            server.on_error(crunch)
        else:
            server.on_message(crunch)
        server.start()
        sock = socket.create_connection(("127.0.0.1", server.port))
        sock.sendall(b"go\\n")
        assert busy.wait(30)
        print("exiting", flush=True)
        """.replace("CALLBACK", repr(callback))
    for run in range(5):
        proc = spawn_python(body)
        out, err = finish(proc)
        assert out == "exiting\n", f"run {run}: {err}"
        assert proc.returncode == 0, f"run {run}: {proc.returncode} {err}"


def test_a_server_dropped_with_callbacks_left_to_run_lets_the_program_exit():
    # Dropping a running server stops it without waiting for its callback
    # thread, whose "server stopped" disconnects then ran into the
    # interpreter's finalization: the same abort.
    proc = spawn_python(
        """
        import socket, threading, time, tcphub

        leaving = threading.Event()

        def serve():
            server = tcphub.TcpServer(0, 100, bind="127.0.0.1", framing="lines")

            @server.on_disconnect
            def left(client, reason):
                leaving.set()
                t = time.perf_counter()
                while time.perf_counter() - t < 0.02:  # running Python code
                    pass

            server.start()
            socks = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(20)]
            while server.client_count < 20:
                time.sleep(0.01)
            return socks  # the server is dropped here, not stopped

        class Flushed:
            def __del__(self):  # finalization work that lets other threads run
                time.sleep(0.2)

        socks = serve()
        assert leaving.wait(30)  # the callbacks are running
        flushed = Flushed()
        print("exiting", flush=True)
        """
    )
    out, err = finish(proc)
    assert out == "exiting\n", err
    assert proc.returncode == 0, err


def test_the_last_callbacks_of_a_server_dropped_before_exit_still_run():
    # Servers still running at exit are stopped and their last callbacks
    # waited for (up to EXIT_TIMEOUT); one dropped without stop() just
    # before was stopped too, but nobody waited for its callback thread:
    # its "server stopped" disconnects were cut off by the exit.
    proc = spawn_python(
        """
        import socket, sys, time, tcphub

        def say(line):
            # One write per line: print() writes its parts separately, and
            # the main thread's line could land between them.
            sys.stdout.write(line + "\\n")
            sys.stdout.flush()

        def serve():
            server = tcphub.TcpServer(0, 100, bind="127.0.0.1", framing="lines")

            @server.on_disconnect
            def left(client, reason):
                t = time.perf_counter()
                while time.perf_counter() - t < 0.02:  # some work
                    pass
                say(f"left: {reason}")

            server.start()
            socks = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(5)]
            while server.client_count < 5:
                time.sleep(0.01)
            return socks  # the server is dropped here, not stopped

        socks = serve()
        say("exiting")
        """
    )
    out, err = finish(proc)
    assert proc.returncode == 0, err
    assert sorted(out.splitlines()) == ["exiting"] + ["left: server stopped"] * 5, err


@pytest.mark.parametrize("mode", ["callbacks", "pull"])
def test_a_child_forked_while_a_server_and_a_client_run_exits(mode):
    # fork() copies only the calling thread: in the child the server's and
    # the client's I/O threads (and the callback thread) are missing, and
    # its exit (stop at exit, dropping them) waited for them for good. Now
    # they act as stopped/closed there; the parent's go on unharmed.
    proc = spawn_python(
        """
        import os, sys, time, warnings, tcphub
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads (3.12+)
        mode = sys.argv[1]
        server = tcphub.TcpServer(0, 10, bind="127.0.0.1", framing="lines")
        if mode == "callbacks":
            @server.on_message
            def echo(client, data):
                server.send(client.id, data)
        server.start()
        client = tcphub.TcpClient("127.0.0.1", server.port, framing="lines")
        pid = os.fork()
        if pid == 0:
            assert not server.running
            assert not client.is_connected and not client.is_open
            try:
                client.send(b"from the child")
                raise SystemExit(3)
            except tcphub.NotRunning:
                pass
            server.stop()
            sys.exit(0)  # the normal exit: stops (and waits for) what runs
        deadline = time.monotonic() + 20
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() > deadline:
                os.kill(pid, 9)
                print("child hung", flush=True)
                sys.exit(1)
            time.sleep(0.01)
        print("child exit", os.waitstatus_to_exitcode(status), flush=True)
        if mode == "pull":
            for ev in server.poll(timeout=0):
                if ev.kind == "message":
                    server.send(ev.client.id, ev.data)
        client.send(b"parent")
        if mode == "pull":
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                evs = [e for e in server.poll(timeout=1) if e.kind == "message"]
                if evs:
                    server.send(evs[0].client.id, evs[0].data)
                    break
        print(client.recv(timeout=20), flush=True)
        client.close()
        server.stop()
        """,
        mode,
    )
    out, err = finish(proc)
    assert out == "child exit 0\nb'parent'\n", err
    assert proc.returncode == 0, err


def test_stopped_servers_and_closed_clients_kept_in_a_list_hold_no_descriptor():
    # Each I/O thread closes its waker (an eventfd) as it ends: 200 closed
    # clients kept in a list held 200 descriptors, a stopped server one
    # per loop (found by the usability audit). In a child Python, so that
    # no other test's threads open or close descriptors meanwhile.
    proc = spawn_python(
        """
        import os, time, tcphub
        def fds():
            return len(os.listdir("/proc/self/fd"))
        def settle(n):
            deadline = time.monotonic() + 20
            while fds() != n and time.monotonic() < deadline:
                time.sleep(0.02)
            return fds()
        before = fds()
        servers = []
        for _ in range(3):
            s = tcphub.TcpServer(0, 10, bind="127.0.0.1", threads=2)
            s.start()
            s.stop()
            servers.append(s)
        print("servers", settle(before) - before, flush=True)
        hub = tcphub.TcpServer(0, 300, bind="127.0.0.1", framing="lines")
        hub.start()
        with_hub = fds()
        clients = []
        for _ in range(50):
            c = tcphub.TcpClient("127.0.0.1", hub.port, framing="lines")
            c.send(b"hi")
            c.close()
            clients.append(c)
        print("clients", settle(with_hub) - with_hub, flush=True)
        hub.stop()
        """
    )
    out, err = finish(proc)
    assert out == "servers 0\nclients 0\n", err
    assert proc.returncode == 0, err
