"""The records an answer becomes: :class:`RawResponse` and :class:`P0fResponse`.

Both are frozen ``attrs`` classes.  They keep their values in an instance
``__dict__`` rather than in slots so that :meth:`RawResponse._from_fields`
can fill one with a single dictionary (decoding sits on every web request);
assignment still raises :class:`attrs.exceptions.FrozenInstanceError`.

Both also answer ``record["field"]`` like the dictionaries the 2014 client
returned, raising :class:`KeyError` for a name they do not have.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable
from typing import Final, Literal, overload

import attrs

from ._enums import BadSoftware, MatchQuality, Status

RESPONSE_MAGIC: Final = 0x50304602
"""The magic number that starts every well-formed answer."""

_UTC = _dt.timezone.utc
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_UTC)

RawIntField = Literal[
    "magic",
    "status",
    "first_seen",
    "last_seen",
    "total_conn",
    "uptime_min",
    "up_mod_days",
    "last_nat",
    "last_chg",
    "distance",
    "bad_sw",
    "os_match_q",
]
StrField = Literal[
    "os_name", "os_flavor", "http_name", "http_flavor", "link_type", "language"
]


@attrs.frozen(slots=False)
class RawResponse:
    """One answer exactly as the daemon sent it: integers and strings.

    Strings are cut at their first NUL byte; bytes above 0x7F (p0f itself
    only writes ASCII) are decoded as Latin-1, so decoding never fails and
    encoding gives back the same bytes.
    """

    magic: int
    status: int
    first_seen: int
    last_seen: int
    total_conn: int
    uptime_min: int
    up_mod_days: int
    last_nat: int
    last_chg: int
    distance: int
    bad_sw: int
    os_match_q: int
    os_name: str
    os_flavor: str
    http_name: str
    http_flavor: str
    link_type: str
    language: str

    @classmethod
    def _from_fields(cls, values: Iterable[int | str]) -> RawResponse:
        # The decoder's fast path: the values in field order, already checked.
        self = object.__new__(cls)
        object.__setattr__(self, "__dict__", dict(zip(_RAW_NAMES, values)))
        return self

    @classmethod
    def from_bytes(cls, data: bytes) -> RawResponse:
        """Decode one 232-byte answer; raises :class:`~p0f.ProtocolError`."""
        from ._codec import decode_response

        return decode_response(data)

    def to_bytes(self) -> bytes:
        """Encode this answer as the daemon would send it."""
        from ._codec import encode_response

        return encode_response(self)

    @overload
    def __getitem__(self, key: RawIntField) -> int: ...
    @overload
    def __getitem__(self, key: StrField) -> str: ...
    @overload
    def __getitem__(self, key: str) -> int | str: ...
    def __getitem__(self, key: str) -> int | str:
        """``raw["os_name"]``, as with the 2014 client's dictionaries."""
        try:
            value: int | str = self.__dict__[key]
        except KeyError:
            raise KeyError(key) from None
        return value


_RAW_NAMES: Final = tuple(a.name for a in attrs.fields(RawResponse))


# p0f 3.09b sends -1 for "unknown distance", or 255 when the host's entry
# holds -1 in a byte (a host seen only through its HTTP traffic, say).
_NO_DISTANCE: Final = (-1, 255)


def _moment(value: int) -> _dt.datetime | None:
    return None if value == 0 else _EPOCH + _dt.timedelta(seconds=value)


