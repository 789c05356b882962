"""Review wn: tcphub's own awaitables returned from a plain callback.

A callback that returns an awaitable is reported as its ``TypeError`` and a
coroutine it returned is closed, so that no "coroutine ... was never
awaited" ``RuntimeWarning`` follows (``python/src/dispatch.rs``
``not_awaitable``). ``astop()`` and ``aclose()`` return an object of
tcphub's own wrapping a coroutine (``_runtime._BeginsIfCancelledFirst``),
which was reported but not closed: its coroutine warned when dropped, an
error under ``-W error`` / ``filterwarnings = error``."""

from __future__ import annotations

import pytest

import tcphub
from conftest import callback_errors_of_a_line


@pytest.mark.parametrize("what", ["astop", "aclose"])
def test_review_wn_an_astop_or_aclose_returned_by_a_callback_is_closed_not_left_unawaited(
    make_server, unraisable, what
):
    other = make_server().start()
    server = make_server(framing="lines")

    with tcphub.TcpClient("127.0.0.1", other.port) as target:

        @server.on_message
        def on_message(client: tcphub.Client, data: bytes) -> object:
            # A mistake (the callback is not async): the awaitable is dropped.
            return other.astop() if what == "astop" else target.aclose()

        reported = callback_errors_of_a_line(server)
        # (The awaitable is dropped before on_error is called.)
        assert [type(e) for e in reported] == [TypeError]
        assert "_BeginsIfCancelledFirst" in str(reported[0])
        assert [str(u.exc_value) for u in unraisable.seen] == []
        # Nothing began: the object stays as it was.
        assert other.running if what == "astop" else target.is_open
