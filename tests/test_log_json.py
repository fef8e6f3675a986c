"""The log's events as JSON-ready data, and back."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given

from p0f.log import AnyEvent, LogEvent, MtuEvent, TcpEvent, make_log_json_converter, parse_line

from .strategies import log_events
from .test_log import CHANGE, HTTP, MTU, SYN, SYN_IPV6, UPTIME

converter = make_log_json_converter()

COMMON = {"time", "module", "client", "client_port", "server", "server_port", "subject"}


def test_a_syn_line_as_json() -> None:
    data = converter.unstructure(parse_line(SYN))
    assert data == {
        "time": "2026-11-27T07:06:17+00:00",
        "module": "syn",
        "client": "127.160.77.1",
        "client_port": 35815,
        "server": "127.0.0.1",
        "server_port": 80,
        "subject": "cli",
        "os": "Windows 7 or 8",
        "app": None,
        "dist": 0,
        "dist_at_most": False,
        "params": [],
        "raw_sig": "4:128+0:0:1460:8192,8:mss,nop,ws,nop,nop,sok:df,id+:0",
        "signature": {
            "version": 4, "ttl": 128, "ttl_distance": 0, "initial_ttl": 128,
            "ip_options_length": 0, "mss": 1460, "window": 8192, "window_type": "size",
            "window_scale": 8, "options": ["mss", "nop", "ws", "nop", "nop", "sok"],
            "eol_padding": 0, "quirks": ["df", "id+"], "payload": "0",
        },
    }


def test_addresses_are_compressed() -> None:
    data = converter.unstructure(parse_line(SYN_IPV6))
    assert (data["client"], data["server"]) == ("fd00::7e55:f", "::1")


@pytest.mark.parametrize(
    ("line", "keys"),
    [
        (MTU, {"link", "raw_mtu"}),
        (UPTIME, {"uptime", "uptime_min", "up_mod_days", "raw_freq"}),
        (HTTP, {"os", "app", "lang", "params", "raw_sig", "signature"}),
        (CHANGE, {"reason", "raw_hits"}),
    ],
)
def test_each_module_has_p0fs_keys(line: str, keys: set[str]) -> None:
    data = converter.unstructure(parse_line(line))
    assert set(data) == COMMON | keys
    assert json.loads(json.dumps(data)) == data


def test_uptime_and_change_values() -> None:
    uptime = converter.unstructure(parse_line(UPTIME))
    assert uptime["uptime"] == "3 days 0 hrs 1 min (modulo 49 days)"
    assert (uptime["uptime_min"], uptime["up_mod_days"], uptime["raw_freq"]) == (4321, 49, 998.0)
    change = converter.unstructure(parse_line(CHANGE))
    assert change["reason"] == ["ua_vs_os"] and change["raw_hits"] == [0, 1, 1, 1]


@given(log_events)
def test_json_round_trip(event: AnyEvent) -> None:
    data = json.loads(json.dumps(converter.unstructure(event)))
    assert converter.structure(data, LogEvent) == event
    assert converter.structure(data, type(event)) == event


def test_structure_refuses_the_wrong_record_and_bad_values() -> None:
    data: dict[str, Any] = converter.unstructure(parse_line(MTU))
    assert converter.structure(data, MtuEvent) == parse_line(MTU)
    with pytest.raises(ValueError, match="makes a MtuEvent, not a TcpEvent"):
        converter.structure(data, TcpEvent)
    with pytest.raises(TypeError):
        converter.structure({**data, "raw_mtu": "1440"}, LogEvent)
    with pytest.raises(ValueError, match="without a UTC offset"):
        converter.structure({**data, "time": "2026-11-27T07:06:17"}, LogEvent)
    with pytest.raises(ValueError, match="missing key 'link'"):
        converter.structure({k: v for k, v in data.items() if k != "link"}, LogEvent)
