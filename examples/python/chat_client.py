"""A chat client for the hub, in Python, on tcphub.

    pip install .                                          # from the repository root
    python examples/python/chat_server.py --port 8001      # one terminal
    python examples/python/chat_client.py 127.0.0.1 8001   # two or more others

Lines typed on stdin go to the hub; lines from the hub are printed. A dropped
connection is re-established with backoff. End the input (Ctrl-D) to leave:
the client half-closes, prints what the hub still sends and exits when the
hub closes the connection. Ctrl-C leaves at once.
"""

import argparse
import sys
import threading

import tcphub


def type_lines(client: tcphub.TcpClient, done: threading.Event) -> None:
    """Sends stdin's lines (as bytes: any encoding), then finishes sending (a half-close)."""
    for line in sys.stdin.buffer:
        try:
            # timeout=None: while the hub is not reading, wait for room.
            client.send(line.rstrip(b"\n"), timeout=None)
        except tcphub.FrameTooLarge as e:  # over the line limit: skip it
            print(f"not sent: {e}", file=sys.stderr, flush=True)
        except tcphub.NotRunning:  # closed meanwhile
            return
    done.set()
    try:
        client.shutdown_write()
    except tcphub.NotRunning:
        pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("host", nargs="?", default="127.0.0.1")
    parser.add_argument("port", nargs="?", type=int, default=8001)
    args = parser.parse_args()

    with tcphub.TcpClient(
        args.host, args.port, framing="lines", reconnect=True, reconnect_max_attempts=10
    ) as client:
        host, port = client.local_address
        print(f"connected from {host}:{port}", file=sys.stderr, flush=True)
        input_done = threading.Event()
        threading.Thread(target=type_lines, args=(client, input_done), daemon=True).start()
        try:
            for message in client:  # until the hub closes the connection
                print(message.decode(errors="replace"), flush=True)
        except KeyboardInterrupt:
            return 0
        if not input_done.is_set():  # reconnecting gave up
            print("chat_client: the connection to the hub is lost", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (tcphub.TcpHubError, OverflowError) as e:  # no hub at that address, a bad port, …
        sys.exit(f"chat_client: {e}")
