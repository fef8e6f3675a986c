"""The Python examples of the documentation type-check with ``mypy
--strict``, as users' code would, and the set-up commands README.md gives
are the ones the Makefile and CI run.

The examples: the ```` ```python ```` blocks of README.md (the guide) and of
the hand-written pages under docs/, and the literal blocks (after ``::``) of
the docstrings of the public modules (the API reference; Sphinx shows them
as Python, so they must be Python; a shell example there goes in a
``.. code-block:: console``).

An example that uses a name it does not define (the user's ``app``, an
``answer`` from an earlier example) gets it from a comment right above the
block, invisible in the rendered page.  In Markdown::

    <!-- typecheck-context:
    from p0f import P0fResponse
    answer: P0fResponse
    -->
    ```python
    ...

and in a docstring (a reST comment)::

    .. typecheck-context:
       from p0f.asgi import ASGIApp
       app: ASGIApp

    Wrap the application::

        app = P0fMiddleware(app, "/var/run/p0f.sock")
"""

from __future__ import annotations

import ast
import hashlib
import re
import textwrap
import subprocess
import sys
from pathlib import Path

import attrs
import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")

#: Pages docs/conf.py writes from README.md at each build (not committed).
GENERATED = ("docs/index.md", "docs/guide/", "docs/_build/", "docs/reference/")

_BLOCK = re.compile(
    r"(?:<!--\s*typecheck-context:[ \t]*\n(?P<context>.*?)-->[ \t]*\n)?"
    r"^```python[ \t]*\n(?P<code>.*?)^```",
    flags=re.DOTALL | re.MULTILINE,
)


@attrs.frozen
class Example:
    source: str  # "README.md:42", where the block's code starts
    context: str
    code: str

    def module(self) -> str:
        return f"# {self.source}\n{self.context}{self.code}"


def _markdown_files() -> list[Path]:
    pages = sorted((ROOT / "docs").rglob("*.md")) if (ROOT / "docs").is_dir() else []
    hand_written = [
        page for page in pages if not page.relative_to(ROOT).as_posix().startswith(GENERATED)
    ]
    return [ROOT / "README.md", *hand_written]


def _examples() -> list[Example]:
    found = []
    for path in _markdown_files():
        text = path.read_text(encoding="utf-8")
        for match in _BLOCK.finditer(text):
            line = text.count("\n", 0, match.start("code")) + 1
            found.append(
                Example(
                    source=f"{path.relative_to(ROOT).as_posix()}:{line}",
                    context=match.group("context") or "",
                    code=match.group("code"),
                )
            )
    return found


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _indented_block(lines: list[str], start: int, base: int) -> tuple[list[str], int]:
    """The lines from ``start`` indented deeper than ``base`` (blank lines
    included), and the index after them."""
    end = start
    while end < len(lines) and (not lines[end].strip() or _indent(lines[end]) > base):
        end += 1
    return lines[start:end], end


def _docstring_examples(path: Path) -> list[Example]:
    found = []
    relative = path.relative_to(ROOT).as_posix()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if not isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        docstring = ast.get_docstring(node, clean=True)
        if not docstring:
            continue
        first_line = node.body[0].lineno
        lines = docstring.splitlines()
        context, i = "", 0
        while i < len(lines):
            line = lines[i]
            if line.strip().startswith(".. typecheck-context:"):
                block, i = _indented_block(lines, i + 1, _indent(line))
                context = textwrap.dedent("\n".join(block)).strip() + "\n"
            elif line.rstrip().endswith("::") and not line.lstrip().startswith(".."):
                start = i + 1
                block, i = _indented_block(lines, start, _indent(line))
                code = textwrap.dedent("\n".join(block)).strip() + "\n"
                blank = next((n for n, text in enumerate(block) if text.strip()), 0)
                found.append(Example(f"{relative}:{first_line + start + blank}", context, code))
                context = ""
            else:
                i += 1
    return found


def _public_modules() -> list[Path]:
    """The modules the API reference shows: no part of the name starts
    with ``_`` (``__init__.py`` stands for its package), no migrations."""
    src = ROOT / "src"
    modules = []
    for path in sorted((src / "p0f").rglob("*.py")):
        parts = path.relative_to(src).with_suffix("").parts
        if path.name == "__init__.py":
            parts = parts[:-1]
        if "migrations" in parts or any(part.startswith("_") for part in parts):
            continue
        modules.append(path)
    return modules


