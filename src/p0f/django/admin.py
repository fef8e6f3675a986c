"""The admin for :class:`~p0f.django.models.P0fRecord`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import admin

from .models import P0fRecord

if TYPE_CHECKING:
    _RecordAdminBase = admin.ModelAdmin[P0fRecord]
else:  # ModelAdmin is generic only in django-stubs, not at run time
    _RecordAdminBase = admin.ModelAdmin


@admin.register(P0fRecord)
class P0fRecordAdmin(_RecordAdminBase):
    """Records listed newest first, filtered by OS, HTTP software and bad_sw."""

    list_display = [
        "address",
        "os_name",
        "os_flavor",
        "http_name",
        "http_flavor",
        "distance",
        "bad_sw",
        "last_seen",
    ]
    list_filter = ["os_name", "http_name", "bad_sw"]
    search_fields = ["address"]
    date_hierarchy = "last_seen"
