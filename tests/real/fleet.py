"""One process of a web fleet: the WSGI middleware, asked every few ms.

``test_fleet.py`` runs :func:`work` in processes of their own (forked from
multiprocessing's fork server, which has imported this module once), all
released together by a barrier.  Each process wraps a small WSGI
application in :class:`p0f.wsgi.P0fMiddleware` with its defaults except the
answer cache (off, so every request is a lookup), calls it with an environ
whose ``REMOTE_ADDR`` is a host p0f knows, and counts what the application
found in ``environ["p0f"]``.

This module imports neither scapy nor the daemon helpers, so that the fork
server stays small.
"""

from __future__ import annotations

import logging
import os
import time
import traceback
from collections import Counter
from collections.abc import Iterable
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from typing import Any, Final, Literal, TypeAlias
from wsgiref.types import StartResponse, WSGIEnvironment
from wsgiref.util import setup_testing_defaults

import attrs

from p0f import RawResponse
from p0f.wsgi import P0fMiddleware, get_lookup, get_p0f

#: The middleware's ``idle_timeout``: a number of seconds, ``None`` (keep
#: the connection for the process's life), or ``"default"`` (do not pass it).
Idle: TypeAlias = float | None | Literal["default"]

#: How long a worker waits at the barrier for the others to be ready.
BARRIER_TIMEOUT: Final = 120.0


@attrs.frozen
class WorkerPlan:
    """What one worker process does."""

    index: int
    socket_path: str
    #: ``REMOTE_ADDR`` values, each with p0f's direct answer about it.
    hosts: tuple[tuple[str, RawResponse], ...]
    idle: Idle
    #: Seconds of requests, from the moment the barrier lets go.
    seconds: float
    #: Seconds slept between one request's end and the next one's start.
    interval: float


@attrs.frozen
class WorkerTally:
    """What one worker process saw."""

    index: int
    pid: int
    requests: int
    #: ``environ["p0f"]`` was the host's own answer, field for field.
    answered: int
    #: ``environ["p0f"]`` was ``None``.
    no_data: int
    #: ``environ["p0f"]`` was an answer, but not that host's.
    wrong: int
    wrong_example: str | None
    #: Requests by the :class:`p0f.wsgi.LookupStatus` name the lookup gave.
    statuses: dict[str, int]
    #: Requests answered from the middleware's cache (must stay 0: it is off).
    cached: int
    #: ``time.monotonic()`` (one clock for every process on the machine)
    #: when the first request started and when the last one ended.
    started: float
    ended: float
    #: Seconds the slowest request took.
    slowest: float
    #: Records the library logged (the middleware logs failed lookups to
    #: ``p0f.web``), by level name, and the first one's message.
    logged: dict[str, int]
    first_logged: str | None


class _LogCounter(logging.Handler):
    """Counts the library's log records instead of printing them: 32
    processes' failed-lookup warnings would bury pytest's output."""

    def __init__(self) -> None:
        super().__init__()
        self.counts: Counter[str] = Counter()
        self.first: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        self.counts[record.levelname] += 1
        if self.first is None:
            self.first = record.getMessage()


def _app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


def _ignore_start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
    return None


def build_middleware(plan: WorkerPlan) -> P0fMiddleware:
    """The middleware as a site would set it up, with the cache off."""
    if plan.idle == "default":
        return P0fMiddleware(_app, plan.socket_path, cache_seconds=0)
    return P0fMiddleware(_app, plan.socket_path, cache_seconds=0, idle_timeout=plan.idle)


def _requests(plan: WorkerPlan, middleware: P0fMiddleware, log: _LogCounter) -> WorkerTally:
    template: WSGIEnvironment = {}
    setup_testing_defaults(template)
    statuses: Counter[str] = Counter()
    answered = no_data = wrong = cached = requests = 0
    wrong_example: str | None = None
    slowest = 0.0
    started = time.monotonic()
    deadline = started + plan.seconds
    now = started
    while now < deadline:
        remote, expected = plan.hosts[(requests + plan.index) % len(plan.hosts)]
        environ = dict(template, REMOTE_ADDR=remote)
        body = middleware(environ, _ignore_start_response)
        assert list(body) == [b"ok"]
        ended = time.monotonic()
        slowest = max(slowest, ended - now)
        requests += 1
        lookup = get_lookup(environ)
        statuses[lookup.status.name] += 1
        cached += lookup.cached
        answer = get_p0f(environ)
        if answer is None:
            no_data += 1
        elif answer.raw == expected and str(lookup.address) == remote:
            answered += 1
        else:
            wrong += 1
            if wrong_example is None:
                wrong_example = f"asked about {remote}, got {lookup.address}: {answer.raw!r}"
        time.sleep(plan.interval)
        now = time.monotonic()
    return WorkerTally(
        index=plan.index,
        pid=os.getpid(),
        requests=requests,
        answered=answered,
        no_data=no_data,
        wrong=wrong,
        wrong_example=wrong_example,
        statuses=dict(statuses),
        cached=cached,
        started=started,
        ended=now,
        slowest=slowest,
        logged=dict(log.counts),
        first_logged=log.first,
    )


def work(plan: WorkerPlan, barrier: Barrier, results: Queue[WorkerTally | str]) -> None:
    """A worker process's whole life: set up, wait for the others, ask,
    close, and put a :class:`WorkerTally` (or what went wrong) on ``results``."""
    outcome: WorkerTally | str
    log = _LogCounter()
    library_logger = logging.getLogger("p0f")
    library_logger.addHandler(log)
    library_logger.propagate = False
    try:
        middleware = build_middleware(plan)
        try:
            barrier.wait(BARRIER_TIMEOUT)
            outcome = _requests(plan, middleware, log)
        finally:
            middleware.close()
    except BaseException:
        outcome = f"worker {plan.index} (pid {os.getpid()}) failed:\n{traceback.format_exc()}"
        barrier.abort()  # the others and the parent stop waiting for this one
    results.put(outcome)
