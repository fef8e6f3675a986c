"""``p0f-query --user-agent UA``: the User-Agent check on the command line."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from p0f._cli import run
from p0f.testing import FakeP0f, sample_response

MAC_UA = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 Safari/605.1.15"
WINDOWS_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 Firefox/120.0"


class Outcome(NamedTuple):
    code: int
    out: str
    err: str


def cli(argv: Sequence[str]) -> Outcome:
    out, err = io.StringIO(), io.StringIO()
    code = run(argv, stdin=io.StringIO(), stdout=out, stderr=err, environ={})
    return Outcome(code, out.getvalue(), err.getvalue())


@pytest.fixture
def fake(fake_p0f: FakeP0f) -> FakeP0f:
    fake_p0f.add_host("192.0.2.17", sample_response(os_name="Windows", os_flavor="7 or 8"))
    fake_p0f.add_host("192.0.2.30", sample_response(os_name="", os_flavor=""))
    return fake_p0f


def records(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


def test_text_output_says_the_verdict(fake: FakeP0f) -> None:
    done = cli(["-s", fake.socket_path, "--user-agent", MAC_UA, "192.0.2.17"])
    assert done.code == 0
    assert "User-Agent    = claims Mac OS X; p0f saw Windows: mismatch (other_os)\n" in done.out
    done = cli(["-s", fake.socket_path, "--user-agent", WINDOWS_UA, "192.0.2.17"])
    assert "User-Agent    = claims Windows; p0f saw Windows: match (same_os)\n" in done.out


def test_text_output_for_no_match_and_no_claim(fake: FakeP0f) -> None:
    done = cli(["-s", fake.socket_path, "--user-agent", "curl/8.5.0", "192.0.2.17", "192.0.2.99"])
    assert done.code == 1  # one address p0f does not know
    assert done.out.count("User-Agent    = ") == 2
    assert "User-Agent    = claims ???; p0f saw Windows: unknown (no_claim)\n" in done.out
    assert "User-Agent    = claims ???; p0f saw ???: unknown (no_claim)\n" in done.out


@pytest.mark.parametrize("mode", ["--json", "--raw"])
def test_json_records_gain_two_keys(fake: FakeP0f, mode: str) -> None:
    done = cli(["-s", fake.socket_path, mode, "--user-agent", MAC_UA,
                "192.0.2.17", "192.0.2.30", "192.0.2.99", "not-an-address"])
    found = records(done.out)
    assert [(r["result"], r.get("user_agent_os"), r.get("user_agent_verdict")) for r in found] == [
        ("ok", "Mac OS X", "mismatch"),
        ("ok", "Mac OS X", "unknown"),  # p0f knows the host but no OS
        ("no_match", "Mac OS X", "unknown"),
        ("error", None, None),
    ]
    assert "user_agent_os" not in found[3]  # not an address: nothing to check


def test_without_the_option_nothing_changes(fake: FakeP0f) -> None:
    found = records(cli(["-s", fake.socket_path, "--json", "192.0.2.17"]).out)
    assert "user_agent_os" not in found[0] and "user_agent_verdict" not in found[0]
    assert "User-Agent" not in cli(["-s", fake.socket_path, "192.0.2.17"]).out


def test_an_empty_user_agent_claims_nothing(fake: FakeP0f) -> None:
    found = records(cli(["-s", fake.socket_path, "--json", "--user-agent", "", "192.0.2.17"]).out)
    assert (found[0]["user_agent_os"], found[0]["user_agent_verdict"]) == (None, "unknown")


def test_rules_from_the_daemons_file(fake: FakeP0f, tmp_path: Path) -> None:
    rules = tmp_path / "p0f.fp"
    rules.write_text("[http:request]\nua_os = Windows=[Win64]\n")
    done = cli(["-s", fake.socket_path, "--json", "--ua-os-file", str(rules),
                "--user-agent", "x; Win64", "192.0.2.17"])
    assert records(done.out)[0]["user_agent_verdict"] == "match"


@pytest.mark.parametrize(
    ("text", "says"), [("[tcp:request]\nua_os = Linux\n", "misplaced"), (None, "nope.fp")]
)
def test_a_bad_rules_file_is_a_usage_error(
    fake: FakeP0f, tmp_path: Path, text: str | None, says: str
) -> None:
    rules = tmp_path / "nope.fp"
    if text is not None:
        rules.write_text(text)
    done = cli(["-s", fake.socket_path, "--ua-os-file", str(rules),
                "--user-agent", MAC_UA, "192.0.2.17"])
    assert done.code == 2 and done.out == ""
    assert len(done.err.strip().splitlines()) == 1 and says in done.err


def test_rules_file_without_user_agent_is_a_usage_error(fake: FakeP0f, tmp_path: Path) -> None:
    done = cli(["-s", fake.socket_path, "--ua-os-file", str(tmp_path / "p0f.fp"), "192.0.2.17"])
    assert done.code == 2 and "--user-agent" in done.err


def test_demo_with_a_user_agent() -> None:
    done = cli(["--demo", "--json", "--user-agent", WINDOWS_UA])
    found = records(done.out)
    assert found and all(r["user_agent_os"] == "Windows" for r in found)
    assert {r["user_agent_verdict"] for r in found} <= {"match", "mismatch", "unknown"}
