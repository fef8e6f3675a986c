"""One process of a fleet: a long-lived :class:`p0f.P0f` asking about one host.

Kept apart from the test modules so that the fleet's fork server imports
only this and :mod:`p0f`, not scapy.
"""

from __future__ import annotations

import time
from typing import Any

from p0f import P0f, P0fError


def ask_until(
    socket_path: str, host: str, expected: bytes, start: Any, seconds: float,
    pause: float, results: Any,
) -> None:
    """Connect, ask once, wait at ``start`` (a barrier) with the connection
    open, then ask about ``host`` for ``seconds``; put a summary on
    ``results``: answers, wrong answers (not ``expected``) and errors."""
    answers = wrong = 0
    errors: list[str] = []
    first_answer: float | None = None
    client = P0f(socket_path, timeout=5.0)
    try:
        try:
            raw = client.get_info(host, return_raw_data=True)
        except P0fError as exc:
            errors.append(f"before the start: {exc!r}")
        else:
            answers += 1
            wrong += raw.to_bytes() != expected
        start.wait(60)
        began = time.monotonic()
        end = began + seconds
        while time.monotonic() < end:
            try:
                raw = client.get_info(host, return_raw_data=True)
            except P0fError as exc:
                if len(errors) < 5:
                    errors.append(repr(exc))
                continue
            if first_answer is None:
                first_answer = time.monotonic() - began
            answers += 1
            if raw.to_bytes() != expected:
                wrong += 1
            if pause:
                time.sleep(pause)
    finally:
        client.close()
        results.put({"host": host, "answers": answers, "wrong": wrong, "errors": errors,
                     "first_answer": first_answer})
