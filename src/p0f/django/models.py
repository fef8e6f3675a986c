"""A model for keeping p0f's answers: :class:`P0fRecord`."""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

from django.conf import settings
from django.db import models
from django.utils import timezone

from .._codec import Address, normalize_address
from .._enums import BadSoftware, MatchQuality
from .._models import P0fResponse
from .._rules import RULES, Rule
from .._wire import STRING_FIELDS, STRING_SIZE

__all__ = ["P0fRecord"]

_STRING_LENGTH: Final = STRING_SIZE  # p0f's strings: 32 bytes, NUL-padded or full

# The columns that keep the wire value of their field, by the field's rule:
# the enums as their numbers (for `choices`), the strings with "" for
# unknown (Django's way for text), up_mod_days as whole days.  Every other
# column keeps the parsed value.  An unknown value is NULL in a column that
# allows it.
_WIRE_COLUMNS: Final = frozenset({"up_mod_days", "bad_sw", "os_match_q", *STRING_FIELDS})

BAD_SW_CHOICES: Final = [
    (int(BadSoftware.NONE), "fine, or no User-Agent"),
    (int(BadSoftware.OS_MISMATCH), "OS mismatch"),
    (int(BadSoftware.FAKE), "outright lie"),
]
OS_MATCH_Q_CHOICES: Final = [
    (int(MatchQuality.NORMAL), "normal"),
    (int(MatchQuality.FUZZY), "fuzzy"),
    (int(MatchQuality.GENERIC), "generic signature"),
    (int(MatchQuality.FUZZY_GENERIC), "fuzzy, generic signature"),
]


def _to_db(moment: dt.datetime) -> dt.datetime:
    # Answers carry aware UTC times; without USE_TZ Django wants naive local ones.
    if settings.USE_TZ:
        return moment
    return timezone.make_naive(moment)


def _from_db(moment: dt.datetime) -> dt.datetime:
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment.astimezone(dt.timezone.utc)


class P0fRecord(models.Model):
    """What p0f knew about one address at one time: one answer, stored.

    Unknown values are ``NULL`` (numbers, times) or ``""`` (strings), as in
    :class:`p0f.P0fResponse` they are ``None``.  Build one with
    :meth:`from_response`; :meth:`to_response` gives the answer back.
    """

    address = models.GenericIPAddressField(unpack_ipv4=True, db_index=True)
    first_seen = models.DateTimeField(help_text="When p0f first saw the host.")
    last_seen = models.DateTimeField(help_text="When p0f last saw traffic from the host.")
    total_conn = models.PositiveBigIntegerField(
        "total connections", help_text="Connections p0f saw."
    )
    uptime = models.DurationField(null=True, blank=True, help_text="The host's uptime.")
    up_mod_days = models.PositiveIntegerField(
        "uptime wrap-around (days)",
        null=True,
        blank=True,
        help_text="After how many days the host's uptime counter wraps around.",
    )
    last_nat = models.DateTimeField(
        "last NAT seen",
        null=True,
        blank=True,
        help_text="When p0f last saw signs of NAT, load balancing or proxying.",
    )
    last_chg = models.DateTimeField(
        "last OS change",
        null=True,
        blank=True,
        help_text="When p0f last saw the host's OS change.",
    )
    distance = models.SmallIntegerField(
        null=True, blank=True, help_text="Network hops, derived from TTL."
    )
    bad_sw = models.PositiveSmallIntegerField(
        "bad software",
        choices=BAD_SW_CHOICES,
        default=int(BadSoftware.NONE),
        help_text="Whether the User-Agent lies about the OS or software.",
    )
    os_match_q = models.PositiveSmallIntegerField(
        "OS match quality", choices=OS_MATCH_Q_CHOICES, default=int(MatchQuality.NORMAL)
    )
    os_name = models.CharField("OS", max_length=_STRING_LENGTH, blank=True)
    os_flavor = models.CharField("OS flavor", max_length=_STRING_LENGTH, blank=True)
    http_name = models.CharField("HTTP software", max_length=_STRING_LENGTH, blank=True)
    http_flavor = models.CharField(
        "HTTP software flavor", max_length=_STRING_LENGTH, blank=True
    )
    link_type = models.CharField("link type", max_length=_STRING_LENGTH, blank=True)
    language = models.CharField(max_length=_STRING_LENGTH, blank=True)

    class Meta:
        verbose_name = "p0f record"
        ordering = ["-last_seen", "-pk"]
        indexes = [models.Index(fields=["last_seen"], name="p0f_record_last_seen")]

    def __str__(self) -> str:
        software = " ".join(filter(None, [self.os_name, self.os_flavor])) or "unknown OS"
        return f"{self.address}: {software}"

    @classmethod
    def from_response(cls, address: Address, response: P0fResponse) -> P0fRecord:
        """An unsaved record of ``response``, p0f's answer about ``address``."""
        columns = {rule.name: cls._column(rule, getattr(response, rule.name)) for rule in RULES}
        return cls(address=str(normalize_address(address)), **columns)

    def to_response(self) -> P0fResponse:
        """The answer this record keeps, as a :class:`p0f.P0fResponse`."""
        fields = {rule.name: self._field(rule, getattr(self, rule.name)) for rule in RULES}
        return P0fResponse(**fields)

    @classmethod
    def _column(cls, rule: Rule, value: Any) -> Any:
        # A parsed value as this model stores it.
        if rule.name in _WIRE_COLUMNS:
            if value is None and getattr(cls._meta.get_field(rule.name), "null", False):
                return None
            return rule.unparse(value)
        if isinstance(value, dt.datetime):
            return _to_db(value)
        return value

    @staticmethod
    def _field(rule: Rule, value: Any) -> Any:
        # A stored value as P0fResponse holds it: the inverse of _column.
        if rule.name in _WIRE_COLUMNS:
            return None if value is None else rule.parse(value)
        if isinstance(value, dt.datetime):
            return _from_db(value)
        return value
