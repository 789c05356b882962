"""A chat client for the hub, in Python, on tcphub.

    pip install .                                          # from the repository root
    python examples/python/chat_server.py --port 8001      # one terminal
    python examples/python/chat_client.py 127.0.0.1 8001   # two or more others

Lines typed on stdin go to the hub; lines from the hub are printed. A dropped
connection is re-established with backoff. End the input (Ctrl-D) to leave:
the client half-closes, prints what the hub still sends and exits when the
hub closes the connection (exit code 0); when the connection is lost for
good instead (reconnecting gave up), it says so and how many lines were not
sent, exit code 1. Ctrl-C leaves at once.
"""

import argparse
import os
import sys
import threading
from typing import Iterator

import tcphub


def stdin_lines() -> Iterator[bytes]:
    """stdin's lines, without their newline, read from the file descriptor
    itself: a thread waiting in ``sys.stdin.buffer`` holds that object's
    lock, and an interpreter that exits meanwhile (Ctrl-C, the hub lost)
    aborts with "Fatal Python error: _enter_buffered_busy" (exit code 134)."""
    partial = bytearray()  # a line's start, from earlier reads
    while chunk := os.read(sys.stdin.fileno(), 65536):
        *lines, rest = chunk.split(b"\n")
        if lines:
            partial += lines[0]
            yield bytes(partial)
            partial.clear()
            yield from lines[1:]
        partial += rest
    if partial:
        yield bytes(partial)


def type_lines(client: tcphub.TcpClient, done: threading.Event) -> None:
    """Sends stdin's lines (as bytes: any encoding), then finishes sending (a half-close)."""
    for line in stdin_lines():
        try:
            # timeout=None: while the hub is not reading, wait for room.
            client.send(line, timeout=None)
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
        except BrokenPipeError:  # stdout's reader went away (| head -1): leave quietly
            # (and let the flush at exit write nowhere rather than fail again)
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
        # After the end of input, a clean end is the hub closing the
        # connection; reconnecting that gave up (before or after it) may
        # have dropped lines typed while the hub was away.
        reason = client.disconnect_reason
        if not input_done.is_set() or reason != "closed by peer":
            unsent = f"; {client.unsent} lines not sent" if client.unsent else ""
            print(f"chat_client: the connection to the hub is lost ({reason}){unsent}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (tcphub.TcpHubError, OverflowError) as e:  # no hub at that address, a bad port, …
        sys.exit(f"chat_client: {e}")
