"""The broker's counters, kept as plain numbers on the hot path.

Nothing here takes a lock or calls a metrics library per query: the event
loop bumps integers, and whoever reads them (the summary at exit, a
Prometheus scrape from another thread) reads them as they are.
"""

from __future__ import annotations

import bisect
from typing import Final

#: Upper bounds (seconds) of the latency histogram's buckets: from a quick
#: answer on an idle machine (tens of microseconds) to a frozen daemon.
LATENCY_BUCKETS: Final = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
    0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)


class Stats:
    """What the broker has done since it started."""

    __slots__ = (
        "clients_accepted", "clients_open", "clients_cut_off", "queries",
        "bad_queries", "answers", "cache_hits", "dropped_answers",
        "upstream_connects", "upstream_failures", "upstream_open",
        "upstream_owed", "latency_counts", "latency_sum", "latency_count",
    )

    def __init__(self) -> None:
        #: Client connections accepted, and open now.
        self.clients_accepted = 0
        self.clients_open = 0
        #: Client connections the broker closed because p0f went away (or
        #: could not be reached in time) with their answers owed.
        self.clients_cut_off = 0
        #: Queries read from clients (all of them, good and bad).
        self.queries = 0
        #: Queries answered "bad query" by the broker itself.
        self.bad_queries = 0
        #: Answers written to clients (from p0f, the cache, or bad-query).
        self.answers = 0
        #: Queries answered from the shared cache.
        self.cache_hits = 0
        #: Answers p0f sent for clients that had gone: read and dropped.
        self.dropped_answers = 0
        #: Connections made to p0f; those beyond the first are reconnects.
        self.upstream_connects = 0
        #: Connections to p0f lost (p0f exited, restarted, broke the format).
        self.upstream_failures = 0
        self.upstream_open = 0
        #: Answers p0f owes right now, summed over the connections.
        self.upstream_owed = 0
        # p0f's answer latency: query written to p0f, answer read.
        self.latency_counts = [0] * (len(LATENCY_BUCKETS) + 1)
        self.latency_sum = 0.0
        self.latency_count = 0

    @property
    def upstream_reconnects(self) -> int:
        """Connections to p0f made after the first."""
        return max(0, self.upstream_connects - 1)

    def observe_latency(self, seconds: float) -> None:
        self.latency_counts[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1
        self.latency_sum += seconds
        self.latency_count += 1

    def latency_quantile(self, q: float) -> float | None:
        """An upper bound for the ``q`` quantile, from the buckets (``None``
        with no samples, ``inf`` past the last bucket)."""
        if not self.latency_count:
            return None
        rank = q * self.latency_count
        seen = 0
        for bound, count in zip((*LATENCY_BUCKETS, float("inf")), self.latency_counts):
            seen += count
            if seen >= rank:
                return bound
        return float("inf")

    def summary(self) -> str:
        """One line for the log."""
        parts = [
            f"{self.clients_accepted} client connection(s)",
            f"{self.queries} queries",
            f"{self.answers} answers",
            f"{self.cache_hits} from the cache",
            f"{self.bad_queries} bad queries refused",
            f"{self.dropped_answers} answers dropped for clients gone",
            f"{self.clients_cut_off} clients cut off by p0f failures",
            f"{self.upstream_connects} connection(s) to p0f "
            f"({self.upstream_reconnects} reconnects, {self.upstream_failures} lost)",
        ]
        if self.latency_count:
            mean = self.latency_sum / self.latency_count
            p99 = self.latency_quantile(0.99)
            parts.append(f"p0f latency mean {mean * 1e3:.3f} ms, p99 <= {p99 and p99 * 1e3} ms")
        return "; ".join(parts)
