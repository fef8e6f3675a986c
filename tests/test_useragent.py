"""p0f's User-Agent-versus-TCP check: the ``ua_os`` rule and the verdicts."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from p0f import (
    DEFAULT_UA_OS,
    DEFAULT_UA_OS_LINE,
    RESPONSE_MAGIC,
    MatchQuality,
    P0fError,
    P0fResponse,
    RawResponse,
    UaOsEntry,
    UaOsError,
    UaOsRules,
    UserAgentCheck,
    UserAgentReason,
    UserAgentVerdict,
    check_user_agent,
    load_ua_os,
)

from .strategies import raw_responses, ua_os_lines, user_agents

DEBIAN_FP = Path("/etc/p0f/p0f.fp")

WINDOWS_10_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
MAC_UA = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:120.0) Gecko/20100101 Firefox/120.0"
IPHONE_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"
)
ANDROID_UA = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Mobile Safari/537.36"
)
LINUX_UA = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
NO_OS_UA = "curl/8.5.0"


def answer(os_name: str = "", quality: int = 0, flavor: str = "") -> P0fResponse:
    return P0fResponse.from_raw(
        RawResponse(
            magic=RESPONSE_MAGIC, status=0x10, first_seen=1, last_seen=2, total_conn=1,
            uptime_min=0, up_mod_days=0, last_nat=0, last_chg=0, distance=0, bad_sw=0,
            os_match_q=quality, os_name=os_name, os_flavor=flavor, http_name="",
            http_flavor="", link_type="", language="",
        )
    )


# -- the ua_os line -----------------------------------------------------------------


def test_default_is_p0f_309b_line() -> None:
    assert DEFAULT_UA_OS.entries == (
        UaOsEntry("Linux", "Linux"),
        UaOsEntry("Windows", "Windows"),
        UaOsEntry("iOS", "iPad"),
        UaOsEntry("iOS", "iPhone"),
        UaOsEntry("Mac OS X", "Mac OS X"),
        UaOsEntry("FreeBSD", "FreeBSD"),
        UaOsEntry("OpenBSD", "OpenBSD"),
        UaOsEntry("NetBSD", "NetBSD"),
        UaOsEntry("Solaris", "SunOS"),
    )
    assert UaOsRules.parse(DEFAULT_UA_OS_LINE) == DEFAULT_UA_OS


def test_debian_file_gives_the_default() -> None:
    if not DEBIAN_FP.exists():
        pytest.skip(f"{DEBIAN_FP} is not installed (make setup installs p0f)")
    assert UaOsRules.from_file(DEBIAN_FP) == DEFAULT_UA_OS


@pytest.mark.parametrize(
    ("line", "entries"),
    [
        ("ua_os=Linux", [("Linux", "Linux")]),
        ("  \tua_os \t=\t Linux,", [("Linux", "Linux")]),  # blanks, a trailing comma
        ("ua_os = ", []),
        ("ua_os = iOS=[iPad]Linux", [("iOS", "iPad"), ("Linux", "Linux")]),  # p0f needs no comma there
        ("ua_os = Solaris=[Sun OS; x=[1]", [("Solaris", "Sun OS; x=[1")]),  # text runs to ']'
        ("ua_os = linux,LINUX", [("linux", "linux"), ("linux", "linux")]),  # one OS, first spelling
        ("ua_os = Windows\0,Linux", [("Windows", "Windows")]),  # a C string ends at NUL
        ("ua_os = (odd) name!?./-_", [("(odd) name!?./-_", "(odd) name!?./-_")]),
    ],
)
def test_parse_follows_p0f(line: str, entries: list[tuple[str, str]]) -> None:
    assert UaOsRules.parse(line).entries == tuple(UaOsEntry(*e) for e in entries)


@pytest.mark.parametrize(
    "line",
    [
        "ua_os = ,Linux",  # empty name
        "ua_os = Linux,,Windows",
        "ua_os = iOS=iPhone",  # '=' without '['
        "ua_os = iOS=",
        "ua_os = iOS=[]",  # empty text
        "ua_os = iOS=[iPhone",  # no ']'
        "ua_os = Linux;Windows",  # ';' is no name character
        "ua_os = Linüx",  # names are ASCII
        "ua_os = Linux\r",  # a CRLF file: p0f refuses the '\r'
        "label = s:unix:Linux:3.x",  # not a ua_os line
        "ua_os Linux",
        "",
    ],
)
def test_parse_refuses_what_p0f_refuses(line: str) -> None:
    with pytest.raises(UaOsError):
        UaOsRules.parse(line)


def test_error_is_documented_kind() -> None:
    assert issubclass(UaOsError, P0fError)
    assert issubclass(UaOsError, ValueError)


@given(ua_os_lines, user_agents)
def test_any_line_and_any_user_agent_raise_only_ua_os_error(line: str, agent: str | None) -> None:
    try:
        rules = UaOsRules.parse(line)
    except UaOsError:
        rules = DEFAULT_UA_OS
    claimed = rules.claimed_os(agent)
    assert claimed is None or claimed in {e.os_name for e in rules.entries}
    check = check_user_agent(agent, answer("Linux"), rules=rules)
    assert check.user_agent_os == claimed


@given(st.lists(st.tuples(st.text("LinuxWdowsMac X").map("N".__add__), st.text(
    st.characters(blacklist_characters="]\0"), min_size=1)), max_size=5))
def test_well_formed_entries_parse_back(pairs: list[tuple[str, str]]) -> None:
    line = "ua_os = " + ",".join(f"{name}=[{text}]" for name, text in pairs)
    entries = UaOsRules.parse(line).entries
    assert [e.text for e in entries] == [text for _, text in pairs]
    first: dict[str, str] = {}
    for name, _ in pairs:
        first.setdefault(name.lower(), name)
    assert [e.os_name for e in entries] == [first[name.lower()] for name, _ in pairs]


# -- reading p0f.fp ---------------------------------------------------------------------

_FP_HEAD = """\
classes = win,unix,other
[mtu]
label = Linux
sig   = 1500
[tcp:request]
label = s:unix:Linux:3.x
sig   = *:64:0:*:mss*10,*:mss,sok,ts,nop,ws:df,id+:0
label = s:unix:Mac OS X:10.x
sig   = *:64:0:*:65535,1:mss,nop,ws,nop,nop,ts,sok,eol+1:df,id+:0
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "p0f.fp"
    path.write_bytes(text.encode("latin-1"))
    return path


