"""Found by a review of ``aevents()`` against the async generator protocol:
the legacy ``athrow(type, value)`` raised ``TypeError`` instead of the
exception, and ``aclose()`` or ``athrow()`` left a task waiting in
``anext()`` on the same iterator waiting until the next event."""

from __future__ import annotations

import asyncio
import sys
import threading
from types import TracebackType
from typing import Any, Callable, List, Optional

import pytest
import tcphub

from conftest import WAIT, connect


@pytest.mark.parametrize(
    "args, expected",
    [
        ((ValueError, "msg"), ValueError("msg")),
        ((ValueError, ("a", "b")), ValueError("a", "b")),
        ((ValueError, None, None), ValueError()),
        ((ValueError, ValueError("same")), ValueError("same")),
        ((KeyError, ValueError("other")), KeyError(ValueError("other"))),
        ((ValueError("instance"),), ValueError("instance")),
    ],
)
def test_athrow_makes_the_exception_as_an_async_generator_does(
    make_server: Callable[..., tcphub.TcpServer], args: Any, expected: BaseException
) -> None:
    # athrow(ValueError, "msg") raised "TypeError: exceptions must derive
    # from BaseException": the value was raised as it was.
    server = make_server().start()

    async def main() -> None:
        events = server.aevents()
        with pytest.raises(type(expected)) as raised:
            await events.athrow(*args)
        assert repr(raised.value) == repr(expected)
        with pytest.raises(StopAsyncIteration):  # the iteration has ended
            await events.__anext__()

    asyncio.run(main())


def test_athrow_keeps_the_traceback_and_refuses_what_a_generator_refuses(
    make_server: Callable[..., tcphub.TcpServer],
) -> None:
    server = make_server(framing="lines").start()
    try:
        raise ValueError("here")
    except ValueError:
        tb = sys.exc_info()[2]
    assert tb is not None

    async def main() -> None:
        events = server.aevents()
        with pytest.raises(TypeError):
            await events.athrow(ValueError("x"), "a separate value")  # type: ignore[call-overload]
        with pytest.raises(TypeError):
            await events.athrow(1)  # type: ignore[call-overload]
        with pytest.raises(TypeError):
            await events.athrow(ValueError, None, "not a traceback")  # type: ignore[call-overload]
        s = connect(server)  # arguments refused end nothing
        assert (await asyncio.wait_for(events.__anext__(), WAIT)).kind == "connect"
        s.close()
        with pytest.raises(ValueError) as raised:
            await events.athrow(ValueError, "msg", tb)
        assert raised.value.__traceback__ is not None
        frames = []
        t: Optional[TracebackType] = raised.value.__traceback__
        while t is not None:
            frames.append(t)
            t = t.tb_next
        assert tb in frames

    asyncio.run(main())


@pytest.mark.parametrize("how", ["aclose", "athrow"])
def test_ending_the_iteration_ends_the_anext_of_another_task(
    make_server: Callable[..., tcphub.TcpServer], how: str
) -> None:
    # The other task kept waiting on the descriptor until the next event
    # (for good on a quiet server): nothing woke it to see the end.
    server = make_server(framing="lines").start()

    async def main() -> List[Any]:
        events = server.aevents()
        seen: List[Any] = []

        async def consume() -> None:
            async for event in events:
                seen.append(event)

        task = asyncio.create_task(consume())
        await asyncio.sleep(0.1)  # it waits by then
        assert not task.done()
        if how == "aclose":
            await events.aclose()
        else:
            with pytest.raises(RuntimeError):
                await events.athrow(RuntimeError("enough"))
        await asyncio.wait_for(task, WAIT)
        # Nothing was taken for it: the next iteration has the event.
        s = connect(server)
        ev = await asyncio.wait_for(server.aevents().__anext__(), WAIT)
        s.close()
        return seen + [ev]

    seen = asyncio.run(main())
    assert [e.kind for e in seen] == ["connect"]


def test_aclose_ends_the_anext_of_a_task_on_another_loop(
    make_server: Callable[..., tcphub.TcpServer],
) -> None:
    server = make_server().start()
    events = server.aevents()
    waiting = threading.Event()
    ended: List[str] = []

    def other_loop() -> None:
        async def consume() -> None:
            waiting.set()
            async for _ in events:
                pass
            ended.append("ended")

        try:
            asyncio.run(asyncio.wait_for(consume(), WAIT))
        except BaseException as e:  # (the assert below shows it)
            ended.append(repr(e))

    t = threading.Thread(target=other_loop)
    t.start()
    assert waiting.wait(WAIT)

    async def close() -> None:
        await asyncio.sleep(0.1)  # the other task waits by then
        await events.aclose()

    asyncio.run(close())
    t.join(WAIT)
    assert ended == ["ended"]
