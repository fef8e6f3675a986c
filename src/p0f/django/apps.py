"""The ``p0f.django`` application (label ``p0f``)."""

from __future__ import annotations

from django.apps import AppConfig
from django.core import checks


class P0fConfig(AppConfig):
    """Registers the system checks; owns :class:`~p0f.django.models.P0fRecord`."""

    name = "p0f.django"
    label = "p0f"
    verbose_name = "p0f"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from .checks import check_settings

        checks.register(check_settings)
