"""Review fk: os.fork() while servers and clients run — inside a callback
(on the dispatcher thread), with the engine's log thread busy in a handler,
a child that starts its own server (its own dispatcher and "tcphub-log"
thread), a grandchild, and a ReadyFd armed in a child.

Each case runs in a fresh interpreter with bounded waits: a hung child is
killed and the case fails."""

import subprocess
import sys
import textwrap

COMMON = textwrap.dedent(
    """
    import os, sys, time, threading, warnings, logging, tcphub
    warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads

    def reap(pid, limit=20):
        deadline = time.monotonic() + limit
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return os.waitstatus_to_exitcode(status)
            if time.monotonic() > deadline:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
                return "hung"
            time.sleep(0.01)

    def own_echo_works(tag):
        # A new server (callbacks: its own dispatcher) and client, here.
        s = tcphub.TcpServer(0, 10, bind="127.0.0.1", framing="lines")
        @s.on_message
        def echo(client, data):
            s.send(client.id, data)
        s.start()
        c = tcphub.TcpClient("127.0.0.1", s.port, framing="lines")
        c.send(tag)
        got = c.recv(timeout=20)
        c.close()
        s.stop()
        return got == tag
    """
)


def run(body):
    out = subprocess.run(
        [sys.executable, "-c", COMMON + textwrap.dedent(body)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return out


def test_a_fork_inside_a_callback_child_serves_on_its_own_and_the_parent_is_untouched():
    out = run(
        """
        server = tcphub.TcpServer(0, 10, bind="127.0.0.1", framing="lines")
        pids = []
        @server.on_message
        def on_message(client, data):
            if data == b"fork":
                pid = os.fork()
                if pid == 0:
                    ok = (not server.running) and own_echo_works(b"kid")
                    try:
                        server.send(client.id, b"x")
                        ok = False
                    except tcphub.NotRunning:
                        pass
                    server.stop()
                    os._exit(0 if ok else 5)
                pids.append(pid)
                server.send(client.id, b"forked")
            else:
                server.send(client.id, data)
        server.start()
        client = tcphub.TcpClient("127.0.0.1", server.port, framing="lines")
        client.send(b"fork")
        assert client.recv(timeout=20) == b"forked"
        print("child", reap(pids[0]), flush=True)
        for i in range(50):
            client.send(b"m%d" % i)
            assert client.recv(timeout=20) == b"m%d" % i
        print("parent ok", flush=True)
        client.close()
        server.stop()
        """
    )
    assert out.stdout == "child 0\nparent ok\n", (out.stdout, out.stderr)


def test_a_child_forked_inside_a_callback_that_returns_ends_and_takes_nothing():
    # The child is the dispatcher thread's copy; it returns from the
    # callback into the dispatcher, whose server is the parent's.
    out = run(
        """
        me = os.getpid()
        server = tcphub.TcpServer(0, 10, bind="127.0.0.1", framing="lines")
        pids = []
        @server.on_message
        def on_message(client, data):
            if data == b"fork":
                pid = os.fork()
                if pid != 0:
                    pids.append(pid)
                    server.send(client.id, b"forked")
            elif os.getpid() == me:
                server.send(client.id, data)
            else:
                print("STOLEN", flush=True)
        server.start()
        client = tcphub.TcpClient("127.0.0.1", server.port, framing="lines")
        client.send(b"fork")
        assert client.recv(timeout=20) == b"forked"
        for i in range(50):
            client.send(b"m%d" % i)
            assert client.recv(timeout=20) == b"m%d" % i
        print("child", reap(pids[0]), flush=True)
        print("parent ok", flush=True)
        client.close()
        server.stop()
        """
    )
    assert "STOLEN" not in out.stdout, (out.stdout, out.stderr)
    assert "child hung" not in out.stdout, (out.stdout, out.stderr)
    assert out.stdout.endswith("parent ok\n"), (out.stdout, out.stderr)


def test_a_fork_while_the_engine_log_thread_is_in_a_handler_and_a_grandchild():
    # The "tcphub-log" thread holds a handler's lock (logging's and ours)
    # at the fork; the child logs from its own new server's engine (a new
    # "tcphub-log" thread there) and forks a grandchild that does the same.
    out = run(
        """
        inside = threading.Event()
        release = threading.Event()
        class Slow(logging.Handler):
            def __init__(self):
                super().__init__()
                self.lines = []
            def emit(self, record):
                if os.getpid() == parent and not inside.is_set():
                    inside.set()
                    release.wait(20)
                self.lines.append(record.getMessage())
        parent = os.getpid()
        handler = Slow()
        logging.getLogger("tcphub").addHandler(handler)
        logging.getLogger("tcphub").setLevel(logging.DEBUG)
        tcphub.set_engine_log_level(logging.DEBUG)
        server = tcphub.TcpServer(0, 10, bind="127.0.0.1", framing="lines").start()
        client = tcphub.TcpClient("127.0.0.1", server.port, framing="lines")
        assert inside.wait(20), "no engine line reached the handler"

        def child_work(depth):
            handler.lines.clear()
            assert not server.running and not client.is_open
            if not own_echo_works(b"d%d" % depth):
                return 2
            deadline = time.monotonic() + 20
            while not handler.lines and time.monotonic() < deadline:
                time.sleep(0.01)
            if not handler.lines:
                return 3  # the child's engine lines never reached logging
            if depth == 1:
                pid = os.fork()
                if pid == 0:
                    os._exit(child_work(2))
                r = reap(pid)
                if r != 0:
                    return 10 + (r if isinstance(r, int) else 9)
            client.close()
            server.stop()
            return 0

        pid = os.fork()
        if pid == 0:
            try:
                code = child_work(1)
            except BaseException as e:
                print("child error", repr(e), flush=True)
                code = 7
            os._exit(code)
        result = reap(pid, 60)
        release.set()
        print("child", result, flush=True)
        client.close()
        server.stop()
        """
    )
    assert out.stdout == "child 0\n", (out.stdout, out.stderr)


def test_a_ready_fd_armed_in_a_child_leaves_the_parents_wakeup():
    out = run(
        """
        import select
        server = tcphub.TcpServer(0, 10, bind="127.0.0.1", framing="lines").start()
        ready = server.ready_fd()
        assert ready.arm()
        client = tcphub.TcpClient("127.0.0.1", server.port, framing="lines")
        assert select.select([ready.fileno()], [], [], 20)[0]
        pid = os.fork()
        if pid == 0:
            os._exit(0 if not ready.arm() else 4)
        print("child", reap(pid), flush=True)
        print("readable", bool(select.select([ready.fileno()], [], [], 0)[0]), flush=True)
        client.close()
        server.stop()
        """
    )
    assert out.stdout == "child 0\nreadable True\n", (out.stdout, out.stderr)


def test_forks_while_other_threads_send_and_stop_children_exit_normally():
    # Threads send on a server and a client (and one stops a second server)
    # while the main thread forks 20 times; each child uses the handles,
    # then leaves by the normal exit (stop/close at exit: nothing to wait
    # for). The parent's echo goes on afterwards.
    out = run(
        """
        server = tcphub.TcpServer(0, 10, bind="127.0.0.1", framing="lines")
        @server.on_message
        def echo(client, data):
            try:
                server.send(client.id, data)
            except tcphub.TcpHubError:
                pass
        server.start()
        client = tcphub.TcpClient("127.0.0.1", server.port, framing="lines")
        other = tcphub.TcpServer(0, 10, bind="127.0.0.1").start()
        stop = threading.Event()
        def sender():
            while not stop.is_set():
                client.send(b"busy")
                server.send_all(b"all")
                try:
                    client.recv(timeout=0)
                except tcphub.Timeout:
                    pass
        threads = [threading.Thread(target=sender) for _ in range(2)]
        threads.append(threading.Thread(target=other.stop))
        for t in threads:
            t.start()
        results = []
        for i in range(20):
            pid = os.fork()
            if pid == 0:
                try:
                    client.send(b"x")
                    os._exit(3)
                except tcphub.NotRunning:
                    pass
                server.stop()
                other.stop()
                sys.exit(0)  # the normal exit: stops/closes what is left
            results.append(reap(pid))
        stop.set()
        for t in threads:
            t.join()
        print("children", set(results), flush=True)
        client.send(b"last")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if client.recv(timeout=20) == b"last":
                print("parent ok", flush=True)
                break
        client.close()
        server.stop()
        """
    )
    assert out.stdout == "children {0}\nparent ok\n", (out.stdout, out.stderr)
