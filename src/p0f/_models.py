"""The records an answer becomes: :class:`RawResponse` and :class:`P0fResponse`.

Both are frozen ``attrs`` classes.  A lookup sits on every web request, so
the decoder builds them lazily: a decoded :class:`RawResponse` holds the
checked, unpacked numbers and the 192 bytes of strings, and fills in its
fields the first time one is read; :meth:`P0fResponse.from_raw` holds the
raw record and parses all fields the first time one is read.  Nothing of
this shows: the fields, ``==``, ``repr``, ``hash``, :func:`attrs.asdict`
and cattrs see the same values as with eagerly built records, and
assignment raises :class:`attrs.exceptions.FrozenInstanceError`.

Both also answer ``record["field"]`` like the dictionaries the 2014 client
returned, raising :class:`KeyError` for a name they do not have.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Final, Literal, TypeVar, cast, overload

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
    def _from_wire(cls, values: tuple[int | bytes, ...]) -> RawResponse:
        # The decoder's fast path: twelve checked numbers and the string block.
        self = _new(cls)
        _set(self, "__dict__", {_WIRE: values})
        return self

    @property
    def _status(self) -> int:
        # The status without filling in the fields (the clients' hot path).
        values = self.__dict__.get(_WIRE)
        return self.status if values is None else cast(int, values[1])

    if not TYPE_CHECKING:  # hidden from mypy, which would then allow any name

        def __getattr__(self, name: str) -> int | str:
            # Only called for a name not yet in __dict__: fill in every field.
            fields = self.__dict__
            values = fields.get(_WIRE)
            if values is not None:
                fields.update(zip(_RAW_NAMES, (*values[:12], *_texts(values[12]))))
                fields.pop(_WIRE, None)
            try:
                value: int | str = fields[name]
            except KeyError:
                raise AttributeError(
                    f"{type(self).__name__!r} object has no attribute {name!r}"
                ) from None
            return value

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
        if key not in _RAW_NAME_SET:
            raise KeyError(key)
        value: int | str = getattr(self, key)
        return value


_new = object.__new__
_set = object.__setattr__
_WIRE: Final = "_wire"
_RAW_NAMES: Final = tuple(a.name for a in attrs.fields(RawResponse))
_RAW_NAME_SET: Final = frozenset(_RAW_NAMES)

_text_cache: dict[bytes, tuple[str, ...]] = {}
_CACHE_SIZE: Final = 4096


def _texts(block: bytes) -> tuple[str, ...]:
    """The six strings of a 192-byte block: each cut at its first NUL,
    Latin-1 decoded.  p0f's strings come from a small vocabulary, so the
    split blocks are remembered (up to a bound)."""
    texts = _text_cache.get(block)
    if texts is None:
        texts = tuple(
            field.partition(b"\0")[0].decode("latin-1")
            for field in (block[i : i + 32] for i in range(0, 192, 32))
        )
        if len(_text_cache) >= _CACHE_SIZE:
            _text_cache.clear()
        _text_cache[block] = texts
    return texts


# p0f 3.09b sends -1 for "unknown distance", or 255 when the host's entry
# holds -1 in a byte (a host seen only through its HTTP traffic, say).
_NO_DISTANCE: Final = (-1, 255)


_moments: dict[int, _dt.datetime] = {}


def _when(seconds: int) -> _dt.datetime:
    # The same few timestamps recur (a host's first_seen, the current
    # second), and building a datetime costs more than finding one.
    moment = _moments.get(seconds)
    if moment is None:
        if len(_moments) >= _CACHE_SIZE:
            _moments.clear()
        moment = _moments[seconds] = _EPOCH + _dt.timedelta(seconds=seconds)
    return moment


def _when_or_none(seconds: int) -> _dt.datetime | None:
    return _when(seconds) if seconds else None


_E = TypeVar("_E", BadSoftware, MatchQuality)


def _member(enum_type: type[_E], members: dict[int, _E], value: int) -> _E:
    try:
        return members[value]
    except KeyError:
        raise ValueError(f"{value!r} is not a valid {enum_type.__name__}") from None


_BAD_SW: Final = {int(m): m for m in BadSoftware}
_MATCH_Q: Final = {int(m): m for m in MatchQuality}

# How each parsed field comes from the raw record: the parsing rules.
_PARSERS: Final[dict[str, Callable[[RawResponse], object]]] = {
    "first_seen": lambda raw: _when(raw.first_seen),
    "last_seen": lambda raw: _when(raw.last_seen),
    "total_conn": lambda raw: raw.total_conn,
    "uptime": lambda raw: _dt.timedelta(minutes=raw.uptime_min) if raw.uptime_min else None,
    "up_mod_days": lambda raw: _dt.timedelta(days=raw.up_mod_days) if raw.up_mod_days else None,
    "last_nat": lambda raw: _when_or_none(raw.last_nat),
    "last_chg": lambda raw: _when_or_none(raw.last_chg),
    "distance": lambda raw: None if raw.distance in _NO_DISTANCE else raw.distance,
    "bad_sw": lambda raw: _member(BadSoftware, _BAD_SW, raw.bad_sw),
    "os_match_q": lambda raw: _member(MatchQuality, _MATCH_Q, raw.os_match_q),
    "os_name": lambda raw: raw.os_name or None,
    "os_flavor": lambda raw: raw.os_flavor or None,
    "http_name": lambda raw: raw.http_name or None,
    "http_flavor": lambda raw: raw.http_flavor or None,
    "link_type": lambda raw: raw.link_type or None,
    "language": lambda raw: raw.language or None,
}


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
        init=False,  # always derived: attrs.evolve() then gives a matching raw
        repr=False,
        eq=False,
        default=attrs.Factory(lambda self: self.to_raw(), takes_self=True),
    )

    @classmethod
    def from_raw(cls, raw: RawResponse) -> P0fResponse:
        """The parsed view of ``raw``, by the rules in the README.

        No validation: the decoder has already checked ``bad_sw`` and
        ``os_match_q``.  The fields are computed when one is first read.
        """
        self = _new(cls)
        _set(self, "__dict__", {"raw": raw})
        return self

    if not TYPE_CHECKING:  # hidden from mypy, which would then allow any name

        def __getattr__(self, name: str) -> object:
            # Only called for a name not yet in __dict__: parse that field.
            fields = self.__dict__
            parse = _PARSERS.get(name)
            if parse is None or "raw" not in fields:
                raise AttributeError(
                    f"{type(self).__name__!r} object has no attribute {name!r}"
                )
            value = fields[name] = parse(fields["raw"])
            return value

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


_PARSED_KEYS: Final = frozenset(_PARSERS) | {"raw", "uptime_min", "uptime_sec"}


def _seconds(moment: _dt.datetime | None) -> int:
    if moment is None:
        return 0
    return int((moment - _EPOCH).total_seconds())
