"""The User-Agent check as users' code sees it: checked by mypy, never run."""

from __future__ import annotations

from typing import assert_type

from p0f import (
    DEFAULT_UA_OS,
    P0fResponse,
    UaOsEntry,
    UaOsRules,
    UserAgentCheck,
    UserAgentReason,
    UserAgentVerdict,
    check_user_agent,
)


def checks(answer: P0fResponse | None, agent: str | None) -> None:
    check = check_user_agent(agent, answer)
    assert_type(check, UserAgentCheck)
    assert_type(check.user_agent_os, str | None)
    assert_type(check.p0f_os, str | None)
    assert_type(check.verdict, UserAgentVerdict)
    assert_type(check.reason, UserAgentReason)
    assert_type(check.verdict.value, str)
    rules = UaOsRules.from_file("/etc/p0f/p0f.fp")
    assert_type(check_user_agent(agent, answer, rules=rules), UserAgentCheck)
    assert_type(UaOsRules.parse("ua_os = Linux"), UaOsRules)
    assert_type(DEFAULT_UA_OS.claimed_os(agent), str | None)
    assert_type(DEFAULT_UA_OS.entries, tuple[UaOsEntry, ...])
    if check.verdict is UserAgentVerdict.MISMATCH:
        print(check.user_agent_os, check.p0f_os)
