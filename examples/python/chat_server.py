"""The socket tutorial's multi-client chat server, in Python, on tcphub.

    pip install .                                   # from the repository root
    python examples/python/chat_server.py --port 8001
    ncat 127.0.0.1 8001                             # in two or more other terminals

Every client is told when someone joins or leaves; every line a client sends
goes to everyone, prefixed with the sender's address. Ctrl-C or SIGTERM stops
the server gracefully (clients see the connection close).
"""

import argparse
import contextlib
import signal
import sys
from types import FrameType
from typing import Optional

import tcphub


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--bind", default="0.0.0.0")
    args = parser.parse_args()

    server = tcphub.TcpServer(args.port, 100, framing="lines", bind=args.bind)

    @server.on_connect
    def joined(client: tcphub.Client) -> None:
        server.send_all(f"client {client} connected".encode())

    @server.on_message
    def relay(client: tcphub.Client, data: bytes) -> None:
        try:
            server.send_all(f"{client}: ".encode() + data)
        except tcphub.FrameTooLarge as e:  # the line fits the limit, with the prefix it does not
            with contextlib.suppress(tcphub.NoSuchClient):  # the sender may have left meanwhile
                server.send(client.id, f"message not relayed: {e}".encode())

    @server.on_disconnect
    def left(client: tcphub.Client, reason: str) -> None:
        # A client that half-closed is still held open for the replies to
        # its last lines: it is told of the others' leaves, not its own.
        server.send_all(f"client {client} disconnected ({reason})".encode(), exclude=client)

    def terminate(signum: int, frame: Optional[FrameType]) -> None:
        raise KeyboardInterrupt  # SIGTERM stops it as Ctrl-C does

    signal.signal(signal.SIGTERM, terminate)
    with server:  # starts here, stops on the way out (Ctrl-C included)
        host, port = server.address
        if ":" in host:
            host = f"[{host}]"  # IPv6: "[::1]:8001", as tcphub prints addresses
        try:  # (the print too: Ctrl-C may come as soon as the line is out)
            print(f"chat server listening on {host}:{port}", flush=True)
            server.wait()
        except KeyboardInterrupt:
            print("stopping")


if __name__ == "__main__":
    try:
        main()
    except (tcphub.TcpHubError, OverflowError) as e:  # the port is in use or out of range, …
        sys.exit(f"chat_server: {e}")
