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
import time

import tcphub


def type_lines(client: tcphub.TcpClient) -> None:
    """Sends stdin's lines, then finishes sending (a half-close)."""
    for line in sys.stdin:
        data = line.rstrip("\n").encode()
        while True:
            try:
                client.send(data)
                break
            except tcphub.QueueFull:  # the hub is not reading: wait for room
                time.sleep(0.01)
            except tcphub.NotRunning:  # closed meanwhile
                return
    try:
        client.shutdown_write()
    except tcphub.NotRunning:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("host", nargs="?", default="127.0.0.1")
    parser.add_argument("port", nargs="?", type=int, default=8001)
    args = parser.parse_args()

    with tcphub.TcpClient(args.host, args.port, framing="lines", reconnect=True) as client:
        host, port = client.local_address
        print(f"connected from {host}:{port}", file=sys.stderr, flush=True)
        threading.Thread(target=type_lines, args=(client,), daemon=True).start()
        try:
            for message in client:  # until the hub closes the connection
                print(message.decode(errors="replace"), flush=True)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
