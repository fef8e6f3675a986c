"""Check a built release: what the sdist and the wheel hold, and that the
wheel installs and works in a clean virtual environment.

    python scripts/release_check.py dist/

``dist/`` holds one sdist and one wheel (``python -m build`` makes both).
The clean environment gets the wheel and its dependencies from the package
index and nothing else: no pytest, no mypy, nothing from this checkout.  So
a module, a data file or a dependency that the package needs but does not
ship or declare fails here.  Run by ``nox -s release`` (and so by CI).
"""

from __future__ import annotations

import email.parser
import os
import socket
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "p0f"

#: In the sdist besides the package: what a packager needs to rebuild the
#: wheel and run the tests.
SDIST_MUST_HAVE = (
    "pyproject.toml",
    "README.md",
    "LICENSE.txt",
    "CHANGELOG.md",
    "tests/conftest.py",
    "noxfile.py",
    "docs/conf.py",
)
#: Never in the sdist: local state of a checkout.
SDIST_MUST_NOT_HAVE = (".venv/", ".nox/", ".git/", "dist/", "__pycache__/", ".mypy_cache/", "docs/_build/")
#: Extras that are tools for working on this project, not features of it.
DEV_EXTRAS = {"test", "docs"}
#: What only users of a test tool import (pytest is theirs, not ours).
NEEDS_PYTEST = {"p0f.testing.pytest_plugin"}


def fail(message: str) -> None:
    print(f"release check: FAILED: {message}", file=sys.stderr)
    sys.exit(1)


def step(message: str) -> None:
    print(f"release check: {message}", flush=True)


def package_files() -> set[str]:
    """Every file of the package in the source tree, as ``p0f/...``."""
    return {
        str(path.relative_to(PACKAGE.parent))
        for path in PACKAGE.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }


def check_wheel(wheel: Path) -> tuple[str, set[str]]:
    """The wheel holds the whole package and nothing else; returns its
    version and its extras."""
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        dist_info = {name.split("/")[0] for name in names if ".dist-info/" in name}
        if len(dist_info) != 1:
            fail(f"{wheel.name}: expected one .dist-info folder, found {sorted(dist_info)}")
        (info,) = dist_info
        metadata = email.parser.Parser().parsestr(archive.read(f"{info}/METADATA").decode())
        entry_points = archive.read(f"{info}/entry_points.txt").decode()
    missing = package_files() - names
    if missing:
        fail(f"{wheel.name} lacks package files: {sorted(missing)}")
    strays = sorted(n for n in names if not n.startswith(("p0f/", f"{info}/")))
    if strays:
        fail(f"{wheel.name} holds files outside the package (tests?): {strays}")
    if f"{info}/licenses/LICENSE.txt" not in names:
        fail(f"{wheel.name} lacks the licence file")
    if "p0f-query = p0f._cli:main" not in entry_points:
        fail(f"{wheel.name} does not declare the p0f-query command")
    step(f"{wheel.name}: {len(names)} files, the whole package, no tests")
    return metadata["Version"], set(metadata.get_all("Provides-Extra") or ())


def check_sdist(sdist: Path) -> None:
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    wanted = {f"src/{name}" for name in package_files()} | set(SDIST_MUST_HAVE)
    missing = wanted - names
    if missing:
        fail(f"{sdist.name} lacks {sorted(missing)}")
    unwanted = sorted(n for n in names for bad in SDIST_MUST_NOT_HAVE if f"/{n}".find(f"/{bad}") >= 0)
    if unwanted:
        fail(f"{sdist.name} holds local state: {unwanted[:10]}")
    step(f"{sdist.name}: {len(names)} files, the package, tests and docs, no local state")


def run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None, expect: int = 0) -> str:
    result = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=600,
    )
    if result.returncode != expect:
        fail(
            f"{' '.join(map(str, args))} exited {result.returncode}, not {expect}:\n"
            f"{result.stdout}\n{result.stderr}"
        )
    return result.stdout + result.stderr


#: A minimal project with the admin, as a new Django project has it.
SETTINGS = """\
import os
SECRET_KEY = "release check"
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "p0f.django",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "p0f.django.middleware.P0fMiddleware",
]
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
    ]},
}]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ["SMOKE_DB"]}}
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
if os.environ.get("SMOKE_SOCKET"):
    P0F_SOCKET = os.environ["SMOKE_SOCKET"]
"""

