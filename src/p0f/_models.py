"""The records an answer becomes: :class:`RawResponse` and :class:`P0fResponse`.

Both are frozen, slotted ``attrs`` classes, built whole when an answer is
decoded: reading a field is reading a slot.  The parsed record follows the
rules in :mod:`p0f._rules`, one table for both directions.

Both also answer ``record["field"]`` like the dictionaries the 2014 client
returned, raising :class:`KeyError` for a name they do not have.
"""

from __future__ import annotations

import datetime as _dt
import linecache
from collections.abc import Callable
from typing import Any, Final, Literal, overload

import attrs

from ._enums import BadSoftware, MatchQuality, Status
from ._rules import NAMESPACE, RULES
from ._wire import (
    RESPONSE_FIELDS,
    RESPONSE_MAGIC,
    RawIntField,
    StrField,
    pack_response,
    unpack_response,
)

__all__ = ["P0fResponse", "RawResponse"]



@attrs.frozen(weakref_slot=False)
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
    def from_bytes(cls, data: bytes) -> RawResponse:
        """Decode one 232-byte answer; raises :class:`~p0f.ProtocolError`."""
        if cls is RawResponse:
            return decode_raw(data)
        return cls(*unpack_response(data))  # a subclass: its own __init__

    def to_bytes(self) -> bytes:
        """Encode this answer as the daemon would send it.

        Raises :class:`ValueError` for a value the format cannot carry.
        """
        return pack_response([getattr(self, name) for name in RESPONSE_FIELDS])

    @overload
    def __getitem__(self, key: RawIntField) -> int: ...
    @overload
    def __getitem__(self, key: StrField) -> str: ...
    @overload
    def __getitem__(self, key: str) -> int | str: ...
    def __getitem__(self, key: str) -> int | str:
        """``raw["os_name"]``, as with the 2014 client's dictionaries."""
        if key not in _RAW_NAMES:
            raise KeyError(key)
        value: int | str = getattr(self, key)
        return value


_RAW_NAMES: Final = frozenset(RESPONSE_FIELDS)


def status_only(status: int, magic: int = RESPONSE_MAGIC) -> RawResponse:
    """An answer with only its magic and status set, every other value zero
    or empty: what p0f sends for "no match" and "bad query"."""
    return RawResponse(int(magic), int(status), *(0,) * 10, *("",) * 6)


@attrs.frozen(weakref_slot=False)
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

        Raises :class:`ValueError` for a ``bad_sw`` or ``os_match_q`` that
        is no member of its enum (the decoder has checked both already).
        """
        parsed = parse_raw(raw)
        if cls is P0fResponse:
            return parsed
        # A subclass may add fields: its own constructor fills them (with
        # their defaults), and ``raw`` stays the record given.
        record = cls(**{rule.name: getattr(parsed, rule.name) for rule in RULES})
        object.__setattr__(record, "raw", raw)
        return record

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

        For a record built by :meth:`from_raw` this equals ``.raw`` (but for
        a ``distance`` of 255, which becomes -1); a record built from parsed
        values (say, from JSON) gets its ``raw`` from here.
        """
        wire = {rule.wire: rule.unparse(getattr(self, rule.name)) for rule in RULES}
        return RawResponse(magic=RESPONSE_MAGIC, status=int(Status.OK), **wire)


def _generate(name: str, body: list[str], scope: dict[str, Any]) -> Any:
    """Compile a function ``name`` from the lines of its body, as attrs
    writes ``__init__``: once, at import, with every step written out."""
    source = "\n".join(body) + "\n"
    filename = f"<p0f generated {name}>"
    # Tracebacks show the generated lines, as they do for attrs' methods.
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), scope)
    return scope[name.rpartition(".")[2]]


def _builder(cls: type) -> type:
    """A plain class with ``cls``'s slots, for building a ``cls``.

    A frozen class refuses ``setattr``, and setting its slots through their
    descriptors (``member.__set__(self, value)``, a C call each) costs
    about 40 ns a field.  The generated decoders instead fill an instance
    of this class, whose ``self.field = value`` is an ordinary slot store
    (about 7 ns), then make it a ``cls`` with one ``__class__`` assignment,
    which CPython allows between classes of the same base with the same
    slots.  Per record of 18 fields that measured 190 ns against 670 ns.

    Not a subclass of ``cls``: it would show in ``cls.__subclasses__()``,
    where cattrs' ``include_subclasses`` (and anything else that walks
    them) would find it.  The records have no ``__weakref__`` slot, which
    Python 3.11 miscounts when it compares two classes' slots (it refuses
    the assignment).  The decoders compute every value before they make
    the instance, so a half-built one is never left behind by an error."""
    name = f"_building_{cls.__name__}"
    builder = type(name, (), {"__slots__": vars(cls)["__slots__"], "__module__": __name__})
    builder.__qualname__ = name
    probe: Any = object.__new__(builder)
    probe.__class__ = cls  # TypeError at import if the layouts differ
    return builder


def _make_decode() -> Callable[[bytes], RawResponse]:
    """:func:`decode_raw`: the checked values of an answer, put in a record."""
    names = RESPONSE_FIELDS
    assert all(name.isidentifier() for name in names)
    body = ["def decode_raw(data):", f"    {', '.join(names)} = unpack_response(data)"]
    body.append("    self = new(Building)")
    body += [f"    self.{name} = {name}" for name in names]
    body += ["    self.__class__ = RawResponse", "    return self"]
    scope: dict[str, Any] = {"new": object.__new__, "RawResponse": RawResponse}
    scope["Building"] = _builder(RawResponse)
    scope["unpack_response"] = unpack_response
    decode: Callable[[bytes], RawResponse] = _generate("decode_raw", body, scope)
    return decode


def _make_parse() -> Callable[[RawResponse], P0fResponse]:
    """:func:`parse_raw`, written out from the rule table.

    The constructor would derive ``raw`` from the parsed values again, so
    the parser sets each slot itself, and each rule's expression is written
    inline rather than called: a loop over the table calling each rule
    measured 1.6x to 1.7x a hand-written parse for decoding and reading
    every field, generated code calling each rule 1.4x to 1.5x.
    """
    body = ["def parse_raw(raw):"]
    reserved = {*NAMESPACE, "raw", "value", "self", "new", "Building", "P0fResponse"}
    for rule in RULES:
        assert rule.name.isidentifier() and rule.wire.isidentifier()
        assert rule.name not in reserved  # each value is a local of its name
        body.append(f"    value = raw.{rule.wire}")
        body.append(f"    {rule.name} = {rule.expression}")
    body.append("    self = new(Building)")
    body += [f"    self.{rule.name} = {rule.name}" for rule in RULES]
    body += ["    self.raw = raw", "    self.__class__ = P0fResponse", "    return self"]
    scope: dict[str, Any] = dict(NAMESPACE)
    scope["new"] = object.__new__
    scope["Building"] = _builder(P0fResponse)
    scope["P0fResponse"] = P0fResponse
    parse: Callable[[RawResponse], P0fResponse] = _generate("parse_raw", body, scope)
    return parse


decode_raw: Final = _make_decode()
"""Decode one 232-byte answer into a :class:`RawResponse` (checked by
:func:`~p0f._wire.unpack_response`): what :func:`p0f.decode_response` does."""
parse_raw: Final = _make_parse()
"""``P0fResponse.from_raw(raw)``, one call shorter: what the clients use."""
_PARSED_KEYS: Final = frozenset(rule.name for rule in RULES) | {
    "raw",
    "uptime_min",
    "uptime_sec",
}