def test_file_spells_names_as_its_labels(tmp_path: Path) -> None:
    path = write(tmp_path, _FP_HEAD + "[http:request]\n; rules\nua_os = linux,MAC OS X,iOS=[iPhone]\n"
                 "label = s:!:Firefox:10.x\nsys   = Windows,@unix\n")
    rules = UaOsRules.from_file(path)
    # p0f files "linux" under the label's "Linux" and searches for that text.
    assert rules.entries == (
        UaOsEntry("Linux", "Linux"), UaOsEntry("Mac OS X", "Mac OS X"), UaOsEntry("iOS", "iPhone")
    )
    assert rules.claimed_os("X11; linux") is None
    assert rules.claimed_os("X11; Linux") == "Linux"


def test_file_lines_append_and_missing_line_means_no_rules(tmp_path: Path) -> None:
    two = write(tmp_path, "[http:request]\nua_os = Linux\n  ua_os = Windows\n")
    assert [e.os_name for e in UaOsRules.from_file(two).entries] == ["Linux", "Windows"]
    none = write(tmp_path, _FP_HEAD)
    assert UaOsRules.from_file(none).entries == ()
    assert UaOsRules.from_file(none).claimed_os(LINUX_UA) is None


@pytest.mark.parametrize(
    "text",
    [
        _FP_HEAD + "ua_os = Linux\n",  # in [tcp:request]
        "[http:request]\nlabel = s:!:Firefox:10.x\nua_os = Linux\n",  # after a label
        "[http:response]\nua_os = Linux\n",
        "[http:request]\nua_os = Linux,\n\nua_os = Windows=[\n",  # malformed, second line
    ],
)
def test_file_with_misplaced_or_malformed_line_is_refused(tmp_path: Path, text: str) -> None:
    with pytest.raises(UaOsError, match="line"):
        UaOsRules.from_file(write(tmp_path, text))


