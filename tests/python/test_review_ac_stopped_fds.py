"""Review ac (the documents against the code): ARCHITECTURE.md says a
stopped server kept by the application holds no descriptor (each I/O
thread's waker is closed by the thread as it ends, ``wake.rs``). A Python
server with callbacks kept two after its stop: the socket pair its
dispatcher polls on for resumes (``hold.rs``), closed only when the server
object was collected — 2 descriptors per stopped server a program keeps
(a list of finished servers, say)."""

import os
from typing import Callable, List

import tcphub

from conftest import WAIT, connect, wait_until


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_stopped_callback_servers_kept_hold_no_descriptor(make_server: Callable[..., tcphub.TcpServer]) -> None:
    kept: List[tcphub.TcpServer] = []
    # One started and stopped first, so that what the first start makes
    # for good (the engine's log thread, Python's own) is not counted.
    warm = make_server(framing="lines")
    warm.on_message(lambda c, d: None)
    warm.start()
    warm.stop()
    before = open_fds()
    for i in range(5):
        server = make_server(framing="lines")
        got: List[bytes] = []
        server.on_message(lambda c, d: got.append(d))
        server.start()
        if i % 2:  # a pause and a resume: the dispatcher's wait is used
            s = connect(server)
            s.sendall(b"x\n")
            wait_until(lambda: got == [b"x"], what="the message")
            ids = [c.id for c in server.clients()]
            server.pause_client(ids[0])
            server.resume_client(ids[0])
            s.close()
        assert server.stop(timeout=WAIT)
        kept.append(server)
    assert open_fds() == before, "descriptors held by stopped servers the application keeps"
    assert len(kept) == 5
