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


def _run_until_interrupted(body: str) -> "tuple[str, str, int]":
    """Runs ``body`` in a child, SIGINTs it once it says "waiting", and
    returns its output once it has exited (killed after WAIT seconds)."""
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
