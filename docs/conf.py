"""Sphinx configuration: the guide from README.md, the reference from the
docstrings.  Build with ``make docs`` (warnings are errors).

Why Sphinx (not MkDocs): the docstrings are reStructuredText, with
``:class:`` and ``:func:`` cross-references and ``::`` literal blocks.
Sphinx renders them as written and, with ``nitpicky``, fails the build on
a reference to a ``p0f`` name that does not exist; MkDocs would show the
roles as raw text.  MyST reads README.md, which stays the one copy of the
guide and the PyPI landing page.

The pages:

* ``index.md`` and ``guide/NN-*.md`` are written at each build from
  README.md (not committed): the text before the first ``##`` heading is
  the front page, each ``##`` section a page of the guide, in README
  order, its headings raised one level.  A section added to README is a
  page of the guide at the next build.  A link to a heading on another
  page (``[below](#changes-from-the-2014-client)``) is pointed there.
* ``reference/`` is written by autosummary from the package: a page per
  public module (any ``p0f.*`` module whose name does not start with
  ``_``, found recursively), each listing what the module's ``__all__``
  names (or its public members).  A new public module gets a page with no
  change here.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import django
from django.conf import settings
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.pycode import ModuleAnalyzer
from sphinx.util import logging

DOCS = Path(__file__).resolve().parent
logger = logging.getLogger(__name__)
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT / "src"))

# Importing p0f.django's models and admin needs a configured Django.
settings.configure(
    INSTALLED_APPS=[
        "django.contrib.admin",
        "django.contrib.auth",
        "django.contrib.contenttypes",
        "django.contrib.sessions",
        "django.contrib.messages",
        "p0f.django",
    ],
    DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
)
django.setup()

import p0f  # noqa: E402  (after django.setup())

project = "p0f-client"
author = "The p0f-client authors"
copyright = "the p0f-client authors; MIT licence"  # noqa: A001
release = p0f.__version__
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build"]
templates_path = ["_templates"]
html_theme = "furo"
html_title = f"p0f-client {release}"

myst_heading_anchors = 4
autosummary_generate = True
autosummary_ignore_module_all = True  # the template's module list; autodoc keeps __all__
autodoc_default_options = {"members": True, "undoc-members": True, "show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_preserve_defaults = True

# Every cross-reference to a public p0f name must resolve.  References to
# other projects' names (no network here for intersphinx) and to private
# modules (``p0f._web.client_address``: not documented) stay plain text.
nitpicky = True
nitpick_ignore_regex = [(r"py:.*", r"(?!p0f\b).*"), (r"py:.*", r"p0f\._.*")]



def _hide_private_bases(app: object, name: str, obj: object, options: object, bases: list[type]) -> None:
    """A class's bases as users see them: a base from a private module that
    the package does not export (``p0f._base.BaseClient``) is not shown."""
    bases[:] = [
        base
        for base in bases
        if not base.__module__.startswith("p0f._") or getattr(p0f, base.__name__, None) is base
    ]


def _modules() -> list[str]:
    """Every module of the package, the package first."""
    return ["p0f"] + sorted(info.name for info in pkgutil.walk_packages(p0f.__path__, "p0f."))


def _is_public(module: str) -> bool:
    parts = module.split(".")
    return "migrations" not in parts and not any(part.startswith("_") for part in parts)


def _assignment(module: str, name: str) -> tuple[str | None, str] | None:
    """Where ``module`` assigns ``name`` at its top level: the value's source
    (on one line, if short) and the doc comment, or ``None``."""
    path = importlib.import_module(module).__file__
    source = Path(path or "").read_text(encoding="utf-8")
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            text = " ".join((ast.get_source_segment(source, value) or "").split())
            doc = ModuleAnalyzer.for_module(module).find_attr_docs().get(("", name), [])
            return (text if 0 < len(text) <= 70 else None), "\n".join(doc).strip()
    return None


def _api() -> dict[str, dict[str, Any]]:
    """What each public module's reference page shows besides what
    ``automodule`` finds by itself (the module template reads this):

    * ``data``: the values (not classes, functions or modules) its
      ``__all__`` exports that have no doc comment in the module itself.
      ``automodule`` skips those, and ``autodata`` would show the
      docstring of their type (``int``'s); they are written out with the
      value and doc comment from the module that assigns them.
    * ``elsewhere``: classes and functions it re-exports that a module
      before it (the package first) already documents; they are listed
      with a link instead of being documented twice.
    """
    modules = _modules()
    home: dict[int, str] = {}
    api: dict[str, dict[str, Any]] = {}
    for name in filter(_is_public, modules):
        module = importlib.import_module(name)
        documented = {attr for (_, attr) in ModuleAnalyzer.for_module(name).find_attr_docs()}
        data: list[dict[str, str | None]] = []
        elsewhere: dict[str, str] = {}
        for export in getattr(module, "__all__", ()):
            obj = getattr(module, export)
            if inspect.isclass(obj) or inspect.isroutine(obj):
                first = home.setdefault(id(obj), f"{name}.{export}")
                if first.rpartition(".")[0] != name:  # an alias in one module stays
                    elsewhere[export] = first
            elif not inspect.ismodule(obj) and export not in documented:
                origin = next(
                    (
                        found
                        for other in [name, *modules]
                        if getattr(importlib.import_module(other), export, None) is obj
                        and (found := _assignment(other, export)) is not None
                    ),
                    (None, ""),
                )
                data.append({"name": export, "value": origin[0], "doc": origin[1]})
        api[name] = {"data": data, "elsewhere": elsewhere}
    return api


API = _api()
autosummary_context = {"api": API}


def _check_exports_documented(app: Sphinx, env: BuildEnvironment) -> None:
    """Warn (so fail, with -W) for any name a public module exports in
    ``__all__`` that the reference does not document."""
    documented = set(env.domains.python_domain.objects)
    for module, plan in API.items():
        for export in getattr(importlib.import_module(module), "__all__", ()):
            target = plan["elsewhere"].get(export, f"{module}.{export}")
            if target not in documented:
                logger.warning("%s.%s is exported but not in the API reference", module, export)


def setup(app: Sphinx) -> None:
    app.connect("autodoc-process-bases", _hide_private_bases)
    app.connect("env-check-consistency", _check_exports_documented)


# --- The guide, from README.md ----------------------------------------------

_FENCE = re.compile(r"^(```|~~~)")
_LINK_TO_ANCHOR = re.compile(r"\]\(#([^)\s]+)\)")


def _slug(title: str) -> str:
    """A heading's anchor, as GitHub and MyST make it."""
    text = title.strip().lower().replace(" ", "-")
    return re.sub(r"[^\w\-]", "", text)


def _sections(readme: str) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """README's lines before the first ``##`` heading, and each ``##``
    section (title, lines); headings inside code blocks do not count."""
    intro: list[str] = []
    sections: list[tuple[str, list[str]]] = []
    fenced = False
    for line in readme.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
        if not fenced and line.startswith("## "):
            sections.append((line[3:].strip(), [line]))
        elif sections:
            sections[-1][1].append(line)
        else:
            intro.append(line)
    return intro, sections


def _raise_headings(lines: list[str]) -> list[str]:
    out, fenced = [], False
    for line in lines:
        if _FENCE.match(line):
            fenced = not fenced
        if not fenced and re.match(r"^#{2,6} ", line):
            line = line[1:]
        out.append(line)
    return out


def write_guide() -> None:
    intro, sections = _sections((ROOT / "README.md").read_text(encoding="utf-8"))
    guide = DOCS / "guide"
    shutil.rmtree(guide, ignore_errors=True)
    guide.mkdir()

    pages: list[tuple[str, list[str]]] = [("index.md", intro)]
    for number, (title, lines) in enumerate(sections, start=1):
        pages.append((f"guide/{number:02d}-{_slug(title)}.md", _raise_headings(lines)))

    # Which page holds each anchor, for links across pages.
    where: dict[str, str] = {}
    for page, lines in pages:
        fenced = False
        for line in lines:
            if _FENCE.match(line):
                fenced = not fenced
            elif not fenced and (m := re.match(r"^#{1,6} (.*)", line)):
                where.setdefault(_slug(m.group(1)), page)

    for page, lines in pages:
        here = Path(page).parent

        def relink(match: re.Match[str], page: str = page, here: Path = here) -> str:
            anchor = match.group(1)
            target = where.get(anchor)
            if target is None or target == page:
                return match.group(0)
            relative = Path(target).relative_to(here) if here != Path(".") else Path(target)
            if here != Path(".") and Path(target).parent == Path("."):
                relative = Path("..") / target
            return f"]({relative.as_posix()}#{anchor})"

        text = _LINK_TO_ANCHOR.sub(relink, "\n".join(lines)) + "\n"
        if page == "index.md":
            text += (
                "\n```{toctree}\n:caption: Guide\n:glob:\n:maxdepth: 2\n\nguide/*\n```\n"
                "\n```{toctree}\n:caption: Reference\n:maxdepth: 1\n\nreference\n```\n"
            )
        (DOCS / page).write_text(text, encoding="utf-8")


write_guide()
