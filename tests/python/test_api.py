"""The public surface: names, docstrings, exception hierarchy."""

from __future__ import annotations

import collections.abc
import inspect
import sys

import pytest

import tcphub


def test_every_public_class_and_method_has_a_docstring():
    missing = []
    for name in tcphub.__all__:
        obj = getattr(tcphub, name)
        if not inspect.isclass(obj):
            continue
        if not (obj.__doc__ or "").strip():
            missing.append(name)
        if issubclass(obj, BaseException):
            continue
        for attr, value in vars(obj).items():
            if attr.startswith("_"):
                continue
            if not (getattr(value, "__doc__", None) or "").strip():
                missing.append(f"{name}.{attr}")
    assert missing == []
    assert (tcphub.__doc__ or "").strip()


@pytest.mark.skipif(
    sys.version_info < (3, 10),
    reason="before 3.10 an abi3 class has no signature for inspect (nor for help) to show",
)
def test_the_constructor_parameters_are_documented_where_help_shows_them():
    # pyo3 drops the docstring of ``#[new]``: help(TcpServer) showed no word
    # about max_queue_bytes, linger or reconnect_max_attempts.
    for cls in (tcphub.TcpServer, tcphub.TcpClient):
        params = [p for p in inspect.signature(cls).parameters if p not in ("self", "cls")]
        doc = cls.__doc__ or ""
        undocumented = [p for p in params if f"``{p}``" not in doc]
        assert undocumented == [], cls.__name__


def test_each_error_maps_to_its_own_class_under_tcphuberror():
    classes = [
        tcphub.InvalidConfig,
        tcphub.BindError,
        tcphub.ConnectError,
        tcphub.NoSuchClient,
        tcphub.NoSuchAddr,
        tcphub.NotRunning,
        tcphub.FrameTooLarge,
        tcphub.InvalidMessage,
        tcphub.QueueFull,
        tcphub.Timeout,
        tcphub.IoError,
    ]
    assert len(set(classes)) == len(classes)
    for cls in classes:
        assert issubclass(cls, tcphub.TcpHubError)
        assert cls.__module__ == "tcphub"
    assert issubclass(tcphub.BindError, OSError)
    assert issubclass(tcphub.ConnectError, ConnectionError)
    assert issubclass(tcphub.Timeout, TimeoutError)
    assert issubclass(tcphub.InvalidConfig, ValueError)
    assert issubclass(tcphub.InvalidMessage, ValueError)
    assert issubclass(tcphub.NoSuchAddr, tcphub.NoSuchClient)


def test_value_classes():
    server = tcphub.TcpServer(0, 5, bind="127.0.0.1")
    assert server.stats().as_dict()["clients"] == 0
    assert repr(server.stats()).startswith("Stats(clients=0")
    assert server.clients() == [] and server.client(1) is None
    assert server.port == 0 and server.max_clients == 5 and server.framing == "raw"


def test_the_stub_types_aevents_as_the_async_generator_it_is(tmp_path):
    # aclose() / contextlib.aclosing() end an aevents() iteration at once
    # (its helper thread included); the stub must allow them.
    import subprocess
    import sys

    import pytest

    pytest.importorskip("mypy")
    server = tcphub.TcpServer(0, bind="127.0.0.1").start()
    try:
        # (An object of its own, not a generator, which a cancelled anext()
        # would finish: see test_asyncio_review.py.)
        assert isinstance(server.aevents(), collections.abc.AsyncGenerator)
    finally:
        server.stop()
    snippet = tmp_path / "uses_aclose.py"
    code = (
        "import contextlib\n"
        "import tcphub\n"
        "\n"
        "async def consume(server: tcphub.TcpServer) -> None:\n"
        "    events = server.aevents()\n"
        "    first: tcphub.Event = await events.__anext__()\n"
        "    await events.aclose()\n"
        "    print(first)\n"
    )
    if sys.version_info >= (3, 10):  # contextlib.aclosing
        code += (
            "    async with contextlib.aclosing(server.aevents()) as more:\n"
            "        async for event in more:\n"
            "            print(event)\n"
        )
    snippet.write_text(code)
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(snippet)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_defaults_are_the_cores_constants():
    # The constructors' defaults are written as literals in the binding's
    # signatures (seconds, not Durations): they must stay the core's.
    import inspect

    server = inspect.signature(tcphub.TcpServer).parameters
    client = inspect.signature(tcphub.TcpClient).parameters
    assert server["linger"].default == tcphub.DEFAULT_LINGER == 2.0
    assert client["linger"].default == tcphub.DEFAULT_LINGER
    assert server["busy_poll"].default == tcphub.DEFAULT_BUSY_POLL == 5e-6
    assert client["connect_timeout"].default == tcphub.DEFAULT_CONNECT_TIMEOUT == 10.0
    assert tcphub.DEFAULT_BACKLOG == 4096
    assert tcphub.DEFAULT_EVENT_CAPACITY == 65536
    assert tcphub.EVENT_QUEUE_BYTES == 64 * 1024 * 1024
    # Each is what the server takes at most / by default.
    tcphub.TcpServer(0, 1, backlog=tcphub.DEFAULT_BACKLOG, event_capacity=tcphub.DEFAULT_EVENT_CAPACITY)
    tcphub.TcpServer(0, 1, framing="raw", full_message=b"x" * tcphub.MAX_FULL_MESSAGE)
    with pytest.raises(tcphub.InvalidConfig):
        tcphub.TcpServer(0, 1, framing="raw", full_message=b"x" * (tcphub.MAX_FULL_MESSAGE + 1))


@pytest.mark.skipif(
    sys.version_info < (3, 10),
    reason="before 3.10 an abi3 class has no signature for inspect (nor for help) to show",
)
def test_help_shows_every_default_as_its_value():
    # help(TcpServer) showed `max_queue_bytes=Ellipsis`, `backlog=Ellipsis`
    # and `event_capacity=Ellipsis` (defaults written as the core's
    # constants, which pyo3 cannot print): a newcomer read that as the value
    # to pass. Each default must be its value, the core's constant.
    server = inspect.signature(tcphub.TcpServer).parameters
    client = inspect.signature(tcphub.TcpClient).parameters
    aconnect = inspect.signature(tcphub.TcpClient.aconnect).parameters
    for params in (server, client, aconnect):
        hidden = [p.name for p in params.values() if p.default is Ellipsis]
        assert hidden == []
    assert server["max_queue_bytes"].default == tcphub.DEFAULT_MAX_QUEUE_BYTES == 4 << 20
    assert client["max_queue_bytes"].default == tcphub.DEFAULT_MAX_QUEUE_BYTES
    assert server["backlog"].default == tcphub.DEFAULT_BACKLOG
    assert server["event_capacity"].default == tcphub.DEFAULT_EVENT_CAPACITY
    assert client["event_capacity"].default == tcphub.DEFAULT_EVENT_CAPACITY
