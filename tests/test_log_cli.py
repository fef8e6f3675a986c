"""``p0f-log``: in-process through ``run`` on string streams, and as users run
it, the installed console script in a subprocess (``--follow`` included)."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from p0f._logcli import parse_zone, run
from p0f.log import LogEvent, make_log_json_converter, parse_line

from .test_log import CHANGE, HTTP, MTU, SYN, SYN_IPV6, UPTIME

LINES = [SYN, SYN_IPV6, MTU, UPTIME, HTTP, CHANGE]
WAIT = 60.0  # a bound for a loaded machine, not a timing


class Stream(io.StringIO):
    def isatty(self) -> bool:
        return False


def p0f_log(*argv: str, stdin: str = "") -> tuple[int, str, str]:
    out, err = Stream(), Stream()
    code = run(list(argv), stdin=Stream(stdin), stdout=out, stderr=err, environ={})
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "p0f.log"
    path.write_text("".join(line + "\n" for line in LINES), encoding="utf-8")
    return path


def test_text_output_one_line_per_event(log: Path) -> None:
    code, out, err = p0f_log(str(log))
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert len(lines) == len(LINES)
    assert lines[0] == (
        "2026-11-27 07:06:17+00:00 syn 127.160.77.1/35815 -> 127.0.0.1/80 (cli): "
        "os=Windows 7 or 8, dist=0, params=none, "
        "raw_sig=4:128+0:0:1460:8192,8:mss,nop,ws,nop,nop,sok:df,id+:0"
    )
    assert "fd00::7e55:f/22573 -> ::1/80" in lines[1]


def test_json_lines_structure_back_to_the_events(log: Path) -> None:
    code, out, err = p0f_log("--json", str(log))
    assert (code, err) == (0, "")
    converter = make_log_json_converter()
    records = [json.loads(line) for line in out.splitlines()]
    assert [converter.structure(r, LogEvent) for r in records] == [parse_line(l) for l in LINES]
    assert records[4]["raw_sig"] == HTTP.split("|raw_sig=")[1]
    assert records[4]["lang"] == "German"


def test_the_zone_given(log: Path) -> None:
    code, out, _ = p0f_log("--json", "--tz", "Europe/Berlin", str(log))
    assert code == 0
    assert json.loads(out.splitlines()[0])["time"] == "2026-11-27T07:06:17+01:00"
    code, out, _ = p0f_log("--json", "--tz=-05:30", str(log))
    assert json.loads(out.splitlines()[0])["time"] == "2026-11-27T07:06:17-05:30"


def test_parse_zone() -> None:
    assert parse_zone("UTC") is dt.timezone.utc
    assert parse_zone("+0200") == dt.timezone(dt.timedelta(hours=2))
    with pytest.raises(ValueError, match="unknown time zone"):
        parse_zone("Mars/Olympus")
    with pytest.raises(ValueError, match="out of range"):
        parse_zone("+25:00")


def test_bad_lines_are_reported_with_their_number_and_the_run_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "p0f.log"
    path.write_text(
        SYN + "\nnot p0f\n" + MTU.replace("raw_mtu=1440", "raw_mtu=x") + "\n" + MTU + "\n" + SYN[:40],
        encoding="utf-8",
    )
    code, out, err = p0f_log(str(path))
    assert code == 2
    assert len(out.splitlines()) == 2  # SYN and the good MTU
    messages = err.splitlines()
    assert messages[0].startswith("p0f-log: line 2: not a p0f log line")
    assert messages[1].startswith("p0f-log: line 3: raw_mtu is not a number")
    assert messages[2].startswith("p0f-log: line 5: incomplete line")
    assert messages[3].startswith("p0f-log: 3 bad lines, the first on line 2: not a p0f log line")
    assert len(messages) == 4


def test_stdin() -> None:
    code, out, _ = p0f_log("-", stdin=MTU + "\n")
    assert code == 0 and "raw_mtu=1440" in out


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        ((), "no log file"),
        (("--from-start", "x.log"), "--from-start goes with --follow"),
        (("--follow", "-"), "--follow needs a file"),
        (("--tz", "Nowhere/Land", "x.log"), "--tz: unknown time zone"),
        (("--bogus", "x.log"), "unrecognized arguments"),
    ],
)
def test_usage_errors(argv: tuple[str, ...], complaint: str) -> None:
    code, out, err = p0f_log(*argv)
    assert code == 2 and out == ""
    assert err.startswith("p0f-log: ") and complaint in err and err.count("\n") == 1


def test_a_missing_file_fails_with_one_line(tmp_path: Path) -> None:
    code, out, err = p0f_log(str(tmp_path / "none.log"))
    assert (code, out) == (3, "")
    assert err == f"p0f-log: cannot read {tmp_path / 'none.log'}: No such file or directory\n"


# -- the installed command ---------------------------------------------------------


def _script() -> str:
    found = shutil.which("p0f-log", path=os.path.dirname(sys.executable))
    assert found is not None, "p0f-log is not installed next to this Python"
    return found


def test_console_script(log: Path) -> None:
    result = subprocess.run(
        [_script(), "--json", str(log)], capture_output=True, text=True, timeout=WAIT, check=False
    )
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == len(LINES)


def test_console_script_follows_until_interrupted(tmp_path: Path) -> None:
    path = tmp_path / "p0f.log"  # does not exist yet
    got: queue.Queue[str] = queue.Queue()
    with subprocess.Popen(
        [_script(), "--follow", "--from-start", "--json", str(path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        stdout = proc.stdout

        def pump() -> None:
            for line in stdout:
                got.put(line)

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        try:
            with open(path, "a", encoding="utf-8") as writer:
                writer.write(MTU + "\n" + SYN[:50])
                writer.flush()
                first = json.loads(got.get(timeout=WAIT))
                assert first["module"] == "mtu" and first["raw_mtu"] == 1440
                writer.write(SYN[50:] + "\n")
                writer.flush()
                second = json.loads(got.get(timeout=WAIT))
                assert second["module"] == "syn" and second["raw_sig"] == SYN.split("raw_sig=")[1]
        finally:
            proc.send_signal(signal.SIGINT)
            code = proc.wait(WAIT)
            reader.join(WAIT)
        errors = proc.stderr.read()
    assert code == 130
    assert errors.strip() == "p0f-log: interrupted"
    assert got.empty()
