#!/usr/bin/env python3
"""A length-prefixed relay in Python on tcphub, for the benchmarks.

    python bench/py_relay.py --port 8001 --variant callback|poll

Prints "listening on 127.0.0.1:PORT" once it listens (``--port 0`` picks a
free port); SIGTERM or SIGINT stop it, exit code 0.

callback: @server.on_message -> server.send_all (the dispatcher thread calls
          Python once per message, in batches under one GIL acquisition).
poll:     no callbacks; the main thread takes events in batches with
          server.poll(1024) and relays each message.
"""
import argparse
import signal
import threading

import tcphub


def listening(server: tcphub.TcpServer) -> None:
    host, port = server.address
    print(f"listening on {host}:{port}", flush=True)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=8001)
    p.add_argument("--variant", choices=["callback", "poll"], default="poll")
    a = p.parse_args()
    server = tcphub.TcpServer(a.port, 20000, framing="length", bind="127.0.0.1")
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    if a.variant == "callback":

        @server.on_message
        def relay(client: tcphub.Client, data: bytes) -> None:
            server.send_all(data)

        with server:
            listening(server)
            while not done.wait(0.2):
                pass
        return
    with server:
        listening(server)
        send_all = server.send_all
        while not done.is_set():
            for ev in server.poll(1024, timeout=0.2):
                if ev.kind == "message":
                    send_all(ev.data or b"")  # (bytes for a message: `or` narrows the type)


if __name__ == "__main__":
    main()
