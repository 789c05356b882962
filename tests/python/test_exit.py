"""Interpreter exit: what still runs on tcphub's threads when Python
finalizes (in a child Python)."""

from __future__ import annotations

from test_process import _finish, _spawn


def test_a_callback_still_computing_at_exit_does_not_abort_the_interpreter():
    # The exit waits EXIT_TIMEOUT for a callback that does not return, then
    # finalizes. Python < 3.14 ends a thread that runs Python code then with
    # a forced unwind, which used to reach the dispatcher's attach guard:
    # "Fatal Python error: PyGILState_Release", SIGABRT, a core dump.
    proc = _spawn(
        """
        import socket, threading, tcphub, tcphub._runtime
        tcphub._runtime.EXIT_TIMEOUT = 0.2  # (5 s by default)
        server = tcphub.TcpServer(0, 10, bind="127.0.0.1", framing="lines")
        busy = threading.Event()

        @server.on_message
        def crunch(client, data):
            busy.set()
            while True:  # CPU-bound: runs Python code until the end
                pass

        server.start()
        sock = socket.create_connection(("127.0.0.1", server.port))
        sock.sendall(b"go\\n")
        assert busy.wait(30)
        print("exiting", flush=True)
        """
    )
    out, err = _finish(proc)
    assert out == "exiting\n", err
    assert proc.returncode == 0, err


def test_a_server_dropped_with_callbacks_left_to_run_lets_the_program_exit():
    # Dropping a running server stops it without waiting for its callback
    # thread, whose "server stopped" disconnects then ran into the
    # interpreter's finalization: the same abort.
    proc = _spawn(
        """
        import socket, threading, time, tcphub

        leaving = threading.Event()

        def serve():
            server = tcphub.TcpServer(0, 100, bind="127.0.0.1", framing="lines")

            @server.on_disconnect
            def left(client, reason):
                leaving.set()
                t = time.perf_counter()
                while time.perf_counter() - t < 0.02:  # running Python code
                    pass

            server.start()
            socks = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(20)]
            while server.client_count < 20:
                time.sleep(0.01)
            return socks  # the server is dropped here, not stopped

        class Flushed:
            def __del__(self):  # finalization work that lets other threads run
                time.sleep(0.2)

        socks = serve()
        assert leaving.wait(30)  # the callbacks are running
        flushed = Flushed()
        print("exiting", flush=True)
        """
    )
    out, err = _finish(proc)
    assert out == "exiting\n", err
    assert proc.returncode == 0, err


def test_the_last_callbacks_of_a_server_dropped_before_exit_still_run():
    # Servers still running at exit are stopped and their last callbacks
    # waited for (up to EXIT_TIMEOUT); one dropped without stop() just
    # before was stopped too, but nobody waited for its callback thread:
    # its "server stopped" disconnects were cut off by the exit.
    proc = _spawn(
        """
        import socket, time, tcphub

        def serve():
            server = tcphub.TcpServer(0, 100, bind="127.0.0.1", framing="lines")

            @server.on_disconnect
            def left(client, reason):
                t = time.perf_counter()
                while time.perf_counter() - t < 0.02:  # some work
                    pass
                print("left:", reason, flush=True)

            server.start()
            socks = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(5)]
            while server.client_count < 5:
                time.sleep(0.01)
            return socks  # the server is dropped here, not stopped

        socks = serve()
        print("exiting", flush=True)
        """
    )
    out, err = _finish(proc)
    assert proc.returncode == 0, err
    assert sorted(out.splitlines()) == ["exiting"] + ["left: server stopped"] * 5, err
