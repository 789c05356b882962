#!/usr/bin/env python3
"""Baseline: a plain asyncio relay/echo server with a 4-byte big-endian length
prefix — what a Python user would write without tcphub.

    python3 bench/asyncio_hub.py --port 8001 --mode relay|echo
"""
import argparse
import asyncio
import struct

writers: "set[asyncio.StreamWriter]" = set()


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, relay: bool) -> None:
    writers.add(writer)
    try:
        while True:
            header = await reader.readexactly(4)
            (length,) = struct.unpack(">I", header)
            frame = header + await reader.readexactly(length)
            if relay:
                for w in list(writers):
                    w.write(frame)
            else:
                writer.write(frame)
            # Backpressure like a careful user would add it.
            if writer.transport.get_write_buffer_size() > 1 << 20:
                await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writers.discard(writer)
        writer.close()


async def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=8001)
    p.add_argument("--mode", choices=["relay", "echo"], default="relay")
    a = p.parse_args()
    relay = a.mode == "relay"
    server = await asyncio.start_server(
        lambda r, w: handle(r, w, relay), "127.0.0.1", a.port, backlog=4096, limit=1 << 20
    )
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
