"""The connection state machine fed bytes, with no socket (as h11's tests)."""

from __future__ import annotations

from p0f import encode_response
from p0f._connection import MANY_WINDOW, Pipeline, owed_bytes
from p0f.testing import sample_response

from .helpers import spoiled


def answer(n: int) -> bytes:
    return encode_response(sample_response(total_conn=n))


def test_answers_go_to_their_tokens_in_order() -> None:
    pipe: Pipeline[str] = Pipeline()
    pipe.send("192.0.2.1", "first")
    pipe.send("192.0.2.2", "second")
    a, b = answer(1), answer(2)
    assert pipe.missing() == 464
    assert pipe.receive(a[:100]) == []
    assert pipe.partial == 100
    done = pipe.receive(a[100:] + b[:1])
    assert [(t, r.total_conn) for t, r in done] == [("first", 1)]
    done = pipe.receive(b[1:])
    assert [(t, r.total_conn) for t, r in done] == [("second", 2)]
    assert pipe.owed == 0 and pipe.broken is None


def test_bytes_written_and_owed_are_counted() -> None:
    pipe: Pipeline[int] = Pipeline()
    queries = [pipe.send(f"192.0.2.{n}", n) for n in range(3)]
    assert pipe.owed_bytes == 0  # nothing written yet: nothing owed
    pipe.wrote(21 + 10)  # one whole query, a third cut short
    assert pipe.owed_bytes == 232
    pipe.wrote(len(b"".join(queries)) - 31)
    assert pipe.owed_bytes == 3 * 232
    pipe.receive(answer(0) + answer(1)[:5])
    assert pipe.owed_bytes == 3 * 232 - 237
    assert owed_bytes(42, 0) == 464 and owed_bytes(41, 232) == 0


def test_a_fault_keeps_the_answers_before_it_and_fails_those_after() -> None:
    # One read holds a good answer, a broken one, and another good one.
    pipe: Pipeline[str] = Pipeline()
    for token in "abcd":
        pipe.send("192.0.2.1", token)
    pipe.wrote(84)
    done = pipe.receive(answer(1) + spoiled(2) + answer(3))
    assert [(t, r.total_conn) for t, r in done] == [("a", 1)]
    assert pipe.broken is not None and "magic" in str(pipe.broken)
    # The broken answer's token is still there, for its caller to fail.
    assert pipe.tokens() == ["b", "c", "d"]
    assert pipe.take_tokens() == ["b", "c", "d"] and pipe.owed == 0
    # Broken: later bytes are counted (the daemon still owes them), never decoded.
    assert pipe.owed_bytes == 232
    assert pipe.receive(answer(4)) == []
    assert pipe.owed_bytes == 0


def test_a_single_broken_answer_keeps_its_token() -> None:
    pipe: Pipeline[str] = Pipeline()
    pipe.send("192.0.2.1", "only")
    assert pipe.receive(b"\xff" * 232) == []
    assert pipe.broken is not None
    assert pipe.tokens() == ["only"]


def test_bytes_nobody_asked_for_break_the_stream() -> None:
    pipe: Pipeline[None] = Pipeline()
    pipe.send("192.0.2.1", None)
    assert pipe.receive(answer(1) + b"\0") == []
    assert pipe.broken is not None and "more than" in str(pipe.broken)
    assert pipe.tokens() == [None]


def may_retry(pipe: Pipeline[int]) -> bool:
    return pipe.may_retry  # (read anew: mypy would keep the narrowed value)


def test_retry_only_a_used_connection_that_sent_nothing_since_idle() -> None:
    pipe: Pipeline[int] = Pipeline()
    pipe.send("192.0.2.1", 1)
    assert not may_retry(pipe)  # a new connection that dies is a real failure
    pipe.receive(answer(1))
    pipe.send("192.0.2.1", 2)
    assert may_retry(pipe)  # idle, then used: nothing came since
    pipe.receive(answer(2)[:10])
    assert not may_retry(pipe)  # part of its answer came: not resent


def test_the_batching_window_fits_a_socket_buffer_twice() -> None:
    assert 2 * MANY_WINDOW * 232 <= 128 * 1024


def is_idle(pipe: Pipeline[int]) -> bool:
    return pipe.idle  # (read anew: mypy would keep the narrowed value)


def test_idle_only_when_nothing_is_owed_not_even_to_a_broken_stream() -> None:
    pipe: Pipeline[int] = Pipeline()
    assert is_idle(pipe)
    pipe.send("192.0.2.1", 1)
    pipe.send("192.0.2.2", 2)
    assert not is_idle(pipe)  # queued, even before a byte is written
    pipe.wrote(42)
    pipe.receive(b"\xff" * 232)  # broken: the callers are failed...
    pipe.take_tokens()
    assert not is_idle(pipe)  # ...but the daemon still owes an answer
    pipe.receive(answer(2))
    assert is_idle(pipe)
