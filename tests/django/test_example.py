"""The example site (examples/django_site) runs as its README says."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from p0f import P0f

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "django_site"

VISIT = """
from django.test import Client
from p0f.django.models import P0fRecord
from p0f.testing import FakeP0f, sample_response
from django.conf import settings

client = Client()
page = client.get("/").content.decode()
assert "is <code>None</code>" in page, page
client.get("/")  # paused: no second warning
with FakeP0f(settings.P0F_SOCKET) as fake:
    fake.add_host("127.0.0.1", sample_response(os_name="Linux", bad_sw=1))
    from p0f.django import middleware
    middleware.reset()  # forget the failure above rather than wait out the pause
    page = client.get("/").content.decode()
    assert "<td>Linux</td>" in page and "OS_MISMATCH" in page, page
    assert client.get("/async/").content == b"async view; p0f says: Linux 2.2.x-3.x\\n"
    assert client.post("/").status_code == 302
    record = P0fRecord.objects.get()
    assert (record.os_name, record.address) == ("Linux", "127.0.0.1"), record
    middleware.reset()
print("example ok")
"""


def manage(site: Path, *args: str) -> list[str]:
    return [sys.executable, str(site / "manage.py"), *args]


def clean_env() -> dict[str, str]:
    """The environment, without what would point the example elsewhere."""
    dropped = ("DJANGO_SETTINGS_MODULE", "P0F_SOCKET")
    return {k: v for k, v in os.environ.items() if k not in dropped}


@pytest.fixture
def site(tmp_path: Path) -> Path:
    copy = tmp_path / "site"
    shutil.copytree(EXAMPLE, copy, ignore=shutil.ignore_patterns("db.sqlite3", "p0f.sock"))
    migrate = manage(copy, "migrate", "-v0", "--skip-checks")
    subprocess.run(migrate, check=True, env=clean_env(), timeout=60)
    return copy


def test_the_page_shows_request_p0f(site: Path) -> None:
    done = subprocess.run(
        manage(site, "shell", "-c", VISIT),
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "example ok" in done.stdout
    # The site's logging prints each warning once (not again via the root).
    warnings = [line for line in done.stderr.splitlines() if "p0f lookup of" in line]
    assert len(warnings) == 1, done.stderr
    assert "there is no socket at" in warnings[0] and "[Errno" not in warnings[0]


def test_run_fake_p0f_serves_the_loopback_addresses(site: Path) -> None:
    socket_path = site / "p0f.sock"
    with subprocess.Popen(
        manage(site, "run_fake_p0f"), env=clean_env(), stdout=subprocess.PIPE, text=True
    ) as server:
        try:
            assert server.stdout is not None
            assert "fake p0f listening on" in server.stdout.readline()
            with P0f(socket_path) as client:
                assert client.query("127.0.0.1").os_name == "Linux"
                assert client.query("::1").http_name == "Firefox"
        finally:
            server.terminate()
            assert server.wait(10) == 0
    deadline = time.monotonic() + 5
    while socket_path.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not socket_path.exists()
