"""examples/python/worker_pool_server.py: answers from worker threads, to
half-closed clients too, and the jobs taken before a SIGTERM answered."""

from __future__ import annotations

import signal
import socket

import pytest

from conftest import WAIT, LineReader, example_server, finish, read_to_eof


def _answers_then_the_end(jobs: "list[bytes]", answers: "list[bytes]", *args: str) -> None:
    """A client sends ``jobs`` and half-closes: it gets ``answers`` (in any
    order), then the end; Ctrl-C then ends the server cleanly."""
    proc, port = example_server("worker_pool_server.py", *args)
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        s.sendall(b"".join(j + b"\n" for j in jobs))
        s.shutdown(socket.SHUT_WR)
        r = LineReader(s)
        assert sorted(r.lines(len(answers))) == sorted(answers)
        assert r.buf == b"" and read_to_eof(s) == 0
        s.close()
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = finish(proc)
    assert proc.returncode == 0, err
    assert "Traceback" not in err, err


def test_a_half_closed_client_gets_every_answer_then_the_end():
    _answers_then_the_end(
        [b"sleep 200", b"hello", b"sleep x"],
        [b"hello -> HELLO", b"sleep 200 -> slept 200 ms", b"sleep x -> error: say sleep MS"],
    )


def test_sigterm_answers_the_jobs_taken_before_stopping():
    proc, port = example_server("worker_pool_server.py")
    s = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
    # The answer to hello shows both jobs were taken (lines are taken in
    # order); the sleep's is still to come when the signal arrives.
    s.sendall(b"sleep 1500\nhello\n")
    r = LineReader(s)
    seen = [r.line()]
    proc.send_signal(signal.SIGTERM)
    seen.append(r.line())
    assert sorted(seen) == [b"hello -> HELLO", b"sleep 1500 -> slept 1500 ms"]
    assert read_to_eof(s) == 0
    s.close()
    out, err = finish(proc)
    assert proc.returncode == 0, err
    assert "every job answered: stopping" in out, out


def test_a_burst_past_max_jobs_is_answered_whole():
    # More jobs at once than --max-jobs: the input pauses and resumes as the
    # workers catch up; every job is answered, then the end.
    jobs = [b"job %d" % i for i in range(500)]
    _answers_then_the_end(jobs, [j + b" -> " + j.upper() for j in jobs], "--max-jobs", "8")