def test_missing_file_is_os_error(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        UaOsRules.from_file(tmp_path / "nope.fp")


# -- what a User-Agent claims ------------------------------------------------------------


@pytest.mark.parametrize(
    ("agent", "claimed"),
    [
        (WINDOWS_10_UA, "Windows"),
        (MAC_UA, "Mac OS X"),
        (IPHONE_UA, "iOS"),  # iPhone comes before Mac OS X in the list
        (ANDROID_UA, "Linux"),  # Android's User-Agent says Linux
        (LINUX_UA, "Linux"),
        ("Mozilla/5.0 (X11; FreeBSD amd64; rv:120.0) Firefox/120.0", "FreeBSD"),
        ("Mozilla/5.0 (X11; SunOS i86pc; rv:120.0)", "Solaris"),
        ("Mozilla/5.0 (Windows NT 10.0; Linux on WSL)", "Linux"),  # first entry wins
        ("Mozilla/5.0 (windows nt 10.0)", None),  # case-sensitive, as strstr
        ("Mozilla/5.0 (Android 14; Mobile; rv:120.0) Gecko/120.0 Firefox/120.0", None),
        ("Mozilla/5.0\0 (Windows NT 10.0)", None),  # p0f's copy ends at NUL
        (NO_OS_UA, None),
        ("", None),
        (None, None),
    ],
)
def test_claimed_os(agent: str | None, claimed: str | None) -> None:
    assert DEFAULT_UA_OS.claimed_os(agent) == claimed


# -- the verdict --------------------------------------------------------------------------

M, X, U = UserAgentVerdict.MATCH, UserAgentVerdict.MISMATCH, UserAgentVerdict.UNKNOWN
R = UserAgentReason


@pytest.mark.parametrize(
    ("agent", "os_name", "quality", "verdict", "reason"),
    [
        (WINDOWS_10_UA, "Windows", 0, M, R.SAME_OS),
        (WINDOWS_10_UA, "Windows", 2, M, R.SAME_OS),  # "NT kernel": versions never compared
        (WINDOWS_10_UA, "Linux", 0, X, R.OTHER_OS),
        (LINUX_UA, "Windows", 2, X, R.OTHER_OS),  # generic Windows is still Windows
        (LINUX_UA, "Windows", 1, X, R.OTHER_OS),
        (LINUX_UA, "Windows", 3, U, R.TOO_GENERIC),
        (WINDOWS_10_UA, "Windows", 3, M, R.SAME_OS),
        (ANDROID_UA, "Linux", 0, M, R.SAME_OS),
        (MAC_UA, "Mac OS X", 0, M, R.SAME_OS),
        (MAC_UA, "MacOS X", 0, M, R.SAME_OS),  # p0f 3.09b's name for macOS 10.9+
        (MAC_UA, "mac os x", 0, M, R.SAME_OS),  # names compare case-insensitively
        (IPHONE_UA, "iOS", 0, M, R.SAME_OS),
        (IPHONE_UA, "MacOS X", 0, U, R.INDISTINGUISHABLE),
        (IPHONE_UA, "Mac OS X", 0, U, R.INDISTINGUISHABLE),
        (MAC_UA, "iOS", 0, U, R.INDISTINGUISHABLE),  # an iPad sends a Mac User-Agent
        (IPHONE_UA, "Windows", 0, X, R.OTHER_OS),
        (NO_OS_UA, "Windows", 0, U, R.NO_CLAIM),
        (None, "Windows", 0, U, R.NO_CLAIM),
        (LINUX_UA, "", 0, U, R.NO_P0F_OS),  # p0f itself would flag this one
    ],
)
def test_verdicts(
    agent: str | None, os_name: str, quality: int, verdict: UserAgentVerdict, reason: UserAgentReason
) -> None:
    check = check_user_agent(agent, answer(os_name, quality))
    assert (check.verdict, check.reason) == (verdict, reason)
    assert check.p0f_os == (os_name or None)
    assert check.user_agent_os == DEFAULT_UA_OS.claimed_os(agent)


def test_no_answer_is_unknown() -> None:
    assert check_user_agent(LINUX_UA, None) == UserAgentCheck("Linux", None, U, R.NO_P0F_OS)
    assert check_user_agent(None, None) == UserAgentCheck(None, None, U, R.NO_CLAIM)


def test_custom_rules_android() -> None:
    rules = UaOsRules.parse("ua_os = Android,Linux,Windows")
    check = check_user_agent(ANDROID_UA, answer("Linux"), rules=rules)
    assert (check.user_agent_os, check.verdict) == ("Android", M)


def test_verdict_values_are_strings() -> None:
    assert [v.value for v in UserAgentVerdict] == ["match", "mismatch", "unknown"]
    assert f"{UserAgentVerdict.MISMATCH}" == "mismatch"


@given(user_agents, raw_responses())
def test_verdict_is_consistent(agent: str | None, raw: RawResponse) -> None:
    response = P0fResponse.from_raw(raw)
    check = check_user_agent(agent, response)
    assert check.p0f_os == response.os_name
    if check.verdict is M:
        assert check.user_agent_os is not None and check.p0f_os is not None
    if check.verdict is X:
        assert check.user_agent_os is not None and check.p0f_os is not None
        assert check.user_agent_os.lower() != check.p0f_os.lower()
        assert response.os_match_q is not MatchQuality.FUZZY_GENERIC


def test_load_reads_once_per_path(tmp_path: Path) -> None:
    assert load_ua_os() is DEFAULT_UA_OS
    path = write(tmp_path, "[http:request]\nua_os = Linux\n")
    first = load_ua_os(path)
    assert first.entries == (UaOsEntry("Linux", "Linux"),)
    path.write_text("[http:request]\nua_os = Windows\n")
    assert load_ua_os(str(path)) is first  # read once per process, as p0f does
    with pytest.raises(UaOsError):
        other = tmp_path / "other"
        other.mkdir()
        load_ua_os(write(other, "[tcp:request]\nua_os = Linux\n"))
