"""Review (addresses): a dual-stack ("::") server's IPv4 client is
``127.0.0.1`` and found by its IPv4-mapped spellings; ``NoSuchAddr.address``
names the address as ``Client.ip`` would; spellings that are no IP address
are ``InvalidConfig``, never another client; per-IP limits count an IPv4
client alike through "::" whatever ``per_ip_ipv6_prefix`` is; a
``TcpClient`` dialling ``::1``, ``[::1]`` and ``localhost`` reports its
addresses as the server lists them. Loopback only."""

from __future__ import annotations

import socket
from typing import Callable

import pytest

import tcphub
from conftest import WAIT, LineReader, wait_until


def _dual_stack(make_server: Callable[..., tcphub.TcpServer], **kw: object) -> tcphub.TcpServer:
    try:
        return make_server(framing="lines", bind="::", **kw).start()
    except tcphub.TcpHubError as e:
        pytest.skip(f"cannot listen on [::]: {e}")


def _have_v6() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def test_an_ipv4_client_of_a_dual_stack_server_is_ipv4_in_every_view(make_server) -> None:
    server = _dual_stack(make_server)
    assert server.address == ("::", server.port)
    with socket.create_connection(("127.0.0.1", server.port), timeout=WAIT) as v4:
        wait_until(lambda: server.client_count == 1, what="a client")
        (c,) = server.clients()
        assert c.address == v4.getsockname()
        assert (c.ip, str(c)) == ("127.0.0.1", f"127.0.0.1:{c.port}")
        reader = LineReader(v4)
        for ip in ["127.0.0.1", "::ffff:127.0.0.1", "::FFFF:127.0.0.1", "::ffff:7f00:1",
                   "[::ffff:127.0.0.1]", "::ffff:127.0.0.1%lo"]:
            server.send_to(ip, c.port, ip.encode())
            assert reader.line() == ip.encode()
        for bad in ["", " 127.0.0.1", "127.0.0.1 ", "127.000.000.001", "127.0.0.01", "127.1",
                    "[127.0.0.1]", "127.0.0.1:1", "%lo", "[::1%]", "LOCALHOST"]:
            with pytest.raises(tcphub.InvalidConfig, match="send_to wants"):
                server.send_to(bad, c.port, b"x")
        # NoSuchAddr names the address as Client.ip gives it.
        for asked, named in [("::ffff:127.0.0.2", "127.0.0.2"), ("[::1]", "::1"),
                             ("::1%1", "::1"), ("::127.0.0.1", "::7f00:1")]:
            with pytest.raises(tcphub.NoSuchAddr) as exc:
                server.send_to(asked, c.port, b"x")
            assert exc.value.address == (named, c.port), asked


@pytest.mark.parametrize("prefix", [1, 64, 96, 127, 128])
def test_per_ip_limits_count_ipv4_clients_whole_through_a_dual_stack_listener(
    make_server, prefix: int
) -> None:
    server = _dual_stack(make_server, max_clients_per_ip=1, per_ip_ipv6_prefix=prefix,
                         per_ip_full_message=b"per ip")
    with socket.create_connection(("127.0.0.1", server.port), timeout=WAIT):
        wait_until(lambda: server.client_count == 1, what="a client")
        with socket.create_connection(("127.0.0.1", server.port), timeout=WAIT) as refused:
            assert LineReader(refused).line() == b"per ip"
        if _have_v6():
            with socket.create_connection(("::1", server.port), timeout=WAIT):
                wait_until(lambda: server.client_count == 2, what="an IPv6 client")
                with socket.create_connection(("::1", server.port), timeout=WAIT) as again:
                    assert LineReader(again).line() == b"per ip"
    assert server.stats().rejected_per_ip == (2 if _have_v6() else 1)


@pytest.mark.parametrize("host", ["127.0.0.1", "::ffff:127.0.0.1", "localhost", "::1", "[::1]"])
def test_a_client_reports_its_addresses_as_the_server_lists_it(make_server, host: str) -> None:
    server = _dual_stack(make_server)
    if ":" in host and "ffff" not in host and not _have_v6():
        pytest.skip("no IPv6 loopback")
    with tcphub.TcpClient(host, server.port, framing="lines") as client:
        wait_until(lambda: server.client_count == 1, what="the client")
        (c,) = server.clients()
        assert client.local_address == c.address
        assert client.peer_address[1] == server.port
        assert not client.peer_address[0].startswith("::ffff:")
        if host in ("::1", "[::1]"):
            assert client.peer_address == ("::1", server.port)


@pytest.mark.parametrize("host", ["[fe80::1%nosuchif0]", "fe80::1%nosuchif0"])
def test_an_ipv6_host_that_does_not_resolve_is_named_in_brackets(host: str) -> None:
    # A zone naming no interface fails in the resolver without asking any
    # name server. The message named "fe80::1%nosuchif0:8001", which reads
    # as an address whose last group is 8001.
    try:
        tcphub.TcpClient(host, 8001, framing="lines")
    except tcphub.ConnectError as e:
        msg = str(e)
    else:
        pytest.skip("the resolver took the zone")
    if "resolve" not in msg:
        pytest.skip(f"resolved here: {msg}")
    assert "cannot resolve the server address [fe80::1%nosuchif0]:8001" in msg, msg


@pytest.mark.parametrize("host", ["127.0.0.010", "127.000.000.001", "127.1", "0x7f.0.0.1", "2130706433"])
def test_a_host_in_digits_and_dots_that_is_no_ipv4_address_is_refused(make_server, host: str) -> None:
    # The system's resolver read "127.0.0.010" as 127.0.0.8 (octal), an
    # address send_to refuses as no IP address: the client connected to
    # another address than the one written.
    server = make_server(framing="lines", bind="0.0.0.0").start()
    with pytest.raises(tcphub.InvalidConfig, match="no IPv4 address"):
        tcphub.TcpClient(host, server.port, framing="lines")
