"""Review E: stop() of a pull-mode server called inside another server's
callback.

The stub (TcpServer.stop): "Inside a callback — of this server or of any
other — it starts the stop and returns ... Returns whether the server has
stopped (``False`` when the time ran out, and inside a callback)".
"""

import socket
import threading

import tcphub
from conftest import WAIT, flushing_pull_server


def test_stop_of_a_pull_server_inside_another_servers_callback_does_not_claim_it_stopped():
    # A pull-mode server (no callbacks) with a client that does not read
    # and a lot queued for it: its stop flushes for up to `linger` (10 s).
    pulled, reader = flushing_pull_server(linger=10.0)
    caller = tcphub.TcpServer(0, 10, bind="127.0.0.1", framing="lines")
    seen = {}
    done = threading.Event()

    @caller.on_message
    def on_message(client, data):
        seen["stop"] = pulled.stop()      # begins the stop, inside a callback
        seen["wait0"] = pulled.wait(0)    # has it stopped? (loops ended)
        done.set()

    try:
        caller.start()
        with socket.create_connection(("127.0.0.1", caller.port)) as s:
            s.sendall(b"go\n")
            assert done.wait(WAIT)
        # The flush is still under way: the server has not stopped...
        assert seen["wait0"] is False
        # ...yet stop() said it had (True), where the docs promise False
        # inside a callback (and True only once it has stopped).
        assert seen["stop"] is False, seen
    finally:
        reader.close()
        caller.stop(timeout=WAIT)
        pulled.stop(timeout=WAIT)
