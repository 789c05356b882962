"""examples/python/worker_pool_server.py: answers from worker threads, to
half-closed clients too, and the jobs taken before a SIGTERM answered."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys

import pytest

from conftest import EXAMPLES, WAIT, LineReader, example_server, finish, read_to_eof, running_example


def _answers_then_the_end(jobs: "list[bytes]", answers: "list[bytes]", *args: str) -> None:
    """A client sends ``jobs`` and half-closes: it gets ``answers`` (in any
    order), then the end; Ctrl-C then ends the server cleanly."""
    with running_example("worker_pool_server.py", *args) as (port, _):
        s = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        s.sendall(b"".join(j + b"\n" for j in jobs))
        s.shutdown(socket.SHUT_WR)
        r = LineReader(s)
        assert sorted(r.lines(len(answers))) == sorted(answers)
        assert r.buf == b"" and read_to_eof(s) == 0
        s.close()


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


def test_a_negative_sleep_is_answered_with_an_error():
    # time.sleep(-0.001) raised in the worker; the exception stayed in a
    # Future nobody read: no answer, the half-closed client held open for
    # the whole hold_for_replies window (60 s), and the job counted as in
    # flight for good.
    _answers_then_the_end(
        [b"sleep -1", b"hello"],
        [b"sleep -1 -> error: say sleep MS", b"hello -> HELLO"],
    )


def test_jobs_that_fail_do_not_pause_the_input_for_good():
    # Each failed job stayed counted in in_flight: --max-jobs of them paused
    # the input for ever, and no client was read again.
    jobs = [b"sleep -%d" % i for i in range(1, 5)] + [b"hello"]
    answers = [j + b" -> error: say sleep MS" for j in jobs[:-1]] + [b"hello -> HELLO"]
    _answers_then_the_end(jobs, answers, "--max-jobs", "2")


def test_a_job_whose_answer_is_over_the_line_limit_gets_an_error_line():
    # A 40,000-byte line fits the 64 KiB limit, "<job> -> <ANSWER>" does
    # not: send() raised FrameTooLarge in the worker, unseen; the client got
    # no answer and was held open for 60 s.
    job = b"a" * 40000
    _answers_then_the_end(
        [job, b"hello"],
        [b"error: the answer to a job of 40000 bytes is too long", b"hello -> HELLO"],
    )


def test_a_second_sigterm_stops_without_waiting_for_the_answers():
    # A second SIGTERM (or Ctrl-C) while the taken jobs were being answered
    # raised KeyboardInterrupt out of pool.shutdown(): a traceback.
    proc, port = example_server("worker_pool_server.py")
    s = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
    s.sendall(b"sleep 1500\nsleep 1500\nhello\n")
    assert LineReader(s).line() == b"hello -> HELLO"  # the sleeps were taken before it
    proc.send_signal(signal.SIGTERM)
    assert proc.stdout is not None
    assert proc.stdout.readline() == "taking no more jobs, answering the ones taken\n"
    proc.send_signal(signal.SIGTERM)
    out, err = finish(proc)
    s.close()
    assert "Traceback" not in err, err
    assert proc.returncode == 130, err
    assert "stopping without the answers still to come" in out, out


@pytest.mark.parametrize("args", [["--max-jobs", "-1"], ["--max-jobs", "0"], ["--workers", "0"], ["--max-jobs", "x"]])
def test_a_bound_or_pool_below_one_is_refused_with_a_usage_line(args):
    # --max-jobs -1 paused the input at the first job and never resumed it
    # (the workers resume at half the bound): every later job, of every
    # client, went unanswered for good. --workers 0 was a traceback from
    # ThreadPoolExecutor. Both are now usage errors, as a port that is no
    # port is, before anything listens.
    proc = subprocess.Popen(
        [sys.executable, str(EXAMPLES / "worker_pool_server.py"), "--port", "0", "--bind", "127.0.0.1", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()  # "" at its exit; the listening line if it started
    if first:
        proc.kill()
    out, err = finish(proc)
    assert first == "", f"started with {args}: {first!r}"
    assert proc.returncode == 2, err
    assert "Traceback" not in err, err
    assert err.startswith("usage: ") and "at least 1" in err, err
