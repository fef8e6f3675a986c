"""p0f's User-Agent-versus-TCP check, done in the application.

p0f's ``bad_sw = 1`` means "the User-Agent names another operating system
than the TCP SYN shows".  p0f reads HTTP only in the clear, so behind TLS
the signal is lost; the application, though, holds the decrypted
User-Agent of the very request it serves, and p0f's TCP verdict
(``os_name``, ``os_match_q``) is still right.  :func:`check_user_agent`
puts the two together.

What a User-Agent claims is decided by p0f's own rule (``fp_http.c``,
``score_nat``): the ``ua_os`` line of ``p0f.fp`` lists operating systems in
order, and the first entry whose text occurs in the User-Agent names the
OS.  ``iOS=[iPhone]`` means "the text ``iPhone`` names iOS"; a bare entry
such as ``Mac OS X`` is its own text.  The search is case-sensitive (C's
``strstr``); OS names compare case-insensitively (p0f files names with
``strncasecmp``, so ``linux`` and ``Linux`` are one OS, spelled the way the
file first spelled it).

Where this check and p0f's own differ, on purpose (see the README):

* p0f flags a claim when it has no TCP OS for the host; here that is
  ``unknown``.
* p0f 3.09b names macOS 10.9 and newer ``MacOS X`` (its label says
  "sometimes iPhone or iPad") but the ``ua_os`` claim is ``Mac OS X``, so
  p0f flags every modern Mac; here they ``match``.  iOS against a Mac
  OS is ``unknown``: the 3.09b signatures do not tell them apart, and iPads
  send a Mac User-Agent by default.
* A match that is both fuzzy and generic (``os_match_q`` 3) leaves only an
  option layout, shared across OS families: a disagreement is ``unknown``.
* Versions are never compared, only OS names, as p0f does: Windows 10 and
  11, which 3.09b reports as "Windows 7 or 8" or the generic "Windows NT
  kernel", match a Windows User-Agent.  Android shows as Linux, and an
  Android User-Agent contains ``Linux``, so they match too.
"""

from __future__ import annotations

import enum
import functools
import os
from collections.abc import Iterable
from typing import Final

import attrs

from ._enums import MatchQuality
from ._errors import P0fError
from ._models import P0fResponse

DEFAULT_UA_OS_LINE: Final = (
    "ua_os = Linux,Windows,iOS=[iPad],iOS=[iPhone],Mac OS X,FreeBSD,OpenBSD,"
    "NetBSD,Solaris=[SunOS]"
)
"""The ``ua_os`` line of p0f 3.09b's ``p0f.fp`` (Debian's, unchanged)."""

# p0f's NAME_CHARS (config.h): what an OS name may hold besides ASCII
# letters and digits.  C's isalnum() in the C locale is ASCII only.
_NAME_CHARS: Final = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ./-_!?()"
)
_BLANK: Final = " \t"  # C's isblank()
_ASCII_LOWER: Final = str.maketrans(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz"
)


class UaOsError(P0fError, ValueError):
    """A ``ua_os`` line, or the ``p0f.fp`` holding it, is one p0f would refuse."""


class UserAgentVerdict(enum.StrEnum):
    """Does the User-Agent's operating system agree with p0f's TCP one?"""

    #: The User-Agent claims the OS p0f saw.
    MATCH = "match"
    #: The User-Agent claims another OS than p0f saw (p0f's ``bad_sw = 1``).
    MISMATCH = "mismatch"
    #: It cannot be told: either side is unknown, or p0f cannot tell them apart.
    UNKNOWN = "unknown"


class UserAgentReason(enum.StrEnum):
    """Why the verdict is what it is."""

    #: The User-Agent claims the OS p0f saw (``match``).
    SAME_OS = "same_os"
    #: The User-Agent claims another OS than p0f saw (``mismatch``).
    OTHER_OS = "other_os"
    #: No ``ua_os`` entry occurs in the User-Agent, or there is none (``unknown``).
    NO_CLAIM = "no_claim"
    #: p0f has no OS for the host, or no answer at all (``unknown``).
    NO_P0F_OS = "no_p0f_os"
    #: p0f 3.09b's TCP signatures cannot tell the two apart (``unknown``).
    INDISTINGUISHABLE = "indistinguishable"
    #: p0f matched only a generic signature, and that fuzzily (``unknown``).
    TOO_GENERIC = "too_generic"


def _fold(name: str) -> str:
    return name.translate(_ASCII_LOWER)


@attrs.frozen
class UaOsEntry:
    """One entry of a ``ua_os`` line: ``text`` in a User-Agent names ``os_name``."""

    #: The operating system, spelled as p0f files it (and as ``os_name`` says it).
    os_name: str
    #: The text whose occurrence in a User-Agent claims ``os_name`` (case-sensitive).
    text: str


