"""Ctrl-C during a stop's or close's flush: the program can still leave."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import threading

from conftest import WAIT

# A peer that never reads holds the flush for the whole 600 s linger. The
# call is waiting once the main thread's top frame is the function making
# it and it has let the GIL go (see test_process.py's flush-wait test).
_PRELUDE = """
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
"""


def _run_until_interrupted(body: str, first: str = "") -> "tuple[str, str, int]":
    """Runs ``body`` in a child, SIGINTs it once it says "waiting" (after
    ``first``, if given), and returns the rest of its output once it has
    exited (killed after WAIT seconds)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _PRELUDE + textwrap.dedent(body)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    killer = threading.Timer(WAIT, proc.kill)
    killer.start()
    try:
        if first:
            assert proc.stdout.readline().strip() == first
        assert proc.stdout.readline().strip() == "waiting"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate()
    finally:
        killer.cancel()
    return out, err, proc.returncode


def test_a_server_whose_stop_ctrl_c_ended_does_not_hold_the_exit_for_its_linger():
    # The exit's own stop of the server waited again for the flush (the
    # rest of the 600 s, deaf to Ctrl-C), then up to 5 s for its callbacks.
    out, err, code = _run_until_interrupted(
        """
        server = tcphub.TcpServer(0, 10, bind="127.0.0.1", linger=600.0,
                                  max_queue_bytes=64 << 20)
        server.on_message(lambda c, d: None)
        server.start()
        peer = socket.create_connection(("127.0.0.1", server.port))
        while server.client_count < 1:
            time.sleep(0.01)
        for _ in range(16):
            server.send_all(b"x" * (1 << 20))
        def stop():
            server.stop()
        watcher = announce_when_in(stop)
        try:
            stop()
            print("stop returned", flush=True)
        except KeyboardInterrupt:
            print("stop interrupted", flush=True)
        watcher.join()
        print("exiting", flush=True)
        """
    )
    assert out.split() == ["stop", "interrupted", "exiting"], err
    assert code == 0, err


def test_a_client_whose_close_ctrl_c_ended_is_dropped_without_waiting_for_its_linger():
    # Dropping it (and the exit) waited again for the rest of the 600 s.
    out, err, code = _run_until_interrupted(
        """
        lst = socket.create_server(("127.0.0.1", 0))
        client = tcphub.TcpClient("127.0.0.1", lst.getsockname()[1], linger=600.0,
                                  max_queue_bytes=64 << 20)
        conn, _ = lst.accept()
        for _ in range(32):
            client.send(b"y" * (1 << 20))
        def close():
            client.close()
        watcher = announce_when_in(close)
        try:
            close()
            print("close returned", flush=True)
        except KeyboardInterrupt:
            print("close interrupted", flush=True)
        watcher.join()
        del client
        print("dropped", flush=True)
        """
    )
    assert out.split() == ["close", "interrupted", "dropped"], err
    assert code == 0, err


def test_ctrl_c_ends_the_exits_wait_for_an_open_clients_flush():
    # A program that ends with a client still open: the exit closes it,
    # flushing up to its linger. That wait (in the module teardown) was
    # deaf to Ctrl-C for the whole 600 s; the exit now closes open
    # clients as close() does (after stopping the servers), Ctrl-C
    # included. The watcher is a daemon thread: it still runs at atexit.
    out, err, code = _run_until_interrupted(
        """
        import tcphub._runtime
        closing = getattr(tcphub._runtime, "_close_clients", None)

        def watch():
            while closing is None or (
                sys._current_frames().get(main.ident).f_code is not closing.__code__
            ):
                time.sleep(0.005)
            print("waiting", flush=True)

        lst = socket.create_server(("127.0.0.1", 0))
        client = tcphub.TcpClient("127.0.0.1", lst.getsockname()[1], linger=600.0,
                                  max_queue_bytes=64 << 20)
        conn, _ = lst.accept()
        for _ in range(32):
            client.send(b"y" * (1 << 20))
        threading.Thread(target=watch, daemon=True).start()
        print("leaving", flush=True)
        """,
        first="leaving",
    )
    # (It got "waiting" and exited: the interrupt is reported, as Python
    # reports one that ends an atexit callback.)
    assert "KeyboardInterrupt" in err, err
    assert out == "", err


def test_what_an_open_client_queued_is_delivered_at_exit_with_a_daemon_thread_running():
    # A client still open at exit was closed (flushed) only if the module
    # teardown happened to free it; with a daemon thread alive it did not,
    # and what send() had queued was lost (3.9 of 33.5 MB came). The exit
    # now closes open clients as close() does. The peer reads once the
    # child is in that close, or has exited without it.
    import socket

    total = 48 << 20
    with socket.create_server(("127.0.0.1", 0)) as lst:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                _PRELUDE
                + textwrap.dedent(
                    f"""
                    import tcphub._runtime
                    closing = getattr(tcphub._runtime, "_close_clients", None)

                    def watch():  # a daemon thread, alive at exit
                        while closing is None or (
                            sys._current_frames().get(main.ident).f_code
                            is not closing.__code__
                        ):
                            time.sleep(0.005)
                        print("closing", flush=True)

                    client = tcphub.TcpClient("127.0.0.1", int(sys.argv[1]), linger=600.0,
                                              max_queue_bytes={total})
                    client.send(b"z" * {total})
                    assert client.queued_bytes > 0  # the peer is not reading yet
                    threading.Thread(target=watch, daemon=True).start()
                    """
                ),
                str(lst.getsockname()[1]),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        killer = threading.Timer(WAIT, proc.kill)
        killer.start()
        try:
            lst.settimeout(WAIT)
            conn, _ = lst.accept()
            assert proc.stdout is not None
            proc.stdout.readline()  # "closing", or "" once it has exited
            got = 0
            with conn:
                conn.settimeout(WAIT)
                try:
                    while chunk := conn.recv(1 << 20):
                        got += len(chunk)
                except OSError:
                    pass  # reset: the rest was lost
            out, err = proc.communicate()
        finally:
            killer.cancel()
    assert got == total, err
    assert proc.returncode == 0, err


def test_ctrl_c_ends_the_exits_wait_for_a_callback_that_does_not_return():
    # At exit the servers are stopped, then their last callbacks get up to
    # EXIT_TIMEOUT (5 s) to finish. That wait was deaf to Ctrl-C: a program
    # whose callback was stuck could not be interrupted out of it.
    out, err, code = _run_until_interrupted(
        """
        import tcphub._runtime
        tcphub._runtime.EXIT_TIMEOUT = 600.0
        stopping = tcphub._runtime._stop_all

        def watch():
            # In `_stop_all`, past its stop of the server (which Ctrl-C
            # ends too): in the wait for the last callbacks.
            seen = 0
            while seen < 20:
                inside = sys._current_frames().get(main.ident).f_code is stopping.__code__
                seen = seen + 1 if inside and not server.running else 0
                time.sleep(0.005)
            print("waiting", flush=True)

        server = tcphub.TcpServer(0, 10, bind="127.0.0.1", framing="lines")
        busy = threading.Event()

        @server.on_message
        def stuck(client, data):
            busy.set()
            time.sleep(600)

        server.start()
        sock = socket.create_connection(("127.0.0.1", server.port))
        sock.sendall(b"go\\n")
        assert busy.wait(30)
        threading.Thread(target=watch, daemon=True).start()
        print("leaving", flush=True)
        """,
        first="leaving",
    )
    # (Python reports the interrupt that ended an atexit callback.)
    assert code >= 0, f"killed: the exit waited on\n{err}"
    assert "KeyboardInterrupt" in err, err
    assert out == "", err
