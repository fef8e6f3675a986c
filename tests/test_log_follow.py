"""Reading and following p0f's log file: whole lines only, across both kinds
of rotation, from the end or the start, and before the file exists.

Most tests drive :class:`LogFollower.poll` step by step (no threads, no
timing); the last ones run :func:`follow_log` in a thread and
:func:`follow_log_async` in an event loop, waiting on queues with generous
bounds.
"""

from __future__ import annotations

import asyncio
import os
import queue
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from p0f import LogFormatError
from p0f.log import (
    MAX_LINE,
    AnyEvent,
    LogFollower,
    Module,
    MtuEvent,
    follow_log,
    follow_log_async,
    read_log,
)

WAIT = 30.0  # seconds: a bound for a shared, loaded machine, never a timing


def mtu_line(n: int) -> str:
    return (
        f"[2026/11/27 07:06:17] mod=mtu|cli=10.0.{n // 256}.{n % 256}/{1000 + n}|"
        f"srv=127.0.0.1/80|subj=cli|link=Ethernet or modem|raw_mtu={1000 + n}\n"
    )


def write(path: Path, *texts: str) -> None:
    with open(path, "a", encoding="utf-8") as log:
        for text in texts:
            log.write(text)


def texts(follower: LogFollower) -> list[str]:
    lines = follower.poll()
    assert all(line.problem is None for line in lines), lines
    return [line.text + "\n" for line in lines]


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return tmp_path / "p0f.log"


@pytest.fixture
def follower(log: Path) -> Iterator[LogFollower]:
    write(log, mtu_line(0), mtu_line(1))
    with LogFollower(log) as follower:
        yield follower


def test_starts_at_the_end_and_reads_appended_lines(log: Path, follower: LogFollower) -> None:
    assert follower.poll() == []
    write(log, mtu_line(2), mtu_line(3))
    lines = follower.poll()
    assert [line.text + "\n" for line in lines] == [mtu_line(2), mtu_line(3)]
    assert [line.lineno for line in lines] == [3, 4]  # the file's own numbers
    assert follower.poll() == []


def test_from_start_reads_what_is_there(log: Path) -> None:
    write(log, mtu_line(0), mtu_line(1))
    with LogFollower(log, from_start=True) as follower:
        assert texts(follower) == [mtu_line(0), mtu_line(1)]


def test_a_line_written_in_two_pieces_comes_out_whole(log: Path, follower: LogFollower) -> None:
    line = mtu_line(7)
    write(log, line[:31])
    assert follower.poll() == []
    write(log, line[31:-1])
    assert follower.poll() == []
    write(log, "\n" + mtu_line(8)[:10])
    assert texts(follower) == [line]
    write(log, mtu_line(8)[10:])
    assert texts(follower) == [mtu_line(8)]


def test_starting_at_the_end_skips_a_line_being_written(log: Path) -> None:
    write(log, mtu_line(0), mtu_line(1)[:20])
    with LogFollower(log) as follower:
        assert follower.poll() == []
        write(log, mtu_line(1)[20:], mtu_line(2))
        lines = follower.poll()
        assert [(line.lineno, line.text + "\n") for line in lines] == [(3, mtu_line(2))]


def test_rename_and_reopen(log: Path, follower: LogFollower) -> None:
    write(log, mtu_line(2))
    assert texts(follower) == [mtu_line(2)]
    rotated = log.with_name("p0f.log.1")
    with open(log, "a", encoding="utf-8") as writer:  # the daemon's open file
        os.rename(log, rotated)
        writer.write(mtu_line(3))  # still written to the old file
        writer.flush()
        assert texts(follower) == [mtu_line(3)]  # no file at the path: keep reading
        assert texts(follower) == []
        writer.write(mtu_line(4))
        writer.flush()
    write(log, mtu_line(5), mtu_line(6))  # the new file
    lines = follower.poll()
    assert [line.text + "\n" for line in lines] == [mtu_line(4), mtu_line(5), mtu_line(6)]
    assert [line.lineno for line in lines] == [5, 1, 2]
    write(log, mtu_line(7))
    assert texts(follower) == [mtu_line(7)]


def test_copytruncate(log: Path, follower: LogFollower) -> None:
    write(log, mtu_line(2), mtu_line(3))
    assert texts(follower) == [mtu_line(2), mtu_line(3)]
    shutil.copyfile(log, log.with_name("p0f.log.1"))
    with open(log, "r+", encoding="utf-8") as cut:
        cut.truncate(0)
    write(log, mtu_line(4))  # shorter than what was read: plainly truncated
    lines = follower.poll()
    assert [(line.lineno, line.text + "\n") for line in lines] == [(1, mtu_line(4))]


def test_copytruncate_then_more_than_before(log: Path, follower: LogFollower) -> None:
    # Truncated and written past the old read position between two looks:
    # the size alone cannot tell, the bytes before the position can.
    with open(log, "r+", encoding="utf-8") as cut:
        cut.truncate(0)
    fresh = [mtu_line(n) for n in range(100, 105)]
    write(log, *fresh)
    assert texts(follower) == fresh


