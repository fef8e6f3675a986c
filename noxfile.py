"""The supported versions, each proven by a session, and the release check.

    .venv/bin/nox --list                   # every session
    .venv/bin/nox -s "tests(3.13-django6.1)"
    .venv/bin/nox -t ci                    # what .ci/run runs besides `make test`

Why nox rather than tox: the matrix is not a full product (Django 4.2 stops
at Python 3.12, Django 6.x starts at 3.12), and the interpreters live in
pyenv's folders, off PATH.  Both are a few lines of Python here, where tox
would need factor conditions in ini syntax and a discovery plugin.

The combination ``make test`` runs (Python 3.11, Django 5.2, in ``.venv``)
is the main one: it runs everything, the real-daemon suite and mypy
included.  It is listed here too (``tests(3.11-django5.2)``, tag ``main``)
for running by hand, but .ci/run does not run it twice.  The other
sessions run the whole suite except, where marked, the real-daemon tests,
which they deselect with ``-m "not real_daemon"`` (pytest counts them as
deselected): the real suite runs on the oldest and the newest Python
(3.11 in ``make test``, 3.13 with Django 6.1).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import nox

ROOT = Path(__file__).resolve().parent

nox.options.error_on_missing_interpreters = True
nox.options.default_venv_backend = "venv"
nox.options.sessions = []  # name what to run: -s, -t or --list

PYTHONS = ("3.11", "3.12", "3.13")

#: Django series: the pip specifier and the Pythons that series supports
#: (Django's release notes: 4.2 supports 3.8 to 3.12; 5.2, 3.10 to 3.14;
#: 6.1, 3.12 to 3.14).
DJANGO: dict[str, tuple[str, tuple[str, ...]]] = {
    "4.2": ("django~=4.2.0", ("3.11", "3.12")),
    "5.2": ("django~=5.2.0", ("3.11", "3.12", "3.13")),
    "6.1": ("django~=6.1.0", ("3.12", "3.13")),
}

#: What ``make test`` runs in ``.venv``: Python 3.11 and the newest Django
#: that installs there.
MAIN = ("3.11", "5.2")

#: Where the real-daemon suite runs besides the main combination: on the
#: newest Python.  (It also ran on 3.12 until the suite grew and CI passed
#: 12 minutes on a shared machine: it holds a machine-wide lock.)
REAL_DAEMON = {("3.13", "6.1")}

#: The lowest versions of the runtime dependencies pyproject.toml allows
#: (cattrs has no 23.2.0: 23.2.1 is the first 23.2 release).
MINIMUMS = (
    "attrs==23.1.0",
    "cattrs==23.2.1",
    "django==4.2",
)


def _add_pyenv_pythons() -> None:
    """Put pyenv's interpreters (``~/.pyenv/versions/3.X.Y/bin``) on PATH,
    newest patch release of each wanted version, ahead of pyenv's shims
    (which fail for any version that is not the selected one)."""
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    found = []
    for version in PYTHONS:
        candidates = [
            path
            for path in root.glob(f"{version}.*/bin/python{version}")
            if path.parent.parent.name.rpartition(".")[2].isdigit()
        ]
        if candidates:
            newest = max(candidates, key=lambda path: int(path.parent.parent.name.rpartition(".")[2]))
            found.append(str(newest.parent))
    if found:
        os.environ["PATH"] = os.pathsep.join([*found, os.environ.get("PATH", "")])


_add_pyenv_pythons()


def _postgres_for(session: nox.Session) -> dict[str, str]:
    """If the tests are to use PostgreSQL, give this session a database of
    its own, so that sessions running side by side (two CI lanes, or two
    runs on one machine) do not share Django's test database."""
    dsn = os.environ.get("P0F_TEST_POSTGRES", "")
    if not dsn.startswith(("postgres://", "postgresql://")):
        return {}
    url = urlsplit(dsn)
    name = "".join(ch if ch.isalnum() else "_" for ch in session.name).strip("_")
    return {"P0F_TEST_POSTGRES": urlunsplit(url._replace(path=f"/p0f_{name}_{os.getpid()}"))}


def _show_versions(session: nox.Session) -> None:
    """Print the versions this session proves the suite on."""
    code = (
        "import sys; from importlib.metadata import version as v; "
        "print('proving: Python', sys.version.split()[0], *(f'| {d} {v(d)}' "
        "for d in ('django', 'attrs', 'cattrs')))"
    )
    session.run("python", "-c", code)


def _pytest(session: nox.Session, *, real_daemon: bool) -> None:
    args = ["python", "-m", "pytest", "-p", "no:cacheprovider"]
    if not real_daemon:
        args += ["-m", "not real_daemon"]
    session.run(*args, *session.posargs, env=_postgres_for(session))


def _matrix() -> list[Any]:
    params = []
    for django, (_, pythons) in DJANGO.items():
        for python in pythons:
            combination = (python, django)
            tags = ["main"] if combination == MAIN else ["ci"]
            params.append(
                nox.param(python, django, id=f"{python}-django{django}", tags=tags)
            )
    return params


@nox.session
@nox.parametrize(("python", "django"), _matrix())
def tests(session: nox.Session, django: str) -> None:
    """The test suite on one Python and one Django series."""
    spec, _ = DJANGO[django]
    session.install(".[test]", spec)
    _show_versions(session)
    combination = (session.python, django)
    _pytest(session, real_daemon=combination == MAIN or combination in REAL_DAEMON)


@nox.session(python="3.11", tags=["ci"])
def minimums(session: nox.Session) -> None:
    """The test suite with the oldest attrs, cattrs and Django
    that pyproject.toml accepts, on the oldest Python it accepts."""
    # Not session.create_tmp(): it points TMPDIR into .nox/, and the tests'
    # Unix socket paths under it outgrow AF_UNIX's 108 bytes.
    with tempfile.TemporaryDirectory() as tmp:
        constraints = Path(tmp) / "minimums.txt"
        constraints.write_text("\n".join(MINIMUMS) + "\n", encoding="utf-8")
        session.install("-c", str(constraints), ".[test]")
    _show_versions(session)
    _pytest(session, real_daemon=False)


@nox.session(python="3.11", tags=["ci"])
def release(session: nox.Session) -> None:
    """Build the sdist and the wheel, check them, and smoke-test the wheel
    in a clean virtual environment (scripts/release_check.py)."""
    session.install("build>=1.2", "twine>=5.1")
    dist = ROOT / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    session.run("python", "-m", "build", "--outdir", str(dist), str(ROOT))
    session.run("python", "-m", "twine", "check", "--strict", *map(str, sorted(dist.iterdir())))
    session.run("python", str(ROOT / "scripts" / "release_check.py"), str(dist))


if __name__ == "__main__":  # pragma: no cover
    sys.exit("run me with nox")
