"""What users' asyncio code sees: checked by mypy, never run by pytest."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import assert_type

from p0f import AsyncP0f, P0fResponse, RawResponse


async def async_api(client: AsyncP0f, flag: bool) -> None:
    assert_type(await client.query("192.0.2.1"), P0fResponse)
    assert_type(await client.query(ipaddress.IPv6Address("::1")), P0fResponse)
    assert_type(await client.get_info("192.0.2.1"), P0fResponse)
    assert_type(await client.get_info("192.0.2.1", False), P0fResponse)
    assert_type(await client.get_info("192.0.2.1", True), RawResponse)
    assert_type(await client.get_info("192.0.2.1", return_raw_data=True), RawResponse)
    assert_type(await client.get_info("192.0.2.1", flag), P0fResponse | RawResponse)
    assert_type(await client.query_many(["192.0.2.1"]), list[P0fResponse | None])
    assert_type(await client.query_many(iter(["192.0.2.1"])), list[P0fResponse | None])
    assert_type(client.max_connections, int)
    assert_type(client.timeout, float)
    await client.aclose()


async def scoped() -> None:
    async with AsyncP0f(Path("/run/p0f.sock"), timeout=0.5, max_connections=2) as client:
        assert_type(client, AsyncP0f)