def test_a_line_cut_by_truncation_is_reported_not_parsed(log: Path, follower: LogFollower) -> None:
    write(log, "[2026/11/27 07:06:17] mod=mtu|cli=10.0.0.1/1000|srv=127.0.0.1/80|subj=cli|link=x|raw_mtu=15")
    assert follower.poll() == []
    with open(log, "r+", encoding="utf-8") as cut:
        cut.truncate(0)
    write(log, mtu_line(9))
    lines = follower.poll()
    assert lines[0].problem is not None and "truncated" in lines[0].problem
    assert lines[0].text.endswith("raw_mtu=15")
    assert [line.text + "\n" for line in lines[1:]] == [mtu_line(9)]


def test_a_file_that_does_not_exist_yet(log: Path) -> None:
    with LogFollower(log) as follower:  # not from_start: a new file is all new
        assert follower.poll() == []
        assert follower.poll() == []
        write(log, mtu_line(0), mtu_line(1))
        assert texts(follower) == [mtu_line(0), mtu_line(1)]


def test_an_overlong_line_is_reported_and_skipped(log: Path, follower: LogFollower) -> None:
    write(log, "x" * (MAX_LINE + 10))
    lines = follower.poll()
    while not lines:
        lines = follower.poll()
    assert lines[0].problem is not None and "longer than" in lines[0].problem
    write(log, "yyy\n", mtu_line(5))
    assert texts(follower) == [mtu_line(5)]


# -- reading a whole file ------------------------------------------------------------


def test_read_log_reports_a_last_line_without_its_newline(log: Path) -> None:
    write(log, mtu_line(0), mtu_line(1)[:-4])
    errors: list[LogFormatError] = []
    events = list(read_log(log, on_error=errors.append))
    assert [event.module for event in events] == [Module.MTU]
    assert len(errors) == 1 and errors[0].lineno == 2
    assert "incomplete line" in str(errors[0])
    with pytest.raises(LogFormatError, match="^line 2: incomplete line"):
        list(read_log(log))


def test_read_log_goes_on_after_bad_lines(log: Path) -> None:
    write(log, mtu_line(0), "garbage\n", mtu_line(1).replace("raw_mtu=", "raw_mtu=x"), mtu_line(2))
    errors: list[LogFormatError] = []
    events = list(read_log(log, on_error=errors.append))
    assert [e.mtu for e in events if isinstance(e, MtuEvent)] == [1000, 1002]
    assert [error.lineno for error in errors] == [2, 3]


# -- follow_log and follow_log_async ---------------------------------------------------


def test_follow_log_in_a_thread(log: Path) -> None:
    stop = threading.Event()
    got: queue.Queue[AnyEvent | LogFormatError] = queue.Queue()

    def run() -> None:
        # from_start: the file may appear before the thread starts following.
        for event in follow_log(
            log, from_start=True, on_error=got.put, poll_interval=0.01, stop=stop
        ):
            got.put(event)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        write(log, mtu_line(1), "\n", "bad\n", mtu_line(2)[:30])  # the file appears
        first = got.get(timeout=WAIT)
        assert isinstance(first, MtuEvent) and first.mtu == 1001
        bad = got.get(timeout=WAIT)
        assert isinstance(bad, LogFormatError) and bad.lineno == 3  # the blank line skipped
        write(log, mtu_line(2)[30:])
        second = got.get(timeout=WAIT)
        assert isinstance(second, MtuEvent) and second.mtu == 1002
    finally:
        stop.set()
        thread.join(WAIT)
    assert not thread.is_alive()
    assert got.empty()


def test_follow_log_async(log: Path) -> None:
    write(log, mtu_line(0))

    async def main() -> list[int]:
        stop = asyncio.Event()
        seen: list[int] = []

        async def reader() -> None:
            async for event in follow_log_async(log, from_start=True, poll_interval=0.01, stop=stop):
                assert isinstance(event, MtuEvent)
                seen.append(event.mtu)
                if len(seen) == 3:
                    stop.set()

        task = asyncio.create_task(reader())
        while not seen:
            await asyncio.sleep(0.01)
        write(log, mtu_line(1), mtu_line(2))
        await asyncio.wait_for(task, WAIT)
        return seen

    assert asyncio.run(main()) == [1000, 1001, 1002]


def test_follow_log_async_is_cancelled_cleanly(log: Path) -> None:
    async def main() -> None:
        async def reader() -> None:
            async for _ in follow_log_async(log, poll_interval=0.01):
                pass

        task = asyncio.create_task(reader())
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())


def test_lines_split_across_read_chunks_come_out_whole(log: Path) -> None:
    # More than one read's worth (1 MiB): chunk boundaries fall inside lines.
    lines = [mtu_line(n) for n in range(20_000)]
    write(log, *lines)
    assert log.stat().st_size > 2 << 20
    got: list[str] = []
    with LogFollower(log, from_start=True) as follower:
        while batch := texts(follower):
            got.extend(batch)
        assert follower.lineno == len(lines)
    assert got == lines
