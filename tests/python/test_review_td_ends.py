"""Review (td): clients that end while input is paused, with a large
backlog held back for it. Each end waits behind the client's held
messages until ``resume_input()``; taking it cost the callback thread a
pass over everything held (the client's messages were moved to the back
of the line), with the GIL held: with 300,000 messages held from 3,000
clients kicked one by one, ~50 s of the callback thread (~0.1 s with the
end put behind them where they are). Everything still goes out at the
resume, in order per client, each end after its client's messages.
"""

from __future__ import annotations

import threading
from typing import Callable, Dict, List

import tcphub
from conftest import held_backlog, wait_until

CLIENTS = 3000
PER = 100


def test_ends_while_input_is_paused_with_a_large_backlog_held(
        make_server: Callable[..., tcphub.TcpServer]) -> None:
    server = make_server(CLIENTS + 10, framing="length", threads=1,
                         event_capacity=CLIENTS * PER + 4 * CLIENTS)
    lock = threading.Lock()
    got: Dict[int, List[int]] = {}
    ended: Dict[int, int] = {}  # client id -> messages it had when it ended
    ids: Dict[int, int] = {}  # client id -> who

    def on_held(c: tcphub.Client, who: int, seq: int) -> None:
        with lock:
            ids[c.id] = who
            got.setdefault(who, []).append(seq)

    def on_disconnect(c: tcphub.Client, reason: str) -> None:
        with lock:
            ended[c.id] = len(got.get(ids.get(c.id, -1), []))

    server.on_disconnect(on_disconnect)
    with held_backlog(server, CLIENTS, PER, on_held) as (_, busy):
        others = [c.id for c in server.clients() if c.id != busy]
        assert len(others) == CLIENTS
        for cid in others:
            server.disconnect(cid)
        # Each end is taken (and waits behind its messages) at once.
        wait_until(lambda: server._holds_sizes()[1] == CLIENTS,
                   what="every end taken by the callback thread")
        with lock:
            assert not got and not ended
        server.resume_input()
        wait_until(lambda: len(ended) == CLIENTS, what="every end handed out")
        with lock:
            assert sorted(got) == list(range(CLIENTS))
            for who, seqs in got.items():
                assert seqs == list(range(PER)), who
            assert all(n == PER for n in ended.values()), "an end before its messages"
        wait_until(lambda: server._holds_sizes() == (1, 0, 0, 0, 0),
                   what="nothing held, resumed or owed")
