"""``python manage.py p0f_prune --older-than 30d``: delete old P0fRecord rows.

What p0f says about a visitor (address, operating system, browser,
language) is personal data: keep it no longer than its purpose needs.  Run
this from cron or a systemd timer, for example daily (a crontab line):

.. code-block:: text

    17 3 * * *  cd /srv/site && python manage.py p0f_prune --older-than 30d

A record's age is counted from its ``last_seen``: when p0f last saw the
visitor before the answer was kept, which is about when the record was made.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Final

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from ...models import P0fRecord

_UNITS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_AGE: Final = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", re.IGNORECASE)


def parse_age(text: str) -> dt.timedelta:
    """``"30d"``, ``"12h"``, ``"90m"``, ``"2w"`` or plain seconds, as a duration."""
    match = _AGE.fullmatch(text)
    if match is None:
        raise ValueError(
            f"{text!r} is not an age: give a number and a unit, s, m, h, d or w (30d, 12h)"
        )
    number, unit = match.groups()
    return dt.timedelta(seconds=float(number) * _UNITS[(unit or "s").lower()])


class Command(BaseCommand):
    help = (
        "Delete P0fRecord rows whose last_seen is older than --older-than "
        "(what p0f says about a visitor is personal data: keep it short)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than",
            required=True,
            metavar="AGE",
            help="how old a record must be to go: a number and a unit s, m, h, d or w (30d)",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="say how many records would go, delete nothing",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            age = parse_age(options["older_than"])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        if age <= dt.timedelta(0):
            raise CommandError("--older-than must be more than 0")
        said = options["older_than"].strip()
        cutoff = timezone.now() - age
        old = P0fRecord.objects.filter(last_seen__lt=cutoff)
        if options["dry_run"]:
            self.stdout.write(f"{old.count()} p0f records are older than {said}; none deleted")
            return
        deleted, _ = old.delete()
        if options["verbosity"] >= 1:
            self.stdout.write(f"deleted {deleted} p0f records older than {said}")