def _parse_value(value: str, names: dict[str, str], where: str) -> list[UaOsEntry]:
    """p0f's ``http_parse_ua``: entries of a ``ua_os`` value.

    ``names`` maps a case-folded OS name to its first spelling; new names
    are added to it, as p0f's ``lookup_name_id`` does.
    """
    entries: list[UaOsEntry] = []
    pos, end = 0, len(value)
    while pos < end:
        start = pos
        while pos < end and value[pos] in _NAME_CHARS:
            pos += 1
        if pos == start:
            raise UaOsError(
                f"malformed system name at character {start + 1} of the ua_os value{where}: "
                f"{value[start:start + 20]!r}"
            )
        spelled = value[start:pos]
        name = names.setdefault(_fold(spelled), spelled)
        text = name
        if pos < end and value[pos] == "=":
            if value[pos + 1 : pos + 2] != "[":
                raise UaOsError(f"missing '[' after '=' in the ua_os value{where}")
            close = value.find("]", pos + 2)
            if close == -1 or close == pos + 2:
                what = "no closing ']'" if close == -1 else "empty '[]'"
                raise UaOsError(f"malformed text for {spelled!r} ({what}) in the ua_os value{where}")
            text = value[pos + 2 : close]
            pos = close + 1
        entries.append(UaOsEntry(os_name=name, text=text))
        # p0f steps over one comma; anything else must start the next name.
        if pos < end and value[pos] == ",":
            pos += 1
    return entries


def _split_setting(line: str) -> tuple[str, str] | None:
    """p0f's ``name = value`` split of a p0f.fp line (leading blanks already
    gone); ``None`` if the line has no such shape."""
    pos = 0
    while pos < len(line) and (line[pos].isascii() and (line[pos].isalpha() or line[pos] == "_")):
        pos += 1
    key_end = pos
    while pos < len(line) and line[pos] in _BLANK:
        pos += 1
    if key_end == 0 or pos >= len(line) or line[pos] != "=":
        return None
    pos += 1
    while pos < len(line) and line[pos] in _BLANK:
        pos += 1
    return line[:key_end], line[pos:]


def _label_name(value: str) -> str | None:
    """The OS name of a ``label = s:unix:Linux:3.x`` value, if it has one."""
    parts = value.split(":", 3)
    if len(parts) < 4 or parts[0] not in ("s", "g") or not parts[2]:
        return None
    if not all(c in _NAME_CHARS for c in parts[2]):
        return None
    return parts[2]


def _sys_names(value: str) -> Iterable[str]:
    """The OS names (not ``@class`` entries) of a ``sys = ...`` value."""
    for item in value.split(","):
        item = item.lstrip(_BLANK)  # p0f skips blanks before a name, keeps those after
        if item and not item.startswith("@"):
            yield item


@attrs.frozen(slots=False)  # slots=False: room for the cached pairs
class UaOsRules:
    """p0f's ``ua_os`` list: which text in a User-Agent names which OS.

    Build one with :meth:`parse` (a ``ua_os = ...`` line) or
    :meth:`from_file` (the ``p0f.fp`` the daemon reads, with ``-f``);
    :data:`DEFAULT_UA_OS` holds p0f 3.09b's own.  Parse once and keep it:
    a check only walks the list.
    """

    entries: tuple[UaOsEntry, ...]

    @classmethod
    def parse(cls, line: str) -> UaOsRules:
        """The rules of one ``ua_os = ...`` line, as written in ``p0f.fp``.

        Raises :class:`UaOsError` where p0f would refuse the line.  Names
        keep the spelling the line gives them (a file read with
        :meth:`from_file` spells them as its earlier labels do, as p0f does).
        """
        text = line.split("\0", 1)[0].lstrip(_BLANK)  # C strings end at NUL
        setting = _split_setting(text)
        if setting is None or setting[0] != "ua_os":
            raise UaOsError(f"not a 'ua_os = ...' line: {line[:60]!r}")
        return cls(tuple(_parse_value(setting[1], {}, "")))

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> UaOsRules:
        """The rules of a ``p0f.fp`` file, read the way p0f reads it.

        Every ``ua_os`` line of the ``[http:request]`` section counts, in
        order (p0f appends them); a file without one gives no rules, and
        then p0f never flags a User-Agent either.  Raises :class:`UaOsError`
        for a ``ua_os`` line p0f would refuse (malformed, or outside the
        start of ``[http:request]``), :class:`OSError` if the file cannot be
        read.
        """
        with open(path, "rb") as handle:
            data = handle.read()
        return cls._from_text(data.split(b"\0", 1)[0].decode("latin-1"), os.fspath(path))

    @classmethod
    def _from_text(cls, text: str, source: str) -> UaOsRules:
        names: dict[str, str] = {}
        entries: list[UaOsEntry] = []
        section = ""
        before_labels = False
        for number, raw in enumerate(text.split("\n"), start=1):
            line = raw.lstrip(_BLANK)
            if not line or line.startswith(";"):
                continue
            if line.startswith("["):
                section = line
                before_labels = True
                continue
            setting = _split_setting(line)
            if setting is None:
                continue  # not ours to judge: p0f would name the fault itself
            key, value = setting
            if key == "ua_os":
                if section != "[http:request]" or not before_labels:
                    raise UaOsError(f"misplaced ua_os in line {number} of {source}")
                entries += _parse_value(value, names, f" in line {number} of {source}")
            elif key == "label":
                before_labels = False
                name = _label_name(value) if section != "[mtu]" else None
                if name is not None:
                    names.setdefault(_fold(name), name)
            elif key == "sys":
                for name in _sys_names(value):
                    names.setdefault(_fold(name), name)
        return cls(tuple(entries))

    def claimed_os(self, user_agent: str | None) -> str | None:
        """The OS ``user_agent`` claims by p0f's rule, or ``None``."""
        if not user_agent:
            return None
        if "\0" in user_agent:  # p0f's copy of the header ends at NUL
            user_agent = user_agent[: user_agent.index("\0")]
        for text, name in self._pairs:
            if text in user_agent:
                return name
        return None

    @functools.cached_property
    def _pairs(self) -> tuple[tuple[str, str], ...]:
        return tuple((entry.text, entry.os_name) for entry in self.entries)


