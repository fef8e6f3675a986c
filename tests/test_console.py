"""The conventions the console commands share (``p0f._console``)."""

from __future__ import annotations

import argparse
import io
import json
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path

import pytest

from p0f._console import (
    EXIT_BAD_INPUT,
    EXIT_BROKEN_PIPE,
    EXIT_INTERRUPTED,
    Command,
    InputError,
    Parser,
    Printer,
    TextSink,
    TextSource,
    UsageExit,
    bad_input_summary,
    console_main,
    fail,
    numbered,
    open_input,
    positive,
    stdin_is_piped,
)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_fail_prints_one_line_and_returns_the_status() -> None:
    err = io.StringIO()
    assert fail(err, "p0f-log", "cannot read x.log: Permission denied", 3) == 3
    assert err.getvalue() == "p0f-log: cannot read x.log: Permission denied\n"


@pytest.mark.parametrize(
    ("count", "line", "expected"),
    [
        (1, None, "1 bad line: no mod="),
        (1, 7, "1 bad line on line 7: no mod="),
        (3, 7, "3 bad lines, the first on line 7: no mod="),
    ],
)
def test_bad_input_summary(count: int, line: int | None, expected: str) -> None:
    assert bad_input_summary(count, "no mod=", line, ("line", "lines")) == expected


def test_parser_usage_error_is_one_line_exit_2_and_never_sys_exit() -> None:
    out, err = io.StringIO(), io.StringIO()
    parser = Parser(out, err, prog="p0f-log")
    parser.add_argument("--tz", type=positive(float, "a number"))
    with pytest.raises(UsageExit) as caught:
        parser.parse_args(["--tz", "-1"])
    assert caught.value.status == EXIT_BAD_INPUT
    assert err.getvalue() == (
        "p0f-log: argument --tz: must be more than 0: '-1' (see --help)\n"
    )
    with pytest.raises(UsageExit) as caught:
        parser.parse_args(["--help"])
    assert caught.value.status == 0
    assert out.getvalue().startswith("usage: p0f-log ")


@pytest.mark.parametrize(
    ("kind", "text", "message"),
    [
        (float, "soon", "not a number: 'soon'"),
        (float, "inf", "must be more than 0: 'inf'"),
        (float, "nan", "must be more than 0: 'nan'"),
        (int, "0", "must be more than 0: '0'"),
        (int, "2.5", "not a whole number: '2.5'"),
    ],
)
def test_positive_refuses(kind: type[float], text: str, message: str) -> None:
    what = "a number" if kind is float else "a whole number"
    with pytest.raises(argparse.ArgumentTypeError, match=message):
        positive(kind, what)(text)
    assert positive(kind, what)("3") == 3


def test_stdin_is_piped() -> None:
    assert stdin_is_piped(io.StringIO("x"))
    assert not stdin_is_piped(Terminal())
    closed = io.StringIO()
    closed.close()
    assert not stdin_is_piped(closed)  # nothing to read from


def test_open_input(tmp_path: Path) -> None:
    stdin = io.StringIO("a\n")
    path = tmp_path / "in.txt"
    path.write_bytes(b"one\r\n\xff\n")
    with ExitStack() as stack:
        assert open_input("-", stdin, stack) is stdin
        lines = open_input(str(path), stdin, stack)
        assert list(numbered(lines)) == [(1, "one"), (2, "\ufffd")]
        missing = tmp_path / "missing.txt"
        with pytest.raises(InputError, match=f"^cannot read {missing}: No such file"):
            open_input(str(missing), stdin, stack)


def test_printer_blocks_and_records() -> None:
    out = io.StringIO()
    printer = Printer(out)
    printer.block("a = 1\n")
    printer.block("b = 2\n")
    assert out.getvalue() == "a = 1\n\nb = 2\n"
    out = io.StringIO()
    printer = Printer(out)
    printer.record({"time": "2026-11-27T07:00:00+00:00", "dist": None})
    printer.record({"dist": 3})
    assert [json.loads(line) for line in out.getvalue().splitlines()] == [
        {"time": "2026-11-27T07:00:00+00:00", "dist": None},
        {"dist": 3},
    ]


def _raising(exc: BaseException) -> Command:
    def command(
        argv: Sequence[str],
        *,
        stdin: TextSource,
        stdout: TextSink,
        stderr: TextSink,
        environ: Mapping[str, str],
    ) -> int:
        assert list(argv) == ["x"]
        raise exc

    return command


def test_console_main_maps_interrupt_and_closed_pipe(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = console_main("p0f-log", _raising(KeyboardInterrupt()), ["x"])
    assert code == EXIT_INTERRUPTED
    assert capsys.readouterr().err == "\np0f-log: interrupted\n"
    code = console_main("p0f-log", _raising(BrokenPipeError()), ["x"])
    assert code == EXIT_BROKEN_PIPE
    assert capsys.readouterr() == ("", "")
