"""The p0f 3 API's enumerated wire values."""

from __future__ import annotations

import enum


class Status(enum.IntEnum):
    """The ``status`` word of an answer."""

    #: The daemon could not make sense of the query.
    BAD_QUERY = 0x00
    #: The answer carries data about the host.
    OK = 0x10
    #: The daemon has no data about the host.
    NO_MATCH = 0x20


class BadSoftware(enum.IntEnum):
    """How far the host's User-Agent or Server header can be trusted (``bad_sw``).

    ``NONE`` is false in a boolean context, so ``if response.bad_sw:``
    reads as "p0f doubts the software string".
    """

    #: Nothing suspicious, or no User-Agent / Server header seen at all.
    NONE = 0
    #: The header names another OS than the packets show (often a proxy).
    OS_MISMATCH = 1
    #: The header is an outright lie about the software.
    FAKE = 2


class MatchQuality(enum.IntEnum):
    """How well the OS signature matched (``os_match_q``, a two-bit set).

    ``NORMAL`` is false in a boolean context, so ``if response.os_match_q:``
    reads as "the OS guess is less than exact".
    """

    #: An exact match of a specific signature.
    NORMAL = 0
    #: A fuzzy match: TTL or the don't-fragment bit differ from the signature.
    FUZZY = 1
    #: A match of a generic signature, which names only the OS family.
    GENERIC = 2
    #: A fuzzy match of a generic signature.
    FUZZY_GENERIC = 3

    @property
    def is_fuzzy(self) -> bool:
        """True when TTL or DF did not match the signature exactly."""
        return bool(self & 1)

    @property
    def is_generic(self) -> bool:
        """True when the matching signature was a generic one."""
        return bool(self & 2)
