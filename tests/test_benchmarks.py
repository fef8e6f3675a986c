"""The benchmark runs and prints its table (its figures are not asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_benchmark_prints_its_table() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--fake"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    lines = result.stdout.splitlines()
    assert "daemon: fake daemon" in lines[0]
    assert lines[2].startswith("| what | baseline |")
    rows = [line for line in lines[4:] if line.startswith("| ")]
    names = [row.split(" | ")[0].lstrip("| ") for row in rows]
    for expected in (
        "decode 232 bytes to RawResponse",
        "decode to P0fResponse",
        "P0f.query, one at a time",
        "P0f.query_many, 1,000 addresses",
        "AsyncP0f, 1,000 concurrent query",
        "P0f.query through p0f-broker, one at a time",
        "100 clients through p0f-broker, 100 pipelined each",
        "p0f log, 2,000 lines parsed into events",
    ):
        assert expected in names
    for row in rows:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert len(cells) == 7
        assert cells[4].endswith(("x time", "x throughput"))
        assert cells[6] in ("yes", "NO")
