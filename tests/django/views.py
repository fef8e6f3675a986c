"""Views that show what the middleware put on the request."""

from __future__ import annotations

from django.http import JsonResponse

from p0f.converters import make_json_converter
from p0f.django.middleware import P0fHttpRequest

_json = make_json_converter()


def _body(request: P0fHttpRequest, mode: str) -> JsonResponse:
    answer = request.p0f
    return JsonResponse(
        {"mode": mode, "p0f": None if answer is None else _json.unstructure(answer)}
    )


def sync_view(request: P0fHttpRequest) -> JsonResponse:
    return _body(request, "sync")


async def async_view(request: P0fHttpRequest) -> JsonResponse:
    return _body(request, "async")
