"""Views that show what the middleware put on the request."""

from __future__ import annotations

from typing import Any

from django.http import JsonResponse

from p0f.converters import make_json_converter
from p0f.django.middleware import P0fHttpRequest, P0fLookup, get_lookup, get_p0f

_json = make_json_converter()


def describe(found: P0fLookup) -> dict[str, Any]:
    """A lookup as JSON: the OS, the address, the status, whether cached."""
    answer = found.answer
    return {
        "os_name": None if answer is None else answer.os_name,
        "address": None if found.address is None else str(found.address),
        "status": found.status.value,
        "cached": found.cached,
    }


def _body(request: P0fHttpRequest, mode: str) -> JsonResponse:
    answer = request.p0f
    assert answer is get_p0f(request) and request.p0f_lookup is get_lookup(request)
    return JsonResponse(
        {
            "mode": mode,
            "p0f": None if answer is None else _json.unstructure(answer),
            "p0f_lookup": describe(request.p0f_lookup),
        }
    )


def sync_view(request: P0fHttpRequest) -> JsonResponse:
    return _body(request, "sync")


async def async_view(request: P0fHttpRequest) -> JsonResponse:
    return _body(request, "async")
