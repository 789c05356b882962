"""Review ub: Python code the dispatcher thread runs other than the
callback itself, still running when the interpreter finalizes.

Python < 3.14 ends such a thread with ``pthread_exit``, a forced unwind.
The dispatcher calls the callbacks through a pointer declared
``C-unwind`` and parks the thread at the first Rust frame
(``dispatch::call``); any other Python code it runs through pyo3's
``extern "C"`` declarations (nounwind) let the unwind reach a frame that
cannot unwind: the process aborted at exit (SIGABRT) instead of ending
normally. Each case here is deterministic: the Python code loops until
the interpreter ends the thread.
"""

from __future__ import annotations

import pytest

from conftest import finish, spawn_python

PROLOGUE = """
    import socket, sys, threading, tcphub, tcphub._runtime
    tcphub._runtime.EXIT_TIMEOUT = 0.2  # (5 s by default)
    server = tcphub.TcpServer(0, 10, bind="127.0.0.1", framing="lines")
    busy = threading.Event()

    def spin():
        busy.set()
        while True:  # Python code until the interpreter ends the thread
            pass
"""

EPILOGUE = """
    server.start()
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.sendall(b"go\\n")
    assert busy.wait(30)
    print("exiting", flush=True)
"""

CASES = {
    # What a callback returns is looked at with `inspect.isawaitable` (to
    # refuse a coroutine): `isinstance` reads the result's `__class__`.
    "result_looked_at": """
    class Odd:
        @property
        def __class__(self):
            spin()

    server.on_message(lambda client, data: Odd())
    """,
    # A callback's exception with no `on_error` goes to `sys.unraisablehook`.
    "unraisable_hook": """
    sys.unraisablehook = lambda args: spin()
    server.on_message(lambda client, data: 1 / 0)
    """,
    # Likewise what `on_error` returns.
    "on_error_result": """
    class Odd:
        @property
        def __class__(self):
            spin()

    server.on_message(lambda client, data: 1 / 0)
    server.on_error(lambda exc, event: Odd())
    """,
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_review_ub_python_code_around_a_callback_at_exit_does_not_abort(case: str):
    for run in range(3):
        proc = spawn_python(PROLOGUE + CASES[case] + EPILOGUE)
        out, err = finish(proc)
        assert out == "exiting\n", f"run {run}: {err}"
        assert proc.returncode == 0, f"run {run}: {proc.returncode} {err}"
