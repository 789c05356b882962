"""Review ps: a stop signal that lands while ``python -m tcphub serve
--stats`` starts its reporter thread (right after the "listening on" line:
a client script that signals as soon as it reads that line, on a loaded
machine) ended the hub with a traceback and exit code 1 — ``RuntimeError:
cannot join thread before it is started`` from the stop's join of the
reporter — instead of stopping it gracefully (exit code 0); with stderr a
full pipe, that traceback's write then hung the hub for good."""

from __future__ import annotations

import signal

from conftest import finish, spawn_python


def test_python_dash_m_serve_stops_gracefully_on_a_signal_as_the_stats_reporter_starts() -> None:
    # The signal is sent just before the reporter's start, from the start
    # itself: Python runs its handler (KeyboardInterrupt) at once, in the
    # middle of starting the thread, where it may land on its own.
    proc = spawn_python(
        """
        import os, signal, sys, threading
        from tcphub import __main__ as hub

        real_start = threading.Thread.start

        def start(self):
            if getattr(self, "_target", None) is hub._report:
                os.kill(os.getpid(), signal.SIGTERM)
            real_start(self)

        threading.Thread.start = start
        sys.exit(hub.main(["serve", "--bind", "127.0.0.1", "--port", "0", "--stats", "1"]))
        """
    )
    out, err = finish(proc)
    assert "Traceback" not in err, err
    assert f"signal {int(signal.SIGTERM)}: stopping" in err, err
    assert "stopped: 0 clients served" in err, err
    assert proc.returncode == 0, err
