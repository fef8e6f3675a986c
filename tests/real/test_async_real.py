"""The asyncio client against the real daemon: many concurrent queries give
exactly the sync client's answers."""

from __future__ import annotations

import asyncio

import pytest

from p0f import AsyncP0f, NoMatchError, P0f, RawResponse

from .daemon import P0fDaemon
from .p0flog import IPAddress
from .scenarios import Addresses, by_name

pytestmark = pytest.mark.real_daemon


@pytest.mark.parametrize("max_connections", [1, 3])
def test_concurrent_async_queries_equal_sync_answers(
    real_p0f: P0fDaemon, max_connections: int
) -> None:
    addresses = Addresses()
    hosts: list[IPAddress] = []
    for name in ("windows", "linux", "ipv6", "http_firefox", "nat_ttl", "unknown_os"):
        scenario = by_name(name)
        host = addresses.new(scenario.family)
        scenario.play(host)
        real_p0f.wait_for_log(host, dict(scenario.log))
        hosts.append(host)
    unknown = addresses.new(4)
    asked = (hosts + [unknown]) * 60  # 420 queries

    with P0f(real_p0f.socket_path, timeout=3.0) as sync:
        expected: dict[IPAddress, RawResponse | None] = {
            host: sync.get_info(host, return_raw_data=True) for host in hosts
        }
    expected[unknown] = None

    async def ask(client: AsyncP0f, host: IPAddress) -> RawResponse | None:
        try:
            return await client.get_info(host, return_raw_data=True)
        except NoMatchError:
            return None

    async def main() -> tuple[list[RawResponse | None], list[RawResponse | None]]:
        async with AsyncP0f(
            real_p0f.socket_path, timeout=3.0, max_connections=max_connections
        ) as client:
            one_by_one = await asyncio.gather(*(ask(client, host) for host in asked))
            batches = await asyncio.gather(
                *(client.query_many(asked) for _ in range(5))
            )
        return list(one_by_one), [r.raw if r else None for batch in batches for r in batch]

    one_by_one, batched = asyncio.run(main())
    assert one_by_one == [expected[host] for host in asked]
    assert batched == [expected[host] for host in asked] * 5
