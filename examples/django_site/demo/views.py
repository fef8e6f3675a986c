"""One page showing what p0f knows about the visitor; a button keeps it."""

from __future__ import annotations

import enum

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render

from p0f.django.middleware import P0fHttpRequest
from p0f.django.models import P0fRecord

FIELDS = [
    "os_name",
    "os_flavor",
    "http_name",
    "http_flavor",
    "link_type",
    "language",
    "distance",
    "bad_sw",
    "os_match_q",
    "first_seen",
    "last_seen",
    "total_conn",
    "uptime",
    "last_nat",
    "last_chg",
]


def _shown(value: object) -> object:
    # bad_sw and os_match_q are IntEnums: show BadSoftware.OS_MISMATCH, not 1.
    return value.name if isinstance(value, enum.Enum) else value


def index(request: P0fHttpRequest) -> HttpResponse:
    found = request.p0f_lookup  # the answer, and the address it is about
    answer = found.answer
    if request.method == "POST" and answer is not None and found.address is not None:
        # The address looked up: behind a trusted proxy, the visitor's, not
        # the proxy's REMOTE_ADDR.
        P0fRecord.from_response(found.address, answer).save()
        messages.success(request, "Kept as a P0fRecord: see the admin.")
        return redirect("index")
    rows = [] if answer is None else [(name, _shown(getattr(answer, name))) for name in FIELDS]
    return render(
        request,
        "demo/index.html",
        {
            "answer": answer,
            "rows": rows,
            "address": found.address,
            "status": found.status.value,
            "remote_addr": request.META.get("REMOTE_ADDR"),
        },
    )


async def async_index(request: P0fHttpRequest) -> HttpResponse:
    answer = request.p0f
    name = "nothing" if answer is None else f"{answer.os_name} {answer.os_flavor}"
    return HttpResponse(f"async view; p0f says: {name}\n", content_type="text/plain")
