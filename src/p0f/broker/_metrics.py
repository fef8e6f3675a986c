"""Prometheus text for the broker's counters (the optional ``[broker]`` extra).

A custom collector reads :class:`~p0f.broker._stats.Stats` at scrape time,
so serving queries never calls into ``prometheus_client``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from ._stats import LATENCY_BUCKETS

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

    from ._server import Broker

MISSING = (
    "the metrics need prometheus-client: pip install 'p0f-client[broker]'"
)


class BrokerCollector:
    """Reads a running broker's counters for a Prometheus registry."""

    def __init__(self, broker: Broker) -> None:
        self._broker = broker

    def collect(self) -> Iterator[Metric]:
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
        )

        stats = self._broker.stats
        counters = (
            ("p0f_broker_client_connections", "Client connections accepted.", stats.clients_accepted),
            ("p0f_broker_clients_cut_off", "Client connections closed because p0f failed "
             "or could not be reached with their answers owed.", stats.clients_cut_off),
            ("p0f_broker_queries", "Queries read from clients.", stats.queries),
            ("p0f_broker_bad_queries", "Queries refused with p0f's bad-query answer.",
             stats.bad_queries),
            ("p0f_broker_answers", "Answers written to clients.", stats.answers),
            ("p0f_broker_cache_hits", "Queries answered from the shared cache.", stats.cache_hits),
            ("p0f_broker_dropped_answers", "Answers read from p0f for clients that had gone.",
             stats.dropped_answers),
            ("p0f_broker_upstream_connects", "Connections made to p0f.", stats.upstream_connects),
            ("p0f_broker_upstream_reconnects", "Connections made to p0f after the first.",
             stats.upstream_reconnects),
            ("p0f_broker_upstream_failures", "Connections to p0f lost or dropped.",
             stats.upstream_failures),
        )
        for name, doc, value in counters:
            yield CounterMetricFamily(name, doc, value=value)
        yield GaugeMetricFamily("p0f_broker_clients", "Client connections open.",
                                value=self._broker.client_count())
        yield GaugeMetricFamily("p0f_broker_upstream_connections",
                                "Connections to p0f in use.", value=self._broker.upstream_count())
        yield GaugeMetricFamily("p0f_broker_upstream_owed", "Answers p0f owes the broker.",
                                value=self._broker.owed())
        buckets: list[tuple[str, float]] = []
        seen = 0
        counts = list(stats.latency_counts)
        for bound, count in zip(LATENCY_BUCKETS, counts):
            seen += count
            buckets.append((repr(bound), seen))
        buckets.append(("+Inf", seen + counts[-1]))
        yield HistogramMetricFamily(
            "p0f_broker_upstream_latency_seconds",
            "Time from writing a query to p0f to reading its answer.",
            buckets=buckets, sum_value=stats.latency_sum,
        )


def serve_metrics(broker: Broker, address: str, port: int) -> None:
    """Serve ``/metrics`` for ``broker`` from a background thread."""
    try:
        from prometheus_client import CollectorRegistry, start_http_server
    except ImportError as exc:
        raise RuntimeError(MISSING) from exc
    registry = CollectorRegistry(auto_describe=False)
    registry.register(BrokerCollector(broker))
    start_http_server(port, addr=address, registry=registry)


def render(broker: Broker) -> str:
    """The Prometheus text exposition of ``broker``'s counters, once."""
    try:
        from prometheus_client import CollectorRegistry, generate_latest
    except ImportError as exc:
        raise RuntimeError(MISSING) from exc
    registry = CollectorRegistry(auto_describe=False)
    registry.register(BrokerCollector(broker))
    return generate_latest(registry).decode("utf-8")
