"""Review cf (configuration consistency): ``python -m tcphub serve`` takes
the counts ``tcphub serve`` and ``TcpServer`` take. Its ``--max`` and
``--max-per-ip`` stopped at ``sys.maxsize`` (2**63 - 1): a larger count,
which ``tcphub serve`` and ``TcpServer(max_clients=...)`` take (up to
2**64 - 1, the engine's ``usize``), was a usage error there."""

from __future__ import annotations

import pytest

from conftest import dash_m_hub

USIZE_MAX = 2**64 - 1


@pytest.mark.parametrize("flag", ["--max", "--max-per-ip"])
def test_review_cf_dash_m_takes_the_counts_the_engine_takes(flag):
    server = dash_m_hub(flag, str(USIZE_MAX))
    try:
        got = server.max_clients if flag == "--max" else server.max_clients_per_ip
        assert got == USIZE_MAX
    finally:
        server.stop()


@pytest.mark.parametrize("flag", ["--max", "--max-per-ip"])
def test_review_cf_dash_m_refuses_past_the_engine_as_the_cli(flag, capsys):
    from tcphub.__main__ import build_parser

    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["serve", flag, str(USIZE_MAX + 1)])
    assert exit_info.value.code == 2
    assert f"must be from 1 to {USIZE_MAX}" in capsys.readouterr().err