DEFAULT_UA_OS: Final = UaOsRules.parse(DEFAULT_UA_OS_LINE)
"""p0f 3.09b's rules, built in: used when no ``p0f.fp`` is given."""


@functools.lru_cache(maxsize=16)
def _load(path: str | None) -> UaOsRules:
    return DEFAULT_UA_OS if path is None else UaOsRules.from_file(path)


def load_ua_os(path: str | os.PathLike[str] | None = None) -> UaOsRules:
    """The rules of the ``p0f.fp`` at ``path`` (the built-in 3.09b ones for
    ``None``), read once per process and path, as p0f reads its file once.

    Raises what :meth:`UaOsRules.from_file` raises.
    """
    return _load(None if path is None else os.fspath(path))


# Operating systems p0f 3.09b's database spells two ways (``Mac OS X`` and
# ``MacOS X``, both labels for macOS), or that a custom ua_os line may name
# while TCP only ever says ``Linux`` (Android): the same OS for the verdict.
_SAME_OS: Final = {"macos x": "mac os x", "android": "linux"}
# Pairs the 3.09b TCP signatures cannot tell apart: its ``MacOS X`` label is
# "10.9 or newer (sometimes iPhone or iPad)", and an iPad's Safari sends a
# Mac User-Agent by default.
_INDISTINGUISHABLE: Final = frozenset({frozenset({"mac os x", "ios"})})


def _os_key(name: str) -> str:
    folded = _fold(name)
    return _SAME_OS.get(folded, folded)


@attrs.frozen
class UserAgentCheck:
    """What a User-Agent claims, what p0f saw, and whether they agree."""

    #: The OS the User-Agent claims by p0f's ``ua_os`` rule, or ``None``.
    user_agent_os: str | None
    #: The OS p0f saw in the host's TCP SYN (``os_name``), or ``None``.
    p0f_os: str | None
    #: Whether they agree.
    verdict: UserAgentVerdict
    #: Why.
    reason: UserAgentReason


def check_user_agent(
    user_agent: str | None,
    answer: P0fResponse | None,
    *,
    rules: UaOsRules = DEFAULT_UA_OS,
) -> UserAgentCheck:
    """Check ``user_agent`` against p0f's ``answer`` about the same client.

    ``answer`` is ``None`` when p0f knows nothing of the host.  A
    User-Agent from raw header bytes should be decoded as Latin-1 (p0f
    compares bytes).  Never raises for any string.
    """
    claimed = rules.claimed_os(user_agent)
    if answer is None:
        seen, too_generic = None, False
    else:
        seen, too_generic = answer.os_name, answer.os_match_q == MatchQuality.FUZZY_GENERIC
    key = (claimed, seen, too_generic)
    check = _checks.get(key)
    if check is None:
        check = _verdict(claimed, seen, too_generic)
        if len(_checks) >= _CHECKS_SIZE:
            _checks.clear()
        _checks[key] = check
    return check


# Records are immutable and their inputs few (OS names by the dozen), so the
# check for each (claim, p0f OS, quality) is made once and shared.
_checks: dict[tuple[str | None, str | None, bool], UserAgentCheck] = {}
_CHECKS_SIZE: Final = 4096


def _verdict(claimed: str | None, seen: str | None, too_generic: bool) -> UserAgentCheck:
    if claimed is None:
        return UserAgentCheck(claimed, seen, UserAgentVerdict.UNKNOWN, UserAgentReason.NO_CLAIM)
    if seen is None:
        return UserAgentCheck(claimed, seen, UserAgentVerdict.UNKNOWN, UserAgentReason.NO_P0F_OS)
    claimed_key, seen_key = _os_key(claimed), _os_key(seen)
    if claimed_key == seen_key:
        return UserAgentCheck(claimed, seen, UserAgentVerdict.MATCH, UserAgentReason.SAME_OS)
    if frozenset({claimed_key, seen_key}) in _INDISTINGUISHABLE:
        return UserAgentCheck(
            claimed, seen, UserAgentVerdict.UNKNOWN, UserAgentReason.INDISTINGUISHABLE
        )
    if too_generic:
        return UserAgentCheck(claimed, seen, UserAgentVerdict.UNKNOWN, UserAgentReason.TOO_GENERIC)
    return UserAgentCheck(claimed, seen, UserAgentVerdict.MISMATCH, UserAgentReason.OTHER_OS)
