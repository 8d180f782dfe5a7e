"""mkdocs hooks of the docs site (mkdocs.yml lists this file under ``hooks``).

- A page may link to a source file as GitHub shows it, ``[engine.py](../tinygrad_lite/engine.py)``. The site
  has no such file, so there the link goes to the API reference of that module instead: the page of docs/api/
  whose ``::: tinygrad_lite.engine`` line documents it (or documents its closest parent package). Any other
  link out of docs/ is left alone, and the strict build fails on it as before.
- The docstrings are written in reStructuredText habits that Markdown shows literally; on the site a role
  (``:func:`run```) becomes the name as code, ``~a.b.C`` in a role becomes ``C``, and the ``::`` that opens a
  literal block becomes ``:``.
"""

from __future__ import annotations

import os
import posixpath
import re
from pathlib import Path

_LINK = re.compile(r"\]\((?P<target>[^)\s#]+\.py)\)")
_DIRECTIVE = re.compile(r"^::: +(?P<identifier>[\w.]+)", re.MULTILINE)
_ROLE = re.compile(r":(?:func|class|meth|mod|data|attr|exc|obj):<code>(?:~[\w.]*\.)?")
_LITERAL_BLOCK = re.compile(r"::(?=</p>\s*<div class=\"highlight\">)")

_documented: dict[str, str] = {}  # module path -> the docs/api page (relative to docs/) that documents it
_root = Path()


def on_config(config):
    global _root
    docs = Path(config["docs_dir"])
    _root = Path(config["config_file_path"]).resolve().parent
    _documented.clear()
    for page in sorted((docs / "api").glob("*.md")):
        for identifier in _DIRECTIVE.findall(page.read_text(encoding="utf-8")):
            _documented.setdefault(identifier, page.relative_to(docs).as_posix())
    return config


def reference_of(source: str) -> tuple[str, str] | None:
    """The API page and anchor for a source file given relative to the repository, e.g. ``tinygrad_lite/ops.py``;
    None when no page documents its module or a parent package."""
    parts = source.removesuffix(".py").split("/")
    if parts[-1] == "__init__":
        parts.pop()
    while parts:
        module = ".".join(parts)
        if module in _documented:
            return _documented[module], module
        parts.pop()
    return None


def on_page_markdown(markdown, page, config, files):
    docs = Path(config["docs_dir"]).resolve()
    here = posixpath.dirname(page.file.src_uri)

    def to_reference(link: re.Match) -> str:
        target = Path(os.path.normpath(docs / here / link["target"]))
        if target.is_relative_to(docs) or not target.is_relative_to(_root) or not target.is_file():
            return link[0]
        found = reference_of(target.relative_to(_root).as_posix())
        if found is None:
            return link[0]
        api_page, anchor = found
        return f"]({posixpath.relpath(api_page, here or '.')}#{anchor})"

    return _LINK.sub(to_reference, markdown)


def on_page_content(html, page, config, files):
    return _LITERAL_BLOCK.sub(":", _ROLE.sub("<code>", html))
