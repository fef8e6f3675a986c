"""The asyncio client against the fake daemon: sharing, order, faults, closing.

Every test runs its own event loop with :func:`asyncio.run`.  The
``fake_p0f`` fixture fails a test at teardown if the client ever closed a
connection with answers owed (what kills the real p0f).
"""

from __future__ import annotations

import asyncio
import errno
import gc
import ipaddress
import os
import random
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import pytest

from p0f import (
    AsyncP0f,
    BadQueryError,
    InvalidAddressError,
    NoMatchError,
    P0fConnectionError,
    P0fResponse,
    P0fTimeoutError,
    ProtocolError,
    Status,
    encode_response,
)
from p0f._drain import pending as pending_drainers
from p0f._wire import RESPONSE_SIZE
from p0f.testing import FakeP0f, Fault, no_match_response

from .helpers import address, drainers_finish, host_response, spoiled, wait_until

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def add_hosts(fake: FakeP0f, count: int) -> list[str]:
    addresses = [address(n) for n in range(count)]
    for n, a in enumerate(addresses):
        fake.add_host(a, host_response(n))
    return addresses


def is_answer_for(result: object, n: int) -> bool:
    return (
        isinstance(result, P0fResponse)
        and result.total_conn == n
        and result.os_flavor == address(n)
    )


async def eventually(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    end = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > end:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.005)


async def timed(awaitable: Awaitable[T]) -> tuple[T, float]:
    start = time.monotonic()
    result = await awaitable
    return result, time.monotonic() - start


# -- many callers, one connection -------------------------------------------------


def test_thousand_concurrent_callers_share_one_connection(fake_p0f: FakeP0f) -> None:
    addresses = add_hosts(fake_p0f, 1000)

    async def main() -> list[P0fResponse]:
        async with AsyncP0f(fake_p0f.socket_path, timeout=5.0) as client:
            return await asyncio.gather(*(client.query(a) for a in addresses))

    results = run(main())
    assert all(is_answer_for(r, n) for n, r in enumerate(results))
    assert fake_p0f.connections_served == 1
    assert len(fake_p0f.queries) == 1000
    # aclose() has closed it; the fake's thread sees the hang-up a moment later.
    wait_until(lambda: fake_p0f.connection_count == 0)


