"""``python -m tcphub serve`` and signals while it stops (as ``tcphub serve``)."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys

from conftest import WAIT


def test_python_dash_m_serve_exits_at_once_on_a_second_signal_while_stopping():
    # The graceful stop waits (up to the linger time) for a client that does
    # not read; a second signal meanwhile was ignored. Now it ends the hub
    # at once with the shell's code for the signal, as `tcphub serve` does.
    proc = subprocess.Popen(
        [sys.executable, "-m", "tcphub", "serve", "--bind", "127.0.0.1",
         "--port", "0", "--mode", "echo", "--framing", "raw"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    try:
        line = proc.stderr.readline()
        m = re.search(r"listening on [\d.]+:(\d+)", line)
        assert m, line
        with socket.create_connection(("127.0.0.1", int(m.group(1))), timeout=WAIT) as s:
            # 2 MB echoed to a socket that reads none of it: most of it
            # waits in the hub, past this socket's receive window.
            s.sendall(b"x" * (2 << 20))
            assert len(s.recv(1, socket.MSG_PEEK)) == 1, "the echo started"
            proc.send_signal(signal.SIGTERM)
            while "stopping" not in (line := proc.stderr.readline()):
                assert line, "the hub ended without saying it was stopping"
            proc.send_signal(signal.SIGTERM)
            err = proc.stderr.read()
            assert proc.wait(timeout=WAIT) == 128 + signal.SIGTERM, err
        assert "again: exiting without waiting" in err, err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