IMPORT_ALL = """\
import importlib, pkgutil, sys
import django
django.setup()
import p0f
skip = set(sys.argv[1:])
names = [m.name for m in pkgutil.walk_packages(p0f.__path__, "p0f.") if m.name not in skip]
for name in names:
    importlib.import_module(name)
print("imported", len(names) + 1, "modules")
"""


def smoke(wheel: Path, version: str, extras: set[str]) -> None:
    with tempfile.TemporaryDirectory(prefix="p0f-release-") as tmp:
        work = Path(tmp)
        venv = work / "venv"
        python = venv / "bin" / "python"
        run(sys.executable, "-m", "venv", venv, cwd=work)

        run(python, "-m", "pip", "install", "--quiet", wheel, cwd=work)
        installed = run(python, "-m", "pip", "list", "--format=freeze", cwd=work).lower()
        for tool in ("pytest", "mypy", "hypothesis", "django", "nox"):
            if f"\n{tool}==" in f"\n{installed}":
                fail(f"the bare install brought {tool}: {installed}")
        step("installed the wheel alone: " + ", ".join(installed.split()))

        code = "import p0f, p0f.converters, p0f.testing; print(p0f.__version__)"
        got = run(python, "-c", code, cwd=work).strip()
        if got != version:
            fail(f"p0f.__version__ is {got!r}, the wheel says {version!r}")
        output = run(venv / "bin" / "p0f-query", "--demo", cwd=work)
        if output.count("Detected OS") < 6 or "192.0.2." not in output:
            fail(f"p0f-query --demo did not answer for its sample hosts:\n{output}")
        output = run(python, "-m", "p0f", "--demo", "--json", "192.0.2.200", cwd=work)
        if '"result": "ok"' not in output:
            fail(f"python -m p0f --demo --json 192.0.2.200 gave no answer:\n{output}")
        step(f"import p0f {got}, p0f-query --demo and python -m p0f --demo work without extras")

        features = sorted(extras - DEV_EXTRAS)
        run(python, "-m", "pip", "install", "--quiet", f"{wheel}[{','.join(features)}]", cwd=work)
        (work / "smoke_settings.py").write_text(SETTINGS, encoding="utf-8")
        env = {
            "DJANGO_SETTINGS_MODULE": "smoke_settings",
            "PYTHONPATH": str(work),
            "SMOKE_DB": str(work / "db.sqlite3"),
        }
        output = run(python, "-c", IMPORT_ALL, *NEEDS_PYTEST, cwd=work, env=env)
        step(f"with extras {features}: {output.strip()} (all but {sorted(NEEDS_PYTEST)})")

        # The app's checks are there: no socket configured is an error...
        output = run(python, "-m", "django", "check", cwd=work, env=env, expect=1)
        if "p0f.E001" not in output:
            fail(f"django check without P0F_SOCKET did not report p0f.E001:\n{output}")
        # ...and with a real socket there is nothing to report.
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(str(work / "p0f.sock"))
            listener.listen()  # a socket nobody listens on is p0f.W002
            env["SMOKE_SOCKET"] = str(work / "p0f.sock")
            run(python, "-m", "django", "check", "--fail-level", "WARNING", cwd=work, env=env)
        finally:
            listener.close()
        run(python, "-m", "django", "migrate", "--verbosity", "0", cwd=work, env=env)
        run(python, "-m", "django", "makemigrations", "--check", "--dry-run", "p0f", cwd=work, env=env)
        step("django check (p0f.E001 without a socket, clean with one), migrate, "
             "makemigrations --check: the app ships whole")


def main() -> None:
    dist = Path(sys.argv[1])
    wheels = sorted(dist.glob("*.whl"))
    sdists = sorted(dist.glob("*.tar.gz"))
    if len(wheels) != 1 or len(sdists) != 1:
        fail(f"{dist} should hold one wheel and one sdist: {sorted(p.name for p in dist.iterdir())}")
    version, extras = check_wheel(wheels[0])
    check_sdist(sdists[0])
    smoke(wheels[0].resolve(), version, extras)
    step("passed")


if __name__ == "__main__":
    main()
