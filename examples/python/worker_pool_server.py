"""A request/response server whose answers come from a pool of worker threads.

    pip install .                                   # from the repository root
    python examples/python/worker_pool_server.py --port 8003
    printf 'sleep 300\\nhello\\n' | nc -N 127.0.0.1 8003

Each line is a job, each answer a line: ``sleep MS`` sleeps that long (at
most 10 s), any other line comes back in upper case. A client may end its
sending side after its jobs (``nc -N``): the server holds it open for the
answers (``hold_for_replies``) and closes it once its last job is answered.
At most ``--max-jobs`` jobs wait for a worker: at that bound the server
pauses its input (``pause_input()``: TCP slows the clients down) until the
workers have caught up to half of it.
Ctrl-C or SIGTERM shuts it down in two phases: it takes no more jobs
(``stop_input()``), lets the workers answer the ones taken, then stops; a
second one meanwhile stops it without the answers still to come (exit
code 130).
"""

import argparse
import contextlib
import signal
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from types import FrameType
from typing import Dict, List, Optional

import tcphub


def run_job(job: bytes) -> bytes:
    """The work: ``sleep MS``, or the line in upper case."""
    if job.startswith(b"sleep "):
        try:
            ms = min(int(job[6:]), 10_000)
        except ValueError:
            return b"error: say sleep MS"
        if ms < 0:  # time.sleep() would raise
            return b"error: say sleep MS"
        time.sleep(ms / 1000)
        return b"slept %d ms" % ms
    return job.upper()


def positive(text: str) -> int:
    """An argument that must be a whole number of at least 1: no worker
    would run the jobs, and below 1 job the input, once paused, would never
    be resumed (the workers resume it at half the bound)."""
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8003)
    parser.add_argument("--bind", default="0.0.0.0")
    parser.add_argument("--workers", type=positive, default=4)
    parser.add_argument("--max-jobs", type=positive, default=64, help="jobs waiting at most (then input pauses)")
    args = parser.parse_args()

    server = tcphub.TcpServer(args.port, 1000, framing="lines", bind=args.bind, hold_for_replies=60.0)
    pool = ThreadPoolExecutor(max_workers=args.workers)
    lock = threading.Lock()
    # Per client with jobs: [jobs not answered yet, whether it finished sending].
    pending: Dict[int, List[int]] = {}
    in_flight = [0]  # jobs submitted and not answered, all clients

    def work(client: tcphub.Client, job: bytes) -> None:
        # Whatever happens to this job, it is counted as answered below: an
        # exception escaping here would be kept in a Future nobody reads,
        # leaving the client held open unanswered and the job counted in
        # in_flight for good (enough such jobs pause the input for ever).
        try:
            answer = run_job(job)
        except Exception as e:  # a bug in the work: say so, go on
            answer = b"error: " + type(e).__name__.encode()
        with lock:
            in_flight[0] -= 1
            if in_flight[0] <= args.max_jobs // 2 and server.input_paused:
                server.resume_input()  # caught up: read the clients again
        with contextlib.suppress(tcphub.NoSuchClient):  # it left: nobody to answer
            try:
                server.send(client, job + b" -> " + answer)
            except tcphub.FrameTooLarge:  # the job fits the line limit, the answer does not
                server.send(client, b"error: the answer to a job of %d bytes is too long" % len(job))
        with lock:
            entry = pending.get(client.id)
            if entry is None:
                return
            entry[0] -= 1
            if entry[0] == 0 and entry[1]:
                del pending[client.id]
                done = True
            else:
                done = False
        if done:
            with contextlib.suppress(tcphub.NoSuchClient):
                server.disconnect(client)  # answered: closed once written

    @server.on_message
    def submit(client: tcphub.Client, job: bytes) -> None:
        with lock:
            pending.setdefault(client.id, [0, 0])[0] += 1
            in_flight[0] += 1
            if in_flight[0] >= args.max_jobs:
                server.pause_input()  # backpressure: TCP holds the rest
        pool.submit(work, client, job)

    @server.on_disconnect
    def ended(client: tcphub.Client, reason: str) -> None:
        with lock:
            entry = pending.get(client.id)
            if entry is not None and entry[0] > 0 and reason == "closed by peer":
                entry[1] = 1  # held for its answers: closed after the last
                return
            pending.pop(client.id, None)
        with contextlib.suppress(tcphub.NoSuchClient):  # gone for good, perhaps
            server.disconnect(client)  # nothing left to answer

    def terminate(signum: int, frame: Optional[FrameType]) -> None:
        raise KeyboardInterrupt  # SIGTERM stops it as Ctrl-C does

    signal.signal(signal.SIGTERM, terminate)
    server.start()
    try:
        host, port = server.address
        if ":" in host:
            host = f"[{host}]"
        print(f"worker pool server listening on {host}:{port}", flush=True)
        server.wait()
    except KeyboardInterrupt:
        pass
    try:
        print("taking no more jobs, answering the ones taken", flush=True)
        server.stop_input()
        pool.shutdown(wait=True)
    except KeyboardInterrupt:  # a second Ctrl-C or SIGTERM: do not wait for the answers
        pool.shutdown(wait=False, cancel_futures=True)  # (a job already running still ends first)
        print("stopping without the answers still to come", flush=True)
        server.stop()
        sys.exit(128 + signal.SIGINT)
    print("every job answered: stopping", flush=True)
    server.stop()


if __name__ == "__main__":
    try:
        main()
    except (tcphub.TcpHubError, OverflowError) as e:  # the port is in use or out of range, …
        sys.exit(f"worker_pool_server: {e}")
