"""The wire format, bytes in and out, no sockets (as h11's test_io does)."""

from __future__ import annotations

import ipaddress
import struct
import sys
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from p0f import (
    QUERY_MAGIC,
    RESPONSE_MAGIC,
    InvalidAddressError,
    ProtocolError,
    RawResponse,
    decode_response,
    encode_query,
    encode_response,
    normalize_address,
)
from p0f._codec import decode_query
from p0f.testing import no_match_response, sample_response

from .strategies import addresses, raw_responses

NATIVE = "<" if sys.byteorder == "little" else ">"


def test_ipv4_query_layout() -> None:
    data = encode_query("192.0.2.1")
    assert len(data) == 21
    assert data[:4] == struct.pack(NATIVE + "I", QUERY_MAGIC)
    assert data[4] == 4
    assert data[5:9] == bytes([192, 0, 2, 1])
    assert data[9:] == bytes(12)


def test_ipv6_query_layout() -> None:
    data = encode_query("2001:db8::1")
    assert data[4] == 6
    assert data[5:] == ipaddress.IPv6Address("2001:db8::1").packed


@pytest.mark.parametrize(
    ("given_address", "expected"),
    [
        ("::ffff:192.0.2.1", ipaddress.IPv4Address("192.0.2.1")),
        (ipaddress.IPv6Address("::ffff:10.1.2.3"), ipaddress.IPv4Address("10.1.2.3")),
        ("fe80::1%eth0", ipaddress.IPv6Address("fe80::1")),
        (ipaddress.IPv6Address("fe80::2%3"), ipaddress.IPv6Address("fe80::2")),
        ("::1", ipaddress.IPv6Address("::1")),
        ("127.0.0.1", ipaddress.IPv4Address("127.0.0.1")),
        (ipaddress.IPv4Address("198.51.100.7"), ipaddress.IPv4Address("198.51.100.7")),
        ("2001:0db8:0000:0000:0000:0000:0000:0001", ipaddress.IPv6Address("2001:db8::1")),
    ],
)
def test_normalize_address(
    given_address: str | ipaddress.IPv4Address | ipaddress.IPv6Address,
    expected: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> None:
    assert normalize_address(given_address) == expected
    assert normalize_address(given_address).version == expected.version


def test_mapped_address_is_queried_as_ipv4() -> None:
    assert encode_query("::ffff:192.0.2.1") == encode_query("192.0.2.1")


@pytest.mark.parametrize(
    "bad",
    [
        "",
        " ",
        " 192.0.2.1",
        "192.0.2.1 ",
        "1.2.3",
        "999.1.1.1",
        "192.0.2.1%eth0",
        "::ffff::1",
        "localhost",
        b"192.0.2.1",
        None,
        3232235521,
        True,
        1.5,
        ["192.0.2.1"],
    ],
)
def test_bad_addresses_raise_before_io(bad: object) -> None:
    with pytest.raises(InvalidAddressError) as info:
        encode_query(bad)  # type: ignore[arg-type]  # the point is a wrong type
    assert isinstance(info.value, ValueError)
    assert repr(bad) in str(info.value)


@given(addresses)
def test_any_address_encodes_and_decodes_back(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> None:
    magic, addr_type, decoded = decode_query(encode_query(address))
    assert magic == QUERY_MAGIC
    assert addr_type == address.version
    assert decoded == address
    assert decode_query(encode_query(str(address)))[2] == address


@given(raw_responses())
def test_any_response_round_trips(raw: RawResponse) -> None:
    data = encode_response(raw)
    assert len(data) == 232
    assert decode_response(data) == raw
    assert RawResponse.from_bytes(raw.to_bytes()) == raw


@given(st.binary(max_size=300))
def test_any_bytes_decode_or_raise_protocol_error(data: bytes) -> None:
    try:
        raw = decode_response(data)
    except ProtocolError:
        return
    assert isinstance(raw, RawResponse)


@given(st.binary(min_size=224, max_size=224))
def test_any_232_bytes_with_valid_header_decode(tail: bytes) -> None:
    head = struct.pack("=II", RESPONSE_MAGIC, 0x10)
    try:
        raw = decode_response(head + tail)
    except ProtocolError as exc:
        # Only the range checks can fail once magic and status are right.
        assert any(name in str(exc) for name in ("bad_sw", "os_match_q", "up_mod_days"))
    else:
        assert all(len(getattr(raw, f).encode("latin-1")) <= 32 for f in _STRINGS)


_STRINGS = ("os_name", "os_flavor", "http_name", "http_flavor", "link_type", "language")


def _patched(raw: RawResponse, offset: int, fmt: str, value: int) -> bytes:
    data = bytearray(encode_response(raw))
    struct.pack_into("=" + fmt, data, offset, value)
    return bytes(data)


@pytest.mark.parametrize(
    ("offset", "fmt", "value", "message"),
    [
        (0, "I", 0x50304603, "magic"),
        (0, "I", 0, "magic"),
        (4, "I", 0x11, "status"),
        (4, "I", 0x30, "status"),
        (38, "B", 3, "bad_sw"),
        (38, "B", 255, "bad_sw"),
        (39, "B", 4, "os_match_q"),
        (24, "I", 1_000_000_000, "up_mod_days"),
    ],
)
def test_invalid_answers_raise_protocol_error(
    offset: int, fmt: str, value: int, message: str
) -> None:
    with pytest.raises(ProtocolError, match=message):
        decode_response(_patched(sample_response(), offset, fmt, value))


def test_bad_query_answer_may_have_zero_magic() -> None:
    raw = decode_response(encode_response(no_match_response(status=0, magic=0)))
    assert (raw.magic, raw.status) == (0, 0)


@pytest.mark.parametrize("size", [0, 1, 231, 233, 464])
def test_wrong_length_is_a_protocol_error(size: int) -> None:
    with pytest.raises(ProtocolError, match="232"):
        decode_response(bytes(size))


def test_strings_end_at_first_nul_and_may_fill_32_bytes() -> None:
    data = bytearray(encode_response(sample_response()))
    data[40:72] = b"Linux\0garbage after the nul".ljust(32, b"\0")
    data[72:104] = b"A" * 32  # no NUL at all
    raw = decode_response(bytes(data))
    assert raw.os_name == "Linux"
    assert raw.os_flavor == "A" * 32


def test_non_ascii_bytes_decode_as_latin1_and_round_trip() -> None:
    data = bytearray(encode_response(sample_response()))
    data[200:204] = b"\xe9t\xe9\0"  # language
    raw = decode_response(bytes(data))
    assert raw.language == "été"
    assert encode_response(raw) == bytes(data)


@pytest.mark.parametrize(
    "changes",
    [
        {"os_name": "x" * 33},
        {"os_name": "a\0b"},
        {"os_name": "\u20ac"},
        {"total_conn": -1},
        {"distance": 40000},
        {"bad_sw": 256},
    ],
)
def test_encode_response_rejects_what_the_format_cannot_carry(
    changes: dict[str, Any],
) -> None:
    with pytest.raises(ValueError):
        encode_response(attrs.evolve(sample_response(), **changes))