EXAMPLES = _examples() + [e for m in _public_modules() for e in _docstring_examples(m)]


def test_readme_has_python_examples() -> None:
    assert sum(e.source.startswith("README.md:") for e in EXAMPLES) >= 7


def test_docstrings_have_python_examples() -> None:
    assert sum(e.source.startswith("src/p0f/__init__.py:") for e in EXAMPLES) >= 1
    assert sum(e.source.startswith("src/") for e in EXAMPLES) >= 6


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.source for e in EXAMPLES])
def test_python_example_compiles(example: Example) -> None:
    compile(example.module(), example.source, "exec")


def test_python_examples_type_check(tmp_path: Path) -> None:
    """Each example is a module of its own, checked with ``mypy --strict``
    against the installed package, as a user's code would be."""
    files = []
    for number, example in enumerate(EXAMPLES):
        path = tmp_path / f"example_{number:02d}.py"
        path.write_text(example.module(), encoding="utf-8")
        files.append(str(path))
    config = tmp_path / "mypy.ini"
    config.write_text("[mypy]\nstrict = True\nwarn_unreachable = True\n", encoding="utf-8")
    # A cache per interpreter, so that runs side by side (nox) never share one.
    cache = ROOT / ".mypy_cache" / "examples" / hashlib.sha1(sys.prefix.encode()).hexdigest()[:12]
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(config), "--cache-dir", str(cache), *files],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    report = result.stdout + result.stderr
    for number, example in enumerate(EXAMPLES):
        report = report.replace(f"example_{number:02d}.py", f"[{example.source}] example_{number:02d}.py")
    assert result.returncode == 0, report
    assert f"no issues found in {len(files)} source files" in result.stdout


def test_the_two_commands_are_real_targets() -> None:
    assert "make demo" in README and "make test" in README
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^demo:", makefile, flags=re.MULTILINE)
    assert re.search(r"^test:", makefile, flags=re.MULTILINE)
    assert "make test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def _noxfile_value(name: str) -> object:
    """A literal assigned at the top of noxfile.py (read, not imported:
    importing it puts pyenv's Pythons on this process's PATH)."""
    tree = ast.parse((ROOT / "noxfile.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            return ast.literal_eval(value)
    raise AssertionError(f"noxfile.py assigns no {name}")


def test_support_table_names_the_sessions_that_prove_it() -> None:
    """Every cell of README's support table names a session noxfile.py
    defines, and every combination noxfile.py tests is in the table."""
    django = _noxfile_value("DJANGO")
    main = _noxfile_value("MAIN")
    assert isinstance(django, dict) and isinstance(main, tuple)
    defined = {
        f"tests({python}-django{series})" for series, (_, pythons) in django.items() for python in pythons
    }
    section = README.split("## Supported versions", 1)[1].split("\n## ", 1)[0]
    rows = {
        cells[0]: cells[1:]
        for line in section.splitlines()
        if line.startswith("| 3.")
        for cells in [[c.strip() for c in line.strip("|").split("|")]]
    }
    header = next(line for line in section.splitlines() if line.startswith("| Python"))
    series = [c.strip().split()[1] for c in header.strip("|").split("|")[1:]]
    assert series == list(django)
    for python, cells in rows.items():
        for dj, cell in zip(series, cells):
            name = f"tests({python}-django{dj})"
            if (python, dj) == main:
                assert cell == "`make test`"
            elif name in defined:
                assert cell == f"`{name}`"
            else:
                assert cell.startswith("no:"), (python, dj, cell)
    tested_pythons = {name.split("(")[1].split("-")[0] for name in defined}
    assert set(rows) == tested_pythons
    real_daemon = _noxfile_value("REAL_DAEMON")
    minimums = _noxfile_value("MINIMUMS")
    assert isinstance(real_daemon, set) and isinstance(minimums, tuple)
    for python, dj in real_daemon:
        assert f"`tests({python}-django{dj})`" in section
    for pin in minimums:
        package, _, version = pin.partition("==")
        assert f"{package} {version}".lower() in section.lower(), pin
