"""Review E: an EventIterator shared with a thread, used in a forked child.

The package docstring: "In a child process forked (os.fork()) while a
server or client runs, it acts as stopped: its threads stay in the parent".
The EventIterator docstring: "One iterator may be shared by several
threads: they take turns". A thread of the parent waiting in the iterator
holds the turn; in the child that thread does not exist, and the turn was
never given back: next() there waited for good instead of ending the
iteration as for a stopped server.
"""

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import os, threading, time, tcphub
    server = tcphub.TcpServer(0, 10, bind="127.0.0.1").start()
    it = server.events()
    # A consumer thread waits in the iterator (holding its turn).
    threading.Thread(target=lambda: [None for _ in it], daemon=True).start()
    time.sleep(0.3)
    pid = os.fork()
    if pid == 0:
        def watchdog():
            time.sleep(5)
            print("HUNG", flush=True)
            os._exit(3)
        threading.Thread(target=watchdog, daemon=True).start()
        got = list(it)   # the server acts as stopped here: the iteration ends
        print("ENDED", got, flush=True)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    print("CHILD", os.waitstatus_to_exitcode(status), flush=True)
    server.stop()
    """
)


def test_a_shared_events_iterator_ends_in_a_child_forked_while_a_thread_waits_in_it():
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60
    )
    assert "ENDED []" in out.stdout and "CHILD 0" in out.stdout, (out.stdout, out.stderr)
