"""A model for keeping p0f's answers: :class:`P0fRecord`."""

from __future__ import annotations

import datetime as dt
from typing import Final, overload

from django.conf import settings
from django.db import models
from django.utils import timezone

from .._codec import Address, normalize_address
from .._enums import BadSoftware, MatchQuality
from .._models import P0fResponse

__all__ = ["P0fRecord"]

_STRING_LENGTH: Final = 32  # p0f's string fields are 32 bytes, NUL-padded

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


@overload
def _to_db(moment: dt.datetime) -> dt.datetime: ...
@overload
def _to_db(moment: dt.datetime | None) -> dt.datetime | None: ...
def _to_db(moment: dt.datetime | None) -> dt.datetime | None:
    # Answers carry aware UTC times; without USE_TZ Django wants naive local ones.
    if moment is None or settings.USE_TZ:
        return moment
    return timezone.make_naive(moment)


def _from_db(moment: dt.datetime | None) -> dt.datetime | None:
    if moment is None:
        return None
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
        return cls(
            address=str(normalize_address(address)),
            first_seen=_to_db(response.first_seen),
            last_seen=_to_db(response.last_seen),
            total_conn=response.total_conn,
            uptime=response.uptime,
            up_mod_days=None if response.up_mod_days is None else response.up_mod_days.days,
            last_nat=_to_db(response.last_nat),
            last_chg=_to_db(response.last_chg),
            distance=response.distance,
            bad_sw=int(response.bad_sw),
            os_match_q=int(response.os_match_q),
            os_name=response.os_name or "",
            os_flavor=response.os_flavor or "",
            http_name=response.http_name or "",
            http_flavor=response.http_flavor or "",
            link_type=response.link_type or "",
            language=response.language or "",
        )

    def to_response(self) -> P0fResponse:
        """The answer this record keeps, as a :class:`p0f.P0fResponse`."""
        first_seen = _from_db(self.first_seen)
        last_seen = _from_db(self.last_seen)
        assert first_seen is not None and last_seen is not None  # not nullable
        return P0fResponse(
            first_seen=first_seen,
            last_seen=last_seen,
            total_conn=self.total_conn,
            uptime=self.uptime,
            up_mod_days=None if self.up_mod_days is None else dt.timedelta(days=self.up_mod_days),
            last_nat=_from_db(self.last_nat),
            last_chg=_from_db(self.last_chg),
            distance=self.distance,
            bad_sw=BadSoftware(self.bad_sw),
            os_match_q=MatchQuality(self.os_match_q),
            os_name=self.os_name or None,
            os_flavor=self.os_flavor or None,
            http_name=self.http_name or None,
            http_flavor=self.http_flavor or None,
            link_type=self.link_type or None,
            language=self.language or None,
        )