@pytest.mark.parametrize("seed", [1, 2])
def test_cancelled_and_late_callers_never_get_a_wrong_answer(
    fake_p0f: FakeP0f, seed: int
) -> None:
    # Callers come in waves.  In each wave 5% of the answers come after the
    # timeout, so callers queued behind them time out too; their answers
    # still arrive while the next wave waits, and must reach nobody.  10% of
    # the callers are cancelled at random moments, before, while or after
    # they wait.
    rng = random.Random(seed)
    count, waves, interval = 1000, 8, 0.15
    # The delayed answers come 1 s after the 0.2 s timeout: even a loop
    # starved by a loaded machine fires the timeout before they arrive.
    timeout, delay = 0.2, 1.2
    addresses = add_hosts(fake_p0f, count)
    delayed = set(rng.sample(range(count), count // 20))
    for n in delayed:
        fake_p0f.inject(Fault(delay=delay), address=addresses[n])
    cancelled = set(rng.sample(range(count), count // 10))
    starts = [(n % waves) * interval + rng.uniform(0, 0.02) for n in range(count)]
    end = (waves - 1) * interval + delay

    async def caller(client: AsyncP0f, n: int) -> P0fResponse:
        await asyncio.sleep(starts[n])
        return await client.query(addresses[n])

    async def main() -> tuple[list[object], list[int], list[P0fResponse | None]]:
        loop = asyncio.get_running_loop()
        async with AsyncP0f(fake_p0f.socket_path, timeout=timeout) as client:
            tasks = [asyncio.create_task(caller(client, n)) for n in range(count)]
            for n in cancelled:
                loop.call_later(rng.uniform(0, end), tasks[n].cancel)
            results: list[object] = await asyncio.gather(*tasks, return_exceptions=True)
            # The fake holds the last delayed answers for up to ``delay`` more;
            # p0f answers in order, so the batch below would queue behind them.
            await asyncio.sleep(delay)
            # The connection's order survived all that: a batch is right.  (A
            # caller cancelled before it asked left its delay unspent.)
            asked = {a for _, a in fake_p0f.queries}
            again = [
                n
                for n in range(count)
                if n not in delayed or ipaddress.ip_address(addresses[n]) in asked
            ]
            after = await client.query_many([addresses[n] for n in again])
        return results, again, after

    results, again, after = run(main())
    outcomes = {"answered": 0, "timed out": 0, "cancelled": 0}
    for n, result in enumerate(results):
        if isinstance(result, P0fResponse):
            assert is_answer_for(result, n), (n, result)
            assert n not in delayed
            outcomes["answered"] += 1
        elif isinstance(result, P0fTimeoutError):
            outcomes["timed out"] += 1
        elif isinstance(result, asyncio.CancelledError):
            assert n in cancelled
            outcomes["cancelled"] += 1
        else:
            raise AssertionError(f"caller {n} got {result!r}")
    for n in delayed - cancelled:
        assert isinstance(results[n], P0fTimeoutError)
    assert all(outcomes.values()), outcomes
    assert len(again) > count * 0.9
    assert all(is_answer_for(r, n) for n, r in zip(again, after))
    assert fake_p0f.connections_served == 1


def test_timed_out_answer_goes_to_nobody(fake_p0f: FakeP0f) -> None:
    fake_p0f.add_host("192.0.2.1", host_response(1))
    fake_p0f.add_host("192.0.2.2", host_response(2))
    fake_p0f.inject(Fault(delay=0.25), address="192.0.2.1")

    async def main() -> None:
        async with AsyncP0f(fake_p0f.socket_path, timeout=0.2) as client:
            with pytest.raises(P0fTimeoutError, match="within 0.2 s"):
                await client.query("192.0.2.1")
            # Asked at once, it waits behind the late answer, which it drops.
            answer = await client.query("192.0.2.2")
            assert answer.total_conn == 2

    run(main())
    assert fake_p0f.connections_served == 1


def test_cancelled_caller_gives_up_its_answer(fake_p0f: FakeP0f) -> None:
    fake_p0f.add_host("192.0.2.1", host_response(1))
    fake_p0f.add_host("192.0.2.2", host_response(2))
    fake_p0f.inject(Fault(delay=0.1), address="192.0.2.1")

    async def main() -> None:
        async with AsyncP0f(fake_p0f.socket_path) as client:
            first = asyncio.create_task(client.query("192.0.2.1"))
            await eventually(lambda: len(fake_p0f.queries) == 1)
            first.cancel()
            second = await client.query("192.0.2.2")
            assert second.total_conn == 2
            assert first.cancelled()

    run(main())


# -- connections ----------------------------------------------------------------------


def test_max_connections_is_never_exceeded(fake_p0f: FakeP0f) -> None:
    addresses = add_hosts(fake_p0f, 600)
    peak = 0

    async def watch() -> None:
        nonlocal peak
        while True:
            peak = max(peak, fake_p0f.connection_count)
            await asyncio.sleep(0.001)

    async def main() -> list[P0fResponse]:
        async with AsyncP0f(fake_p0f.socket_path, timeout=5.0, max_connections=3) as client:
            watcher = asyncio.create_task(watch())
            try:
                return await asyncio.gather(*(client.query(a) for a in addresses))
            finally:
                watcher.cancel()

    results = run(main())
    assert all(is_answer_for(r, n) for n, r in enumerate(results))
    assert fake_p0f.connections_served == 3
    assert peak <= 3
    # The callers were spread over all three.
    assert {number for number, _ in fake_p0f.queries} == {1, 2, 3}


def test_an_idle_connection_is_reused_not_multiplied(fake_p0f: FakeP0f) -> None:
    addresses = add_hosts(fake_p0f, 10)

    async def main() -> None:
        async with AsyncP0f(fake_p0f.socket_path, max_connections=5) as client:
            for n, a in enumerate(addresses):
                assert is_answer_for(await client.query(a), n)

    run(main())
    assert fake_p0f.connections_served == 1


def test_connection_closed_mid_stream_fails_only_its_callers(fake_p0f: FakeP0f) -> None:
    addresses = add_hosts(fake_p0f, 40)
    # Closed once every query is in: a query written to a connection the
    # daemon has closed fails at once, and is retried as on a stale one.
    fake_p0f.inject(Fault(close=True, delay=0.05), address=addresses[20])

    async def main() -> tuple[list[object], list[P0fResponse]]:
        async with AsyncP0f(fake_p0f.socket_path) as client:
            await client.query(addresses[0])  # open it, so it sits idle
            burst: list[object] = await asyncio.gather(
                *(client.query(a) for a in addresses), return_exceptions=True
            )
            later = await asyncio.gather(*(client.query(a) for a in addresses))
        return burst, later

    burst, later = run(main())
    assert all(is_answer_for(r, n) for n, r in enumerate(burst[:20]))
    for result in burst[20:]:
        assert isinstance(result, P0fConnectionError)
        assert not isinstance(result, P0fTimeoutError)
        assert "connection lost" in str(result)
    assert all(is_answer_for(r, n) for n, r in enumerate(later))
    assert fake_p0f.connections_served == 2


def test_connection_dropped_mid_stream_then_callers_succeed(fake_p0f: FakeP0f) -> None:
    addresses = add_hosts(fake_p0f, 100)
    fake_p0f.inject(Fault(delay=5.0), address=addresses[50])

    async def main() -> tuple[list[object], list[P0fResponse]]:
        async with AsyncP0f(fake_p0f.socket_path, timeout=5.0) as client:
            tasks = [asyncio.create_task(client.query(a)) for a in addresses]
            await eventually(lambda: sum(t.done() for t in tasks) == 50)
            fake_p0f.drop_connections()
            burst: list[object] = await asyncio.gather(*tasks, return_exceptions=True)
            later = await asyncio.gather(*(client.query(a) for a in addresses))
        return burst, later

    burst, later = run(main())
    assert all(is_answer_for(r, n) for n, r in enumerate(burst[:50]))
    assert all(isinstance(r, P0fConnectionError) for r in burst[50:])
    assert all(is_answer_for(r, n) for n, r in enumerate(later))
    assert fake_p0f.connections_served == 2


def test_connection_dropped_while_idle_is_replaced(fake_p0f: FakeP0f) -> None:
    fake_p0f.add_host("192.0.2.1", host_response(1))

    async def main() -> None:
        async with AsyncP0f(fake_p0f.socket_path) as client:
            await client.query("192.0.2.1")
            fake_p0f.drop_connections()
            await eventually(lambda: not client._conns)  # the loop saw the hang-up
            assert (await client.query("192.0.2.1")).total_conn == 1

    run(main())
    assert fake_p0f.connections_served == 2


def test_stale_connection_is_retried_once(fake_p0f: FakeP0f) -> None:
    fake_p0f.add_host("192.0.2.1", host_response(1))

    async def main() -> None:
        async with AsyncP0f(fake_p0f.socket_path) as client:
            await client.query("192.0.2.1")
            # Dropped while idle, then used before the loop could notice:
            # the query dies unanswered and goes again on a new connection.
            fake_p0f.drop_connections()
            results = await asyncio.gather(*(client.query("192.0.2.1") for _ in range(5)))
            assert [r.total_conn for r in results] == [1] * 5

    run(main())
    assert fake_p0f.connections_served == 2


def test_a_new_connection_that_dies_is_not_retried(fake_p0f: FakeP0f) -> None:
    fake_p0f.add_host("192.0.2.1", host_response(1))
    fake_p0f.add_host("192.0.2.2", host_response(2))

    async def main() -> None:
        async with AsyncP0f(fake_p0f.socket_path) as client:
            # A new connection that dies unanswered is not retried...
            fake_p0f.inject(Fault(close=True), address="192.0.2.1")
            with pytest.raises(P0fConnectionError, match="connection lost"):
                await client.query("192.0.2.1")
            assert fake_p0f.connections_served == 1
            # ...and a stale one is retried once only, on a new one.
            assert (await client.query("192.0.2.2")).total_conn == 2
            fake_p0f.inject(Fault(close=True), count=2, address="192.0.2.1")
            with pytest.raises(P0fConnectionError, match="connection lost"):
                await client.query("192.0.2.1")
            assert fake_p0f.connections_served == 3
            assert (await client.query("192.0.2.1")).total_conn == 1

    run(main())
    assert fake_p0f.connections_served == 4


def test_protocol_error_fails_that_connection_and_waits_for_its_drain(
    fake_p0f: FakeP0f,
) -> None:
    addresses = add_hosts(fake_p0f, 4)
    # (Delayed, so the good answer before it is read on its own: answers that
    # arrive with a broken one are lost with it.)
    fake_p0f.inject(Fault(payload=b"\xff" * 232, delay=0.05), address=addresses[1])
    fake_p0f.inject(Fault(delay=0.3), address=addresses[2])
    peak = 0

    async def watch() -> None:
        nonlocal peak
        while True:
            peak = max(peak, fake_p0f.connection_count)
            await asyncio.sleep(0.001)

    async def main() -> None:
        async with AsyncP0f(fake_p0f.socket_path) as client:
            watcher = asyncio.create_task(watch())
            results = await asyncio.gather(
                *(client.query(a) for a in addresses[:3]), return_exceptions=True
            )
            assert is_answer_for(results[0], 0)
            assert isinstance(results[1], ProtocolError)
            assert isinstance(results[2], ProtocolError)
            assert "every answer owed" in str(results[2])
            # The broken connection still owes the late answer; the one
            # connection allowed is free only once that answer is drained.
            answer, waited = await timed(client.query(addresses[3]))
            assert is_answer_for(answer, 3)
            assert waited > 0.2
            watcher.cancel()

    run(main())
    assert fake_p0f.connections_served == 2
    assert peak == 1


def test_connect_errors_reach_every_waiting_caller(tmp_path: object) -> None:
    missing = f"{tmp_path}/nothing.sock"

    async def main() -> None:
        client = AsyncP0f(missing)
        results = await asyncio.gather(
            *(client.query("192.0.2.1") for _ in range(3)), return_exceptions=True
        )
        assert len({id(r) for r in results}) == 3  # one exception each
        for result in results:
            assert isinstance(result, P0fConnectionError)
            assert result.errno == errno.ENOENT
            assert missing in str(result)
        await client.aclose()

    run(main())


def test_refused_connection_then_daemon_back(fake_p0f: FakeP0f) -> None:
    fake_p0f.add_host("192.0.2.1", host_response(1))

    async def main() -> None:
        async with AsyncP0f(fake_p0f.socket_path) as client:
            fake_p0f.refuse_connections()
            with pytest.raises(P0fConnectionError) as info:
                await client.query("192.0.2.1")
            assert info.value.errno == errno.ECONNREFUSED
            fake_p0f.accept_connections()
            assert (await client.query("192.0.2.1")).total_conn == 1

    run(main())


# -- closing ------------------------------------------------------------------------


def test_aclose_fails_waiting_callers_and_drains_their_answers(fake_p0f: FakeP0f) -> None:
    addresses = add_hosts(fake_p0f, 3)
    fake_p0f.inject(Fault(delay=0.3), address=addresses[0])

    async def main() -> None:
        client = AsyncP0f(fake_p0f.socket_path, timeout=30.0)
        tasks = [asyncio.create_task(client.query(a)) for a in addresses]
        await eventually(lambda: len(fake_p0f.queries) == 3)
        _, took = await timed(client.aclose())
        for task in tasks:
            with pytest.raises(P0fConnectionError, match=r"aclose\(\) was called"):
                await task
        # It waited for the three answers, not for its 30 s grace.
        assert 0.2 < took < 10.0
        assert pending_drainers() == 0
        await eventually(lambda: fake_p0f.connection_count == 0)
        # A later call opens a new connection.
        assert is_answer_for(await client.query(addresses[1]), 1)
        await client.aclose()
        await client.aclose()  # again: nothing to do

    run(main())
    assert fake_p0f.connections_served == 2


def test_aclose_hands_a_stalled_connection_to_a_drainer(fake_p0f: FakeP0f) -> None:
    fake_p0f.add_host("192.0.2.1", host_response(1))
    fake_p0f.inject(Fault(delay=4.0), address="192.0.2.1")

    async def main() -> None:
        client = AsyncP0f(fake_p0f.socket_path, timeout=0.05)
        with pytest.raises(P0fTimeoutError):
            await client.query("192.0.2.1")
        _, took = await timed(client.aclose())
        assert took > 0.9  # at least one second, though the timeout is less
        assert pending_drainers() == 1  # returned before the answer came
        assert fake_p0f.connection_count == 1

    run(main())
    drainers_finish()
    wait_until(lambda: fake_p0f.connection_count == 0)  # closed after its answer


def test_loop_ending_without_aclose_does_not_close_with_answers_owed(
    fake_p0f: FakeP0f,
) -> None:
    fake_p0f.add_host("192.0.2.1", host_response(1))
    fake_p0f.add_host("192.0.2.2", host_response(2))
    # The answer comes long after the timeout, so the drainer is surely
    # still waiting for it when checked below, even on a loaded machine
    # (0.3 s failed in CI with two test sessions side by side).
    fake_p0f.inject(Fault(delay=2.0), address="192.0.2.1")

    client = AsyncP0f(fake_p0f.socket_path, timeout=0.05)

    async def late() -> None:
        with pytest.raises(P0fTimeoutError):
            await client.query("192.0.2.1")
        # The loop ends with the answer still owed and no aclose().

    async def idle() -> None:
        # The connection of the closed loop is forgotten, a new one opened.
        assert (await client.query("192.0.2.2")).total_conn == 2

    run(late())
    assert pending_drainers() == 1
    drainers_finish()
    run(idle())  # the loop ends again; an idle connection is simply closed
    assert pending_drainers() == 0
    wait_until(lambda: fake_p0f.connection_count == 0)
    assert fake_p0f.connections_served == 2


def test_aclose_ends_callers_waiting_for_a_connection(fake_p0f: FakeP0f) -> None:
    addresses = add_hosts(fake_p0f, 3)
    fake_p0f.inject(Fault(payload=b"\xff" * 232), address=addresses[0])
    fake_p0f.inject(Fault(delay=0.2), address=addresses[1])

    async def main() -> None:
        # A timeout far beyond the 0.2 s delay, so that aclose() ends the
        # wait before the caller's own timeout can (with the default 1 s,
        # the timeout won once in CI on a loaded machine).
        client = AsyncP0f(fake_p0f.socket_path, timeout=10.0)
        results = await asyncio.gather(
            *(client.query(a) for a in addresses[:2]), return_exceptions=True
        )
        assert all(isinstance(r, ProtocolError) for r in results)
        # The broken connection drains the late answer and holds the only
        # slot; a caller waits for it, and aclose() ends the wait.
        waiting = asyncio.create_task(client.query(addresses[2]))
        for _ in range(10):
            await asyncio.sleep(0)  # let it reach its wait for the slot
        assert not waiting.done()
        await client.aclose()
        with pytest.raises(P0fConnectionError, match=r"aclose\(\)"):
            await waiting

    run(main())
    assert fake_p0f.connections_served == 1


def test_async_with_closes_and_a_client_moves_between_loops(fake_p0f: FakeP0f) -> None:
    fake_p0f.add_host("192.0.2.1", host_response(1))
    client = AsyncP0f(fake_p0f.socket_path)

    async def main() -> None:
        async with client as entered:
            assert entered is client
            assert (await client.query("192.0.2.1")).total_conn == 1
            assert fake_p0f.connection_count == 1
        await eventually(lambda: fake_p0f.connection_count == 0)

    run(main())
    run(main())
    assert fake_p0f.connections_served == 2


# asyncio itself warns (ResourceWarning, when collected) about the transports
# of a loop closed without closing them: that is this test's very scenario.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_a_loop_closed_without_aclose_leaves_its_owed_answers_to_the_drainer(
    fake_p0f: FakeP0f,
) -> None:
    # The first loop is closed by hand (not asyncio.run) with an answer still
    # owed; moving the client to a new loop dropped the old connection, and
    # collecting it closed the socket before p0f wrote the late answer.
    fake_p0f.add_host("192.0.2.1", host_response(1))
    fake_p0f.inject(Fault(delay=0.5))
    client = AsyncP0f(fake_p0f.socket_path, timeout=0.1)
    first = asyncio.new_event_loop()
    with pytest.raises(P0fTimeoutError):
        first.run_until_complete(client.query("192.0.2.1"))
    first.close()

    async def second() -> int:
        answer = await client.query("192.0.2.1")
        await client.aclose()
        return answer.total_conn

    assert run(second()) == 1
    gc.collect()  # what dropping the old connection led to
    wait_until(lambda: len(fake_p0f.queries) == 2 and pending_drainers() == 0)
    wait_until(lambda: fake_p0f.connection_count == 0)
    fake_p0f.stop()
    assert fake_p0f.harm == []


def test_a_write_interrupted_after_it_happened_is_still_counted(fake_p0f: FakeP0f) -> None:
    # A signal handler's exception (a loop run by hand keeps Python's own
    # SIGINT handler) right after the transport took the bytes: the answer
    # is owed all the same, and aclose() must wait for it.
    fake_p0f.add_host("192.0.2.1", host_response(1))
    fake_p0f.inject(Fault(delay=0.3))
    client = AsyncP0f(fake_p0f.socket_path, timeout=2)
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(client.query("192.0.2.1"))  # connected
        conn = client._conns[0]
        transport = conn._transport
        assert transport is not None
        write = transport.write

        def write_then_interrupt(data: bytes | bytearray | memoryview) -> None:
            transport.write = write  # type: ignore[method-assign]  # once
            write(data)
            raise KeyboardInterrupt

        transport.write = write_then_interrupt  # type: ignore[method-assign]
        with pytest.raises(KeyboardInterrupt):
            loop.run_until_complete(client.query("192.0.2.1"))
        assert conn.pipe.owed_bytes == RESPONSE_SIZE
        loop.run_until_complete(client.aclose())
        wait_until(lambda: pending_drainers() == 0 and fake_p0f.connection_count == 0)
    finally:
        loop.close()
    assert len(fake_p0f.queries) == 2
    fake_p0f.check()  # the late answer was read, not written to a closed socket


def test_a_client_with_connections_refuses_another_loop(fake_p0f: FakeP0f) -> None:
    fake_p0f.add_host("192.0.2.1", host_response(1))
    client = AsyncP0f(fake_p0f.socket_path)

    async def first() -> None:
        await client.query("192.0.2.1")
        inner_result: list[BaseException] = []

        def other_loop() -> None:
            try:
                asyncio.run(client.query("192.0.2.1"))
            except RuntimeError as exc:
                inner_result.append(exc)

        await asyncio.to_thread(other_loop)
        assert "another event loop" in str(inner_result[0])
        await client.aclose()

    run(first())


def test_a_stopped_loop_with_connections_is_not_taken_for_the_running_one(
    fake_p0f: FakeP0f,
) -> None:
    # On Python 3.11 a query finds its loop by asking whether the bound loop
    # runs in this thread; a loop that ran here and stopped must not pass.
    fake_p0f.add_host("192.0.2.1", host_response(1))
    client = AsyncP0f(fake_p0f.socket_path)
    first = asyncio.new_event_loop()
    try:
        assert first.run_until_complete(client.query("192.0.2.1")).total_conn == 1
        with pytest.raises(RuntimeError, match="another event loop"):
            run(client.query("192.0.2.1"))
        assert len(fake_p0f.queries) == 1  # nothing was sent from the second loop
        first.run_until_complete(client.aclose())
    finally:
        first.close()

    async def again() -> int:  # free again after aclose()
        async with client:
            return (await client.query("192.0.2.1")).total_conn

    assert run(again()) == 1
    assert len(fake_p0f.queries) == 2


# -- answers ----------------------------------------------------------------------------


def test_query_many_keeps_order_beside_single_callers(fake_p0f: FakeP0f) -> None:
    addresses = add_hosts(fake_p0f, 1500)
    unknown = "192.0.2.200"

    async def main() -> tuple[list[P0fResponse | None], list[P0fResponse]]:
        async with AsyncP0f(fake_p0f.socket_path) as client:
            assert await client.query_many([]) == []
            many = client.query_many([*addresses, unknown, addresses[7]])
            singles = asyncio.gather(*(client.query(a) for a in addresses[::10]))
            return await asyncio.gather(many, singles)

    many, singles = run(main())
    assert all(is_answer_for(r, n) for n, r in enumerate(many[:1500]))
    assert many[1500] is None
    assert is_answer_for(many[1501], 7)
    assert all(is_answer_for(r, n * 10) for n, r in enumerate(singles))
    assert fake_p0f.connections_served == 1


def test_query_many_times_out_per_answer_and_drops_the_rest(fake_p0f: FakeP0f) -> None:
    addresses = add_hosts(fake_p0f, 600)
    fake_p0f.inject(Fault(delay=0.3), address=addresses[100])

    async def main() -> None:
        async with AsyncP0f(fake_p0f.socket_path, timeout=0.2) as client:
            with pytest.raises(P0fTimeoutError):
                await client.query_many(addresses)
            # The rest of the batch is read and dropped before this answer.
            assert is_answer_for(await client.query(addresses[5]), 5)

    run(main())


def test_no_match_bad_query_and_raw_answers(fake_p0f: FakeP0f) -> None:
    raw = fake_p0f.add_host("192.0.2.1", host_response(1))
    bad = encode_response(no_match_response(Status.BAD_QUERY))
    fake_p0f.inject(Fault(payload=bad), address="192.0.2.3")

    async def main() -> None:
        async with AsyncP0f(fake_p0f.socket_path) as client:
            assert await client.get_info("192.0.2.1", return_raw_data=True) == raw
            assert (await client.get_info("192.0.2.1")).raw == raw
            assert await client.query(ipaddress.IPv4Address("192.0.2.1")) == P0fResponse.from_raw(raw)
            with pytest.raises(NoMatchError, match="192.0.2.2"):
                await client.query("192.0.2.2")
            with pytest.raises(NoMatchError):
                await client.get_info("192.0.2.2", True)
            with pytest.raises(BadQueryError):
                await client.query("192.0.2.3")

    run(main())


def test_invalid_address_sends_nothing(fake_p0f: FakeP0f) -> None:
    async def main() -> None:
        async with AsyncP0f(fake_p0f.socket_path) as client:
            with pytest.raises(InvalidAddressError):
                await client.query("not an address")
            with pytest.raises(InvalidAddressError):
                await client.query_many(["192.0.2.1", "nope"])

    run(main())
    assert fake_p0f.connections_served == 0


# -- settings ---------------------------------------------------------------------------


@pytest.mark.parametrize("value", [0, -1])
def test_max_connections_must_be_positive(value: int) -> None:
    with pytest.raises(ValueError, match="max_connections"):
        AsyncP0f("/run/p0f.sock", max_connections=value)


@pytest.mark.parametrize("value", [True, 1.5, "2"])
def test_max_connections_must_be_an_int(value: Any) -> None:
    with pytest.raises(TypeError, match="max_connections"):
        AsyncP0f("/run/p0f.sock", max_connections=value)


def test_timeout_is_checked_as_for_the_sync_client() -> None:
    with pytest.raises(ValueError, match="timeout"):
        AsyncP0f("/run/p0f.sock", timeout=0)


def test_repr_and_properties() -> None:
    client = AsyncP0f("/run/p0f.sock", timeout=0.5, max_connections=2)
    assert client.socket_path == "/run/p0f.sock"
    assert client.timeout == 0.5
    assert client.max_connections == 2
    assert repr(client) == "AsyncP0f('/run/p0f.sock', timeout=0.5, max_connections=2)"
    assert AsyncP0f("/run/p0f.sock").max_connections == 1



# -- found under fault injection --------------------------------------------------------


def broken_answers() -> list[object]:
    good = bytearray(encode_response(host_response(0)))
    status = bytearray(good)
    status[4:8] = (0x99).to_bytes(4, sys.byteorder)
    bad_sw = bytearray(good)
    bad_sw[38] = 7
    return [
        pytest.param(spoiled(0), id="wrong magic"),
        pytest.param(b"\xff" * 232, id="garbage"),
        pytest.param(bytes(status), id="status 0x99"),
        pytest.param(bytes(bad_sw), id="bad_sw 7"),
    ]


@pytest.mark.parametrize("bad", broken_answers())
def test_a_broken_answer_read_with_another_fails_both_callers_at_once(
    fake_p0f: FakeP0f, bad: bytes
) -> None:
    # Both answers come in one write, A's broken: A must not wait forever
    # (its token was lost once), B fails too, both well within the timeout.
    addresses = add_hosts(fake_p0f, 3)
    fake_p0f.inject(Fault(payload=bad + encode_response(host_response(1)), delay=0.05),
                    address=addresses[0])
    fake_p0f.inject(Fault(payload=b""), address=addresses[1])  # sent with A's

    async def main() -> list[object]:
        async with AsyncP0f(fake_p0f.socket_path, timeout=30.0) as client:
            both = asyncio.gather(
                client.query(addresses[0]), client.query(addresses[1]),
                return_exceptions=True,
            )
            # Far below the clients' own 30 s: a hang fails here.
            return list(await asyncio.wait_for(both, 10.0))

    results = run(main())
    assert all(isinstance(r, ProtocolError) for r in results), results


def test_answers_before_a_broken_one_are_delivered(fake_p0f: FakeP0f) -> None:
    addresses = add_hosts(fake_p0f, 3)
    # One write: answer 0, a broken answer 1, answer 2.
    fake_p0f.inject(
        Fault(
            payload=encode_response(host_response(0)) + spoiled(1)
            + encode_response(host_response(2)),
            delay=0.05,
        ),
        address=addresses[0],
    )
    fake_p0f.inject(Fault(payload=b""), count=2)

    async def main() -> tuple[list[object], list[object]]:
        async with AsyncP0f(fake_p0f.socket_path, timeout=30.0) as client:
            singles: list[object] = await asyncio.wait_for(
                asyncio.gather(*(client.query(a) for a in addresses), return_exceptions=True),
                10.0,
            )
        return singles, []

    singles, _ = run(main())
    assert is_answer_for(singles[0], 0)
    assert isinstance(singles[1], ProtocolError)
    assert isinstance(singles[2], ProtocolError)


@pytest.mark.parametrize("bad", broken_answers())
def test_a_batch_with_a_broken_answer_raises_at_once(fake_p0f: FakeP0f, bad: bytes) -> None:
    addresses = add_hosts(fake_p0f, 4)
    fake_p0f.inject(Fault(payload=bad + encode_response(host_response(2))),
                    address=addresses[1])
    fake_p0f.inject(Fault(payload=b""), address=addresses[2])

    async def main() -> None:
        async with AsyncP0f(fake_p0f.socket_path, timeout=30.0) as client:
            with pytest.raises(ProtocolError):
                await asyncio.wait_for(client.query_many(addresses), 10.0)
            # The next call opens a new connection and is answered.
            assert is_answer_for(await client.query(addresses[3]), 3)

    run(main())


def test_after_a_fork_the_child_lets_go_and_works(fake_p0f: FakeP0f) -> None:
    fake_p0f.add_host("192.0.2.1", host_response(1))
    client = AsyncP0f(fake_p0f.socket_path)
    loop = asyncio.new_event_loop()  # kept open: its connection stays
    try:
        assert loop.run_until_complete(client.query("192.0.2.1")).total_conn == 1
        ready_r, ready_w = os.pipe()
        done_r, done_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child reports through its exit code
            code = 1
            try:
                answer = asyncio.run(client.query("192.0.2.1"))
                code = 0 if answer.total_conn == 1 else 2
            except BaseException:  # noqa: BLE001 - any failure is the exit code
                code = 3
            finally:
                os.write(ready_w, b"x")
                os.read(done_r, 1)  # alive until the parent has looked
                os._exit(code)
        os.read(ready_r, 1)
        try:
            loop.run_until_complete(client.aclose())
            # Only the parent held its connection: closed now, though the
            # child lives (and the child's own connection ended with its loop).
            wait_until(lambda: fake_p0f.connection_count == 0)
        finally:
            os.write(done_w, b"x")
            _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        for fd in (ready_r, ready_w, done_r, done_w):
            os.close(fd)
    finally:
        loop.close()
