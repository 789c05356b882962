"""Review ar (ARCHITECTURE.md against the code), "The bindings' own threads":
Python never runs on a loop thread — a Python server's callbacks, from
every loop, run in order on one dispatcher thread, "tcphub-dispatch"."""

from __future__ import annotations

import threading
from typing import List, Tuple

from conftest import connect, wait_until


def thread_name(native_id: int) -> str:
    """The kernel's name of this process's thread ``native_id``."""
    with open(f"/proc/self/task/{native_id}/comm") as f:
        return f.read().strip()


def test_callbacks_of_every_loop_run_on_the_one_dispatcher_thread(make_server):
    server = make_server(framing="lines", threads=2)
    seen: List[Tuple[str, int, str]] = []
    lock = threading.Lock()

    def note(what: str) -> None:
        tid = threading.get_native_id()
        with lock:
            seen.append((what, tid, thread_name(tid)))

    @server.on_connect
    def on_connect(client):
        note("connect")

    @server.on_message
    def on_message(client, data):
        note("message")

    @server.on_disconnect
    def on_disconnect(client, reason):
        note("disconnect")

    server.start()
    socks = [connect(server) for _ in range(4)]  # dealt to both loops
    for s in socks:
        s.sendall(b"hi\n")
    wait_until(lambda: sum(w == "message" for w, _, _ in seen) == 4, what="4 messages")
    for s in socks:
        s.close()
    wait_until(lambda: sum(w == "disconnect" for w, _, _ in seen) == 4, what="4 disconnects")
    with lock:
        threads = {(tid, name) for _, tid, name in seen}
    assert len(threads) == 1, threads
    [(tid, name)] = list(threads)
    assert name == "tcphub-dispatch"
    assert tid != threading.main_thread().native_id
