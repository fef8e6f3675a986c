"""What code embedding the broker sees: checked by mypy, never run by pytest."""

from __future__ import annotations

from typing import assert_type

from p0f.broker import BAD_QUERY_ANSWER, Broker, BrokerConfig, Stats, main


async def embed() -> None:
    config = BrokerConfig(p0f_socket="/run/p0f.sock", listen="/run/p0f-broker.sock", upstreams=2)
    assert_type(config.upstreams, int)
    assert_type(config.cache_ttl, float)
    assert_type(config.group, str | None)
    broker = Broker(config)
    await broker.start()
    await broker.wait_connected()
    assert_type(broker.stats, Stats)
    assert_type(broker.stats.queries, int)
    assert_type(broker.stats.latency_quantile(0.99), float | None)
    assert_type(broker.owed(), int)
    broker.request_stop()
    await broker.run_until_stopped()
    assert_type(BAD_QUERY_ANSWER, bytes)
    assert_type(main(["-s", "a", "-l", "b"]), int)
