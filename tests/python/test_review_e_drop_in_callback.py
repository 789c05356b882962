"""Review E: a running server dropped inside another server's callback.

The stub: inside a callback stop() "starts the stop and returns" (and, for
TcpClient.close(): "a callback waiting up to linger would hold up every
later callback"); the binding's own notes: "Dropping a running server stops
it with the GIL released, without waiting for its dispatcher (a drop may
come from the garbage collector, anywhere)". A TcpClient dropped in a
callback does not wait (test_client_dropped_in_a_callback_does_not_hold_up_
the_callbacks); a TcpServer dropped there held the callback thread for the
whole linger.
"""

import socket
import threading
import time

import tcphub
from conftest import WAIT, flushing_pull_server

LINGER = 10.0


def test_a_server_dropped_in_another_servers_callback_does_not_hold_up_the_callbacks():
    holder = {}
    pulled, reader = flushing_pull_server(LINGER)
    holder["server"] = pulled
    del pulled  # the callback below drops the last reference

    caller = tcphub.TcpServer(0, 10, bind="127.0.0.1", framing="lines")
    took = []
    done = threading.Event()

    @caller.on_message
    def on_message(c, data):
        t = time.monotonic()
        holder.clear()  # the running server goes here
        took.append(time.monotonic() - t)
        done.set()

    caller.start()
    try:
        with socket.create_connection(("127.0.0.1", caller.port)) as s:
            s.sendall(b"go\n")
            assert done.wait(WAIT)
        # Every later callback of `caller` waited as long as this drop did.
        assert took[0] < LINGER / 2, f"the drop held the callback thread {took[0]:.1f} s"
    finally:
        reader.close()
        caller.stop(timeout=WAIT)


EXIT_SCRIPT = r"""
import socket, sys, threading, time, tcphub
pulled = tcphub.TcpServer(0, 10, bind="127.0.0.1", linger=30.0).start()
print(pulled.port, flush=True)
deadline = time.monotonic() + 10
while pulled.client_count == 0 and time.monotonic() < deadline:
    time.sleep(0.01)
(client,) = pulled.clients()
pulled.send(client, b"x" * (32 << 20))  # far more than the socket buffers hold
holder = {"server": pulled}
del pulled, client
caller = tcphub.TcpServer(0, 10, bind="127.0.0.1", framing="lines")
done = threading.Event()

@caller.on_message
def on_message(c, data):
    holder.clear()  # dropped inside a callback: it stops on a thread of its own
    done.set()

caller.start()
with socket.create_connection(("127.0.0.1", caller.port)) as s:
    s.sendall(b"go\n")
    assert done.wait(10)
print("exiting", flush=True)
"""


def test_the_exit_waits_for_the_flush_of_a_server_dropped_in_a_callback() -> None:
    # Its stop runs on a thread of its own (see above), which the exit
    # waited for no more than for a daemon thread: what was queued was lost.
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", EXIT_SCRIPT],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as s:
            assert proc.stdout.readline().strip() == "exiting"
            time.sleep(0.2)  # the interpreter is exiting now
            got = 0
            while chunk := s.recv(1 << 16):
                got += len(chunk)
        assert got == 32 << 20, got
        assert proc.wait(timeout=WAIT) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
