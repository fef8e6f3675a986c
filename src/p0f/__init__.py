"""A typed client for the p0f 3 passive OS fingerprinting daemon.

::

    from p0f import NoMatchError, P0f, P0fResponse

    client = P0f("/var/run/p0f.sock")
    answer: P0fResponse | None
    try:
        answer = client.query("192.0.2.1")
    except NoMatchError:
        answer = None
"""

from __future__ import annotations

from ._async import AsyncP0f
from ._base import DEFAULT_TIMEOUT
from ._codec import (
    Address,
    decode_response,
    encode_query,
    encode_response,
    normalize_address,
)
from ._enums import BadSoftware, MatchQuality, Status
from ._errors import (
    BadQueryError,
    InvalidAddressError,
    LogFormatError,
    NoMatchError,
    P0fConnectError,
    P0fConnectionError,
    P0fConnectionLostError,
    P0fError,
    P0fException,
    P0fTimeoutError,
    ProtocolError,
)
from ._models import P0fResponse, RawResponse
from ._sync import P0f
from ._wire import QUERY_MAGIC, QUERY_SIZE, RESPONSE_MAGIC, RESPONSE_SIZE

__version__ = "2.0.0.dev0"

__all__ = [
    "Address",
    "AsyncP0f",
    "BadQueryError",
    "BadSoftware",
    "DEFAULT_TIMEOUT",
    "InvalidAddressError",
    "LogFormatError",
    "MatchQuality",
    "NoMatchError",
    "P0f",
    "P0fConnectError",
    "P0fConnectionError",
    "P0fConnectionLostError",
    "P0fError",
    "P0fException",
    "P0fResponse",
    "P0fTimeoutError",
    "ProtocolError",
    "QUERY_MAGIC",
    "QUERY_SIZE",
    "RESPONSE_MAGIC",
    "RESPONSE_SIZE",
    "RawResponse",
    "Status",
    "decode_response",
    "encode_query",
    "encode_response",
    "normalize_address",
]
