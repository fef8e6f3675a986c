"""The README's Python examples, and those in the web modules' docstrings,
pass ``mypy --strict`` as users would write them; the README's set-up
commands are the ones the Makefile and CI run."""

from __future__ import annotations

import inspect
import re
import textwrap
from pathlib import Path

import pytest
from mypy import api as mypy_api

import p0f
import p0f.asgi
import p0f.wsgi
from p0f.django import middleware as django_middleware

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
# A block may be preceded by "<!-- example context: a; b -->": statements
# (separated by "; ") that stand for what the surrounding text assumes,
# such as an answer obtained earlier.  They are put before the block.
_FOUND = re.findall(
    r"(?:<!-- example context: (.*?) -->\n)?```python\n(.*?)```", README, flags=re.DOTALL
)
BLOCKS = [
    "".join(line + "\n" for line in context.split("; ") if context) + block
    for context, block in _FOUND
]

#: Objects whose docstrings hold examples (``::`` blocks) users copy.
DOCUMENTED = [p0f, p0f.asgi, p0f.wsgi, django_middleware.P0fHttpRequest]


def docstring_examples(obj: object) -> list[str]:
    """The indented literal blocks after ``::`` in ``obj``'s docstring."""
    doc = inspect.getdoc(obj) or ""
    found = []
    for match in re.finditer(r"::\n\n((?:(?:    .*)?\n)+)", doc + "\n"):
        found.append(textwrap.dedent(match.group(1)))
    return found


EXAMPLES = [(f"README.md example {n + 1}", block) for n, block in enumerate(BLOCKS)] + [
    (f"{getattr(obj, '__name__', obj)} docstring example {n + 1}", block)
    for obj in DOCUMENTED
    for n, block in enumerate(docstring_examples(obj))
]


def test_readme_has_python_examples() -> None:
    assert len(BLOCKS) >= 4
    assert sum("docstring" in name for name, _ in EXAMPLES) >= len(DOCUMENTED)


@pytest.mark.parametrize(("name", "source"), EXAMPLES, ids=[name for name, _ in EXAMPLES])
def test_python_example_compiles(name: str, source: str) -> None:
    compile(source, name, "exec")


def test_every_example_passes_mypy_strict(tmp_path: Path) -> None:
    files = []
    for number, (name, source) in enumerate(EXAMPLES):
        path = tmp_path / f"example_{number}.py"
        path.write_text(source, encoding="utf-8")
        files.append(str(path))
    # The project's configuration (strict, the django-stubs plugin), on
    # these files alone, each a module of its own.
    stdout, stderr, status = mypy_api.run(
        ["--config-file", str(ROOT / "pyproject.toml"), "--strict", *files]
    )
    names = {f"example_{n}.py": name for n, (name, _) in enumerate(EXAMPLES)}
    report = stdout
    for file_name, name in names.items():
        report = report.replace(str(tmp_path / file_name), name)
    assert status == 0, report + stderr


def test_the_two_commands_are_real_targets() -> None:
    assert "make demo" in README and "make test" in README
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^demo:", makefile, flags=re.MULTILINE)
    assert re.search(r"^test:", makefile, flags=re.MULTILINE)
    assert "make test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
