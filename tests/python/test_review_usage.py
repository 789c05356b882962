"""What a user moving from the socket tutorial's TCPServer runs into."""

from __future__ import annotations

import functools
import threading
import warnings
from typing import List

import pytest

import tcphub
from conftest import WAIT


@pytest.mark.parametrize("decorator", ["on_connect", "on_message", "on_disconnect", "on_error"])
def test_an_async_def_callback_is_refused_when_registered(make_server, decorator):
    # The dispatcher calls callbacks on its own thread; an `async def` one
    # only made a coroutine nobody awaited: the callback silently never ran.
    server = make_server(framing="lines")

    async def handler(*args: object) -> None:
        pass

    class Handler:
        async def method(self, *args: object) -> None:
            pass

    for func in (handler, functools.partial(handler), Handler().method):
        with pytest.raises(TypeError, match="aevents"):
            getattr(server, decorator)(func)

    async def gen(*args: object):  # an async generator function, same story
        yield

    with pytest.raises(TypeError, match="aevents"):
        getattr(server, decorator)(gen)
    server.start()
    assert server.running


def test_a_callback_returning_a_coroutine_is_reported_not_left_unawaited(make_server):
    # An object whose `__call__` is `async def` passes for a plain callable;
    # its coroutine is closed (no "never awaited" warning) and reported as
    # the callback's TypeError.
    server = make_server(framing="lines")
    reported: List[BaseException] = []
    done = threading.Event()

    class AsyncHandler:
        async def __call__(self, client: tcphub.Client, data: bytes) -> None:
            pass

    server.on_message(AsyncHandler())

    @server.on_error
    def err(exc: BaseException, event: tcphub.Event) -> None:
        reported.append(exc)
        done.set()

    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with server:
            with tcphub.TcpClient("127.0.0.1", server.port, framing="lines") as client:
                client.send(b"hi")
                assert done.wait(WAIT)
    assert len(reported) == 1
    assert isinstance(reported[0], TypeError)
    assert "coroutine" in str(reported[0])
    assert server.stats().callback_errors == 1