@attrs.frozen(slots=False)
class P0fResponse:
    """One answer, parsed: what the daemon knows about a host.

    Build one from the wire values with :meth:`from_raw`; ``.raw`` gives
    them back.  Unknown values are ``None`` rather than 0, -1 or "".
    """

    #: When p0f first saw the host (UTC).
    first_seen: _dt.datetime
    #: When p0f last saw traffic from the host (UTC).
    last_seen: _dt.datetime
    #: How many connections p0f saw.
    total_conn: int
    #: The host's uptime, or ``None`` when p0f could not compute it.
    uptime: _dt.timedelta | None
    #: After how long the host's uptime counter wraps around, or ``None``.
    up_mod_days: _dt.timedelta | None
    #: When p0f last saw signs of NAT, load balancing or proxying, or ``None``.
    last_nat: _dt.datetime | None
    #: When p0f last saw the host's OS change (multiboot, address reuse), or ``None``.
    last_chg: _dt.datetime | None
    #: Network hops to the host, derived from TTL, or ``None`` when unknown
    #: (p0f sends -1, or 255, for that).
    distance: int | None
    #: Whether the User-Agent or Server header lies about the software.
    bad_sw: BadSoftware
    #: How well the OS signature matched.
    os_match_q: MatchQuality
    #: The operating system of the last positive match, e.g. ``"Linux"``.
    os_name: str | None
    #: The OS version, e.g. ``"2.2.x-3.x"``.
    os_flavor: str | None
    #: The HTTP software last identified, e.g. ``"Firefox"``.
    http_name: str | None
    #: Its version, e.g. ``"10.x or newer"``.
    http_flavor: str | None
    #: The network link, e.g. ``"Ethernet or modem"`` or ``"DSL"``.
    link_type: str | None
    #: The system's language, e.g. ``"German"``.
    language: str | None
    #: The answer exactly as it came off the wire.  Not compared: two answers
    #: that parse alike are equal (p0f spells "unknown distance" two ways).
    raw: RawResponse = attrs.field(
        repr=False,
        eq=False,
        default=attrs.Factory(lambda self: self.to_raw(), takes_self=True),
    )

    @classmethod
    def from_raw(cls, raw: RawResponse) -> P0fResponse:
        """Parse wire values by the rules in the README (no validation: the
        decoder has already checked ``bad_sw`` and ``os_match_q``)."""
        uptime_min = raw.uptime_min
        up_mod_days = raw.up_mod_days
        distance = raw.distance
        self = object.__new__(cls)
        object.__setattr__(
            self,
            "__dict__",
            {
                "first_seen": _EPOCH + _dt.timedelta(seconds=raw.first_seen),
                "last_seen": _EPOCH + _dt.timedelta(seconds=raw.last_seen),
                "total_conn": raw.total_conn,
                "uptime": _dt.timedelta(minutes=uptime_min) if uptime_min else None,
                "up_mod_days": _dt.timedelta(days=up_mod_days) if up_mod_days else None,
                "last_nat": _moment(raw.last_nat),
                "last_chg": _moment(raw.last_chg),
                "distance": None if distance in _NO_DISTANCE else distance,
                "bad_sw": BadSoftware(raw.bad_sw),
                "os_match_q": MatchQuality(raw.os_match_q),
                "os_name": raw.os_name or None,
                "os_flavor": raw.os_flavor or None,
                "http_name": raw.http_name or None,
                "http_flavor": raw.http_flavor or None,
                "link_type": raw.link_type or None,
                "language": raw.language or None,
                "raw": raw,
            },
        )
        return self

    @property
    def uptime_min(self) -> int | None:
        """Uptime in whole minutes, or ``None`` when unknown."""
        return self.raw.uptime_min or None

    @property
    def uptime_sec(self) -> int | None:
        """Uptime in seconds (minutes times 60), or ``None`` when unknown."""
        minutes = self.raw.uptime_min
        return minutes * 60 if minutes else None

    @overload
    def __getitem__(
        self, key: Literal["first_seen", "last_seen"]
    ) -> _dt.datetime: ...
    @overload
    def __getitem__(
        self, key: Literal["last_nat", "last_chg"]
    ) -> _dt.datetime | None: ...
    @overload
    def __getitem__(
        self, key: Literal["uptime", "up_mod_days"]
    ) -> _dt.timedelta | None: ...
    @overload
    def __getitem__(self, key: Literal["total_conn"]) -> int: ...
    @overload
    def __getitem__(
        self, key: Literal["uptime_min", "uptime_sec", "distance"]
    ) -> int | None: ...
    @overload
    def __getitem__(self, key: Literal["bad_sw"]) -> BadSoftware: ...
    @overload
    def __getitem__(self, key: Literal["os_match_q"]) -> MatchQuality: ...
    @overload
    def __getitem__(self, key: StrField) -> str | None: ...
    @overload
    def __getitem__(self, key: Literal["raw"]) -> RawResponse: ...
    @overload
    def __getitem__(self, key: str) -> object: ...
    def __getitem__(self, key: str) -> object:
        """``response["os_name"]``, as with the 2014 client's dictionaries."""
        if key in _PARSED_KEYS:
            return getattr(self, key)
        raise KeyError(key)

    def to_raw(self) -> RawResponse:
        """The wire values these parsed values stand for.

        For a record built by :meth:`from_raw` this equals ``.raw``; a record
        built from parsed values (say, from JSON) gets its ``raw`` from here.
        """
        return RawResponse(
            magic=RESPONSE_MAGIC,
            status=int(Status.OK),
            first_seen=_seconds(self.first_seen),
            last_seen=_seconds(self.last_seen),
            total_conn=self.total_conn,
            uptime_min=int(self.uptime.total_seconds()) // 60 if self.uptime else 0,
            up_mod_days=self.up_mod_days.days if self.up_mod_days else 0,
            last_nat=_seconds(self.last_nat),
            last_chg=_seconds(self.last_chg),
            distance=-1 if self.distance is None else self.distance,
            bad_sw=int(self.bad_sw),
            os_match_q=int(self.os_match_q),
            os_name=self.os_name or "",
            os_flavor=self.os_flavor or "",
            http_name=self.http_name or "",
            http_flavor=self.http_flavor or "",
            link_type=self.link_type or "",
            language=self.language or "",
        )


_PARSED_KEYS: Final = frozenset(
    [a.name for a in attrs.fields(P0fResponse)] + ["uptime_min", "uptime_sec"]
)


def _seconds(moment: _dt.datetime | None) -> int:
    if moment is None:
        return 0
    return int((moment - _EPOCH).total_seconds())
