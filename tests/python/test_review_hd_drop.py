"""Review (hd): a server dropped from inside its own callback while its
callback thread holds messages back (a paused client, paused input): no
hang, no held message handed out after the stop began, every connect gets
its disconnect."""

from __future__ import annotations

import socket
import threading
from typing import Dict, List, Tuple

import pytest

import tcphub
from conftest import WAIT, wait_until


@pytest.mark.parametrize("hold", ["client", "input"])
def test_a_server_dropped_in_its_callback_with_messages_held(hold: str) -> None:
    holder: Dict[str, tcphub.TcpServer] = {}
    log: List[Tuple[str, int, bytes]] = []
    lock = threading.Lock()
    connects: List[int] = []
    dropped = threading.Event()
    server = tcphub.TcpServer(0, 10, bind="127.0.0.1", framing="lines", threads=1)

    def on_connect(client: tcphub.Client) -> None:
        with lock:
            connects.append(client.id)

    def on_message(client: tcphub.Client, data: bytes) -> None:
        with lock:
            log.append(("msg", client.id, data))
        if dropped.is_set():
            return
        if data == b"busy":
            s = holder["s"]
            if hold == "client":
                s.pause_client(client)
            else:
                s.pause_input()
            del s
        elif data == b"drop":
            holder.clear()  # the last reference: the server stops
            dropped.set()

    def on_disconnect(client: tcphub.Client, reason: str) -> None:
        with lock:
            log.append(("end", client.id, reason.encode()))

    server.on_connect(on_connect)
    server.on_message(on_message)
    server.on_disconnect(on_disconnect)
    server.start()
    port = server.port
    holder["s"] = server
    del server
    a = socket.create_connection(("127.0.0.1", port))
    b = socket.create_connection(("127.0.0.1", port))
    wait_until(lambda: len(connects) == 2, what="the connects")
    ca, cb = connects
    # a's held messages, and b's "drop" behind them in the queue.
    a.sendall(b"busy\n" + b"".join(b"h%d\n" % i for i in range(50)))
    wait_until(lambda: ("msg", ca, b"busy") in log, what="busy")
    if hold == "input":
        # Input held a's messages: a pause of a's own keeps them at the
        # resume, which lets b's drop through.
        s = holder["s"]
        s.pause_client(ca)
        s.resume_input()
        del s
    b.sendall(b"drop\n")
    assert dropped.wait(WAIT)
    wait_until(lambda: sum(1 for (k, _, _) in list(log) if k == "end") == 2,
               what="every disconnect")
    ends = sorted(c for (k, c, _) in list(log) if k == "end")
    assert ends == sorted([ca, cb])
    mine = [(k, d) for (k, c, d) in list(log) if c == ca]
    assert mine == [("msg", b"busy"), ("end", mine[-1][1])], mine
    a.close()
    b.close()


if __name__ == "__main__":
    pytest.main([__file__, "-v"])
