"""How long the client takes to say a port is closed: refused connects said at once vs retried.

    python bench/connect_refused.py [--rounds 5]

Side by side in one run, alternating: a `DustClient` listing apps on a loopback port nothing
listens on, as the CLI now does (a refused connect is final) and as before (`retry_refused=True`:
three retries with backoff). Prints the median seconds to the error and the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import time

from dusttui.api.client import DustClient
from dusttui.api.errors import DustConnectionError


def closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    sock.close()
    return port


async def time_to_error(url: str, retry_refused: bool) -> float:
    client = DustClient(
        url, "sk-bench-key", "w", url_style="workspace", retry_refused=retry_refused
    )
    start = time.perf_counter()
    try:
        await client.list_apps()
    except DustConnectionError:
        pass
    elapsed = time.perf_counter() - start
    await client.aclose()
    return elapsed


async def main(rounds: int) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    said: list[float] = []
    retried: list[float] = []
    for _ in range(rounds):
        said.append(await time_to_error(url, retry_refused=False))
        retried.append(await time_to_error(url, retry_refused=True))
    a, b = statistics.median(said), statistics.median(retried)
    print(f"refused said at once: {a * 1000:.0f} ms (median of {rounds})")
    print(f"refused retried:      {b * 1000:.0f} ms (median of {rounds})")
    print(f"ratio: {b / a:.0f}× · load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    asyncio.run(main(parser.parse_args().rounds))
